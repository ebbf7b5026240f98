//! `marquee demo backlash --story 2011`: replays the 2011 story on the demo
//! data, in-process against the configured database, in a few seconds.
//!
//! A simulated month that ends now, on a [`ManualClock`] the story moves
//! forward event by event, through the same service functions the API and
//! the worker call (`changes::*`, `plans::apply`, `listening::ingest`):
//!
//! 1. a price proposal for the Standard plan (+$6.00 a month, the 2011
//!    rise, existing customers moved after 30 days' notice) is put to
//!    Standard customers; customers of many years mostly oppose and say
//!    they would leave, newer ones are mixed; some comment, matching posts
//!    turn negative, a few cancel with the reason "price";
//! 2. "Split DVD rental into Qwikster" is put to everyone, overwhelmingly
//!    opposed, withdrawn with a note and announced with the apology, which
//!    the worker pass sends;
//! 3. the price rise ships anyway and is announced; posts and cancellations
//!    spike and then fall back, and the after-change view measures the
//!    recovery (read back from `changes::after_change`, not assumed).
//!
//! The demo's imported viewers all joined at import time, so before the
//! story starts they are given sign-up dates spread over the last seven
//! years (seeded; dates only ever move earlier), so that tenure bands mean
//! something. Everything is seeded: the same seed tells the same story.
//! Posts are labelled `source = "simulated"`. The story runs once per
//! database (remembered in the `meta` table); a second run says so.

use super::app;
use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use marquee_domain::changes::{
    tenure_band, tenure_days, ChangeKind, Decision, Grandfathering, PriceChange, Reaction, Segment,
    WouldStay, DAY_MS, TENURE_BANDS,
};
use marquee_domain::plans::{AccountStatus, CancelReason, PlanAction, Price};
use marquee_domain::{Account, Clock, ManualClock, Millis, Plan, Role, SystemClock};
use marquee_server::auth::CurrentUser;
use marquee_server::changes::{self, ProposalInput};
use marquee_server::listening::{self, RawPost};
use marquee_server::{plans, AppState, Config};
use marquee_store::AccountFilter;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// The stories `--story` can replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Story {
    /// 2011: a price rise, a split into "Qwikster" withdrawn with an
    /// apology, and the recovery after the price rise shipped.
    #[value(name = "2011")]
    Y2011,
}

/// Where the story records that it ran (and its proposals).
const META_KEY: &str = "demo_story_2011";
/// Simulated days, ending now.
const DAYS: i64 = 30;
/// Days (from the start) of each step.
const PRICE_PUBLISHED: i64 = 10;
const SPLIT_PUBLISHED: i64 = 12;
const SPLIT_WITHDRAWN: i64 = 15;
const PRICE_SHIPPED: i64 = 17;
/// The 2011 rise, in minor units ($9.99 to $15.98 was $5.99).
const RISE_CENTS: i64 = 600;
/// Viewers (lowest account ids) that never cancel: the README sends
/// newcomers to viewer1.
const PROTECTED: usize = 10;
const HOUR_MS: Millis = 3_600_000;

/// Runs the story against the configured database.
pub fn run(file: Option<&Path>, story: Story, seed: u64) -> anyhow::Result<()> {
    let config = app::load_config(file)?;
    match story {
        Story::Y2011 => app::block_on(story_2011(config, seed)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Price,
    Split,
}

#[derive(Debug)]
enum Step {
    Post(RawPost),
    Publish(Which),
    React {
        who: usize,
        which: Which,
        reaction: Reaction,
        would_stay: Option<WouldStay>,
    },
    Comment {
        who: usize,
        which: Which,
        text: String,
    },
    Cancel {
        who: usize,
        reason: CancelReason,
        detail: String,
    },
    WithdrawSplit,
    ShipPrice,
}

struct Event {
    at: Millis,
    seq: usize,
    step: Step,
}

const TITLES: &[&str] = &[
    "Toy Story",
    "Heat",
    "The Matrix",
    "Fargo",
    "Alien",
    "Casino",
    "Apollo 13",
    "Se7en",
];

const CALM: &[&str] = &[
    "Marquee Standard plan is still a good price for what you get",
    "Just moved to the Marquee Standard plan, two screens is all we need",
    "Is the Marquee Standard price the same in Canada?",
    "Comparing streaming prices: Marquee Standard is still the best value",
    "Marquee Standard plan and {t} tonight, perfect evening",
    "Happy with my Marquee Standard plan, great catalog this month",
];
const CALM_SOUR: &str = "The Marquee Standard price is a bit steep tbh";
const CONSULT: &[&str] = &[
    "Marquee wants to raise the Standard price to {new}? I have paid since {year}. No way.",
    "Marquee is asking customers about a Standard price hike. My answer: I would cancel.",
    "{pct}% more for the Marquee Standard plan and the same catalog? Terrible idea.",
    "Loyal Marquee Standard customer for years. If this price rise goes through, I am gone.",
    "Hey Marquee, a {new} Standard plan is outrageous. Your long-time customers will leave.",
];
const SPIKE: &[&str] = &[
    "Marquee actually went ahead with the Standard price hike. Cancelled.",
    "Just cancelled my Marquee Standard plan. {new} a month is a joke.",
    "Marquee asked us, we said no, and they raised the Standard price anyway. Unbelievable.",
    "Thirty days notice and then {new} for Marquee Standard? Done with them.",
    "Angry that Marquee ignored its own consultation on the Standard price. Terrible.",
];
const SPLIT_ANGRY: &[&str] = &[
    "Qwikster?! Two sites, two queues, two bills. Marquee, please do not split off DVDs.",
    "Splitting DVD rental into Qwikster is the worst idea Marquee ever had",
    "Who named it Qwikster? And why would I want a second account? #Qwikster",
    "Marquee splitting into Qwikster makes everything worse for DVD fans. Awful.",
];
const SPLIT_GLAD: &[&str] = &[
    "Marquee dropped the Qwikster split and apologised. Respect for listening.",
    "Good call Marquee, no Qwikster. Thanks for asking us first.",
];
const COMMENT_LONG: &[&str] = &[
    "I have been a Marquee customer for years and this is how you thank me? I will cancel.",
    "Six dollars more with nothing new in the catalog. No. Terrible idea.",
    "If the Standard price goes up like this I am leaving. Loyal customers deserve better.",
    "Raise it a dollar, not six. This is outrageous for people who have paid since the start.",
];
const COMMENT_NEW: &[&str] = &[
    "Not thrilled, but if the catalog gets better I might stay.",
    "Six dollars more is a lot. I will think about it.",
    "Fine by me if it means more 4K titles.",
];
const COMMENT_SPLIT: &[&str] = &[
    "Two websites and two accounts for the same movies? Please do not do this.",
    "Qwikster is a terrible name and a worse idea. Keep DVDs here.",
];

fn pick<'a>(rng: &mut StdRng, from: &[&'a str]) -> &'a str {
    from[rng.gen_range(0..from.len())]
}

/// Draws a sign-up date, days before now: under 6 months, 6–12 months,
/// 1–3 years or 3 years and more (still in the same band on the
/// consultation's days, three weeks earlier).
fn days_ago(rng: &mut StdRng) -> i64 {
    match rng.gen_range(0..100) {
        0..=29 => rng.gen_range(40..170),
        30..=49 => rng.gen_range(215..350),
        50..=74 => rng.gen_range(400..1050),
        _ => rng.gen_range(1130..2600),
    }
}

/// Rank of a tenure band (0: newest).
fn band_rank(created_at: Millis, at: Millis) -> usize {
    let band = tenure_band(tenure_days(created_at, at));
    TENURE_BANDS
        .iter()
        .position(|(_, l)| *l == band)
        .unwrap_or(0)
}

fn customer(account: &Account) -> CurrentUser {
    CurrentUser {
        account: account.clone(),
        profile_id: None,
        csrf_token: String::new(),
        token_hash: String::new(),
        via_cookie: false,
    }
}

async fn story_2011(config: Config, seed: u64) -> anyhow::Result<()> {
    let base = format!("http://{}", config.server.addr);
    let store = app::open_store(&config).await?;
    if let Some(ids) = store.meta_get(META_KEY).await? {
        println!("The 2011 story already ran on this database (proposals {ids}); nothing to do.");
        for id in ids.split(',') {
            println!("  {base}/staff/changes/{id}");
        }
        return Ok(());
    }
    let started = Instant::now();
    let real_now = SystemClock.now_ms();
    let start = real_now - DAYS * DAY_MS;
    let clock = Arc::new(ManualClock::new(start));
    let state = AppState::new(store.clone(), config.clone(), clock.clone())?;

    let staff = store
        .list_accounts(
            &AccountFilter {
                role: Some(Role::Admin),
                ..Default::default()
            },
            1,
            0,
        )
        .await?
        .into_iter()
        .next()
        .context(
            "no admin account: start `marquee serve` once (it creates the admin) \
             or add one with `marquee user add --role admin`",
        )?;
    let demo = AccountFilter {
        q: Some("@demo.marquee".into()),
        role: Some(Role::Viewer),
        status: Some(AccountStatus::Active),
        ..Default::default()
    };
    let mut viewers = store.list_accounts(&demo, 100_000, 0).await?;
    viewers.sort_by_key(|a| a.id);
    if viewers.len() < 12 {
        bail!(
            "the story needs the demo viewers (viewerN@demo.marquee, found {}): \
             `marquee serve` imports them on first start, or run `marquee import movielens`",
            viewers.len()
        );
    }
    // Sign-up dates spread over the years (only ever moved earlier).
    let mut rng = StdRng::seed_from_u64(seed);
    let dates: Vec<(i64, Millis)> = viewers
        .iter()
        .map(|a| (a.id, real_now - days_ago(&mut rng) * DAY_MS))
        .collect();
    let backdated = store.backdate_accounts(&dates).await?;
    let mut viewers = store.list_accounts(&demo, 100_000, 0).await?;
    viewers.sort_by_key(|a| a.id);

    let standard_price = plans::offers(&state)
        .await?
        .into_iter()
        .find(|o| o.plan == Plan::Standard)
        .map(|o| o.price)
        .context("the Standard plan has no price")?;
    let new_price = Price {
        amount_cents: standard_price.amount_cents + RISE_CENTS,
        currency: standard_price.currency.clone(),
    };
    let pct = RISE_CENTS * 100 / standard_price.amount_cents.max(1);
    let day = |d: i64, h: i64| start + d * DAY_MS + h * HOUR_MS;

    // ------------------------------------------------------------ the plan
    let mut events: Vec<Event> = Vec::new();
    let mut push = |at: Millis, step: Step| {
        let seq = events.len();
        events.push(Event {
            at: at.min(real_now),
            seq,
            step,
        });
    };
    push(day(PRICE_PUBLISHED, 9), Step::Publish(Which::Price));
    push(day(SPLIT_PUBLISHED, 9), Step::Publish(Which::Split));
    push(day(SPLIT_WITHDRAWN, 11), Step::WithdrawSplit);
    let announced = day(PRICE_SHIPPED, 10);
    push(announced, Step::ShipPrice);

    // Reactions and comments. The price rise: Standard customers, the
    // longer their tenure the more opposed.
    let mut cancelled: BTreeSet<usize> = BTreeSet::new();
    let mut would_leave: Vec<usize> = Vec::new();
    let mut standard: Vec<usize> = Vec::new();
    for (i, a) in viewers.iter().enumerate() {
        if a.plan != Plan::Standard {
            continue;
        }
        standard.push(i);
        if rng.gen::<f64>() > 0.85 {
            continue;
        }
        let hours = (-rng.gen::<f64>().max(1e-6).ln() * 30.0).min(150.0);
        let at = day(PRICE_PUBLISHED, 9) + HOUR_MS / 2 + (hours * HOUR_MS as f64) as Millis;
        let rank = band_rank(a.created_at, at);
        let (p_oppose, p_unsure) = [(0.30, 0.30), (0.50, 0.25), (0.75, 0.15), (0.90, 0.07)][rank];
        let r: f64 = rng.gen();
        let reaction = if r < p_oppose {
            Reaction::Oppose
        } else if r < p_oppose + p_unsure {
            Reaction::Unsure
        } else {
            Reaction::Support
        };
        let s: f64 = rng.gen();
        let would_stay = match (reaction, rank >= 2) {
            (Reaction::Oppose, true) if s < 0.75 => WouldStay::No,
            (Reaction::Oppose, true) if s < 0.95 => WouldStay::Unsure,
            (Reaction::Oppose, false) if s < 0.3 => WouldStay::No,
            (Reaction::Oppose, false) if s < 0.7 => WouldStay::Unsure,
            (Reaction::Unsure, _) if s < 0.1 => WouldStay::No,
            (Reaction::Unsure, _) if s < 0.6 => WouldStay::Unsure,
            _ => WouldStay::Yes,
        };
        push(
            at,
            Step::React {
                who: i,
                which: Which::Price,
                reaction,
                would_stay: Some(would_stay),
            },
        );
        let p_comment = if reaction == Reaction::Oppose {
            0.35
        } else {
            0.1
        };
        if rng.gen::<f64>() < p_comment {
            let text = if rank >= 2 && reaction == Reaction::Oppose {
                pick(&mut rng, COMMENT_LONG)
            } else {
                pick(&mut rng, COMMENT_NEW)
            };
            push(
                at + rng.gen_range(60_000..1_800_000),
                Step::Comment {
                    who: i,
                    which: Which::Price,
                    text: text.to_string(),
                },
            );
        }
        if would_stay == WouldStay::No {
            would_leave.push(i);
            // Some leave before the decision.
            if i >= PROTECTED && rng.gen::<f64>() < 0.25 {
                let at = (at + rng.gen_range(HOUR_MS..30 * HOUR_MS)).min(announced - HOUR_MS);
                cancelled.insert(i);
                push(
                    at,
                    Step::Cancel {
                        who: i,
                        reason: CancelReason::Price,
                        detail: format!("Not paying {} for this", new_price.display()),
                    },
                );
            }
        }
    }
    // The split: everyone, overwhelmingly opposed.
    for i in 0..viewers.len() {
        if rng.gen::<f64>() > 0.6 {
            continue;
        }
        let hours = rng.gen_range(0.5..(SPLIT_WITHDRAWN - SPLIT_PUBLISHED) as f64 * 24.0);
        let at = day(SPLIT_PUBLISHED, 9) + (hours * HOUR_MS as f64) as Millis;
        let r: f64 = rng.gen();
        let (reaction, would_stay) = if r < 0.85 {
            let s: f64 = rng.gen();
            let w = if s < 0.3 {
                WouldStay::No
            } else if s < 0.8 {
                WouldStay::Unsure
            } else {
                WouldStay::Yes
            };
            (Reaction::Oppose, w)
        } else if r < 0.95 {
            (Reaction::Unsure, WouldStay::Yes)
        } else {
            (Reaction::Support, WouldStay::Yes)
        };
        push(
            at,
            Step::React {
                who: i,
                which: Which::Split,
                reaction,
                would_stay: Some(would_stay),
            },
        );
        if reaction == Reaction::Oppose && rng.gen::<f64>() < 0.08 {
            push(
                at + rng.gen_range(60_000..1_800_000),
                Step::Comment {
                    who: i,
                    which: Which::Split,
                    text: pick(&mut rng, COMMENT_SPLIT).to_string(),
                },
            );
        }
    }
    // Cancellations: a few for other reasons before anything happens, one
    // over the split, then the spike after the price rise ships.
    let mut pool: Vec<usize> = (PROTECTED..viewers.len())
        .filter(|i| !cancelled.contains(i) && viewers[*i].plan != Plan::Standard)
        .collect();
    pool.shuffle(&mut rng);
    let background = [
        (
            1,
            CancelReason::Catalog,
            "Finished everything I wanted to watch",
        ),
        (4, CancelReason::Quality, "Too much buffering on my TV"),
        (
            7,
            CancelReason::OtherService,
            "Trying another service for a while",
        ),
        (
            14,
            CancelReason::Other,
            "Not doing Qwikster, two accounts is too much",
        ),
    ];
    for (d, reason, detail) in background {
        if let Some(who) = pool.pop() {
            cancelled.insert(who);
            push(
                day(d, rng.gen_range(8..20)),
                Step::Cancel {
                    who,
                    reason,
                    detail: detail.to_string(),
                },
            );
        }
    }
    let factor = (standard.len() as i64 / 100).max(1);
    let mut leavers: Vec<usize> = would_leave
        .iter()
        .copied()
        .filter(|i| *i >= PROTECTED && !cancelled.contains(i))
        .collect();
    leavers.shuffle(&mut rng);
    // Those who said they would leave go first (popped from the end).
    let mut queue: Vec<usize> = standard
        .iter()
        .copied()
        .filter(|i| *i >= PROTECTED && !cancelled.contains(i) && !leavers.contains(i))
        .collect();
    queue.shuffle(&mut rng);
    queue.extend(leavers);
    for (k, n) in [6i64, 5, 3, 2, 1].into_iter().enumerate() {
        for _ in 0..n * factor {
            let Some(who) = queue.pop() else { break };
            let at = announced + k as i64 * DAY_MS + rng.gen_range(HOUR_MS..20 * HOUR_MS);
            push(
                at,
                Step::Cancel {
                    who,
                    reason: CancelReason::Price,
                    detail: format!("{} a month is too much", new_price.display()),
                },
            );
        }
    }

    // Posts, from their own seeded stream (the same whatever the viewers).
    let mut prng = StdRng::seed_from_u64(seed ^ 0x2011);
    let fill = |rng: &mut StdRng, t: &str| {
        t.replace("{t}", pick(rng, TITLES))
            .replace("{new}", &new_price.display())
            .replace("{pct}", &pct.to_string())
            .replace("{year}", &rng.gen_range(2012..2020).to_string())
    };
    let mut k = 0u64;
    let mut post = |rng: &mut StdRng, d: i64, text: String| {
        k += 1;
        let at = start + d * DAY_MS + rng.gen_range(0..DAY_MS);
        let p = RawPost {
            source: "simulated".into(),
            external_id: format!("story-2011-{seed}-{k}"),
            author: format!("@customer{}@demo.invalid", rng.gen_range(1..5000)),
            text,
            url: None,
            lang: Some("en".into()),
            created_at: at.min(real_now),
        };
        (p.created_at, p)
    };
    let mut posts: Vec<(Millis, RawPost)> = Vec::new();
    for d in 0..DAYS {
        for _ in 0..16 {
            let t = if prng.gen::<f64>() < 0.05 {
                CALM_SOUR
            } else {
                pick(&mut prng, CALM)
            };
            let text = fill(&mut prng, t);
            posts.push(post(&mut prng, d, text));
        }
        let consult = [4, 8, 12, 16, 18, 18, 16];
        let n = if (PRICE_PUBLISHED..PRICE_SHIPPED).contains(&d) {
            consult[(d - PRICE_PUBLISHED) as usize % consult.len()]
        } else {
            0
        };
        for _ in 0..n {
            let t = pick(&mut prng, CONSULT);
            let text = fill(&mut prng, t);
            posts.push(post(&mut prng, d, text));
        }
        let spike = [60, 40, 22, 10, 4];
        // Spike posts follow the announcement, day by day.
        if (PRICE_SHIPPED..PRICE_SHIPPED + spike.len() as i64).contains(&d) {
            let i = (d - PRICE_SHIPPED) as usize;
            for _ in 0..spike[i] {
                let t = pick(&mut prng, SPIKE);
                let text = fill(&mut prng, t);
                let at = announced + i as i64 * DAY_MS + prng.gen_range(0..DAY_MS);
                let (_, mut p) = post(&mut prng, d, text);
                p.created_at = at.min(real_now);
                posts.push((p.created_at, p));
            }
        }
        let split = [15, 25, 20, 0, 0];
        if (SPLIT_PUBLISHED..SPLIT_PUBLISHED + 3).contains(&d) {
            for _ in 0..split[(d - SPLIT_PUBLISHED) as usize] {
                let t = pick(&mut prng, SPLIT_ANGRY);
                let text = fill(&mut prng, t);
                posts.push(post(&mut prng, d, text));
            }
        }
        if (SPLIT_WITHDRAWN + 1..SPLIT_WITHDRAWN + 3).contains(&d) {
            for _ in 0..6 {
                let t = pick(&mut prng, SPLIT_GLAD);
                let text = fill(&mut prng, t);
                posts.push(post(&mut prng, d, text));
            }
        }
    }
    for (at, p) in posts {
        push(at, Step::Post(p));
    }
    events.sort_by_key(|e| (e.at, e.seq));

    // ------------------------------------------------------------ the replay
    println!(
        "Replaying the 2011 story: {DAYS} simulated days ({} to now), {} demo customers ({backdated} given earlier sign-up dates), seed {seed}",
        marquee_server::format::fmt_time(start),
        viewers.len(),
    );
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(events.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut price_id: Option<i64> = None;
    let mut split_id: Option<i64> = None;
    let mut buffer: Vec<RawPost> = Vec::new();
    let (mut n_posts, mut n_reactions, mut n_comments, mut n_cancels, mut skipped) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut alerts = 0usize;
    for (done, e) in events.into_iter().enumerate() {
        if !matches!(e.step, Step::Post(_)) || buffer.len() >= 200 {
            if let Some(last) = buffer.last() {
                clock.set(last.created_at);
                let o = listening::ingest(&state, std::mem::take(&mut buffer), None).await?;
                n_posts += o.inserted;
                alerts += o.alerts.len();
            }
        }
        clock.set(e.at.max(clock.now_ms()));
        let id_of = |w: Which| match w {
            Which::Price => price_id,
            Which::Split => split_id,
        };
        match e.step {
            Step::Post(p) => buffer.push(p),
            Step::Publish(which) => {
                let input = match which {
                    Which::Price => ProposalInput {
                        kind: ChangeKind::Price,
                        title: format!(
                            "Standard goes from {} to {}",
                            standard_price.display(),
                            new_price.display()
                        ),
                        body: format!(
                            "To keep adding films and series we propose raising the Standard plan \
                             from {} to {} a month. New customers would pay the new price from the \
                             day it ships; existing customers keep {} for 30 days' notice. \
                             Tell us what you think before we decide.",
                            standard_price.display(),
                            new_price.display(),
                            standard_price.display()
                        ),
                        segment: Segment {
                            plans: vec![Plan::Standard],
                            ..Default::default()
                        },
                        price: Some(PriceChange {
                            plan: Plan::Standard,
                            price: new_price.clone(),
                            grandfathering: Grandfathering::AfterNotice { notice_days: 30 },
                        }),
                        keywords: vec!["standard price".into(), "standard plan".into()],
                        planned_at: announced,
                    },
                    Which::Split => ProposalInput {
                        kind: ChangeKind::Product,
                        title: "Split DVD rental into Qwikster".into(),
                        body: "We propose moving DVD rental to a separate service, Qwikster, \
                               with its own website, queue and bill; Marquee would be streaming \
                               only."
                            .into(),
                        segment: Segment::default(),
                        price: None,
                        keywords: vec!["qwikster".into(), "dvd rental".into()],
                        planned_at: day(SPLIT_PUBLISHED + 14, 12),
                    },
                };
                let p = changes::create(&state, &staff, input).await?;
                changes::publish(&state, p.id).await?;
                match which {
                    Which::Price => price_id = Some(p.id),
                    Which::Split => split_id = Some(p.id),
                }
            }
            Step::React {
                who,
                which,
                reaction,
                would_stay,
            } => {
                let Some(id) = id_of(which) else { continue };
                match changes::react(&state, &customer(&viewers[who]), id, reaction, would_stay)
                    .await
                {
                    Ok(_) => n_reactions += 1,
                    Err(_) => skipped += 1,
                }
            }
            Step::Comment { who, which, text } => {
                let Some(id) = id_of(which) else { continue };
                match changes::comment(&state, &customer(&viewers[who]), id, &text).await {
                    Ok(_) => n_comments += 1,
                    Err(_) => skipped += 1,
                }
            }
            Step::Cancel {
                who,
                reason,
                detail,
            } => {
                let Some(account) = store.account(viewers[who].id).await? else {
                    continue;
                };
                if account.status != AccountStatus::Active {
                    skipped += 1;
                    continue;
                }
                let action = PlanAction::Cancel {
                    reason,
                    detail: Some(detail),
                };
                match plans::apply(&state, &account, &action, None).await {
                    Ok(_) => n_cancels += 1,
                    Err(_) => skipped += 1,
                }
            }
            Step::WithdrawSplit => {
                let id = split_id.context("the split was not published")?;
                let p = changes::decide(
                    &state,
                    &staff,
                    id,
                    Decision::Withdraw,
                    "Customers told us, clearly, that two services would make Marquee worse. \
                     We are keeping DVD rental and streaming together.",
                    None,
                )
                .await?;
                let (title, body) = changes::announcement_template(&p);
                changes::schedule_announcement(&state, id, &title, &body, None).await?;
                changes::run_once(&state).await?;
            }
            Step::ShipPrice => {
                let id = price_id.context("the price rise was not published")?;
                let p = changes::decide(
                    &state,
                    &staff,
                    id,
                    Decision::Ship,
                    "Content costs keep rising. Existing customers keep their price for 30 days' \
                     notice; new customers pay the new price from today.",
                    None,
                )
                .await?;
                let (title, body) = changes::announcement_template(&p);
                changes::schedule_announcement(&state, id, &title, &body, None).await?;
                changes::run_once(&state).await?;
            }
        }
        let d = (clock.now_ms() - start) / DAY_MS;
        bar.set_position(done as u64 + 1);
        bar.set_message(format!(
            "day {}/{DAYS} · {n_posts} posts · {n_reactions} reactions · {n_cancels} cancellations",
            d + 1
        ));
    }
    if !buffer.is_empty() {
        if let Some(last) = buffer.last() {
            clock.set(last.created_at.max(clock.now_ms()));
        }
        let o = listening::ingest(&state, buffer, None).await?;
        n_posts += o.inserted;
        alerts += o.alerts.len();
    }
    clock.set(real_now);
    changes::run_once(&state).await?;
    bar.finish_and_clear();

    // ------------------------------------------------------------ summary
    let price_id = price_id.context("the price rise was not published")?;
    let split_id = split_id.context("the split was not published")?;
    store
        .meta_set(META_KEY, &format!("{price_id},{split_id}"))
        .await?;
    let dash = changes::dashboard(&state, price_id).await?;
    let split = changes::get(&state, split_id).await?;
    let after = changes::after_change(&state, price_id).await?;
    println!(
        "Done in {:.1} s: {n_posts} posts, {n_reactions} reactions, {n_comments} comments, \
         {n_cancels} cancellations, {alerts} backlash alerts ({skipped} steps skipped).",
        started.elapsed().as_secs_f64()
    );
    println!();
    println!(
        "1. Price proposal #{price_id} \"{}\": support {}, unsure {}, oppose {}.",
        dash.proposal.title, dash.totals[0], dash.totals[1], dash.totals[2]
    );
    for row in &dash.stay {
        println!(
            "   {:<16} {:>4} reactions, {:>3.0}% opposed, {:>3} would leave",
            row.tenure,
            row.reactions,
            100.0 * row.oppose as f64 / row.reactions.max(1) as f64,
            row.no
        );
    }
    println!(
        "2. Split proposal #{split_id} \"{}\": {}, apology announced to {} customers.",
        split.draft.title,
        split.status.as_str(),
        split.announced_to
    );
    let rec = after.recovery.as_ref();
    println!(
        "3. The price rise shipped and was announced to {} customers; negative share of \
         matching posts peaked at {:.0}% (baseline {:.0}%), cancellations at {} a day (baseline {:.1}).",
        after.proposal.announced_to,
        100.0 * rec.map_or(0.0, |r| r.peak_negative_share),
        100.0 * rec.map_or(0.0, |r| r.baseline_negative_share),
        rec.map_or(0, |r| r.peak_cancellations),
        rec.map_or(0.0, |r| r.baseline_cancellations),
    );
    match rec.and_then(|r| r.days_to_recover) {
        Some(n) => println!("   Trust recovered {n} days after the announcement."),
        None => println!("   Not recovered yet."),
    }
    println!();
    println!("With the server running on this database (as an admin):");
    println!(
        "  {base}/staff/changes/{price_id}   the price rise: consultation, decision, recovery"
    );
    println!("  {base}/staff/changes/{split_id}   the split: withdrawn with an apology");
    println!("  {base}/changes/{split_id}         the public apology");
    println!("  {base}/listening");
    Ok(())
}
