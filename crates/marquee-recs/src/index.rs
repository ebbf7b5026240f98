//! Mapping between external item ids and dense ids.

use crate::error::{RecsError, Result};

/// Maps external item ids (`i64`, e.g. MovieLens `movieId`) to dense ids `0..len`
/// and back. Dense ids follow the ascending order of external ids.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ItemIndex {
    external: Vec<i64>,
}

impl ItemIndex {
    /// Builds an index from any collection of external ids (sorted and de-duplicated here).
    pub fn new(mut external: Vec<i64>) -> Self {
        external.sort_unstable();
        external.dedup();
        Self { external }
    }

    /// Builds an index from ids that must already be strictly ascending.
    pub fn from_sorted(external: Vec<i64>) -> Result<Self> {
        if external.windows(2).any(|w| w[0] >= w[1]) {
            return Err(RecsError::InvalidInput("item ids are not strictly ascending".into()));
        }
        Ok(Self { external })
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.external.len()
    }

    /// True when the index holds no item.
    pub fn is_empty(&self) -> bool {
        self.external.is_empty()
    }

    /// Dense id of an external id, if known.
    pub fn dense(&self, external: i64) -> Option<u32> {
        self.external.binary_search(&external).ok().map(|k| k as u32)
    }

    /// External id of a dense id, if in range.
    pub fn external(&self, dense: u32) -> Option<i64> {
        self.external.get(dense as usize).copied()
    }

    /// All external ids in dense order.
    pub fn externals(&self) -> &[i64] {
        &self.external
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_both_ways() {
        let idx = ItemIndex::new(vec![30, 10, 20, 10]);
        assert_eq!(idx.len(), 3);
        assert_eq!(idx.dense(20), Some(1));
        assert_eq!(idx.dense(25), None);
        assert_eq!(idx.external(2), Some(30));
        assert_eq!(idx.external(3), None);
        assert!(ItemIndex::from_sorted(vec![1, 1]).is_err());
    }
}
