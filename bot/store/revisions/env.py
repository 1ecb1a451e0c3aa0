"""Alembic's environment: runs the revisions on the connection `bot.store.migrations`
passes in (`config.attributes["connection"]`), inside its transaction."""

from alembic import context

connection = context.config.attributes["connection"]
if connection is None:
    raise RuntimeError("run migrations through bot.store.migrations (`pinpoint` opens the "
                       "store, which applies them)")
context.configure(connection=connection)
with context.begin_transaction():
    context.run_migrations()
