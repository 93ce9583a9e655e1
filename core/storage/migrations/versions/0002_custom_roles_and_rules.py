"""Custom roles, stored delegation rules, and a counter for assignment ids.

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

    # Assignment ids come from a counter so that an id is never given twice (the audit log
    # names grants by id); it starts after the highest id in use.
    with op.batch_alter_table("rolecall_state") as batch:
        batch.add_column(
            sa.Column("last_assignment_id", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.execute(
        "UPDATE rolecall_state SET last_assignment_id = "
        "(SELECT COALESCE(MAX(id), 0) FROM rolecall_assignments)"
    )


def downgrade() -> None:
    with op.batch_alter_table("rolecall_state") as batch:
        batch.drop_column("last_assignment_id")
    op.drop_table("rolecall_delegation_rules")
    op.drop_table("rolecall_custom_roles")
