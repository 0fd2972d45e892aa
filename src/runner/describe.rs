//! The plan described in words: what `validate` prints and the run's opening lines.

use crate::plan::{Load, Plan, ScenarioPlan, Think};
use crate::units::duration::format_duration;
use std::time::Duration;

pub(super) fn fmt_rate(r: f64) -> String {
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.3}")
    }
}

/// A readable description of a plan (used by `validate` and before a run).
pub fn describe(plan: &Plan) -> String {
    let mut s = format!(
        "  name:       {}\n  target:     {}{}\n",
        plan.name,
        plan.target.url(),
        protocol_note(plan)
    );
    for sc in &plan.scenarios {
        if sc.name.is_empty() {
            s.push_str(&describe_scenario(plan, sc, ""));
        } else {
            s.push_str(&format!("  scenario {}:\n", sc.name));
            s.push_str(&describe_scenario(plan, sc, "  "));
        }
    }
    for t in &plan.thresholds {
        s.push_str(&format!(
            "  threshold:  {} {}{}\n",
            t.metric,
            t.expression,
            if t.abort_on_fail {
                " (abort on fail)"
            } else {
                ""
            }
        ));
    }
    s
}

/// How the target is spoken to, when it is not plain HTTP/1.1 with the defaults.
fn protocol_note(plan: &Plan) -> String {
    use crate::plan::HttpVersion;
    let h = &plan.http;
    let mut parts: Vec<String> = Vec::new();
    match (h.version, plan.target.tls) {
        (HttpVersion::Http1, true) => parts.push("HTTP/1.1 over TLS".into()),
        (HttpVersion::Http2, true) => parts.push("HTTP/2 over TLS".into()),
        (HttpVersion::Auto, true) => parts.push("HTTP/2 or 1.1 by ALPN over TLS".into()),
        (HttpVersion::Http2, false) => parts.push("HTTP/2 cleartext (h2c)".into()),
        _ => {}
    }
    if plan.target.tls {
        parts.push(if h.tls.insecure {
            "certificate NOT verified".into()
        } else if h.tls.ca.is_some() {
            "verified against http.tls.ca_file".into()
        } else {
            "verified against the system roots".into()
        });
        if let Some(n) = &h.tls.server_name {
            parts.push(format!("server name {n}"));
        }
        if h.tls.client_cert.is_some() {
            parts.push("client certificate".into());
        }
        if !h.tls.resumption {
            parts.push("no session resumption".into());
        }
    }
    if let Some(p) = &h.proxy {
        parts.push(format!("via proxy {}:{} from {}", p.host, p.port, p.origin));
    }
    if h.max_redirects != 10 {
        parts.push(match h.max_redirects {
            0 => "redirects not followed".into(),
            n => format!("up to {n} redirects"),
        });
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// One scenario's load, think time and flows, each line indented by `indent`.
fn describe_scenario(plan: &Plan, sc: &ScenarioPlan, indent: &str) -> String {
    let mut s = String::new();
    let load = match &sc.load {
        Load::ConstantVus { vus, duration, .. } => {
            format!("constant-vus: {vus} VUs for {}", format_duration(*duration))
        }
        Load::RampingVus {
            start_vus, stages, ..
        } => {
            let st: Vec<String> = stages
                .iter()
                .map(|x| format!("{}→{}", format_duration(x.duration), x.target))
                .collect();
            format!(
                "ramping-vus: from {start_vus}, stages {} (peak {} VUs, {})",
                st.join(", "),
                sc.load.max_vus(),
                format_duration(sc.load.duration())
            )
        }
        Load::PerVuIterations(i) => format!(
            "per-vu-iterations: {} VUs × {} iterations (at most {})",
            i.vus,
            i.iterations,
            format_duration(i.max_duration)
        ),
        Load::SharedIterations(i) => format!(
            "shared-iterations: {} iterations shared by {} VUs (at most {})",
            i.iterations,
            i.vus,
            format_duration(i.max_duration)
        ),
        Load::ConstantArrivalRate(a) => format!(
            "constant-arrival-rate: {}/s for {} ({} VUs pre-allocated, up to {}; queue {})",
            fmt_rate(a.start_rate),
            format_duration(a.duration()),
            a.pre_allocated_vus,
            a.max_vus,
            a.queue_size
        ),
        Load::RampingArrivalRate(a) if a.stairs.is_some() => {
            let st = a.stair_list();
            let (first, last) = (st.first(), st.last());
            format!(
                "breakpoint: {} stairs from {}/s to {}/s, {} each (first {} not judged), stopping at the first that fails ({} VUs pre-allocated, up to {}; queue {})",
                st.len(),
                fmt_rate(first.map_or(0.0, |s| s.rate)),
                fmt_rate(last.map_or(0.0, |s| s.rate)),
                format_duration(first.map_or(Duration::ZERO, |s| s.end - s.start)),
                format_duration(a.stairs.map_or(Duration::ZERO, |s| s.warmup)),
                a.pre_allocated_vus,
                a.max_vus,
                a.queue_size
            )
        }
        Load::RampingArrivalRate(a) => {
            let st: Vec<String> = a
                .stages
                .iter()
                .map(|x| format!("{}→{}/s", format_duration(x.duration), fmt_rate(x.target)))
                .collect();
            format!(
                "ramping-arrival-rate: from {}/s, stages {} ({} VUs pre-allocated, up to {}; queue {})",
                fmt_rate(a.start_rate),
                st.join(", "),
                a.pre_allocated_vus,
                a.max_vus,
                a.queue_size
            )
        }
    };
    let think = match sc.think {
        Think::None => "none".to_string(),
        Think::Constant(d) => format!("constant({})", format_duration(d)),
        Think::Between(a, b) => format!("between({}, {})", format_duration(a), format_duration(b)),
        Think::Exponential(d) => format!("exponential({})", format_duration(d)),
        Think::Pacing(d) => format!("pacing({})", format_duration(d)),
    };
    s.push_str(&format!(
        "{indent}  load:       {load}\n{indent}  think time: {think}\n"
    ));
    for f in &sc.flows {
        s.push_str(&format!(
            "{indent}  flow {} (weight {}): {} steps\n",
            f.name,
            f.weight,
            f.steps.len()
        ));
        for st in &f.steps {
            s.push_str(&format!(
                "{indent}    - {} [{}]\n",
                st.source, plan.step_names[st.metric]
            ));
        }
    }
    s
}
