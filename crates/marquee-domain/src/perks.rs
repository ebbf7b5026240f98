//! Surprise-and-delight perks: the rules engine, pure.
//!
//! A rule is a trigger (what happened), conditions on the customer's segment
//! (plan, tenure, viewing, sentiment of their linked posts), an effect (a
//! credit, a badge, a personal message or an early-access flag) and budget
//! caps (global, and per profile per period). Rules are parsed from JSON with
//! every problem reported against the path of the field at fault; a rule with
//! no budget is refused. Evaluation is a pure function of the rule, the
//! triggering event and the facts about the customer at the event's time;
//! budgets are checked against the usage the store reads inside the award's
//! transaction. [`dry_run`] replays a log of events through one rule with
//! budgets simulated from zero.

use crate::{Millis, Plan};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use utoipa::ToSchema;

/// One day in ms.
pub const DAY_MS: Millis = 86_400_000;

/// A rule that cannot be evaluated: the path of the field at fault and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RuleError {
    /// Path of the field, e.g. `conditions[1].value`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> RuleError {
    RuleError {
        field: field.into(),
        message: message.into(),
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// A profile played every episode of a series.
    SeriesFinished,
    /// An account's yearly anniversary.
    Anniversary,
    /// A bad support experience: CSAT at most 2, or an SLA breach.
    SupportRecovery,
    /// An idea the account authored was launched.
    IdeaLaunched,
    /// Someone signed up with the account's referral code.
    ReferralConverted,
    /// A custom event sent by staff or the API.
    Custom,
}

impl TriggerKind {
    /// Every kind.
    pub const ALL: [TriggerKind; 6] = [
        TriggerKind::SeriesFinished,
        TriggerKind::Anniversary,
        TriggerKind::SupportRecovery,
        TriggerKind::IdeaLaunched,
        TriggerKind::ReferralConverted,
        TriggerKind::Custom,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::SeriesFinished => "series_finished",
            TriggerKind::Anniversary => "anniversary",
            TriggerKind::SupportRecovery => "support_recovery",
            TriggerKind::IdeaLaunched => "idea_launched",
            TriggerKind::ReferralConverted => "referral_converted",
            TriggerKind::Custom => "custom",
        }
    }
}

impl FromStr for TriggerKind {
    type Err = RuleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TriggerKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                err(
                    "trigger.kind",
                    format!(
                        "unknown trigger {s:?}: use {}",
                        TriggerKind::ALL.map(|k| k.as_str()).join(", ")
                    ),
                )
            })
    }
}

/// The trigger of a rule, with its optional narrowing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Trigger {
    /// What happened.
    pub kind: TriggerKind,
    /// For `custom`: the event name (required).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// For `series_finished`: only this series.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series_id: Option<i64>,
    /// For `anniversary`: only this anniversary (1 = first year).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub years: Option<i64>,
}

/// A segment field a condition tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// The account's plan (text: basic, standard, premium).
    Plan,
    /// Days since the account was created, at the event (number).
    TenureDays,
    /// Titles the profile finished before the event, optionally in one genre (number).
    TitlesFinished,
    /// Mean sentiment score (-1..1) of the account's linked posts in the 90
    /// days before the event (number; false when there are none).
    Sentiment,
}

impl Field {
    const ALL: [Field; 4] = [
        Field::Plan,
        Field::TenureDays,
        Field::TitlesFinished,
        Field::Sentiment,
    ];
    fn as_str(self) -> &'static str {
        match self {
            Field::Plan => "plan",
            Field::TenureDays => "tenure_days",
            Field::TitlesFinished => "titles_finished",
            Field::Sentiment => "sentiment",
        }
    }
    fn numeric(self) -> bool {
        !matches!(self, Field::Plan)
    }
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Greater than.
    Gt,
    /// Greater or equal.
    Gte,
    /// Less than.
    Lt,
    /// Less or equal.
    Lte,
    /// One of a list (text fields).
    In,
}

impl Op {
    const ALL: [Op; 7] = [Op::Eq, Op::Ne, Op::Gt, Op::Gte, Op::Lt, Op::Lte, Op::In];
    fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::In => "in",
        }
    }
}

/// One segment condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Condition {
    /// The field.
    pub field: Field,
    /// The comparison.
    pub op: Op,
    /// A number, a text or a list of texts, as the field and op need.
    #[schema(value_type = Object)]
    pub value: Value,
    /// For `titles_finished`: count only titles of this genre.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genre: Option<String>,
}

/// What a rule gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EffectKind {
    /// Account credit.
    Credit,
    /// A badge on the profile.
    Badge,
    /// A personal message.
    Message,
    /// Early access to a feature.
    EarlyAccess,
}

impl EffectKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EffectKind::Credit => "credit",
            EffectKind::Badge => "badge",
            EffectKind::Message => "message",
            EffectKind::EarlyAccess => "early_access",
        }
    }
}

impl FromStr for EffectKind {
    type Err = RuleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "credit" => Ok(EffectKind::Credit),
            "badge" => Ok(EffectKind::Badge),
            "message" => Ok(EffectKind::Message),
            "early_access" => Ok(EffectKind::EarlyAccess),
            other => Err(err(
                "effect.kind",
                format!("unknown effect {other:?}: use credit, badge, message or early_access"),
            )),
        }
    }
}

/// The effect of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Effect {
    /// Kind.
    pub kind: EffectKind,
    /// For `credit`: the amount in cents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount_cents: Option<i64>,
    /// For `badge`: its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub badge: Option<String>,
    /// For `early_access`: the feature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature: Option<String>,
    /// The personal message shown at the reveal (required for `message`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What one award costs the business in cents, for budgets; a credit
    /// costs its amount unless set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_cents: Option<i64>,
}

impl Effect {
    /// What one award costs, cents.
    pub fn cost(&self) -> i64 {
        self.cost_cents
            .or(if self.kind == EffectKind::Credit {
                self.amount_cents
            } else {
                None
            })
            .unwrap_or(0)
    }

    /// A one-line description, e.g. "$5.00 credit".
    pub fn describe(&self) -> String {
        match self.kind {
            EffectKind::Credit => format!("{} credit", money(self.amount_cents.unwrap_or(0))),
            EffectKind::Badge => format!("the “{}” badge", self.badge.as_deref().unwrap_or("")),
            EffectKind::Message => "a personal message".into(),
            EffectKind::EarlyAccess => format!(
                "early access to {}",
                self.feature.as_deref().unwrap_or("a new feature")
            ),
        }
    }
}

/// Cents as dollars: `$5.00`.
pub fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.unsigned_abs();
    format!("{sign}${}.{:02}", c / 100, c % 100)
}

/// The global cap of a rule (at least one of the two).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GlobalBudget {
    /// Total cost of every award of the rule, cents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_cents: Option<i64>,
    /// Total number of awards of the rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_awards: Option<i64>,
}

/// The per-profile cap of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProfileBudget {
    /// Awards one profile may get from the rule within a period.
    pub max_awards: i64,
    /// The period, days.
    pub period_days: i64,
}

/// Budget caps: both are required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Budget {
    /// Global cap.
    pub global: GlobalBudget,
    /// Per profile per period.
    pub per_profile: ProfileBudget,
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RuleSpec {
    /// Display name.
    pub name: String,
    /// Disabled rules are kept but never evaluated.
    pub enabled: bool,
    /// What happened.
    pub trigger: Trigger,
    /// All must hold.
    pub conditions: Vec<Condition>,
    /// What is given.
    pub effect: Effect,
    /// Caps.
    pub budget: Budget,
}

// ---------- parsing ----------

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, RuleError> {
    v.as_object().ok_or_else(|| {
        err(
            path,
            format!("type mismatch: expected an object, got {}", type_name(v)),
        )
    })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn only_keys(o: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<(), RuleError> {
    for k in o.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(err(
                join(path, k),
                format!("unknown field {k:?}: expected {}", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

fn opt_str(
    o: &Map<String, Value>,
    path: &str,
    key: &str,
    max: usize,
) -> Result<Option<String>, RuleError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                return Err(err(join(path, key), "must not be empty"));
            }
            if s.chars().count() > max {
                return Err(err(
                    join(path, key),
                    format!("must be at most {max} characters"),
                ));
            }
            if s.chars().any(char::is_control) {
                return Err(err(join(path, key), "must not contain control characters"));
            }
            Ok(Some(s.to_string()))
        }
        Some(v) => Err(err(
            join(path, key),
            format!("type mismatch: expected a text, got {}", type_name(v)),
        )),
    }
}

fn opt_int(
    o: &Map<String, Value>,
    path: &str,
    key: &str,
    min: i64,
    max: i64,
) -> Result<Option<i64>, RuleError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let i = n
                .as_i64()
                .ok_or_else(|| err(join(path, key), "type mismatch: expected a whole number"))?;
            if i < min || i > max {
                return Err(err(join(path, key), format!("must be {min} to {max}")));
            }
            Ok(Some(i))
        }
        Some(v) => Err(err(
            join(path, key),
            format!("type mismatch: expected a number, got {}", type_name(v)),
        )),
    }
}

fn required<T>(v: Option<T>, path: &str, key: &str) -> Result<T, RuleError> {
    v.ok_or_else(|| err(join(path, key), "is required"))
}

/// Parses and validates a rule. Every problem names the field at fault:
/// an unknown field, a type mismatch, a missing budget.
pub fn parse_rule(v: &Value) -> Result<RuleSpec, RuleError> {
    let o = object(v, "body")?;
    only_keys(
        o,
        "",
        &[
            "name",
            "enabled",
            "trigger",
            "conditions",
            "effect",
            "budget",
        ],
    )?;
    let name = required(opt_str(o, "", "name", 80)?, "", "name")?;
    let enabled = match o.get("enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(v) => {
            return Err(err(
                "enabled",
                format!("type mismatch: expected a boolean, got {}", type_name(v)),
            ))
        }
    };
    let trigger = parse_trigger(
        o.get("trigger")
            .ok_or_else(|| err("trigger", "is required"))?,
    )?;
    let conditions = match o.get("conditions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            if items.len() > 20 {
                return Err(err("conditions", "at most 20 conditions"));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, c)| parse_condition(c, &format!("conditions[{i}]")))
                .collect::<Result<_, _>>()?
        }
        Some(v) => {
            return Err(err(
                "conditions",
                format!("type mismatch: expected a list, got {}", type_name(v)),
            ))
        }
    };
    let effect = parse_effect(
        o.get("effect")
            .ok_or_else(|| err("effect", "is required"))?,
    )?;
    let budget = match o.get("budget") {
        None | Some(Value::Null) => {
            return Err(err(
                "budget",
                "no budget set: a rule needs budget.global (max_cents or max_awards) and budget.per_profile (max_awards, period_days)",
            ))
        }
        Some(b) => parse_budget(b)?,
    };
    Ok(RuleSpec {
        name,
        enabled,
        trigger,
        conditions,
        effect,
        budget,
    })
}

fn parse_trigger(v: &Value) -> Result<Trigger, RuleError> {
    let o = object(v, "trigger")?;
    only_keys(o, "trigger", &["kind", "name", "series_id", "years"])?;
    let kind: TriggerKind =
        required(opt_str(o, "trigger", "kind", 40)?, "trigger", "kind")?.parse()?;
    let name = opt_str(o, "trigger", "name", 60)?;
    let series_id = opt_int(o, "trigger", "series_id", 1, i64::MAX)?;
    let years = opt_int(o, "trigger", "years", 1, 100)?;
    if kind == TriggerKind::Custom && name.is_none() {
        return Err(err("trigger.name", "a custom trigger needs the event name"));
    }
    if name.is_some() && kind != TriggerKind::Custom {
        return Err(err("trigger.name", "only a custom trigger takes a name"));
    }
    if series_id.is_some() && kind != TriggerKind::SeriesFinished {
        return Err(err(
            "trigger.series_id",
            "only series_finished takes a series_id",
        ));
    }
    if years.is_some() && kind != TriggerKind::Anniversary {
        return Err(err("trigger.years", "only anniversary takes years"));
    }
    Ok(Trigger {
        kind,
        name,
        series_id,
        years,
    })
}

fn parse_condition(v: &Value, path: &str) -> Result<Condition, RuleError> {
    let o = object(v, path)?;
    only_keys(o, path, &["field", "op", "value", "genre"])?;
    let fname = required(opt_str(o, path, "field", 40)?, path, "field")?;
    let field = Field::ALL
        .into_iter()
        .find(|f| f.as_str() == fname)
        .ok_or_else(|| {
            err(
                join(path, "field"),
                format!(
                    "unknown field {fname:?}: use {}",
                    Field::ALL.map(|f| f.as_str()).join(", ")
                ),
            )
        })?;
    let oname = required(opt_str(o, path, "op", 10)?, path, "op")?;
    let op = Op::ALL
        .into_iter()
        .find(|x| x.as_str() == oname)
        .ok_or_else(|| {
            err(
                join(path, "op"),
                format!(
                    "unknown op {oname:?}: use {}",
                    Op::ALL.map(|x| x.as_str()).join(", ")
                ),
            )
        })?;
    let genre = opt_str(o, path, "genre", 60)?;
    if genre.is_some() && field != Field::TitlesFinished {
        return Err(err(
            join(path, "genre"),
            "only titles_finished takes a genre",
        ));
    }
    let value = o
        .get("value")
        .filter(|v| !v.is_null())
        .ok_or_else(|| err(join(path, "value"), "is required"))?
        .clone();
    let vpath = join(path, "value");
    if field.numeric() {
        if op == Op::In {
            return Err(err(
                join(path, "op"),
                format!(
                    "{} is a number: use eq, ne, gt, gte, lt or lte",
                    field.as_str()
                ),
            ));
        }
        let n = value.as_f64().ok_or_else(|| {
            err(
                &vpath,
                format!(
                    "type mismatch: {} takes a number, got {}",
                    field.as_str(),
                    type_name(&value)
                ),
            )
        })?;
        if field == Field::Sentiment && !(-1.0..=1.0).contains(&n) {
            return Err(err(&vpath, "sentiment is between -1 and 1"));
        }
        if field != Field::Sentiment && n < 0.0 {
            return Err(err(&vpath, "must not be negative"));
        }
    } else {
        if !matches!(op, Op::Eq | Op::Ne | Op::In) {
            return Err(err(
                join(path, "op"),
                format!("{} is a text: use eq, ne or in", field.as_str()),
            ));
        }
        let texts: Vec<&Value> = match (&value, op) {
            (Value::Array(items), Op::In) => items.iter().collect(),
            (Value::String(_), Op::Eq | Op::Ne) => vec![&value],
            (v, Op::In) => {
                return Err(err(
                    &vpath,
                    format!(
                        "type mismatch: in takes a list of texts, got {}",
                        type_name(v)
                    ),
                ))
            }
            (v, _) => {
                return Err(err(
                    &vpath,
                    format!(
                        "type mismatch: {} takes a text, got {}",
                        field.as_str(),
                        type_name(v)
                    ),
                ))
            }
        };
        if texts.is_empty() {
            return Err(err(&vpath, "must list at least one plan"));
        }
        for t in texts {
            let s = t.as_str().ok_or_else(|| {
                err(
                    &vpath,
                    format!("type mismatch: expected texts, got {}", type_name(t)),
                )
            })?;
            Plan::from_str(s).map_err(|_| {
                err(
                    &vpath,
                    format!("unknown plan {s:?}: use basic, standard or premium"),
                )
            })?;
        }
    }
    Ok(Condition {
        field,
        op,
        value,
        genre,
    })
}

fn parse_effect(v: &Value) -> Result<Effect, RuleError> {
    let o = object(v, "effect")?;
    only_keys(
        o,
        "effect",
        &[
            "kind",
            "amount_cents",
            "badge",
            "feature",
            "message",
            "cost_cents",
        ],
    )?;
    let kind: EffectKind =
        required(opt_str(o, "effect", "kind", 20)?, "effect", "kind")?.parse()?;
    let amount_cents = opt_int(o, "effect", "amount_cents", 1, 1_000_000)?;
    let badge = opt_str(o, "effect", "badge", 40)?;
    let feature = opt_str(o, "effect", "feature", 60)?;
    let message = opt_str(o, "effect", "message", 500)?;
    let cost_cents = opt_int(o, "effect", "cost_cents", 0, 1_000_000)?;
    match kind {
        EffectKind::Credit => {
            required(amount_cents, "effect", "amount_cents")?;
        }
        EffectKind::Badge => {
            required(badge.as_ref(), "effect", "badge")?;
        }
        EffectKind::Message => {
            required(message.as_ref(), "effect", "message")?;
        }
        EffectKind::EarlyAccess => {
            required(feature.as_ref(), "effect", "feature")?;
        }
    }
    if amount_cents.is_some() && kind != EffectKind::Credit {
        return Err(err(
            "effect.amount_cents",
            "only a credit takes amount_cents",
        ));
    }
    if badge.is_some() && kind != EffectKind::Badge {
        return Err(err("effect.badge", "only a badge effect takes badge"));
    }
    if feature.is_some() && kind != EffectKind::EarlyAccess {
        return Err(err("effect.feature", "only early_access takes feature"));
    }
    Ok(Effect {
        kind,
        amount_cents,
        badge,
        feature,
        message,
        cost_cents,
    })
}

fn parse_budget(v: &Value) -> Result<Budget, RuleError> {
    let o = object(v, "budget")?;
    only_keys(o, "budget", &["global", "per_profile"])?;
    let g = o.get("global").filter(|v| !v.is_null()).ok_or_else(|| {
        err(
            "budget.global",
            "no global budget set: give max_cents or max_awards",
        )
    })?;
    let go = object(g, "budget.global")?;
    only_keys(go, "budget.global", &["max_cents", "max_awards"])?;
    let global = GlobalBudget {
        max_cents: opt_int(go, "budget.global", "max_cents", 0, i64::MAX / 4)?,
        max_awards: opt_int(go, "budget.global", "max_awards", 0, i64::MAX / 4)?,
    };
    if global.max_cents.is_none() && global.max_awards.is_none() {
        return Err(err(
            "budget.global",
            "no global budget set: give max_cents or max_awards",
        ));
    }
    let p = o
        .get("per_profile")
        .filter(|v| !v.is_null())
        .ok_or_else(|| {
            err(
                "budget.per_profile",
                "no per-profile budget set: give max_awards and period_days",
            )
        })?;
    let po = object(p, "budget.per_profile")?;
    only_keys(po, "budget.per_profile", &["max_awards", "period_days"])?;
    let per_profile = ProfileBudget {
        max_awards: required(
            opt_int(po, "budget.per_profile", "max_awards", 1, 1000)?,
            "budget.per_profile",
            "max_awards",
        )?,
        period_days: required(
            opt_int(po, "budget.per_profile", "period_days", 1, 3660)?,
            "budget.per_profile",
            "period_days",
        )?,
    };
    Ok(Budget {
        global,
        per_profile,
    })
}

// ---------- evaluation ----------

/// One occurrence of a trigger in the perks event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TriggerEvent {
    /// Id in the log.
    pub id: i64,
    /// What happened.
    pub kind: TriggerKind,
    /// Whose account.
    pub account_id: i64,
    /// Which profile (account-wide events use the account's first profile).
    pub profile_id: i64,
    /// The idempotency key, e.g. `series_finished:12:3401`.
    pub key: String,
    /// When it happened, ms.
    pub occurred_at: Millis,
    /// For `custom`: the event name.
    pub name: Option<String>,
    /// For `series_finished`: the series.
    pub series_id: Option<i64>,
    /// For `anniversary`: which year.
    pub years: Option<i64>,
    /// For `idea_launched`: the idea; for `referral_converted`: the new account.
    pub subject_id: Option<i64>,
}

/// What is known about the customer at the event's time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Facts {
    /// The account's plan.
    pub plan: Option<Plan>,
    /// When the account was created, ms.
    pub account_created_at: Millis,
    /// Titles the profile finished before the event.
    pub titles_finished: i64,
    /// The same, per genre asked for by the rule.
    pub genre_finished: HashMap<String, i64>,
    /// Mean sentiment of linked posts, when there are any.
    pub sentiment: Option<f64>,
}

/// The genres a rule's conditions ask about (for the facts loader).
pub fn genres_needed(rule: &RuleSpec) -> Vec<String> {
    let mut g: Vec<String> = rule
        .conditions
        .iter()
        .filter_map(|c| c.genre.clone())
        .collect();
    g.sort();
    g.dedup();
    g
}

/// Whether the rule's trigger matches the event.
pub fn trigger_matches(rule: &RuleSpec, ev: &TriggerEvent) -> bool {
    let t = &rule.trigger;
    t.kind == ev.kind
        && t.name.as_ref().is_none_or(|n| Some(n) == ev.name.as_ref())
        && t.series_id.is_none_or(|s| Some(s) == ev.series_id)
        && t.years.is_none_or(|y| Some(y) == ev.years)
}

fn cmp_num(op: Op, a: f64, b: f64) -> bool {
    match op {
        Op::Eq => (a - b).abs() < 1e-9,
        Op::Ne => (a - b).abs() >= 1e-9,
        Op::Gt => a > b,
        Op::Gte => a >= b,
        Op::Lt => a < b,
        Op::Lte => a <= b,
        Op::In => false,
    }
}

/// Whether one condition holds.
pub fn condition_holds(c: &Condition, ev: &TriggerEvent, f: &Facts) -> bool {
    match c.field {
        Field::Plan => {
            let Some(plan) = f.plan else { return false };
            let p = plan.as_str();
            match (c.op, &c.value) {
                (Op::Eq, Value::String(s)) => s == p,
                (Op::Ne, Value::String(s)) => s != p,
                (Op::In, Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(p)),
                _ => false,
            }
        }
        Field::TenureDays => {
            let days = (ev.occurred_at - f.account_created_at).max(0) / DAY_MS;
            c.value
                .as_f64()
                .is_some_and(|v| cmp_num(c.op, days as f64, v))
        }
        Field::TitlesFinished => {
            let n = match &c.genre {
                Some(g) => f.genre_finished.get(g).copied().unwrap_or(0),
                None => f.titles_finished,
            };
            c.value.as_f64().is_some_and(|v| cmp_num(c.op, n as f64, v))
        }
        Field::Sentiment => match (f.sentiment, c.value.as_f64()) {
            (Some(s), Some(v)) => cmp_num(c.op, s, v),
            _ => false,
        },
    }
}

/// Whether the rule is enabled, its trigger matches and every condition holds.
pub fn eligible(rule: &RuleSpec, ev: &TriggerEvent, f: &Facts) -> bool {
    rule.enabled
        && trigger_matches(rule, ev)
        && rule.conditions.iter().all(|c| condition_holds(c, ev, f))
}

/// What a rule has used so far, read inside the award's transaction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Cost of every award of the rule, cents.
    pub global_cents: i64,
    /// Awards of the rule.
    pub global_awards: i64,
    /// Awards of the rule to this profile within the period before the event.
    pub profile_awards: i64,
}

/// The budget's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BudgetVerdict {
    /// Within every cap.
    Ok,
    /// The global cap would be exceeded.
    GlobalExhausted,
    /// The profile reached its cap for the period.
    ProfileCap,
}

impl BudgetVerdict {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetVerdict::Ok => "ok",
            BudgetVerdict::GlobalExhausted => "global_budget_exhausted",
            BudgetVerdict::ProfileCap => "profile_cap_reached",
        }
    }
}

/// Checks one more award of `cost` cents against the caps.
pub fn check_budget(b: &Budget, cost: i64, u: &Usage) -> BudgetVerdict {
    if b.global
        .max_cents
        .is_some_and(|m| u.global_cents + cost > m)
        || b.global.max_awards.is_some_and(|m| u.global_awards + 1 > m)
    {
        return BudgetVerdict::GlobalExhausted;
    }
    if u.profile_awards >= b.per_profile.max_awards {
        return BudgetVerdict::ProfileCap;
    }
    BudgetVerdict::Ok
}

/// The per-profile window before an event: awards at or after this count.
pub fn period_start(b: &Budget, at: Millis) -> Millis {
    at - b.per_profile.period_days * DAY_MS
}

/// What is left of a rule's caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remaining {
    /// Cents left under the global cap; `None`: no cap on cents.
    pub cents: Option<i64>,
    /// Awards left under the global cap; `None`: no cap on awards.
    pub awards: Option<i64>,
    /// Awards left to the profile within the period.
    pub profile_awards: i64,
}

impl Budget {
    /// What the caps leave after `u` (never below zero).
    pub fn remaining(&self, u: &Usage) -> Remaining {
        Remaining {
            cents: self.global.max_cents.map(|m| (m - u.global_cents).max(0)),
            awards: self.global.max_awards.map(|m| (m - u.global_awards).max(0)),
            profile_awards: (self.per_profile.max_awards - u.profile_awards).max(0),
        }
    }
}

/// The rows one award writes, when the budget allows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwardPlan {
    /// What the award costs the business, cents (the audit and the spend).
    pub cost_cents: i64,
    /// What it gives: a credit's amount, zero for every other effect.
    pub amount_cents: i64,
    /// One line, e.g. "$5.00 credit".
    pub headline: String,
    /// The caps left once this award is made.
    pub remaining: Remaining,
}

/// Whether one more award of a rule fits its budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwardDecision {
    /// Within every cap: write the award.
    Award(AwardPlan),
    /// Over a cap: write nothing but the audit line.
    Refuse {
        /// Which cap (its `as_str` is the audit action).
        verdict: BudgetVerdict,
        /// The audit detail: what was used.
        detail: String,
    },
}

/// Decides one award of `rule` given what the rule has used so far
/// (read by the store inside the award's transaction): what it costs and
/// gives, or which cap refuses it.
pub fn decide_award(rule: &RuleSpec, u: &Usage) -> AwardDecision {
    let cost = rule.effect.cost();
    match check_budget(&rule.budget, cost, u) {
        BudgetVerdict::Ok => AwardDecision::Award(AwardPlan {
            cost_cents: cost,
            amount_cents: if rule.effect.kind == EffectKind::Credit {
                rule.effect.amount_cents.unwrap_or(0)
            } else {
                0
            },
            headline: rule.effect.describe(),
            remaining: rule.budget.remaining(&Usage {
                global_cents: u.global_cents + cost,
                global_awards: u.global_awards + 1,
                profile_awards: u.profile_awards + 1,
            }),
        }),
        verdict => AwardDecision::Refuse {
            verdict,
            detail: format!(
                "{}: {} used of the global cap, {} awards to this profile in {} days",
                rule.name,
                money(u.global_cents),
                u.profile_awards,
                rule.budget.per_profile.period_days
            ),
        },
    }
}

/// One award a dry run would make.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DryAward {
    /// The event.
    pub event_id: i64,
    /// The account.
    pub account_id: i64,
    /// The profile.
    pub profile_id: i64,
    /// When.
    pub occurred_at: Millis,
    /// Cost, cents.
    pub cost_cents: i64,
}

/// "Who would this rule reward, and at what cost".
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DryRun {
    /// Events in the window.
    pub events: i64,
    /// Events the trigger and conditions accept.
    pub eligible: i64,
    /// The awards, oldest first.
    pub awards: Vec<DryAward>,
    /// Distinct profiles rewarded.
    pub profiles: i64,
    /// Total cost, cents.
    pub total_cents: i64,
    /// Eligible events refused by the global cap.
    pub skipped_global: i64,
    /// Eligible events refused by the per-profile cap.
    pub skipped_profile: i64,
}

// ---------- in words ----------

impl TriggerKind {
    /// What happened, for people: "A profile finishes a series".
    pub fn label(self) -> &'static str {
        match self {
            TriggerKind::SeriesFinished => "A profile finishes a series",
            TriggerKind::Anniversary => "An account's yearly anniversary",
            TriggerKind::SupportRecovery => {
                "A bad support experience (rated 1–2 or a missed reply time)"
            }
            TriggerKind::IdeaLaunched => "An idea the customer posted is launched",
            TriggerKind::ReferralConverted => "Someone signs up with the customer's referral code",
            TriggerKind::Custom => "A custom event sent by staff or the API",
        }
    }
}

impl Field {
    /// Every field, for the rule builder.
    pub const EVERY: [Field; 4] = Field::ALL;
    /// The stored name.
    pub fn name(self) -> &'static str {
        self.as_str()
    }
    /// For people: "Days since sign-up".
    pub fn label(self) -> &'static str {
        match self {
            Field::Plan => "Plan",
            Field::TenureDays => "Days since sign-up",
            Field::TitlesFinished => "Titles finished",
            Field::Sentiment => "Mood of their posts (−1 to 1)",
        }
    }
}

impl Op {
    /// Every comparison, for the rule builder.
    pub const EVERY: [Op; 7] = Op::ALL;
    /// The stored name.
    pub fn name(self) -> &'static str {
        self.as_str()
    }
    /// For people: "at least".
    pub fn label(self) -> &'static str {
        match self {
            Op::Eq => "is",
            Op::Ne => "is not",
            Op::Gt => "more than",
            Op::Gte => "at least",
            Op::Lt => "less than",
            Op::Lte => "at most",
            Op::In => "is one of",
        }
    }
}

impl EffectKind {
    /// Every effect, for the rule builder.
    pub const EVERY: [EffectKind; 4] = [
        EffectKind::Credit,
        EffectKind::Badge,
        EffectKind::Message,
        EffectKind::EarlyAccess,
    ];
    /// For people: "Account credit".
    pub fn label(self) -> &'static str {
        match self {
            EffectKind::Credit => "Account credit",
            EffectKind::Badge => "A badge on the profile",
            EffectKind::Message => "A personal message",
            EffectKind::EarlyAccess => "Early access to a feature",
        }
    }
}

fn value_words(v: &Value) -> String {
    match v {
        Value::String(s) => format!("“{s}”"),
        Value::Array(items) => items
            .iter()
            .map(value_words)
            .collect::<Vec<_>>()
            .join(" or "),
        other => other.to_string(),
    }
}

impl RuleSpec {
    /// The whole rule as a sentence a community manager reads back:
    /// "When a profile finishes a series, if days since sign-up is at least
    /// 30, give $3.00 credit. At most 1 per profile every 30 days; the rule
    /// stops after $500.00 in all."
    pub fn in_words(&self) -> String {
        let t = &self.trigger;
        let mut when = t.kind.label().to_lowercase();
        if let (TriggerKind::Custom, Some(name)) = (t.kind, &t.name) {
            when = format!("the custom event “{name}” arrives");
        }
        if let Some(id) = t.series_id {
            when.push_str(&format!(" (series #{id} only)"));
        }
        if let Some(y) = t.years {
            when.push_str(&format!(
                " ({y} year{} only)",
                if y == 1 { "" } else { "s" }
            ));
        }
        let ifs = self
            .conditions
            .iter()
            .map(|c| {
                let genre = c
                    .genre
                    .as_deref()
                    .map(|g| format!(" in {g}"))
                    .unwrap_or_default();
                format!(
                    "{}{genre} {} {}",
                    c.field.label().to_lowercase(),
                    c.op.label(),
                    value_words(&c.value)
                )
            })
            .collect::<Vec<_>>();
        let mut out = format!("When {when}");
        if !ifs.is_empty() {
            out.push_str(&format!(", if {}", ifs.join(" and ")));
        }
        out.push_str(&format!(", give {}.", self.effect.describe()));
        let p = &self.budget.per_profile;
        out.push_str(&format!(
            " At most {} per profile every {} day{}",
            p.max_awards,
            p.period_days,
            if p.period_days == 1 { "" } else { "s" }
        ));
        let g = &self.budget.global;
        match (g.max_cents, g.max_awards) {
            (Some(c), Some(n)) => out.push_str(&format!(
                "; the rule stops after {} or {n} perks in all.",
                money(c)
            )),
            (Some(c), None) => {
                out.push_str(&format!("; the rule stops after {} in all.", money(c)))
            }
            (None, Some(n)) => out.push_str(&format!("; the rule stops after {n} perks in all.")),
            (None, None) => out.push('.'),
        }
        if !self.enabled {
            out.push_str(" Paused.");
        }
        out
    }
}

/// Replays events (oldest first) through one rule, with budgets simulated
/// from zero (the rule as if it had been live over the window).
pub fn dry_run(rule: &RuleSpec, events: &[(TriggerEvent, Facts)]) -> DryRun {
    let cost = rule.effect.cost();
    let mut used = Usage::default();
    let mut per_profile: BTreeMap<i64, Vec<Millis>> = BTreeMap::new();
    let mut out = DryRun {
        events: events.len() as i64,
        eligible: 0,
        awards: Vec::new(),
        profiles: 0,
        total_cents: 0,
        skipped_global: 0,
        skipped_profile: 0,
    };
    // A rule being tried out is evaluated as if enabled.
    let mut live = rule.clone();
    live.enabled = true;
    for (ev, facts) in events {
        if !eligible(&live, ev, facts) {
            continue;
        }
        out.eligible += 1;
        let since = period_start(&rule.budget, ev.occurred_at);
        let times = per_profile.entry(ev.profile_id).or_default();
        used.profile_awards = times.iter().filter(|t| **t > since).count() as i64;
        match check_budget(&rule.budget, cost, &used) {
            BudgetVerdict::Ok => {
                used.global_cents += cost;
                used.global_awards += 1;
                times.push(ev.occurred_at);
                out.awards.push(DryAward {
                    event_id: ev.id,
                    account_id: ev.account_id,
                    profile_id: ev.profile_id,
                    occurred_at: ev.occurred_at,
                    cost_cents: cost,
                });
            }
            BudgetVerdict::GlobalExhausted => out.skipped_global += 1,
            BudgetVerdict::ProfileCap => out.skipped_profile += 1,
        }
    }
    out.total_cents = used.global_cents;
    out.profiles = per_profile.values().filter(|v| !v.is_empty()).count() as i64;
    out
}

// ---------- anniversaries ----------

/// (year, month, day) of a day number since 1970-01-01 (proleptic Gregorian).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The day number of a (year, month, day).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// The `n`th anniversary of `created_at` (UTC calendar; 29 February falls on
/// 28 February in common years), ms.
pub fn anniversary_at(created_at: Millis, n: i64) -> Millis {
    let day = created_at.div_euclid(DAY_MS);
    let within = created_at.rem_euclid(DAY_MS);
    let (y, m, d) = civil_from_days(day);
    let ty = y + n;
    let d = if m == 2 && d == 29 && !is_leap(ty) {
        28
    } else {
        d
    };
    days_from_civil(ty, m, d) * DAY_MS + within
}

/// The latest whole anniversary reached by `now` (0: none yet).
pub fn anniversaries_reached(created_at: Millis, now: Millis) -> i64 {
    if now <= created_at {
        return 0;
    }
    let (y0, _, _) = civil_from_days(created_at.div_euclid(DAY_MS));
    let (y1, _, _) = civil_from_days(now.div_euclid(DAY_MS));
    let mut n = (y1 - y0).max(0);
    while n > 0 && anniversary_at(created_at, n) > now {
        n -= 1;
    }
    n
}

/// The mailbox behind an address, for the self-referral guard: lower case,
/// `+tag` dropped, and dots ignored for Gmail.
pub fn canonical_email(email: &str) -> String {
    let e = email.trim().to_lowercase();
    let Some((local, domain)) = e.rsplit_once('@') else {
        return e;
    };
    let local = local.split('+').next().unwrap_or(local);
    let domain = if domain == "googlemail.com" {
        "gmail.com"
    } else {
        domain
    };
    let local = if domain == "gmail.com" {
        local.replace('.', "")
    } else {
        local.to_string()
    };
    format!("{local}@{domain}")
}

#[cfg(test)]
mod words_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_rule_reads_as_one_sentence() {
        let r = parse_rule(&json!({
            "name": "Finished a series",
            "trigger": {"kind": "series_finished"},
            "conditions": [
                {"field": "tenure_days", "op": "gte", "value": 30},
                {"field": "plan", "op": "in", "value": ["standard", "premium"]},
                {"field": "titles_finished", "op": "gt", "value": 2, "genre": "Drama"}
            ],
            "effect": {"kind": "credit", "amount_cents": 300},
            "budget": {"global": {"max_cents": 50000}, "per_profile": {"max_awards": 1, "period_days": 30}}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            r.in_words(),
            "When a profile finishes a series, if days since sign-up at least 30 and plan is one of \
             “standard” or “premium” and titles finished in Drama more than 2, give $3.00 credit. \
             At most 1 per profile every 30 days; the rule stops after $500.00 in all."
        );
        let c = parse_rule(&json!({
            "name": "Welcome",
            "trigger": {"kind": "custom", "name": "welcome"},
            "effect": {"kind": "badge", "badge": "Pioneer"},
            "budget": {"global": {"max_awards": 10}, "per_profile": {"max_awards": 1, "period_days": 1}}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.in_words(),
            "When the custom event “welcome” arrives, give the “Pioneer” badge. At most 1 per \
             profile every 1 day; the rule stops after 10 perks in all."
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule() -> Value {
        json!({
            "name": "Finishers",
            "trigger": {"kind": "series_finished"},
            "conditions": [{"field": "tenure_days", "op": "gte", "value": 30}],
            "effect": {"kind": "credit", "amount_cents": 500, "message": "Enjoy!"},
            "budget": {"global": {"max_cents": 1000}, "per_profile": {"max_awards": 1, "period_days": 30}}
        })
    }

    fn ev(id: i64, profile: i64, at: Millis) -> TriggerEvent {
        TriggerEvent {
            id,
            kind: TriggerKind::SeriesFinished,
            account_id: profile,
            profile_id: profile,
            key: format!("k{id}"),
            occurred_at: at,
            name: None,
            series_id: Some(9),
            years: None,
            subject_id: None,
        }
    }

    fn facts() -> Facts {
        Facts {
            plan: Some(Plan::Standard),
            account_created_at: 0,
            ..Default::default()
        }
    }

    #[test]
    fn parses_a_good_rule() {
        let r = parse_rule(&rule()).unwrap();
        assert_eq!(r.effect.cost(), 500);
        assert_eq!(r.budget.per_profile.period_days, 30);
        assert!(r.enabled);
    }

    #[test]
    fn rejects_with_the_field() {
        let mut v = rule();
        v["conditions"][0]["field"] = json!("favourite_colour");
        assert_eq!(parse_rule(&v).unwrap_err().field, "conditions[0].field");
        let mut v = rule();
        v["conditions"][0]["value"] = json!("thirty");
        let e = parse_rule(&v).unwrap_err();
        assert_eq!(e.field, "conditions[0].value");
        assert!(e.message.contains("type mismatch"), "{e}");
        let mut v = rule();
        v.as_object_mut().unwrap().remove("budget");
        let e = parse_rule(&v).unwrap_err();
        assert_eq!(e.field, "budget");
        assert!(e.message.contains("no budget"));
        let mut v = rule();
        v["budget"]["per_profile"] = Value::Null;
        assert_eq!(parse_rule(&v).unwrap_err().field, "budget.per_profile");
        let mut v = rule();
        v["effect"]["colour"] = json!("red");
        assert_eq!(parse_rule(&v).unwrap_err().field, "effect.colour");
        let mut v = rule();
        v["conditions"][0] = json!({"field": "plan", "op": "in", "value": ["gold"]});
        assert_eq!(parse_rule(&v).unwrap_err().field, "conditions[0].value");
        let mut v = rule();
        v["trigger"] = json!({"kind": "custom"});
        assert_eq!(parse_rule(&v).unwrap_err().field, "trigger.name");
        let mut v = rule();
        v["effect"]["amount_cents"] = json!("5");
        assert_eq!(parse_rule(&v).unwrap_err().field, "effect.amount_cents");
    }

    #[test]
    fn conditions_use_facts_at_the_event() {
        let r = parse_rule(&rule()).unwrap();
        assert!(!eligible(&r, &ev(1, 1, 29 * DAY_MS), &facts()));
        assert!(eligible(&r, &ev(1, 1, 30 * DAY_MS), &facts()));
        let mut plan = rule();
        plan["conditions"] = json!([{"field": "plan", "op": "in", "value": ["premium", "standard"]},
                                    {"field": "sentiment", "op": "lte", "value": -0.2},
                                    {"field": "titles_finished", "genre": "Drama", "op": "gte", "value": 2}]);
        let r = parse_rule(&plan).unwrap();
        let mut f = facts();
        assert!(
            !eligible(&r, &ev(1, 1, DAY_MS), &f),
            "no posts: sentiment unknown"
        );
        f.sentiment = Some(-0.5);
        f.genre_finished.insert("Drama".into(), 2);
        assert!(eligible(&r, &ev(1, 1, DAY_MS), &f));
        f.plan = Some(Plan::Basic);
        assert!(!eligible(&r, &ev(1, 1, DAY_MS), &f));
    }

    #[test]
    fn budgets_and_dry_run() {
        let r = parse_rule(&rule()).unwrap();
        let d = 31 * DAY_MS;
        let log: Vec<(TriggerEvent, Facts)> = vec![
            (ev(1, 1, d), facts()),
            (ev(2, 1, d + DAY_MS), facts()), // profile cap (1 per 30 days)
            (ev(3, 2, d + 2 * DAY_MS), facts()), // second award: 1000 cents used
            (ev(4, 3, d + 3 * DAY_MS), facts()), // global cap
            (ev(5, 1, d + 31 * DAY_MS), facts()), // new period, but global cap
            (ev(6, 4, 10 * DAY_MS), facts()), // tenure too short
        ];
        let out = dry_run(&r, &log);
        assert_eq!(out.events, 6);
        assert_eq!(out.eligible, 5);
        assert_eq!(
            out.awards.iter().map(|a| a.event_id).collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert_eq!(out.total_cents, 1000);
        assert_eq!(out.profiles, 2);
        assert_eq!(out.skipped_profile, 1);
        assert_eq!(out.skipped_global, 2);
    }

    #[test]
    fn decide_award_costs_gives_and_leaves() {
        // A 500-cent credit under a 1000-cent cap, one per profile per 30 days.
        let r = parse_rule(&rule()).unwrap();
        let fresh = Usage::default();
        match decide_award(&r, &fresh) {
            AwardDecision::Award(p) => {
                assert_eq!((p.cost_cents, p.amount_cents), (500, 500));
                assert_eq!(p.headline, "$5.00 credit");
                assert_eq!(
                    p.remaining,
                    Remaining {
                        cents: Some(500),
                        awards: None,
                        profile_awards: 0
                    }
                );
            }
            other => panic!("expected an award, got {other:?}"),
        }
        // The last 500 cents still fit exactly.
        let used = Usage {
            global_cents: 500,
            global_awards: 1,
            profile_awards: 0,
        };
        assert!(matches!(
            decide_award(&r, &used),
            AwardDecision::Award(AwardPlan {
                remaining: Remaining { cents: Some(0), .. },
                ..
            })
        ));
        // One cent more does not.
        let over = Usage {
            global_cents: 501,
            ..used
        };
        assert_eq!(
            decide_award(&r, &over),
            AwardDecision::Refuse {
                verdict: BudgetVerdict::GlobalExhausted,
                detail:
                    "Finishers: $5.01 used of the global cap, 0 awards to this profile in 30 days"
                        .into()
            }
        );
        // The global cap is checked before the profile's.
        let both = Usage {
            profile_awards: 1,
            ..over
        };
        assert!(matches!(
            decide_award(&r, &both),
            AwardDecision::Refuse {
                verdict: BudgetVerdict::GlobalExhausted,
                ..
            }
        ));
        let profile = Usage {
            profile_awards: 1,
            ..fresh
        };
        assert!(matches!(
            decide_award(&r, &profile),
            AwardDecision::Refuse {
                verdict: BudgetVerdict::ProfileCap,
                ..
            }
        ));
    }

    #[test]
    fn decide_award_of_a_badge_gives_no_credit_and_counts_awards() {
        let mut v = rule();
        v["effect"] = json!({"kind": "badge", "badge": "Binger", "cost_cents": 20});
        v["budget"]["global"] = json!({"max_awards": 2});
        v["budget"]["per_profile"]["max_awards"] = json!(3);
        let r = parse_rule(&v).unwrap();
        let u = Usage {
            global_cents: 20,
            global_awards: 1,
            profile_awards: 1,
        };
        assert_eq!(
            decide_award(&r, &u),
            AwardDecision::Award(AwardPlan {
                cost_cents: 20,
                amount_cents: 0,
                headline: "the “Binger” badge".into(),
                remaining: Remaining {
                    cents: None,
                    awards: Some(0),
                    profile_awards: 1
                },
            })
        );
        let full = Usage {
            global_awards: 2,
            ..u
        };
        assert!(matches!(
            decide_award(&r, &full),
            AwardDecision::Refuse {
                verdict: BudgetVerdict::GlobalExhausted,
                ..
            }
        ));
        // What remains never goes below zero.
        assert_eq!(
            r.budget.remaining(&Usage {
                global_cents: 0,
                global_awards: 9,
                profile_awards: 9
            }),
            Remaining {
                cents: None,
                awards: Some(0),
                profile_awards: 0
            }
        );
    }

    #[test]
    fn anniversaries() {
        let created = days_from_civil(2020, 2, 29) * DAY_MS + 3_600_000;
        assert_eq!(civil_from_days(days_from_civil(2020, 2, 29)), (2020, 2, 29));
        let first = anniversary_at(created, 1);
        assert_eq!(civil_from_days(first / DAY_MS), (2021, 2, 28));
        assert_eq!(anniversaries_reached(created, first - 1), 0);
        assert_eq!(anniversaries_reached(created, first), 1);
        assert_eq!(
            anniversaries_reached(created, anniversary_at(created, 4)),
            4
        );
        assert_eq!(civil_from_days(0), (1970, 1, 1));
    }

    #[test]
    fn canonical_mailboxes() {
        assert_eq!(canonical_email("A.Lice+x@GMail.com"), "alice@gmail.com");
        assert_eq!(canonical_email("bob+2@example.com"), "bob@example.com");
        assert_ne!(
            canonical_email("b.ob@example.com"),
            canonical_email("bob@example.com")
        );
    }
}
