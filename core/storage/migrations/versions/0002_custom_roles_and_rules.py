"""Custom roles and stored delegation rules.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rolecall_custom_roles",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("scope_types", sa.JSON(), nullable=False),
        sa.Column("base_role", sa.String(80), nullable=True),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(150), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "rolecall_delegation_rules",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("holders", sa.JSON(), nullable=False),
        sa.Column("assign", sa.JSON(), nullable=False),
        sa.Column("revoke", sa.JSON(), nullable=False),
        sa.Column("scope_types", sa.JSON(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sa.String(150), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rolecall_delegation_rules")
    op.drop_table("rolecall_custom_roles")
