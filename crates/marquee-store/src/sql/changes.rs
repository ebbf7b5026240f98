//! [`ChangeStore`], written once for both backends: the counters live in the
//! store and its write methods bump them after they commit. On PostgreSQL,
//! writes by other instances on the same database are not seen; the caches
//! bound that with their time to live.

use super::Backend;
use crate::changes::{ChangeStore, DataVersion};

impl ChangeStore for Backend {
    fn auth_version(&self) -> u64 {
        self.changes.auth()
    }

    fn profile_version(&self, profile_id: i64) -> DataVersion {
        self.changes.profile(profile_id)
    }
}
