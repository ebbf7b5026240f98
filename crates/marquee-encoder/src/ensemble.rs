//! Several heads whose class probabilities are averaged: a seed ensemble.
//!
//! Fine-tuning the same layers with other seeds (other batches, other
//! warm-start shuffles, other dropout masks) lands on models that err on
//! different texts; averaging their probabilities keeps what they agree
//! on. Each member runs the encoder with its own fine-tuned layers, so an
//! ensemble of `n` costs `n` times one head to serve.
//!
//! # File format (version 1)
//! Little-endian, no padding:
//! ```text
//! magic      8 bytes  "MQENSEM\0"
//! version    u32      1
//! members    u32      n, 2 ≤ n ≤ 16
//! per member:
//!   len      u64      length of the member's head file
//!   head              len bytes, a head file (crate::head's format)
//! ```
//! An ensemble of one is written as its head's own file, so a single head
//! keeps its bytes and either file loads as an [`Ensemble`].

use marquee_sentiment::Prediction;

use crate::{Encoder, Error, Head, Result};

const MAGIC: &[u8; 8] = b"MQENSEM\0";
const VERSION: u32 = 1;
/// The most members a file may hold.
pub const MAX_MEMBERS: usize = 16;

/// One head or several averaged. See the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct Ensemble {
    members: Vec<Head>,
}

impl From<Head> for Ensemble {
    fn from(head: Head) -> Ensemble {
        Ensemble {
            members: vec![head],
        }
    }
}

impl Ensemble {
    /// An ensemble of `members`: 1 to [`MAX_MEMBERS`] heads trained on
    /// the same encoder (the same fingerprint and embedding size).
    pub fn new(members: Vec<Head>) -> Result<Ensemble> {
        let Some(first) = members.first() else {
            return Err(Error::BadHead("an ensemble needs at least one head".into()));
        };
        if members.len() > MAX_MEMBERS {
            return Err(Error::BadHead(format!(
                "{} heads; an ensemble holds at most {MAX_MEMBERS}",
                members.len()
            )));
        }
        if let Some((i, m)) = members
            .iter()
            .enumerate()
            .find(|(_, m)| m.fingerprint() != first.fingerprint() || m.dims() != first.dims())
        {
            return Err(Error::Mismatch(format!(
                "head {} of the ensemble was trained on encoder {} ({} dims), head 1 on {} ({} dims)",
                i + 1,
                m.fingerprint(),
                m.dims(),
                first.fingerprint(),
                first.dims()
            )));
        }
        Ok(Ensemble { members })
    }

    /// The heads, in file order.
    pub fn members(&self) -> &[Head] {
        &self.members
    }

    /// The most fine-tuned layers any member replaces (0: plain heads).
    pub fn top_layers(&self) -> usize {
        self.members.iter().map(Head::top_layers).max().unwrap_or(0)
    }

    /// Fingerprint of the encoder the heads were trained on.
    pub fn fingerprint(&self) -> &str {
        self.members.first().map_or("", |m| m.fingerprint())
    }

    /// Error unless every member was trained on `encoder`.
    pub fn check_encoder(&self, encoder: &Encoder) -> Result<()> {
        self.members
            .iter()
            .try_for_each(|m| m.check_encoder(encoder))
    }

    /// Embed `texts` with `encoder` once per member with fine-tuned layers
    /// (each runs its own) and once for all the plain members (they share
    /// the encoder's embeddings), and average the members' probabilities.
    pub fn predict_texts<S: AsRef<str>>(
        &self,
        encoder: &Encoder,
        texts: &[S],
    ) -> Result<Vec<Prediction>> {
        self.check_encoder(encoder)?;
        let mut plain: Option<Vec<Vec<f32>>> = None;
        let mut each = Vec::with_capacity(self.members.len());
        for m in &self.members {
            let own;
            let emb = if m.top_layers() == 0 {
                match &mut plain {
                    Some(e) => &*e,
                    slot => &*slot.insert(encoder.embed_batch(texts)?),
                }
            } else {
                own = m.embed_texts(encoder, texts)?;
                &own
            };
            each.push(
                emb.iter()
                    .map(|e| m.predict(e))
                    .collect::<Result<Vec<_>>>()?,
            );
        }
        average(&each)
    }

    /// The deterministic file encoding (see the module docs).
    pub fn to_bytes(&self) -> Vec<u8> {
        if let [one] = self.members.as_slice() {
            return one.to_bytes();
        }
        let mut b = Vec::new();
        b.extend_from_slice(MAGIC);
        b.extend_from_slice(&VERSION.to_le_bytes());
        b.extend_from_slice(&(self.members.len() as u32).to_le_bytes());
        for m in &self.members {
            let bytes = m.to_bytes();
            b.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            b.extend_from_slice(&bytes);
        }
        b
    }

    /// Parse an ensemble file or a single head's file (an ensemble of one).
    pub fn from_bytes(bytes: &[u8]) -> Result<Ensemble> {
        let Some(rest) = bytes.strip_prefix(MAGIC) else {
            return Ok(Ensemble::from(Head::from_bytes(bytes)?));
        };
        let truncated = || Error::BadHead("ensemble file is truncated".into());
        let (version, rest) = split_u32(rest).ok_or_else(truncated)?;
        if version != VERSION {
            return Err(Error::BadHead(format!(
                "ensemble format version {version}, this build reads {VERSION}"
            )));
        }
        let (n, mut rest) = split_u32(rest).ok_or_else(truncated)?;
        let n = n as usize;
        if !(2..=MAX_MEMBERS).contains(&n) {
            return Err(Error::BadHead(format!(
                "an ensemble file of {n} heads (2 to {MAX_MEMBERS} expected)"
            )));
        }
        let mut members = Vec::with_capacity(n);
        for i in 1..=n {
            let (len, tail) = rest
                .split_first_chunk::<8>()
                .map(|(l, t)| (u64::from_le_bytes(*l), t))
                .ok_or_else(truncated)?;
            let len = usize::try_from(len)
                .ok()
                .filter(|&l| l <= tail.len())
                .ok_or_else(truncated)?;
            let (head, tail) = tail.split_at(len);
            members.push(Head::from_bytes(head).map_err(|e| match e {
                Error::BadHead(m) => Error::BadHead(format!("head {i} of {n}: {m}")),
                e => e,
            })?);
            rest = tail;
        }
        if !rest.is_empty() {
            return Err(Error::BadHead(format!(
                "{} trailing bytes after the ensemble's heads",
                rest.len()
            )));
        }
        Ensemble::new(members)
    }
}

fn split_u32(b: &[u8]) -> Option<(u32, &[u8])> {
    b.split_first_chunk::<4>()
        .map(|(v, t)| (u32::from_le_bytes(*v), t))
}

/// The mean of several models' predictions of the same texts: per text,
/// the class probabilities averaged and the label their argmax. `each[k][i]`
/// is model `k`'s prediction of text `i`; every model must predict every
/// text.
pub fn average(each: &[Vec<Prediction>]) -> Result<Vec<Prediction>> {
    let Some((first, others)) = each.split_first() else {
        return Err(Error::Data("no predictions to average".into()));
    };
    if let Some(o) = others.iter().find(|o| o.len() != first.len()) {
        return Err(Error::Data(format!(
            "{} and {} predictions to average",
            first.len(),
            o.len()
        )));
    }
    Ok((0..first.len())
        .map(|i| {
            // Running mean: after k models, blend the next in with 1/(k+1).
            others
                .iter()
                .enumerate()
                .fold(first[i].clone(), |acc, (k, o)| {
                    let k = (k + 1) as f32;
                    acc.blend(&o[i], k / (k + 1.0))
                })
        })
        .collect())
}
