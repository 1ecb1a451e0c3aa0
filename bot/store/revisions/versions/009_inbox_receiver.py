"""Which instance received each update (`received_by`): an unfinished update whose instance
has died is taken over by another at once instead of after a minute.

Revision ID: 009
Revises: 008
"""

import sqlalchemy as sa
from alembic import op

revision = "009"
down_revision = "008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("received_by", sa.Text))  # the instance (lease holder name)


def downgrade() -> None:
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("received_by")
