//! Confidence intervals for the fitted coefficients and for what is computed from them.
//!
//! - **Coefficients**: `estimate ± t · SE`, with `SE` from the fit's covariance
//!   `s²·(JᵀJ)⁻¹` ([`super::fit`]) and `t` the two-sided Student-t quantile at `n − 3`
//!   degrees of freedom (`t₀.₉₇₅,ₙ₋₃` for 95 %). The interval is cut at the coefficient's
//!   bounds (σ, κ in [0, 1], λ ≥ 0).
//! - **Derived figures** (N*, X(N*), the optimal load 1/σ, the Amdahl limit λ/σ): the delta
//!   method. For `g(σ, κ, λ)`, `Var g ≈ ∇gᵀ · cov · ∇g`, with `∇g` by central differences.
//!   These figures are positive, so the interval is taken on `ln g` (whose standard error is
//!   `SE(g)/g`): `g · exp(±t · SE(g)/g)`. It stays above zero, is asymmetric like the figure's
//!   real uncertainty (1/σ when σ's interval reaches 0, for instance), and equals `g ± t·SE`
//!   to first order when the interval is narrow. It is a first-order approximation:
//!   optimistic when a coefficient sits on its bound (its uncertainty is one-sided there).
//!
//! R's `usl` package computes the same standard errors, but its `confint` uses
//! `qt(level, n − 1)`: the one-sided quantile (1.645-like for 95 %, not 1.96-like) at `n − 1`
//! degrees of freedom, which makes its intervals narrower than these.

use super::fit::Fit;
use super::usl::Usl;
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// The confidence level of every interval.
pub const LEVEL: f64 = 0.95;

/// An estimate with its standard error and confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub estimate: f64,
    pub standard_error: f64,
    pub low: f64,
    pub high: f64,
}

/// The Student-t quantile `t_p` with `df` degrees of freedom; `None` when `df` is 0.
pub fn t_quantile(p: f64, df: usize) -> Option<f64> {
    let t = StudentsT::new(0.0, 1.0, df as f64).ok()?;
    let q = t.inverse_cdf(p);
    q.is_finite().then_some(q)
}

/// The two-sided quantile the intervals use: `t₀.₉₇₅` at the fit's degrees of freedom.
pub fn t_two_sided(fit: &Fit) -> Option<f64> {
    t_quantile(1.0 - (1.0 - LEVEL) / 2.0, fit.df)
}

/// Intervals for `[σ, κ, λ]`, cut at their bounds.
pub fn coefficients(fit: &Fit) -> Option<[Interval; 3]> {
    let t = t_two_sided(fit)?;
    let se = fit.standard_errors();
    let u = fit.usl;
    let est = [u.sigma, u.kappa, u.lambda];
    let hi = [1.0, 1.0, f64::INFINITY];
    Some(std::array::from_fn(|j| Interval {
        estimate: est[j],
        standard_error: se[j],
        low: (est[j] - t * se[j]).max(0.0),
        high: (est[j] + t * se[j]).min(hi[j]),
    }))
}

/// The delta-method interval of a positive `g`, on the log scale (see the module doc); `None`
/// when `g` is not defined or not positive at the estimate, or its spread cannot be computed.
pub fn derived(fit: &Fit, g: impl Fn(&Usl) -> Option<f64>) -> Option<Interval> {
    let t = t_two_sided(fit)?;
    let u = fit.usl;
    let estimate = g(&u)?;
    let p = [u.sigma, u.kappa, u.lambda];
    let se = fit.standard_errors();
    let at = |q: [f64; 3]| {
        g(&Usl {
            sigma: q[0],
            kappa: q[1],
            lambda: q[2],
        })
    };
    let mut grad = [0.0; 3];
    for j in 0..3 {
        // A step small against both the coefficient and its uncertainty.
        let h = 1e-6 * p[j].abs().max(se[j]).max(1e-12);
        let (mut up, mut down) = (p, p);
        up[j] += h;
        down[j] -= h;
        grad[j] = (at(up)? - at(down)?) / (2.0 * h);
    }
    let var: f64 = (0..3)
        .flat_map(|j| (0..3).map(move |k| (j, k)))
        .map(|(j, k)| grad[j] * fit.covariance[j][k] * grad[k])
        .sum();
    if !(var.is_finite() && estimate.is_finite() && estimate > 0.0) {
        return None;
    }
    let standard_error = var.max(0.0).sqrt();
    let spread = (t * standard_error / estimate).exp();
    let (low, high) = (estimate / spread, estimate * spread);
    (low.is_finite() && high.is_finite()).then_some(Interval {
        estimate,
        standard_error,
        low,
        high,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::Point;
    use crate::capacity::fit::{FitMethod, fit};

    /// A standard normal draw (Box–Muller) from a seeded generator.
    fn normal(rng: &mut fastrand::Rng) -> f64 {
        let u1 = rng.f64().max(1e-300);
        let u2 = rng.f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// The intervals are worth their name: over many data sets drawn from a known USL with
    /// Gaussian noise of constant spread (what the absolute fit assumes), each 95 % interval
    /// holds the true value in about 95 % of them. Too narrow a quantile (usl's
    /// `qt(0.95, n − 1)`, say) would hold it in about 90 %.
    #[test]
    fn intervals_cover_the_truth_about_95_percent_of_the_time() {
        let truth = Usl {
            sigma: 0.03,
            kappa: 0.0008,
            lambda: 1000.0,
        };
        let n_star = truth.peak_exact().unwrap();
        let x_star = truth.throughput(n_star);
        let ns = [1.0, 2.0, 4.0, 8.0, 12.0, 16.0, 24.0, 32.0, 40.0, 48.0];
        let runs = 1000;
        let mut held = [0u32; 5];
        // σ's interval with usl's confint quantile, qt(0.95, n − 1), for comparison.
        let q_usl = t_quantile(0.95, ns.len() - 1).unwrap();
        let mut held_usl = 0u32;
        for seed in 0..runs {
            let mut rng = fastrand::Rng::with_seed(seed);
            let pts: Vec<Point> = ns
                .iter()
                .map(|&n| Point {
                    concurrency: n,
                    throughput: truth.throughput(n) + 150.0 * normal(&mut rng),
                })
                .collect();
            let f = fit(&pts, FitMethod::Absolute).unwrap();
            let c = coefficients(&f).unwrap();
            let n = derived(&f, |v| v.peak_exact()).unwrap();
            let x = derived(&f, |v| v.peak_exact().map(|n| v.throughput(n))).unwrap();
            let inside = |i: &Interval, v: f64| i.low <= v && v <= i.high;
            let se = f.standard_errors()[0];
            held_usl += u32::from((f.usl.sigma - truth.sigma).abs() <= q_usl * se);
            for (k, ok) in [
                inside(&c[0], truth.sigma),
                inside(&c[1], truth.kappa),
                inside(&c[2], truth.lambda),
                inside(&n, n_star),
                inside(&x, x_star),
            ]
            .into_iter()
            .enumerate()
            {
                held[k] += u32::from(ok);
            }
        }
        println!(
            "coverage of 95 % intervals over {runs} data sets (σ, κ, λ, N*, X(N*)): {held:?}; σ with usl's qt(0.95, n − 1): {held_usl}"
        );
        assert!(held_usl < held[0] && f64::from(held_usl) < 0.92 * f64::from(runs as u32));
        for h in held {
            let share = f64::from(h) / f64::from(runs as u32);
            assert!(
                (0.92..=0.975).contains(&share),
                "coverage {share}: {held:?}"
            );
        }
    }

    #[test]
    fn t_quantiles_match_the_tables() {
        // Two-sided 95 % (0.975) and one-sided (0.95) values from any t table.
        for (p, df, want) in [
            (0.975, 1, 12.706_204_7),
            (0.975, 3, 3.182_446_3),
            (0.975, 4, 2.776_445_1),
            (0.975, 29, 2.045_229_6),
            (0.95, 5, 2.015_048_4),
            (0.95, 6, 1.943_180_3),
        ] {
            let got = t_quantile(p, df).unwrap();
            assert!(
                (got - want).abs() < 1e-6,
                "t({p}, {df}) = {got}, want {want}"
            );
        }
        assert_eq!(t_quantile(0.975, 0), None);
    }
}
