//! Page generation, as Netflix describes it: candidates, evidence, filters,
//! ranking within each row, then row selection with de-duplication across the
//! page. Pure over a [`Snapshot`] and the profile's signals.

use super::experiments::{Experiment, Target, ROW_KEYS};
use super::{Catalog, RecsConfig, Served, Snapshot};
use marquee_store::home::{Signal, SignalKind};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use utoipa::ToSchema;

/// A title named as evidence.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TitleRef {
    /// Title id.
    pub title_id: i64,
    /// Its name.
    pub name: String,
}

/// One title in a row.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RowTitle {
    /// Title id.
    pub title_id: i64,
    /// Name.
    pub name: String,
    /// Release year.
    pub year: Option<i32>,
    /// Genres.
    pub genres: Vec<String>,
    /// The score it was ranked by (model score, trend, popularity).
    pub score: f32,
    /// Its place in the Top 10.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank: Option<u32>,
    /// "Because you watched …": the history title that contributed most.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub because: Option<TitleRef>,
    /// Continue Watching: percent watched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress_pct: Option<i64>,
    /// The card poster.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::library::art::CardArt>)]
    pub poster: Option<std::sync::Arc<crate::library::art::CardArt>>,
}

/// One row of the home page.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Row {
    /// Stable key: `continue_watching`, `top_picks`, `top10`, `because:{id}`,
    /// `trending`, `new_arrivals`, `genre:{name}`, `popular_genre:{name}`.
    pub key: String,
    /// Heading, e.g. "Because you watched Heat".
    pub title: String,
    /// The row's evidence (Because you watched rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<TitleRef>,
    /// The genre of a genre row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genre: Option<String>,
    /// Titles, best first.
    pub items: Vec<RowTitle>,
}

/// The experiment a profile is in.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Assignment {
    /// Experiment id.
    pub experiment_id: i64,
    /// Experiment name.
    pub experiment: String,
    /// Variant.
    pub variant: String,
}

/// A generated page.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct HomePage {
    /// The profile.
    pub profile_id: i64,
    /// No liked or watched titles yet: popular-by-genre rows.
    pub cold_start: bool,
    /// Fewer than 3 liked or watched titles: the onboarding page helps.
    pub needs_onboarding: bool,
    /// The model behind Top Picks (`popularity` before the first training).
    pub model: String,
    /// Experiments the profile is in.
    pub experiments: Vec<Assignment>,
    /// Rows in page order.
    pub rows: Vec<Row>,
}

/// What the page generator knows about a profile, from its stored signals.
#[derive(Debug, Default, Clone)]
pub struct Profile {
    /// Profile id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Kids profile: maturity filter.
    pub is_kids: bool,
    /// Positive titles with weight and time (newest first after [`Profile::from_signals`]).
    pub positives: Vec<(i64, f32, i64)>,
    /// Thumbs down.
    pub down: HashSet<i64>,
    /// Never show: watched, played, in progress, rated, hidden, thumbs down.
    pub blocked: HashSet<i64>,
    /// Titles it watched or played (a positive outside it was only liked:
    /// a thumb, an onboarding pick).
    pub watched: HashSet<i64>,
}

impl Profile {
    /// Folds a profile's signals: watched (rated 3.5+ or unrated) and played titles
    /// and thumbs up are positives (double up counts 1.5), a thumb down overrides
    /// everything and pushes similar titles down.
    pub fn from_signals(id: i64, name: &str, is_kids: bool, signals: &[Signal]) -> Profile {
        let mut pos: HashMap<i64, (f32, i64)> = HashMap::new();
        let mut down = HashSet::new();
        let mut blocked = HashSet::new();
        let mut watched = HashSet::new();
        let bump = |pos: &mut HashMap<i64, (f32, i64)>, t: i64, w: f32, at: i64| {
            let e = pos.entry(t).or_insert((0.0, at));
            e.0 = e.0.max(w);
            e.1 = e.1.max(at);
        };
        for s in signals {
            blocked.insert(s.title_id);
            match s.kind {
                SignalKind::Watched => {
                    watched.insert(s.title_id);
                    if s.value.is_none_or(|r| r >= 3.5) {
                        bump(&mut pos, s.title_id, 1.0, s.at);
                    }
                }
                SignalKind::Thumb => match s.value.map(|v| v as i64) {
                    Some(-1) => {
                        down.insert(s.title_id);
                    }
                    Some(2) => bump(&mut pos, s.title_id, 1.5, s.at),
                    Some(_) => bump(&mut pos, s.title_id, 1.0, s.at),
                    None => {}
                },
                SignalKind::Hidden => {}
                SignalKind::Playback => {
                    watched.insert(s.title_id);
                    let w = if s.value.unwrap_or(0.0) > 0.0 {
                        1.0
                    } else {
                        0.5
                    };
                    bump(&mut pos, s.title_id, w, s.at);
                }
            }
        }
        let mut positives: Vec<(i64, f32, i64)> = pos
            .into_iter()
            .filter(|(t, _)| !down.contains(t))
            .map(|(t, (w, at))| (t, w, at))
            .collect();
        positives.sort_by(|a, b| b.2.cmp(&a.2).then(b.0.cmp(&a.0)));
        Profile {
            id,
            name: name.to_string(),
            is_kids,
            positives,
            down,
            blocked,
            watched,
        }
    }
}

/// How deep the personal ranking goes before popularity takes over.
const RANK_DEPTH: usize = 3000;
/// Titles sorted at a time in the personal ranking.
const SORT_CHUNK: usize = 256;

/// Best score first, ties by catalog position: a total order.
fn by_score(scores: &[f32], a: &u32, b: &u32) -> std::cmp::Ordering {
    scores[*b as usize]
        .total_cmp(&scores[*a as usize])
        .then(a.cmp(b))
}

/// A profile's scored catalog: what [`Ctx`] starts from. It depends only on
/// the profile's signals and the snapshot's model, so the profile cache keeps
/// one per snapshot generation ([`super::cache::Entry::scored`]) and a request
/// copies it instead of scoring again.
#[derive(Debug, Clone)]
pub struct Scored {
    /// Catalog positions a row may not show (filters).
    allowed: Vec<bool>,
    /// Personal score per catalog position (popularity when cold).
    scores: Vec<f32>,
    /// Model-space positives, for evidence.
    evidence_history: Vec<(u32, f32)>,
    /// Personal ranking (catalog positions), best first up to `sorted`.
    ranked: Vec<u32>,
    sorted: usize,
    personal: bool,
}

impl Scored {
    /// Scores the catalog for a profile with a model (or popularity).
    pub fn new(snap: &Snapshot, cfg: &RecsConfig, model: Option<&Served>, p: &Profile) -> Scored {
        let cat = &*snap.cat;
        let n = cat.len();
        let mut allowed: Vec<bool> = if p.is_kids {
            cat.items.iter().map(|it| it.kids_ok).collect()
        } else {
            vec![true; n]
        };
        for &t in &p.blocked {
            if let Some(c) = cat.pos(t) {
                allowed[c as usize] = false;
            }
        }
        let mut history = Vec::new();
        let mut evidence_history = Vec::new();
        if let Some(m) = model {
            let map = |t: i64| {
                cat.pos(t)
                    .and_then(|c| m.c2m.get(c as usize).copied())
                    .filter(|&d| d != u32::MAX)
            };
            for &(t, w, _) in p.positives.iter().take(cfg.max_history) {
                if let Some(d) = map(t) {
                    history.push((d, w));
                    evidence_history.push((d, w));
                }
            }
            for &t in &p.down {
                if let Some(d) = map(t) {
                    history.push((d, -1.0));
                }
            }
        }
        let personal = model.is_some() && !evidence_history.is_empty();
        let mut scores = vec![0f32; n];
        if let (true, Some(m)) = (personal, model) {
            let mut ms = vec![0f32; m.rec.model.n_items()];
            m.rec.model.score(&history, &mut ms);
            for (d, s) in ms.iter().enumerate() {
                if let Some(&c) = m.m2c.get(d) {
                    if let Some(slot) = scores.get_mut(c as usize) {
                        *slot = *s;
                    }
                }
            }
            // Titles the model does not know rank below every known one, by popularity.
            let floor = scores.iter().fold(f32::INFINITY, |a, b| a.min(*b)).min(0.0);
            for (c, s) in scores.iter_mut().enumerate() {
                if m.c2m.get(c).copied().unwrap_or(u32::MAX) == u32::MAX {
                    *s = floor - 1.0 + cat.pop[c] / (1.0 + cat.pop[c]);
                }
            }
        } else {
            scores.copy_from_slice(&cat.pop);
        }
        // A ranking deep enough for every row: the best few thousand allowed titles,
        // sorted lazily (see `Scored::sort_upto`): a page reads a few hundred.
        let mut ranked: Vec<u32> = (0..n as u32).filter(|&c| allowed[c as usize]).collect();
        let k = RANK_DEPTH.min(ranked.len());
        if k > 0 && k < ranked.len() {
            ranked.select_nth_unstable_by(k - 1, |a, b| by_score(&scores, a, b));
            ranked.truncate(k);
        }
        Scored {
            allowed,
            scores,
            evidence_history,
            ranked,
            sorted: 0,
            personal,
        }
    }

    /// Sorts `ranked` (best first) at least up to `upto`, a chunk at a time: the
    /// order is total (ties by position), so this reads exactly as a full sort.
    pub fn sort_upto(&mut self, upto: usize) {
        let upto = upto.min(self.ranked.len());
        let scores = &self.scores;
        while self.sorted < upto {
            let rest = &mut self.ranked[self.sorted..];
            let chunk = SORT_CHUNK.min(rest.len());
            if chunk < rest.len() {
                rest.select_nth_unstable_by(chunk - 1, |a, b| by_score(scores, a, b));
            }
            rest[..chunk].sort_unstable_by(|a, b| by_score(scores, a, b));
            self.sorted += chunk;
        }
    }
}

/// The head of a [`Scored`] ranking, small enough to cache for every active
/// profile: the best `k` allowed titles, sorted, with their scores.
#[derive(Debug, Clone)]
pub struct Prefix {
    top: Vec<(u32, f32)>,
    evidence_history: Vec<(u32, f32)>,
    personal: bool,
    /// The head holds every allowed title: nothing ranks below it.
    complete: bool,
}

impl Scored {
    /// Keeps the best `k` titles.
    pub fn prefix(mut self, k: usize) -> Prefix {
        let allowed = self.allowed.iter().filter(|a| **a).count();
        self.sort_upto(k);
        let k = k.min(self.ranked.len());
        let top = self.ranked[..k]
            .iter()
            .map(|&c| (c, self.scores.get(c as usize).copied().unwrap_or(0.0)))
            .collect();
        Prefix {
            top,
            evidence_history: self.evidence_history,
            personal: self.personal,
            complete: k == allowed,
        }
    }
}

impl Prefix {
    /// A scored catalog in which only the head is allowed: a ranking read
    /// from it is exact as long as it stays within the head.
    fn scored(&self, catalog: usize) -> Scored {
        let mut allowed = vec![false; catalog];
        let mut scores = vec![0f32; catalog];
        for &(c, s) in &self.top {
            if let (Some(a), Some(x)) = (allowed.get_mut(c as usize), scores.get_mut(c as usize)) {
                *a = true;
                *x = s;
            }
        }
        Scored {
            allowed,
            scores,
            evidence_history: self.evidence_history.clone(),
            ranked: self.top.iter().map(|&(c, _)| c).collect(),
            sorted: self.top.len(),
            personal: self.personal,
        }
    }
}

/// Per-request working set over the catalog: a profile's [`Scored`] catalog
/// and what this request has put on the page.
pub struct Ctx<'a> {
    cat: &'a Catalog,
    cfg: &'a RecsConfig,
    model: Option<&'a Served>,
    s: Scored,
    /// Already on the page.
    used: Vec<bool>,
}

impl<'a> Ctx<'a> {
    /// Scores the catalog for a profile with a model (or popularity).
    pub fn new(
        snap: &'a Snapshot,
        cfg: &'a RecsConfig,
        model: Option<&'a Served>,
        p: &Profile,
    ) -> Ctx<'a> {
        let s = Scored::new(snap, cfg, model, p);
        Ctx::with(snap, cfg, model, s)
    }

    /// Starts from an already scored catalog (made with the same `model`).
    pub fn with(
        snap: &'a Snapshot,
        cfg: &'a RecsConfig,
        model: Option<&'a Served>,
        s: Scored,
    ) -> Ctx<'a> {
        let cat = &*snap.cat;
        Ctx {
            cat,
            cfg,
            model,
            used: vec![false; cat.len()],
            s,
        }
    }

    fn free(&self, c: u32) -> bool {
        let c = c as usize;
        self.s.allowed.get(c).copied().unwrap_or(false)
            && !self.used.get(c).copied().unwrap_or(true)
    }

    fn item(&self, c: u32, score: f32) -> RowTitle {
        let it = &self.cat.items[c as usize];
        RowTitle {
            title_id: it.id,
            name: it.name.clone(),
            year: it.year,
            genres: it
                .genres
                .iter()
                .filter_map(|g| self.cat.genres.get(*g as usize).cloned())
                .collect(),
            score,
            rank: None,
            because: None,
            progress_pct: None,
            poster: it.poster.clone(),
        }
    }

    fn take(&mut self, picks: &[u32]) {
        for &c in picks {
            if let Some(u) = self.used.get_mut(c as usize) {
                *u = true;
            }
        }
    }

    /// Marks titles (by id) as already on the page.
    pub fn mark_used(&mut self, ids: &[i64]) {
        for &id in ids {
            if let Some(c) = self.cat.pos(id) {
                self.used[c as usize] = true;
            }
        }
    }

    fn title_ref(&self, id: i64) -> Option<TitleRef> {
        let c = self.cat.pos(id)?;
        Some(TitleRef {
            title_id: id,
            name: self.cat.items[c as usize].name.clone(),
        })
    }

    /// Evidence for catalog positions: the history title contributing most.
    fn evidence(&self, picks: &[u32]) -> Vec<Option<TitleRef>> {
        let (Some(m), true) = (self.model, self.s.personal) else {
            return vec![None; picks.len()];
        };
        let dense: Vec<u32> = picks
            .iter()
            .map(|&c| m.c2m.get(c as usize).copied().unwrap_or(u32::MAX))
            .collect();
        let known: Vec<u32> = dense.iter().copied().filter(|&d| d != u32::MAX).collect();
        let found = m.rec.model.because_many(&self.s.evidence_history, &known);
        let mut it = found.into_iter();
        dense
            .iter()
            .map(|&d| {
                if d == u32::MAX {
                    return None;
                }
                let (h, contrib) = it.next().flatten()?;
                if contrib <= 0.0 {
                    return None;
                }
                let c = *m.m2c.get(h as usize)?;
                let id = self.cat.items.get(c as usize)?.id;
                self.title_ref(id)
            })
            .collect()
    }

    /// The personal ranking's next `n` free titles passing `keep`.
    pub fn best(&mut self, n: usize, keep: impl Fn(u32) -> bool) -> Vec<u32> {
        let mut out: Vec<u32> = Vec::with_capacity(n);
        let mut i = 0;
        while out.len() < n && i < self.s.ranked.len() {
            if i >= self.s.sorted {
                self.s.sort_upto(i + 1);
            }
            let c = self.s.ranked[i];
            i += 1;
            if self.free(c) && keep(c) {
                out.push(c);
            }
        }
        if out.len() < n {
            // Past the deep ranking: by popularity.
            for &c in &self.cat.pop_order {
                if out.len() >= n {
                    break;
                }
                if self.free(c) && keep(c) && !out.contains(&c) {
                    out.push(c);
                }
            }
        }
        out
    }

    /// Top picks with evidence.
    pub fn top_picks(&mut self, n: usize) -> Vec<RowTitle> {
        let picks = self.best(n, |_| true);
        self.take(&picks);
        let ev = self.evidence(&picks);
        picks
            .iter()
            .zip(ev)
            .map(|(&c, because)| RowTitle {
                because,
                ..self.item(c, self.s.scores[c as usize])
            })
            .collect()
    }

    fn because_row(&mut self, seed: i64, n: usize, watched: bool) -> Option<Row> {
        let m = self.model?;
        let c = self.cat.pos(seed)?;
        let d = *m.c2m.get(c as usize)?;
        if d == u32::MAX {
            return None;
        }
        let sim = m.rec.model.similar(d, n * 8 + 50);
        let mut picks: Vec<(u32, f32)> = Vec::new();
        for (j, s) in sim {
            if s <= 0.0 {
                break;
            }
            let Some(&cj) = m.m2c.get(j as usize) else {
                continue;
            };
            if cj != u32::MAX && self.free(cj) {
                picks.push((cj, s));
                if picks.len() >= n {
                    break;
                }
            }
        }
        if picks.len() < self.cfg.min_row {
            return None;
        }
        let cs: Vec<u32> = picks.iter().map(|e| e.0).collect();
        self.take(&cs);
        let ev = self.title_ref(seed)?;
        Some(Row {
            key: format!("because:{seed}"),
            title: if watched {
                format!("Because you watched {}", ev.name)
            } else {
                format!("Because you liked {}", ev.name)
            },
            items: picks
                .iter()
                .map(|&(c, s)| RowTitle {
                    because: Some(ev.clone()),
                    ..self.item(c, s)
                })
                .collect(),
            evidence: Some(ev),
            genre: None,
        })
    }

    fn list_row(
        &mut self,
        key: &str,
        title: String,
        list: &[(u32, f32)],
        ranks: bool,
    ) -> Option<Row> {
        let n = self.cfg.row_size;
        // Ranks count the titles shown, 1 to 10: a title the profile cannot
        // or need not see (outside its maturity, hidden, in an earlier row)
        // leaves no gap.
        let mut picks: Vec<(u32, f32, u32)> = Vec::new();
        for &(c, s) in list {
            if self.free(c) {
                picks.push((c, s, picks.len() as u32 + 1));
                if picks.len() >= n || (ranks && picks.len() >= 10) {
                    break;
                }
            }
        }
        if picks.len() < self.cfg.min_row {
            return None;
        }
        let cs: Vec<u32> = picks.iter().map(|e| e.0).collect();
        self.take(&cs);
        Some(Row {
            key: key.into(),
            title,
            evidence: None,
            genre: None,
            items: picks
                .iter()
                .map(|&(c, s, r)| RowTitle {
                    rank: ranks.then_some(r),
                    ..self.item(c, s)
                })
                .collect(),
        })
    }

    fn new_arrivals(&mut self) -> Option<Row> {
        // The newest 60 candidates, ranked for the profile.
        let mut pool: Vec<u32> = self
            .cat
            .new_order
            .iter()
            .copied()
            .filter(|&c| self.free(c))
            .take(60)
            .collect();
        pool.sort_by(|a, b| {
            self.s.scores[*b as usize]
                .total_cmp(&self.s.scores[*a as usize])
                .then(a.cmp(b))
        });
        pool.truncate(self.cfg.row_size);
        if pool.len() < self.cfg.min_row {
            return None;
        }
        self.take(&pool);
        Some(Row {
            key: "new_arrivals".into(),
            title: "New arrivals".into(),
            evidence: None,
            genre: None,
            items: pool
                .iter()
                .map(|&c| self.item(c, self.s.scores[c as usize]))
                .collect(),
        })
    }

    /// Genres ordered for the profile: weighted share of its positives (popularity
    /// when cold), each genre row ranked by the personal score.
    fn genre_rows(&mut self, p: &Profile) -> Vec<Row> {
        let ng = self.cat.genres.len();
        let mut affinity = vec![0f32; ng];
        if self.s.personal {
            for &(t, w, _) in p.positives.iter().take(self.cfg.max_history) {
                if let Some(c) = self.cat.pos(t) {
                    for &g in &self.cat.items[c as usize].genres {
                        affinity[g as usize] += w;
                    }
                }
            }
            // A small prior so that unseen genres keep the catalog's order.
            let total: f32 = self.cat.genre_pop.iter().sum::<f32>().max(1.0);
            for (a, gp) in affinity.iter_mut().zip(&self.cat.genre_pop) {
                *a += 0.01 * gp / total;
            }
        } else {
            affinity.copy_from_slice(&self.cat.genre_pop);
        }
        let mut order: Vec<usize> = (0..ng).collect();
        order.sort_by(|&a, &b| affinity[b].total_cmp(&affinity[a]).then(a.cmp(&b)));
        let mut rows = Vec::new();
        for g in order {
            if rows.len() >= self.cfg.genre_rows {
                break;
            }
            let g16 = g as u16;
            let cat = self.cat;
            let picks = self.best(self.cfg.row_size, |c| {
                cat.items[c as usize].genres.contains(&g16)
            });
            if picks.len() < self.cfg.min_row {
                continue;
            }
            self.take(&picks);
            let name = &self.cat.genres[g];
            let (key, title) = if self.s.personal {
                (format!("genre:{name}"), name.clone())
            } else {
                (
                    format!("popular_genre:{name}"),
                    format!("Popular in {name}"),
                )
            };
            rows.push(Row {
                key,
                title,
                evidence: None,
                genre: Some(name.clone()),
                items: picks
                    .iter()
                    .map(|&c| self.item(c, self.s.scores[c as usize]))
                    .collect(),
            });
        }
        rows
    }
}

/// Continue Watching, as the page generator receives it.
#[derive(Debug, Clone)]
pub struct ContinueItem {
    /// The title played (an episode for series).
    pub title_id: i64,
    /// Its series, for de-duplication against the series' card.
    pub series_id: Option<i64>,
    /// Label.
    pub label: String,
    /// Percent watched.
    pub pct: i64,
}

/// Builds a profile's page. `order`: row keys in page order (default [`ROW_KEYS`]).
#[allow(clippy::too_many_arguments)]
pub fn build(
    snap: &Snapshot,
    cfg: &RecsConfig,
    p: &Profile,
    experiments: &[Experiment],
    continue_watching: Vec<ContinueItem>,
    also_shown: &[i64],
) -> HomePage {
    let mut assignments = Vec::new();
    let mut order: Vec<&str> = ROW_KEYS.to_vec();
    let mut model = snap.primary().map(|m| m.as_ref());
    for e in experiments.iter().filter(|e| e.running) {
        let v = e.assign(p.id);
        match e.target {
            Target::TopPicksModel => {
                // Only once every arm's model is served, so that no arm runs on a stand-in.
                let all = e.model_specs().iter().all(|s| snap.models.contains_key(s));
                if !all {
                    continue;
                }
                model = v
                    .model
                    .as_ref()
                    .and_then(|s| snap.models.get(s))
                    .map(|m| m.as_ref());
            }
            Target::RowOrder => {
                if let Some(rows) = &v.rows {
                    let mut o: Vec<&str> = rows.iter().map(String::as_str).collect();
                    for k in ROW_KEYS {
                        if !o.contains(k) {
                            o.push(k);
                        }
                    }
                    order = o;
                }
            }
        }
        assignments.push(Assignment {
            experiment_id: e.id,
            experiment: e.name.clone(),
            variant: v.name.clone(),
        });
    }
    let mut ctx = Ctx::new(snap, cfg, model, p);
    ctx.mark_used(also_shown);
    let cold = !ctx.s.personal;
    let mut rows = Vec::new();
    for key in order {
        match key {
            "continue_watching" => {
                if continue_watching.is_empty() {
                    continue;
                }
                let mut ids = Vec::new();
                let items = continue_watching
                    .iter()
                    .map(|c| {
                        ids.push(c.title_id);
                        if let Some(s) = c.series_id {
                            ids.push(s);
                        }
                        RowTitle {
                            title_id: c.title_id,
                            name: c.label.clone(),
                            year: None,
                            genres: Vec::new(),
                            score: 0.0,
                            rank: None,
                            because: None,
                            progress_pct: Some(c.pct),
                            poster: ctx
                                .cat
                                .pos(c.series_id.unwrap_or(c.title_id))
                                .and_then(|k| ctx.cat.items.get(k as usize))
                                .and_then(|it| it.poster.clone()),
                        }
                    })
                    .collect();
                ctx.mark_used(&ids);
                rows.push(Row {
                    key: "continue_watching".into(),
                    title: "Continue Watching".into(),
                    evidence: None,
                    genre: None,
                    items,
                });
            }
            "top_picks" if !cold => {
                let items = ctx.top_picks(cfg.row_size);
                if items.len() >= cfg.min_row {
                    rows.push(Row {
                        key: "top_picks".into(),
                        title: format!("Top Picks for {}", p.name),
                        evidence: None,
                        genre: None,
                        items,
                    });
                }
            }
            "top10" => {
                let top = ctx.cat.top.clone();
                if let Some(r) = ctx.list_row("top10", "Top 10 this month".into(), &top, true) {
                    rows.push(r);
                }
            }
            "because" if !cold => {
                let mut made = 0;
                for &(seed, _, _) in p.positives.iter().take(30) {
                    if made >= cfg.because_rows {
                        break;
                    }
                    if let Some(r) = ctx.because_row(seed, cfg.row_size, p.watched.contains(&seed))
                    {
                        rows.push(r);
                        made += 1;
                    }
                }
            }
            "trending" => {
                let t = ctx.cat.trending.clone();
                if let Some(r) = ctx.list_row("trending", "Trending now".into(), &t, false) {
                    rows.push(r);
                }
            }
            "new_arrivals" => {
                if let Some(r) = ctx.new_arrivals() {
                    rows.push(r);
                }
            }
            "genres" => rows.extend(ctx.genre_rows(p)),
            _ => {}
        }
    }
    HomePage {
        profile_id: p.id,
        cold_start: cold,
        needs_onboarding: p.positives.len() < 3,
        model: match (model, cold) {
            (Some(m), false) => m.name.clone(),
            _ => "popularity".into(),
        },
        experiments: assignments,
        rows,
    }
}

/// Personal recommendations for the API: ranked, filtered by genres and an
/// exclusion list, paged. `head` is the profile's ranking under the snapshot's
/// primary model ([`Scored::prefix`]); when the request reads past it, the
/// catalog is scored in full with `p`.
#[allow(clippy::too_many_arguments)]
pub fn recommend(
    snap: &Snapshot,
    cfg: &RecsConfig,
    head: &Prefix,
    p: &Profile,
    genres: &[u16],
    exclude: &[i64],
    offset: usize,
    n: usize,
) -> (Vec<RowTitle>, String) {
    let model = snap.primary().map(|m| m.as_ref());
    let from_head = recommend_from(
        snap,
        cfg,
        model,
        head.scored(snap.cat.len()),
        genres,
        exclude,
        offset,
        n,
    );
    if from_head.0.len() == n || head.complete {
        return from_head;
    }
    let scored = Scored::new(snap, cfg, model, p);
    recommend_from(snap, cfg, model, scored, genres, exclude, offset, n)
}

#[allow(clippy::too_many_arguments)]
fn recommend_from(
    snap: &Snapshot,
    cfg: &RecsConfig,
    model: Option<&Served>,
    scored: Scored,
    genres: &[u16],
    exclude: &[i64],
    offset: usize,
    n: usize,
) -> (Vec<RowTitle>, String) {
    let mut ctx = Ctx::with(snap, cfg, model, scored);
    ctx.mark_used(exclude);
    let cat = ctx.cat;
    let picks = ctx.best(offset + n, |c| {
        genres.is_empty()
            || cat.items[c as usize]
                .genres
                .iter()
                .any(|g| genres.contains(g))
    });
    let picks: Vec<u32> = picks.into_iter().skip(offset).collect();
    let ev = ctx.evidence(&picks);
    let items = picks
        .iter()
        .zip(ev)
        .map(|(&c, because)| RowTitle {
            because,
            ..ctx.item(c, ctx.s.scores[c as usize])
        })
        .collect();
    let name = match (model, ctx.s.personal) {
        (Some(m), true) => m.name.clone(),
        _ => "popularity".into(),
    };
    (items, name)
}

/// "More like this" for a title: the model's most similar titles (the most
/// alike by genres, tags and people when the model does not know it, see
/// `marquee_recs::content`), after the profile's filters.
pub fn similar(snap: &Snapshot, p: Option<&Profile>, title_id: i64, n: usize) -> Vec<RowTitle> {
    let cat = &*snap.cat;
    let Some(c) = cat.pos(title_id) else {
        return Vec::new();
    };
    let ok = |j: u32| {
        let it = &cat.items[j as usize];
        j != c && p.is_none_or(|p| !p.blocked.contains(&it.id) && (!p.is_kids || it.kids_ok))
    };
    let mut out: Vec<(u32, f32)> = Vec::new();
    if let Some(m) = snap.primary() {
        let d = m.c2m.get(c as usize).copied().unwrap_or(u32::MAX);
        if d != u32::MAX {
            for (j, s) in m.rec.model.similar(d, n * 4 + 20) {
                if s <= 0.0 {
                    break;
                }
                if let Some(&cj) = m.m2c.get(j as usize) {
                    if cj != u32::MAX && ok(cj) {
                        out.push((cj, s));
                        if out.len() >= n {
                            break;
                        }
                    }
                }
            }
        }
    }
    if out.len() < n {
        // Titles the model does not know (new, no viewers yet), or too few
        // neighbours: the ones sharing the most genres, tags and people.
        let have: Vec<u32> = out.iter().map(|e| e.0).collect();
        let more = cat
            .content
            .similar(c, n - out.len(), &cat.pop, |j| ok(j) && !have.contains(&j));
        out.extend(more);
    }
    out.iter()
        .map(|&(j, s)| {
            let it = &cat.items[j as usize];
            RowTitle {
                title_id: it.id,
                name: it.name.clone(),
                year: it.year,
                genres: it
                    .genres
                    .iter()
                    .filter_map(|g| cat.genres.get(*g as usize).cloned())
                    .collect(),
                score: s,
                rank: None,
                because: None,
                progress_pct: None,
                poster: it.poster.clone(),
            }
        })
        .collect()
}
