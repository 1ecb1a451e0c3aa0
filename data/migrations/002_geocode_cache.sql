-- Geocoder answers, cached so that the same spot or search is not looked up twice
-- (Nominatim's usage policy asks for it). Written and read by bot.geo.GeocodeCache.
CREATE TABLE IF NOT EXISTS geocode_cache (
    key        TEXT PRIMARY KEY,  -- service|endpoint|request, e.g. "nominatim|https://…|reverse|52.53040,13.38450|z18"
    value      TEXT NOT NULL,     -- JSON list of the geocoder's results (may be empty)
    created_at REAL NOT NULL,     -- unix time
    expires_at REAL               -- unix time; NULL = never
);

CREATE INDEX IF NOT EXISTS geocode_cache_expires_at ON geocode_cache (expires_at);
