//! Resizes every picture of a folder into a poster's renditions (card,
//! detail, share) on one thread, as the catalog import does, and prints
//! pictures per second. The artwork benchmark (`bench/catalog/run.sh`) runs
//! it beside Pillow on the same files.
//!
//! `cargo run --release -p marquee-artwork --example resize_dir DIR [OUT]`

use marquee_artwork::{decode, render, renditions_for};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: resize_dir DIR [OUT]")?;
    let out = args.next();
    let mut files: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let started = Instant::now();
    let (mut pictures, mut bytes_out) = (0usize, 0usize);
    for f in &files {
        let bytes = std::fs::read(f)?;
        let img = decode(&bytes)?;
        for size in renditions_for("poster") {
            let r = render(&img, *size)?;
            bytes_out += r.bytes.len();
            if let Some(o) = &out {
                let name = f.file_stem().and_then(|s| s.to_str()).unwrap_or("x");
                std::fs::write(format!("{o}/{name}-{}.jpg", size.name()), &r.bytes)?;
            }
        }
        pictures += 1;
    }
    let s = started.elapsed().as_secs_f64();
    println!(
        "marquee {pictures} pictures {:.3} s {:.2} pictures/s {} bytes out",
        s,
        pictures as f64 / s,
        bytes_out
    );
    Ok(())
}
