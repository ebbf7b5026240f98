//! Writes the site's own link-preview image (1200 × 630), used by pages
//! that are not about one title (a shared support transcript):
//! `crates/marquee-server/static/share.jpg`. Deterministic.
//!
//! `cargo run -p marquee-artwork --example share_image [OUT]`

use marquee_artwork::{encode_jpeg, poster_at, PosterSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "crates/marquee-server/static/share.jpg".into());
    let spec = PosterSpec {
        title: "Marquee",
        year: None,
        genre: None,
        seed: 2011,
    };
    let img = poster_at(&spec, 1200, 630)?;
    if out.ends_with(".png") {
        img.save(&out)?;
        return Ok(());
    }
    let r = encode_jpeg(&img)?;
    std::fs::write(&out, &r.bytes)?;
    println!("{out}: {} x {}, {} bytes", r.width, r.height, r.bytes.len());
    Ok(())
}
