-- Support hand-offs, their decisions, and the outbox of outgoing deliveries (pages, records).

-- A submitted job's hand-off message in the support chat and what support decided.
-- A rejected job is reopened (jobs.status back to 'open', jobs.reopened_part set); its
-- resubmission posts a new hand-off that points to the previous one.
CREATE TABLE handoffs (
    id          INTEGER PRIMARY KEY,
    job_id      INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    previous_id INTEGER REFERENCES handoffs (id),
    chat_id     INTEGER,                       -- the support chat (NULL: none configured)
    message_id  INTEGER,                       -- the message with the Verify/Reject buttons
    created_at  TEXT NOT NULL,
    decision    TEXT CHECK (decision IN ('verified', 'rejected')),
    decided_by  INTEGER,
    decided_at  TEXT,
    reason      TEXT,                          -- a reason id (data/texts) or free text
    redo_part   TEXT,                          -- the procedure part to redo, on rejection
    repaged_at  TEXT,                          -- when support was paged again for waiting
    draft_by    INTEGER,                       -- a supporter typing a rejection reason ...
    draft_part  TEXT,                          -- ... for this part ...
    draft_message_id INTEGER                   -- ... as a reply to this message
);
CREATE INDEX handoffs_job ON handoffs (job_id);
CREATE INDEX handoffs_open ON handoffs (decision, created_at);

ALTER TABLE jobs ADD COLUMN reopened_part TEXT;
ALTER TABLE jobs ADD COLUMN reminded_at TEXT;
ALTER TABLE jobs ADD COLUMN offers TEXT;  -- JSON: the address choices shown at the address step

-- Every outgoing delivery (a page to a webhook, the pinpoint record to the network) is
-- written here first, in the same transaction as the fact it reports, then delivered with
-- retries; `dedup_key` makes the same fact queue once, `delivered_at` makes it sent once.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,             -- generic | slack | pagerduty | record
    target          TEXT NOT NULL,             -- the URL (credentials come from settings)
    payload         TEXT NOT NULL,             -- JSON body
    dedup_key       TEXT NOT NULL UNIQUE,
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    delivered_at    TEXT,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (delivered_at, next_attempt_at);
