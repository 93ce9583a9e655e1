"""MySQL and MariaDB: binary collation, microsecond times, InnoDB, double-precision floats.

On MySQL and MariaDB the earlier migrations made tables in the server's defaults: usually a
case- and accent-insensitive collation (``Ada`` and ``ada``, ``course-v1:MITx+X+1`` and
``course-v1:mitx+x+1`` one value), ``DATETIME`` without fractions of a second (the audit chain
hashes them), ``FLOAT`` in single precision (the sign-in lock times) and whatever storage
engine was the default. This one rebuilds each table as InnoDB with the DYNAMIC row format,
utf8mb4 with the binary collation that also counts trailing spaces (MariaDB's
``utf8mb4_nopad_bin``, MySQL's ``utf8mb4_0900_bin``), ``DATETIME(6)`` times and ``DOUBLE``
floats. Times already stored keep the whole seconds they have. Nothing changes on SQLite and
PostgreSQL.

Revision ID: 0007
Revises: 0006

A table or column added by a later migration must be created right on MySQL and MariaDB by that
migration itself (binary collation, ``DATETIME(6)``): the start-up check refuses any that is
not.
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# table -> ((column, NOT NULL), ...) of its times, then of its floats, as at 0006.
TIMES = {
    "rolecall_users": (("created_at", True),),
    "rolecall_scopes": (),
    "rolecall_assignments": (("granted_at", True), ("expires_at", False)),
    "rolecall_restrictions": (("created_at", True),),
    "rolecall_audit": (("at", True),),
    "rolecall_state": (),
    "rolecall_custom_roles": (("created_at", True), ("updated_at", True)),
    "rolecall_delegation_rules": (("changed_at", True),),
    "rolecall_accounts": (("changed_at", True),),
    "rolecall_tokens": (("created_at", True), ("revoked_at", False), ("expires_at", False)),
    "rolecall_secrets": (("created_at", True),),
    "rolecall_signin_failures": (),
    "rolecall_contributions": (("seen_at", True),),
    "rolecall_console_sessions": (("created_at", True), ("expires_at", True)),
}
FLOATS = {"rolecall_signin_failures": (("locked_until", True), ("last", True))}


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect
    if dialect.name not in ("mysql", "mariadb"):
        return
    collation = "utf8mb4_nopad_bin" if dialect.is_mariadb else "utf8mb4_0900_bin"  # type: ignore[attr-defined]
    quote = dialect.identifier_preparer.quote
    for table, times in TIMES.items():
        changes = [
            "ENGINE=InnoDB",
            "ROW_FORMAT=DYNAMIC",
            f"CONVERT TO CHARACTER SET utf8mb4 COLLATE {collation}",
        ]
        for column, required in times:
            changes.append(
                f"MODIFY {quote(column)} DATETIME(6) {'NOT NULL' if required else 'NULL'}"
            )
        for column, required in FLOATS.get(table, ()):
            changes.append(f"MODIFY {quote(column)} DOUBLE {'NOT NULL' if required else 'NULL'}")
        # Names from this file, quoted; one rebuild of the table for all of its changes.
        op.execute(f"ALTER TABLE {quote(table)} {', '.join(changes)}")


def downgrade() -> None:
    # The schema of 0006 is the same tables: nothing to undo on any backend (exact
    # comparison and whole-microsecond times are what 0004 meant on SQLite and PostgreSQL).
    pass
