"""The rows of console accounts, API tokens, console sessions and sign-in failures: the SQL of
:mod:`rolecall.core.accounts`, which decides what to write and when.

The functions taking a ``session`` run inside a change of the unit of work
(:mod:`rolecall.core.writes`), which audits and commits it; :class:`AccountStore`'s own reads
and its sign-in bookkeeping (sessions and failures, which are not audited) open their
connections themselves, and a driver error raises :class:`~rolecall.core.errors.StorageError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Engine, Table, delete, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from ..errors import StorageError
from .database import deadlocked, rows_in
from .models import Account, ApiToken, ConsoleSession, SignInFailures, State, User, name_skeleton
from .sessions import driver_errors, reading


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never the token itself, which is shown once, when created."""

    id: int
    user: str
    prefix: str
    label: str | None
    created_by: str | None
    created_at: datetime
    revoked_at: datetime | None
    expires_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.state == "active"

    @property
    def state(self) -> str:
        """``active``, ``revoked`` or ``expired``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= datetime.now(UTC):
            return "expired"
        return "active"


USERS = cast(Table, User.__table__)

# ---------------------------------------------------------------- inside a change


def users_named(session: Session, usernames: Iterable[str]) -> dict[str, bool]:
    """username -> whether it is active, of the users among ``usernames`` that exist."""
    wanted = sorted(set(usernames))
    rows = rows_in(session.connection(), USERS, ("username", "active"), "username", wanted)
    return {name: bool(active) for name, active in rows}


def every_user(session: Session) -> list[tuple[str, str | None, str | None, bool]]:
    """(username, e-mail, display name, active) of every user, in no particular order."""
    rows = session.execute(select(User.username, User.email, User.display_name, User.active))
    return [(name, email, display, bool(active)) for name, email, display, active in rows]


def lookalikes(session: Session, usernames: Iterable[str]) -> dict[str, str]:
    """Of ``usernames``, each whose name a stored user's other than its own looks like
    (:func:`rolecall.core.usernames.skeleton`) -> that user (the first in code point order
    when several do): found by the stored skeletons, one indexed query per few thousand
    names, whatever the number of users."""
    shapes: dict[str, list[str]] = {}
    for name in set(usernames):
        shapes.setdefault(name_skeleton(name), []).append(name)
    rows = rows_in(
        session.connection(), USERS, ("skeleton", "username"), "skeleton", sorted(shapes)
    )
    stored: dict[str, str] = {}
    for shape, name in rows:
        if shape not in stored or name < stored[shape]:
            stored[shape] = name
    found = {}
    for shape, other in stored.items():
        for name in shapes[shape]:
            if name != other:
                found[name] = other
    return found


def user_id(session: Session, username: str) -> int | None:
    uid = session.scalar(select(User.id).where(User.username == username))
    return None if uid is None else int(uid)


def put_password(session: Session, uid: int, hashed: str, at: datetime) -> bool:
    """Store the account's password hash (True: a new account) and end every console session
    of the account."""
    row = session.get(Account, uid)
    if row is None:
        session.add(Account(user_id=uid, password_hash=hashed, changed_at=at))
    else:
        row.password_hash = hashed
        row.changed_at = at
    session.execute(delete(ConsoleSession).where(ConsoleSession.user_id == uid))
    return row is None


def add_token(
    session: Session,
    uid: int,
    *,
    digest: str,
    prefix: str,
    label: str | None,
    created_by: str | None,
    at: datetime,
    expires_at: datetime | None,
) -> int:
    """A new token row; its id."""
    row = ApiToken(
        user_id=uid,
        token_hash=digest,
        prefix=prefix,
        label=label,
        created_by=created_by,
        created_at=at,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return int(row.id)


def revoke_token(session: Session, token_id: int, at: datetime) -> tuple[bool, bool, str | None]:
    """Mark the token revoked at ``at``: (it exists, it was revoked now, its owner)."""
    row = session.get(ApiToken, token_id)
    if row is None:
        return False, False, None
    if row.revoked_at is not None:
        return True, False, None
    row.revoked_at = at
    owner = session.scalar(select(User.username).where(User.id == row.user_id))
    return True, True, owner


# ---------------------------------------------------------------- reads and sign-ins


class AccountStore:
    """The account tables of one database, read and (for sign-in bookkeeping) written outside
    the unit of work."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def revision(self) -> int:
        """The database's revision, read now."""
        with driver_errors(), self.engine.connect() as connection:
            return int(connection.scalar(select(State.revision)) or 0)

    def has_password(self, username: str) -> bool:
        with reading(self.engine) as session:
            found = session.scalar(
                select(Account.user_id).join(User).where(User.username == username)
            )
        return found is not None

    def password_hash(self, username: str) -> str | None:
        """The stored hash of an active user's password, or None."""
        with reading(self.engine) as session:
            return session.scalar(
                select(Account.password_hash)
                .join(User)
                .where(User.username == username, User.active.is_(True))
            )

    def tokens(self, username: str | None = None) -> list[TokenInfo]:
        query = select(ApiToken, User.username).join(User).order_by(ApiToken.id)
        if username is not None:
            query = query.where(User.username == username)
        with reading(self.engine) as session:
            return [
                TokenInfo(
                    t.id,
                    name,
                    t.prefix,
                    t.label,
                    t.created_by,
                    t.created_at,
                    t.revoked_at,
                    t.expires_at,
                )
                for t, name in session.execute(query)
            ]

    def token_owner(self, digest: str) -> tuple[str, datetime | None] | None:
        """(username, expiry) of the unrevoked token with this digest, or None."""
        with reading(self.engine) as session:
            row = session.execute(
                select(User.username, ApiToken.expires_at)
                .join(ApiToken, ApiToken.user_id == User.id)
                .where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
            ).first()
        return None if row is None else (str(row.username), row.expires_at)

    # ------------------------------------------------------------ console sessions

    def start_session(self, username: str, digest: str, now: datetime, ends: datetime) -> bool:
        """A new console session of the active user ``username`` (False: there is none); the
        account's expired sessions go."""
        with (
            driver_errors("cannot record the sign-in", detail=True),
            Session(self.engine) as session,
            session.begin(),
        ):
            uid = session.scalar(
                select(User.id).where(User.username == username, User.active.is_(True))
            )
            if uid is None:
                return False
            session.execute(
                delete(ConsoleSession).where(
                    ConsoleSession.user_id == uid, ConsoleSession.expires_at <= now
                )
            )
            session.add(
                ConsoleSession(id_hash=digest, user_id=uid, created_at=now, expires_at=ends)
            )
        return True

    def session_user(self, digest: str, now: datetime) -> tuple[str, datetime] | None:
        """(username, end) of the unexpired session of an active user with this digest."""
        with reading(self.engine) as session:
            row = session.execute(
                select(User.username, ConsoleSession.expires_at)
                .join(User, User.id == ConsoleSession.user_id)
                .where(
                    ConsoleSession.id_hash == digest,
                    ConsoleSession.expires_at > now,
                    User.active.is_(True),
                )
            ).first()
        return None if row is None else (str(row.username), row.expires_at)

    def end_session(self, digest: str) -> None:
        with (
            driver_errors("cannot record the sign-out", detail=True),
            Session(self.engine) as session,
            session.begin(),
        ):
            session.execute(delete(ConsoleSession).where(ConsoleSession.id_hash == digest))

    # ------------------------------------------------------------ sign-in failures

    def locks(self, keys: Iterable[str]) -> list[float]:
        """When each of these keys that has failures is locked until (epoch seconds)."""
        wanted = list(keys)
        with (
            driver_errors("cannot read the sign-in failures", detail=True),
            Session(self.engine) as session,
        ):
            return list(
                session.scalars(
                    select(SignInFailures.locked_until).where(SignInFailures.key.in_(wanted))
                )
            )

    def count_failures(
        self,
        keys: Iterable[str],
        now: float,
        *,
        forget_before: float,
        lock: Callable[[str, int], float | None],
    ) -> None:
        """One more failure for each key (sorted, so that processes lock rows alike); a key
        gets ``locked_until = lock(key, failures)`` when that is not None. Failures last seen
        before ``forget_before`` are forgotten first."""
        wanted = sorted(set(keys))
        table = SignInFailures

        def record(session: Session) -> None:
            # A write first: on SQLite it takes the write lock before anything is read.
            session.execute(delete(table).where(table.last < forget_before))
            for key in wanted:
                counted = session.execute(
                    update(table)
                    .where(table.key == key)
                    .values(failures=table.failures + 1, last=now)
                )
                if not counted.rowcount:  # type: ignore[attr-defined]
                    session.add(table(key=key, failures=1, locked_until=0.0, last=now))
                    session.flush()
                failures = int(session.scalar(select(table.failures).where(table.key == key)) or 0)
                until = lock(key, failures)
                if until is not None:
                    session.execute(
                        update(table).where(table.key == key).values(locked_until=until)
                    )

        self._change(record)

    def forget_failures(self, keys: Iterable[str]) -> None:
        wanted = list(keys)
        self._change(
            lambda session: session.execute(
                delete(SignInFailures).where(SignInFailures.key.in_(wanted))
            )
        )

    def _change(self, work: Callable[[Session], object]) -> None:
        attempts = 5
        for attempt in range(attempts):
            try:
                with Session(self.engine) as session, session.begin():
                    work(session)
                return
            except IntegrityError as exc:
                # Another process added the same new key at the same moment: count again,
                # on its row.
                if attempt == attempts - 1:
                    raise StorageError(f"cannot record a sign-in: {exc.orig or exc}") from exc
            except DBAPIError as exc:
                # InnoDB may end one of two transactions recording failures at once (the
                # DELETE's scan and the other's new row lock in opposite orders): the one ended
                # was rolled back whole, and runs again.
                if not deadlocked(exc) or attempt == attempts - 1:
                    raise StorageError(f"cannot record a sign-in: {exc.orig or exc}") from exc
