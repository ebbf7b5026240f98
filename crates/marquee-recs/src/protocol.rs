//! Protocol `recs-holdout-v1`: parsing, the deterministic per-user split, checksums and metrics.
//!
//! Everything here works on in-memory text and data; the crate performs no file I/O.

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::{RecsError, Result};
use crate::index::ItemIndex;
use crate::sparse::Csr;
use crate::topn::top_n;

/// Seed of the protocol's test split.
pub const PROTOCOL_SEED: u64 = 42;
/// Seed used to carve the (first) validation split out of TRAIN (hyper-parameter tuning).
pub const VALIDATION_SEED: u64 = 4242;
/// Most validation splits averaged when tuning (seeds `VALIDATION_SEED + k`).
pub const MAX_VALIDATION_FOLDS: usize = 5;

/// How many validation splits tuning averages for a data set with `users` kept users: enough
/// that folds x users reaches about 3,000 user evaluations, between 1 and
/// [`MAX_VALIDATION_FOLDS`]. On ml-latest-small (603 users) one split's NDCG@10 moves by
/// ±0.003 with its seed, more than the differences being chosen between, so it gets five;
/// ml-1m (6,040 users) gets one, as the noise shrinks with the number of users.
pub fn validation_folds_for(users: usize) -> usize {
    3000usize
        .div_ceil(users.max(1))
        .clamp(1, MAX_VALIDATION_FOLDS)
}
/// Minimum number of implicit interactions a user needs to be kept.
pub const MIN_USER_INTERACTIONS: usize = 5;

/// Input formats of step 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// ml-latest-small `ratings.csv`: header `userId,movieId,rating,timestamp`.
    MovielensCsv,
    /// ml-100k `u.data`: tab-separated `user item rating timestamp`, no header.
    Ml100k,
    /// ml-1m / ml-10m `ratings.dat`: `UserID::MovieID::Rating::Timestamp`.
    Ml1m,
    /// Generic CSV `user,item,rating` with a header.
    Csv,
}

impl std::str::FromStr for Format {
    type Err = RecsError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "movielens-csv" => Ok(Self::MovielensCsv),
            "ml100k" => Ok(Self::Ml100k),
            "ml1m" | "ml10m" => Ok(Self::Ml1m),
            "csv" => Ok(Self::Csv),
            other => Err(RecsError::InvalidParameter(format!(
                "unknown format {other:?} (movielens-csv, ml100k, ml1m, csv)"
            ))),
        }
    }
}

/// One explicit rating with raw ids.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rating {
    /// Raw user id.
    pub user: i64,
    /// Raw item id.
    pub item: i64,
    /// Rating value.
    pub rating: f64,
}

/// Parses ratings text of the given format. Blank lines are skipped; for the formats with a
/// header, the first non-blank line is skipped when its first field is not an integer.
pub fn parse_ratings(format: Format, text: &str) -> Result<Vec<Rating>> {
    let mut out = Vec::new();
    let mut first = true;
    for (no, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = match format {
            Format::MovielensCsv | Format::Csv => line.split(',').collect(),
            Format::Ml100k => line.split(['\t', ' ']).filter(|f| !f.is_empty()).collect(),
            Format::Ml1m => line.split("::").collect(),
        };
        let is_first = std::mem::replace(&mut first, false);
        if is_first
            && matches!(format, Format::MovielensCsv | Format::Csv)
            && fields
                .first()
                .is_some_and(|f| f.trim().parse::<i64>().is_err())
        {
            continue;
        }
        let err = |reason: String| RecsError::Parse {
            line: no + 1,
            reason,
        };
        if fields.len() < 3 {
            return Err(err(format!(
                "expected at least 3 fields, found {}",
                fields.len()
            )));
        }
        let user = fields[0]
            .trim()
            .parse::<i64>()
            .map_err(|e| err(format!("user id: {e}")))?;
        let item = fields[1]
            .trim()
            .parse::<i64>()
            .map_err(|e| err(format!("item id: {e}")))?;
        let rating = fields[2]
            .trim()
            .parse::<f64>()
            .map_err(|e| err(format!("rating: {e}")))?;
        out.push(Rating { user, item, rating });
    }
    Ok(out)
}

/// SplitMix64 finaliser (all arithmetic wrapping).
#[inline]
pub fn splitmix64(x: u64) -> u64 {
    let x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let z = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Split key of `(user, item)` for a seed: `splitmix64(splitmix64(splitmix64(seed) ^ u) ^ i)`.
#[inline]
pub fn split_key(seed: u64, user: i64, item: i64) -> u64 {
    splitmix64(splitmix64(splitmix64(seed) ^ user as u64) ^ item as u64)
}

/// A train/test split with dense ids.
#[derive(Clone, Debug)]
pub struct Split {
    /// Raw ids of kept users, ascending; dense user id = position.
    pub users: Vec<i64>,
    /// Items of the kept interactions (train or test).
    pub items: ItemIndex,
    /// Binary users x items TRAIN matrix.
    pub train: Csr,
    /// Each user's TEST items (dense ids, ascending).
    pub test: Vec<Vec<u32>>,
}

/// The numbers published in the protocol's checksum table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitChecksums {
    /// Kept users.
    pub users: usize,
    /// Items in kept interactions.
    pub items: usize,
    /// Items with at least one TRAIN interaction.
    pub catalog: usize,
    /// TRAIN interactions.
    pub train: usize,
    /// TEST interactions.
    pub test: usize,
    /// sha256 of the TRAIN pairs.
    pub train_sha256: String,
    /// sha256 of the TEST pairs.
    pub test_sha256: String,
}

/// Per-user split of an item list by `(key ascending, item ascending)`: returns (test, train).
fn split_user(seed: u64, user: i64, items: &[i64]) -> (Vec<i64>, Vec<i64>) {
    let mut keyed: Vec<(u64, i64)> = items
        .iter()
        .map(|&i| (split_key(seed, user, i), i))
        .collect();
    keyed.sort_unstable();
    let n_test = (items.len() + 2) / 5;
    let test = keyed[..n_test].iter().map(|e| e.1).collect();
    let train = keyed[n_test..].iter().map(|e| e.1).collect();
    (test, train)
}

impl Split {
    /// Steps 2-5 of the protocol: implicit interactions with `rating >= min_rating`, duplicate
    /// pairs collapsed, users with at least 5 interactions, the seeded 80/20 per-user split.
    pub fn build(ratings: &[Rating], min_rating: f64) -> Result<Self> {
        let mut pairs: Vec<(i64, i64)> = ratings
            .iter()
            .filter(|r| r.rating >= min_rating)
            .map(|r| (r.user, r.item))
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        let mut per_user: Vec<(i64, Vec<i64>)> = Vec::new();
        for &(u, i) in &pairs {
            match per_user.last_mut() {
                Some((lu, list)) if *lu == u => list.push(i),
                _ => per_user.push((u, vec![i])),
            }
        }
        per_user.retain(|(_, list)| list.len() >= MIN_USER_INTERACTIONS);
        if per_user.is_empty() {
            return Err(RecsError::InvalidInput(
                "no user has 5 or more interactions".into(),
            ));
        }
        let items = ItemIndex::new(
            per_user
                .iter()
                .flat_map(|(_, l)| l.iter().copied())
                .collect(),
        );
        let users: Vec<i64> = per_user.iter().map(|(u, _)| *u).collect();
        let mut triplets = Vec::new();
        let mut test = Vec::with_capacity(users.len());
        for (du, (u, list)) in per_user.iter().enumerate() {
            let (te, tr) = split_user(PROTOCOL_SEED, *u, list);
            for i in tr {
                let d = items
                    .dense(i)
                    .ok_or_else(|| RecsError::InvalidInput("item index".into()))?;
                triplets.push((du as u32, d, 1.0));
            }
            let mut t: Vec<u32> = te.iter().filter_map(|&i| items.dense(i)).collect();
            t.sort_unstable();
            test.push(t);
        }
        let train = Csr::from_triplets(users.len(), items.len(), &triplets)?;
        Ok(Self {
            users,
            items,
            train,
            test,
        })
    }

    /// `k` validation splits with seeds `VALIDATION_SEED`, `VALIDATION_SEED + 1`, ...
    pub fn validation_folds(&self, k: usize) -> Result<Vec<Self>> {
        (0..k as u64)
            .map(|i| self.validation(VALIDATION_SEED + i))
            .collect()
    }

    /// A validation split carved out of TRAIN with the same per-user rule and another seed.
    /// Users with fewer than 5 TRAIN interactions keep all of them in the new TRAIN and get an
    /// empty validation set (they do not count in the averages). Dense ids are unchanged.
    pub fn validation(&self, seed: u64) -> Result<Self> {
        let mut triplets = Vec::new();
        let mut test = Vec::with_capacity(self.users.len());
        for (du, &u) in self.users.iter().enumerate() {
            let (cols, _) = self.train.row(du);
            // Dense ids follow raw order, so split on raw ids for exactness.
            let raw: Vec<i64> = cols
                .iter()
                .filter_map(|&c| self.items.external(c))
                .collect();
            let (te, tr) = if raw.len() >= MIN_USER_INTERACTIONS {
                split_user(seed, u, &raw)
            } else {
                (Vec::new(), raw)
            };
            for i in tr {
                if let Some(d) = self.items.dense(i) {
                    triplets.push((du as u32, d, 1.0));
                }
            }
            let mut t: Vec<u32> = te.iter().filter_map(|&i| self.items.dense(i)).collect();
            t.sort_unstable();
            test.push(t);
        }
        let train = Csr::from_triplets(self.users.len(), self.items.len(), &triplets)?;
        Ok(Self {
            users: self.users.clone(),
            items: self.items.clone(),
            train,
            test,
        })
    }

    /// Catalog mask: items with at least one TRAIN interaction.
    pub fn catalog(&self) -> Vec<bool> {
        self.train.col_counts().iter().map(|&c| c > 0).collect()
    }

    /// TRAIN pairs with raw ids, sorted by (user, item).
    pub fn train_pairs(&self) -> Vec<(i64, i64)> {
        let mut out = Vec::with_capacity(self.train.nnz());
        for (du, &u) in self.users.iter().enumerate() {
            out.extend(
                self.train
                    .row(du)
                    .0
                    .iter()
                    .filter_map(|&c| self.items.external(c))
                    .map(|i| (u, i)),
            );
        }
        out
    }

    /// TEST pairs with raw ids, sorted by (user, item).
    pub fn test_pairs(&self) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        for (du, &u) in self.users.iter().enumerate() {
            out.extend(
                self.test[du]
                    .iter()
                    .filter_map(|&c| self.items.external(c))
                    .map(|i| (u, i)),
            );
        }
        out
    }

    /// Counts and sha256 checksums as published in the protocol.
    pub fn checksums(&self) -> SplitChecksums {
        let train = self.train_pairs();
        let test = self.test_pairs();
        SplitChecksums {
            users: self.users.len(),
            items: self.items.len(),
            catalog: self.catalog().iter().filter(|&&c| c).count(),
            train: train.len(),
            test: test.len(),
            train_sha256: pairs_sha256(&train),
            test_sha256: pairs_sha256(&test),
        }
    }
}

/// `"{user}\t{item}\n"` lines of sorted pairs, as hashed by the protocol.
pub fn pairs_tsv(pairs: &[(i64, i64)]) -> String {
    let mut s = String::with_capacity(pairs.len() * 12);
    for (u, i) in pairs {
        s.push_str(&format!("{u}\t{i}\n"));
    }
    s
}

/// sha256 (hex) of the protocol serialisation of sorted pairs.
pub fn pairs_sha256(pairs: &[(i64, i64)]) -> String {
    hex::encode(Sha256::digest(pairs_tsv(pairs).as_bytes()))
}

/// Anything that scores the whole catalog from a user's history.
pub trait Scorer: Sync {
    /// Writes one score per dense item into `out` (length = number of items).
    fn score(&self, history: &[(u32, f32)], out: &mut [f32]);
}

impl<F: Fn(&[(u32, f32)], &mut [f32]) + Sync> Scorer for F {
    fn score(&self, history: &[(u32, f32)], out: &mut [f32]) {
        self(history, out)
    }
}

/// Metrics of step 8.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Metrics {
    /// Precision at 10.
    pub p_at_10: f64,
    /// Recall at 20.
    pub r_at_20: f64,
    /// Normalised recall at 20 (denominator `min(20, |TEST_u|)`).
    pub nr_at_20: f64,
    /// NDCG at 10 with binary relevance.
    pub ndcg_at_10: f64,
    /// Catalog coverage of the union of top-10 lists.
    pub cov_at_10: f64,
    /// Users averaged over.
    pub users: usize,
}

impl Metrics {
    /// The mean of several evaluations (e.g. over validation folds); `users` is summed.
    pub fn mean(all: &[Metrics]) -> Metrics {
        let n = all.len().max(1) as f64;
        let avg = |f: fn(&Metrics) -> f64| all.iter().map(f).sum::<f64>() / n;
        Metrics {
            p_at_10: avg(|m| m.p_at_10),
            r_at_20: avg(|m| m.r_at_20),
            nr_at_20: avg(|m| m.nr_at_20),
            ndcg_at_10: avg(|m| m.ndcg_at_10),
            cov_at_10: avg(|m| m.cov_at_10),
            users: all.iter().map(|m| m.users).sum(),
        }
    }
}

/// Steps 6-8: ranks the top 20 candidates of every user with a non-empty TEST set (all kept
/// users under the protocol) and averages the metrics. Runs on the current rayon pool.
pub fn evaluate(split: &Split, scorer: &dyn Scorer) -> Metrics {
    let n_items = split.items.len();
    let catalog = split.catalog();
    let n_catalog = catalog.iter().filter(|&&c| c).count();
    let idcg: Vec<f64> = (0..=10)
        .scan(0.0, |acc, r| {
            if r > 0 {
                *acc += 1.0 / ((r as f64) + 1.0).log2();
            }
            Some(*acc)
        })
        .collect();
    type UserResult = Option<(f64, f64, f64, f64, Vec<u32>)>;
    let per_user: Vec<UserResult> = (0..split.users.len())
        .into_par_iter()
        .map_init(
            || (vec![0f32; n_items], vec![false; n_items]),
            |(scores, seen), u| {
                let test = &split.test[u];
                if test.is_empty() {
                    return None;
                }
                let (cols, _) = split.train.row(u);
                let history: Vec<(u32, f32)> = cols.iter().map(|&c| (c, 1.0)).collect();
                scores.iter_mut().for_each(|s| *s = 0.0);
                scorer.score(&history, scores);
                for &c in cols {
                    seen[c as usize] = true;
                }
                let top = top_n(scores, 20, |i| catalog[i as usize] && !seen[i as usize]);
                for &c in cols {
                    seen[c as usize] = false;
                }
                let mut hits10 = 0usize;
                let mut hits20 = 0usize;
                let mut dcg = 0.0;
                for (r, &(item, _)) in top.iter().enumerate() {
                    if test.binary_search(&item).is_ok() {
                        hits20 += 1;
                        if r < 10 {
                            hits10 += 1;
                            dcg += 1.0 / ((r as f64) + 2.0).log2();
                        }
                    }
                }
                let t = test.len() as f64;
                Some((
                    hits10 as f64 / 10.0,
                    hits20 as f64 / t,
                    hits20 as f64 / t.min(20.0),
                    dcg / idcg[test.len().min(10)],
                    top.iter().take(10).map(|e| e.0).collect(),
                ))
            },
        )
        .collect();
    let mut m = Metrics::default();
    let mut covered = vec![false; n_items];
    for (p, r, nr, nd, top10) in per_user.into_iter().flatten() {
        m.p_at_10 += p;
        m.r_at_20 += r;
        m.nr_at_20 += nr;
        m.ndcg_at_10 += nd;
        m.users += 1;
        for i in top10 {
            covered[i as usize] = true;
        }
    }
    if m.users > 0 {
        let n = m.users as f64;
        m.p_at_10 /= n;
        m.r_at_20 /= n;
        m.nr_at_20 /= n;
        m.ndcg_at_10 /= n;
    }
    m.cov_at_10 = covered.iter().filter(|&&c| c).count() as f64 / n_catalog.max(1) as f64;
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_test_vectors() {
        assert_eq!(splitmix64(0), 0xe220a8397b1dcdaf);
        assert_eq!(splitmix64(42), 0xbdd732262feb6e95);
        assert_eq!(split_key(42, 1, 1), 0x56f806fa1c91f122);
    }

    #[test]
    fn parses_all_formats() {
        let csv = "userId,movieId,rating,timestamp\n1,10,4.0,1\n2,20,3.5,2\n";
        let r = parse_ratings(Format::MovielensCsv, csv).unwrap();
        assert_eq!(
            r,
            vec![
                Rating {
                    user: 1,
                    item: 10,
                    rating: 4.0
                },
                Rating {
                    user: 2,
                    item: 20,
                    rating: 3.5
                }
            ]
        );
        let u = parse_ratings(Format::Ml100k, "196\t242\t3\t881250949\n").unwrap();
        assert_eq!(
            u[0],
            Rating {
                user: 196,
                item: 242,
                rating: 3.0
            }
        );
        let d = parse_ratings(Format::Ml1m, "1::1193::5::978300760\r\n").unwrap();
        assert_eq!(
            d[0],
            Rating {
                user: 1,
                item: 1193,
                rating: 5.0
            }
        );
        let g = parse_ratings(Format::Csv, "user,item,rating\n7,8,1\n").unwrap();
        assert_eq!(
            g[0],
            Rating {
                user: 7,
                item: 8,
                rating: 1.0
            }
        );
        assert!(parse_ratings(Format::Csv, "user,item,rating\n7,x,1\n").is_err());
    }

    #[test]
    fn small_split_follows_the_rules() {
        // user 1: 6 interactions (one duplicate, one below threshold); user 2: 4 -> dropped.
        let mut r = Vec::new();
        for i in 1..=6 {
            r.push(Rating {
                user: 1,
                item: i * 10,
                rating: 5.0,
            });
        }
        r.push(Rating {
            user: 1,
            item: 10,
            rating: 4.0,
        });
        r.push(Rating {
            user: 1,
            item: 70,
            rating: 3.0,
        });
        for i in 1..=4 {
            r.push(Rating {
                user: 2,
                item: i,
                rating: 5.0,
            });
        }
        let s = Split::build(&r, 4.0).unwrap();
        assert_eq!(s.users, vec![1]);
        assert_eq!(s.items.len(), 6);
        assert_eq!(s.test[0].len(), (6 + 2) / 5);
        assert_eq!(s.train.nnz(), 5);
        // The test item is the one with the smallest key.
        let best = (1..=6)
            .map(|i| (split_key(42, 1, i * 10), i * 10))
            .min()
            .unwrap()
            .1;
        assert_eq!(s.test_pairs(), vec![(1, best)]);
        let v = s.validation(VALIDATION_SEED).unwrap();
        assert_eq!(v.train.nnz() + v.test[0].len(), 5);
        assert_eq!(v.test[0].len(), 1);
    }

    fn ml_latest_small() -> Vec<Rating> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data/demo/ml-latest-small/ratings.csv"
        );
        let text = std::fs::read_to_string(path).unwrap();
        parse_ratings(Format::MovielensCsv, &text).unwrap()
    }

    #[test]
    fn ml_latest_small_checksums_match_protocol() {
        let ratings = ml_latest_small();
        let c4 = Split::build(&ratings, 4.0).unwrap().checksums();
        assert_eq!(
            c4,
            SplitChecksums {
                users: 603,
                items: 6298,
                catalog: 5769,
                train: 38858,
                test: 9704,
                train_sha256: "605b4283bcb66368d42c62842d96db7d1c86ab3773e48f43b7ce743a3d9808e0"
                    .into(),
                test_sha256: "13631efa37ebc4ae2832c0660ea63e40f58c767098ea8fc7174380ee7e7067b0"
                    .into(),
            }
        );
        let c0 = Split::build(&ratings, 0.0).unwrap().checksums();
        assert_eq!(
            c0,
            SplitChecksums {
                users: 610,
                items: 9724,
                catalog: 9005,
                train: 80672,
                test: 20164,
                train_sha256: "3e396161696cee40485358c5ce74fefff33b33124e36aa991ac35a13312aae70"
                    .into(),
                test_sha256: "ac3c2450373f53d2b4b3fbb90fe78ad27e3cda089f604efe9dac6e96b358e214"
                    .into(),
            }
        );
    }

    #[test]
    fn metrics_of_an_oracle_and_a_known_ranking() {
        // 2 users, 4 items. User 0 train {0}, test {3}; user 1 train {1}, test {2, 3}.
        let split = Split {
            users: vec![1, 2],
            items: ItemIndex::new(vec![1, 2, 3, 4]),
            train: Csr::from_triplets(2, 4, &[(0, 0, 1.0), (1, 1, 1.0), (0, 2, 1.0), (1, 3, 1.0)])
                .unwrap(),
            test: vec![vec![3], vec![2, 3]],
        };
        // Train also holds (0,2) and (1,3), so candidates are u0: {1,3}, u1: {0,2}.
        // Score = item id: u0 ranks [3, 1] (hit at rank 1); u1 ranks [2, 0] (hit at rank 1).
        let m = evaluate(&split, &|_: &[(u32, f32)], out: &mut [f32]| {
            for (i, o) in out.iter_mut().enumerate() {
                *o = i as f32;
            }
        });
        assert_eq!(m.users, 2);
        assert!((m.p_at_10 - 0.1).abs() < 1e-12);
        assert!((m.r_at_20 - (1.0 + 0.5) / 2.0).abs() < 1e-12);
        let idcg2 = 1.0 + 1.0 / 3f64.log2();
        assert!((m.ndcg_at_10 - (1.0 + 1.0 / idcg2) / 2.0).abs() < 1e-12);
        assert!((m.cov_at_10 - 1.0).abs() < 1e-12);
    }
}
