"""A delivery being sent is leased: no other attempt (another task, another instance, or the
same delivery after a restart) starts it again until the lease has run out.

Revision ID: 005
Revises: 004
"""

import sqlalchemy as sa
from alembic import op

from bot.store.revisions import TIME

revision = "005"
down_revision = "004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("leased_until", TIME))


def downgrade() -> None:
    op.drop_column("outbox", "leased_until")
