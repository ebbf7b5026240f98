//! Integration tests of `marquee-encoder`. One binary (candle makes each
//! test binary slow to link).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod checkpoint;
mod determinism;
mod ensemble;
mod finetune;
mod head;
mod minilm;
mod tiny;
