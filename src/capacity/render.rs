//! The plan as text for a person: each figure with the formula and the inputs behind it.

use super::planner::{Plan, group};
use std::fmt::Write;

pub fn text(p: &Plan) -> String {
    let mut s = String::new();
    if let (Some(u), Some(f)) = (&p.usl, &p.fit) {
        let _ = writeln!(
            s,
            "Scalability: Universal Scalability Law, X(N) = λN / (1 + σ(N−1) + κN(N−1))"
        );
        let _ = writeln!(
            s,
            "  fitted to {} points, concurrency {} to {}",
            u.points,
            group(f.min_n, 2),
            group(f.max_n, 2)
        );
        let _ = writeln!(
            s,
            "  λ = {:<12} throughput of one (N = 1), per second",
            fmt_sig(u.lambda)
        );
        let _ = writeln!(
            s,
            "  σ = {:<12} contention: the serialised share of the work",
            fmt_sig(u.sigma)
        );
        let _ = writeln!(
            s,
            "  κ = {:<12} coherency: the cost each pair of workers pays to agree",
            fmt_sig(u.kappa)
        );
        let _ = writeln!(s, "  R² = {:.4}", u.r_squared);
        match (u.peak_concurrency, u.peak_throughput, u.ceiling_throughput) {
            (Some(n), Some(x), _) => {
                let _ = writeln!(
                    s,
                    "  peak: N* = ⌊√((1−σ)/κ)⌋ = {} → X(N*) = {}/s; more concurrency than that lowers throughput",
                    group(n, 0),
                    group(x, 1)
                );
            }
            (_, _, Some(c)) => {
                let _ = writeln!(
                    s,
                    "  peak: none (κ = 0): throughput levels off towards λ/σ = {}/s",
                    group(c, 1)
                );
            }
            _ => {
                let _ = writeln!(s, "  peak: none (σ = κ = 0): linear in the measured range");
            }
        }
        let n = f.max_n;
        let bound = match u.bound {
            "linear" => "nearly linear (the two terms add up to less than 0.05)".to_string(),
            b => format!("{b}-bound"),
        };
        let _ = writeln!(
            s,
            "  {bound} at N = {}: contention σ(N−1) = {:.3}, coherency κN(N−1) = {:.3}",
            group(n, 2),
            f.usl.sigma * (n - 1.0),
            f.usl.kappa * n * (n - 1.0)
        );
        for (flag, r) in [
            ("--at-concurrency", &p.at_concurrency),
            ("--at-throughput", &p.at_throughput),
            ("--at-latency", &p.at_latency),
        ] {
            if let Some(r) = r {
                let _ = writeln!(
                    s,
                    "  {flag}: N = {} → X = {}/s, time in system N/X = {:.2} ms",
                    group(r.concurrency, 2),
                    group(r.throughput, 1),
                    r.latency_ms
                );
            }
        }
        s.push('\n');
    }
    if let (Some(d), Some(rps), Some(inf)) = (&p.demand, p.required_rps, p.in_flight) {
        let _ = writeln!(s, "Demand: Little's law");
        let _ = writeln!(
            s,
            "  required = N / (Z + R) = {} / ({} s + {} s) = {} req/s",
            group(d.users, 0),
            group(d.think_time_s, 3),
            group(d.response_time_s, 3),
            group(rps, 1)
        );
        if (d.cycle_s - (d.think_time_s + d.response_time_s)).abs() > 1e-12 {
            let _ = writeln!(s, "  (pacing: one request per {} s)", group(d.cycle_s, 3));
        }
        let _ = writeln!(
            s,
            "  in flight = required × R = {} requests at once",
            group(inf, 1)
        );
        s.push('\n');
    }
    if let (Some(f), Some(n), Some(rps)) = (&p.fleet, p.instances, p.required_rps) {
        let _ = writeln!(s, "Fleet");
        let _ = writeln!(
            s,
            "  each instance carries (1 − H) · X₁ = (1 − {}) · {} = {} req/s",
            pct(f.headroom),
            group(f.per_instance_rps, 1),
            group(f.usable_per_instance_rps, 1)
        );
        let _ = writeln!(
            s,
            "  needed = ⌈{} / {}⌉ = {}",
            group(rps, 1),
            group(f.usable_per_instance_rps, 1),
            f.needed
        );
        match (f.zones, f.per_zone) {
            (Some(z), Some(per)) => {
                let _ = writeln!(
                    s,
                    "  zones: after losing one of {z}, {} must hold needed + r = {} + {} → ⌈{} / {}⌉ = {per} per zone",
                    z - 1,
                    f.needed,
                    f.redundancy,
                    f.needed + u64::from(f.redundancy),
                    z - 1
                );
                let _ = writeln!(s, "  instances = {z} × {per} = {n}");
            }
            _ => {
                let _ = writeln!(
                    s,
                    "  instances = needed + r = {} + {} = {n}",
                    f.needed, f.redundancy
                );
            }
        }
        s.push('\n');
    }
    if !p.assumptions.is_empty() {
        let _ = writeln!(s, "Assumptions");
        for a in &p.assumptions {
            let _ = writeln!(s, "  - {a}");
        }
    }
    if !p.warnings.is_empty() {
        let _ = writeln!(s, "Warnings");
        for w in &p.warnings {
            let _ = writeln!(s, "  ! {w}");
        }
    }
    s
}

/// Four significant digits, without an exponent for ordinary sizes.
fn fmt_sig(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 10) as usize;
    format!("{v:.digits$}")
}

fn pct(v: f64) -> String {
    format!("{}%", group(v * 100.0, 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_digits() {
        assert_eq!(fmt_sig(1000.4), "1000");
        assert_eq!(fmt_sig(0.0497), "0.04970");
        assert_eq!(fmt_sig(0.001012), "0.001012");
        assert_eq!(fmt_sig(0.0), "0");
        assert_eq!(pct(0.3), "30%");
    }
}
