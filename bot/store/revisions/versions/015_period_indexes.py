"""Indexes for the few rows a managers' summary lists one by one, read by time instead of
job by job: rejections decided in its period (`handoffs_rejected`, partial: rejected
hand-offs only), flags raised in it (`flags_at`) and the audit's `flag` entries
(`audit_flags`, partial: a few among the ~45 entries a job).

Revision ID: 015
Revises: 014
"""

import sqlalchemy as sa
from alembic import op

revision = "015"
down_revision = "014"
branch_labels = None
depends_on = None

REJECTED = sa.text("decision = 'rejected'")
FLAG = sa.text("action = 'flag'")


def upgrade() -> None:
    op.create_index("handoffs_rejected", "handoffs", ["decided_at"], sqlite_where=REJECTED,
                    postgresql_where=REJECTED)
    op.create_index("flags_at", "flags", ["at"])
    op.create_index("audit_flags", "audit", ["at"], sqlite_where=FLAG, postgresql_where=FLAG)


def downgrade() -> None:
    op.drop_index("audit_flags", table_name="audit")
    op.drop_index("flags_at", table_name="flags")
    op.drop_index("handoffs_rejected", table_name="handoffs")
