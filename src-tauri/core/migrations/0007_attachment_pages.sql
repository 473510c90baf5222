-- A PDF's page count, shown on its chip and in reports (issue 18); NULL for other files.
ALTER TABLE attachments ADD COLUMN pages INTEGER;
