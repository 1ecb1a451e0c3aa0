"""Places: geocoding candidates near a GPS fix, the pin checks, request spacing."""
