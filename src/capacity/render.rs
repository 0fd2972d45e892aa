//! The plan as text for a person: each figure with the formula and the inputs behind it.

use super::fit::Fit;
use super::planner::{Plan, UslOut, group};
use std::fmt::Write;

pub fn text(p: &Plan) -> String {
    let mut s = String::new();
    if let (Some(u), Some(f)) = (&p.usl, &p.fit) {
        usl_fit(&mut s, u, f);
        usl_peak(&mut s, u, f, p);
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
    if let (Some(ff), Some(rps)) = (&p.fleet_from_fit, p.required_rps) {
        let _ = writeln!(
            s,
            "Fleet from the fit (each instance at the fitted peak X(N*))"
        );
        let x = &ff.per_instance_rps;
        let _ = writeln!(
            s,
            "  X(N*) = {} [{}, {}] req/s; with headroom {} and r = {}: instances = {} [{}, {}] for {} req/s",
            group(x.estimate, 1),
            group(x.low, 1),
            group(x.high, 1),
            pct(ff.headroom),
            ff.redundancy,
            ff.instances,
            ff.instances_low,
            ff.instances_high
                .map_or("unbounded".into(), |n| n.to_string()),
            group(rps, 1)
        );
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

/// The fit: the model, how it was fitted, the coefficients with their intervals, the error.
fn usl_fit(s: &mut String, u: &UslOut, f: &Fit) {
    let _ = writeln!(
        s,
        "Scalability: Universal Scalability Law, X(N) = λN / (1 + σ(N−1) + κN(N−1))"
    );
    let how = match u.fit {
        "relative" => "least squares on relative residuals (X − X̂)/X, --fit relative",
        _ => "least squares on absolute residuals X − X̂, as R's usl package",
    };
    let _ = writeln!(
        s,
        "  fitted to {} points, concurrency {} to {}, by {how}",
        u.points,
        group(f.min_n, 2),
        group(f.max_n, 2)
    );
    let lvl = group(u.confidence_level * 100.0, 0);
    let _ = writeln!(
        s,
        "  {lvl}% intervals: coefficients ± t·SE, t = {:.3} (Student t, {} degrees of freedom); N*, X(N*), 1/σ, λ/σ by the delta method (log scale)",
        u.t_quantile, u.degrees_of_freedom
    );
    let c = &u.coefficients;
    for (name, i, what) in [
        ("λ", &c.lambda, "throughput of one (N = 1), per second"),
        (
            "σ",
            &c.sigma,
            "contention: the serialised share of the work",
        ),
        (
            "κ",
            &c.kappa,
            "coherency: the cost each pair of workers pays to agree",
        ),
    ] {
        let _ = writeln!(
            s,
            "  {name} = {:<10} SE {:<10} [{}, {}]  {what}",
            fmt_sig(i.estimate),
            fmt_sig(i.standard_error),
            fmt_sig(i.low),
            fmt_sig(i.high)
        );
    }
    let rse_unit = if u.fit == "relative" {
        format!(
            "({}% of the throughput)",
            group(u.residual_standard_error * 100.0, 2)
        )
    } else {
        "(throughput units)".into()
    };
    let _ = writeln!(
        s,
        "  residual standard error {} on {} degrees of freedom {rse_unit}",
        fmt_sig(u.residual_standard_error),
        u.degrees_of_freedom
    );
}

/// What the fit says: the peak, the optimal load, the Amdahl limit, what bounds the largest
/// measured concurrency, and the curve read at `--at-*`.
fn usl_peak(s: &mut String, u: &UslOut, f: &Fit, p: &Plan) {
    match (&u.peak, u.peak_concurrency, u.ceiling_throughput) {
        (Some(pk), Some(n), _) => {
            let _ = writeln!(
                s,
                "  peak: N* = √((1−σ)/κ) = {} [{}, {}] → X(N*) = {} [{}, {}]/s{}",
                group(pk.concurrency.estimate, 2),
                group(pk.concurrency.low, 2),
                group(pk.concurrency.high, 2),
                group(pk.throughput.estimate, 1),
                group(pk.throughput.low, 1),
                group(pk.throughput.high, 1),
                if pk.extrapolated {
                    "  (extrapolated)"
                } else {
                    ""
                }
            );
            let _ = writeln!(
                s,
                "        ⌊N*⌋ = {} → X = {}/s; more concurrency than that lowers throughput",
                group(n, 0),
                group(u.peak_throughput.unwrap_or(f64::NAN), 1)
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
    if let Some(o) = &u.optimal {
        let _ = writeln!(
            s,
            "  optimal load: 1/σ = {} [{}, {}] → X = {} [{}, {}]/s (where the linear and Amdahl bounds cross){}",
            group(o.concurrency.estimate, 2),
            group(o.concurrency.low, 2),
            group(o.concurrency.high, 2),
            group(o.throughput.estimate, 1),
            group(o.throughput.low, 1),
            group(o.throughput.high, 1),
            if o.extrapolated {
                "  (extrapolated)"
            } else {
                ""
            }
        );
    }
    if let Some(a) = &u.amdahl_limit {
        let _ = writeln!(
            s,
            "  Amdahl limit: λ/σ = {} [{}, {}]/s (the asymptote with κ = 0)",
            group(a.estimate, 1),
            group(a.low, 1),
            group(a.high, 1)
        );
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
