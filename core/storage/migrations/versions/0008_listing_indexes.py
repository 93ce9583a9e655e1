"""Indexes for the listings at scale: the assignments by role and by grant time (each with the
id, the cursor's tie-break), and the audit log by time.

The assignments list sorts by any column and cuts pages by cursor: with an index on
(column, id) a page is a walk of that index, however many grants there are. Sorting by granter
or expiry, rarer, reads the grants in full (80-250 ms at 100,000 on SQLite): an index for each
cost bulk loading a tenth of its speed each. The audit log's date range finds its first event
through ``at``.

Indexes only: no table or column changes, so MySQL and MariaDB need nothing of their own (the
indexed columns already have the binary collation and ``DATETIME(6)`` of 0007).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_assignment_role", "rolecall_assignments", ["role", "id"]),
    ("ix_assignment_granted_at", "rolecall_assignments", ["granted_at", "id"]),
    ("ix_audit_at", "rolecall_audit", ["at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
