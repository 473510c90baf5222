-- The tools an answer called and what each gave (issue 28), in the order they were called.
CREATE TABLE tool_calls (
    id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    call_id TEXT NOT NULL,
    name TEXT NOT NULL,
    -- JSON object, as the model wrote it.
    arguments TEXT NOT NULL,
    -- 'calculator', or 'mcp:SERVER'.
    source TEXT NOT NULL,
    -- done | error | denied | timeout
    status TEXT NOT NULL,
    result TEXT NOT NULL,
    ms INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX tool_calls_by_message ON tool_calls (message_id, position);
