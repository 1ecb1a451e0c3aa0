-- Telegram messages the bot owes a chat because the state changed (an admin's registration
-- request, the applicant's approval, a role change, a submission's confirmation, a "still
-- waiting" notice): written in the same transaction as the change, then sent once
-- (handlers/notices.py), right after the update and, if that did not happen, by the catch-up.
CREATE TABLE notices (
    id              INTEGER PRIMARY KEY,
    chat_id         INTEGER NOT NULL,
    text            TEXT NOT NULL,                 -- HTML
    buttons         TEXT NOT NULL DEFAULT '[]',    -- JSON: rows of {label, data, url}
    reply_to        INTEGER,                       -- the message it quotes, if any
    dedup_key       TEXT NOT NULL UNIQUE,          -- the same fact queues once
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    leased_until    TEXT,                          -- being sent: nobody else starts it
    sent_at         TEXT,                          -- Telegram accepted it ...
    message_id      INTEGER,                       -- ... as this message
    failed_at       TEXT,                          -- given up (blocked, no such chat, ...)
    last_error      TEXT
);
CREATE INDEX notices_due ON notices (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
