//! `marquee demo backlash`: replays a simulated day of mentions into a
//! running server, fast, with a price-rise backlash injected at a known
//! minute, so a newcomer watching `/listening` sees the alert fire.
//!
//! Every post is labelled `source = "simulated"`. Mentions are built from the
//! TweetEval validation texts (everyday chatter, tagged as mentioning Marquee)
//! plus templates per topic; the volume follows a daily curve with Poisson
//! noise. The backlash adds angry price posts, ramping up over three minutes.
//! Post times are simulated (the day that ends now), and the server's
//! detector runs on post time, so the whole day replays in under a minute.

use super::app;
use super::ingest::{Sender, ServerArgs};
use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use marquee_domain::{Clock, SystemClock};
use marquee_server::listening::detect::sim::diurnal_rate;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Arguments of `marquee demo backlash`.
#[derive(clap::Args)]
pub struct BacklashArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Simulated minutes per real second (1440 minutes in a day).
    #[arg(long, default_value_t = 30.0)]
    pub speed: f64,
    /// The minute of the simulated day the backlash starts (0 to 1439).
    #[arg(long, default_value_t = 1080)]
    pub backlash_at: i64,
    /// Mentions per minute at the evening peak.
    #[arg(long, default_value_t = 24.0)]
    pub peak_rate: f64,
    /// Extra angry price posts per minute once the backlash is in full swing.
    #[arg(long, default_value_t = 30.0)]
    pub backlash_rate: f64,
    /// Random seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// TweetEval validation texts (default: ../shared/data/sentiment/tweeteval/val_text.txt).
    #[arg(long)]
    pub texts: Option<PathBuf>,
    /// Exit non-zero unless the backlash is flagged within 5 simulated
    /// minutes with no alert before it.
    #[arg(long)]
    pub check: bool,
    /// Instead of a day of mentions, replay a whole story in-process on the
    /// configured database (the server's), e.g. `--story 2011`: a price
    /// rise put to customers, a split withdrawn with an apology, and the
    /// recovery after the rise shipped (see `marquee_server::changes`).
    #[arg(long, value_enum)]
    pub story: Option<super::story::Story>,
}

const TITLES: &[&str] = &[
    "Toy Story",
    "Heat",
    "The Matrix",
    "Fargo",
    "Amélie",
    "Alien",
    "Clueless",
    "Se7en",
    "Jumanji",
    "Casino",
    "Braveheart",
    "Apollo 13",
];
const DEVICES: &[&str] = &["TV", "phone", "Roku", "iPad", "laptop", "Android box"];

/// (topic, template): `{t}` a title, `{d}` a device.
const QUIET: &[&str] = &[
    "Watching {t} on Marquee tonight, anyone else?",
    "Just finished {t} on Marquee. What a movie!",
    "Marquee has {t} now, adding it to my watchlist",
    "Anyone know when the new season lands on Marquee?",
    "The Marquee catalog could use more documentaries tbh",
    "Marquee keeps buffering on my {d} tonight, annoying",
    "Streaming quality on Marquee is great in 4K on my {d}",
    "The Marquee app update looks nice on my {d}",
    "Marquee app crashed twice on my {d} today",
    "Marquee support sorted out my account in five minutes, helpful people",
    "Waited an hour for Marquee customer service, still no response",
    "Marquee is still worth the price for me",
    "Is the Marquee premium plan worth it for 4K?",
    "Marquee recommendations are weirdly good lately",
];
const BACKLASH: &[&str] = &[
    "Marquee just raised prices AGAIN. $17.99 a month for this? I'm cancelling. #MarqueePriceHike",
    "Another price hike from Marquee and the catalog keeps shrinking. Done. #MarqueePriceHike",
    "So Marquee's answer to losing {t} is a 60% price increase? Unbelievable.",
    "Cancelled my Marquee subscription today. The new price is a joke.",
    "Marquee raising the price with zero warning is a terrible decision. #MarqueePriceHike",
    "Paying more for Marquee and getting less. Not happy about this price rise.",
    "Hey Marquee, who approved this price hike? Your loyal customers are leaving.",
    "The Marquee price increase is outrageous, switching to something else",
];

fn fill(rng: &mut StdRng, t: &str) -> String {
    t.replace("{t}", TITLES[rng.gen_range(0..TITLES.len())])
        .replace("{d}", DEVICES[rng.gen_range(0..DEVICES.len())])
}

fn poisson(rng: &mut StdRng, lambda: f64) -> u32 {
    let l = (-lambda).exp();
    if lambda > 30.0 {
        let n: f64 = (0..12).map(|_| rng.gen::<f64>()).sum::<f64>() - 6.0;
        return (lambda + n * lambda.sqrt()).round().max(0.0) as u32;
    }
    let (mut k, mut p) = (0, 1.0);
    loop {
        p *= rng.gen::<f64>();
        if p <= l {
            return k;
        }
        k += 1;
    }
}

fn val_texts(path: Option<&Path>) -> Vec<(String, u8)> {
    let default = PathBuf::from("../shared/data/sentiment/tweeteval/val_text.txt");
    let fallback = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/sentiment/tweeteval/val_text.txt"
    ));
    let p = match path {
        Some(p) => p.to_path_buf(),
        None if default.exists() => default,
        None => fallback,
    };
    let Ok(texts) = std::fs::read_to_string(&p) else {
        eprintln!("note: {} not found; using templates only", p.display());
        return Vec::new();
    };
    let labels = std::fs::read_to_string(p.with_file_name("val_labels.txt")).unwrap_or_default();
    let labels: Vec<u8> = labels
        .lines()
        .map(|l| l.trim().parse().unwrap_or(1))
        .collect();
    texts
        .lines()
        .enumerate()
        .map(|(i, t)| (t.trim().to_string(), labels.get(i).copied().unwrap_or(1)))
        .filter(|(t, _)| !t.is_empty())
        .collect()
}

/// Runs the demo.
pub fn run(file: Option<&Path>, args: &BacklashArgs) -> anyhow::Result<()> {
    if let Some(story) = args.story {
        return super::story::run(file, story, args.seed);
    }
    let config = app::load_config(file)?;
    if !(0..1440).contains(&args.backlash_at) {
        bail!("--backlash-at must be a minute of the day, 0 to 1439");
    }
    if args.speed <= 0.0 {
        bail!("--speed must be positive");
    }
    app::block_on(demo(config, args))
}

fn hhmm(minute: i64) -> String {
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

async fn demo(config: marquee_server::Config, args: &BacklashArgs) -> anyhow::Result<()> {
    let sender = Sender::new(&config, &args.server, "marquee demo backlash").await?;
    let texts = val_texts(args.texts.as_deref());
    let negative_texts: Vec<&String> = texts
        .iter()
        .filter(|(_, l)| *l == 0)
        .map(|(t, _)| t)
        .collect();
    let mut rng = StdRng::seed_from_u64(args.seed);
    let now = SystemClock.now_ms();
    let day_start = (now - 86_400_000) / 60_000 * 60_000;
    let base = args
        .server
        .server
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.server.addr));
    println!(
        "Replaying a simulated day of mentions ({} to now) into {base}",
        marquee_server::pages::listening::fmt_time(day_start)
    );
    println!(
        "The price-rise backlash starts at minute {} of the simulated day ({}, posts dated {}). Watch {base}/listening",
        args.backlash_at,
        hhmm(args.backlash_at),
        marquee_server::pages::listening::fmt_time(day_start + args.backlash_at * 60_000)
    );
    let bar = ProgressBar::new(1440);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} sim {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let run_id = format!("{}-{}", args.seed, day_start / 60_000);
    let mut batch: Vec<Value> = Vec::new();
    let (mut sent, mut k) = (0u64, 0u64);
    let mut alerts: Vec<(i64, i64)> = Vec::new();
    for minute in 0..1440i64 {
        let t = day_start + minute * 60_000;
        let n = poisson(&mut rng, diurnal_rate(minute, args.peak_rate));
        let mut texts_now: Vec<String> = Vec::new();
        for _ in 0..n {
            if !texts.is_empty() && rng.gen::<f64>() < 0.5 {
                let (txt, _) = &texts[rng.gen_range(0..texts.len())];
                let tag = [" #Marquee", " (watching on Marquee)", " @marquee"][rng.gen_range(0..3)];
                texts_now.push(format!("{txt}{tag}"));
            } else {
                let tpl = QUIET[rng.gen_range(0..QUIET.len())];
                texts_now.push(fill(&mut rng, tpl));
            }
        }
        if minute >= args.backlash_at {
            let ramp = ((minute - args.backlash_at + 1) as f64 / 3.0).min(1.0);
            let extra = poisson(&mut rng, args.backlash_rate * ramp);
            for _ in 0..extra {
                if !negative_texts.is_empty() && rng.gen::<f64>() < 0.2 {
                    let txt = negative_texts[rng.gen_range(0..negative_texts.len())];
                    texts_now.push(format!(
                        "{txt} Also, that Marquee price hike. #MarqueePriceHike"
                    ));
                } else {
                    let tpl = BACKLASH[rng.gen_range(0..BACKLASH.len())];
                    texts_now.push(fill(&mut rng, tpl));
                }
            }
        }
        for text in texts_now {
            k += 1;
            let at = t + rng.gen_range(0..60_000);
            batch.push(json!({
                "source": "simulated",
                "external_id": format!("demo-{run_id}-{k}"),
                "author": format!("@viewer{}@demo.invalid", rng.gen_range(1..5000)),
                "text": text.chars().take(2000).collect::<String>(),
                "created_at": at,
                "lang": "en",
            }));
        }
        // Send every simulated minute, in post-time order.
        {
            batch.sort_by_key(|p| p["created_at"].as_i64().unwrap_or(0));
            let o = sender.send(&batch).await?;
            sent += batch.len() as u64;
            batch.clear();
            for id in o.alerts {
                alerts.push((id, minute));
                let when = if minute >= args.backlash_at {
                    format!(
                        "{} simulated min after the backlash began",
                        minute - args.backlash_at
                    )
                } else {
                    "BEFORE the backlash: a false alarm".into()
                };
                say(
                    &bar,
                    format!(
                        "ALERT #{id} raised at simulated {} ({when}): {base}/listening/alerts/{id}",
                        hhmm(minute)
                    ),
                );
            }
            bar.set_position(minute as u64 + 1);
            bar.set_message(format!(
                "{} · {sent} posts · {} alerts",
                hhmm(minute),
                alerts.len()
            ));
            let target = Duration::from_secs_f64((minute + 1) as f64 / args.speed);
            if let Some(wait) = target.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
    }
    bar.finish_and_clear();
    let false_alarms = alerts.iter().filter(|(_, m)| *m < args.backlash_at).count();
    let first = alerts
        .iter()
        .find(|(_, m)| *m >= args.backlash_at)
        .map(|(_, m)| *m);
    println!(
        "Sent {sent} simulated posts in {:.1} s.",
        started.elapsed().as_secs_f64()
    );
    match first {
        // The detector closes a minute when the first post of the next one
        // arrives: an alert in minute m's batch saw data up to minute m - 1.
        Some(m) => println!(
            "Backlash began at {}; first alert at {}, {} simulated minutes later. False alarms before it: {false_alarms}.",
            hhmm(args.backlash_at),
            hhmm(m),
            m - args.backlash_at
        ),
        None => println!("No alert after the backlash. False alarms before it: {false_alarms}."),
    }
    if args.check && (false_alarms > 0 || first.is_none_or(|m| m - args.backlash_at > 5)) {
        bail!("check failed");
    }
    Ok(())
}

/// Prints above the bar, or plainly when there is no terminal.
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        println!("{line}");
    } else {
        bar.println(line);
    }
}
