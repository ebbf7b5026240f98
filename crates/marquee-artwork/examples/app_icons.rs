//! Writes the site's icons: `static/icon.svg` (the favicon) and the PNGs
//! the web app manifest and iOS use (`icon-192.png`, `icon-512.png`): a red
//! "M" on black, drawn from one polygon so that every size matches, full
//! bleed (the letter inside the central 60 %, safe for maskable icons).
//! Deterministic.
//!
//! `cargo run -p marquee-artwork --example app_icons [DIR]`

use image::{Rgb, RgbImage};

/// The letter, in a unit square.
const M: [(f32, f32); 12] = [
    (0.22, 0.76),
    (0.22, 0.24),
    (0.34, 0.24),
    (0.50, 0.50),
    (0.66, 0.24),
    (0.78, 0.24),
    (0.78, 0.76),
    (0.67, 0.76),
    (0.67, 0.43),
    (0.50, 0.69),
    (0.33, 0.43),
    (0.33, 0.76),
];
const RED: [u8; 3] = [0xe5, 0x09, 0x14];

fn inside(x: f32, y: f32) -> bool {
    let mut c = false;
    let n = M.len();
    for i in 0..n {
        let (xi, yi) = M[i];
        let (xj, yj) = M[(i + n - 1) % n];
        if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
            c = !c;
        }
    }
    c
}

fn png(size: u32) -> RgbImage {
    const SS: u32 = 4;
    RgbImage::from_fn(size, size, |px, py| {
        let mut hits = 0;
        for sy in 0..SS {
            for sx in 0..SS {
                let x = (px as f32 + (sx as f32 + 0.5) / SS as f32) / size as f32;
                let y = (py as f32 + (sy as f32 + 0.5) / SS as f32) / size as f32;
                hits += u32::from(inside(x, y));
            }
        }
        let a = hits as f32 / (SS * SS) as f32;
        Rgb(RED.map(|c| (f32::from(c) * a).round() as u8))
    })
}

fn svg() -> String {
    let points: Vec<String> = M
        .iter()
        .map(|(x, y)| format!("{},{}", x * 100.0, y * 100.0))
        .collect();
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 100 100\">\
         <rect width=\"100\" height=\"100\" rx=\"18\" fill=\"#000\"/>\
         <polygon fill=\"#e50914\" points=\"{}\"/></svg>\n",
        points.join(" ")
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "crates/marquee-server/static".into());
    std::fs::write(format!("{dir}/icon.svg"), svg())?;
    for size in [192, 512] {
        let out = format!("{dir}/icon-{size}.png");
        png(size).save(&out)?;
        println!("{out}");
    }
    Ok(())
}
