"""The schema's revisions, `NNN_name.py`, revision `"NNN"` (the numbered SQL scripts they
replace had the same numbers)."""
