-- Updates from Telegram, kept before getUpdates confirms them (handlers/intake.py): an update
-- is processed once, a redelivered one is recognised, and one received but not processed when
-- the process died is processed at the next start.
CREATE TABLE inbox (
    update_id   INTEGER PRIMARY KEY,
    sender      INTEGER NOT NULL,              -- whose order it keeps (user, else chat)
    payload     TEXT NOT NULL,                 -- the update's JSON, as received
    received_at TEXT NOT NULL,
    done_at     TEXT                           -- processed (or dropped as excess)
);
CREATE INDEX inbox_unfinished ON inbox (update_id) WHERE done_at IS NULL;
