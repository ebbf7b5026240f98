//! The JSON API's bodies built from store rows. Store types are not the wire
//! format: each API body is a type of the server, with the same JSON as the
//! row it is converted from (`From<marquee_store::…>`), and only these carry
//! OpenAPI schemas.

pub mod decisions;
pub mod listening;
pub mod overview;
pub mod perks;
pub mod plans;
pub mod playback;
pub mod privacy;
pub mod support;

/// Converts a list of rows to their wire form.
pub fn all<T, U: From<T>>(rows: Vec<T>) -> Vec<U> {
    rows.into_iter().map(U::from).collect()
}
