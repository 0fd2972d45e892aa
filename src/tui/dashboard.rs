//! Drawing the dashboard: a pure function of a `LiveState` and the screen's own state (`Ui`),
//! so it can be rendered on ratatui's `TestBackend` in tests. The terminal, the thread and the
//! keys are in `term.rs`.

use super::fmt::{clock, count, millis, rate};
use super::keys::{HELP, HELP_LINE};
use super::state::{Abort, LiveState, Phase, SecondPoint, TargetKind};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Cell, Chart, Clear, Dataset, GraphType, LegendPosition, Paragraph, Row, Table,
};
use std::time::Duration;

/// The screen's own state: what the keys changed and the clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ui {
    pub elapsed: Duration,
    /// Pause as last set by the `p` key (shown at once, before the runner's next state).
    pub paused: bool,
    /// Stop requests made from the keyboard.
    pub stops: usize,
    pub help: bool,
    /// Seconds of history in the charts (0: the whole run).
    pub window: u64,
    /// False under `NO_COLOR`: emphasis by bold and reverse only.
    pub color: bool,
}

impl Default for Ui {
    fn default() -> Self {
        Ui {
            elapsed: Duration::ZERO,
            paused: false,
            stops: 0,
            help: false,
            window: 60,
            color: true,
        }
    }
}

/// Styles, or none of their colours under `NO_COLOR`.
#[derive(Clone, Copy)]
struct Pal(bool);

impl Pal {
    fn fg(self, c: Color) -> Style {
        if self.0 {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }
    fn bold(self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }
    fn dim(self) -> Style {
        if self.0 {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        }
    }
    fn good(self) -> Style {
        self.fg(Color::Green)
    }
    fn bad(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    fn alert(self) -> Style {
        if self.0 {
            Style::default().fg(Color::Black).bg(Color::Yellow)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }
}

/// Below this width the status codes and errors fold into the header.
const WIDE: u16 = 110;
/// The least height a chart is drawn in.
const CHART_MIN: u16 = 6;
/// Charts lower than this leave out the time labels under them.
const CHART_LABELS: u16 = 9;

/// Draw one frame. `state` is `None` until the first second of the run is in.
pub fn render(f: &mut Frame, state: Option<&LiveState>, ui: &Ui) {
    let area = f.area();
    let pal = Pal(ui.color);
    let Some(s) = state else {
        let [head, _, help] = Layout::vertical([
            Constraint::Length(3),
            Constraint::Fill(1),
            Constraint::Length(1),
        ])
        .areas(area);
        f.render_widget(
            Paragraph::new(format!("starting… {}", clock(ui.elapsed)))
                .block(Block::bordered().title(" stampede ")),
            head,
        );
        f.render_widget(
            Paragraph::new(HELP_LINE.replace("{window}", "60s")).style(pal.dim()),
            help,
        );
        return;
    };
    let wide = area.width >= WIDE;
    let head_h = if wide { 4 } else { 5 };
    let avail = area.height.saturating_sub(head_h + 1);
    let codes_need = (s.status.len().max(1) + s.errors.len().max(1)) as u16 + 2;
    let steps_need = if wide {
        (s.steps.len() as u16 + 3).max(codes_need)
    } else {
        s.steps.len() as u16 + 3
    };
    let thr_need = s.thresholds.len().max(1) as u16 + 2;
    let mut steps_h = steps_need.min((avail * 2 / 5).max(4));
    let mut thr_h = thr_need.min((avail * 2 / 5).max(3));
    let mut charts_h = avail.saturating_sub(steps_h + thr_h);
    if charts_h < CHART_MIN {
        // No room for charts: the tables take it all.
        charts_h = 0;
        thr_h = thr_need
            .min(avail / 2)
            .max(avail.saturating_sub(steps_need))
            .min(avail);
        steps_h = avail.saturating_sub(thr_h);
    }
    let [head, charts, middle, thresholds, help] = Layout::vertical([
        Constraint::Length(head_h),
        Constraint::Length(charts_h),
        Constraint::Length(steps_h),
        Constraint::Length(thr_h),
        Constraint::Length(1),
    ])
    .areas(area);
    header(f, head, s, ui, pal, wide);
    if charts_h > 0 {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(charts);
        rps_chart(f, left, s, ui, pal);
        latency_chart(f, right, s, ui, pal);
    }
    if wide {
        let [steps, codes] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Length(34)]).areas(middle);
        steps_table(f, steps, s, pal);
        codes_panel(f, codes, s, pal);
    } else {
        steps_table(f, middle, s, pal);
    }
    thresholds_table(f, thresholds, s, pal);
    let window = match ui.window {
        0 => "all".to_string(),
        w => format!("{w}s"),
    };
    f.render_widget(
        Paragraph::new(format!(" {}", HELP_LINE.replace("{window}", &window))).style(pal.dim()),
        help,
    );
    if ui.help {
        help_overlay(f, area);
    }
}

fn header(f: &mut Frame, area: Rect, s: &LiveState, ui: &Ui, pal: Pal, wide: bool) {
    let paused = ui.paused || s.phase == Phase::Paused;
    let stopping = ui.stops > 0 || s.phase == Phase::Stopping;
    let stage = if stopping {
        Span::styled(
            format!(
                " STOPPING: iterations finish (≤ {}; q again: at once) ",
                clock(s.graceful_stop)
            ),
            pal.alert(),
        )
    } else if paused {
        Span::styled(" PAUSED: no new iterations (p resumes) ", pal.alert())
    } else {
        match s.stage {
            Some((i, n)) => Span::raw(format!("stage {}/{n}", i + 1)),
            None => Span::raw("graceful stop"),
        }
    };
    let elapsed = ui.elapsed.max(s.elapsed);
    let mut line1 = vec![
        Span::raw(s.executor.clone()),
        Span::raw(" · "),
        stage,
        Span::raw(" · "),
        Span::styled(
            format!("{} / {}", clock(elapsed), clock(s.planned)),
            pal.bold(),
        ),
        Span::raw(" · VUs "),
        Span::styled(format!("{}/{}", s.vus, s.vus_target), pal.bold()),
        Span::raw(if wide {
            format!(" (max {})", s.vus_max)
        } else {
            String::new()
        }),
        Span::raw(" · dropped "),
        Span::styled(
            count(s.dropped),
            if s.dropped > 0 {
                pal.bad()
            } else {
                Style::default()
            },
        ),
    ];
    if ui.stops > 1 {
        line1.push(Span::styled(" · stopping at once", pal.bad()));
    }
    let err = s.error_pct();
    let mut line2 = vec![
        Span::styled(format!("{} req/s", rate(s.rps)), pal.bold()),
        Span::raw(format!(
            " · p95 {}",
            millis((s.rps > 0.0).then_some(s.p95_ms))
        )),
        Span::raw(format!(" · {} requests · errors ", count(s.requests))),
        Span::styled(
            format!("{err:.2}%"),
            if s.failures > 0 {
                pal.bad()
            } else {
                pal.good()
            },
        ),
    ];
    if wide {
        line2.push(Span::styled(format!(" · {}", s.target_url), pal.dim()));
    }
    if let Some(n) = &s.notice {
        line2.push(Span::raw(" · "));
        line2.push(Span::styled(n.clone(), pal.bad()));
    }
    let mut lines = vec![Line::from(line1), Line::from(line2)];
    if !wide {
        lines.push(Line::from(codes_inline(s, pal)));
    }
    let title = Line::from(vec![
        Span::raw(" stampede · "),
        Span::styled(s.name.clone(), pal.bold()),
        Span::raw(" "),
    ]);
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        area,
    );
}

/// The points of the chart window.
fn window<'a>(s: &'a LiveState, ui: &Ui) -> &'a [SecondPoint] {
    let all = &s.series[..];
    let Some(last) = all.last() else { return all };
    if ui.window == 0 {
        return all;
    }
    let from = last.second.saturating_sub(ui.window);
    let cut = all.partition_point(|p| p.second <= from);
    &all[cut..]
}

fn x_axis<'a>(points: &[SecondPoint], pal: Pal, labels: bool) -> Axis<'a> {
    let (a, b) = match (points.first(), points.last()) {
        (Some(a), Some(b)) if b.second > a.second => (a.second, b.second),
        (_, Some(b)) => (b.second.saturating_sub(1), b.second),
        _ => (0, 1),
    };
    let axis = Axis::default()
        .style(pal.dim())
        .bounds([a as f64, b as f64]);
    if !labels {
        return axis;
    }
    axis.labels([
        Line::from(clock(Duration::from_secs(a))),
        Line::from(clock(Duration::from_secs(b))).right_aligned(),
    ])
}

fn y_axis<'a>(max: f64, unit: &str, pal: Pal) -> Axis<'a> {
    let top = if max > 0.0 { max * 1.1 } else { 1.0 };
    let label = |v: f64| {
        if unit == "ms" {
            millis(Some(v))
        } else {
            rate(v)
        }
    };
    Axis::default().style(pal.dim()).bounds([0.0, top]).labels([
        Line::from("0"),
        Line::from(label(top / 2.0)),
        Line::from(label(top)),
    ])
}

fn rps_chart(f: &mut Frame, area: Rect, s: &LiveState, ui: &Ui, pal: Pal) {
    let pts = window(s, ui);
    let achieved: Vec<(f64, f64)> = pts.iter().map(|p| (p.second as f64, p.rps)).collect();
    let target: Vec<(f64, f64)> = pts
        .iter()
        .filter_map(|p| p.target_rps.map(|t| (p.second as f64, t)))
        .collect();
    let max = pts
        .iter()
        .map(|p| p.rps.max(p.target_rps.unwrap_or(0.0)))
        .fold(0.0, f64::max);
    let narrow = area.width < 60;
    let title = match (s.target_kind, narrow) {
        (TargetKind::Rate, false) => " req/s: target (arrival schedule) vs achieved ",
        (TargetKind::PartialRate, false) => " req/s: target (open scenarios only) vs achieved ",
        (TargetKind::Vus, false) => " req/s achieved (closed model: the target is VUs) ",
        (TargetKind::Rate, true) => " req/s: target vs achieved ",
        (TargetKind::PartialRate, true) => " req/s: target (open) vs achieved ",
        (TargetKind::Vus, true) => " req/s achieved (target: VUs) ",
    };
    let mut sets = Vec::new();
    if !target.is_empty() {
        sets.push(
            Dataset::default()
                .name("target")
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(pal.fg(Color::DarkGray))
                .data(&target),
        );
    }
    sets.push(
        Dataset::default()
            .name("achieved")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(pal.fg(Color::Cyan))
            .data(&achieved),
    );
    f.render_widget(
        Chart::new(sets)
            .legend_position(Some(LegendPosition::TopLeft))
            .block(Block::bordered().title(title))
            .x_axis(x_axis(pts, pal, area.height >= CHART_LABELS))
            .y_axis(y_axis(max, "req/s", pal)),
        area,
    );
}

fn latency_chart(f: &mut Frame, area: Rect, s: &LiveState, ui: &Ui, pal: Pal) {
    let pts = window(s, ui);
    let series = |g: fn(&SecondPoint) -> f64| -> Vec<(f64, f64)> {
        pts.iter()
            .filter(|p| p.rps > 0.0)
            .map(|p| (p.second as f64, g(p)))
            .collect()
    };
    let (p50, p95, p99) = (
        series(|p| p.p50_ms),
        series(|p| p.p95_ms),
        series(|p| p.p99_ms),
    );
    let max = p99.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let sets = vec![
        Dataset::default()
            .name("p50")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(pal.fg(Color::Green))
            .data(&p50),
        Dataset::default()
            .name("p95")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(pal.fg(Color::Yellow))
            .data(&p95),
        Dataset::default()
            .name("p99")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(pal.fg(Color::Red))
            .data(&p99),
    ];
    f.render_widget(
        Chart::new(sets)
            .legend_position(Some(LegendPosition::TopLeft))
            .block(Block::bordered().title(if area.width < 60 {
                " latency p50/p95/p99 "
            } else {
                " latency per second: p50 / p95 / p99 "
            }))
            .x_axis(x_axis(pts, pal, area.height >= CHART_LABELS))
            .y_axis(y_axis(max, "ms", pal)),
        area,
    );
}

fn right(text: String) -> Cell<'static> {
    Cell::from(Line::from(text).right_aligned())
}

fn steps_table(f: &mut Frame, area: Rect, s: &LiveState, pal: Pal) {
    let header = Row::new(
        ["step", "requests", "req/s", "p50", "p95", "p99", "errors"]
            .into_iter()
            .enumerate()
            .map(|(i, h)| {
                if i == 0 {
                    Cell::from(h)
                } else {
                    Cell::from(Line::from(h).right_aligned())
                }
            }),
    )
    .style(pal.bold());
    let rows = s.steps.iter().map(|st| {
        let errors =
            Cell::from(Line::from(count(st.errors)).right_aligned()).style(if st.errors > 0 {
                pal.bad()
            } else {
                Style::default()
            });
        let name = match &st.stream {
            Some(f) => format!("{} · {f}", st.name),
            None => st.name.clone(),
        };
        Row::new(vec![
            Cell::from(name),
            right(count(st.requests)),
            right(rate(st.rps)),
            right(millis(st.p50_ms)),
            right(millis(st.p95_ms)),
            right(millis(st.p99_ms)),
            errors,
        ])
    });
    let widths = [
        Constraint::Fill(1),
        Constraint::Length(10),
        Constraint::Length(8),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(9),
        Constraint::Length(7),
    ];
    let hidden = s
        .steps
        .len()
        .saturating_sub(area.height.saturating_sub(3) as usize);
    let title = if hidden > 0 {
        format!(" steps (latency: whole run; req/s: last second) · {hidden} more below ")
    } else {
        " steps (latency: whole run; req/s: last second) ".to_string()
    };
    f.render_widget(
        Table::new(rows, widths)
            .header(header)
            .column_spacing(1)
            .block(Block::bordered().title(title)),
        area,
    );
}

fn codes_lines(s: &LiveState, pal: Pal) -> Vec<Line<'static>> {
    let mut lines: Vec<Line> = s
        .status
        .iter()
        .map(|(code, n)| {
            let st = if *code >= 400 {
                pal.bad()
            } else {
                Style::default()
            };
            Line::from(vec![
                Span::styled(format!("{code:<6}"), st),
                Span::raw(format!("{:>12}", count(*n))),
            ])
        })
        .collect();
    if s.status.is_empty() {
        lines.push(Line::styled("no responses yet", pal.dim()));
    }
    for (kind, n) in &s.errors {
        lines.push(Line::from(vec![
            Span::styled(format!("{kind:<18}"), pal.bad()),
            Span::raw(format!("{:>12}", count(*n))),
        ]));
    }
    if s.errors.is_empty() {
        lines.push(Line::styled("no errors", pal.good()));
    }
    lines
}

fn codes_panel(f: &mut Frame, area: Rect, s: &LiveState, pal: Pal) {
    f.render_widget(
        Paragraph::new(codes_lines(s, pal)).block(Block::bordered().title(" status · errors ")),
        area,
    );
}

/// Status codes and errors on one line (narrow screens).
fn codes_inline(s: &LiveState, pal: Pal) -> Vec<Span<'static>> {
    let mut spans = vec![Span::raw("status ")];
    if s.status.is_empty() {
        spans.push(Span::styled("none yet", pal.dim()));
    }
    for (i, (code, n)) in s.status.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(", "));
        }
        let st = if *code >= 400 {
            pal.bad()
        } else {
            Style::default()
        };
        spans.push(Span::styled(format!("{code}"), st));
        spans.push(Span::raw(format!(" {}", count(*n))));
    }
    spans.push(Span::raw(" · errors "));
    if s.errors.is_empty() {
        spans.push(Span::styled("none", pal.good()));
    }
    for (i, (kind, n)) in s.errors.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(", "));
        }
        spans.push(Span::styled(format!("{kind} {}", count(*n)), pal.bad()));
    }
    spans
}

fn thresholds_table(f: &mut Frame, area: Rect, s: &LiveState, pal: Pal) {
    let failing = s.failing().len();
    let mut title = " thresholds ".to_string();
    if failing > 0 {
        title.push_str(&format!("· {failing} failing "));
    }
    let hidden = s
        .thresholds
        .len()
        .saturating_sub(area.height.saturating_sub(2) as usize);
    if hidden > 0 {
        title.push_str(&format!("· {hidden} more below "));
    }
    let rows: Vec<Row> = if s.thresholds.is_empty() {
        vec![Row::new(vec![
            Cell::from(""),
            Cell::from(Span::styled("none in this scenario", pal.dim())),
        ])]
    } else {
        s.thresholds
            .iter()
            .map(|t| {
                let (mark, st) = match t.passed {
                    Some(true) => ("✓", pal.good()),
                    Some(false) => ("✗", pal.bad()),
                    None => ("…", pal.dim()),
                };
                let abort = match t.abort {
                    Abort::Off => String::new(),
                    Abort::Armed => "abort: armed".into(),
                    Abort::In(d) => format!("abort: in {}", clock(d + Duration::from_millis(999))),
                };
                Row::new(vec![
                    Cell::from(Span::styled(mark, st)),
                    Cell::from(t.label()),
                    Cell::from(Line::from(t.observed.clone()).right_aligned()).style(st),
                    Cell::from(abort),
                ])
            })
            .collect()
    };
    let widths = [
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(12),
        Constraint::Length(15),
    ];
    f.render_widget(
        Table::new(rows, widths)
            .column_spacing(1)
            .block(Block::bordered().title(title)),
        area,
    );
}

fn help_overlay(f: &mut Frame, area: Rect) {
    let w = area.width.min(78);
    let h = (HELP.len() as u16 + 2).min(area.height);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let lines: Vec<Line> = HELP
        .iter()
        .map(|(k, what)| Line::from(format!(" {k:<15} {what}")))
        .collect();
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" keys ")),
        r,
    );
}

#[cfg(test)]
mod tests;
