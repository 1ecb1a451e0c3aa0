"""Several instances on one database: leases on the scheduled jobs (one instance runs each,
the daily summary remembers the last day it was sent) and the geocoder's shared limiter (the
next start allowed per endpoint).

Revision ID: 008
Revises: 007
"""

import sqlalchemy as sa
from alembic import op

from bot.store.revisions import TIME

revision = "008"
down_revision = "007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.Text, primary_key=True),  # a job's name
        sa.Column("holder", sa.Text),  # the instance running it
        sa.Column("until", TIME),  # ... until then (then anyone may take it)
        sa.Column("last_done", sa.Text),  # e.g. the last day the daily summary was sent
    )
    op.create_table(
        "rate_limits",
        sa.Column("endpoint", sa.Text, primary_key=True),
        sa.Column("next_start", sa.Float, nullable=False),  # Unix time of the next start
    )


def downgrade() -> None:
    op.drop_table("rate_limits")
    op.drop_table("leases")
