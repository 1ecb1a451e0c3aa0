"""Storage: the SQLite connection, migrations, and the records the bot keeps."""
