-- The library of filings (issue 29): folders the analyst adds, the files read from them, and
-- each file's parts (a page's or a section's text, a table's rows) indexed for retrieval.
CREATE TABLE library_folders (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    added_at INTEGER NOT NULL,
    scanned_at INTEGER,
    -- ok | missing (the folder is gone; its parts are kept until it is removed)
    status TEXT NOT NULL DEFAULT 'ok'
);

CREATE TABLE library_files (
    id INTEGER PRIMARY KEY,
    folder_id INTEGER NOT NULL REFERENCES library_folders(id) ON DELETE CASCADE,
    path TEXT NOT NULL UNIQUE,
    file_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    size INTEGER NOT NULL,
    -- Seconds since the epoch: with the size, what a rescan compares before hashing.
    mtime INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    pages INTEGER,
    -- indexed | refused (the reader's reason in error) | missing
    status TEXT NOT NULL,
    error TEXT,
    -- JSON array: what the reader left out or changed, said.
    notes TEXT NOT NULL DEFAULT '[]',
    indexed_at INTEGER NOT NULL
);
CREATE INDEX library_files_by_folder ON library_files (folder_id);

CREATE TABLE library_parts (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES library_files(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    page INTEGER,
    label TEXT NOT NULL,
    text TEXT NOT NULL,
    tokens INTEGER NOT NULL
);
CREATE INDEX library_parts_by_file ON library_parts (file_id, position);

CREATE VIRTUAL TABLE library_search USING fts5 (
    text,
    content = 'library_parts', content_rowid = 'id', tokenize = 'trigram'
);
CREATE TRIGGER library_parts_insert AFTER INSERT ON library_parts BEGIN
    INSERT INTO library_search (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER library_parts_delete AFTER DELETE ON library_parts BEGIN
    INSERT INTO library_search (library_search, rowid, text) VALUES ('delete', old.id, old.text);
END;

-- The parts an answer was given, numbered as its prompt numbered them (the [n] it cites).
-- Copied, not referenced only: a citation still reads after its file is re-read or removed.
CREATE TABLE answer_sources (
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    n INTEGER NOT NULL,
    part_id INTEGER REFERENCES library_parts(id) ON DELETE SET NULL,
    path TEXT NOT NULL,
    file_name TEXT NOT NULL,
    page INTEGER,
    label TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (message_id, n)
);
-- A part's deletion (a re-read, a folder removed) sets its sources' part_id to NULL: found by
-- this index, not by a scan of every source.
CREATE INDEX answer_sources_by_part ON answer_sources (part_id);
