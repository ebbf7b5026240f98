-- Plans and an account's subscription life (#22 item 3).
--
-- A plan's price has a history: each row takes effect at `effective_from`
-- (a later row can be scheduled ahead). The plans themselves, and their
-- stream caps, are rules of the domain (`marquee_domain::plans`).
CREATE TABLE plan_prices (
    id             INTEGER PRIMARY KEY,
    plan           TEXT NOT NULL CHECK (plan IN ('basic', 'standard', 'premium')),
    amount_cents   INTEGER NOT NULL CHECK (amount_cents >= 0),
    currency       TEXT NOT NULL,
    effective_from INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    created_by     INTEGER REFERENCES accounts(id) ON DELETE SET NULL
);
CREATE INDEX plan_prices_plan ON plan_prices(plan, effective_from);
INSERT INTO plan_prices(plan, amount_cents, currency, effective_from, created_at) VALUES
    ('basic', 699, 'USD', 0, 0),
    ('standard', 1549, 'USD', 0, 0),
    ('premium', 2299, 'USD', 0, 0);

-- What the account pays (recorded, so that a price change can grandfather
-- it), whether it is subscribed, and whether staff disabled it.
ALTER TABLE accounts ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'paused', 'cancelled'));
ALTER TABLE accounts ADD COLUMN price_cents INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN currency TEXT NOT NULL DEFAULT 'USD';
ALTER TABLE accounts ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
UPDATE accounts SET price_cents = (SELECT p.amount_cents FROM plan_prices p WHERE p.plan = accounts.plan);

-- Every step of a subscription: sign-up, upgrade, downgrade, pause,
-- reactivation, cancellation with its reason. The account link is cleared
-- (and the free text erased) when the account is deleted, so the counts
-- over time stay and nothing personal does.
CREATE TABLE account_events (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('signed_up', 'upgraded', 'downgraded', 'paused', 'reactivated', 'cancelled')),
    plan         TEXT NOT NULL,
    from_plan    TEXT,
    amount_cents INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    reason       TEXT,
    detail       TEXT,
    actor_id     INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
    at           INTEGER NOT NULL
);
CREATE INDEX account_events_at ON account_events(at);
CREATE INDEX account_events_account ON account_events(account_id, at);
