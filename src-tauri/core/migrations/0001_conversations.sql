-- Conversations and their messages. Times are Unix milliseconds.
CREATE TABLE conversations (
    id             INTEGER PRIMARY KEY,
    -- Stable across export and import (a JSON report round-trips into another machine's store).
    uid            TEXT    NOT NULL UNIQUE,
    title          TEXT    NOT NULL,
    scenario_id    TEXT,
    -- NULL: the model's own default system prompt.
    system_prompt  TEXT,
    model          TEXT,
    pinned         INTEGER NOT NULL DEFAULT 0,
    -- The newest message of the branch on show; regenerate and edit-and-resend add branches.
    active_leaf_id INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    -- Soft delete: undoable for the session, purged later.
    deleted_at     INTEGER
);
CREATE INDEX conversations_recent ON conversations (deleted_at, pinned DESC, updated_at DESC);

CREATE TABLE messages (
    id                   INTEGER PRIMARY KEY,
    conversation_id      INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    parent_id            INTEGER REFERENCES messages (id) ON DELETE CASCADE,
    role                 TEXT    NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    -- The question as sent (a scenario's form already filled in) for a user message.
    content              TEXT    NOT NULL DEFAULT '',
    reasoning            TEXT    NOT NULL DEFAULT '',
    answer               TEXT    NOT NULL DEFAULT '',
    status               TEXT    NOT NULL CHECK (status IN ('streaming', 'complete', 'cancelled', 'interrupted', 'error')),
    stop_reason          TEXT,
    error_kind           TEXT,
    error_message        TEXT,
    prompt_tokens        INTEGER,
    cached_prompt_tokens INTEGER,
    reasoning_tokens     INTEGER,
    answer_tokens        INTEGER,
    ttft_ms              REAL,
    prefill_tok_s        REAL,
    decode_tok_s         REAL,
    total_ms             REAL,
    engine               TEXT CHECK (engine IN ('local', 'remote')),
    model_file           TEXT,
    model_sha256         TEXT,
    quantization         TEXT,
    remote_url           TEXT,
    system_prompt        TEXT,
    sampling             TEXT, -- JSON
    seed                 INTEGER, -- the u64 seed's bits
    scenario_id          TEXT,
    form                 TEXT, -- JSON: the scenario form as filled in
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
CREATE INDEX messages_streaming ON messages (status) WHERE status = 'streaming';

-- Per-preset state for the app (the presets themselves are TOML files).
CREATE TABLE scenarios (
    id           TEXT PRIMARY KEY,
    hidden       INTEGER NOT NULL DEFAULT 0,
    sort_order   INTEGER,
    last_used_at INTEGER
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL -- JSON
);

-- Hashing a 4.7 GB model takes seconds: done once per file version.
CREATE TABLE model_files (
    path     TEXT PRIMARY KEY,
    size     INTEGER NOT NULL,
    modified INTEGER NOT NULL,
    sha256   TEXT    NOT NULL
);
