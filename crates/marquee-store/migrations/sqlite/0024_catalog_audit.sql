-- The catalog editor (#21): what staff changed on a title, in plain
-- language (one sentence per line), who and when. The link to the staff
-- member is cleared when their account is deleted; the trail stays.
CREATE TABLE catalog_audit (
    id       INTEGER PRIMARY KEY,
    title_id INTEGER NOT NULL REFERENCES titles(id),
    actor_id INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
    action   TEXT NOT NULL CHECK (action IN ('created', 'edited', 'artwork')),
    summary  TEXT NOT NULL,
    at       INTEGER NOT NULL
);
CREATE INDEX catalog_audit_title ON catalog_audit(title_id, at);
