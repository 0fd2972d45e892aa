//! Small, dependency-free SVG line charts for the HTML report (inline, no scripts).

use std::fmt::Write;

/// One line of a chart.
pub struct Series<'a> {
    pub name: &'a str,
    pub color: &'a str,
    pub values: &'a [f64],
}

const W: f64 = 560.0;
const H: f64 = 220.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 26.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 34.0;

/// A "nice" upper bound and step for an axis reaching `max`.
pub(crate) fn nice_scale(max: f64) -> (f64, f64) {
    if !(max.is_finite()) || max <= 0.0 {
        return (1.0, 0.25);
    }
    let raw_step = max / 4.0;
    let mag = 10f64.powf(raw_step.log10().floor());
    let norm = raw_step / mag;
    let step = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 2.5 {
        2.5
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    } * mag;
    ((max / step).ceil().max(1.0) * step, step)
}

pub(crate) fn label(v: f64) -> String {
    if v >= 1_000_000.0 {
        format!("{:.1}M", v / 1_000_000.0)
    } else if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 1000.0 {
        format!("{:.1}k", v / 1000.0)
    } else if v >= 10.0 || v == 0.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A line chart of `series` over `xs` (seconds), with a title, axis labels and a legend.
pub fn line_chart(title: &str, unit: &str, xs: &[f64], series: &[Series<'_>]) -> String {
    line_chart_x(title, unit, "s", xs, series)
}

/// A line chart whose x axis is labelled with `x_unit` (e.g. `/s` for offered rates).
pub fn line_chart_x(
    title: &str,
    unit: &str,
    x_unit: &str,
    xs: &[f64],
    series: &[Series<'_>],
) -> String {
    let mut s = String::new();
    let max_y = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let (top, step) = nice_scale(max_y);
    let max_x = xs.iter().copied().fold(1.0, f64::max);
    let (x_top, x_step) = nice_scale(max_x);
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let px = |x: f64| LEFT + x / x_top * pw;
    let py = |y: f64| TOP + ph - (y / top).clamp(0.0, 1.0) * ph;
    let _ = write!(
        s,
        r#"<svg viewBox="0 0 {W} {H}" role="img" aria-label="{t}" class="chart">"#,
        t = esc(title)
    );
    let _ = write!(
        s,
        r#"<text x="{LEFT}" y="16" class="ct">{}</text>"#,
        esc(title)
    );
    // Horizontal grid and y labels.
    let mut y = 0.0;
    while y <= top + step / 2.0 {
        let yy = py(y);
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{yy:.1}" y2="{yy:.1}" class="grid"/><text x="{lx}" y="{ty:.1}" class="yl">{l}</text>"##,
            x2 = W - RIGHT,
            lx = LEFT - 6.0,
            ty = yy + 4.0,
            l = label(y)
        );
        y += step;
    }
    // X ticks.
    let mut x = 0.0;
    while x <= x_top + x_step / 2.0 {
        let xx = px(x);
        let _ = write!(
            s,
            r#"<line x1="{xx:.1}" x2="{xx:.1}" y1="{y1}" y2="{y2}" class="tick"/><text x="{xx:.1}" y="{ty}" class="xl">{l}{x_unit}</text>"#,
            y1 = TOP + ph,
            y2 = TOP + ph + 4.0,
            ty = TOP + ph + 16.0,
            l = label(x)
        );
        x += x_step;
    }
    let _ = write!(
        s,
        r#"<text x="{x}" y="{y}" class="unit">{u}</text>"#,
        x = 4.0,
        y = TOP - 8.0,
        u = esc(unit)
    );
    for se in series {
        draw_series(&mut s, se, xs, &px, &py);
    }
    legend(&mut s, series);
    s.push_str("</svg>");
    s
}

/// One series as a path (a dot when there is a single point).
fn draw_series(
    s: &mut String,
    se: &Series<'_>,
    xs: &[f64],
    px: &impl Fn(f64) -> f64,
    py: &impl Fn(f64) -> f64,
) {
    // A non-finite value (a second without data) lifts the pen: the line has a gap there.
    let mut d = String::new();
    let mut pen_down = false;
    for (x, v) in xs.iter().zip(se.values) {
        if !v.is_finite() {
            pen_down = false;
            continue;
        }
        let _ = write!(
            d,
            "{}{:.1},{:.1}",
            match (pen_down, d.is_empty()) {
                (true, _) => " L",
                (false, true) => "M",
                (false, false) => " M",
            },
            px(*x),
            py(*v)
        );
        pen_down = true;
    }
    if xs.len() == 1 {
        // A single point: draw it as a dot.
        if let (Some(x), Some(v)) = (xs.first(), se.values.first()) {
            let _ = write!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#,
                px(*x),
                py(*v),
                se.color
            );
        }
    }
    let _ = write!(
        s,
        r#"<path d="{d}" fill="none" stroke="{c}" stroke-width="2" stroke-linejoin="round"/>"#,
        c = se.color
    );
}

/// The legend, top right.
fn legend(s: &mut String, series: &[Series<'_>]) {
    let mut lx = W - RIGHT;
    for se in series.iter().rev() {
        let w = 18.0 + 7.0 * se.name.chars().count() as f64;
        lx -= w + 10.0;
        let _ = write!(
            s,
            r#"<rect x="{lx:.1}" y="8" width="12" height="4" rx="1" fill="{c}"/><text x="{tx:.1}" y="14" class="lg">{n}</text>"#,
            c = se.color,
            tx = lx + 16.0,
            n = esc(se.name)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_are_round_and_cover_the_data() {
        assert_eq!(nice_scale(97.0), (100.0, 25.0));
        assert_eq!(nice_scale(0.0), (1.0, 0.25));
        let (top, step) = nice_scale(9_812.0);
        assert!(top >= 9_812.0 && step > 0.0);
    }

    #[test]
    fn charts_are_inline_svg_without_links() {
        let xs = [1.0, 2.0, 3.0];
        let svg = line_chart(
            "req/s <x>",
            "req/s",
            &xs,
            &[Series {
                name: "achieved",
                color: "#2563eb",
                values: &[10.0, 20.0, 15.0],
            }],
        );
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("req/s &lt;x&gt;"));
        assert!(!svg.contains("href"));
        assert!(svg.contains("M"));
    }
}
