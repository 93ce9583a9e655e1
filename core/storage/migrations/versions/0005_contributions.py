"""What each plugin registered, so that dormant rows can name the plugin they wait for.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rolecall_contributions",
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("plugin", sa.String(200), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rolecall_contributions")
