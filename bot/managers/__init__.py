"""Managers: reports, the daily summary, CSV export, the chart, reminders."""
