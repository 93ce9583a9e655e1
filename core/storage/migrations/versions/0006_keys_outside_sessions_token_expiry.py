"""Keys outside the database: the audit chain's key ids and the state row's signed hash,
server-side console sessions, token expiry; the session key once stored in the database is
deleted.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL for the events written before keying: they keep verifying as unkeyed.
    # Plain ADD COLUMN on every database (no copy of the audit table on SQLite).
    op.add_column("rolecall_audit", sa.Column("key_id", sa.String(32), nullable=True))
    op.add_column("rolecall_tokens", sa.Column("expires_at", sa.DateTime(timezone=True)))
    op.add_column("rolecall_state", sa.Column("last_mac", sa.String(64), nullable=True))
    op.create_table(
        "rolecall_console_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("rolecall_users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_console_sessions_user", "rolecall_console_sessions", ["user_id"])
    # Whoever read the database could sign console sessions with it: it signs nothing now.
    op.execute(sa.text("DELETE FROM rolecall_secrets WHERE name = 'console-session-key'"))


def downgrade() -> None:
    op.drop_index("ix_console_sessions_user", "rolecall_console_sessions")
    op.drop_table("rolecall_console_sessions")
    with op.batch_alter_table("rolecall_state") as batch:
        batch.drop_column("last_mac")
    with op.batch_alter_table("rolecall_tokens") as batch:
        batch.drop_column("expires_at")
    with op.batch_alter_table("rolecall_audit") as batch:
        batch.drop_column("key_id")
