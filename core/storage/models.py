"""The database schema: SQLAlchemy 2 typed declarative models.

Alembic migrations in ``migrations/versions`` create and change these tables; a test compares
the migrated schema with these models so they cannot drift apart.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from ..usernames import skeleton

KEY = 255
"""The longest scope key (see ``rolecall.core.scopes.MAX_KEY_LENGTH``)."""
DOUBLE = Float().with_variant(mysql.DOUBLE(asdecimal=False), "mysql", "mariadb")
"""A double-precision float everywhere (MySQL's FLOAT is single precision)."""


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend, to the microsecond (SQLite stores naive
    values; MySQL and MariaDB store the UTC wall clock in ``DATETIME(6)``)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; rolecall stores UTC-aware datetimes only")
        # SQLite keeps the wall clock and drops the zone: store every time as UTC.
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


def new_pseudonym() -> str:
    """A new user's pseudonym (see :mod:`rolecall.core.storage.subjects`)."""
    return "user/" + secrets.token_hex(10)


def name_skeleton(username: str) -> str:
    """The stored form of ``username``'s :func:`~rolecall.core.usernames.skeleton`: its
    SHA-256 in hex, of one length whatever the name (a skeleton may be longer than the name),
    so that it can be indexed on every backend. Two names are look-alikes when these are
    equal."""
    return hashlib.sha256(skeleton(username).encode()).hexdigest()


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime()}


class User(Base):
    """A subject: the platform owns users; rolecall keeps what it needs to show and find them."""

    __tablename__ = "rolecall_users"
    __table_args__ = (
        Index("uq_users_pseudonym", "pseudonym", unique=True),
        Index("ix_users_skeleton", "skeleton"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    display_name: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    pseudonym: Mapped[str | None] = mapped_column(String(40), default=new_pseudonym)
    """How the audit log names the user (:mod:`rolecall.core.storage.subjects`): random,
    made with the row, never changed, so the chain holds nothing that erasing the user's
    username, e-mail and name would have to change (migration 0010). Never None once made
    (the column is nullable so that migration 0010 could add it without copying the table)."""
    skeleton: Mapped[str | None] = mapped_column(String(64))
    """:func:`name_skeleton` of the username, written with it (migration 0011): how the users
    whose names look like a new one are found without reading every name. Nullable so that
    the migration could add it without copying the table; a row written by another program
    without it is not found as a look-alike."""


class Assignment(Base):
    """User x role x scope, with who granted it, when, why, and an optional expiry."""

    __tablename__ = "rolecall_assignments"
    __table_args__ = (
        UniqueConstraint("user_id", "role", "scope", name="uq_assignment_user_role_scope"),
        Index("ix_assignment_scope", "scope"),
        # The assignments list sorts by these, a page at a time (migration 0008).
        Index("ix_assignment_role", "role", "id"),
        Index("ix_assignment_granted_at", "granted_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("rolecall_users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(80))
    scope: Mapped[str] = mapped_column(String(KEY))
    granted_by: Mapped[str | None] = mapped_column(String(150))
    granted_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)


class KnownScope(Base):
    """A scope rolecall has seen (a course, a library...): for listings and searches. Keys are
    valid without a row here; org and platform rows are implied by their descendants."""

    __tablename__ = "rolecall_scopes"

    key: Mapped[str] = mapped_column(String(KEY), primary_key=True)
    type: Mapped[str] = mapped_column(String(80))
    title: Mapped[str | None] = mapped_column(String(255))


class Restriction(Base):
    """An explicit deny at a scope (and its descendants), with the roles exempt from it."""

    __tablename__ = "rolecall_restrictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(KEY), unique=True)
    permissions: Mapped[list[str]] = mapped_column(JSON)
    exempt_roles: Mapped[list[str]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(150))
    created_at: Mapped[datetime]


class AuditEvent(Base):
    """One change, in the order of the global revision; append-only and hash-chained.

    It is also the change feed: a process catches up by applying the events whose revision is
    above its own.
    """

    __tablename__ = "rolecall_audit"
    __table_args__ = (
        Index("ix_audit_revision", "revision"),
        Index("ix_audit_user", "user"),
        Index("ix_audit_scope", "scope"),
        Index("ix_audit_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(150))
    user: Mapped[str | None] = mapped_column(String(150))
    role: Mapped[str | None] = mapped_column(String(80))
    scope: Mapped[str | None] = mapped_column(String(KEY))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    batch_id: Mapped[str | None] = mapped_column(String(36))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(32))
    """The audit key version whose HMAC ``hash`` is; None for an event from before keying
    began (a plain SHA-256)."""


class CustomRole(Base):
    """A role created by administrators at run time, from registered permissions."""

    __tablename__ = "rolecall_custom_roles"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    permissions: Mapped[list[str]] = mapped_column(JSON)
    scope_types: Mapped[list[str]] = mapped_column(JSON)
    base_role: Mapped[str | None] = mapped_column(String(80))
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str | None] = mapped_column(String(150))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class StoredRule(Base):
    """A delegation rule set by a platform admin: replaces the plugin rule of the same id, or
    (``disabled``) switches it off."""

    __tablename__ = "rolecall_delegation_rules"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    description: Mapped[str] = mapped_column(Text)
    holders: Mapped[list[str]] = mapped_column(JSON)
    assign: Mapped[list[str]] = mapped_column(JSON)
    revoke: Mapped[list[str]] = mapped_column(JSON)
    scope_types: Mapped[list[str]] = mapped_column(JSON)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_by: Mapped[str | None] = mapped_column(String(150))
    changed_at: Mapped[datetime]


class State(Base):
    """One row: the global revision, bumped by every write transaction, and the head of the
    audit chain, signed with the audit key."""

    __tablename__ = "rolecall_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)
    """Also the revision of the newest audit event (every write transaction appends one)."""
    last_hash: Mapped[str] = mapped_column(String(64))
    last_mac: Mapped[str | None] = mapped_column(String(64))
    """The head (``events``, ``last_event_id``, ``revision``, ``keyed_after``, ``last_hash``)
    signed with the audit key (:func:`rolecall.core.storage.audit.state_mac`); None before
    keying. A state row moved back to an earlier event, to hide the removal of the newest, or
    emptied with the log, does not match unless the key is known. A row from before migration
    0009 signs ``last_hash`` alone (:func:`~rolecall.core.storage.audit.legacy_state_mac`)
    until the next write."""
    events: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """How many audit events the table holds."""
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """The id of the newest audit event (0: none)."""
    keyed_after: Mapped[int | None] = mapped_column(BigInteger)
    """The revision after which every audit event is keyed: the one before the first keyed
    write (None: nothing keyed yet)."""
    last_assignment_id: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class Account(Base):
    """A local console login: a user's password, hashed (scrypt, a fresh salt each)."""

    __tablename__ = "rolecall_accounts"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("rolecall_users.id", ondelete="CASCADE"), primary_key=True
    )
    password_hash: Mapped[str] = mapped_column(String(255))
    changed_at: Mapped[datetime]


class ApiToken(Base):
    """A bearer token for the REST API. Only its SHA-256 is stored; ``prefix`` (its first
    characters) lets people tell their tokens apart."""

    __tablename__ = "rolecall_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("rolecall_users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(255))
    created_by: Mapped[str | None] = mapped_column(String(150))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    """When the token stops working by itself (None: when revoked)."""


class ConsoleSession(Base):
    """A signed-in console session. The cookie carries a random session id; only its SHA-256
    is stored. Signing out deletes the row; a password change deletes every row of the
    account; a retired user's rows are deleted and would not count anyway (only active users'
    sessions do). ``expires_at`` is fixed at sign-in: using the session does not extend it."""

    __tablename__ = "rolecall_console_sessions"
    __table_args__ = (Index("ix_console_sessions_user", "user_id"),)

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("rolecall_users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class Secret(Base):
    """Secrets the installation generated and stored here before keys moved out of the
    database (:mod:`rolecall.core.storage.keys`); migration 0006 deletes the console's session
    key from it, and nothing reads it any more."""

    __tablename__ = "rolecall_secrets"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]


class SignInFailures(Base):
    """Failed console sign-ins of one key (an account, a client address): shared by every web
    process of the installation, so that running more processes gives no more guesses."""

    __tablename__ = "rolecall_signin_failures"
    __table_args__ = (Index("ix_signin_failures_last", "last"),)

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[float] = mapped_column(DOUBLE)
    """Epoch seconds; 0 when the key is not locked."""
    last: Mapped[float] = mapped_column(DOUBLE)
    """Epoch seconds of the latest failure."""


class Contribution(Base):
    """What a plugin registered, remembered by the database: when a plugin is later disabled,
    uninstalled or fails to import, the rows that name its scope types, roles and permissions
    are dormant, and this says which plugin they wait for."""

    __tablename__ = "rolecall_contributions"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    """``scope_type``, ``role`` or ``permission``."""
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    """The record's id; for a scope type, its key namespace (``program-v1``)."""
    plugin: Mapped[str] = mapped_column(String(200))
    seen_at: Mapped[datetime]


# The tables, typed as such, for Core bulk statements (the ORM's bulk path is slower).
ASSIGNMENTS: Table = Assignment.__table__  # type: ignore[assignment]
ASSIGNMENT_COLUMNS = (
    "id",
    "user_id",
    "role",
    "scope",
    "granted_by",
    "granted_at",
    "expires_at",
    "reason",
)
"""Every column of an assignment row, in the order bulk inserts give them."""
AUDIT_EVENTS: Table = AuditEvent.__table__  # type: ignore[assignment]
