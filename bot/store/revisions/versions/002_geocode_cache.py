"""Geocoder answers, cached so that the same spot or search is not looked up twice
(Nominatim's usage policy asks for it). Written and read by bot.places.cache.GeocodeCache.

Revision ID: 002
Revises: 001
"""

import sqlalchemy as sa
from alembic import op

revision = "002"
down_revision = "001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "geocode_cache",
        # service|endpoint|request, e.g. "nominatim|https://…|reverse|52.53040,13.38450|z18"
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),  # JSON list of results (may be empty)
        sa.Column("created_at", sa.Float, nullable=False),  # unix time
        sa.Column("expires_at", sa.Float),  # unix time; NULL = never
    )
    op.create_index("geocode_cache_expires_at", "geocode_cache", ["expires_at"])


def downgrade() -> None:
    op.drop_table("geocode_cache")
