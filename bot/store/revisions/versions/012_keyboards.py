"""Live keyboards: the messages of a job whose inline buttons are still live, so that every
one but the current question's is taken away (also after an interruption).

Revision ID: 012
Revises: 011
"""

import sqlalchemy as sa
from alembic import op

revision = "012"
down_revision = "011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("keyboards", sa.Text))  # JSON: message ids, oldest first


def downgrade() -> None:
    op.drop_column("jobs", "keyboards")
