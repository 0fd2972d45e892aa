//! Fitting the USL to measured (concurrency, throughput) points by nonlinear least squares.
//!
//! Start values come from the data: λ₀ = X/N of the point with the smallest N, then, with λ₀
//! fixed, the USL is linear in σ and κ — `λ₀N/X − 1 = σ(N−1) + κN(N−1)` — and an ordinary
//! least-squares solve of that gives σ₀, κ₀ (clamped to [0, 1]). Levenberg–Marquardt
//! ([`super::lm`]) then minimises the sum of squared *relative* residuals `(X − X̂)/X`:
//! throughput noise grows with throughput, so each point counts by its relative error rather
//! than letting the largest throughputs decide alone. σ and κ stay within [0, 1], λ above 0.
//! R² is reported on the throughputs themselves: `1 − Σ(X − X̂)² / Σ(X − X̄)²`.

use super::Point;
use super::lm::{self, Model};
use super::usl::Usl;

/// The result of a fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    pub usl: Usl,
    pub r_squared: f64,
    /// Number of points fitted.
    pub points: usize,
    /// Smallest and largest measured concurrency.
    pub min_n: f64,
    pub max_n: f64,
}

/// Why no fit could be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    #[error(
        "the USL has three coefficients: it needs points at 3 or more different concurrencies (got {0})"
    )]
    TooFewPoints(usize),
    #[error("point {0}: concurrency and throughput must be finite and above zero")]
    BadPoint(usize),
}

struct UslModel<'a>(&'a [Point]);

impl Model<3> for UslModel<'_> {
    fn observations(&self) -> usize {
        self.0.len()
    }
    /// Parameters `[σ, κ, λ]`.
    fn point(&self, i: usize, p: &[f64; 3]) -> (f64, [f64; 3]) {
        let Point {
            concurrency: n,
            throughput: x,
        } = self.0[i];
        let u = Usl {
            sigma: p[0],
            kappa: p[1],
            lambda: p[2],
        };
        let d = u.denominator(n);
        let f = u.throughput(n);
        let w = 1.0 / x;
        // ∂f/∂σ = −λN(N−1)/D², ∂f/∂κ = −λN·N(N−1)/D², ∂f/∂λ = N/D.
        let dd = -p[2] * n * (n - 1.0) / (d * d);
        ((x - f) * w, [dd * w, dd * n * w, n / d * w])
    }
}

/// Fit the USL to `points` (at least three different concurrencies).
pub fn fit(points: &[Point]) -> Result<Fit, FitError> {
    for (i, p) in points.iter().enumerate() {
        let ok = |v: f64| v.is_finite() && v > 0.0;
        if !ok(p.concurrency) || !ok(p.throughput) {
            return Err(FitError::BadPoint(i + 1));
        }
    }
    let mut ns: Vec<f64> = points.iter().map(|p| p.concurrency).collect();
    ns.sort_by(f64::total_cmp);
    ns.dedup();
    if ns.len() < 3 {
        return Err(FitError::TooFewPoints(ns.len()));
    }
    let start = start_values(points);
    let sol = lm::minimise(
        &UslModel(points),
        start,
        &[0.0, 0.0, f64::MIN_POSITIVE],
        &[1.0, 1.0, f64::INFINITY],
    );
    let usl = Usl {
        sigma: sol.params[0],
        kappa: sol.params[1],
        lambda: sol.params[2],
    };
    Ok(Fit {
        usl,
        r_squared: r_squared(&usl, points),
        points: points.len(),
        min_n: ns[0],
        max_n: ns[ns.len() - 1],
    })
}

/// `[σ₀, κ₀, λ₀]` from the data (see the module doc).
fn start_values(points: &[Point]) -> [f64; 3] {
    let first = points
        .iter()
        .min_by(|a, b| a.concurrency.total_cmp(&b.concurrency))
        .copied()
        .unwrap_or(Point {
            concurrency: 1.0,
            throughput: 1.0,
        });
    let lambda = first.throughput / first.concurrency;
    // Least squares for y = σa + κb, with a = N−1, b = N(N−1), y = λN/X − 1.
    let (mut aa, mut ab, mut bb, mut ay, mut by) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for p in points {
        let n = p.concurrency;
        let (a, b) = (n - 1.0, n * (n - 1.0));
        let y = lambda * n / p.throughput - 1.0;
        aa += a * a;
        ab += a * b;
        bb += b * b;
        ay += a * y;
        by += b * y;
    }
    let det = aa * bb - ab * ab;
    let (sigma, kappa) = if det.abs() > 1e-12 * (aa * bb).max(f64::MIN_POSITIVE) {
        ((ay * bb - by * ab) / det, (aa * by - ab * ay) / det)
    } else {
        (0.01, 0.0001)
    };
    [sigma.clamp(0.0, 1.0), kappa.clamp(0.0, 1.0), lambda]
}

fn r_squared(u: &Usl, points: &[Point]) -> f64 {
    let mean = points.iter().map(|p| p.throughput).sum::<f64>() / points.len() as f64;
    let ss_tot: f64 = points.iter().map(|p| (p.throughput - mean).powi(2)).sum();
    let ss_res: f64 = points
        .iter()
        .map(|p| (p.throughput - u.throughput(p.concurrency)).powi(2))
        .sum();
    if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else {
        f64::NAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A standard normal draw (Box–Muller) from a seeded generator.
    fn normal(rng: &mut fastrand::Rng) -> f64 {
        let u1 = rng.f64().max(1e-300);
        let u2 = rng.f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Multiplicative measurement noise.
    #[derive(Debug, Clone, Copy)]
    enum Noise {
        /// × (1 + e), e uniform in [−w, w].
        Uniform(f64),
        /// × (1 + s·z), z standard normal.
        Gaussian(f64),
    }

    /// X(N) for N = 1..=32, each with its own noise draw.
    fn synthetic(u: &Usl, rng: &mut fastrand::Rng, noise: Noise) -> Vec<Point> {
        (1..=32)
            .map(|n| {
                let n = n as f64;
                let e = match noise {
                    Noise::Uniform(w) => w * (2.0 * rng.f64() - 1.0),
                    Noise::Gaussian(s) => s * normal(rng),
                };
                Point {
                    concurrency: n,
                    throughput: u.throughput(n) * (1.0 + e),
                }
            })
            .collect()
    }

    fn rel(got: f64, want: f64) -> f64 {
        (got - want).abs() / want
    }

    #[test]
    fn exact_data_is_recovered_exactly() {
        let u = Usl {
            sigma: 0.05,
            kappa: 0.001,
            lambda: 1000.0,
        };
        let pts: Vec<Point> = (1..=32)
            .map(|n| Point {
                concurrency: n as f64,
                throughput: u.throughput(n as f64),
            })
            .collect();
        let f = fit(&pts).unwrap();
        assert!(rel(f.usl.sigma, 0.05) < 1e-6, "{f:?}");
        assert!(rel(f.usl.kappa, 0.001) < 1e-6, "{f:?}");
        assert!(rel(f.usl.lambda, 1000.0) < 1e-6, "{f:?}");
        assert!(f.r_squared > 0.999_999);
    }

    /// Relative errors of (σ, κ, λ).
    fn errors(g: &Usl, u: &Usl) -> [f64; 3] {
        [
            rel(g.sigma, u.sigma),
            rel(g.kappa, u.kappa),
            rel(g.lambda, u.lambda),
        ]
    }

    const HEADLINE: [Usl; 2] = [
        Usl {
            sigma: 0.05,
            kappa: 0.001,
            lambda: 1000.0,
        },
        Usl {
            sigma: 0.02,
            kappa: 0.0005,
            lambda: 500.0,
        },
    ];

    /// κ so small that its effect within N ≤ 32 is a few percent (N* ≈ 95).
    const FAINT_KAPPA: Usl = Usl {
        sigma: 0.1,
        kappa: 0.0001,
        lambda: 200.0,
    };

    #[test]
    fn noisy_data_recovers_known_coefficients() {
        // N = 1..32, each throughput × (1 + e), e uniform in ±2 %, seed fixed.
        let mut rng = fastrand::Rng::with_seed(7);
        for u in HEADLINE {
            let f = fit(&synthetic(&u, &mut rng, Noise::Uniform(0.02))).unwrap();
            let g = f.usl;
            let [es, ek, el] = errors(&g, &u);
            assert!(es < 0.10, "σ {} vs {}", g.sigma, u.sigma);
            assert!(ek < 0.10, "κ {} vs {}", g.kappa, u.kappa);
            assert!(el < 0.02, "λ {} vs {}", g.lambda, u.lambda);
            // N* and X(N*) follow from the recovered coefficients.
            let (n_true, n_fit) = (u.peak_exact().unwrap(), g.peak_exact().unwrap());
            assert!(rel(n_fit, n_true) < 0.10, "N* {n_fit} vs {n_true}");
            let x_true = u.throughput(u.peak_concurrency().unwrap());
            let x_fit = g.throughput(g.peak_concurrency().unwrap());
            println!(
                "true σ={} κ={} λ={} N*={} X(N*)={x_true:.1} | fitted σ={:.5} ({:+.1}%) κ={:.6} ({:+.1}%) λ={:.2} ({:+.2}%) N*={} X(N*)={x_fit:.1} R²={:.4}",
                u.sigma,
                u.kappa,
                u.lambda,
                u.peak_concurrency().unwrap(),
                g.sigma,
                (g.sigma / u.sigma - 1.0) * 100.0,
                g.kappa,
                (g.kappa / u.kappa - 1.0) * 100.0,
                g.lambda,
                (g.lambda / u.lambda - 1.0) * 100.0,
                g.peak_concurrency().unwrap(),
                f.r_squared
            );
            assert!(rel(x_fit, x_true) < 0.03, "X(N*) {x_fit} vs {x_true}");
            assert!(f.r_squared > 0.98, "R² {}", f.r_squared);
        }
    }

    #[test]
    fn a_faint_kappa_beyond_the_data_is_not_pinned_down() {
        // σ and λ are recovered; κ is not (its term is ~3 % of the denominator at N = 32), and
        // the true peak (N* ≈ 95) lies beyond 2× the data, which the plan warns about.
        let mut rng = fastrand::Rng::with_seed(7);
        let u = FAINT_KAPPA;
        for _ in 0..HEADLINE.len() {
            let _ = synthetic(&u, &mut rng, Noise::Uniform(0.02)); // the draws used above
        }
        let g = fit(&synthetic(&u, &mut rng, Noise::Uniform(0.02)))
            .unwrap()
            .usl;
        let [es, _, el] = errors(&g, &u);
        assert!(es < 0.10, "σ {} vs {}", g.sigma, u.sigma);
        assert!(el < 0.02, "λ {} vs {}", g.lambda, u.lambda);
        assert!(u.peak_exact().unwrap() > 2.0 * 32.0);
    }

    /// How often the tolerances (σ, κ within 10 %, λ within 2 %) hold over 1,000 seeds, per
    /// noise model; `cargo test --release recovery_rates -- --nocapture` prints the table.
    /// The solver must always reach a least-squares minimum at least as low as the true
    /// coefficients': any miss is the data's, not the solver's.
    #[test]
    fn recovery_rates() {
        let cases = [
            (Noise::Uniform(0.02), HEADLINE[0], 0.93),
            (Noise::Uniform(0.02), HEADLINE[1], 0.75),
            (Noise::Uniform(0.02), FAINT_KAPPA, 0.0),
            (Noise::Gaussian(0.02), HEADLINE[0], 0.68),
            (Noise::Gaussian(0.02), HEADLINE[1], 0.48),
            (Noise::Gaussian(0.02), FAINT_KAPPA, 0.0),
        ];
        for (noise, u, floor) in cases {
            let (mut ok, mut worst) = (0, [0f64; 3]);
            let runs = 1000;
            for seed in 0..runs {
                let mut rng = fastrand::Rng::with_seed(seed);
                let pts = synthetic(&u, &mut rng, noise);
                let g = fit(&pts).unwrap().usl;
                let sse = |v: &Usl| -> f64 {
                    pts.iter()
                        .map(|p| {
                            ((p.throughput - v.throughput(p.concurrency)) / p.throughput).powi(2)
                        })
                        .sum()
                };
                assert!(sse(&g) <= sse(&u) * (1.0 + 1e-9), "seed {seed}: {g:?}");
                let e = errors(&g, &u);
                for j in 0..3 {
                    worst[j] = worst[j].max(e[j]);
                }
                if e[0] < 0.1 && e[1] < 0.1 && e[2] < 0.02 {
                    ok += 1;
                }
            }
            println!(
                "{noise:?} σ={} κ={} λ={}: {ok}/{runs} within tolerance; worst errors σ {:.1}% κ {:.1}% λ {:.2}%",
                u.sigma,
                u.kappa,
                u.lambda,
                worst[0] * 100.0,
                worst[1] * 100.0,
                worst[2] * 100.0
            );
            assert!(f64::from(ok) >= floor * f64::from(runs as u32));
        }
    }

    #[test]
    fn refuses_too_few_or_bad_points() {
        let p = |n: f64, x: f64| Point {
            concurrency: n,
            throughput: x,
        };
        assert_eq!(
            fit(&[p(1.0, 10.0), p(2.0, 19.0), p(2.0, 18.0)]),
            Err(FitError::TooFewPoints(2))
        );
        assert_eq!(
            fit(&[p(1.0, 10.0), p(2.0, 0.0), p(3.0, 18.0)]),
            Err(FitError::BadPoint(2))
        );
    }

    #[test]
    fn linear_data_gives_zero_coefficients() {
        let pts: Vec<Point> = (1..=10)
            .map(|n| Point {
                concurrency: n as f64,
                throughput: 50.0 * n as f64,
            })
            .collect();
        let f = fit(&pts).unwrap();
        assert!(f.usl.sigma < 1e-9 && f.usl.kappa < 1e-9, "{f:?}");
        assert!(rel(f.usl.lambda, 50.0) < 1e-9);
    }
}
