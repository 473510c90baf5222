-- The model library: GGUF files the user imported, downloaded or quantized, each checked when
-- it was added, with what the model manager and the picker show.
CREATE TABLE models (
    id           INTEGER PRIMARY KEY,
    path         TEXT    NOT NULL UNIQUE,
    file_name    TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT,
    name         TEXT,
    architecture TEXT    NOT NULL,
    quantization TEXT    NOT NULL,
    n_params     INTEGER NOT NULL,
    context      INTEGER NOT NULL,
    source       TEXT    NOT NULL CHECK (source IN ('import', 'download', 'quantize')),
    repo         TEXT, -- where a download came from
    added_at     INTEGER NOT NULL
);
