-- Bring your own library (#21): what a catalog says about a title beyond its
-- name and year, its identity for re-imports, artwork renditions and media
-- files. The MovieLens demo's titles keep `catalog_key` NULL.

ALTER TABLE titles ADD COLUMN synopsis TEXT;
-- YYYY-MM-DD.
ALTER TABLE titles ADD COLUMN release_date TEXT;
-- The rating as its system spells it, the system (mpaa, tv, operator) and
-- the youngest age it is meant for: the maturity policy filters on the age.
ALTER TABLE titles ADD COLUMN maturity TEXT;
ALTER TABLE titles ADD COLUMN maturity_system TEXT;
ALTER TABLE titles ADD COLUMN maturity_age INTEGER;
-- Availability window, ms; NULL = open-ended.
ALTER TABLE titles ADD COLUMN available_from INTEGER;
ALTER TABLE titles ADD COLUMN available_until INTEGER;
-- Hidden by an editor: absent from every viewer surface.
ALTER TABLE titles ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;
-- Identity of an imported title ('tmdb:603', 'imdb:tt0133093', 'path:Movies/X');
-- an episode's is its series' key with '/S01E02'.
ALTER TABLE titles ADD COLUMN catalog_key TEXT;
-- sha256 of what the import wrote, so a re-import tells unchanged from updated.
ALTER TABLE titles ADD COLUMN content_hash TEXT;
ALTER TABLE titles ADD COLUMN updated_at INTEGER;
CREATE UNIQUE INDEX titles_catalog_key ON titles(catalog_key);

-- Cast and crew, in billing order.
CREATE TABLE title_people (
    title_id  INTEGER NOT NULL REFERENCES titles(id),
    ord       INTEGER NOT NULL,
    name      TEXT NOT NULL,
    role      TEXT NOT NULL CHECK (role IN ('actor', 'director', 'writer', 'creator')),
    character TEXT,
    PRIMARY KEY (title_id, ord)
);
CREATE INDEX title_people_name ON title_people(lower(name));

CREATE TABLE title_languages (
    title_id INTEGER NOT NULL REFERENCES titles(id),
    lang     TEXT NOT NULL,
    PRIMARY KEY (title_id, lang)
);

-- Ids in other databases, as they spell them.
CREATE TABLE title_external_ids (
    title_id INTEGER NOT NULL REFERENCES titles(id),
    kind     TEXT NOT NULL CHECK (kind IN ('tmdb', 'imdb', 'tvdb')),
    value    TEXT NOT NULL,
    PRIMARY KEY (title_id, kind)
);
CREATE INDEX title_external_ids_value ON title_external_ids(kind, value);

-- Resized artwork: one row per title, kind (poster, backdrop, thumb) and
-- size (card, detail, backdrop, share, thumb). The file is
-- <data_dir>/artwork/<etag>.jpg; `source_hash` is the sha256 of the picture
-- it was made from (a re-import with the same picture resizes nothing);
-- `origin` is imported, generated or uploaded.
CREATE TABLE title_artwork (
    title_id    INTEGER NOT NULL REFERENCES titles(id),
    kind        TEXT NOT NULL CHECK (kind IN ('poster', 'backdrop', 'thumb')),
    size        TEXT NOT NULL CHECK (size IN ('card', 'detail', 'backdrop', 'share', 'thumb')),
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    etag        TEXT NOT NULL,
    source_hash TEXT NOT NULL,
    origin      TEXT NOT NULL CHECK (origin IN ('imported', 'generated', 'uploaded')),
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (title_id, kind, size)
);
CREATE INDEX title_artwork_etag ON title_artwork(etag);

-- Media files of a movie or episode, found by the library scan (relative to
-- the library folder it was imported from) or given by a feed (a URL).
CREATE TABLE media_sources (
    id         INTEGER PRIMARY KEY,
    title_id   INTEGER NOT NULL REFERENCES titles(id),
    location   TEXT NOT NULL,
    library    TEXT,
    size_bytes INTEGER,
    -- Sidecar subtitle files, '\n'-separated, relative like `location`.
    subtitles  TEXT NOT NULL DEFAULT '',
    added_at   INTEGER NOT NULL,
    UNIQUE (title_id, location)
);
