"""Telegram messages the bot owes a chat because the state changed (an admin's registration
request, the applicant's approval, a role change, a submission's confirmation, a "still
waiting" notice): written in the same transaction as the change, then sent once
(handlers/notices.py), right after the update and, if that did not happen, by the catch-up.

Revision ID: 007
Revises: 006
"""

import sqlalchemy as sa
from alembic import op

from bot.store.revisions import BIGINT, TIME

revision = "007"
down_revision = "006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column("id", BIGINT, primary_key=True),
        sa.Column("chat_id", BIGINT, nullable=False),
        sa.Column("text", sa.Text, nullable=False),  # HTML
        sa.Column("buttons", sa.Text, nullable=False, server_default="[]"),  # JSON rows
        sa.Column("reply_to", BIGINT),  # the message it quotes, if any
        sa.Column("dedup_key", sa.Text, nullable=False, unique=True),  # a fact queues once
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TIME, nullable=False),
        sa.Column("leased_until", TIME),  # being sent: nobody else starts it
        sa.Column("sent_at", TIME),  # Telegram accepted it ...
        sa.Column("message_id", BIGINT),  # ... as this message
        sa.Column("failed_at", TIME),  # given up (blocked, no such chat, ...)
        sa.Column("last_error", sa.Text),
    )
    due = sa.text("sent_at IS NULL AND failed_at IS NULL")
    op.create_index("notices_due", "notices", ["next_attempt_at"], sqlite_where=due,
                    postgresql_where=due)


def downgrade() -> None:
    op.drop_table("notices")
