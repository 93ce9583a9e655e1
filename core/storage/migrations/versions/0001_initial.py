"""The initial schema: users, scopes, assignments, restrictions, audit, state.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Migrations do not import the models: they describe the schema as it was at this revision.
UTCDateTime = sa.DateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "rolecall_users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(150), nullable=False, unique=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "rolecall_scopes",
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("type", sa.String(80), nullable=False),
        sa.Column("title", sa.String(255), nullable=True),
    )
    op.create_table(
        "rolecall_assignments",
        sa.Column("id", BIGINT, primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("rolecall_users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("role", sa.String(80), nullable=False),
        sa.Column("scope", sa.String(255), nullable=False),
        sa.Column("granted_by", sa.String(150), nullable=True),
        sa.Column("granted_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.UniqueConstraint("user_id", "role", "scope", name="uq_assignment_user_role_scope"),
    )
    op.create_index("ix_assignment_scope", "rolecall_assignments", ["scope"])
    op.create_table(
        "rolecall_restrictions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("scope", sa.String(255), nullable=False, unique=True),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("exempt_roles", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(150), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "rolecall_audit",
        sa.Column("id", BIGINT, primary_key=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(150), nullable=True),
        sa.Column("user", sa.String(150), nullable=True),
        sa.Column("role", sa.String(80), nullable=True),
        sa.Column("scope", sa.String(255), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_revision", "rolecall_audit", ["revision"])
    op.create_index("ix_audit_user", "rolecall_audit", ["user"])
    op.create_index("ix_audit_scope", "rolecall_audit", ["scope"])
    op.create_table(
        "rolecall_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "rolecall_state",
        "rolecall_audit",
        "rolecall_restrictions",
        "rolecall_assignments",
        "rolecall_scopes",
        "rolecall_users",
    ):
        op.drop_table(table)
