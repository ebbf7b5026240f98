-- Secrets the server instances share (#23), made once by whichever instance
-- needs one first: `media_links` signs media URLs that expire (hex).
CREATE TABLE server_keys (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
