"""Indexes for the managers' reports over years of jobs: a summary reads the unfinished jobs
(`jobs_unfinished`, partial: a few among a million) and those changed in its period
(`jobs_updated_created`), the export the jobs created in it (`jobs_created`); per
job, the audit trail by action and time (`audit_job_action_at`, which also serves what
`audit_job` did) and the installer's latest entry (`audit_job_actor_at`).

Revision ID: 013
Revises: 012
"""

import sqlalchemy as sa
from alembic import op

revision = "013"
down_revision = "012"
branch_labels = None
depends_on = None


UNFINISHED = sa.text("status IN ('open', 'submitted', 'rejected')")


def upgrade() -> None:
    op.create_index("jobs_unfinished", "jobs", ["status"], sqlite_where=UNFINISHED,
                    postgresql_where=UNFINISHED)
    op.create_index("jobs_updated_created", "jobs", ["updated_at", "created_at"])
    op.create_index("jobs_created", "jobs", ["created_at"])
    op.create_index("audit_job_action_at", "audit", ["job_id", "action", "at"])
    op.create_index("audit_job_actor_at", "audit", ["job_id", "actor_id", "at"])
    op.drop_index("audit_job", table_name="audit")


def downgrade() -> None:
    op.create_index("audit_job", "audit", ["job_id"])
    op.drop_index("audit_job_actor_at", table_name="audit")
    op.drop_index("audit_job_action_at", table_name="audit")
    op.drop_index("jobs_created", table_name="jobs")
    op.drop_index("jobs_updated_created", table_name="jobs")
    op.drop_index("jobs_unfinished", table_name="jobs")
