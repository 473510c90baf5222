-- Documents attached to a question (issue 18): the file's identity, everything read from it,
-- and what of it went into the prompt (the parts chosen to fit, with a line saying which), so
-- the conversation reopens, continues and exports with exactly what the model saw.
CREATE TABLE attachments (
    id INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    file_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT '[]',
    text TEXT NOT NULL,
    included TEXT NOT NULL,
    included_summary TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX attachments_by_message ON attachments (message_id, position);

-- Found by search like a question's own words.
CREATE VIRTUAL TABLE attachment_search USING fts5 (text, tokenize = 'trigram');
CREATE TRIGGER attachments_search_insert AFTER INSERT ON attachments BEGIN
    INSERT INTO attachment_search (rowid, text) VALUES (new.id, new.file_name || char(10) || new.text);
END;
CREATE TRIGGER attachments_search_delete AFTER DELETE ON attachments BEGIN
    DELETE FROM attachment_search WHERE rowid = old.id;
END;
