-- Nothing lost: what the bot still owes after an interruption is found in the database.

-- The question last sent for a job: its step key, or "caution:<key>" for a held answer's
-- confirmation. An open job whose current question differs is owed that question.
-- Jobs from before this column count as asked.
ALTER TABLE jobs ADD COLUMN asked TEXT;
UPDATE jobs SET asked = '*';

-- The parts of a hand-off posted to the support chat, so that after an interruption the
-- missing ones are completed and none is posted twice: the text's messages (a JSON list;
-- the last one carries the buttons and is `message_id`), the album, the pin (0: given up),
-- and when everything was posted. `notified_at`: the installer was told the decision.
ALTER TABLE handoffs ADD COLUMN text_message_ids TEXT;
ALTER TABLE handoffs ADD COLUMN album_message_id INTEGER;
ALTER TABLE handoffs ADD COLUMN pin_message_id INTEGER;
ALTER TABLE handoffs ADD COLUMN posted_at TEXT;
ALTER TABLE handoffs ADD COLUMN notified_at TEXT;
UPDATE handoffs SET posted_at = created_at;
UPDATE handoffs SET notified_at = decided_at WHERE decided_at IS NOT NULL;
CREATE INDEX handoffs_unposted ON handoffs (posted_at);
CREATE INDEX handoffs_unnotified ON handoffs (notified_at, decided_at);
