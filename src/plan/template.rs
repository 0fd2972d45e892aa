//! `{{ ... }}` templates in request paths, headers and bodies: parsed once at load time into
//! literal and variable parts, rendered per request into a VU's buffer.

use bytes::Bytes;
use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, percent_encode};

/// What a `{{ ... }}` stands for.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `{{vu}}`: the VU's number (from 1).
    Vu,
    /// `{{iteration}}`: the VU's iteration (from 0).
    Iteration,
    /// `{{uuid}}`: a random version-4 UUID.
    Uuid,
    /// `{{random_int(a, b)}}`: uniform in `a..=b`.
    RandomInt(i64, i64),
    /// `{{data.FEED.COLUMN}}`: the column of the row this iteration drew from the feed.
    Data { feed: usize, column: usize },
    /// `{{NAME}}`: a declared or extracted variable (index into the VU's variables).
    Var(usize),
}

/// How a substituted value is written: it depends on where the template sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// Exactly as it is (bodies, expectations): CR and LF included.
    Text,
    /// A header value: CR, LF and NUL removed, so a value cannot add a header or end the head.
    Header,
    /// A step's path. Before the first literal `?`, values are percent-encoded as a path
    /// segment (`/`, `?`, `#`, `%`, spaces, non-ASCII...); after it, as a query component
    /// (`&`, `=`, `+` too). `{{raw NAME}}` opts out (see `PathRaw`).
    Path,
    /// A value after the `?` of a path (set by the parser, not by callers).
    Query,
    /// `{{raw NAME}}` in a path: the value's URL syntax (`/`, `?`, `&`, `=`, `%XX`) kept; only
    /// what can never be in a request-target (controls, space, `"#<>\^{|}`, the backquote,
    /// non-ASCII) is percent-encoded.
    PathRaw,
    /// Inside a JSON string: quotes, backslashes and control characters escaped.
    Json,
}

/// What RFC 3986 allows in a path segment (`pchar`): unreserved, sub-delims, `:` and `@`.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// A query component, as JavaScript's `encodeURIComponent`: unreserved and `!*'()` kept.
const QUERY_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// What can never be in a request-target, whatever the URL means.
const NEVER_IN_TARGET: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

impl Escape {
    /// Append `value`, escaped for this context, to `out`.
    pub fn write(self, value: &[u8], out: &mut Vec<u8>) {
        let set = match self {
            Escape::Text => {
                out.extend_from_slice(value);
                return;
            }
            Escape::Header => {
                out.extend(
                    value
                        .iter()
                        .copied()
                        .filter(|b| !matches!(b, b'\r' | b'\n' | 0)),
                );
                return;
            }
            Escape::Json => {
                out.extend_from_slice(json_escape(&String::from_utf8_lossy(value)).as_bytes());
                return;
            }
            Escape::Path => PATH_SEGMENT,
            Escape::Query => QUERY_COMPONENT,
            Escape::PathRaw => NEVER_IN_TARGET,
        };
        for chunk in percent_encode(value, set) {
            out.extend_from_slice(chunk.as_bytes());
        }
    }

    /// Escape, in place, what was appended to `out` from `start` on. Allocates only when the
    /// value has something to escape (the usual value, an id or a number, has not).
    pub fn apply_from(self, out: &mut Vec<u8>, start: usize) {
        let tail = &out[start..];
        let clean = match self {
            Escape::Text => true,
            Escape::Header => !tail.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)),
            Escape::Json => !tail
                .iter()
                .any(|b| *b < 0x20 || *b >= 0x7f || matches!(b, b'"' | b'\\')),
            Escape::Path | Escape::Query | Escape::PathRaw => {
                let set = match self {
                    Escape::Path => PATH_SEGMENT,
                    Escape::Query => QUERY_COMPONENT,
                    _ => NEVER_IN_TARGET,
                };
                // Borrowed: nothing was encoded.
                matches!(
                    std::borrow::Cow::from(percent_encode(tail, set)),
                    std::borrow::Cow::Borrowed(_)
                )
            }
        };
        if !clean {
            let value = out.split_off(start);
            self.write(&value, out);
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Lit(Bytes),
    Expr(Expr, Escape),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template {
    pub parts: Vec<Part>,
}

/// Why a template is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `at`: the character (1-based) where the `{{` is.
    #[error("`{{{{` at character {at} has no closing `}}}}`")]
    Unclosed { at: usize },
    #[error(
        "`{{{{{0}}}}}`: `raw` only applies in a step's path (values in bodies and expectations are kept as they are; header values always lose CR and LF)"
    )]
    RawOutsidePath(String),
    #[error("`{0}`: random_int takes two whole numbers, e.g. `random_int(1, 100)`")]
    RandomIntArgs(String),
    #[error("`{0}`: the lower bound is above the upper one")]
    RandomIntBounds(String),
    #[error(
        "unknown function in `{{{{{0}}}}}`: templates offer vu, iteration, uuid, random_int(a, b), env.NAME, data.FEED.COLUMN and variables"
    )]
    UnknownFunction(String),
    /// The resolver's own message (an undefined variable, a missing feed, ...).
    #[error("{0}")]
    Resolve(String),
}

/// One `{{ ... }}` as written, for the loader to resolve: the text inside and its byte offset.
#[derive(Debug, Clone, PartialEq)]
pub struct Raw<'a> {
    pub text: &'a str,
    pub offset: usize,
}

/// Split `s` into literal text and `{{ ... }}` expressions, resolving each with `resolve`
/// (which returns the expression, or a literal for values known at load time such as
/// `env.NAME`). `escape` says where the template sits; in a path, values after a literal `?`
/// are escaped as query components, and `{{raw NAME}}` keeps a value's URL syntax.
pub fn parse(
    s: &str,
    escape: Escape,
    mut resolve: impl FnMut(Raw<'_>) -> Result<Resolved, String>,
) -> Result<Template, TemplateError> {
    let mut parts = Vec::new();
    let mut lit: Vec<u8> = Vec::new();
    let mut rest = s;
    let mut offset = 0;
    let mut escape = escape;
    while let Some(open) = rest.find("{{") {
        lit.extend_from_slice(&rest.as_bytes()[..open]);
        if escape == Escape::Path && rest[..open].contains('?') {
            escape = Escape::Query;
        }
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err(TemplateError::Unclosed {
                at: offset + open + 1,
            });
        };
        let inner = after[..close].trim();
        let (text, esc) = match inner
            .strip_prefix("raw ")
            .or_else(|| inner.strip_prefix("raw\t"))
        {
            Some(name) => match escape {
                Escape::Path | Escape::Query => (name.trim(), Escape::PathRaw),
                _ => {
                    return Err(TemplateError::RawOutsidePath(inner.to_string()));
                }
            },
            None => (inner, escape),
        };
        let inner_start = offset + open;
        match resolve(Raw {
            text,
            offset: inner_start,
        })
        .map_err(TemplateError::Resolve)?
        {
            Resolved::Literal(v) => esc.write(v.as_bytes(), &mut lit),
            Resolved::Expr(e) => {
                if !lit.is_empty() {
                    parts.push(Part::Lit(Bytes::from(std::mem::take(&mut lit))));
                }
                parts.push(Part::Expr(e, esc));
            }
        }
        let consumed = open + 2 + close + 2;
        offset += consumed;
        rest = &rest[consumed..];
    }
    lit.extend_from_slice(rest.as_bytes());
    if !lit.is_empty() {
        parts.push(Part::Lit(Bytes::from(lit)));
    }
    Ok(Template { parts })
}

/// What a resolver makes of one expression.
pub enum Resolved {
    Literal(String),
    Expr(Expr),
}

/// Parse the inside of `{{ ... }}` into a built-in, or `None` for a name to look up.
pub fn builtin(text: &str) -> Result<Option<Expr>, TemplateError> {
    match text {
        "vu" => return Ok(Some(Expr::Vu)),
        "iteration" => return Ok(Some(Expr::Iteration)),
        "uuid" => return Ok(Some(Expr::Uuid)),
        _ => {}
    }
    if let Some(args) = text
        .strip_prefix("random_int")
        .map(str::trim_start)
        .and_then(|r| r.strip_prefix('('))
        .and_then(|r| r.strip_suffix(')'))
    {
        let bad = || TemplateError::RandomIntArgs(text.to_string());
        let (a, b) = args.split_once(',').ok_or_else(bad)?;
        let a: i64 = a.trim().parse().map_err(|_| bad())?;
        let b: i64 = b.trim().parse().map_err(|_| bad())?;
        if a > b {
            return Err(TemplateError::RandomIntBounds(text.to_string()));
        }
        return Ok(Some(Expr::RandomInt(a, b)));
    }
    if text.contains('(') {
        return Err(TemplateError::UnknownFunction(text.to_string()));
    }
    Ok(None)
}

/// Escape `s` for the inside of a JSON string.
pub fn json_escape(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

impl Template {
    /// A template of fixed text.
    pub fn literal(s: &str) -> Self {
        if s.is_empty() {
            Template::default()
        } else {
            Template {
                parts: vec![Part::Lit(Bytes::copy_from_slice(s.as_bytes()))],
            }
        }
    }

    /// True when nothing in it changes between requests.
    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    /// The fixed text, when static.
    pub fn text(&self) -> Option<String> {
        let mut out = Vec::new();
        for p in &self.parts {
            match p {
                Part::Lit(b) => out.extend_from_slice(b),
                Part::Expr(..) => return None,
            }
        }
        String::from_utf8(out).ok()
    }

    /// Every expression in it.
    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.parts.iter().filter_map(|p| match p {
            Part::Expr(e, _) => Some(e),
            Part::Lit(_) => None,
        })
    }

    /// Append the rendered template to `out`.
    pub fn render(&self, env: &dyn RenderEnv, out: &mut Vec<u8>) {
        for p in &self.parts {
            match p {
                Part::Lit(b) => out.extend_from_slice(b),
                Part::Expr(e, esc) => {
                    let start = out.len();
                    env.value(e, out);
                    esc.apply_from(out, start);
                }
            }
        }
    }
}

/// Where rendering finds values.
pub trait RenderEnv {
    /// Append the value of `e` to `out`.
    fn value(&self, e: &Expr, out: &mut Vec<u8>);
}

/// A random version-4 UUID from 128 random bits.
pub fn uuid_v4(hi: u64, lo: u64, out: &mut Vec<u8>) {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&hi.to_be_bytes());
    b[8..].copy_from_slice(&lo.to_be_bytes());
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push(b'-');
        }
        out.push(HEX[(byte >> 4) as usize]);
        out.push(HEX[(byte & 0xf) as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Env;
    impl RenderEnv for Env {
        fn value(&self, e: &Expr, out: &mut Vec<u8>) {
            match e {
                Expr::Vu => out.extend_from_slice(b"7"),
                Expr::Var(0) => out.extend_from_slice(b"a\"b\r\nc"),
                _ => out.extend_from_slice(b"?"),
            }
        }
    }

    fn resolve(r: Raw<'_>) -> Result<Resolved, String> {
        if let Some(e) = builtin(r.text).map_err(|e| e.to_string())? {
            return Ok(Resolved::Expr(e));
        }
        match r.text {
            "env.HOME" => Ok(Resolved::Literal("/home/x".into())),
            "name" => Ok(Resolved::Expr(Expr::Var(0))),
            other => Err(format!("undefined `{other}` at {}", r.offset)),
        }
    }

    fn render(t: &Template) -> String {
        let mut out = Vec::new();
        t.render(&Env, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn literals_builtins_and_variables() {
        let t = parse("/u/{{ vu }}/{{name}}?h={{env.HOME}}", Escape::Path, resolve).unwrap();
        assert!(!t.is_static());
        assert_eq!(
            render(&t),
            "/u/7/a%22b%0D%0Ac?h=%2Fhome%2Fx",
            "path values are percent-encoded as a segment, then as a query component"
        );
        let t = parse("{\"m\":\"{{name}}\"}", Escape::Json, resolve).unwrap();
        assert_eq!(render(&t), "{\"m\":\"a\\\"b\\r\\nc\"}");
        let t = parse("/plain/{{env.HOME}}", Escape::Path, resolve).unwrap();
        assert!(t.is_static());
        assert_eq!(t.text().as_deref(), Some("/plain/%2Fhome%2Fx"));
        let t = parse("/plain{{raw env.HOME}}", Escape::Path, resolve).unwrap();
        assert_eq!(t.text().as_deref(), Some("/plain/home/x"));
    }

    #[test]
    fn each_context_escapes_its_own_way() {
        struct V(&'static [u8]);
        impl RenderEnv for V {
            fn value(&self, _: &Expr, out: &mut Vec<u8>) {
                out.extend_from_slice(self.0);
            }
        }
        let r = |ctx: Escape, tpl: &str, v: &'static [u8]| {
            let t = parse(tpl, ctx, resolve).unwrap();
            let mut out = Vec::new();
            t.render(&V(v), &mut out);
            String::from_utf8(out).unwrap()
        };
        let v: &[u8] = "a b/c?d#e%f&g=h+ü\r\nX: y".as_bytes();
        assert_eq!(
            r(Escape::Path, "/p/{{name}}", v),
            "/p/a%20b%2Fc%3Fd%23e%25f&g=h+%C3%BC%0D%0AX:%20y"
        );
        assert_eq!(
            r(Escape::Path, "/p?q={{name}}", v),
            "/p?q=a%20b%2Fc%3Fd%23e%25f%26g%3Dh%2B%C3%BC%0D%0AX%3A%20y"
        );
        assert_eq!(
            r(Escape::Path, "/p/{{raw name}}", v),
            "/p/a%20b/c?d%23e%f&g=h+%C3%BC%0D%0AX:%20y",
            "raw keeps the URL syntax, encodes what cannot be on the wire"
        );
        assert_eq!(
            r(Escape::Header, "t {{name}}", v),
            "t a b/c?d#e%f&g=h+üX: y"
        );
        assert_eq!(
            r(Escape::Text, "{{name}}", v),
            "a b/c?d#e%f&g=h+ü\r\nX: y",
            "bodies and expectations keep CR LF"
        );
        assert!(
            parse("x {{raw name}}", Escape::Header, resolve)
                .unwrap_err()
                .to_string()
                .contains("only applies in a step's path")
        );
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(
            parse("/x/{{nope}}", Escape::Text, resolve)
                .unwrap_err()
                .to_string()
                .contains("undefined `nope` at 3")
        );
        assert!(
            parse("/x/{{vu", Escape::Text, resolve)
                .unwrap_err()
                .to_string()
                .contains("no closing")
        );
        assert!(
            parse("{{random_int(5, 1)}}", Escape::Text, resolve)
                .unwrap_err()
                .to_string()
                .contains("lower bound")
        );
        assert!(
            parse("{{upper(x)}}", Escape::Text, resolve)
                .unwrap_err()
                .to_string()
                .contains("unknown function")
        );
        assert_eq!(
            builtin("random_int(1, 100)").unwrap(),
            Some(Expr::RandomInt(1, 100))
        );
    }

    #[test]
    fn uuids_are_version_4() {
        let mut out = Vec::new();
        uuid_v4(u64::MAX, 0, &mut out);
        let s = String::from_utf8(out).unwrap();
        assert_eq!(s.len(), 36);
        assert_eq!(&s[14..15], "4");
        assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"));
    }
}
