//! Versioned, checksummed binary model files.
//!
//! Layout (little endian): magic `MQRECS\0\0` (8 bytes), format version `u32`, object kind
//! `u8` (1 = [`Model`], 2 = [`Recommender`]), payload length `u64`, payload, then the sha256 of
//! everything before it (32 bytes). The crate writes to any `std::io::Write` and reads from a
//! byte slice; it never opens files.

use sha2::{Digest, Sha256};

use crate::als::Als;
use crate::error::{RecsError, Result};
use crate::index::ItemIndex;
use crate::itemitem::{ItemItem, Weights};
use crate::model::{Blend, Model, Popularity, Recommender};
use crate::sparse::Csr;

/// Magic bytes opening every model file.
pub const MAGIC: &[u8; 8] = b"MQRECS\0\0";
/// Current (and only readable) format version.
pub const FORMAT_VERSION: u32 = 1;
const KIND_MODEL: u8 = 1;
const KIND_RECOMMENDER: u8 = 2;
const HEADER: usize = 8 + 4 + 1 + 8;

struct Enc(Vec<u8>);

impl Enc {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f32(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn f32s(&mut self, v: &[f32]) {
        self.u64(v.len() as u64);
        self.0.reserve(v.len() * 4);
        for x in v {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
    }
    fn u32s(&mut self, v: &[u32]) {
        self.u64(v.len() as u64);
        for x in v {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
    }
    fn i64s(&mut self, v: &[i64]) {
        self.u64(v.len() as u64);
        for x in v {
            self.0.extend_from_slice(&x.to_le_bytes());
        }
    }
    fn model(&mut self, m: &Model) {
        match m {
            Model::Popularity(p) => {
                self.u8(0);
                self.f32s(&p.counts);
            }
            Model::ItemItem(m) => {
                self.u8(1);
                self.str(&m.algorithm);
                self.u64(m.n_items as u64);
                match &m.weights {
                    Weights::Dense { items, mat, .. } => {
                        self.u8(0);
                        self.u32s(items);
                        self.f32s(mat);
                    }
                    Weights::Sparse(c) => {
                        self.u8(1);
                        self.u64(c.nrows() as u64);
                        self.u64(c.ncols() as u64);
                        self.u64(c.indptr().len() as u64);
                        for &p in c.indptr() {
                            self.u64(p as u64);
                        }
                        self.u32s(c.indices());
                        self.f32s(c.data());
                    }
                }
            }
            Model::Als(a) => {
                self.u8(2);
                self.u64(a.factors as u64);
                self.f32(a.alpha);
                self.f32(a.regularization);
                self.f32s(&a.item_factors);
                self.f32s(&a.gram);
            }
            Model::Blend(b) => {
                self.u8(3);
                self.u64(b.components.len() as u64);
                for (w, m) in &b.components {
                    self.f32(*w);
                    self.model(m);
                }
            }
        }
    }
}

struct Dec<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len());
        match end {
            Some(e) => {
                let s = &self.b[self.pos..e];
                self.pos = e;
                Ok(s)
            }
            None => Err(RecsError::Malformed(format!("payload ends early at byte {}", self.pos))),
        }
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u64(&mut self) -> Result<u64> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_le_bytes(a))
    }
    fn usize(&mut self) -> Result<usize> {
        usize::try_from(self.u64()?).map_err(|_| RecsError::Malformed("length overflows usize".into()))
    }
    fn len(&mut self, elem: usize) -> Result<usize> {
        let n = self.usize()?;
        if n.checked_mul(elem).is_none_or(|b| b > self.b.len() - self.pos) {
            return Err(RecsError::Malformed(format!("array of {n} elements does not fit in the payload")));
        }
        Ok(n)
    }
    fn f32(&mut self) -> Result<f32> {
        let s = self.take(4)?;
        Ok(f32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn str(&mut self) -> Result<String> {
        let n = self.len(1)?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| RecsError::Malformed("string is not UTF-8".into()))
    }
    fn f32s(&mut self) -> Result<Vec<f32>> {
        let n = self.len(4)?;
        Ok(self.take(n * 4)?.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }
    fn u32s(&mut self) -> Result<Vec<u32>> {
        let n = self.len(4)?;
        Ok(self.take(n * 4)?.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }
    fn i64s(&mut self) -> Result<Vec<i64>> {
        let n = self.len(8)?;
        Ok(self
            .take(n * 8)?
            .chunks_exact(8)
            .map(|c| {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                i64::from_le_bytes(a)
            })
            .collect())
    }
    fn model(&mut self, depth: usize) -> Result<Model> {
        if depth > 8 {
            return Err(RecsError::Malformed("blend nesting too deep".into()));
        }
        match self.u8()? {
            0 => Ok(Model::Popularity(Popularity { counts: self.f32s()? })),
            1 => {
                let algorithm = self.str()?;
                let n_items = self.usize()?;
                match self.u8()? {
                    0 => {
                        let items = self.u32s()?;
                        let mat = self.f32s()?;
                        if mat.len() != items.len() * items.len()
                            || items.iter().any(|&i| i as usize >= n_items)
                            || items.windows(2).any(|w| w[0] >= w[1])
                        {
                            return Err(RecsError::Malformed("dense item-item block is inconsistent".into()));
                        }
                        Ok(Model::ItemItem(ItemItem::dense(&algorithm, n_items, items, mat)))
                    }
                    1 => {
                        let nrows = self.usize()?;
                        let ncols = self.usize()?;
                        let np = self.len(8)?;
                        let indptr = (0..np).map(|_| self.usize()).collect::<Result<Vec<_>>>()?;
                        let indices = self.u32s()?;
                        let data = self.f32s()?;
                        let c = Csr::from_parts(nrows, ncols, indptr, indices, data)
                            .map_err(|e| RecsError::Malformed(e.to_string()))?;
                        if nrows != n_items || ncols != n_items {
                            return Err(RecsError::Malformed("sparse item-item shape".into()));
                        }
                        let mut m = ItemItem::sparse(&algorithm, c);
                        m.algorithm = algorithm;
                        Ok(Model::ItemItem(m))
                    }
                    t => Err(RecsError::Malformed(format!("unknown weights tag {t}"))),
                }
            }
            2 => {
                let factors = self.usize()?;
                let alpha = self.f32()?;
                let regularization = self.f32()?;
                let item_factors = self.f32s()?;
                let gram = self.f32s()?;
                if factors == 0 || item_factors.len() % factors != 0 || gram.len() != factors * factors {
                    return Err(RecsError::Malformed("ALS factor shapes".into()));
                }
                Ok(Model::Als(Als { factors, alpha, regularization, item_factors, gram }))
            }
            3 => {
                let n = self.len(1)?;
                let mut components = Vec::with_capacity(n);
                for _ in 0..n {
                    let w = self.f32()?;
                    components.push((w, self.model(depth + 1)?));
                }
                Ok(Model::Blend(Blend { components }))
            }
            t => Err(RecsError::Malformed(format!("unknown model tag {t}"))),
        }
    }
}

fn kind_name(k: u8) -> String {
    match k {
        KIND_MODEL => "model".into(),
        KIND_RECOMMENDER => "recommender".into(),
        other => format!("unknown object (kind {other})"),
    }
}

fn write_envelope(kind: u8, payload: &[u8], w: &mut impl std::io::Write) -> Result<()> {
    let mut head = Vec::with_capacity(HEADER);
    head.extend_from_slice(MAGIC);
    head.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    head.push(kind);
    head.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    let mut h = Sha256::new();
    h.update(&head);
    h.update(payload);
    w.write_all(&head)?;
    w.write_all(payload)?;
    w.write_all(&h.finalize())?;
    Ok(())
}

fn read_envelope(kind: u8, bytes: &[u8]) -> Result<&[u8]> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(RecsError::BadMagic);
    }
    if bytes.len() < HEADER {
        return Err(RecsError::Truncated(format!("{} bytes, header needs {HEADER}", bytes.len())));
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != FORMAT_VERSION {
        return Err(RecsError::UnsupportedVersion { found: version, expected: FORMAT_VERSION });
    }
    let mut l = [0u8; 8];
    l.copy_from_slice(&bytes[13..21]);
    let len = usize::try_from(u64::from_le_bytes(l)).map_err(|_| RecsError::Malformed("payload length".into()))?;
    let total = HEADER.checked_add(len).and_then(|t| t.checked_add(32));
    match total {
        Some(t) if t <= bytes.len() => {
            if t != bytes.len() {
                return Err(RecsError::Malformed(format!("{} trailing bytes", bytes.len() - t)));
            }
        }
        _ => {
            return Err(RecsError::Truncated(format!(
                "{} bytes, header announces a {len}-byte payload plus checksum",
                bytes.len()
            )))
        }
    }
    let stored = &bytes[HEADER + len..];
    let computed = Sha256::digest(&bytes[..HEADER + len]);
    if stored != computed.as_slice() {
        return Err(RecsError::ChecksumMismatch { stored: hex::encode(stored), computed: hex::encode(computed) });
    }
    if bytes[12] != kind {
        return Err(RecsError::KindMismatch { found: kind_name(bytes[12]), expected: kind_name(kind) });
    }
    Ok(&bytes[HEADER..HEADER + len])
}

impl Model {
    /// Serialises the model into `w`.
    pub fn write_to(&self, w: &mut impl std::io::Write) -> Result<()> {
        let mut e = Enc(Vec::new());
        e.model(self);
        write_envelope(KIND_MODEL, &e.0, w)
    }

    /// Serialises the model into a byte vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = self.write_to(&mut out);
        out
    }

    /// Reads a model written by [`Model::write_to`], verifying magic, version and checksum.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model> {
        let payload = read_envelope(KIND_MODEL, bytes)?;
        let mut d = Dec { b: payload, pos: 0 };
        let m = d.model(0)?;
        if d.pos != payload.len() {
            return Err(RecsError::Malformed("unread bytes after the model".into()));
        }
        Ok(m)
    }
}

impl Recommender {
    /// Serialises the item index and model into `w`.
    pub fn write_to(&self, w: &mut impl std::io::Write) -> Result<()> {
        let mut e = Enc(Vec::new());
        e.i64s(self.index.externals());
        e.model(&self.model);
        write_envelope(KIND_RECOMMENDER, &e.0, w)
    }

    /// Serialises into a byte vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = self.write_to(&mut out);
        out
    }

    /// Reads a recommender written by [`Recommender::write_to`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Recommender> {
        let payload = read_envelope(KIND_RECOMMENDER, bytes)?;
        let mut d = Dec { b: payload, pos: 0 };
        let index = ItemIndex::from_sorted(d.i64s()?).map_err(|e| RecsError::Malformed(e.to_string()))?;
        let model = d.model(0)?;
        if d.pos != payload.len() {
            return Err(RecsError::Malformed("unread bytes after the model".into()));
        }
        if model.n_items() > index.len() {
            return Err(RecsError::Malformed("model scores more items than the index maps".into()));
        }
        Ok(Recommender { index, model })
    }
}
