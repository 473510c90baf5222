-- Sampling the analyst set for one conversation (JSON of the fields set: temperature, top_p, …),
-- kept with the conversation so the app and the CLI see the same; NULL: none set.
ALTER TABLE conversations ADD COLUMN sampling TEXT;
-- Earlier builds kept it in the UI's own settings rows ("ui.sampling.<conversation id>"): moved.
UPDATE conversations
   SET sampling = (SELECT s.value FROM settings s WHERE s.key = 'ui.sampling.' || conversations.id)
 WHERE EXISTS (SELECT 1 FROM settings s WHERE s.key = 'ui.sampling.' || conversations.id);
DELETE FROM settings WHERE key LIKE 'ui.sampling.%';
