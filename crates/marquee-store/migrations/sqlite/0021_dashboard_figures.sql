-- The consultation dashboard's figures (#25), read without scanning a
-- proposal's every reaction or every customer.

-- The impact preview of a proposal groups every active viewer by
-- plan, tenure and price (`account_groups`): read from this index alone, not
-- from the accounts table's rows.
CREATE INDEX accounts_groups ON accounts(role, disabled, status, plan, price_cents, currency, created_at);

-- Reaction steps per hour (`hour` is the hour's first millisecond;
-- `previous` is '' for a first answer), kept by each reaction with its log
-- row: reactions over time are read from at most 24 rows a day per answer.
CREATE TABLE proposal_reaction_hours (
    proposal_id INTEGER NOT NULL REFERENCES proposals(id) ON DELETE CASCADE,
    hour        INTEGER NOT NULL,
    reaction    TEXT NOT NULL,
    previous    TEXT NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (proposal_id, hour, reaction, previous)
);
INSERT INTO proposal_reaction_hours(proposal_id, hour, reaction, previous, n)
SELECT proposal_id, (at / 3600000) * 3600000, reaction, COALESCE(previous, ''), COUNT(*)
FROM proposal_reaction_log
GROUP BY proposal_id, (at / 3600000) * 3600000, reaction, COALESCE(previous, '');
