//! Measures poster generation and rendition speed on one thread.
//!
//! `cargo run --release -p marquee-artwork --example throughput [N]`

use std::time::Instant;

use marquee_artwork::{encode_jpeg, poster, poster_at, render, DynamicImage, PosterSpec, Size};

const GENRES: &[&str] = &[
    "Drama",
    "Comedy",
    "Action|Thriller",
    "Horror",
    "Romance",
    "Sci-Fi",
    "Documentary",
    "Animation|Children",
    "Crime",
    "Adventure|Fantasy",
    "Mystery",
    "War",
    "Western",
    "Musical",
    "Film-Noir",
    "IMAX",
    "(no genres listed)",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let titles: Vec<String> = (0..n)
        .map(|i| format!("Catalog Title Number {i} and Its Subtitle"))
        .collect();
    let spec = |i: usize| PosterSpec {
        title: &titles[i],
        year: Some(1950 + (i % 70) as i32),
        genre: Some(GENRES[i % GENRES.len()]),
        seed: i as u64,
    };

    let start = Instant::now();
    let mut pixels = 0u64;
    for i in 0..n {
        pixels += u64::from(poster(&spec(i))?.width());
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "card posters (342x513, RgbImage): {n} in {secs:.2} s = {:.0} titles/s ({pixels})",
        n as f64 / secs
    );

    let start = Instant::now();
    let mut bytes = 0usize;
    for i in 0..n {
        bytes += encode_jpeg(&poster(&spec(i))?)?.bytes.len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "card posters + JPEG q82: {n} in {secs:.2} s = {:.0} titles/s, mean {:.1} KB",
        n as f64 / secs,
        bytes as f64 / n as f64 / 1000.0
    );

    let m = (n / 10).max(1);
    let start = Instant::now();
    for i in 0..m {
        let big = DynamicImage::ImageRgb8(poster_at(&spec(i), 780, 1170)?);
        for size in [Size::Card, Size::Detail, Size::Share] {
            render(&big, size)?;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "780x1170 poster + card/detail/share renditions: {m} in {secs:.2} s = {:.1} titles/s",
        m as f64 / secs
    );

    // Renditions of a camera-sized upload.
    let photo = DynamicImage::ImageRgb8(image::RgbImage::from_fn(3000, 2000, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 256) as u8])
    }));
    let k = 10;
    let start = Instant::now();
    for _ in 0..k {
        for size in [Size::Backdrop, Size::Share] {
            render(&photo, size)?;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "3000x2000 upload -> backdrop + share: {:.0} ms each",
        secs * 1000.0 / f64::from(k)
    );
    Ok(())
}
