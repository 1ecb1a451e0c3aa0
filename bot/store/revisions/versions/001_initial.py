"""People, roles, site visits, jobs and their answers, photos, flags and the audit trail.

Times are UTC in ISO 8601 text (`2026-11-24T09:15:02.123456+00:00`); JSON values are text.

Revision ID: 001
"""

import sqlalchemy as sa
from alembic import op

from bot.store.revisions import BIGINT, TIME

revision = "001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", BIGINT, primary_key=True, autoincrement=False),  # Telegram user id
        sa.Column("first_name", sa.Text, nullable=False, server_default=""),
        sa.Column("last_name", sa.Text),
        sa.Column("username", sa.Text),
        sa.Column("language", sa.Text),
        sa.Column("installer_id", sa.Text),  # the network's installer account
        sa.Column("status", sa.Text, nullable=False, server_default="new"),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.CheckConstraint(
            "status IN ('new', 'awaiting_id', 'pending', 'approved', 'refused')",
            name="users_status"),
    )
    op.create_index("users_installer_id", "users", ["installer_id"], unique=True,
                    sqlite_where=sa.text("installer_id IS NOT NULL"),
                    postgresql_where=sa.text("installer_id IS NOT NULL"))
    op.create_table(
        "roles",
        sa.Column("user_id", BIGINT, sa.ForeignKey("users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("granted_by", BIGINT),  # NULL: granted by configuration
        sa.Column("granted_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "role"),
        sa.CheckConstraint("role IN ('installer', 'support', 'manager', 'admin')",
                           name="roles_role"),
    )
    op.create_table(
        "visits",
        sa.Column("id", BIGINT, primary_key=True),
        sa.Column("installer_id", BIGINT, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("started_at", TIME, nullable=False),
    )
    op.create_table(
        "jobs",
        sa.Column("id", BIGINT, primary_key=True),
        sa.Column("visit_id", BIGINT, sa.ForeignKey("visits.id"), nullable=False),
        sa.Column("installer_id", BIGINT, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("chat_id", BIGINT, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="open"),
        sa.Column("cursor", sa.Text),  # a step revisited with /back; NULL: derived
        sa.Column("pending", sa.Text),  # JSON: an answer waiting for a confirmation
        sa.Column("prompt_message_id", BIGINT),  # the last question, to retire its buttons
        sa.Column("stop_reason", sa.Text),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("submitted_at", TIME),
        sa.Column("closed_at", TIME),
        sa.CheckConstraint(
            "status IN ('open', 'submitted', 'verified', 'rejected', 'cancelled', 'stopped')",
            name="jobs_status"),
    )
    op.create_index("jobs_installer_status", "jobs", ["installer_id", "status"])
    op.create_index("jobs_status_updated", "jobs", ["status", "updated_at"])
    op.create_table(
        "answers",
        sa.Column("job_id", BIGINT, sa.ForeignKey("jobs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("step", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),  # JSON
        sa.Column("source", sa.Text, nullable=False),  # typed, button, photo, qr, reuse, ...
        sa.Column("answered_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("job_id", "step"),
    )
    op.create_table(
        "photos",
        sa.Column("id", BIGINT, primary_key=True),
        sa.Column("job_id", BIGINT, sa.ForeignKey("jobs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("step", sa.Text, nullable=False),
        sa.Column("file_id", sa.Text, nullable=False),
        sa.Column("file_unique_id", sa.Text, nullable=False),
        sa.Column("sha256", sa.Text, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("bytes", BIGINT, nullable=False),
        sa.Column("format", sa.Text, nullable=False),
        # sent as a document (uncompressed, with EXIF)
        sa.Column("as_file", sa.Integer, nullable=False, server_default="0"),
        sa.Column("exif_lat", sa.Float),
        sa.Column("exif_lon", sa.Float),
        sa.Column("exif_taken_at", TIME),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_index("photos_job", "photos", ["job_id", "step"])
    op.create_table(
        "flags",
        sa.Column("id", BIGINT, primary_key=True),
        sa.Column("job_id", BIGINT, sa.ForeignKey("jobs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("step", sa.Text),
        sa.Column("detail", sa.Text),  # JSON
        sa.Column("at", TIME, nullable=False),
    )
    op.create_index("flags_job", "flags", ["job_id"])
    op.create_table(
        "audit",
        sa.Column("id", BIGINT, primary_key=True),
        sa.Column("at", TIME, nullable=False),
        sa.Column("actor_id", BIGINT),  # Telegram user id; NULL: the bot itself
        sa.Column("job_id", BIGINT),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("detail", sa.Text),  # JSON; secrets are masked before they get here
    )
    op.create_index("audit_job", "audit", ["job_id"])
    op.create_index("audit_at", "audit", ["at"])


def downgrade() -> None:
    for table in ("audit", "flags", "photos", "answers", "jobs", "visits", "roles", "users"):
        op.drop_table(table)
