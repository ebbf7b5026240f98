//! Small dense kernels written so that LLVM vectorises them.

/// Dot product with eight independent accumulators.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// `y += alpha * x`.
#[inline(always)]
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    for (yv, xv) in y.iter_mut().zip(x) {
        *yv += alpha * xv;
    }
}

/// In-place Cholesky factorisation of a small dense symmetric positive definite
/// row-major `n x n` matrix (lower triangle used and overwritten).
/// Returns `false` if the matrix is not positive definite.
pub fn cholesky(a: &mut [f32], n: usize) -> bool {
    for j in 0..n {
        let mut d = a[j * n + j] as f64;
        for k in 0..j {
            d -= (a[j * n + k] as f64).powi(2);
        }
        if d <= 0.0 || !d.is_finite() {
            return false;
        }
        let d = d.sqrt();
        a[j * n + j] = d as f32;
        for i in j + 1..n {
            let (ri, rj) = (i * n, j * n);
            let s = a[ri + j] - dot(&a[ri..ri + j], &a[rj..rj + j]);
            a[ri + j] = s / d as f32;
        }
    }
    true
}

/// Solves `L L^T x = b` in place given the factor from [`cholesky`].
pub fn cholesky_solve(l: &[f32], n: usize, b: &mut [f32]) {
    for i in 0..n {
        let s = b[i] - dot(&l[i * n..i * n + i], &b[..i]);
        b[i] = s / l[i * n + i];
    }
    for i in (0..n).rev() {
        let mut s = b[i];
        for k in i + 1..n {
            s -= l[k * n + i] * b[k];
        }
        b[i] = s / l[i * n + i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_spd_system() {
        // A = [[4, 2, 0], [2, 5, 1], [0, 1, 3]]
        let a0 = [4.0, 2.0, 0.0, 2.0, 5.0, 1.0, 0.0, 1.0, 3.0f32];
        let mut a = a0;
        assert!(cholesky(&mut a, 3));
        let x = [1.0f32, -2.0, 0.5];
        let mut b: Vec<f32> = (0..3).map(|i| dot(&a0[i * 3..i * 3 + 3], &x)).collect();
        cholesky_solve(&a, 3, &mut b);
        for (u, v) in b.iter().zip(x) {
            assert!((u - v).abs() < 1e-5, "{u} vs {v}");
        }
        let mut not_pd = [1.0f32, 2.0, 2.0, 1.0];
        assert!(!cholesky(&mut not_pd, 2));
    }

    #[test]
    fn dot_matches_naive() {
        let a: Vec<f32> = (0..19).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..19).map(|i| 1.0 - i as f32 * 0.1).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-3);
    }
}
