"""Updates from Telegram, kept before they are confirmed (handlers/intake.py): an update is
processed once, a redelivered one is recognised, and one received but not processed when the
process died is processed at the next start.

Revision ID: 004
Revises: 003
"""

import sqlalchemy as sa
from alembic import op

from bot.store.revisions import BIGINT, TIME

revision = "004"
down_revision = "003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("update_id", BIGINT, primary_key=True, autoincrement=False),
        sa.Column("sender", BIGINT, nullable=False),  # whose order it keeps (user, else chat)
        sa.Column("payload", sa.Text, nullable=False),  # the update's JSON, as received
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("done_at", TIME),  # processed (or dropped as excess)
    )
    op.create_index("inbox_unfinished", "inbox", ["update_id"],
                    sqlite_where=sa.text("done_at IS NULL"),
                    postgresql_where=sa.text("done_at IS NULL"))


def downgrade() -> None:
    op.drop_table("inbox")
