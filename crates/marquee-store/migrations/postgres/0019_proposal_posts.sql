-- The social posts that match a proposal (#25), kept as they arrive so that
-- the consultation dashboard and the after-change view never search the
-- whole posts table: which posts match is decided by the proposal's text
-- match (`marquee_domain::textmatch`), in the service at ingest, and by the
-- full-text index once, when tracking starts or the match changes.

-- Each matching post, with what the dashboard filters and orders by.
CREATE TABLE proposal_posts (
    proposal_id BIGINT NOT NULL REFERENCES proposals(id) ON DELETE CASCADE DEFERRABLE,
    post_id     BIGINT NOT NULL REFERENCES posts(id) ON DELETE CASCADE DEFERRABLE,
    created_at  BIGINT NOT NULL,
    sentiment   TEXT NOT NULL,
    PRIMARY KEY (proposal_id, post_id)
);
CREATE INDEX proposal_posts_newest ON proposal_posts(proposal_id, sentiment, created_at);
CREATE INDEX proposal_posts_post ON proposal_posts(post_id);

-- Matching posts per UTC day (`day` is the day's first millisecond).
CREATE TABLE proposal_post_days (
    proposal_id BIGINT NOT NULL REFERENCES proposals(id) ON DELETE CASCADE DEFERRABLE,
    day         BIGINT NOT NULL,
    total       BIGINT NOT NULL,
    negative    BIGINT NOT NULL,
    positive    BIGINT NOT NULL,
    score_sum   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (proposal_id, day)
);

-- Which text match the two tables above were filled for (FTS5 rendering
-- of it), so a changed match is filled again and an unchanged one is not.
CREATE TABLE proposal_post_tracking (
    proposal_id BIGINT PRIMARY KEY REFERENCES proposals(id) ON DELETE CASCADE DEFERRABLE,
    query       TEXT NOT NULL,
    posts       BIGINT NOT NULL,
    tracked_at  BIGINT NOT NULL
);

-- The dashboard's reaction figures read from indexes alone: reactions over
-- time (superseding the log's (proposal_id, at) index) and "would stay" by
-- plan and tenure.
DROP INDEX proposal_reaction_log_at;
CREATE INDEX proposal_reaction_log_steps ON proposal_reaction_log(proposal_id, at, reaction, previous);
CREATE INDEX proposal_reactions_stay ON proposal_reactions(proposal_id, plan, tenure_band, would_stay, reaction);
