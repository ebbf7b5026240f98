//! Media files kept open for a moment: a player asks for a title's file in
//! many Range requests (one per MiB or so, several at once), and each used
//! to look the title up in the store, canonicalise the path and open the
//! file again. [`OpenFiles`] keeps a title's open file for [`TTL`], so
//! the requests of one playback share one open file (positional reads need
//! no seek, so sharing is safe), while a file changed on disk is picked up
//! within [`TTL`]; setting a title's file clears it at once
//! ([`OpenFiles::forget`]).
//!
//! Bounded: at most [`CAP`] titles; expired entries are dropped on insert,
//! and a full cache is emptied (a burst of more than [`CAP`] distinct
//! titles in [`TTL`] just opens files as before).

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How long an open file is reused.
pub const TTL: Duration = Duration::from_secs(2);
/// Most titles kept open.
pub const CAP: usize = 256;

/// A title's media file, open.
#[derive(Debug)]
pub struct OpenFile {
    /// Its canonical path (the MIME type, and `ServeFile` for the requests
    /// the fast path leaves to it).
    pub path: PathBuf,
    /// The open file (read with positional reads only).
    pub file: File,
    /// Its length when opened.
    pub len: u64,
    /// Its modification time when opened.
    pub modified: Option<SystemTime>,
}

impl OpenFile {
    /// Opens `path` (blocking: call it on the blocking pool).
    pub fn open(path: PathBuf) -> std::io::Result<OpenFile> {
        let file = File::open(&path)?;
        let meta = file.metadata()?;
        Ok(OpenFile {
            path,
            len: meta.len(),
            modified: meta.modified().ok(),
            file,
        })
    }
}

/// Open media files by title (see the module's doc).
#[derive(Debug, Default)]
pub struct OpenFiles {
    by_title: Mutex<HashMap<i64, (Instant, Arc<OpenFile>)>>,
}

impl OpenFiles {
    /// The open file of `title_id` opened less than [`TTL`] ago.
    pub fn get(&self, title_id: i64, now: Instant) -> Option<Arc<OpenFile>> {
        let map = self.by_title.lock().ok()?;
        let (at, f) = map.get(&title_id)?;
        (now.saturating_duration_since(*at) < TTL).then(|| f.clone())
    }

    /// Keeps `file` as `title_id`'s for [`TTL`] from `now`.
    pub fn put(&self, title_id: i64, file: Arc<OpenFile>, now: Instant) {
        let Ok(mut map) = self.by_title.lock() else {
            return;
        };
        if map.len() >= CAP {
            map.retain(|_, (at, _)| now.saturating_duration_since(*at) < TTL);
            if map.len() >= CAP {
                map.clear();
            }
        }
        map.insert(title_id, (now, file));
    }

    /// Forgets `title_id`'s file (its file was set or cleared).
    pub fn forget(&self, title_id: i64) {
        if let Ok(mut map) = self.by_title.lock() {
            map.remove(&title_id);
        }
    }

    /// Titles held (expired ones included until the next insert sweeps).
    pub fn len(&self) -> usize {
        self.by_title.lock().map_or(0, |m| m.len())
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn file() -> Arc<OpenFile> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.mp4");
        std::fs::write(&p, b"12345").unwrap();
        Arc::new(OpenFile::open(p).unwrap())
    }

    #[test]
    fn reused_until_ttl_then_forgotten() {
        let cache = OpenFiles::default();
        let t0 = Instant::now();
        let f = file();
        assert_eq!(f.len, 5);
        cache.put(7, f.clone(), t0);
        assert!(Arc::ptr_eq(
            &cache.get(7, t0 + Duration::from_millis(1999)).unwrap(),
            &f
        ));
        assert!(cache.get(7, t0 + TTL).is_none());
        assert!(cache.get(8, t0).is_none());
        cache.put(7, f, t0);
        cache.forget(7);
        assert!(cache.get(7, t0).is_none());
    }

    #[test]
    fn bounded() {
        let cache = OpenFiles::default();
        let t0 = Instant::now();
        let f = file();
        for id in 0..CAP as i64 {
            cache.put(id, f.clone(), t0);
        }
        assert_eq!(cache.len(), CAP);
        // Expired entries make room first...
        let later = t0 + TTL;
        cache.put(-1, f.clone(), later);
        assert_eq!(cache.len(), 1);
        // ...and a cache full of live ones is emptied.
        for id in 0..CAP as i64 - 1 {
            cache.put(id, f.clone(), later);
        }
        assert_eq!(cache.len(), CAP);
        cache.put(9999, f, later);
        assert_eq!(cache.len(), 1);
        assert!(cache.get(9999, later).is_some());
    }
}
