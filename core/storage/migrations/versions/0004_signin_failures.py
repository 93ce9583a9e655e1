"""Failed console sign-ins, shared by every web process.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rolecall_signin_failures",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.Float(), nullable=False),
        sa.Column("last", sa.Float(), nullable=False),
    )
    op.create_index("ix_signin_failures_last", "rolecall_signin_failures", ["last"])


def downgrade() -> None:
    op.drop_index("ix_signin_failures_last", "rolecall_signin_failures")
    op.drop_table("rolecall_signin_failures")
