//! The plan: the USL fit, the demand (Little's law) and the fleet, put together from what was
//! asked, with every assumption and warning written down. No I/O here: `commands/plan.rs` reads
//! the inputs and prints; `render.rs` writes the text.

use super::Point;
use super::fit::{Fit, FitError, FitMethod, fit};
use super::fleet::{self, FleetInput};
use super::little::{self, Demand};
pub use super::plan_error::PlanError;
use super::uncertainty::{self, Interval};
use crate::units::think::ThinkSpec;
use serde::Serialize;
use std::time::Duration;

/// Everything `stampede plan` was given, already read and parsed.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub points: Vec<Point>,
    /// What the points are (from the reader).
    pub point_notes: Vec<String>,
    /// Doubts about the points (from the reader).
    pub point_warnings: Vec<String>,
    /// Concurrent users, and where the number came from.
    pub users: Option<(f64, String)>,
    pub think: Option<(ThinkSpec, String)>,
    pub response_time: Option<Duration>,
    /// Per-instance rate, and where it came from.
    pub per_instance_rps: Option<(f64, String)>,
    pub headroom: Option<f64>,
    pub redundancy: Option<u32>,
    pub zones: Option<u32>,
    pub at_concurrency: Option<f64>,
    pub at_throughput: Option<f64>,
    pub at_latency: Option<Duration>,
    /// Which residuals the USL fit minimises (`--fit`).
    pub fit_method: FitMethod,
}

#[derive(Debug, Clone, Serialize)]
pub struct UslOut {
    /// `absolute` (least squares on X − X̂, as R's `usl`) or `relative` (on (X − X̂)/X).
    pub fit: &'static str,
    pub sigma: f64,
    pub kappa: f64,
    pub lambda: f64,
    /// Estimate, standard error and 95 % interval of σ, κ, λ (cut at their bounds).
    pub coefficients: Coefficients,
    /// The intervals' level (0.95) and the two-sided Student-t quantile at n − 3 df.
    pub confidence_level: f64,
    pub t_quantile: f64,
    pub degrees_of_freedom: usize,
    /// `√(Σr²/(n − 3))`: in throughput units for the absolute fit, a share for the relative.
    pub residual_standard_error: f64,
    /// ⌊√((1−σ)/κ)⌋; null when κ = 0 (no peak).
    pub peak_concurrency: Option<f64>,
    /// X(⌊N*⌋).
    pub peak_throughput: Option<f64>,
    /// N* = √((1−σ)/κ) unrounded and X(N*), with intervals (delta method); null when κ = 0.
    pub peak: Option<PeakOut>,
    /// `1/σ`, the `usl` package's optimal load (where the linear and the Amdahl bounds
    /// cross), and X there; null when σ = 0.
    pub optimal: Option<PeakOut>,
    /// `λ/σ`, Amdahl's asymptote; null when σ = 0.
    pub amdahl_limit: Option<Interval>,
    /// `contention`, `coherency` or `linear`, at the largest measured concurrency.
    pub bound: &'static str,
    /// λ/σ, the level X approaches when κ = 0.
    pub ceiling_throughput: Option<f64>,
    pub points: usize,
    pub max_measured_concurrency: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Coefficients {
    pub sigma: Interval,
    pub kappa: Interval,
    pub lambda: Interval,
}

/// A concurrency and the throughput there, each with its interval.
#[derive(Debug, Clone, Serialize)]
pub struct PeakOut {
    pub concurrency: Interval,
    pub throughput: Interval,
    /// True when the concurrency is beyond 2× the largest measured.
    pub extrapolated: bool,
}

/// The fleet if each instance ran at the fitted peak X(N*), with the interval that X(N*)'s
/// interval gives.
#[derive(Debug, Clone, Serialize)]
pub struct FitFleetOut {
    pub per_instance_rps: Interval,
    pub headroom: f64,
    pub redundancy: u32,
    pub instances: u64,
    /// From the upper end of X(N*)'s interval.
    pub instances_low: u64,
    /// From the lower end; null when that end is at or below zero.
    pub instances_high: Option<u64>,
}

/// A point read off the fitted curve.
#[derive(Debug, Clone, Serialize)]
pub struct Reading {
    pub concurrency: f64,
    pub throughput: f64,
    /// N / X(N), the mean time in the system.
    pub latency_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DemandOut {
    pub users: f64,
    pub think_time_s: f64,
    pub response_time_s: f64,
    pub cycle_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FleetOut {
    pub per_instance_rps: f64,
    pub headroom: f64,
    pub usable_per_instance_rps: f64,
    pub needed: u64,
    pub redundancy: u32,
    pub zones: Option<u32>,
    pub per_zone: Option<u64>,
}

/// The plan, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub usl: Option<UslOut>,
    pub at_concurrency: Option<Reading>,
    pub at_throughput: Option<Reading>,
    pub at_latency: Option<Reading>,
    pub required_rps: Option<f64>,
    pub in_flight: Option<f64>,
    pub instances: Option<u64>,
    pub demand: Option<DemandOut>,
    pub fleet: Option<FleetOut>,
    /// The fleet sized with the fitted peak X(N*) per instance, with its interval.
    pub fleet_from_fit: Option<FitFleetOut>,
    pub assumptions: Vec<String>,
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub fit: Option<Fit>,
    #[serde(skip)]
    pub demand_detail: Option<Demand>,
}

/// The USL fitted to the measurements, if any. Too few points (a breakpoint run that broke on
/// its second stair) still leave the demand and the fleet to plan (`planning_more`); any other
/// failure means the input is wrong.
fn fit_points(
    req: &Request,
    planning_more: bool,
    warnings: &mut Vec<String>,
) -> Result<Option<Fit>, PlanError> {
    Ok(if req.points.is_empty() {
        None
    } else {
        match fit(&req.points, req.fit_method) {
            Ok(f) => Some(f),
            // Too few points (a breakpoint run that broke on its second stair) still leave the
            // demand and the fleet to plan; any other failure means the input is wrong.
            Err(e @ (FitError::TooFewPoints(_) | FitError::TooFewConcurrencies(_)))
                if planning_more =>
            {
                warnings.push(format!("no scalability fit: {e}"));
                None
            }
            Err(e) => return Err(e.into()),
        }
    })
}

/// The load a population makes (Little's law), with its assumptions written down.
fn demand(req: &Request, assumptions: &mut Vec<String>) -> Result<Option<Demand>, PlanError> {
    Ok(match (&req.users, &req.think, req.response_time) {
        (None, None, None) => None,
        (None, _, _) => {
            return Err(PlanError::NoUsers);
        }
        (Some(_), None, _) => {
            return Err(PlanError::NoThinkTime);
        }
        (Some(_), Some(_), None) => {
            return Err(PlanError::NoResponseTime);
        }
        (Some((n, n_from)), Some((t, t_from)), Some(r)) => {
            let d = little::demand(*n, *t, r)?;
            assumptions.push(format!("{} concurrent users ({n_from})", group(*n, 0)));
            assumptions.push(format!("{} ({t_from})", d.think_note));
            assumptions.push(format!(
                "response time {} (--response-time), one request per think cycle",
                crate::units::duration::format_duration(r)
            ));
            Some(d)
        }
    })
}

/// Build the plan. `Err` is a usage problem (exit 2).
pub fn make(req: &Request) -> Result<Plan, PlanError> {
    let asked_fleet = req.headroom.is_some() || req.redundancy.is_some() || req.zones.is_some();
    let asked_demand = req.users.is_some();
    let asked_reading =
        req.at_concurrency.is_some() || req.at_throughput.is_some() || req.at_latency.is_some();
    if req.points.is_empty() && !asked_demand && !asked_fleet && req.per_instance_rps.is_none() {
        return Err(PlanError::NothingToPlan);
    }
    let mut assumptions = req.point_notes.clone();
    let mut warnings = req.point_warnings.clone();

    let fit = fit_points(req, asked_demand || asked_fleet, &mut warnings)?;
    if asked_reading && fit.is_none() {
        return Err(PlanError::ReadingWithoutFit);
    }
    let usl = match fit {
        Some(f) => Some(usl_out(&f, &req.points, &mut assumptions, &mut warnings)?),
        None => None,
    };
    let has_peak = usl.as_ref().is_some_and(|u| u.peak.is_some());
    let mut readings = [None, None, None];
    if let Some(f) = fit {
        readings = read_curve(&f, req, &mut warnings);
    }

    let demand = demand(req, &mut assumptions)?;

    let fleet = match (&demand, &req.per_instance_rps) {
        (Some(d), Some((x1, x1_from))) => {
            let input = FleetInput {
                required_rps: d.required_rps,
                per_instance_rps: *x1,
                headroom: req.headroom.unwrap_or(0.0),
                redundancy: req.redundancy.unwrap_or(0),
                zones: req.zones,
            };
            let f = fleet::size(&input)?;
            assumptions.push(format!(
                "one instance sustains {} req/s ({x1_from})",
                group(*x1, 1)
            ));
            if req.headroom.is_none() {
                assumptions.push("no headroom (give --headroom 30% to keep some)".into());
            }
            if req.redundancy.is_none() {
                assumptions.push("no spare instances (give --redundancy 1 for N+1)".into());
            }
            Some((input, f))
        }
        // A rate read from a breakpoint summary alone does not ask for a fleet; the flag does.
        (None, _)
            if asked_fleet
                || req
                    .per_instance_rps
                    .as_ref()
                    .is_some_and(|(_, from)| from == "--per-instance-rps") =>
        {
            return Err(PlanError::FleetWithoutDemand);
        }
        // With a fitted peak the fleet is sized from X(N*) below (`fleet_from_fit`).
        (Some(_), None) if asked_fleet && !has_peak => {
            return Err(PlanError::FleetWithoutInstanceRate);
        }
        _ => None,
    };
    if demand.is_some() && fleet.is_none() {
        assumptions.push(if has_peak {
            "fleet sized from the fit only (each instance at X(N*)): give --per-instance-rps X for a measured per-instance rate".into()
        } else {
            "fleet not sized: give --per-instance-rps X (or a breakpoint summary.json)".into()
        });
    }
    let fleet_from_fit = match (&demand, &usl) {
        (Some(d), Some(u)) => fit_fleet(d.required_rps, u, req, &mut warnings)?,
        _ => None,
    };
    let [at_concurrency, at_throughput, at_latency] = readings;
    Ok(Plan {
        usl,
        at_concurrency,
        at_throughput,
        at_latency,
        required_rps: demand.as_ref().map(|d| d.required_rps),
        in_flight: demand.as_ref().map(|d| d.in_flight),
        instances: fleet.as_ref().map(|(_, f)| f.instances),
        demand: demand.as_ref().map(|d| DemandOut {
            users: d.users,
            think_time_s: d.think_mean_s,
            response_time_s: d.response_s,
            cycle_s: d.cycle_s,
        }),
        fleet: fleet.map(|(i, f)| FleetOut {
            per_instance_rps: i.per_instance_rps,
            headroom: i.headroom,
            usable_per_instance_rps: f.usable_per_instance,
            needed: f.needed,
            redundancy: i.redundancy,
            zones: f.zones.map(|z| z.0),
            per_zone: f.zones.map(|z| z.1),
        }),
        fleet_from_fit,
        assumptions,
        warnings,
        fit,
        demand_detail: demand,
    })
}

/// What the reader of a fit should be warned about: extrapolated peaks, a peak no
/// measurement is near, loose intervals, too few points, a poor fit, coefficients on a bound.
fn usl_warnings(
    f: &Fit,
    points: &[super::Point],
    peak_out: Option<&PeakOut>,
    optimal: Option<&PeakOut>,
    warnings: &mut Vec<String>,
) {
    let u = f.usl;
    let max_n = f.max_n;
    if let Some(p) = u.peak_exact()
        && p > 2.0 * max_n
    {
        warnings.push(format!(
            "the peak N* = {} is beyond 2× the largest measured concurrency ({}): it is an extrapolation; measure closer to it before relying on it",
            group(p.floor(), 0),
            group(max_n, 1)
        ));
    }
    if let Some(o) = optimal
        && o.extrapolated
    {
        warnings.push(format!(
            "the optimal load 1/σ = {} is beyond 2× the largest measured concurrency ({}): it is an extrapolation",
            group(o.concurrency.estimate, 1),
            group(max_n, 1)
        ));
    }
    // A peak inside the measured range but with no measurement near it (a gap between, say, an
    // unloaded and a saturated point) is drawn by the model alone.
    if let Some(p) = u.peak_exact()
        && p <= 2.0 * max_n
        && !points
            .iter()
            .any(|m| m.concurrency >= p / 2.0 && m.concurrency <= p * 2.0)
    {
        let below = points
            .iter()
            .map(|m| m.concurrency)
            .filter(|&n| n < p)
            .fold(0.0, f64::max);
        let above = points
            .iter()
            .map(|m| m.concurrency)
            .filter(|&n| n > p)
            .fold(f64::INFINITY, f64::min);
        warnings.push(format!(
            "no measurement lies near the peak N* = {} (the nearest are at N = {} and {}): X(N*) comes from the model alone; measure between them",
            group(p.floor(), 0),
            group(below, 1),
            group(above, 1)
        ));
    }
    if let Some(p) = peak_out
        && p.concurrency.low <= 0.5 * p.concurrency.estimate
    {
        warnings.push(format!(
            "N* is loosely determined: its {}% interval is [{}, {}]",
            group(uncertainty::LEVEL * 100.0, 0),
            group(p.concurrency.low, 1),
            group(p.concurrency.high, 1)
        ));
    }
    let max_x = points.iter().map(|p| p.throughput).fold(0.0, f64::max);
    if let Some(p) = peak_out
        && p.throughput.estimate > 1.2 * max_x
    {
        warnings.push(format!(
            "the fitted peak X(N*) = {} is {}% above the highest measured throughput ({}): the curve, not a measurement, puts it there",
            group(p.throughput.estimate, 1),
            group((p.throughput.estimate / max_x - 1.0) * 100.0, 0),
            group(max_x, 1)
        ));
    }
    if f.points < 6 {
        warnings.push(format!(
            "only {} points: three coefficients from so few measurements are loosely determined (see the intervals)",
            f.points
        ));
    }
    let mean_x = points.iter().map(|p| p.throughput).sum::<f64>() / points.len() as f64;
    let spread = match f.method {
        FitMethod::Absolute => f.residual_standard_error / mean_x,
        FitMethod::Relative => f.residual_standard_error,
    };
    if spread > 0.1 {
        warnings.push(format!(
            "the residual standard error is {}% of the mean throughput: the USL describes these measurements poorly (mixed runs, noise, or a limit the model does not have)",
            group(spread * 100.0, 1)
        ));
    }
    if u.sigma >= 1.0 || u.kappa >= 1.0 {
        warnings.push("a coefficient sits on its bound of 1: the fit is not trustworthy".into());
    }
    for (name, v) in [("σ", u.sigma), ("κ", u.kappa)] {
        if v == 0.0 {
            warnings.push(format!(
                "{name} = 0 sits on its lower bound: its interval is one-sided, and the intervals computed from it understate the uncertainty"
            ));
        }
    }
}

fn usl_out(
    f: &Fit,
    points: &[super::Point],
    assumptions: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<UslOut, PlanError> {
    let u = f.usl;
    let peak = u.peak_concurrency();
    assumptions.push(match f.method {
        FitMethod::Absolute => "the USL is fitted by least squares on absolute residuals X − X̂ (as R's usl package); σ and κ are kept within [0, 1], λ ≥ 0".into(),
        FitMethod::Relative => "the USL is fitted by least squares on relative residuals (X − X̂)/X (--fit relative); σ and κ are kept within [0, 1], λ ≥ 0".into(),
    });
    let (Some(t), Some([cs, ck, cl])) = (uncertainty::t_two_sided(f), uncertainty::coefficients(f))
    else {
        return Err(PlanError::NoIntervals(f.df));
    };
    assumptions.push(format!(
        "intervals are {}%: coefficients ± t·SE with SE from the fit's Jacobian (s²·(JᵀJ)⁻¹) and t = {t:.4} (Student t, 0.975, {} degrees of freedom); N*, X(N*), 1/σ and λ/σ by the delta method on the log scale, g·exp(±t·SE(g)/g); the fleet from X(N*)'s interval",
        group(uncertainty::LEVEL * 100.0, 0),
        f.df
    ));
    let max_n = f.max_n;
    let peak_out = u.peak_exact().and_then(|_| {
        let n = uncertainty::derived(f, |v| v.peak_exact())?;
        let x = uncertainty::derived(f, |v| v.peak_exact().map(|n| v.throughput(n)))?;
        Some(PeakOut {
            concurrency: n,
            throughput: x,
            extrapolated: n.estimate > 2.0 * max_n,
        })
    });
    let optimal = (u.sigma > 0.0)
        .then(|| {
            let inv = |v: &super::usl::Usl| (v.sigma > 0.0).then(|| 1.0 / v.sigma);
            let n = uncertainty::derived(f, inv)?;
            let x = uncertainty::derived(f, |v| inv(v).map(|n| v.throughput(n)))?;
            Some(PeakOut {
                concurrency: n,
                throughput: x,
                extrapolated: n.estimate > 2.0 * max_n,
            })
        })
        .flatten();
    let amdahl_limit = (u.sigma > 0.0)
        .then(|| uncertainty::derived(f, |v| (v.sigma > 0.0).then(|| v.lambda / v.sigma)))
        .flatten();
    usl_warnings(f, points, peak_out.as_ref(), optimal.as_ref(), warnings);
    Ok(UslOut {
        fit: f.method.as_str(),
        sigma: u.sigma,
        kappa: u.kappa,
        lambda: u.lambda,
        coefficients: Coefficients {
            sigma: cs,
            kappa: ck,
            lambda: cl,
        },
        confidence_level: uncertainty::LEVEL,
        t_quantile: t,
        degrees_of_freedom: f.df,
        residual_standard_error: f.residual_standard_error,
        peak_concurrency: peak,
        peak_throughput: peak.map(|n| u.throughput(n)),
        peak: peak_out,
        optimal,
        amdahl_limit,
        bound: u.bound_at(max_n).as_str(),
        ceiling_throughput: u.ceiling(),
        points: f.points,
        max_measured_concurrency: max_n,
    })
}

/// The fleet with X(N*) per instance (see [`FitFleetOut`]); `None` when there is no peak.
fn fit_fleet(
    required_rps: f64,
    u: &UslOut,
    req: &Request,
    warnings: &mut Vec<String>,
) -> Result<Option<FitFleetOut>, PlanError> {
    let Some(peak) = &u.peak else {
        return Ok(None);
    };
    let x = peak.throughput;
    let size = |per: f64| {
        fleet::size(&FleetInput {
            required_rps,
            per_instance_rps: per,
            headroom: req.headroom.unwrap_or(0.0),
            redundancy: req.redundancy.unwrap_or(0),
            zones: req.zones,
        })
        .map(|f| f.instances)
    };
    let instances = size(x.estimate)?;
    let instances_low = size(x.high)?;
    let instances_high = if x.low > 0.0 {
        Some(size(x.low)?)
    } else {
        warnings.push(
            "the fitted peak throughput's interval reaches zero: the fleet from the fit has no upper bound".into(),
        );
        None
    };
    if peak.extrapolated {
        warnings.push(format!(
            "the fleet from the fit uses X(N*) at N* = {}, beyond 2× the largest measured concurrency: an extrapolation",
            group(peak.concurrency.estimate, 1)
        ));
    }
    Ok(Some(FitFleetOut {
        per_instance_rps: x,
        headroom: req.headroom.unwrap_or(0.0),
        redundancy: req.redundancy.unwrap_or(0),
        instances,
        instances_low,
        instances_high,
    }))
}

/// `--at-concurrency`, `--at-throughput`, `--at-latency`, with the extrapolation warning.
fn read_curve(f: &Fit, req: &Request, warnings: &mut Vec<String>) -> [Option<Reading>; 3] {
    let u = f.usl;
    let reading = |n: f64| Reading {
        concurrency: n,
        throughput: u.throughput(n),
        latency_ms: u.latency(n) * 1000.0,
    };
    let max_n = f.max_n;
    let check = |n: f64, what: &str, warnings: &mut Vec<String>| {
        if n > 2.0 * max_n {
            warnings.push(format!(
                "{what}: concurrency {} is beyond 2× the largest measured ({}); the model is extrapolating",
                group(n, 1),
                group(max_n, 1)
            ));
        }
    };
    let a = req.at_concurrency.map(|n| {
        check(n, "--at-concurrency", warnings);
        reading(n)
    });
    let b = match req.at_throughput {
        None => None,
        Some(x) => match u.concurrency_for(x) {
            Some(n) => {
                check(n, "--at-throughput", warnings);
                Some(reading(n))
            }
            None => {
                warnings.push(format!(
                    "--at-throughput {}: above anything the fitted curve reaches",
                    group(x, 1)
                ));
                None
            }
        },
    };
    let c = match req.at_latency {
        None => None,
        Some(r) => {
            let secs = r.as_secs_f64();
            match u.throughput_at_latency(secs) {
                Some(x) => {
                    let n = x * secs;
                    check(n, "--at-latency", warnings);
                    Some(reading(n))
                }
                None => {
                    warnings.push(format!(
                        "--at-latency {}: below the time one request takes alone (1/λ = {:.2} ms), or not reachable",
                        crate::units::duration::format_duration(r),
                        1000.0 / u.lambda
                    ));
                    None
                }
            }
        }
    };
    [a, b, c]
}

pub use crate::units::number::group;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::think::parse_think;

    fn issue_request() -> Request {
        Request {
            users: Some((100_000.0, "--users".into())),
            think: Some((parse_think("3s").unwrap(), "--think-time".into())),
            response_time: Some(Duration::from_millis(200)),
            per_instance_rps: Some((2400.0, "--per-instance-rps".into())),
            headroom: Some(0.3),
            redundancy: Some(1),
            ..Request::default()
        }
    }

    #[test]
    fn the_issue_example() {
        let p = make(&issue_request()).unwrap();
        assert_eq!(p.required_rps, Some(31_250.0));
        assert_eq!(p.in_flight, Some(6_250.0));
        assert_eq!(p.instances, Some(20));
        assert!(p.usl.is_none());
    }

    #[test]
    fn missing_pieces_are_usage_errors() {
        assert_eq!(
            make(&Request::default()).unwrap_err(),
            PlanError::NothingToPlan
        );
        assert!(
            make(&Request::default())
                .unwrap_err()
                .to_string()
                .starts_with("nothing to plan")
        );
        let mut r = issue_request();
        r.response_time = None;
        assert_eq!(make(&r).unwrap_err(), PlanError::NoResponseTime);
        let mut r = issue_request();
        r.per_instance_rps = None;
        assert_eq!(make(&r).unwrap_err(), PlanError::FleetWithoutInstanceRate);
        let r = Request {
            at_concurrency: Some(3.0),
            users: issue_request().users,
            think: issue_request().think,
            response_time: Some(Duration::from_millis(1)),
            ..Request::default()
        };
        assert_eq!(make(&r).unwrap_err(), PlanError::ReadingWithoutFit);
    }

    #[test]
    fn extrapolation_is_flagged() {
        let u = crate::capacity::usl::Usl {
            sigma: 0.02,
            kappa: 0.0002,
            lambda: 100.0,
        };
        let points = (1..=8)
            .map(|n| Point {
                concurrency: n as f64,
                throughput: u.throughput(n as f64),
            })
            .collect();
        let r = Request {
            points,
            at_concurrency: Some(20.0),
            at_throughput: Some(u.throughput(4.0)),
            ..Request::default()
        };
        let p = make(&r).unwrap();
        assert!(p.warnings.iter().any(|w| w.contains("--at-concurrency")));
        assert!(p.warnings.iter().any(|w| w.contains("the peak N*")));
        let at = p.at_throughput.unwrap();
        assert!((at.concurrency - 4.0).abs() < 1e-6);
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(group(31_250.0, 0), "31,250");
        assert_eq!(group(1_680.5, 1), "1,680.5");
        assert_eq!(group(999.0, 2), "999");
        assert_eq!(group(1_234_567.0, 0), "1,234,567");
    }
}
