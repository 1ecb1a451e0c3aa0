"""The engine: walks the procedure (data) for one job at a time, free of Telegram."""
