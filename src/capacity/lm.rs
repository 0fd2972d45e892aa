//! A small Levenberg–Marquardt least-squares solver for models with a handful of bounded
//! parameters (the USL has three).
//!
//! Minimises `Σ rᵢ(p)²` where `rᵢ = yᵢ − f(xᵢ; p)`. Each step solves
//! `(JᵀJ + μ·diag(JᵀJ)) δ = Jᵀr` (Marquardt's scaling, so parameters of very different sizes —
//! λ ≈ 1000, κ ≈ 0.001 — are treated alike), moves to `clamp(p + δ)`, and keeps the step only
//! when the sum of squares falls; μ shrinks after a good step and grows after a bad one.
//! Bounds: a parameter sitting on a bound whose gradient points out of the box is held fixed
//! for that step (a simple active set), so the solver does not stall against the wall.

// Matrix arithmetic reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

/// A model to fit: residuals and the model's gradient, point by point.
pub trait Model<const P: usize> {
    /// Number of observations.
    fn observations(&self) -> usize;
    /// `(yᵢ − f(xᵢ; p), ∂f(xᵢ; p)/∂p)` for observation `i`, both already weighted.
    fn point(&self, i: usize, p: &[f64; P]) -> (f64, [f64; P]);
}

/// Where the solver stopped.
#[derive(Debug, Clone, Copy)]
pub struct Solution<const P: usize> {
    pub params: [f64; P],
    /// The weighted sum of squared residuals at `params`.
    pub cost: f64,
    pub iterations: usize,
    /// False when the iteration limit stopped the solver before the cost settled.
    pub converged: bool,
}

pub const MAX_ITERATIONS: usize = 500;
const MAX_TRIES: usize = 30;

fn cost<const P: usize>(m: &impl Model<P>, p: &[f64; P]) -> f64 {
    (0..m.observations()).map(|i| m.point(i, p).0.powi(2)).sum()
}

fn clamp<const P: usize>(p: [f64; P], lo: &[f64; P], hi: &[f64; P]) -> [f64; P] {
    let mut out = p;
    for j in 0..P {
        out[j] = p[j].clamp(lo[j], hi[j]);
    }
    out
}

/// Fit `m` from `start`, keeping every parameter within `[lo, hi]`.
pub fn minimise<const P: usize>(
    m: &impl Model<P>,
    start: [f64; P],
    lo: &[f64; P],
    hi: &[f64; P],
) -> Solution<P> {
    let mut p = clamp(start, lo, hi);
    let mut c = cost(m, &p);
    let mut mu = 1e-3;
    let mut iterations = 0;
    let mut converged = false;
    while iterations < MAX_ITERATIONS {
        iterations += 1;
        let mut a = [[0.0; P]; P];
        let mut g = [0.0; P];
        for i in 0..m.observations() {
            let (r, d) = m.point(i, &p);
            for j in 0..P {
                g[j] += d[j] * r;
                for k in 0..P {
                    a[j][k] += d[j] * d[k];
                }
            }
        }
        // Parameters held on a bound for this step.
        let free: [bool; P] = std::array::from_fn(|j| {
            !((p[j] <= lo[j] && g[j] < 0.0) || (p[j] >= hi[j] && g[j] > 0.0))
        });
        let max_diag = (0..P).map(|j| a[j][j]).fold(0.0, f64::max);
        let mut accepted = None;
        for _ in 0..MAX_TRIES {
            let mut mtx = a;
            let mut rhs = g;
            for j in 0..P {
                mtx[j][j] += mu * a[j][j].max(max_diag * 1e-15).max(f64::MIN_POSITIVE);
                if !free[j] {
                    for k in 0..P {
                        mtx[j][k] = 0.0;
                        mtx[k][j] = 0.0;
                    }
                    mtx[j][j] = 1.0;
                    rhs[j] = 0.0;
                }
            }
            let Some(delta) = solve(mtx, rhs) else {
                mu *= 10.0;
                continue;
            };
            let mut next = p;
            for j in 0..P {
                next[j] += delta[j];
            }
            let next = clamp(next, lo, hi);
            let nc = cost(m, &next);
            if nc.is_finite() && nc < c {
                accepted = Some((next, nc));
                mu = (mu / 3.0).max(1e-15);
                break;
            }
            mu *= 4.0;
        }
        let Some((next, nc)) = accepted else {
            converged = true; // no step lowers the cost: a minimum (within the bounds)
            break;
        };
        let moved = (0..P).all(|j| (next[j] - p[j]).abs() <= 1e-12 * (p[j].abs() + 1e-12));
        let gain = (c - nc) / c.max(f64::MIN_POSITIVE);
        p = next;
        c = nc;
        if moved || gain < 1e-14 {
            converged = true;
            break;
        }
    }
    Solution {
        params: p,
        cost: c,
        iterations,
        converged: converged && c.is_finite(),
    }
}

/// `JᵀJ` at `p`, with `J` the (weighted) model gradient of every observation.
pub fn normal_matrix<const P: usize>(m: &impl Model<P>, p: &[f64; P]) -> [[f64; P]; P] {
    let mut a = [[0.0; P]; P];
    for i in 0..m.observations() {
        let (_, d) = m.point(i, p);
        for j in 0..P {
            for k in 0..P {
                a[j][k] += d[j] * d[k];
            }
        }
    }
    a
}

/// The inverse of `a`, column by column; `None` when `a` is singular or not finite.
pub fn invert<const P: usize>(a: [[f64; P]; P]) -> Option<[[f64; P]; P]> {
    // Equilibrate first (D·a·D with D = diag(1/√aᵢᵢ)): the USL's JᵀJ mixes entries of
    // 10⁻⁸ and 10¹², which elimination alone would treat badly.
    let d: [f64; P] = std::array::from_fn(|j| {
        let v = a[j][j];
        if v > 0.0 && v.is_finite() {
            1.0 / v.sqrt()
        } else {
            f64::NAN
        }
    });
    if d.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let scaled: [[f64; P]; P] =
        std::array::from_fn(|j| std::array::from_fn(|k| a[j][k] * d[j] * d[k]));
    let mut inv = [[0.0; P]; P];
    for col in 0..P {
        let mut e = [0.0; P];
        e[col] = 1.0;
        let x = solve(scaled, e)?;
        for row in 0..P {
            inv[row][col] = x[row] * d[row] * d[col];
        }
    }
    // A near-singular matrix gives an inverse that does not undo it.
    for j in 0..P {
        for k in 0..P {
            let v: f64 = (0..P)
                .map(|m| scaled[j][m] * inv[m][k] / (d[m] * d[k]))
                .sum();
            let want = if j == k { 1.0 } else { 0.0 };
            if !v.is_finite() || (v - want).abs() > 1e-6 {
                return None;
            }
        }
    }
    Some(inv)
}

/// Solve `a·x = b` by Gaussian elimination with partial pivoting; `None` when singular.
fn solve<const P: usize>(mut a: [[f64; P]; P], mut b: [f64; P]) -> Option<[f64; P]> {
    for col in 0..P {
        let pivot = (col..P).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))?;
        if a[pivot][col].abs() < 1e-300 || !a[pivot][col].is_finite() {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..P {
            let f = a[row][col] / a[col][col];
            for k in col..P {
                a[row][k] -= f * a[col][k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0; P];
    for row in (0..P).rev() {
        let s: f64 = (row + 1..P).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// y = a·exp(b·x), a textbook nonlinear fit.
    struct Exp {
        xs: Vec<f64>,
        ys: Vec<f64>,
    }

    impl Model<2> for Exp {
        fn observations(&self) -> usize {
            self.xs.len()
        }
        fn point(&self, i: usize, p: &[f64; 2]) -> (f64, [f64; 2]) {
            let x = self.xs[i];
            let e = (p[1] * x).exp();
            (self.ys[i] - p[0] * e, [e, p[0] * x * e])
        }
    }

    #[test]
    fn recovers_an_exact_model_from_far_away() {
        let xs: Vec<f64> = (0..20).map(|i| i as f64 * 0.25).collect();
        let ys = xs.iter().map(|x| 3.0 * (-0.7 * x).exp()).collect();
        let s = minimise(&Exp { xs, ys }, [1.0, 0.0], &[-10.0, -10.0], &[10.0, 10.0]);
        assert!((s.params[0] - 3.0).abs() < 1e-8, "{s:?}");
        assert!((s.params[1] + 0.7).abs() < 1e-8, "{s:?}");
        assert!(s.cost < 1e-15);
    }

    #[test]
    fn respects_bounds() {
        // The best b is −0.7, but b may not go below −0.5.
        let xs: Vec<f64> = (0..20).map(|i| i as f64 * 0.25).collect();
        let ys = xs.iter().map(|x| 3.0 * (-0.7 * x).exp()).collect();
        let s = minimise(&Exp { xs, ys }, [1.0, 0.0], &[0.0, -0.5], &[10.0, 10.0]);
        assert_eq!(s.params[1], -0.5);
        assert!(s.params[0] > 0.0);
    }

    /// r = exp(−p): the cost falls for ever as p grows, so no minimum is ever reached.
    struct Runaway;

    impl Model<1> for Runaway {
        fn observations(&self) -> usize {
            1
        }
        fn point(&self, _: usize, p: &[f64; 1]) -> (f64, [f64; 1]) {
            let e = (-p[0]).exp();
            (e, [e])
        }
    }

    #[test]
    fn a_minimum_at_infinity_is_not_converged() {
        let s = minimise(&Runaway, [0.0], &[-1e300], &[1e300]);
        assert!(!s.converged, "{s:?}");
        assert_eq!(s.iterations, MAX_ITERATIONS);
        let s = minimise(&Runaway, [0.0], &[-1e300], &[3.0]);
        assert!(s.converged && s.params[0] == 3.0, "{s:?}");
    }

    #[test]
    fn inverts_badly_scaled_matrices() {
        let a = [[4e12, 2e3, 1.0], [2e3, 3.0, 1e-5], [1.0, 1e-5, 2e-8]];
        let inv = invert(a).unwrap();
        for j in 0..3 {
            for k in 0..3 {
                let v: f64 = (0..3).map(|m| a[j][m] * inv[m][k]).sum();
                let want = if j == k { 1.0 } else { 0.0 };
                assert!((v - want).abs() < 1e-9, "{j},{k}: {v}");
            }
        }
        assert!(invert([[1.0, 2.0], [2.0, 4.0]]).is_none());
    }

    #[test]
    fn solves_small_systems() {
        let x = solve([[2.0, 1.0], [1.0, 3.0]], [3.0, 5.0]).unwrap();
        assert!((x[0] - 0.8).abs() < 1e-12 && (x[1] - 1.4).abs() < 1e-12);
        assert!(solve([[1.0, 2.0], [2.0, 4.0]], [1.0, 2.0]).is_none());
    }
}
