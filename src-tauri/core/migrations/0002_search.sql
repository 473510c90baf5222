-- Full-text search over titles, questions, reasoning and answers. The trigram tokenizer finds
-- Chinese words (which have no spaces between them) as well as English ones; terms shorter than
-- three characters fall back to LIKE on the same tables.
CREATE VIRTUAL TABLE message_search USING fts5 (
    content, reasoning, answer,
    content = 'messages', content_rowid = 'id', tokenize = 'trigram'
);
CREATE VIRTUAL TABLE conversation_search USING fts5 (
    title,
    content = 'conversations', content_rowid = 'id', tokenize = 'trigram'
);

-- A streaming answer is indexed once it settles: checkpointing it every second would otherwise
-- rewrite its index entries every second.
CREATE TRIGGER messages_search_insert AFTER INSERT ON messages WHEN new.status <> 'streaming' BEGIN
    INSERT INTO message_search (rowid, content, reasoning, answer) VALUES (new.id, new.content, new.reasoning, new.answer);
END;
CREATE TRIGGER messages_search_delete AFTER DELETE ON messages WHEN old.status <> 'streaming' BEGIN
    INSERT INTO message_search (message_search, rowid, content, reasoning, answer)
        VALUES ('delete', old.id, old.content, old.reasoning, old.answer);
END;
CREATE TRIGGER messages_search_update AFTER UPDATE OF content, reasoning, answer, status ON messages BEGIN
    INSERT INTO message_search (message_search, rowid, content, reasoning, answer)
        SELECT 'delete', old.id, old.content, old.reasoning, old.answer WHERE old.status <> 'streaming';
    INSERT INTO message_search (rowid, content, reasoning, answer)
        SELECT new.id, new.content, new.reasoning, new.answer WHERE new.status <> 'streaming';
END;

CREATE TRIGGER conversations_search_insert AFTER INSERT ON conversations BEGIN
    INSERT INTO conversation_search (rowid, title) VALUES (new.id, new.title);
END;
CREATE TRIGGER conversations_search_delete AFTER DELETE ON conversations BEGIN
    INSERT INTO conversation_search (conversation_search, rowid, title) VALUES ('delete', old.id, old.title);
END;
CREATE TRIGGER conversations_search_update AFTER UPDATE OF title ON conversations BEGIN
    INSERT INTO conversation_search (conversation_search, rowid, title) VALUES ('delete', old.id, old.title);
    INSERT INTO conversation_search (rowid, title) VALUES (new.id, new.title);
END;

-- Conversations written before search existed.
INSERT INTO message_search (rowid, content, reasoning, answer)
    SELECT id, content, reasoning, answer FROM messages WHERE status <> 'streaming';
INSERT INTO conversation_search (rowid, title) SELECT id, title FROM conversations;
