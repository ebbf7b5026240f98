//! Per-profile read cache in front of the store for the home page and
//! recommendations: the profile row, its folded signals (history, thumbs,
//! hides, playback), its continuity rows and its last generated page.
//!
//! Invariants (what makes a cached entry still good):
//! - the store's [`DataVersion`] of the profile is unchanged. It moves after
//!   every write this process makes to the profile's history, thumbs, hides or
//!   playback state (feedback, hide, onboarding picks, progress reports,
//!   played/unplayed, Continue Watching hides, starts) and after bulk imports
//!   (see `marquee_store::changes`). The version is read *before* the
//!   database, so an entry is never newer-keyed than its data;
//! - it is younger than `[recs] cache_ttl_s` (bounds what another process, such
//!   as `marquee import` against the live database, wrote);
//! - continuity: Next Up drops a series `next_up_cutoff_days` after its last
//!   play, so the rows are reloaded at the earliest such moment;
//! - the page: built from this entry's signals and continuity, the same
//!   catalog/model snapshot generation and the same experiments generation;
//! - the scored catalog (for `/recommendations`): this entry's signals and the
//!   same snapshot generation (its primary model).
//!
//! `cache_ttl_s = 0` turns the cache off (every request reads the store).

use super::page::{HomePage, Prefix, Profile, Scored};
use super::Snapshot;
use crate::error::AppError;
use crate::AppState;
use marquee_domain::Millis;
use marquee_store::changes::DataVersion;
use marquee_store::playback::RowItem;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Continue Watching and Next Up, as read from continuity.
#[derive(Debug)]
pub struct Continuity {
    /// Continue Watching.
    pub continue_watching: Vec<RowItem>,
    /// Next Up.
    pub next_up: Vec<RowItem>,
    /// Good until (ms): the first moment a Next Up series ages out.
    valid_until: Millis,
}

#[derive(Debug)]
struct CachedPage {
    snapshot: u64,
    experiments: u64,
    continuity: Arc<Continuity>,
    page: Arc<HomePage>,
}

/// One profile's cached reads.
#[derive(Debug)]
pub struct Entry {
    version: DataVersion,
    loaded_at: Millis,
    /// The profile row.
    pub profile: marquee_domain::Profile,
    /// Its signals, folded for the page generator.
    pub signals: Profile,
    continuity: Mutex<Option<Arc<Continuity>>>,
    page: Mutex<Option<CachedPage>>,
    scored: Mutex<Option<(u64, Arc<Prefix>)>>,
}

/// How many of a profile's best titles the cache keeps: `/recommendations`
/// pages up to offset 1,000 and n 100 without scoring again unless a
/// category filter or exclusions reach deeper.
const HEAD: usize = 1200;

/// Hits and misses, for `/metrics` and the bench.
#[derive(Debug, Default, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
pub struct CacheStats {
    /// Profile entries served from memory.
    pub profile_hits: u64,
    /// Profile entries read from the store.
    pub profile_misses: u64,
    /// Pages served from memory.
    pub page_hits: u64,
    /// Pages generated.
    pub page_misses: u64,
    /// Scored catalogs served from memory.
    pub scored_hits: u64,
    /// Scored catalogs computed.
    pub scored_misses: u64,
}

/// The cache (one per server).
#[derive(Debug, Default)]
pub struct ProfileCache {
    entries: Mutex<HashMap<i64, Arc<Entry>>>,
    stats: Mutex<CacheStats>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl ProfileCache {
    /// Hit and miss counts so far.
    pub fn stats(&self) -> CacheStats {
        *lock(&self.stats)
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn count(&self, f: impl FnOnce(&mut CacheStats)) {
        f(&mut lock(&self.stats));
    }
}

fn ttl_ms(state: &AppState) -> i64 {
    i64::try_from(state.recs.config().cache_ttl_s.saturating_mul(1000)).unwrap_or(i64::MAX)
}

/// A profile's entry, checked to belong to the caller: 404 for an unknown
/// profile, 403 for another account's.
pub async fn entry(state: &AppState, account_id: i64, id: i64) -> Result<Arc<Entry>, AppError> {
    let now = state.clock.now_ms();
    let ttl = ttl_ms(state);
    let version = state.store.profile_version(id);
    let cache = &state.recs.cache;
    let hit = if ttl > 0 {
        lock(&cache.entries)
            .get(&id)
            .filter(|e| e.version == version && now >= e.loaded_at && now - e.loaded_at < ttl)
            .cloned()
    } else {
        None
    };
    let e = match hit {
        Some(e) => {
            cache.count(|s| s.profile_hits += 1);
            e
        }
        None => {
            cache.count(|s| s.profile_misses += 1);
            let p = state
                .store
                .profile(id)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("profile {id} not found")))?;
            let signals = state.store.profile_signals(p.id).await?;
            let e = Arc::new(Entry {
                version,
                loaded_at: now,
                signals: Profile::from_signals(p.id, &p.name, p.is_kids, &signals),
                profile: p,
                continuity: Mutex::new(None),
                page: Mutex::new(None),
                scored: Mutex::new(None),
            });
            if ttl > 0 {
                let mut map = lock(&cache.entries);
                if map.len() >= state.recs.config().cache_profiles.max(1) {
                    // Full: forget the oldest half.
                    let mut ages: Vec<Millis> = map.values().map(|e| e.loaded_at).collect();
                    let mid = ages.len() / 2;
                    ages.select_nth_unstable(mid);
                    let cut = ages[mid];
                    map.retain(|_, e| e.loaded_at > cut);
                }
                map.insert(id, e.clone());
            }
            e
        }
    };
    if e.profile.account_id != account_id {
        return Err(AppError::Forbidden(
            "that profile belongs to another account".into(),
        ));
    }
    Ok(e)
}

impl Entry {
    /// Continue Watching and Next Up (from memory while still good).
    pub async fn continuity(&self, state: &AppState) -> Result<Arc<Continuity>, AppError> {
        let now = state.clock.now_ms();
        if let Some(c) = lock(&self.continuity).as_ref() {
            if now < c.valid_until {
                return Ok(c.clone());
            }
        }
        let since = crate::playback::next_up_since(state);
        let cw = state.store.continue_watching(self.profile.id, 12).await?;
        let nu = state.store.next_up(self.profile.id, since, 12).await?;
        // A series leaves Next Up once its last play is older than the cut-off.
        let window = now - since;
        let valid_until = nu
            .iter()
            .map(|i| i.last_played_at.unwrap_or(since).saturating_add(window))
            .min()
            .unwrap_or(Millis::MAX)
            .min(self.loaded_at.saturating_add(ttl_ms(state)));
        let c = Arc::new(Continuity {
            continue_watching: cw,
            next_up: nu,
            valid_until,
        });
        if ttl_ms(state) > 0 {
            *lock(&self.continuity) = Some(c.clone());
        }
        Ok(c)
    }

    /// The page generated for this entry, if still good.
    pub fn page(
        &self,
        state: &AppState,
        snapshot: u64,
        experiments: u64,
        continuity: &Arc<Continuity>,
    ) -> Option<Arc<HomePage>> {
        let hit = lock(&self.page)
            .as_ref()
            .filter(|p| {
                p.snapshot == snapshot
                    && p.experiments == experiments
                    && Arc::ptr_eq(&p.continuity, continuity)
            })
            .map(|p| p.page.clone());
        state.recs.cache.count(|s| match hit {
            Some(_) => s.page_hits += 1,
            None => s.page_misses += 1,
        });
        hit
    }

    /// Keeps a generated page.
    pub fn keep_page(
        &self,
        state: &AppState,
        snapshot: u64,
        experiments: u64,
        continuity: &Arc<Continuity>,
        page: Arc<HomePage>,
    ) {
        if ttl_ms(state) > 0 {
            *lock(&self.page) = Some(CachedPage {
                snapshot,
                experiments,
                continuity: continuity.clone(),
                page,
            });
        }
    }

    /// The head of the profile's ranking under `snap`'s primary model (from
    /// memory while the snapshot is unchanged).
    pub fn ranking(&self, state: &AppState, snap: &Snapshot) -> Arc<Prefix> {
        let hit = lock(&self.scored)
            .as_ref()
            .filter(|(g, _)| *g == snap.generation)
            .map(|(_, s)| s.clone());
        state.recs.cache.count(|s| match hit {
            Some(_) => s.scored_hits += 1,
            None => s.scored_misses += 1,
        });
        if let Some(s) = hit {
            return s;
        }
        let model = snap.primary().map(|m| m.as_ref());
        let head =
            Arc::new(Scored::new(snap, state.recs.config(), model, &self.signals).prefix(HEAD));
        if ttl_ms(state) > 0 {
            *lock(&self.scored) = Some((snap.generation, head.clone()));
        }
        head
    }
}
