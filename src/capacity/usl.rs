//! The Universal Scalability Law (Gunther): throughput at concurrency N,
//!
//! ```text
//! X(N) = λN / (1 + σ(N−1) + κN(N−1))
//! ```
//!
//! λ is the throughput of one (N = 1) when nothing is shared, σ the contention (the share of
//! the work that is serialised), κ the coherency cost (the price each pair of workers pays to
//! stay consistent). With κ > 0 the curve peaks at `N* = √((1−σ)/κ)` and falls after it
//! (retrograde scaling); with κ = 0 it only levels off towards `λ/σ`.
//!
//! The inverse formulas are derived here (public USL libraries carry sign errors in them) and
//! tested by round trip:
//!
//! **Concurrency for a throughput X** (`concurrency_for`). From `X·D(N) = λN` with
//! `D(N) = 1 + σ(N−1) + κN(N−1)`:
//!
//! ```text
//! X + XσN − Xσ + XκN² − XκN = λN
//! ⇔ κX·N² − (λ − X(σ−κ))·N + X(1−σ) = 0
//! ```
//!
//! A quadratic `aN² − bN + c = 0` with `a = κX`, `b = λ − X(σ−κ)`, `c = X(1−σ)`. Its smaller root
//! is on the rising side of the curve (the larger one is past the peak, where the same X comes
//! back with more workers). Written as `N = 2c / (b + √(b² − 4ac))` it needs no division by
//! κ, so κ = 0 gives the linear case `N = X(1−σ)/(λ − Xσ)` with the same code. A negative
//! discriminant (or `b ≤ 0`) means X is above what the system can ever deliver.
//!
//! **Throughput at a mean response time R** (`throughput_at_latency`). With N requests in
//! the system, Little's law gives `R(N) = N / X(N) = D(N)/λ`. Setting `D(N) = λR`:
//!
//! ```text
//! 1 + σN − σ + κN² − κN = λR
//! ⇔ κN² + (σ−κ)N − (λR − 1 + σ) = 0
//! ⇔ N = (κ − σ + √((σ−κ)² + 4κ(λR − 1 + σ))) / (2κ)        (the positive root)
//! ```
//!
//! and then `X = N/R`. (`(σ−κ)² + 4κ(λR−1+σ)` expands to `σ² + κ² + 2κ(2λR + σ − 2)`; the
//! leading term is `κ − σ`, not `σ − κ` as some libraries have it.) Stable form for small κ:
//! `N = 2(λR − 1 + σ) / ((σ−κ) + √(…))`, which for κ = 0 is `(λR − 1 + σ)/σ`. R must be at
//! least `R(1) = 1/λ`. N here is the number in the system (in flight), so this holds only
//! when the fitted N is concurrency in the Little's-law sense.

/// Fitted USL coefficients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usl {
    pub sigma: f64,
    pub kappa: f64,
    pub lambda: f64,
}

/// Which term limits the scaling more at a given concurrency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// σ(N−1) ≥ κN(N−1): queueing on a shared resource (a lock, a single thread, a disk).
    Contention,
    /// κN(N−1) > σ(N−1): the cost of keeping workers consistent (cache coherency, chatty
    /// synchronisation); throughput falls past N*.
    Coherency,
    /// Both terms together are below 0.05: throughput within ~5 % of linear scaling.
    Linear,
}

impl Bound {
    pub fn as_str(self) -> &'static str {
        match self {
            Bound::Contention => "contention",
            Bound::Coherency => "coherency",
            Bound::Linear => "linear",
        }
    }
}

impl Usl {
    /// `1 + σ(N−1) + κN(N−1)`.
    pub fn denominator(&self, n: f64) -> f64 {
        1.0 + self.sigma * (n - 1.0) + self.kappa * n * (n - 1.0)
    }

    /// X(N).
    pub fn throughput(&self, n: f64) -> f64 {
        self.lambda * n / self.denominator(n)
    }

    /// Mean time in the system at concurrency N (Little's law: N / X(N)), in the unit of
    /// 1/λ (seconds when X is per second).
    pub fn latency(&self, n: f64) -> f64 {
        self.denominator(n) / self.lambda
    }

    /// `√((1−σ)/κ)`, where X is highest; `None` when κ = 0 (no peak: X levels off at λ/σ).
    pub fn peak_exact(&self) -> Option<f64> {
        (self.kappa > 0.0).then(|| ((1.0 - self.sigma).max(0.0) / self.kappa).sqrt())
    }

    /// N* = ⌊√((1−σ)/κ)⌋ (at least 1); `None` when κ = 0.
    pub fn peak_concurrency(&self) -> Option<f64> {
        self.peak_exact().map(|n| n.floor().max(1.0))
    }

    /// The level X approaches when κ = 0 and σ > 0: λ/σ.
    pub fn ceiling(&self) -> Option<f64> {
        (self.kappa == 0.0 && self.sigma > 0.0).then(|| self.lambda / self.sigma)
    }

    /// The smallest concurrency that delivers throughput `x` (see the module doc), or `None`
    /// when `x` is above the curve's maximum.
    pub fn concurrency_for(&self, x: f64) -> Option<f64> {
        if x <= 0.0 {
            return (x == 0.0).then_some(0.0);
        }
        let (s, k, l) = (self.sigma, self.kappa, self.lambda);
        let a = k * x;
        let b = l - x * (s - k);
        let c = x * (1.0 - s);
        let disc = b * b - 4.0 * a * c;
        if b <= 0.0 || disc < 0.0 {
            return None;
        }
        Some(2.0 * c / (b + disc.sqrt()))
    }

    /// The throughput when the mean time in the system is `r` (see the module doc), or
    /// `None` when `r` is below 1/λ (faster than one request alone) or unreachable.
    pub fn throughput_at_latency(&self, r: f64) -> Option<f64> {
        let (s, k, l) = (self.sigma, self.kappa, self.lambda);
        let c = l * r - 1.0 + s; // κN² + (σ−κ)N − c = 0
        if r <= 0.0 || c < s {
            // N = 1 needs c = σ; below that the request is faster than it can be.
            return None;
        }
        let b = s - k;
        let disc = b * b + 4.0 * k * c;
        let n = if k == 0.0 {
            if s == 0.0 {
                return None; // R is 1/λ at every N: any throughput
            }
            c / s
        } else if b >= 0.0 {
            2.0 * c / (b + disc.sqrt())
        } else {
            (-b + disc.sqrt()) / (2.0 * k)
        };
        Some(n / r)
    }

    /// Which term dominates the denominator at concurrency `n`; `Linear` when the two add
    /// up to less than 0.05 (X(n) within about 5 % of λn).
    pub fn bound_at(&self, n: f64) -> Bound {
        let contention = self.sigma * (n - 1.0);
        let coherency = self.kappa * n * (n - 1.0);
        if contention + coherency < 0.05 {
            Bound::Linear
        } else if contention >= coherency {
            Bound::Contention
        } else {
            Bound::Coherency
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETS: [Usl; 4] = [
        Usl {
            sigma: 0.05,
            kappa: 0.001,
            lambda: 1000.0,
        },
        Usl {
            sigma: 0.02,
            kappa: 0.0005,
            lambda: 250.0,
        },
        Usl {
            sigma: 0.1,
            kappa: 0.0,
            lambda: 40.0,
        },
        Usl {
            sigma: 0.0,
            kappa: 0.0,
            lambda: 7.0,
        },
    ];

    #[test]
    fn peak_follows_the_formula() {
        let u = SETS[0];
        assert_eq!(u.peak_concurrency(), Some(30.0)); // √(0.95/0.001) = 30.8
        let n = u.peak_exact().unwrap();
        assert!(u.throughput(n) >= u.throughput(n - 0.5));
        assert!(u.throughput(n) >= u.throughput(n + 0.5));
        assert_eq!(SETS[2].peak_concurrency(), None);
        assert_eq!(SETS[2].ceiling(), Some(400.0));
    }

    #[test]
    fn concurrency_for_round_trips_on_the_rising_side() {
        for u in SETS {
            let top = u.peak_exact().unwrap_or(500.0);
            let mut n = 0.25;
            while n <= top {
                let x = u.throughput(n);
                let back = u.concurrency_for(x).unwrap();
                assert!((back - n).abs() < 1e-9 * n.max(1.0), "{u:?} N={n} → {back}");
                n += 0.75;
            }
        }
        // Above the peak: no concurrency delivers it.
        let u = SETS[0];
        let best = u.throughput(u.peak_exact().unwrap());
        assert_eq!(u.concurrency_for(best * 1.01), None);
        assert_eq!(SETS[2].concurrency_for(400.0), None);
    }

    #[test]
    fn throughput_at_latency_round_trips() {
        for u in SETS.iter().take(3) {
            for n in [1.0, 2.0, 5.5, 17.0, 40.0, 90.0] {
                let r = u.latency(n);
                let x = u.throughput_at_latency(r).unwrap();
                let want = u.throughput(n);
                assert!((x - want).abs() < 1e-9 * want, "{u:?} N={n}: {x} vs {want}");
            }
            assert_eq!(u.throughput_at_latency(0.5 / u.lambda), None);
        }
        // The published form with `σ − κ` in front gives a different (wrong) answer.
        let u = SETS[0];
        let r = u.latency(20.0);
        let (s, k, l) = (u.sigma, u.kappa, u.lambda);
        let wrong =
            ((s * s + k * k + 2.0 * k * (2.0 * l * r + s - 2.0)).sqrt() - k + s) / (2.0 * k * r);
        assert!((wrong - u.throughput(20.0)).abs() > 1.0);
    }

    #[test]
    fn bound_names_the_bigger_term() {
        let u = SETS[0];
        // σ(N−1) vs κN(N−1), i.e. σ vs κN: the terms cross at N = σ/κ = 50.
        assert_eq!(u.bound_at(32.0), Bound::Contention);
        assert_eq!(u.bound_at(60.0), Bound::Coherency);
        assert_eq!(SETS[3].bound_at(10.0), Bound::Linear);
        assert_eq!(SETS[2].bound_at(1.4), Bound::Linear); // 0.1 · 0.4 = 0.04
    }
}
