"""Alembic's environment and the schema's revisions (see `bot.store.migrations`)."""

import sqlalchemy as sa

# Telegram's ids need 64 bits: BIGINT on PostgreSQL; on SQLite every INTEGER is 64-bit, and
# an `INTEGER` primary key is the rowid (assigned on insert).
BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Times are UTC ISO 8601 text, compared as text: byte order ("C") on PostgreSQL, whatever
# the database's collation (a locale's may skip punctuation).
TIME = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
