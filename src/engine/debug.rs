//! `--http-debug[=full]`: every request and its response printed to stderr as k6 does (heads;
//! with `full`, bodies too, at most 2 KiB each), with secrets masked: the values of
//! `Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie` and API-key headers read `***`.
//! Off by default; when off it costs one relaxed atomic load per request.

use super::http1::Response;
use crate::metrics::Sample;
use std::sync::atomic::{AtomicU8, Ordering};

static LEVEL: AtomicU8 = AtomicU8::new(0);

/// 0 off, 1 heads, 2 heads and bodies.
pub fn set(level: u8) {
    LEVEL.store(level, Ordering::Relaxed);
}

pub fn level() -> u8 {
    LEVEL.load(Ordering::Relaxed)
}

const SECRET: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
];
const BODY_MAX: usize = 2048;

fn is_secret(name: &str) -> bool {
    SECRET.iter().any(|s| name.eq_ignore_ascii_case(s))
}

fn body_text(b: &[u8]) -> String {
    let shown = &b[..b.len().min(BODY_MAX)];
    let mut s = String::from_utf8_lossy(shown).into_owned();
    if b.len() > BODY_MAX {
        s.push_str(&format!("… ({} bytes in all)", b.len()));
    }
    s
}

/// The request as sent, its secrets masked.
pub fn request_text(wire: &[u8], full: bool) -> String {
    let (head, body) = match wire.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => (&wire[..i], &wire[i + 4..]),
        None => (wire, &[][..]),
    };
    let mut out = String::new();
    for (i, line) in String::from_utf8_lossy(head).split("\r\n").enumerate() {
        match line.split_once(':') {
            Some((name, _)) if i > 0 && is_secret(name.trim()) => {
                out.push_str(&format!("{name}: ***\n"));
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    if full && !body.is_empty() {
        out.push('\n');
        out.push_str(&body_text(body));
        out.push('\n');
    }
    out
}

/// Print one exchange.
pub fn print(step: &str, wire: &[u8], sample: &Sample, resp: &Response) {
    let full = level() >= 2;
    let mut s = format!("Request ({step}):\n{}", request_text(wire, full));
    match sample.status {
        Some(status) => {
            s.push_str(&format!("Response ({step}):\nHTTP {status}\n"));
            for (name, value) in &resp.headers {
                if is_secret(name) {
                    s.push_str(&format!("{name}: ***\n"));
                } else {
                    s.push_str(&format!("{name}: {}\n", String::from_utf8_lossy(value)));
                }
            }
            if full && !resp.body_bytes.is_empty() {
                s.push('\n');
                s.push_str(&body_text(&resp.body_bytes));
                s.push('\n');
            }
        }
        None => s.push_str(&format!(
            "Response ({step}): none — {}\n",
            sample.error.map_or("no response", |e| e.name())
        )),
    }
    eprintln!("{s}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_the_rest_kept() {
        let wire = b"POST /login HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc\r\nCookie: s=1\r\n\r\n{\"a\":1}";
        let t = request_text(wire, true);
        assert!(t.contains("Authorization: ***"), "{t}");
        assert!(t.contains("Cookie: ***"), "{t}");
        assert!(!t.contains("abc") && !t.contains("s=1"), "{t}");
        assert!(t.contains("Host: x") && t.contains("{\"a\":1}"), "{t}");
        assert!(!request_text(wire, false).contains("{\"a\":1}"));
    }
}
