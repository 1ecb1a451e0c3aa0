"""Managers: periods of local days (`periods`), the summary (`summary`, from the read-only
`reports`), its message and chart (`render`, `charts`), the CSV export (`export`), where a
job waits (`where`), reminders of idle jobs (`reminders`) and the command line (`cli`)."""
