//! The plan's chart: measured points against the fitted USL curve, as a standalone SVG or a
//! small self-contained HTML page (no scripts, no links).

use super::Point;
use super::fit::Fit;
use crate::report::svg::{esc, label, nice_scale};
use std::fmt::Write;

const W: f64 = 640.0;
const H: f64 = 360.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 48.0;

/// An SVG chart of `points` and the curve of `fit`, with N* marked when it is in view.
pub fn svg(points: &[Point], fit: &Fit) -> String {
    let u = fit.usl;
    // Show the measured range, and the peak when it is not far beyond it.
    let mut x_max = fit.max_n * 1.15;
    if let Some(p) = u.peak_exact()
        && p <= 2.0 * fit.max_n
    {
        x_max = x_max.max(p * 1.15);
    }
    let samples: Vec<(f64, f64)> = (0..=200)
        .map(|i| {
            let n = x_max * f64::from(i) / 200.0;
            (n, u.throughput(n))
        })
        .collect();
    let y_max = points
        .iter()
        .map(|p| p.throughput)
        .chain(samples.iter().map(|s| s.1))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let (y_top, y_step) = nice_scale(y_max);
    let (x_top, x_step) = nice_scale(x_max);
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let px = |x: f64| LEFT + x / x_top * pw;
    let py = |y: f64| TOP + ph - (y / y_top).clamp(0.0, 1.0) * ph;
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" font-family="system-ui,sans-serif" font-size="11" role="img" aria-label="throughput against concurrency">"##
    );
    let _ = write!(
        s,
        r##"<rect width="{W}" height="{H}" fill="#fff"/><text x="{LEFT}" y="20" font-size="14" font-weight="600">Throughput against concurrency: measured and USL fit</text>"##
    );
    let mut y = 0.0;
    while y <= y_top + y_step / 2.0 {
        let yy = py(y);
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{yy:.1}" y2="{yy:.1}" stroke="#eef0f3"/><text x="{lx}" y="{ty:.1}" text-anchor="end" fill="#6b7280">{l}</text>"##,
            x2 = W - RIGHT,
            lx = LEFT - 6.0,
            ty = yy + 4.0,
            l = label(y)
        );
        y += y_step;
    }
    let mut x = 0.0;
    while x <= x_top + x_step / 2.0 {
        let xx = px(x);
        let _ = write!(
            s,
            r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{y1}" y2="{y2}" stroke="#9ca3af"/><text x="{xx:.1}" y="{ty}" text-anchor="middle" fill="#6b7280">{l}</text>"##,
            y1 = TOP + ph,
            y2 = TOP + ph + 4.0,
            ty = TOP + ph + 16.0,
            l = label(x)
        );
        x += x_step;
    }
    let _ = write!(
        s,
        r##"<text x="{cx}" y="{by}" text-anchor="middle" fill="#374151">concurrency N</text><text x="14" y="{my}" transform="rotate(-90 14 {my})" text-anchor="middle" fill="#374151">throughput X (per second)</text>"##,
        cx = LEFT + pw / 2.0,
        by = H - 10.0,
        my = TOP + ph / 2.0
    );
    if let Some(p) = u.peak_concurrency().filter(|p| *p <= x_top) {
        let xx = px(p);
        let _ = write!(
            s,
            r##"<line x1="{xx:.1}" x2="{xx:.1}" y1="{TOP}" y2="{b}" stroke="#9333ea" stroke-dasharray="4 3"/><text x="{tx:.1}" y="{ty}" fill="#9333ea">N* = {n}</text>"##,
            b = TOP + ph,
            tx = xx + 4.0,
            ty = TOP + 12.0,
            n = esc(&label(p))
        );
    }
    let mut d = String::new();
    for (n, v) in &samples {
        if v.is_finite() {
            let _ = write!(
                d,
                "{}{:.1},{:.1}",
                if d.is_empty() { "M" } else { " L" },
                px(*n),
                py(*v)
            );
        }
    }
    let _ = write!(
        s,
        r##"<path d="{d}" fill="none" stroke="#2563eb" stroke-width="2"/>"##
    );
    for p in points {
        let _ = write!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="3.5" fill="#f97316" stroke="#fff"/>"##,
            px(p.concurrency),
            py(p.throughput)
        );
    }
    let lx = W - RIGHT - 250.0;
    let _ = write!(
        s,
        r##"<circle cx="{c1}" cy="30" r="3.5" fill="#f97316"/><text x="{t1}" y="34">measured</text><rect x="{c2}" y="28" width="14" height="3" fill="#2563eb"/><text x="{t2}" y="34">{fit}</text>"##,
        c1 = lx,
        t1 = lx + 8.0,
        c2 = lx + 78.0,
        t2 = lx + 96.0,
        fit = esc(&format!("USL fit ({})", fit.method.as_str()))
    );
    s.push_str("</svg>");
    s
}

/// A page holding the chart and the coefficients.
pub fn html(points: &[Point], fit: &Fit) -> String {
    let u = fit.usl;
    let peak = match u.peak_concurrency() {
        Some(n) => format!("N* = {} → X(N*) = {:.1}/s", n, u.throughput(n)),
        None => "no peak (κ = 0)".into(),
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>stampede plan</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2em;color:#111827}}td{{padding:2px 12px}}</style></head><body>\
         <h1>stampede plan</h1>{}<table><tr><td>σ (contention)</td><td>{:.5}</td></tr><tr><td>κ (coherency)</td><td>{:.6}</td></tr>\
         <tr><td>λ (throughput of one)</td><td>{:.3}/s</td></tr><tr><td>peak</td><td>{}</td></tr><tr><td>residual standard error</td><td>{:.4} on {} df ({} fit)</td></tr>\
         <tr><td>points</td><td>{}</td></tr></table></body></html>\n",
        svg(points, fit),
        u.sigma,
        u.kappa,
        u.lambda,
        esc(&peak),
        fit.residual_standard_error,
        fit.df,
        fit.method.as_str(),
        points.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::usl::Usl;

    #[test]
    fn draws_points_curve_and_peak() {
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
        let f = crate::capacity::fit::fit(&pts, Default::default()).unwrap();
        let s = svg(&pts, &f);
        assert!(s.starts_with("<svg xmlns"));
        assert_eq!(s.matches("<circle").count(), 33); // 32 points + the legend
        assert!(s.contains("N* = 30"));
        assert!(!s.contains("href"));
        let h = html(&pts, &f);
        assert!(h.contains("<svg") && h.contains("σ (contention)"));
    }
}
