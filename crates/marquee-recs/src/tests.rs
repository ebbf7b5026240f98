//! Crate-level tests: synthetic data with known structure, model files, determinism.
