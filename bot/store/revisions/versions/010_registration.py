"""Registration that cannot dead-end: when a person's status last changed (a refused person
may apply again after REAPPLY_AFTER_DAYS), and an installer ID reserved only by its approved
holder (pending requests with the same ID no longer block one another).

Revision ID: 010
Revises: 009
"""

import sqlalchemy as sa
from alembic import op

from bot.store.revisions import TIME

revision = "010"
down_revision = "009"
branch_labels = None
depends_on = None

APPROVED = sa.text("status = 'approved' AND installer_id IS NOT NULL")
ANY_ID = sa.text("installer_id IS NOT NULL")


def upgrade() -> None:
    op.add_column("users", sa.Column("status_at", TIME))  # NULL: before this revision
    op.drop_index("users_installer_id", "users")
    op.create_index("users_installer_id", "users", ["installer_id"], unique=True,
                    sqlite_where=APPROVED, postgresql_where=APPROVED)


def downgrade() -> None:
    op.drop_index("users_installer_id", "users")
    op.execute("UPDATE users SET installer_id = NULL WHERE status <> 'approved'")
    op.create_index("users_installer_id", "users", ["installer_id"], unique=True,
                    sqlite_where=ANY_ID, postgresql_where=ANY_ID)
    op.drop_column("users", "status_at")
