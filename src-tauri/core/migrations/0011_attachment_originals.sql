-- An attachment's original view (issue 30): where the file was read from (a PDF's pages are
-- drawn from it while its SHA-256 still matches) and a workbook's sheets as its file lays them
-- out (JSON, bounded by the reader: the top-left 200 × 30 cells of at most 16 sheets).
ALTER TABLE attachments ADD COLUMN path TEXT;
ALTER TABLE attachments ADD COLUMN originals TEXT NOT NULL DEFAULT '[]';
