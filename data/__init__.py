"""Pinpoint's shipped data: the procedure, the sample catalog and checklists, the texts and
the database migrations, read with `importlib.resources.files("data")` (see `bot.config`)."""
