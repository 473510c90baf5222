-- A preset's first question was indexed as the prompt its template filled in, so the
-- template's own words (its instructions to the model) matched every conversation of that
-- preset. The index now holds what the analyst typed: the question and the form's values. It
-- keeps its own copy of that text (no longer external content: the indexed question is not a
-- column of `messages`), which is also what search shows as the snippet.
DROP TRIGGER messages_search_insert;
DROP TRIGGER messages_search_delete;
DROP TRIGGER messages_search_update;
DROP TABLE message_search;

-- What a message is found by; the triggers and the backfill below all read it from here.
CREATE VIEW message_search_source AS
SELECT m.id, m.status, m.reasoning, m.answer,
    CASE WHEN json_valid(m.form) AND json_type(m.form, '$.question') = 'text'
        THEN json_extract(m.form, '$.question')
            || COALESCE((SELECT char(10) || group_concat(j.value, char(10)) FROM json_each(m.form, '$.fields') AS j WHERE j.type = 'text'), '')
        ELSE m.content END AS content
FROM messages AS m;

CREATE VIRTUAL TABLE message_search USING fts5 (content, reasoning, answer, tokenize = 'trigram');

-- Streaming answers are indexed once they settle, as before.
CREATE TRIGGER messages_search_insert AFTER INSERT ON messages WHEN new.status <> 'streaming' BEGIN
    INSERT INTO message_search (rowid, content, reasoning, answer)
        SELECT id, content, reasoning, answer FROM message_search_source WHERE id = new.id;
END;
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
    DELETE FROM message_search WHERE rowid = old.id;
END;
CREATE TRIGGER messages_search_update AFTER UPDATE OF content, reasoning, answer, status, form ON messages BEGIN
    DELETE FROM message_search WHERE rowid = old.id;
    INSERT INTO message_search (rowid, content, reasoning, answer)
        SELECT id, content, reasoning, answer FROM message_search_source WHERE id = new.id AND status <> 'streaming';
END;

INSERT INTO message_search (rowid, content, reasoning, answer)
    SELECT id, content, reasoning, answer FROM message_search_source WHERE status <> 'streaming';
