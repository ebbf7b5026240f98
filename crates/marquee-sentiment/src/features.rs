//! Hashed sparse features.
//!
//! Feature groups (each with its own weight, then the whole vector is scaled
//! to unit L2 norm):
//! * word unigrams, with a separate identity when inside a negation scope;
//! * word bigrams over the token stream (hashtag tokens excluded);
//! * character n-grams of each word with boundary markers (`<good>`);
//! * lexicon prior: "positive/negative lexicon word", crossed with negated,
//!   intensified, ALL-CAPS, elongated and the clause around a contrast word
//!   (`but`, `however`), valued by the entry's strength; hits of the
//!   general-domain VADER word list (words the hand-written lexicon lacks)
//!   are features of their own;
//! * text level: the net lexicon polarity in five bins (negation flips and
//!   damps, the clause after `but` counts 3x the one before), "no polar
//!   word", and "both polarities";
//! * style: ALL-CAPS and elongated words.
//!
//! The hash is FNV-1a followed by a 64-bit finaliser: fixed, platform
//! independent, with no random state.

use crate::normalize::{Kind, Token};

/// Feature-extraction settings. They are stored in the model file so that a
/// model always extracts features the way it was trained.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureConfig {
    /// Number of hash buckets is `2^hash_bits`.
    pub hash_bits: u8,
    /// Smallest character n-gram length (0 disables character n-grams).
    pub char_min: u8,
    /// Largest character n-gram length.
    pub char_max: u8,
    /// How many words after a negator are marked negated (scope also ends at
    /// punctuation and "but").
    pub neg_window: u8,
    /// Weight of word unigram features.
    pub w_word: f32,
    /// Weight of word bigram features.
    pub w_bigram: f32,
    /// Weight of character n-gram features.
    pub w_char: f32,
    /// Weight of lexicon prior features.
    pub w_lex: f32,
    /// Weight of style features (caps, elongation).
    pub w_style: f32,
    /// Weight of word trigram features (0 disables them).
    pub w_trigram: f32,
    /// Scale each feature group to unit L2 norm before weighting (like a
    /// union of separately normalised vectors), instead of normalising the
    /// whole vector once.
    pub group_norm: bool,
    /// Also use the general-domain (VADER) lexicon for words the
    /// hand-written lexicon lacks, as features of their own.
    pub ext_lex: bool,
    /// Cross lexicon hits with their clause around a contrast word (`but`,
    /// `however`): before it, or after it.
    pub contrast: bool,
    /// Weight of the text-level features (net lexicon polarity bins, "no
    /// polar word", "mixed"); 0 disables them.
    pub w_doc: f32,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            hash_bits: 18,
            char_min: 2,
            char_max: 5,
            neg_window: 3,
            w_word: 1.0,
            w_bigram: 0.5,
            w_char: 0.5,
            w_lex: 2.0,
            w_style: 0.5,
            w_trigram: 0.0,
            group_norm: true,
            ext_lex: true,
            contrast: true,
            w_doc: 1.0,
        }
    }
}

/// Token index meaning "not attributable to one token".
pub(crate) const NO_TOKEN: u16 = u16::MAX;

/// One active feature.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Feat {
    pub idx: u32,
    pub val: f32,
    pub tok: u16,
    pub grp: u8,
}

const G_WORD: u8 = 0;
const G_BIGRAM: u8 = 1;
const G_CHAR: u8 = 2;
const G_LEX: u8 = 3;
const G_STYLE: u8 = 4;
const G_TRIGRAM: u8 = 5;
const G_DOC: u8 = 6;
const N_GROUPS: usize = 7;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

#[inline]
fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

#[inline]
fn fmix(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

#[inline]
fn hash1(ns: u8, a: &[u8]) -> u64 {
    fmix(fnv(fnv(FNV_OFFSET, &[ns]), a))
}

#[inline]
fn hash2(ns: u8, a: &[u8], b: &[u8]) -> u64 {
    fmix(fnv(fnv(fnv(fnv(FNV_OFFSET, &[ns]), a), &[0xff]), b))
}

const NS_WORD: u8 = 1;
const NS_WORD_NEG: u8 = 2;
const NS_CHAR: u8 = 3;
const NS_LEX: u8 = 4;
const NS_STYLE: u8 = 5;
const NS_BIGRAM: u8 = 6;
const NS_TRIGRAM: u8 = 7;
const NS_DOC: u8 = 8;

#[inline]
fn hash3(ns: u8, a: &[u8], b: &[u8], c: &[u8]) -> u64 {
    let h = fnv(fnv(fnv(FNV_OFFSET, &[ns]), a), &[0xff]);
    fmix(fnv(fnv(fnv(h, b), &[0xff]), c))
}

/// Extract features of `tokens` into `out` (cleared first).
pub(crate) fn extract(cfg: &FeatureConfig, tokens: &[Token], out: &mut Vec<Feat>) {
    out.clear();
    let mask = (1u64 << cfg.hash_bits) - 1;
    let gw = [
        cfg.w_word,
        cfg.w_bigram,
        cfg.w_char,
        cfg.w_lex,
        cfg.w_style,
        cfg.w_trigram,
        cfg.w_doc,
    ];
    let push = |out: &mut Vec<Feat>, grp: u8, h: u64, mult: f32, tok: usize| {
        out.push(Feat {
            idx: (h & mask) as u32,
            val: if cfg.group_norm {
                mult
            } else {
                mult * gw[usize::from(grp)]
            },
            tok: u16::try_from(tok).unwrap_or(NO_TOKEN),
            grp,
        });
    };
    let mut buf: Vec<u8> = Vec::with_capacity(64);
    let mut prev: Option<&str> = None;
    let mut prev2: Option<&str> = None;
    let (mut net, mut hits, mut pos_hits, mut neg_hits) = (0f32, 0usize, false, false);
    for (i, t) in tokens.iter().enumerate() {
        let word = t.text.as_bytes();
        let ns = if t.negated { NS_WORD_NEG } else { NS_WORD };
        push(out, G_WORD, hash1(ns, word), 1.0, i);

        if t.kind != Kind::Hashtag {
            if cfg.w_bigram > 0.0 {
                let p = prev.unwrap_or("<s>");
                push(out, G_BIGRAM, hash2(NS_BIGRAM, p.as_bytes(), word), 1.0, i);
            }
            if cfg.w_trigram > 0.0 {
                if let (Some(a), Some(b)) = (prev2, prev) {
                    let h = hash3(NS_TRIGRAM, a.as_bytes(), b.as_bytes(), word);
                    push(out, G_TRIGRAM, h, 1.0, i);
                }
            }
            prev2 = prev;
            prev = Some(&t.text);
        }

        if t.is_wordlike() && cfg.char_min > 0 && cfg.w_char > 0.0 {
            buf.clear();
            buf.push(b'<');
            buf.extend_from_slice(word);
            buf.push(b'>');
            let lo = usize::from(cfg.char_min);
            let hi = usize::from(cfg.char_max);
            // Incremental: extend one FNV state per start position, so the
            // hash of each n-gram equals `hash1(NS_CHAR, gram)`.
            let h0 = fnv(FNV_OFFSET, &[NS_CHAR]);
            for s in 0..buf.len() {
                let mut h = h0;
                for (k, &b) in buf[s..].iter().take(hi).enumerate() {
                    h ^= u64::from(b);
                    h = h.wrapping_mul(FNV_PRIME);
                    if k + 1 >= lo {
                        push(out, G_CHAR, fmix(h), 1.0, i);
                    }
                }
            }
        }

        if t.polarity != 0 && cfg.w_lex > 0.0 && (cfg.ext_lex || !t.ext) {
            let sign = if t.polarity > 0 { b'+' } else { b'-' };
            let strength = f32::from(t.polarity.unsigned_abs());
            let v = strength;
            let neg = if t.negated { b'n' } else { b'a' };
            // Hits of the general lexicon are features of their own (`x`),
            // so the model learns how far to trust each source.
            let src = if t.ext { b'x' } else { b'h' };
            if t.ext {
                push(out, G_LEX, hash1(NS_LEX, &[sign, neg, src]), v, i);
            } else {
                push(out, G_LEX, hash1(NS_LEX, &[sign, neg]), v, i);
            }
            if t.kind == Kind::Emo {
                push(out, G_LEX, hash1(NS_LEX, &[sign, b'e']), v, i);
            }
            if t.intensified {
                push(out, G_LEX, hash1(NS_LEX, &[sign, neg, b'i']), v, i);
            }
            if t.allcaps {
                push(out, G_LEX, hash1(NS_LEX, &[sign, neg, b'c']), v, i);
            }
            if t.elongated {
                push(out, G_LEX, hash1(NS_LEX, &[sign, neg, b'l']), v, i);
            }
            if cfg.contrast && t.clause != 0 {
                push(
                    out,
                    G_LEX,
                    hash1(NS_LEX, &[sign, neg, b'k', t.clause]),
                    v,
                    i,
                );
            }
            if cfg.w_doc > 0.0 {
                // Negation flips and damps; the clause after a contrast
                // word counts more than the one before it.
                let mut x = f32::from(t.polarity);
                if t.negated {
                    x *= -0.5;
                }
                if cfg.contrast {
                    x *= match t.clause {
                        1 => 0.5,
                        2 => 1.5,
                        _ => 1.0,
                    };
                }
                net += x;
                hits += 1;
                if x > 0.0 {
                    pos_hits = true;
                } else if x < 0.0 {
                    neg_hits = true;
                }
            }
        }
        if cfg.w_style > 0.0 {
            if t.allcaps {
                push(out, G_STYLE, hash1(NS_STYLE, b"caps"), 1.0, i);
            }
            if t.elongated {
                push(out, G_STYLE, hash1(NS_STYLE, b"elong"), 1.0, i);
            }
        }
    }
    if cfg.w_doc > 0.0 {
        let bin: &[u8] = if hits == 0 {
            b"none"
        } else if net >= 2.0 {
            b"++"
        } else if net > 0.25 {
            b"+"
        } else if net <= -2.0 {
            b"--"
        } else if net < -0.25 {
            b"-"
        } else {
            b"0"
        };
        push(out, G_DOC, hash1(NS_DOC, bin), 1.0, usize::from(NO_TOKEN));
        if pos_hits && neg_hits {
            push(
                out,
                G_DOC,
                hash1(NS_DOC, b"mixed"),
                1.0,
                usize::from(NO_TOKEN),
            );
        }
    }
    if cfg.group_norm {
        let mut sq = [0f32; N_GROUPS];
        for f in out.iter() {
            sq[usize::from(f.grp)] += f.val * f.val;
        }
        let scale: [f32; N_GROUPS] = std::array::from_fn(|g| {
            if sq[g] > 0.0 {
                gw[g] / sq[g].sqrt()
            } else {
                0.0
            }
        });
        for f in out.iter_mut() {
            f.val *= scale[usize::from(f.grp)];
        }
    }
    let norm: f32 = out.iter().map(|f| f.val * f.val).sum::<f32>().sqrt();
    if norm > 0.0 {
        let inv = 1.0 / norm;
        for f in out.iter_mut() {
            f.val *= inv;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::tokenize;

    fn feats(text: &str, cfg: &FeatureConfig) -> Vec<Feat> {
        let mut toks = Vec::new();
        tokenize(text, usize::from(cfg.neg_window), &mut toks);
        let mut out = Vec::new();
        extract(cfg, &toks, &mut out);
        out
    }

    #[test]
    fn unit_norm_and_in_range() {
        let cfg = FeatureConfig::default();
        let f = feats("I really love this phone!!! :)", &cfg);
        let n: f32 = f.iter().map(|f| f.val * f.val).sum();
        assert!((n - 1.0).abs() < 1e-4);
        assert!(f.iter().all(|f| f.idx < (1 << cfg.hash_bits)));
    }

    #[test]
    fn negation_changes_word_identity() {
        let cfg = FeatureConfig {
            char_min: 0,
            w_bigram: 0.0,
            w_lex: 0.0,
            w_doc: 0.0,
            ..FeatureConfig::default()
        };
        let a = feats("good", &cfg);
        let b = feats("not good", &cfg);
        assert_eq!(a.len(), 1);
        assert_eq!(b.len(), 2);
        assert_ne!(a[0].idx, b[1].idx);
    }

    #[test]
    fn hashing_is_stable() {
        // Fixed values: a change here silently invalidates every trained model.
        assert_eq!(hash1(NS_WORD, b"good"), hash1(NS_WORD, b"good"));
        assert_ne!(hash1(NS_WORD, b"good"), hash1(NS_WORD_NEG, b"good"));
        assert_eq!(fnv(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
