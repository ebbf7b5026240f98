//! "Listen before you change": proposals of a price or product change put in
//! front of the customers they affect before they ship.
//!
//! A [`Proposal`] names who it affects (a [`Segment`]: plans, tenure,
//! current price), what it changes (for a price change a [`PriceChange`]
//! with its [`Grandfathering`]) and moves through [`Status`] by
//! [`transition`]: drafted, put out for consultation, then shipped, sent
//! back for revision or withdrawn, and finally announced. Customers answer
//! with a [`Reaction`] and whether they would stay ([`WouldStay`]).
//! [`impact`] previews who is hit and what it does to revenue; [`recovery`]
//! measures how long trust takes to come back after the announcement.

use crate::plans::{CancelReason, Price};
use crate::textmatch::{self, TextMatch};
use crate::{DomainError, Millis, Plan};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A day, ms.
pub const DAY_MS: Millis = 86_400_000;
/// The longest title, in characters.
pub const MAX_TITLE: usize = 120;
/// The longest explanation or announcement, in characters.
pub const MAX_BODY: usize = 10_000;
/// The longest comment, in characters.
pub const MAX_COMMENT: usize = 2_000;
/// The longest notice period, days.
pub const MAX_NOTICE_DAYS: u32 = 365;

/// What kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A plan's price goes up or down.
    Price,
    /// Plans are added, merged or change what they include.
    Plan,
    /// A product change: a split, a rebrand, a feature removed.
    Product,
    /// Anything else.
    Other,
}

impl ChangeKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Price => "price",
            ChangeKind::Plan => "plan",
            ChangeKind::Product => "product",
            ChangeKind::Other => "other",
        }
    }

    /// As people read it.
    pub fn label(self) -> &'static str {
        match self {
            ChangeKind::Price => "Price change",
            ChangeKind::Plan => "Plan change",
            ChangeKind::Product => "Product change",
            ChangeKind::Other => "Other change",
        }
    }
}

impl std::str::FromStr for ChangeKind {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "price" => Ok(ChangeKind::Price),
            "plan" => Ok(ChangeKind::Plan),
            "product" => Ok(ChangeKind::Product),
            "other" => Ok(ChangeKind::Other),
            _ => Err(DomainError::invalid(
                "kind",
                "must be price, plan, product or other",
            )),
        }
    }
}

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Being written; only staff see it.
    Draft,
    /// Published to its segment, which can react and comment.
    Consulting,
    /// Decided to go ahead.
    Shipped,
    /// Decided not to.
    Withdrawn,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Consulting => "consulting",
            Status::Shipped => "shipped",
            Status::Withdrawn => "withdrawn",
        }
    }

    /// As people read it.
    pub fn label(self) -> &'static str {
        match self {
            Status::Draft => "Draft",
            Status::Consulting => "In consultation",
            Status::Shipped => "Going ahead",
            Status::Withdrawn => "Withdrawn",
        }
    }
}

impl std::str::FromStr for Status {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "draft" => Ok(Status::Draft),
            "consulting" => Ok(Status::Consulting),
            "shipped" => Ok(Status::Shipped),
            "withdrawn" => Ok(Status::Withdrawn),
            _ => Err(DomainError::invalid(
                "status",
                "must be draft, consulting, shipped or withdrawn",
            )),
        }
    }
}

/// What staff decide after a consultation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[schema(as = ChangeDecision)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Go ahead as proposed.
    Ship,
    /// Take it back to a draft, to change and consult again.
    Revise,
    /// Do not make the change.
    Withdraw,
}

impl Decision {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Ship => "ship",
            Decision::Revise => "revise",
            Decision::Withdraw => "withdraw",
        }
    }

    /// What the decision's "We heard you" entry starts with.
    pub fn headline(self) -> &'static str {
        match self {
            Decision::Ship => "Going ahead",
            Decision::Revise => "Revising",
            Decision::Withdraw => "Withdrawn",
        }
    }
}

impl std::str::FromStr for Decision {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ship" => Ok(Decision::Ship),
            "revise" => Ok(Decision::Revise),
            "withdraw" => Ok(Decision::Withdraw),
            _ => Err(DomainError::invalid(
                "decision",
                "must be ship, revise or withdraw",
            )),
        }
    }
}

/// A step of a proposal's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Edit the draft.
    Edit,
    /// Put it out for consultation.
    Publish,
    /// Decide.
    Decide(Decision),
    /// Schedule its announcement.
    Announce,
    /// A customer reacts or comments.
    Answer,
}

/// The status after `action`, or why it is not allowed now. Edits and
/// publication need a draft; customers' answers and the decision need a
/// consultation; only a decided change (shipped or withdrawn) is announced,
/// once.
pub fn transition(status: Status, announced: bool, action: Action) -> Result<Status, DomainError> {
    // A step the proposal's state does not allow is a conflict (409), not
    // bad input.
    let refuse = |msg: &str| {
        Err(DomainError::Limit {
            field: "status",
            message: msg.to_string(),
        })
    };
    match (status, action) {
        (Status::Draft, Action::Edit) => Ok(Status::Draft),
        (_, Action::Edit) => refuse("only a draft can be edited; revise it first"),
        (Status::Draft, Action::Publish) => Ok(Status::Consulting),
        (_, Action::Publish) => refuse("only a draft can be published"),
        (Status::Consulting, Action::Decide(d)) => Ok(match d {
            Decision::Ship => Status::Shipped,
            Decision::Revise => Status::Draft,
            Decision::Withdraw => Status::Withdrawn,
        }),
        (_, Action::Decide(_)) => refuse("only a proposal in consultation can be decided"),
        (Status::Shipped | Status::Withdrawn, Action::Announce) if !announced => Ok(status),
        (Status::Shipped | Status::Withdrawn, Action::Announce) => {
            refuse("this change was already announced")
        }
        (_, Action::Announce) => {
            refuse("decide first: only a shipped or withdrawn change is announced")
        }
        (Status::Consulting, Action::Answer) => Ok(status),
        (_, Action::Answer) => refuse("this proposal is not open for consultation"),
    }
}

/// How far back a tenure band reaches, in days, with its label: the bands
/// "would stay" is broken down by.
pub const TENURE_BANDS: [(u32, &str); 4] = [
    (0, "under 6 months"),
    (183, "6–12 months"),
    (365, "1–3 years"),
    (1095, "3 years or more"),
];

/// The band of a tenure of `days` days.
pub fn tenure_band(days: i64) -> &'static str {
    TENURE_BANDS
        .iter()
        .rev()
        .find(|(from, _)| days >= i64::from(*from))
        .map_or(TENURE_BANDS[0].1, |(_, label)| label)
}

/// Days an account created at `created_at` has been a customer at `now`.
pub fn tenure_days(created_at: Millis, now: Millis) -> i64 {
    ((now - created_at) / DAY_MS).max(0)
}

/// Who a change affects. Empty plan list = every plan; each bound is
/// optional and inclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// Plans affected (none listed: all).
    #[serde(default)]
    pub plans: Vec<Plan>,
    /// At least this many days a customer.
    #[serde(default)]
    pub min_tenure_days: Option<u32>,
    /// At most this many days a customer.
    #[serde(default)]
    pub max_tenure_days: Option<u32>,
    /// Paying at least this much now (minor units).
    #[serde(default)]
    pub min_price_cents: Option<i64>,
    /// Paying at most this much now (minor units).
    #[serde(default)]
    pub max_price_cents: Option<i64>,
}

/// A segment as plain bounds on stored columns, for a query to filter by:
/// the rule stays [`Segment::includes`]; this is the same rule in the shape
/// of comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentBounds {
    /// Plans (empty: all).
    pub plans: Vec<Plan>,
    /// Account created at or before (ms).
    pub created_at_most: Millis,
    /// Account created at or after (ms).
    pub created_at_least: Millis,
    /// Price at least.
    pub min_price_cents: i64,
    /// Price at most.
    pub max_price_cents: i64,
}

impl Segment {
    /// A checked segment: bounds in order, tenures within ten years.
    pub fn check(self) -> Result<Segment, DomainError> {
        let mut s = self;
        s.plans.sort_by_key(|p| p.as_str());
        s.plans.dedup();
        if let (Some(a), Some(b)) = (s.min_tenure_days, s.max_tenure_days) {
            if a > b {
                return Err(DomainError::invalid(
                    "segment.max_tenure_days",
                    "must not be below min_tenure_days",
                ));
            }
        }
        for (field, v) in [
            ("segment.min_tenure_days", s.min_tenure_days),
            ("segment.max_tenure_days", s.max_tenure_days),
        ] {
            if v.is_some_and(|d| d > 3660) {
                return Err(DomainError::invalid(field, "must be at most 3660 days"));
            }
        }
        for (field, v) in [
            ("segment.min_price_cents", s.min_price_cents),
            ("segment.max_price_cents", s.max_price_cents),
        ] {
            if v.is_some_and(|c| !(0..=crate::plans::MAX_PRICE_CENTS).contains(&c)) {
                return Err(DomainError::invalid(
                    field,
                    format!("must be between 0 and {}", crate::plans::MAX_PRICE_CENTS),
                ));
            }
        }
        if let (Some(a), Some(b)) = (s.min_price_cents, s.max_price_cents) {
            if a > b {
                return Err(DomainError::invalid(
                    "segment.max_price_cents",
                    "must not be below min_price_cents",
                ));
            }
        }
        Ok(s)
    }

    /// Whether a customer on `plan`, a customer since `created_at`, paying
    /// `price_cents`, is in the segment at `now`.
    pub fn includes(&self, plan: Plan, created_at: Millis, price_cents: i64, now: Millis) -> bool {
        let days = tenure_days(created_at, now);
        (self.plans.is_empty() || self.plans.contains(&plan))
            && self.min_tenure_days.is_none_or(|d| days >= i64::from(d))
            && self.max_tenure_days.is_none_or(|d| days <= i64::from(d))
            && self.min_price_cents.is_none_or(|c| price_cents >= c)
            && self.max_price_cents.is_none_or(|c| price_cents <= c)
    }

    /// The same rule as comparisons on `accounts.created_at` and
    /// `accounts.price_cents` at `now`. A tenure of at least `d` days means
    /// created at least `d` whole days before `now`.
    pub fn bounds(&self, now: Millis) -> SegmentBounds {
        SegmentBounds {
            plans: self.plans.clone(),
            created_at_most: self
                .min_tenure_days
                .map_or(Millis::MAX, |d| now - i64::from(d) * DAY_MS),
            created_at_least: self
                .max_tenure_days
                .map_or(Millis::MIN, |d| now - (i64::from(d) + 1) * DAY_MS + 1),
            min_price_cents: self.min_price_cents.unwrap_or(0),
            max_price_cents: self.max_price_cents.unwrap_or(i64::MAX),
        }
    }

    /// In words, for pages: "Basic and Standard customers of at least 3 years".
    pub fn describe(&self) -> String {
        let plans = if self.plans.is_empty() {
            "All customers".to_string()
        } else {
            let names: Vec<&str> = self.plans.iter().map(|p| p.label()).collect();
            format!("{} customers", join_and(&names))
        };
        let mut parts = vec![plans];
        match (self.min_tenure_days, self.max_tenure_days) {
            (Some(a), Some(b)) => parts.push(format!("with us {a} to {b} days")),
            (Some(a), None) => parts.push(format!("with us at least {a} days")),
            (None, Some(b)) => parts.push(format!("with us at most {b} days")),
            (None, None) => {}
        }
        match (self.min_price_cents, self.max_price_cents) {
            (Some(a), Some(b)) => parts.push(format!("paying {} to {}", cents(a), cents(b))),
            (Some(a), None) => parts.push(format!("paying at least {}", cents(a))),
            (None, Some(b)) => parts.push(format!("paying at most {}", cents(b))),
            (None, None) => {}
        }
        parts.join(", ")
    }
}

fn cents(c: i64) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

fn join_and(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Who keeps the old price of a price change, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum Grandfathering {
    /// Only new customers pay the new price; existing ones keep theirs.
    NewCustomersOnly,
    /// Existing customers move to the new price `notice_days` after the
    /// change's planned date.
    AfterNotice {
        /// Days of notice.
        notice_days: u32,
    },
}

impl Grandfathering {
    /// The stored mode (the `mode` tag of its JSON form).
    pub fn mode(self) -> &'static str {
        match self {
            Grandfathering::NewCustomersOnly => "new_customers_only",
            Grandfathering::AfterNotice { .. } => "after_notice",
        }
    }

    /// From its stored mode and notice (`None` for an unknown mode, or
    /// "after notice" without its days).
    pub fn from_stored(mode: &str, notice_days: Option<u32>) -> Option<Grandfathering> {
        match (mode, notice_days) {
            ("new_customers_only", _) => Some(Grandfathering::NewCustomersOnly),
            ("after_notice", Some(notice_days)) => {
                Some(Grandfathering::AfterNotice { notice_days })
            }
            _ => None,
        }
    }

    /// The notice period, days (none: existing customers never move).
    pub fn notice_days(self) -> Option<u32> {
        match self {
            Grandfathering::NewCustomersOnly => None,
            Grandfathering::AfterNotice { notice_days } => Some(notice_days),
        }
    }
}

/// A plan's new price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceChange {
    /// The plan.
    pub plan: Plan,
    /// The new price.
    pub price: Price,
    /// Who keeps the old price.
    pub grandfathering: Grandfathering,
}

impl PriceChange {
    /// When existing customers move to the new price (`None`: never), for
    /// a change planned at `planned_at`.
    pub fn existing_move_at(&self, planned_at: Millis) -> Option<Millis> {
        self.grandfathering
            .notice_days()
            .map(|d| planned_at + i64::from(d) * DAY_MS)
    }
}

/// Whether existing customers' prices may be moved at `now`: only once the
/// notice date has passed, and never under "new customers only".
pub fn may_move_existing(change: &PriceChange, planned_at: Millis, now: Millis) -> bool {
    change
        .existing_move_at(planned_at)
        .is_some_and(|at| now >= at)
}

/// Checks a proposal's parts together: a price change needs its price and
/// only a price change has one; the notice period is bounded.
pub fn check_price_change(
    kind: ChangeKind,
    price: Option<&PriceChange>,
) -> Result<(), DomainError> {
    match (kind, price) {
        (ChangeKind::Price, None) => Err(DomainError::invalid(
            "price",
            "a price change needs the plan, the new price and the grandfathering",
        )),
        (ChangeKind::Price, Some(p)) => {
            if let Grandfathering::AfterNotice { notice_days } = p.grandfathering {
                if !(1..=MAX_NOTICE_DAYS).contains(&notice_days) {
                    return Err(DomainError::invalid(
                        "price.grandfathering.notice_days",
                        format!("must be 1 to {MAX_NOTICE_DAYS} days"),
                    ));
                }
            }
            Price::new(p.price.amount_cents, &p.price.currency).map(|_| ())
        }
        (_, Some(_)) => Err(DomainError::invalid(
            "price",
            "only a price change carries a price",
        )),
        (_, None) => Ok(()),
    }
}

/// A customer's answer to a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reaction {
    /// In favour.
    Support,
    /// Not sure.
    Unsure,
    /// Against.
    Oppose,
}

/// Every reaction, in the order pages show them.
pub const REACTIONS: [Reaction; 3] = [Reaction::Support, Reaction::Unsure, Reaction::Oppose];

impl Reaction {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Reaction::Support => "support",
            Reaction::Unsure => "unsure",
            Reaction::Oppose => "oppose",
        }
    }

    /// As people read it.
    pub fn label(self) -> &'static str {
        match self {
            Reaction::Support => "I support this",
            Reaction::Unsure => "I'm not sure",
            Reaction::Oppose => "I oppose this",
        }
    }
}

impl std::str::FromStr for Reaction {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "support" => Ok(Reaction::Support),
            "unsure" => Ok(Reaction::Unsure),
            "oppose" => Ok(Reaction::Oppose),
            _ => Err(DomainError::invalid(
                "reaction",
                "must be support, unsure or oppose",
            )),
        }
    }
}

/// Whether a customer says they would stay if the change shipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WouldStay {
    /// They would stay.
    Yes,
    /// They might not.
    Unsure,
    /// They would leave.
    No,
}

impl WouldStay {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            WouldStay::Yes => "yes",
            WouldStay::Unsure => "unsure",
            WouldStay::No => "no",
        }
    }
}

impl std::str::FromStr for WouldStay {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "yes" => Ok(WouldStay::Yes),
            "unsure" => Ok(WouldStay::Unsure),
            "no" => Ok(WouldStay::No),
            _ => Err(DomainError::invalid(
                "would_stay",
                "must be yes, unsure or no",
            )),
        }
    }
}

/// What a proposal's texts are matched with: its keywords as tags, or two
/// words of its title, by the idea box's rule
/// ([`textmatch::about_idea`]).
pub fn matching(title: &str, keywords: &[String]) -> TextMatch {
    textmatch::about_idea(title, keywords).unwrap_or(TextMatch { groups: Vec::new() })
}

/// Whether a cancellation or downgrade points at the proposal: a price
/// change is pointed at by the reason "price"; any change by a comment
/// that matches its text.
pub fn points_at(
    kind: ChangeKind,
    m: &TextMatch,
    reason: Option<CancelReason>,
    detail: Option<&str>,
) -> bool {
    (kind == ChangeKind::Price && reason == Some(CancelReason::Price))
        || detail.is_some_and(|d| !m.groups.is_empty() && m.matches(d))
}

/// Accounts grouped by what a segment and a price change look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountGroup {
    /// Plan.
    pub plan: Plan,
    /// Days a customer.
    pub tenure_days: i64,
    /// What they pay now.
    pub price_cents: i64,
    /// Its currency.
    pub currency: String,
    /// Accounts.
    pub accounts: i64,
}

/// A line of the impact preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImpactRow {
    /// Plan.
    pub plan: Plan,
    /// Tenure band (see [`TENURE_BANDS`]).
    pub tenure: String,
    /// Affected accounts.
    pub accounts: i64,
}

/// Who a change hits and what it does to monthly revenue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Impact {
    /// Active accounts in the segment.
    pub accounts: i64,
    /// Of every active account.
    pub of_total: i64,
    /// By plan and tenure band.
    pub rows: Vec<ImpactRow>,
    /// Affected accounts whose price changes (price changes only).
    pub repriced: i64,
    /// Monthly revenue change once existing customers move, minor units
    /// (0 when only new customers pay the new price).
    pub monthly_delta_cents: i64,
    /// Currency of the delta.
    pub currency: String,
    /// When existing customers move (ms; none: never).
    pub existing_move_at: Option<Millis>,
}

/// The impact preview over active accounts `groups` at `now`.
pub fn impact(
    segment: &Segment,
    price: Option<&PriceChange>,
    planned_at: Millis,
    groups: &[AccountGroup],
    now: Millis,
) -> Impact {
    let mut rows: Vec<ImpactRow> = Vec::new();
    let (mut accounts, mut total, mut repriced, mut delta) = (0, 0, 0, 0);
    for g in groups {
        total += g.accounts;
        let created_at = now - g.tenure_days * DAY_MS;
        if !segment.includes(g.plan, created_at, g.price_cents, now) {
            continue;
        }
        accounts += g.accounts;
        let band = tenure_band(g.tenure_days);
        match rows
            .iter_mut()
            .find(|r| r.plan == g.plan && r.tenure == band)
        {
            Some(r) => r.accounts += g.accounts,
            None => rows.push(ImpactRow {
                plan: g.plan,
                tenure: band.to_string(),
                accounts: g.accounts,
            }),
        }
        if let Some(p) = price {
            if p.plan == g.plan
                && p.price.currency == g.currency
                && p.price.amount_cents != g.price_cents
            {
                repriced += g.accounts;
                if p.existing_move_at(planned_at).is_some() {
                    delta += (p.price.amount_cents - g.price_cents) * g.accounts;
                }
            }
        }
    }
    let band_rank = |t: &str| TENURE_BANDS.iter().position(|(_, l)| *l == t).unwrap_or(0);
    rows.sort_by_key(|r| (r.plan.as_str(), band_rank(&r.tenure)));
    Impact {
        accounts,
        of_total: total,
        rows,
        repriced,
        monthly_delta_cents: delta,
        currency: price.map_or_else(|| "USD".to_string(), |p| p.price.currency.clone()),
        existing_move_at: price.and_then(|p| p.existing_move_at(planned_at)),
    }
}

/// The apology a withdrawn or reversed change starts from (staff edit it).
pub fn apology_template(title: &str) -> String {
    format!(
        "We got this one wrong, and we are sorry.\n\n\
         We proposed \"{title}\" and asked you what you thought. Many of you told us, \
         clearly, that it would make Marquee worse for you. You were right, so we are not \
         making this change: nothing about your plan or your price changes.\n\n\
         Thank you to everyone who reacted, commented and wrote to support. We should have \
         asked earlier, and from now on we will ask before we change anything that \
         matters to you."
    )
}

/// One day of the after-change view.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct DayFigures {
    /// Start of the UTC day, ms.
    pub day: Millis,
    /// Matching posts.
    pub posts: i64,
    /// Of which negative.
    pub negative: i64,
    /// Cancellations that day (all reasons).
    pub cancellations: i64,
}

impl DayFigures {
    /// Negative share of the day's posts (0 with none).
    pub fn negative_share(&self) -> f64 {
        if self.posts > 0 {
            self.negative as f64 / self.posts as f64
        } else {
            0.0
        }
    }
}

/// How "back to normal" is judged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct RecoveryRule {
    /// Days before the announcement that make the baseline.
    pub baseline_days: u32,
    /// Negative share may exceed its baseline by at most this much
    /// (absolute, e.g. 0.05 = five points).
    pub share_margin: f64,
    /// Cancellations may exceed their daily baseline by at most this
    /// fraction (0.2 = 20 %).
    pub cancel_margin: f64,
    /// Consecutive days within both margins that count as recovered.
    pub hold_days: u32,
}

impl Default for RecoveryRule {
    fn default() -> Self {
        RecoveryRule {
            baseline_days: 14,
            share_margin: 0.05,
            cancel_margin: 0.2,
            hold_days: 3,
        }
    }
}

/// Trust recovery after an announcement.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Recovery {
    /// Negative share of matching posts before (baseline).
    pub baseline_negative_share: f64,
    /// Cancellations per day before (baseline).
    pub baseline_cancellations: f64,
    /// The worst day's negative share after.
    pub peak_negative_share: f64,
    /// The worst day's cancellations after.
    pub peak_cancellations: i64,
    /// Days from the announcement to the first day of a run of
    /// `hold_days` days back within the margins; `None`: not yet.
    pub days_to_recover: Option<u32>,
    /// The rule applied.
    pub rule: RecoveryRule,
}

/// Measures recovery over `days` (one entry per UTC day, ascending, gaps
/// allowed) around an announcement on day `announced_day` (a UTC midnight).
pub fn recovery(days: &[DayFigures], announced_day: Millis, rule: RecoveryRule) -> Recovery {
    let from = announced_day - i64::from(rule.baseline_days) * DAY_MS;
    let before: Vec<&DayFigures> = days
        .iter()
        .filter(|d| d.day >= from && d.day < announced_day)
        .collect();
    let (posts, neg) = before
        .iter()
        .fold((0, 0), |a, d| (a.0 + d.posts, a.1 + d.negative));
    let base_share = if posts > 0 {
        neg as f64 / posts as f64
    } else {
        0.0
    };
    let base_cancel = before.iter().map(|d| d.cancellations).sum::<i64>() as f64
        / f64::from(rule.baseline_days.max(1));
    let last = days.iter().map(|d| d.day).max().unwrap_or(announced_day);
    let mut peak_share: f64 = 0.0;
    let mut peak_cancel = 0;
    let mut run = 0u32;
    let mut recovered = None;
    let mut day = announced_day;
    let mut n = 0u32;
    while day <= last {
        let f = days
            .iter()
            .find(|d| d.day == day)
            .copied()
            .unwrap_or(DayFigures {
                day,
                posts: 0,
                negative: 0,
                cancellations: 0,
            });
        peak_share = peak_share.max(f.negative_share());
        peak_cancel = peak_cancel.max(f.cancellations);
        let ok = f.negative_share() <= base_share + rule.share_margin
            && f.cancellations as f64 <= base_cancel * (1.0 + rule.cancel_margin) + 1e-9;
        // A day within the margins only counts once the change has been felt.
        if ok
            && (peak_share > base_share + rule.share_margin
                || peak_cancel as f64 > base_cancel * (1.0 + rule.cancel_margin) + 1e-9)
        {
            run += 1;
            if run >= rule.hold_days.max(1) && recovered.is_none() {
                recovered = Some(n + 1 - run);
            }
        } else if !ok {
            run = 0;
            recovered = None;
        }
        day += DAY_MS;
        n += 1;
    }
    Recovery {
        baseline_negative_share: base_share,
        baseline_cancellations: base_cancel,
        peak_negative_share: peak_share,
        peak_cancellations: peak_cancel,
        days_to_recover: recovered,
        rule,
    }
}

/// An amount as people type it ("15.99", "$15", "15,99") in minor units.
pub fn parse_amount(field: &'static str, raw: &str) -> Result<i64, DomainError> {
    let t = raw
        .trim()
        .trim_start_matches(['$', '€', '£'])
        .replace(',', ".");
    let bad = || DomainError::invalid(field, "must be an amount like 15.99");
    let (whole, frac) = t.split_once('.').unwrap_or((t.as_str(), ""));
    if whole.is_empty()
        || frac.len() > 2
        || !whole
            .chars()
            .chain(frac.chars())
            .all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    whole
        .checked_mul(100)
        .and_then(|c| c.checked_add(frac))
        .filter(|c| *c <= crate::plans::MAX_PRICE_CENTS)
        .ok_or_else(bad)
}

/// A calendar day `YYYY-MM-DD` as the UTC midnight that starts it, ms.
pub fn parse_day(field: &'static str, raw: &str) -> Result<Millis, DomainError> {
    let bad = || DomainError::invalid(field, "must be a date like 2026-12-31");
    let mut parts = raw.trim().splitn(3, '-');
    let mut next = || -> Result<i64, DomainError> {
        parts
            .next()
            .and_then(|p| p.parse::<i64>().ok())
            .ok_or_else(bad)
    };
    let (y, m, d) = (next()?, next()?, next()?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if d > month_days[(m - 1) as usize] {
        return Err(bad());
    }
    // Days from 1970-01-01 (Howard Hinnant's days_from_civil).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Ok((era * 146_097 + doe - 719_468) * DAY_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_700_000_000_000;

    fn usd(c: i64) -> Price {
        Price::new(c, "USD").unwrap()
    }

    #[test]
    fn transitions_follow_the_life_of_a_proposal() {
        assert_eq!(
            transition(Status::Draft, false, Action::Publish).unwrap(),
            Status::Consulting
        );
        assert!(transition(Status::Consulting, false, Action::Edit).is_err());
        assert!(transition(Status::Consulting, false, Action::Publish).is_err());
        assert_eq!(
            transition(Status::Consulting, false, Action::Decide(Decision::Revise)).unwrap(),
            Status::Draft
        );
        assert_eq!(
            transition(
                Status::Consulting,
                false,
                Action::Decide(Decision::Withdraw)
            )
            .unwrap(),
            Status::Withdrawn
        );
        assert!(transition(Status::Draft, false, Action::Decide(Decision::Ship)).is_err());
        assert!(transition(Status::Consulting, false, Action::Announce).is_err());
        assert_eq!(
            transition(Status::Shipped, false, Action::Announce).unwrap(),
            Status::Shipped
        );
        assert_eq!(
            transition(Status::Consulting, false, Action::Answer).unwrap(),
            Status::Consulting
        );
        for closed in [Status::Draft, Status::Shipped, Status::Withdrawn] {
            assert!(
                transition(closed, false, Action::Answer).is_err(),
                "{closed:?}"
            );
        }
        for d in [Decision::Ship, Decision::Revise, Decision::Withdraw] {
            assert_eq!(d.as_str().parse::<Decision>().unwrap(), d);
        }
        for g in [
            Grandfathering::NewCustomersOnly,
            Grandfathering::AfterNotice { notice_days: 30 },
        ] {
            assert_eq!(
                Grandfathering::from_stored(g.mode(), g.notice_days()),
                Some(g)
            );
        }
        assert_eq!(Grandfathering::from_stored("after_notice", None), None);
        let e = transition(Status::Shipped, true, Action::Announce).unwrap_err();
        assert!(e.to_string().contains("already announced"), "{e}");
    }

    #[test]
    fn segment_rule_and_its_bounds_agree() {
        let s = Segment {
            plans: vec![Plan::Standard, Plan::Basic, Plan::Basic],
            min_tenure_days: Some(365),
            max_tenure_days: Some(730),
            min_price_cents: None,
            max_price_cents: Some(1549),
        }
        .check()
        .unwrap();
        assert_eq!(s.plans, vec![Plan::Basic, Plan::Standard]);
        let b = s.bounds(NOW);
        for days in [0i64, 364, 365, 500, 730, 731, 2000] {
            for ms_extra in [0, DAY_MS / 2, DAY_MS - 1] {
                let created = NOW - days * DAY_MS - ms_extra;
                for (plan, price) in [
                    (Plan::Basic, 999),
                    (Plan::Premium, 999),
                    (Plan::Standard, 1999),
                ] {
                    let by_rule = s.includes(plan, created, price, NOW);
                    let by_bounds = (b.plans.is_empty() || b.plans.contains(&plan))
                        && created <= b.created_at_most
                        && created >= b.created_at_least
                        && price >= b.min_price_cents
                        && price <= b.max_price_cents;
                    assert_eq!(
                        by_rule, by_bounds,
                        "days {days} +{ms_extra} {plan:?} {price}"
                    );
                }
            }
        }
        assert!(s.includes(Plan::Basic, NOW - 400 * DAY_MS, 999, NOW));
        assert!(!s.includes(Plan::Premium, NOW - 400 * DAY_MS, 999, NOW));
        assert_eq!(
            s.describe(),
            "Basic and Standard customers, with us 365 to 730 days, paying at most 15.49"
        );
        let bad = Segment {
            min_tenure_days: Some(10),
            max_tenure_days: Some(5),
            ..Segment::default()
        };
        assert_eq!(field(bad.check().unwrap_err()), "segment.max_tenure_days");
    }

    fn field(e: DomainError) -> &'static str {
        match e {
            DomainError::Invalid { field, .. } | DomainError::Limit { field, .. } => field,
        }
    }

    #[test]
    fn price_change_checks_and_notice() {
        let p = PriceChange {
            plan: Plan::Standard,
            price: usd(1599),
            grandfathering: Grandfathering::AfterNotice { notice_days: 30 },
        };
        assert!(check_price_change(ChangeKind::Price, Some(&p)).is_ok());
        assert_eq!(
            field(check_price_change(ChangeKind::Price, None).unwrap_err()),
            "price"
        );
        assert_eq!(
            field(check_price_change(ChangeKind::Product, Some(&p)).unwrap_err()),
            "price"
        );
        let zero = PriceChange {
            grandfathering: Grandfathering::AfterNotice { notice_days: 0 },
            ..p.clone()
        };
        assert_eq!(
            field(check_price_change(ChangeKind::Price, Some(&zero)).unwrap_err()),
            "price.grandfathering.notice_days"
        );
        let planned = NOW;
        assert!(!may_move_existing(&p, planned, planned + 29 * DAY_MS));
        assert!(!may_move_existing(&p, planned, planned + 30 * DAY_MS - 1));
        assert!(may_move_existing(&p, planned, planned + 30 * DAY_MS));
        let new_only = PriceChange {
            grandfathering: Grandfathering::NewCustomersOnly,
            ..p
        };
        assert!(!may_move_existing(
            &new_only,
            planned,
            planned + 10_000 * DAY_MS
        ));
    }

    #[test]
    fn impact_counts_the_segment_and_the_revenue_delta() {
        let g = |plan, tenure_days, price_cents, accounts| AccountGroup {
            plan,
            tenure_days,
            price_cents,
            currency: "USD".into(),
            accounts,
        };
        let groups = [
            g(Plan::Standard, 30, 1549, 10),
            g(Plan::Standard, 800, 999, 5),
            g(Plan::Standard, 800, 1549, 4),
            g(Plan::Basic, 800, 699, 7),
            g(Plan::Premium, 2000, 2299, 3),
        ];
        let seg = Segment {
            plans: vec![Plan::Standard],
            ..Segment::default()
        };
        let p = PriceChange {
            plan: Plan::Standard,
            price: usd(1599),
            grandfathering: Grandfathering::AfterNotice { notice_days: 30 },
        };
        let i = impact(&seg, Some(&p), NOW, &groups, NOW);
        assert_eq!((i.accounts, i.of_total, i.repriced), (19, 29, 19));
        assert_eq!(i.monthly_delta_cents, 10 * 50 + 5 * 600 + 4 * 50);
        assert_eq!(i.existing_move_at, Some(NOW + 30 * DAY_MS));
        assert_eq!(i.rows.len(), 2);
        assert_eq!(i.rows[0].tenure, "under 6 months");
        assert_eq!(i.rows[1].accounts, 9);
        let new_only = PriceChange {
            grandfathering: Grandfathering::NewCustomersOnly,
            ..p
        };
        let i = impact(&seg, Some(&new_only), NOW, &groups, NOW);
        assert_eq!((i.monthly_delta_cents, i.existing_move_at), (0, None));
        let everyone = impact(&Segment::default(), None, NOW, &groups, NOW);
        assert_eq!((everyone.accounts, everyone.repriced), (29, 0));
    }

    #[test]
    fn cancellations_point_at_a_change_by_reason_or_words() {
        let m = matching("Split DVD rental into Qwikster", &["qwikster".into()]);
        assert!(points_at(
            ChangeKind::Price,
            &m,
            Some(CancelReason::Price),
            None
        ));
        assert!(!points_at(
            ChangeKind::Product,
            &m,
            Some(CancelReason::Price),
            None
        ));
        assert!(points_at(
            ChangeKind::Product,
            &m,
            Some(CancelReason::Other),
            Some("Qwikster is silly")
        ));
        assert!(!points_at(
            ChangeKind::Product,
            &m,
            None,
            Some("too few films")
        ));
    }

    fn day(n: i64, posts: i64, negative: i64, cancellations: i64) -> DayFigures {
        DayFigures {
            day: n * DAY_MS,
            posts,
            negative,
            cancellations,
        }
    }

    #[test]
    fn recovery_counts_days_until_both_measures_hold_within_margin() {
        // 14 baseline days: 10 % negative, 2 cancellations a day.
        let mut days: Vec<DayFigures> = (86..100).map(|n| day(n, 100, 10, 2)).collect();
        // Announced on day 100: a spike, then back by day 106 (days 106-108 within).
        days.push(day(100, 200, 120, 9));
        days.push(day(101, 150, 80, 7));
        days.push(day(102, 120, 40, 5));
        days.push(day(103, 100, 20, 3));
        days.push(day(104, 100, 14, 2)); // share ok (0.14 <= 0.15), cancels ok (2 <= 2.4)
        days.push(day(105, 100, 30, 2)); // relapse
        days.push(day(106, 100, 12, 2));
        days.push(day(107, 100, 11, 1));
        days.push(day(108, 100, 10, 2));
        let r = recovery(&days, 100 * DAY_MS, RecoveryRule::default());
        assert!((r.baseline_negative_share - 0.10).abs() < 1e-9);
        assert!((r.baseline_cancellations - 2.0).abs() < 1e-9);
        assert!((r.peak_negative_share - 0.6).abs() < 1e-9);
        assert_eq!(r.peak_cancellations, 9);
        assert_eq!(r.days_to_recover, Some(6));
        // Not yet: the run is cut short.
        let r = recovery(
            &days[..days.len() - 1],
            100 * DAY_MS,
            RecoveryRule::default(),
        );
        assert_eq!(r.days_to_recover, None);
    }

    #[test]
    fn tenure_bands() {
        assert_eq!(tenure_band(0), "under 6 months");
        assert_eq!(tenure_band(200), "6–12 months");
        assert_eq!(tenure_band(1095), "3 years or more");
        assert_eq!(tenure_days(NOW - 3 * DAY_MS - 5, NOW), 3);
        assert!(apology_template("Qwikster").contains("\"Qwikster\""));
    }

    #[test]
    fn amounts_and_days_parse_as_typed() {
        assert_eq!(parse_amount("a", "15.99").unwrap(), 1599);
        assert_eq!(parse_amount("a", "$16").unwrap(), 1600);
        assert_eq!(parse_amount("a", "9,5").unwrap(), 950);
        for bad in ["", "abc", "1.234", "-3", "1e3", "99999999999"] {
            assert!(parse_amount("a", bad).is_err(), "{bad}");
        }
        assert_eq!(parse_day("d", "1970-01-01").unwrap(), 0);
        assert_eq!(parse_day("d", "2011-07-12").unwrap(), 1_310_428_800_000);
        assert_eq!(parse_day("d", "2024-02-29").unwrap(), 1_709_164_800_000);
        for bad in ["2023-02-29", "2011-13-01", "2011-7", "x", "2011-07-12-3"] {
            assert!(parse_day("d", bad).is_err(), "{bad}");
        }
    }
}
