//! Change counters for in-process read caches.
//!
//! Every write this process makes through the store that can change what a
//! cache derived from it holds bumps a counter *after* the write is committed
//! (or failed). A reader takes the counter *before* it reads the database and
//! keeps it with what it read; an entry is still good while the counter has not
//! moved. So a cache in front of the store can never serve data older than the
//! last write this process made:
//!
//! - [`ChangeStore::auth_version`]: sessions and accounts (log-in, log-out,
//!   profile selection, password and role changes, sessions revoked).
//! - [`ChangeStore::profile_version`]: one profile's viewing signals and
//!   continuity (history, thumbs, hides, playback state), plus a global part
//!   bumped by bulk writes (imports of titles, series, viewers, ratings).
//!
//! Writes by another process (a `marquee import` against a live database) are
//! not seen: caches bound that with a time to live.

use std::sync::atomic::{AtomicU64, Ordering};

/// Slots of per-profile counters; profiles share a slot modulo this (a shared
/// slot only costs extra invalidations, never a stale read).
const SLOTS: usize = 4096;

/// A profile's data version: equal versions mean unchanged data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataVersion {
    /// Bulk writes (imports).
    pub global: u64,
    /// Writes to this profile's slot.
    pub profile: u64,
}

/// The counters, shared by every clone of a store.
#[derive(Debug)]
pub struct ChangeCounters {
    auth: AtomicU64,
    global: AtomicU64,
    slots: Box<[AtomicU64]>,
}

impl Default for ChangeCounters {
    fn default() -> Self {
        ChangeCounters {
            auth: AtomicU64::new(0),
            global: AtomicU64::new(0),
            slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

fn slot(profile_id: i64) -> usize {
    (profile_id.unsigned_abs() % SLOTS as u64) as usize
}

impl ChangeCounters {
    /// Sessions or accounts changed.
    pub fn bump_auth(&self) {
        self.auth.fetch_add(1, Ordering::SeqCst);
    }

    /// One profile's signals or continuity changed.
    pub fn bump_profile(&self, profile_id: i64) {
        self.slots[slot(profile_id)].fetch_add(1, Ordering::SeqCst);
    }

    /// Anything about any profile may have changed (bulk writes).
    pub fn bump_all(&self) {
        self.global.fetch_add(1, Ordering::SeqCst);
        self.auth.fetch_add(1, Ordering::SeqCst);
    }

    /// The sessions-and-accounts version.
    pub fn auth(&self) -> u64 {
        self.auth.load(Ordering::SeqCst)
    }

    /// A profile's data version.
    pub fn profile(&self, profile_id: i64) -> DataVersion {
        DataVersion {
            global: self.global.load(Ordering::SeqCst),
            profile: self.slots[slot(profile_id)].load(Ordering::SeqCst),
        }
    }
}

/// What a write method will have changed: bumps the counters when dropped, at
/// the end of the method, after its commit (or its failure). Cancelled writes
/// bump too (an extra invalidation is harmless).
#[derive(Debug)]
pub struct BumpOnDrop<'a> {
    counters: &'a ChangeCounters,
    what: Bump,
}

/// Which counter a [`BumpOnDrop`] moves.
#[derive(Debug, Clone, Copy)]
pub enum Bump {
    /// Sessions and accounts.
    Auth,
    /// One profile.
    Profile(i64),
    /// Everything.
    All,
}

impl ChangeCounters {
    /// A guard that bumps `what` when the calling method returns.
    pub fn on_return(&self, what: Bump) -> BumpOnDrop<'_> {
        BumpOnDrop {
            counters: self,
            what,
        }
    }
}

impl Drop for BumpOnDrop<'_> {
    fn drop(&mut self) {
        match self.what {
            Bump::Auth => self.counters.bump_auth(),
            Bump::Profile(p) => self.counters.bump_profile(p),
            Bump::All => self.counters.bump_all(),
        }
    }
}

/// Versions of what this process wrote, for caches in front of the store.
pub trait ChangeStore: Send + Sync {
    /// Moves whenever this process changed sessions or accounts.
    fn auth_version(&self) -> u64;
    /// Moves whenever this process changed the profile's history, thumbs,
    /// hides or playback state (or imported in bulk).
    fn profile_version(&self, profile_id: i64) -> DataVersion;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_move_only_for_what_changed() {
        let c = ChangeCounters::default();
        let (a, p1, p2) = (c.auth(), c.profile(1), c.profile(2));
        c.bump_profile(1);
        assert_ne!(c.profile(1), p1);
        assert_eq!(c.profile(2), p2);
        assert_eq!(c.auth(), a);
        c.bump_auth();
        assert_ne!(c.auth(), a);
        let p2 = c.profile(2);
        c.bump_all();
        assert_ne!(c.profile(2), p2);
        // Ids a slot count apart share a slot: extra invalidation, never less.
        let far = c.profile(3 + SLOTS as i64);
        c.bump_profile(3);
        assert_ne!(c.profile(3 + SLOTS as i64), far);
    }
}
