//! A/B experiments: definitions, validation and deterministic assignment.
//!
//! A profile's variant is `sha256("{experiment id}:{profile id}")` (first 8 bytes)
//! modulo the total weight: stable across requests, restarts and servers, and
//! independent between experiments.

use crate::error::AppError;
use marquee_recs::experiment::{parse_request, Request};
use marquee_store::home::ExperimentRecord;
use marquee_store::Store;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

/// The row keys a row-order variant may list.
pub const ROW_KEYS: &[&str] = &[
    "continue_watching",
    "top_picks",
    "top10",
    "because",
    "trending",
    "new_arrivals",
    "genres",
];

/// One arm of an experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Unique within the experiment, e.g. `control`.
    pub name: String,
    /// Share of profiles, relative to the other variants (default 1).
    #[serde(default = "one")]
    pub weight: u32,
    /// For `top_picks_model`: the model serving Top Picks (a fixed specification,
    /// e.g. `ease:lambda=400:top=500` or `als:factors=64:reg=1:alpha=3:iters=15`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// For `row_order`: the row keys in page order (rows not listed follow in the
    /// default order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<String>>,
}

fn one() -> u32 {
    1
}

/// What an experiment varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The model behind Top Picks (e.g. EASE vs ALS).
    TopPicksModel,
    /// The order of the rows.
    RowOrder,
}

impl Target {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::TopPicksModel => "top_picks_model",
            Target::RowOrder => "row_order",
        }
    }
}

/// A stored experiment.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Experiment {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// What it varies.
    pub target: Target,
    /// Its variants.
    pub variants: Vec<Variant>,
    /// Profiles are being assigned.
    pub running: bool,
    /// Created, ms.
    pub created_at: i64,
    /// Stopped, ms.
    pub stopped_at: Option<i64>,
}

impl Experiment {
    /// From the stored row.
    pub fn from_record(r: ExperimentRecord) -> Option<Experiment> {
        let target = match r.target.as_str() {
            "top_picks_model" => Target::TopPicksModel,
            "row_order" => Target::RowOrder,
            _ => return None,
        };
        let variants: Vec<Variant> = serde_json::from_str(&r.variants_json).ok()?;
        Some(Experiment {
            id: r.id,
            name: r.name,
            target,
            variants,
            running: r.running,
            created_at: r.created_at,
            stopped_at: r.stopped_at,
        })
    }

    /// The model specifications its variants need served.
    pub fn model_specs(&self) -> Vec<String> {
        self.variants
            .iter()
            .filter_map(|v| v.model.clone())
            .collect()
    }

    /// The variant a profile is in.
    pub fn assign(&self, profile_id: i64) -> &Variant {
        let i = assign(self.id, profile_id, &self.variants);
        &self.variants[i.min(self.variants.len().saturating_sub(1))]
    }
}

/// Index of the variant of `profile_id` in experiment `experiment_id`.
pub fn assign(experiment_id: i64, profile_id: i64, variants: &[Variant]) -> usize {
    let total: u64 = variants.iter().map(|v| u64::from(v.weight)).sum();
    if total == 0 {
        return 0;
    }
    let h = Sha256::digest(format!("{experiment_id}:{profile_id}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[..8]);
    let mut x = u64::from_le_bytes(b) % total;
    for (i, v) in variants.iter().enumerate() {
        let w = u64::from(v.weight);
        if x < w {
            return i;
        }
        x -= w;
    }
    0
}

/// Validates a new experiment's variants (the field named in errors is `variants`).
pub fn validate(target: Target, variants: &[Variant]) -> Result<(), AppError> {
    if !(2..=5).contains(&variants.len()) {
        return Err(AppError::invalid("variants", "give 2 to 5 variants"));
    }
    for (i, v) in variants.iter().enumerate() {
        let f = |s: &str| format!("variants[{i}].{s}");
        let name = v.name.trim();
        if name.is_empty() || name.len() > 40 {
            return Err(AppError::invalid(f("name"), "1 to 40 characters"));
        }
        if variants[..i].iter().any(|o| o.name.trim() == name) {
            return Err(AppError::invalid(f("name"), "variant names must differ"));
        }
        if !(1..=100).contains(&v.weight) {
            return Err(AppError::invalid(f("weight"), "1 to 100"));
        }
        match target {
            Target::TopPicksModel => {
                let m = v
                    .model
                    .as_deref()
                    .ok_or_else(|| AppError::invalid(f("model"), "each variant names a model"))?;
                match parse_request(m) {
                    Ok(Request::Fixed(_)) => {}
                    Ok(Request::Tuned(..)) => {
                        return Err(AppError::invalid(
                            f("model"),
                            "give fixed parameters, e.g. ease:lambda=400:top=500",
                        ))
                    }
                    Err(e) => return Err(AppError::invalid(f("model"), e.to_string())),
                }
                if v.rows.is_some() {
                    return Err(AppError::invalid(
                        f("rows"),
                        "rows belong to row_order experiments",
                    ));
                }
            }
            Target::RowOrder => {
                let rows = v
                    .rows
                    .as_ref()
                    .ok_or_else(|| AppError::invalid(f("rows"), "each variant lists rows"))?;
                for (k, r) in rows.iter().enumerate() {
                    if !ROW_KEYS.contains(&r.as_str()) {
                        return Err(AppError::invalid(
                            f("rows"),
                            format!("unknown row {r:?} (one of {})", ROW_KEYS.join(", ")),
                        ));
                    }
                    if rows[..k].contains(r) {
                        return Err(AppError::invalid(f("rows"), format!("{r:?} listed twice")));
                    }
                }
                if v.model.is_some() {
                    return Err(AppError::invalid(
                        f("model"),
                        "models belong to top_picks_model experiments",
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The running experiments in the store.
pub async fn load_running(store: &dyn Store) -> Result<Vec<Experiment>, marquee_store::StoreError> {
    Ok(store
        .experiments()
        .await?
        .into_iter()
        .filter(|r| r.running)
        .filter_map(Experiment::from_record)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(name: &str, weight: u32) -> Variant {
        Variant {
            name: name.into(),
            weight,
            model: None,
            rows: None,
        }
    }

    #[test]
    fn assignment_is_stable_and_follows_weights() {
        let vs = [v("a", 1), v("b", 3)];
        let mut counts = [0usize; 2];
        for p in 0..4000 {
            let i = assign(7, p, &vs);
            assert_eq!(i, assign(7, p, &vs));
            counts[i] += 1;
        }
        // 1:3 split within a few percent.
        assert!((800..1200).contains(&counts[0]), "{counts:?}");
        // Another experiment shuffles profiles independently.
        let moved = (0..1000)
            .filter(|&p| assign(7, p, &vs) != assign(8, p, &vs))
            .count();
        assert!(moved > 100);
    }
}
