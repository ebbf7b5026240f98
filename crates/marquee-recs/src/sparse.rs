//! Compressed sparse row matrices (the transpose of a CSR matrix is its CSC view).

use crate::error::{RecsError, Result};

/// A sparse matrix in compressed sparse row form with `f32` values.
///
/// Column indices within a row are sorted ascending and unique. The interaction
/// matrix is a `Csr` of users x items; its [`Csr::transpose`] is the CSC view
/// (items x users).
#[derive(Clone, Debug, PartialEq)]
pub struct Csr {
    nrows: usize,
    ncols: usize,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    data: Vec<f32>,
}

impl Csr {
    /// Builds a matrix from `(row, col, value)` triplets. Duplicate entries are summed.
    pub fn from_triplets(nrows: usize, ncols: usize, triplets: &[(u32, u32, f32)]) -> Result<Self> {
        let mut counts = vec![0usize; nrows + 1];
        for &(r, c, _) in triplets {
            if r as usize >= nrows || c as usize >= ncols {
                return Err(RecsError::InvalidInput(format!(
                    "entry ({r}, {c}) outside a {nrows} x {ncols} matrix"
                )));
            }
            counts[r as usize + 1] += 1;
        }
        for i in 0..nrows {
            counts[i + 1] += counts[i];
        }
        let mut fill = counts.clone();
        let mut cols = vec![0u32; triplets.len()];
        let mut vals = vec![0f32; triplets.len()];
        for &(r, c, v) in triplets {
            let slot = &mut fill[r as usize];
            cols[*slot] = c;
            vals[*slot] = v;
            *slot += 1;
        }
        let mut indptr = Vec::with_capacity(nrows + 1);
        let mut indices = Vec::with_capacity(triplets.len());
        let mut data = Vec::with_capacity(triplets.len());
        indptr.push(0);
        let mut row: Vec<(u32, f32)> = Vec::new();
        for r in 0..nrows {
            row.clear();
            row.extend((counts[r]..counts[r + 1]).map(|k| (cols[k], vals[k])));
            row.sort_by_key(|&(c, _)| c);
            let mut k = 0;
            while k < row.len() {
                let c = row[k].0;
                let mut v = 0.0;
                while k < row.len() && row[k].0 == c {
                    v += row[k].1;
                    k += 1;
                }
                indices.push(c);
                data.push(v);
            }
            indptr.push(indices.len());
        }
        Ok(Self { nrows, ncols, indptr, indices, data })
    }

    /// Builds a matrix directly from its CSR arrays, validating them.
    pub fn from_parts(
        nrows: usize,
        ncols: usize,
        indptr: Vec<usize>,
        indices: Vec<u32>,
        data: Vec<f32>,
    ) -> Result<Self> {
        let bad = |m: &str| Err(RecsError::InvalidInput(format!("CSR arrays: {m}")));
        if indptr.len() != nrows + 1 || indptr.first() != Some(&0) {
            return bad("indptr length or start");
        }
        if indices.len() != data.len() || indptr.last() != Some(&indices.len()) {
            return bad("indices/data length");
        }
        for r in 0..nrows {
            let (a, b) = (indptr[r], indptr[r + 1]);
            if a > b || b > indices.len() {
                return bad("indptr not monotone");
            }
            let row = &indices[a..b];
            if row.iter().any(|&c| c as usize >= ncols) || row.windows(2).any(|w| w[0] >= w[1]) {
                return bad("column indices out of range or unsorted");
            }
        }
        Ok(Self { nrows, ncols, indptr, indices, data })
    }

    /// An empty `nrows x ncols` matrix.
    pub fn empty(nrows: usize, ncols: usize) -> Self {
        Self { nrows, ncols, indptr: vec![0; nrows + 1], indices: Vec::new(), data: Vec::new() }
    }

    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.nrows
    }

    /// Number of columns.
    pub fn ncols(&self) -> usize {
        self.ncols
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Column indices and values of row `r` (empty for an out-of-range row).
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        if r >= self.nrows {
            return (&[], &[]);
        }
        let (a, b) = (self.indptr[r], self.indptr[r + 1]);
        (&self.indices[a..b], &self.data[a..b])
    }

    /// Number of entries in row `r`.
    pub fn row_len(&self, r: usize) -> usize {
        if r >= self.nrows {
            0
        } else {
            self.indptr[r + 1] - self.indptr[r]
        }
    }

    /// Value at `(r, c)`, or `None` if not stored.
    pub fn get(&self, r: usize, c: u32) -> Option<f32> {
        let (cols, vals) = self.row(r);
        cols.binary_search(&c).ok().map(|k| vals[k])
    }

    /// Row pointer array.
    pub fn indptr(&self) -> &[usize] {
        &self.indptr
    }

    /// Column index array.
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    /// Value array.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// Mutable value array (the sparsity pattern stays fixed).
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// The transpose, i.e. the CSC view of this matrix as a CSR matrix.
    pub fn transpose(&self) -> Csr {
        let mut counts = vec![0usize; self.ncols + 1];
        for &c in &self.indices {
            counts[c as usize + 1] += 1;
        }
        for i in 0..self.ncols {
            counts[i + 1] += counts[i];
        }
        let mut fill = counts.clone();
        let mut indices = vec![0u32; self.nnz()];
        let mut data = vec![0f32; self.nnz()];
        for r in 0..self.nrows {
            let (cols, vals) = self.row(r);
            for (&c, &v) in cols.iter().zip(vals) {
                let slot = &mut fill[c as usize];
                indices[*slot] = r as u32;
                data[*slot] = v;
                *slot += 1;
            }
        }
        Csr { nrows: self.ncols, ncols: self.nrows, indptr: counts, indices, data }
    }

    /// Number of entries in each column.
    pub fn col_counts(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.ncols];
        for &c in &self.indices {
            counts[c as usize] += 1;
        }
        counts
    }

    /// Bytes held by the arrays.
    pub fn heap_bytes(&self) -> usize {
        self.indptr.len() * std::mem::size_of::<usize>() + self.indices.len() * 4 + self.data.len() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triplets_sum_duplicates_and_transpose() {
        let m = Csr::from_triplets(2, 3, &[(1, 2, 1.0), (0, 1, 2.0), (1, 2, 3.0), (1, 0, 1.0)]).unwrap();
        assert_eq!(m.row(1), (&[0u32, 2][..], &[1.0f32, 4.0][..]));
        let t = m.transpose();
        assert_eq!(t.nrows(), 3);
        assert_eq!(t.row(2), (&[1u32][..], &[4.0f32][..]));
        assert_eq!(t.transpose(), m);
        assert!(Csr::from_triplets(1, 1, &[(0, 1, 1.0)]).is_err());
    }
}
