-- Collections (issue 29): hand-picked sets of the library's files that scope a conversation.
-- Members are kept by path, not by file id: a file read again is stored anew (a new id) and
-- must stay in its collections; a file removed from the library leaves its path here, shown
-- as missing, until it comes back or the analyst takes it out.
CREATE TABLE library_collections (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE library_collection_files (
    collection_id INTEGER NOT NULL REFERENCES library_collections(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    PRIMARY KEY (collection_id, path)
);
