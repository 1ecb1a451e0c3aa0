"""Languages: the language a group chat reads (a managers' chat, set with /language there).
A person's own language stays in `users.language` (Telegram's language_code at first
contact, or the one they chose).

Revision ID: 011
Revises: 010
"""

import sqlalchemy as sa
from alembic import op

from bot.store.revisions import BIGINT, TIME

revision = "011"
down_revision = "010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_languages",
        sa.Column("chat_id", BIGINT, primary_key=True),
        sa.Column("language", sa.Text, nullable=False),  # a shipped language's code
        sa.Column("set_by", BIGINT),  # the user who chose it
        sa.Column("set_at", TIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("chat_languages")
