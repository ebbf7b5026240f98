//! # marquee-recs
//!
//! Marquee's recommendation engine: a pure library (no I/O, no global state, RNG injected).
//!
//! * [`sparse::Csr`]: the interaction matrix (its transpose is the CSC view).
//! * Models, all scoring the full catalog from a user's *current* history vector, so new
//!   feedback counts without retraining ([`Model::score`]):
//!   [`Popularity`], item-kNN with cosine or BM25 weighting ([`knn::fit_knn`]),
//!   RP3beta ([`knn::fit_rp3beta`]), EASE / EDLAE with faer ([`ease::fit`]), implicit ALS with
//!   a conjugate-gradient solver ([`als::fit`]), blends ([`Blend`]).
//! * Request-time filtering and top-N with a stable tie-break ([`Model::recommend`],
//!   [`Filter`]), "because you watched X" evidence ([`Recommendation::because`]) and
//!   "more like this" ([`Model::similar`]).
//! * Versioned, checksummed model files ([`Model::write_to`], [`Model::from_bytes`],
//!   [`Recommender`] adds the [`ItemIndex`]).
//! * Protocol `recs-holdout-v1` ([`protocol`]): parsing, the exact split, checksums, metrics.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod als;
pub mod codec;
pub mod content;
pub mod ease;
pub mod error;
pub mod experiment;
pub mod index;
pub mod itemitem;
pub mod knn;
pub(crate) mod linalg;
pub mod model;
pub mod protocol;
pub mod sparse;
pub mod topn;

pub use error::{RecsError, Result};
pub use index::ItemIndex;
pub use itemitem::ItemItem;
pub use model::{
    Blend, CategoryFilter, Filter, ItemCategories, Model, Popularity, Recommendation, Recommender,
};

#[cfg(test)]
mod tests;
