//! SQLite implementation of [`ChangeStore`]: the counters live in the store and
//! its write methods bump them after they commit.

use super::SqliteStore;
use crate::changes::{ChangeStore, DataVersion};

impl ChangeStore for SqliteStore {
    fn auth_version(&self) -> u64 {
        self.changes.auth()
    }

    fn profile_version(&self, profile_id: i64) -> DataVersion {
        self.changes.profile(profile_id)
    }
}
