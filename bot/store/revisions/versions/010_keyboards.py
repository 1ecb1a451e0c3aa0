"""Live keyboards: the messages of a job whose inline buttons are still live, so that every
one but the current question's is taken away (also after an interruption).

Revision ID: 010
Revises: 008
"""

import sqlalchemy as sa
from alembic import op

revision = "010"
down_revision = "008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("keyboards", sa.Text))  # JSON: message ids, oldest first


def downgrade() -> None:
    op.drop_column("jobs", "keyboards")
