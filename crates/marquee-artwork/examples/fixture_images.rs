//! Writes the small artwork files of the library fixture
//! (`tests/fixtures/library/` at the repository root) with generated
//! posters. Deterministic: running it again rewrites the same bytes.
//!
//! `cargo run -p marquee-artwork --example fixture_images [LIBRARY_DIR]`

use std::path::{Path, PathBuf};

use marquee_artwork::{encode_jpeg, poster_at, PosterSpec};

/// Portrait posters are 200 × 300, landscape pictures 320 × 180.
const PORTRAIT: (u32, u32) = (200, 300);
const LANDSCAPE: (u32, u32) = (320, 180);

struct Picture {
    path: &'static str,
    size: (u32, u32),
    spec: PosterSpec<'static>,
}

const fn spec(
    title: &'static str,
    year: Option<i32>,
    genre: &'static str,
    seed: u64,
) -> PosterSpec<'static> {
    PosterSpec {
        title,
        year,
        genre: Some(genre),
        seed,
    }
}

const PICTURES: &[Picture] = &[
    Picture {
        path: "Movies/The Quiet Harbor (2019)/poster.jpg",
        size: PORTRAIT,
        spec: spec("The Quiet Harbor", Some(2019), "Drama", 1),
    },
    Picture {
        path: "Movies/The Quiet Harbor (2019)/fanart.jpg",
        size: LANDSCAPE,
        spec: spec("The Quiet Harbor", Some(2019), "Drama", 2),
    },
    Picture {
        path: "Movies/Night Train to Lisbon (2021)/folder.jpg",
        size: PORTRAIT,
        spec: spec("Night Train to Lisbon", Some(2021), "Thriller|Mystery", 3),
    },
    Picture {
        path: "Movies/Night Train to Lisbon (2021)/backdrop.jpg",
        size: LANDSCAPE,
        spec: spec("Night Train to Lisbon", Some(2021), "Thriller|Mystery", 4),
    },
    Picture {
        path: "Shows/Lighthouse Keepers/poster.jpg",
        size: PORTRAIT,
        spec: spec("Lighthouse Keepers", None, "Drama|Mystery", 5),
    },
    Picture {
        path: "Shows/Lighthouse Keepers/fanart.jpg",
        size: LANDSCAPE,
        spec: spec("Lighthouse Keepers", None, "Drama|Mystery", 6),
    },
    Picture {
        path: "Shows/Lighthouse Keepers/Season 01/Lighthouse Keepers - S01E01 - Arrival-thumb.jpg",
        size: LANDSCAPE,
        spec: spec("S01E01 · Arrival", None, "Drama", 7),
    },
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = match std::env::args_os().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/library"),
    };
    for picture in PICTURES {
        let (width, height) = picture.size;
        let img = poster_at(&picture.spec, width, height)?;
        let jpeg = encode_jpeg(&img)?;
        let path = root.join(picture.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, &jpeg.bytes)?;
        println!(
            "{:>6} bytes  {width}x{height}  {}",
            jpeg.bytes.len(),
            picture.path
        );
    }
    Ok(())
}
