-- "Listen before you change" (#25): a price or product change put in front
-- of the customers it affects before it ships. The rules (who is in the
-- segment, the life of a proposal, grandfathering, recovery) are
-- `marquee_domain::changes`; these tables hold what was said and decided.
CREATE TABLE proposals (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('price', 'plan', 'product', 'other')),
    title            TEXT NOT NULL,
    body             TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'draft'
                     CHECK (status IN ('draft', 'consulting', 'shipped', 'withdrawn')),
    -- The segment (`marquee_domain::changes::Segment`): plans as '|basic|premium|'
    -- ('' = every plan) and optional inclusive bounds.
    segment_plans    TEXT NOT NULL DEFAULT '',
    min_tenure_days  INTEGER,
    max_tenure_days  INTEGER,
    min_price_cents  INTEGER,
    max_price_cents  INTEGER,
    -- A price change: the plan, its new price and who keeps the old one.
    price_plan       TEXT CHECK (price_plan IN ('basic', 'standard', 'premium')),
    price_cents      INTEGER,
    price_currency   TEXT,
    grandfathering   TEXT CHECK (grandfathering IN ('new_customers_only', 'after_notice')),
    notice_days      INTEGER,
    -- Words (as tags) that posts, ideas and conversations about it contain.
    keywords         TEXT NOT NULL DEFAULT '',
    planned_at       INTEGER NOT NULL,
    published_at     INTEGER,
    decision         TEXT CHECK (decision IN ('ship', 'revise', 'withdraw')),
    decision_note    TEXT,
    decision_id      INTEGER REFERENCES decisions(id) ON DELETE SET NULL,
    decided_at       INTEGER,
    -- The announcement: scheduled, then sent once (`announced_at`).
    announce_title   TEXT,
    announce_body    TEXT,
    announce_at      INTEGER,
    announced_at     INTEGER,
    announced_to     INTEGER NOT NULL DEFAULT 0,
    -- When existing customers were moved to the new price (after notice).
    prices_moved_at  INTEGER,
    created_by       INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX proposals_status ON proposals(status, updated_at);
CREATE INDEX proposals_due ON proposals(announce_at) WHERE announced_at IS NULL;

-- A customer's current reaction, one per proposal (changing it replaces it),
-- with the plan and tenure band it was given under ("would stay" by segment).
CREATE TABLE proposal_reactions (
    proposal_id  INTEGER NOT NULL REFERENCES proposals(id) ON DELETE CASCADE,
    account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    reaction     TEXT NOT NULL CHECK (reaction IN ('support', 'unsure', 'oppose')),
    would_stay   TEXT CHECK (would_stay IN ('yes', 'unsure', 'no')),
    plan         TEXT NOT NULL,
    tenure_band  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (proposal_id, account_id)
);
CREATE INDEX proposal_reactions_account ON proposal_reactions(account_id);

-- Every reaction given or changed, without the account: reactions over time
-- (a change counts +1 for the new answer and -1 for the previous one).
CREATE TABLE proposal_reaction_log (
    id          INTEGER PRIMARY KEY,
    proposal_id INTEGER NOT NULL REFERENCES proposals(id) ON DELETE CASCADE,
    reaction    TEXT NOT NULL,
    previous    TEXT,
    at          INTEGER NOT NULL
);
CREATE INDEX proposal_reaction_log_at ON proposal_reaction_log(proposal_id, at);

-- Customers' comments, sentiment-scored like social posts.
CREATE TABLE proposal_comments (
    id          INTEGER PRIMARY KEY,
    proposal_id INTEGER NOT NULL REFERENCES proposals(id) ON DELETE CASCADE,
    author_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    body        TEXT NOT NULL,
    sentiment   TEXT NOT NULL CHECK (sentiment IN ('negative', 'neutral', 'positive')),
    score       REAL NOT NULL,
    hidden      INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);
CREATE INDEX proposal_comments_proposal ON proposal_comments(proposal_id, created_at);
CREATE INDEX proposal_comments_author ON proposal_comments(author_id, created_at);
