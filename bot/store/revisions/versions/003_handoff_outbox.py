"""Support hand-offs, their decisions, and the outbox of outgoing deliveries (pages,
records).

A submitted job's hand-off message in the support chat and what support decided. A rejected
job is reopened (jobs.status back to 'open', jobs.reopened_part set); its resubmission posts
a new hand-off that points to the previous one.

Every outgoing delivery (a page to a webhook, the pinpoint record to the network) is written
to the outbox first, in the same transaction as the fact it reports, then delivered with
retries; `dedup_key` makes the same fact queue once, `delivered_at` makes it sent once.

Revision ID: 003
Revises: 002
"""

import sqlalchemy as sa
from alembic import op

from bot.store.revisions import BIGINT, TIME

revision = "003"
down_revision = "002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handoffs",
        sa.Column("id", BIGINT, primary_key=True),
        sa.Column("job_id", BIGINT, sa.ForeignKey("jobs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("previous_id", BIGINT, sa.ForeignKey("handoffs.id")),
        sa.Column("chat_id", BIGINT),  # the support chat (NULL: none configured)
        sa.Column("message_id", BIGINT),  # the message with the Verify/Reject buttons
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("decision", sa.Text),
        sa.Column("decided_by", BIGINT),
        sa.Column("decided_at", TIME),
        sa.Column("reason", sa.Text),  # a reason id (data/texts) or free text
        sa.Column("redo_part", sa.Text),  # the procedure part to redo, on rejection
        sa.Column("repaged_at", TIME),  # when support was paged again for waiting
        sa.Column("draft_by", BIGINT),  # a supporter typing a rejection reason ...
        sa.Column("draft_part", sa.Text),  # ... for this part ...
        sa.Column("draft_message_id", BIGINT),  # ... as a reply to this message
        sa.CheckConstraint("decision IN ('verified', 'rejected')", name="handoffs_decision"),
    )
    op.create_index("handoffs_job", "handoffs", ["job_id"])
    op.create_index("handoffs_open", "handoffs", ["decision", "created_at"])

    op.add_column("jobs", sa.Column("reopened_part", sa.Text))
    op.add_column("jobs", sa.Column("reminded_at", TIME))
    op.add_column("jobs", sa.Column("offers", sa.Text))  # JSON: the address choices shown

    op.create_table(
        "outbox",
        sa.Column("id", BIGINT, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),  # generic | slack | pagerduty | record
        sa.Column("target", sa.Text, nullable=False),  # the URL (credentials: settings)
        sa.Column("payload", sa.Text, nullable=False),  # JSON body
        sa.Column("dedup_key", sa.Text, nullable=False, unique=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TIME, nullable=False),
        sa.Column("delivered_at", TIME),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("outbox_due", "outbox", ["delivered_at", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("outbox")
    for column in ("offers", "reminded_at", "reopened_part"):
        op.drop_column("jobs", column)
    op.drop_table("handoffs")
