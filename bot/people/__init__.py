"""People: registration, approval and roles."""
