-- People, roles, site visits, jobs and their answers, photos, flags and the audit trail.
-- Times are UTC in ISO 8601 (`2026-11-24T09:15:02.123456+00:00`).

CREATE TABLE users (
    id           INTEGER PRIMARY KEY,          -- Telegram user id
    first_name   TEXT NOT NULL DEFAULT '',
    last_name    TEXT,
    username     TEXT,
    language     TEXT,
    installer_id TEXT,                         -- the network's installer account
    status       TEXT NOT NULL DEFAULT 'new'
                 CHECK (status IN ('new', 'awaiting_id', 'pending', 'approved', 'refused')),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX users_installer_id ON users (installer_id) WHERE installer_id IS NOT NULL;

CREATE TABLE roles (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('installer', 'support', 'manager', 'admin')),
    granted_by INTEGER,                        -- NULL: granted by configuration
    granted_at TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE visits (
    id           INTEGER PRIMARY KEY,
    installer_id INTEGER NOT NULL REFERENCES users (id),
    started_at   TEXT NOT NULL
);

CREATE TABLE jobs (
    id                INTEGER PRIMARY KEY,
    visit_id          INTEGER NOT NULL REFERENCES visits (id),
    installer_id      INTEGER NOT NULL REFERENCES users (id),
    chat_id           INTEGER NOT NULL,
    status            TEXT NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'submitted', 'verified', 'rejected',
                                        'cancelled', 'stopped')),
    cursor            TEXT,                    -- a step revisited with /back; NULL: derived
    pending           TEXT,                    -- JSON: an answer waiting for a confirmation
    prompt_message_id INTEGER,                 -- the last question sent, to retire its buttons
    stop_reason       TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    submitted_at      TEXT,
    closed_at         TEXT
);
CREATE INDEX jobs_installer_status ON jobs (installer_id, status);
CREATE INDEX jobs_status_updated ON jobs (status, updated_at);

CREATE TABLE answers (
    job_id      INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step        TEXT NOT NULL,
    value       TEXT NOT NULL,                 -- JSON
    source      TEXT NOT NULL,                 -- typed, button, photo, location, qr, reuse, skip
    answered_at TEXT NOT NULL,
    PRIMARY KEY (job_id, step)
);

CREATE TABLE photos (
    id             INTEGER PRIMARY KEY,
    job_id         INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step           TEXT NOT NULL,
    file_id        TEXT NOT NULL,
    file_unique_id TEXT NOT NULL,
    sha256         TEXT NOT NULL,
    width          INTEGER NOT NULL,
    height         INTEGER NOT NULL,
    bytes          INTEGER NOT NULL,
    format         TEXT NOT NULL,
    as_file        INTEGER NOT NULL DEFAULT 0,  -- sent as a document (uncompressed, with EXIF)
    exif_lat       REAL,
    exif_lon       REAL,
    exif_taken_at  TEXT,
    created_at     TEXT NOT NULL
);
CREATE INDEX photos_job ON photos (job_id, step);

CREATE TABLE flags (
    id     INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    kind   TEXT NOT NULL,
    step   TEXT,
    detail TEXT,                               -- JSON
    at     TEXT NOT NULL
);
CREATE INDEX flags_job ON flags (job_id);

CREATE TABLE audit (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    actor_id INTEGER,                          -- Telegram user id; NULL: the bot itself
    job_id   INTEGER,
    action   TEXT NOT NULL,
    detail   TEXT                              -- JSON; secrets are masked before they get here
);
CREATE INDEX audit_job ON audit (job_id);
CREATE INDEX audit_at ON audit (at);
