//! One step of a VU's iteration: its request (rendered for the VU when templated, with its
//! cookies), sent with the in-flight and retry accounting, the redirects it follows, then checks
//! and extraction on the final response, all recorded; and WebSocket steps. The VU's lifecycle
//! (iterations, think time, pacing) is `vu.rs`.

use super::client::{Client, Outgoing};
use super::context::{Vu, VuContext};
use super::cookies::Jar;
use super::http1::{Capture, Response};
use super::redirect;
use super::request::{Parts, Typed};
use crate::metrics::{ErrorKind, Recorder, Sample};
use crate::plan::template::{Expr, RenderEnv, uuid_v4};
use crate::plan::{CheckKind, Extractor, Plan, Step, Want};
use bytes::Bytes;
use std::cell::{Cell, RefCell};
use tokio::time::Instant;

/// Values for templates, from a VU.
struct Env<'a> {
    plan: &'a Plan,
    vu: u64,
    iteration: u64,
    vars: &'a [Bytes],
    rows: &'a [usize],
    rng: std::cell::RefCell<&'a mut fastrand::Rng>,
}

impl RenderEnv for Env<'_> {
    fn value(&self, e: &Expr, out: &mut Vec<u8>) {
        match e {
            Expr::Vu => out.extend_from_slice(self.vu.to_string().as_bytes()),
            Expr::Iteration => out.extend_from_slice(self.iteration.to_string().as_bytes()),
            Expr::Uuid => {
                let mut rng = self.rng.borrow_mut();
                let (hi, lo) = (rng.u64(..), rng.u64(..));
                uuid_v4(hi, lo, out);
            }
            Expr::RandomInt(a, b) => {
                let v = self.rng.borrow_mut().i64(*a..=*b);
                out.extend_from_slice(v.to_string().as_bytes());
            }
            Expr::Data { feed, column } => {
                if let Some(v) = self
                    .plan
                    .feeds
                    .get(*feed)
                    .and_then(|f| f.rows.get(self.rows[*feed]))
                    .and_then(|row| row.get(*column))
                {
                    out.extend_from_slice(v);
                }
            }
            Expr::Var(i) => {
                if let Some(v) = self.vars.get(*i) {
                    out.extend_from_slice(v);
                }
            }
        }
    }
}

/// Keep the cookies a response to a request for `target` (path and query) sets (with the jar on).
fn take_cookies(ctx: &VuContext, jar: &mut Option<Box<Jar>>, target: &[u8], resp: &Response) {
    if !ctx.plan.cookies {
        return;
    }
    let mut set = resp
        .headers
        .iter()
        .filter(|(name, _)| name == "set-cookie")
        .map(|(_, v)| v.as_slice())
        .peekable();
    if set.peek().is_none() {
        return;
    }
    if jar.is_none() {
        *jar = Jar::new(&ctx.client.origin);
    }
    if let Some(j) = jar {
        j.store(target, set);
    }
}

/// The `cookie` header value for a request to `target`, if the jar holds cookies for it.
fn cookie_for(jar: &Option<Box<Jar>>, target: &[u8]) -> Option<Vec<u8>> {
    jar.as_ref()?.header(target)
}

/// Record a finished stream of a streaming step (also one that failed: it counts against
/// goodput, with whatever timings it reached).
fn record_stream(
    ctx: &VuContext,
    step: &Step,
    sample: &Sample,
    st: &super::sse::Stream<'_>,
    f: super::sse::Figures,
) {
    let Some(spec) = step.stream.as_deref() else {
        return;
    };
    let answered = sample.status.is_some();
    let good = sample.error.is_none() && f.meets(&spec.slos);
    let s = crate::metrics::stream::StreamSample {
        ttfb: f.ttfb,
        ttft: f.ttft,
        gaps: st.gaps.clone(),
        tpot: f.tpot,
        duration: f.duration,
        tokens_per_second: f.tokens_per_second,
        events: st.events,
        tokens: if answered { f.tokens } else { 0 },
        tokens_from_usage: st.usage_tokens.is_some(),
        good,
        parse_errors: st.parse_errors,
    };
    ctx.recorder.borrow_mut().record_stream(step.metric, &s);
}

/// True when the only use of the step's body is `body_contains` (so it can be matched while it
/// streams, keeping nothing) and no compression is asked for (a compressed body is decoded
/// whole). Not for streaming steps: their `body_contains` reads the events' joined content.
fn scan_only(plan: &crate::plan::Plan, step: &Step) -> bool {
    if step.stream.is_some() {
        return false;
    }
    let mut any = false;
    for c in &step.checks {
        match c.kind {
            CheckKind::BodyContains(_) => any = true,
            CheckKind::Header(..) => {}
            CheckKind::Json(..) => return false,
        }
    }
    any && step
        .extract
        .iter()
        .all(|e| matches!(e.from, Extractor::Header(_)))
        && !plan
            .http
            .headers
            .contains_key(http::header::ACCEPT_ENCODING)
        && !step.headers.contains_key(http::header::ACCEPT_ENCODING)
        && step.dynamic.as_ref().is_none_or(|d| {
            d.headers
                .iter()
                .all(|(n, _)| n != http::header::ACCEPT_ENCODING)
        })
}

/// A template rendered for this VU.
fn render_for(ctx: &VuContext, vu: &mut Vu, t: &crate::plan::template::Template) -> Vec<u8> {
    let mut out = Vec::new();
    let env = Env {
        plan: &ctx.plan,
        vu: vu.number,
        iteration: vu.iteration,
        vars: &vu.vars,
        rows: &vu.rows,
        rng: std::cell::RefCell::new(&mut vu.rng),
    };
    t.render(&env, &mut out);
    out
}

/// What checks and extraction read for a streaming step: the content of its events joined, and
/// the last event's data as JSON.
type StreamView<'a> = Option<(&'a [u8], Option<serde_json::Value>)>;

/// Checks, then extraction, on a response the step kept; sets the sample's error for the first
/// failure.
fn after_response(
    ctx: &VuContext,
    vu: &mut Vu,
    step: &Step,
    sample: &mut Sample,
    resp: &Response,
    stream: StreamView<'_>,
) {
    if sample.status.is_none() {
        return;
    }
    let mut rec = ctx.recorder.borrow_mut();
    if let Some(id) = step.status_check {
        rec.record_check(step.metric, id, sample.error != Some(ErrorKind::Status));
    }
    if !step.needs_response() {
        return;
    }
    if resp.body_over {
        // Past `http.max_body`: only the body's start was kept, so nothing is judged on it.
        for c in &step.checks {
            rec.record_check(step.metric, c.id, false);
        }
        if sample.error.is_none() {
            sample.error = Some(ErrorKind::BodyTooLarge);
        }
        return;
    }
    let mut scanned = 0usize;
    let (body, json) = match stream {
        Some((text, json)) => (std::borrow::Cow::Borrowed(text), json),
        None => {
            let body = super::encoding::decode(resp.header("content-encoding"), &resp.body_bytes);
            let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
            (body, json)
        }
    };
    let render =
        |t: &crate::plan::template::Template, vu: &mut Vu| -> Vec<u8> { render_for(ctx, vu, t) };
    for c in &step.checks {
        let ok = match &c.kind {
            CheckKind::BodyContains(t) => match &resp.scan {
                // Looked for while the body streamed by (it was not kept).
                Some(scan) => {
                    scanned += 1;
                    scan.found(scanned - 1)
                }
                None => {
                    let want = render(t, vu);
                    want.is_empty() || body.windows(want.len()).any(|w| w == want)
                }
            },
            CheckKind::Json(path, want) => {
                let found = json.as_ref().and_then(|v| path.query(v).first().cloned());
                match (found, want) {
                    (Some(f), Want::Value(w)) => f == *w,
                    (Some(serde_json::Value::String(f)), Want::Text(t)) => {
                        f.as_bytes() == render(t, vu).as_slice()
                    }
                    (Some(f), Want::Text(t)) => {
                        f.to_string().as_bytes() == render(t, vu).as_slice()
                    }
                    (None, _) => false,
                }
            }
            CheckKind::Header(name, want) => {
                let want = render(want, vu);
                resp.header(name)
                    .is_some_and(|v| v.trim_ascii() == want.as_slice())
            }
        };
        rec.record_check(step.metric, c.id, ok);
        if !ok && sample.error.is_none() {
            sample.error = Some(ErrorKind::Check);
        }
    }
    for e in &step.extract {
        let value: Option<Bytes> = match &e.from {
            Extractor::Json(path) => json.as_ref().and_then(|v| {
                path.query(v).first().map(|x| match x {
                    serde_json::Value::String(s) => Bytes::from(s.clone()),
                    other => Bytes::from(other.to_string()),
                })
            }),
            Extractor::Regex(re) => {
                let text = String::from_utf8_lossy(&body);
                re.captures(&text).map(|c| {
                    let m = c.get(1).or_else(|| c.get(0)).map_or("", |m| m.as_str());
                    Bytes::copy_from_slice(m.as_bytes())
                })
            }
            Extractor::Header(name) => resp
                .header(name)
                .map(|v| Bytes::copy_from_slice(v.trim_ascii())),
        };
        match value {
            Some(v) => vu.vars[e.var] = v,
            None => {
                if sample.error.is_none() {
                    sample.error = Some(ErrorKind::Extract);
                }
            }
        }
    }
}

/// Make this request of `step` in `vu.buf`: a templated step rendered into the VU's parts (with
/// its cookies, which depend on the rendered path) and written for HTTP/1.1; a static step with
/// the VU's cookie header slipped into its encoding (the cookie returned, for HTTP/2). A static
/// step without cookies is sent as encoded: nothing is done.
fn prepare(
    ctx: &VuContext,
    vu: &mut Vu,
    step: &Step,
    encoded: &super::request::Encoded,
) -> Option<Vec<u8>> {
    if step.dynamic.is_some() {
        let env = Env {
            plan: &ctx.plan,
            vu: vu.number,
            iteration: vu.iteration,
            vars: &vu.vars,
            rows: &vu.rows,
            rng: std::cell::RefCell::new(&mut vu.rng),
        };
        let parts = vu.parts.get_or_insert_with(Box::default);
        parts.render(step, &env);
        parts.cookie = cookie_for(&vu.jar, &parts.target);
        vu.buf.clear();
        super::request::write(step, parts, &ctx.client.host, &mut vu.buf);
        return None;
    }
    let c = cookie_for(&vu.jar, step.path.as_bytes())?;
    super::request::with_cookie(encoded, &c, &mut vu.buf);
    Some(c)
}

/// One HTTP step of an iteration: its request (rendered when templated, with the VU's
/// cookies), the redirects it follows, checks and extraction, all recorded. Returns its failure.
pub(super) async fn http_step(
    ctx: &VuContext,
    vu: &mut Vu,
    (fi, si): (usize, usize),
    step: &Step,
    intended: Option<Instant>,
) -> Option<ErrorKind> {
    let plan = &ctx.plan;
    let encoded = &ctx.client.wire[fi][si];
    // `body_contains` alone (no JSON check, no body extraction, no compression) looks for
    // its texts while the body streams: nothing of the body is kept.
    let needles: Option<Vec<Vec<u8>>> = scan_only(plan, step).then(|| {
        step.checks
            .iter()
            .filter_map(|c| match &c.kind {
                CheckKind::BodyContains(t) => Some(render_for(ctx, vu, t)),
                _ => None,
            })
            .collect()
    });
    // The bytes for HTTP/1.1 (`prepare`), and the typed form HTTP/2 builds from: the VU's
    // parts, or the step's request built once (with the VU's cookie).
    let prebuilt = ctx
        .client
        .h2_requests
        .get(fi)
        .and_then(|f| f.get(si)?.as_ref());
    let static_cookie = prepare(ctx, vu, step, encoded);
    let (wire, typed, parts): (&[u8], Typed<'_>, Option<&Parts>) = match (
        vu.parts.as_deref().filter(|_| step.dynamic.is_some()),
        &static_cookie,
    ) {
        (Some(p), _) => (&vu.buf, Typed::Parts(step, p), Some(p)),
        (None, c) => (
            if c.is_some() { &vu.buf } else { &encoded.wire },
            prebuilt.map_or(Typed::Invalid, |r| Typed::Built(r, c.as_deref())),
            None,
        ),
    };
    let max_redirects = plan.http.max_redirects;
    let dbg = super::debug::level();
    let stream = step
        .stream
        .as_deref()
        .map(|spec| RefCell::new(super::sse::Stream::new(spec)));
    let capture = Capture {
        headers: step.needs_response() || dbg > 0,
        body: (step.needs_response() && needles.is_none()) || dbg > 1 || stream.is_some(),
        cookies: plan.cookies,
        location: max_redirects > 0,
        max_body: plan.http.max_body,
    };
    let out = Outgoing {
        wire,
        typed,
        head: step.method == http::Method::HEAD,
        expect_status: step.expect_status.as_deref(),
        capture,
        written: None,
        stream: stream.as_ref().map(|s| s as &dyn super::sse::Sink),
        timeout: step.stream.as_ref().map(|s| s.timeout),
        scan: needles.as_deref(),
    };
    let (mut sample, mut resp) = send(ctx, &mut vu.client, step.metric, out).await;
    if dbg > 0 {
        super::debug::print(&plan.step_names[step.metric], wire, &sample, &resp);
    }
    sample.uncorrected = sample.duration;
    if si == 0
        && let (Some(t), Some(d)) = (intended, sample.duration)
    {
        // From the intended start (wrk2's rule), never less than the exchange itself.
        sample.duration = Some(d.max(Instant::now().saturating_duration_since(t)));
    }
    let (client, jar) = (&mut vu.client, &mut vu.jar);
    follow_redirects(ctx, client, jar, (step, parts), out, &mut sample, &mut resp).await;
    let figures = stream.as_ref().map(|st| {
        // The stream's instants, from when its request counts as started: the intended
        // start for the first request of a scheduled iteration (as `duration`).
        let end = Instant::now();
        let sent_at = end - sample.uncorrected.unwrap_or_default();
        let start = match (si, intended) {
            (0, Some(t)) => t.min(sent_at),
            _ => sent_at,
        };
        let st = st.borrow();
        let first_byte = sample.waiting.map(|w| sent_at + w);
        super::sse::Figures::of(&st, start, first_byte, end)
    });
    match &stream {
        Some(st) => {
            let st = st.borrow();
            let json = serde_json::from_str(&st.last_data).ok();
            after_response(ctx, vu, step, &mut sample, &resp, Some((&st.text, json)));
        }
        None => after_response(ctx, vu, step, &mut sample, &resp, None),
    }
    ctx.recorder.borrow_mut().record(step.metric, &sample);
    if let (Some(st), Some(f)) = (&stream, figures) {
        record_stream(ctx, step, &sample, &st.borrow(), f);
    }
    sample.error
}

/// Redirects: each hop is a request of this step (sent like `out`, recorded as it ends), made
/// from the previous request's typed parts (`first`: the templated step's, else the step's own);
/// `expect`, checks and extraction apply to the final response only, left in `sample` and
/// `resp`. Then the final response's cookies go into the jar.
async fn follow_redirects(
    ctx: &VuContext,
    client: &mut Client,
    jar: &mut Option<Box<Jar>>,
    (step, first): (&Step, Option<&Parts>),
    out: Outgoing<'_>,
    sample: &mut Sample,
    resp: &mut Response,
) {
    let plan = &ctx.plan;
    let max_redirects = plan.http.max_redirects;
    let mut hops = 0;
    let first_target = first.map_or(step.path.as_bytes(), |p| &p.target[..]);
    let mut previous: Option<Parts> = None;
    while hops < max_redirects
        && let Some(status) = sample.status.filter(|s| redirect::is_redirect(*s))
    {
        let Some(location) = resp.header("location") else {
            break;
        };
        let (method, current) = match &previous {
            Some(p) => (&p.method, &p.target[..]),
            None => (first.map_or(&step.method, |p| &p.method), first_target),
        };
        let hop = match redirect::next(status, location, method, current, &plan.target) {
            redirect::Next::Follow(hop) => hop,
            redirect::Next::Stay => break,
            redirect::Next::CrossOrigin(_) => {
                // Not followed: the step ends here, failed with the reason named.
                sample.error = Some(ErrorKind::CrossOriginRedirect);
                break;
            }
        };
        take_cookies(ctx, jar, current, resp);
        let mut next = previous
            .take()
            .unwrap_or_else(|| first.cloned().unwrap_or_else(|| Parts::of_step(step)));
        hop.apply(&mut next);
        next.cookie = cookie_for(jar, &next.target);
        let mut wire = Vec::new();
        super::request::write(step, &next, &ctx.client.host, &mut wire);
        if sample.error == Some(ErrorKind::Status) {
            sample.error = None;
        }
        ctx.recorder.borrow_mut().record(step.metric, sample);
        let hop_out = Outgoing {
            wire: &wire,
            typed: Typed::Parts(step, &next),
            head: next.method == http::Method::HEAD,
            ..out
        };
        (*sample, *resp) = send(ctx, client, step.metric, hop_out).await;
        if super::debug::level() > 0 {
            super::debug::print(&plan.step_names[step.metric], &wire, sample, resp);
        }
        sample.uncorrected = sample.duration;
        previous = Some(next);
        hops += 1;
    }
    let last = previous.as_ref().map_or(first_target, |p| &p.target[..]);
    take_cookies(ctx, jar, last, resp);
}

/// A request whose bytes went out: if its VU is stopped before the response (its future
/// dropped), it is recorded as failed `interrupted`, with the time it had waited so far as its
/// duration (a lower bound of what the response would have taken).
struct InFlight<'a> {
    recorder: &'a RefCell<Recorder>,
    metric: usize,
    written: Cell<Option<Instant>>,
    sent: u64,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some(t) = self.written.get()
            && let Ok(mut r) = self.recorder.try_borrow_mut()
        {
            let waited = t.elapsed();
            r.record(
                self.metric,
                &Sample {
                    duration: Some(waited),
                    uncorrected: Some(waited),
                    error: Some(ErrorKind::Interrupted),
                    sent: self.sent,
                    ..Sample::default()
                },
            );
        }
    }
}

/// Methods that may be sent twice with the effect of once (RFC 9110 §9.2.2), by the request
/// line.
fn idempotent(wire: &[u8]) -> bool {
    ["GET ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "TRACE "]
        .iter()
        .any(|m| wire.starts_with(m.as_bytes()))
}

/// Send one request of step `metric` (or one redirect hop of it). A request stopped in flight
/// is recorded as `interrupted`; with `http.retry: idempotent`, an idempotent request that got
/// no response byte on a reused connection is recorded as failed and sent once more.
async fn send(
    ctx: &VuContext,
    client: &mut Client,
    metric: usize,
    out: Outgoing<'_>,
) -> (Sample, Response) {
    let guard = InFlight {
        recorder: &ctx.recorder,
        metric,
        written: Cell::new(None),
        sent: out.wire.len() as u64,
    };
    let (wire, typed, head, expect_status, capture, stream, timeout, scan) = (
        out.wire,
        out.typed,
        out.head,
        out.expect_status,
        out.capture,
        out.stream,
        out.timeout,
        out.scan,
    );
    let out = Outgoing {
        written: Some(&guard.written),
        ..out
    };
    let (mut sample, mut resp) = client
        .request_via(ctx.pool.as_ref(), &ctx.client, &ctx.scratch, out)
        .await;
    guard.written.set(None);
    if sample.retryable && ctx.plan.http.retry_idempotent && idempotent(wire) {
        sample.uncorrected = sample.duration;
        {
            let mut rec = ctx.recorder.borrow_mut();
            rec.record(metric, &sample);
            rec.retries += 1;
        }
        let out = Outgoing {
            wire,
            typed,
            head,
            expect_status,
            capture,
            written: Some(&guard.written),
            stream,
            timeout,
            scan,
        };
        (sample, resp) = client
            .request_via(ctx.pool.as_ref(), &ctx.client, &ctx.scratch, out)
            .await;
        guard.written.set(None);
    }
    (sample, resp)
}

/// A WebSocket step: one session, recorded as its upgrade request (with the first failure),
/// its checks and its session figures. Returns the failure, if any.
pub(super) async fn ws_step(
    ctx: &VuContext,
    vu: &mut Vu,
    step: &Step,
    spec: &crate::plan::ws::WsSpec,
    intended: Option<Instant>,
) -> Option<ErrorKind> {
    let plan = &ctx.plan;
    // Field by field (not `render_for`), so the jar and the client stay readable meanwhile.
    let mut render = |t: &crate::plan::template::Template| {
        let mut out = Vec::new();
        let env = Env {
            plan,
            vu: vu.number,
            iteration: vu.iteration,
            vars: &vu.vars,
            rows: &vu.rows,
            rng: std::cell::RefCell::new(&mut vu.rng),
        };
        t.render(&env, &mut out);
        out
    };
    let (path, mut headers) = match &step.dynamic {
        Some(d) => {
            let path = render(&d.path);
            let headers: Vec<(String, Vec<u8>)> = d
                .headers
                .iter()
                .map(|(n, t)| (n.as_str().to_string(), render(t)))
                .collect();
            (String::from_utf8_lossy(&path).into_owned(), headers)
        }
        None => (step.path.clone(), Vec::new()),
    };
    for (n, v) in &step.headers {
        headers.push((n.as_str().to_string(), v.as_bytes().to_vec()));
    }
    let line = format!("GET {path} HTTP/1.1\r\n");
    if let Some(c) = cookie_for(&vu.jar, line.as_bytes()) {
        headers.push(("cookie".into(), c));
    }
    let up = super::ws::Upgrade {
        path: &path,
        headers,
    };
    let index = vu.client.index();
    let mut o = super::ws::session(&ctx.client, index, spec, up, &mut render).await;
    if let (Some(t), Some(d)) = (intended, o.sample.duration) {
        o.sample.duration = Some(d.max(Instant::now().saturating_duration_since(t)));
    }
    let mut rec = ctx.recorder.borrow_mut();
    if let Some(id) = step.status_check {
        rec.record_check(step.metric, id, o.sample.error != Some(ErrorKind::Status));
    }
    for (id, ok) in &o.checks {
        rec.record_check(step.metric, *id, *ok);
    }
    rec.record(step.metric, &o.sample);
    if o.opened {
        rec.record_ws(step.metric, &o.ws);
    }
    o.sample.error
}
