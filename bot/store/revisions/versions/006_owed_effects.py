"""Nothing lost: what the bot still owes after an interruption is found in the database.

`jobs.asked`: the question last sent for a job, its step key, or "caution:<key>" for a held
answer's confirmation; an open job whose current question differs is owed that question.
Jobs from before this column count as asked.

The parts of a hand-off posted to the support chat, so that after an interruption the
missing ones are completed and none is posted twice: the text's messages (a JSON list; the
last one carries the buttons and is `message_id`), the album, the pin (0: given up), and
when everything was posted. `notified_at`: the installer was told the decision.

Revision ID: 006
Revises: 005
"""

import sqlalchemy as sa
from alembic import op

from bot.store.revisions import BIGINT, TIME

revision = "006"
down_revision = "005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("asked", sa.Text))
    op.execute("UPDATE jobs SET asked = '*'")
    op.add_column("handoffs", sa.Column("text_message_ids", sa.Text))
    op.add_column("handoffs", sa.Column("album_message_id", BIGINT))
    op.add_column("handoffs", sa.Column("pin_message_id", BIGINT))
    op.add_column("handoffs", sa.Column("posted_at", TIME))
    op.add_column("handoffs", sa.Column("notified_at", TIME))
    op.execute("UPDATE handoffs SET posted_at = created_at")
    op.execute("UPDATE handoffs SET notified_at = decided_at WHERE decided_at IS NOT NULL")
    op.create_index("handoffs_unposted", "handoffs", ["posted_at"])
    op.create_index("handoffs_unnotified", "handoffs", ["notified_at", "decided_at"])


def downgrade() -> None:
    op.drop_index("handoffs_unnotified", "handoffs")
    op.drop_index("handoffs_unposted", "handoffs")
    for column in ("notified_at", "posted_at", "pin_message_id", "album_message_id",
                   "text_message_ids"):
        op.drop_column("handoffs", column)
    op.drop_column("jobs", "asked")
