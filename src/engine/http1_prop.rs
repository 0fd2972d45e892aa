//! Property test of the HTTP/1.1 response parser: random responses, valid and broken, fed in
//! random pieces, compared with a reference — httparse's view of each head (parsed whole, with
//! room for any number of headers) plus the body rules of RFC 9112 §6.3 written out plainly
//! here — and with the same bytes fed in one piece.

use super::http1::{Capture, DEFAULT_MAX_HEADER_LINES, Feed, MAX_HEAD_BYTES, Response};
use proptest::prelude::*;

/// What a response turned out to be.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Complete {
        status: u16,
        /// Lower-case name, value.
        headers: Vec<(String, Vec<u8>)>,
        body: Vec<u8>,
        /// The body ended with the connection (and not before).
        until_close: bool,
        /// Bytes after the response.
        extra: usize,
    },
    /// Not a valid response, or not a complete one when the connection closed.
    Invalid,
}

/// One CRLF-terminated line at the front of `b` (no bare CR or LF inside), and the rest.
fn line(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = b.iter().position(|c| *c == b'\r' || *c == b'\n')?;
    if b[end] != b'\r' || b.get(end + 1) != Some(&b'\n') {
        return None;
    }
    Some((&b[..end], &b[end + 2..]))
}

/// A chunked body the long way, line by line: the body and how many bytes it took.
fn dechunk(all: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut b = all;
    let mut out = Vec::new();
    loop {
        let (size_line, rest) = line(b)?;
        let size_part = size_line.split(|c| *c == b';').next()?.trim_ascii_end();
        if size_part.is_empty() || !size_part.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let size = u64::from_str_radix(std::str::from_utf8(size_part).ok()?, 16).ok()?;
        b = rest;
        if size == 0 {
            loop {
                let (l, rest) = line(b)?;
                b = rest;
                if l.is_empty() {
                    return Some((out, all.len() - b.len()));
                }
            }
        }
        let size = usize::try_from(size).ok()?;
        if b.len() < size.checked_add(2)? || &b[size..size + 2] != b"\r\n" {
            return None;
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

/// A Content-Length field value: digits, or a list of the same digits.
fn content_length(v: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(v).ok()?;
    let values: Vec<&str> = text.split(',').map(str::trim).collect();
    if values
        .iter()
        .any(|p| p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    let first: u64 = values[0].parse().ok()?;
    for p in &values[1..] {
        if p.parse::<u64>().ok()? != first {
            return None;
        }
    }
    Some(first)
}

/// The reference: httparse for each head, then RFC 9112 §6.3 for the body.
fn reference(bytes: &[u8], head_request: bool) -> Outcome {
    let mut at = 0;
    loop {
        let mut slots = vec![httparse::EMPTY_HEADER; 4096];
        let mut r = httparse::Response::new(&mut slots);
        let n = match r.parse(&bytes[at..]) {
            Ok(httparse::Status::Complete(n)) => n,
            _ => return Outcome::Invalid,
        };
        if n > MAX_HEAD_BYTES || r.headers.len() > DEFAULT_MAX_HEADER_LINES as usize {
            return Outcome::Invalid;
        }
        let status = r.code.unwrap_or(0);
        if (100..200).contains(&status) && status != 101 {
            at += n;
            continue;
        }
        let headers: Vec<(String, Vec<u8>)> = r
            .headers
            .iter()
            .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
            .collect();
        let rest = &bytes[at + n..];
        let mut length = None;
        for (_, v) in headers.iter().filter(|(k, _)| k == "content-length") {
            match content_length(v) {
                Some(l) if length.is_none_or(|x| x == l) => length = Some(l),
                _ => return Outcome::Invalid,
            }
        }
        let te: Option<&Vec<u8>> = headers
            .iter()
            .filter(|(k, _)| k == "transfer-encoding")
            .map(|(_, v)| v)
            .next_back();
        let done = |body: Vec<u8>, until_close: bool, extra: usize| Outcome::Complete {
            status,
            headers: headers.clone(),
            body,
            until_close,
            extra,
        };
        if head_request || [204, 304, 101].contains(&status) {
            return done(Vec::new(), false, rest.len());
        }
        if let Some(te) = te {
            let last = String::from_utf8_lossy(te)
                .rsplit(',')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if last != "chunked" {
                return done(rest.to_vec(), true, 0);
            }
            return match dechunk(rest) {
                Some((body, used)) => done(body, false, rest.len() - used),
                None => Outcome::Invalid,
            };
        }
        return match length {
            Some(l) if rest.len() as u64 >= l => {
                done(rest[..l as usize].to_vec(), false, rest.len() - l as usize)
            }
            Some(_) => Outcome::Invalid,
            None => done(rest.to_vec(), true, 0),
        };
    }
}

/// Our parser, fed `bytes` cut at `cuts`, then told the connection closed.
fn ours(bytes: &[u8], cuts: &[usize], head_request: bool) -> Outcome {
    let mut r = Response::capturing(Capture {
        headers: true,
        body: true,
        cookies: false,
        location: false,
        max_body: 0,
    });
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|c| c % (bytes.len() + 1))
        .filter(|c| *c > 0 && *c < bytes.len())
        .collect();
    points.sort_unstable();
    points.dedup();
    let mut pieces = Vec::new();
    let mut from = 0;
    for p in points.into_iter().chain([bytes.len()]) {
        if p > from {
            pieces.push(&bytes[from..p]);
        }
        from = p;
    }
    for (i, piece) in pieces.iter().enumerate() {
        match r.feed(piece, head_request) {
            Err(_) => return Outcome::Invalid,
            Ok(Feed::Done { extra }) => {
                let later: usize = pieces[i + 1..].iter().map(|p| p.len()).sum();
                return Outcome::Complete {
                    status: r.status,
                    headers: std::mem::take(&mut r.headers),
                    body: std::mem::take(&mut r.body_bytes),
                    until_close: false,
                    extra: extra + later,
                };
            }
            Ok(Feed::More) => {}
        }
    }
    match r.eof() {
        Ok(()) => Outcome::Complete {
            status: r.status,
            headers: std::mem::take(&mut r.headers),
            body: std::mem::take(&mut r.body_bytes),
            until_close: true,
            extra: 0,
        },
        Err(_) => Outcome::Invalid,
    }
}

/// How the generated response frames its body.
#[derive(Debug, Clone)]
enum Framing {
    Length,
    Chunked {
        cuts: Vec<usize>,
        ext: bool,
        trailer: bool,
    },
    UntilClose,
    /// Transfer-Encoding: chunked and a (wrong) Content-Length.
    ChunkedAndLength,
    /// Transfer-Encoding: gzip (not chunked): until close.
    NotChunked,
    /// `Content-Length: +N`.
    PlusLength,
    /// Two different Content-Length fields.
    TwoLengths,
}

fn framing() -> impl Strategy<Value = Framing> {
    prop_oneof![
        3 => Just(Framing::Length),
        3 => (prop::collection::vec(0usize..200, 0..5), any::<bool>(), any::<bool>())
            .prop_map(|(cuts, ext, trailer)| Framing::Chunked { cuts, ext, trailer }),
        1 => Just(Framing::UntilClose),
        1 => Just(Framing::ChunkedAndLength),
        1 => Just(Framing::NotChunked),
        1 => Just(Framing::PlusLength),
        1 => Just(Framing::TwoLengths),
    ]
}

fn token() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(b"abcdefXYZ-019_!".to_vec()), 1..12)
        .prop_map(|v| String::from_utf8(v).unwrap_or_default())
}

fn value() -> impl Strategy<Value = String> {
    prop::collection::vec(0x20u8..0x7f, 0..24)
        .prop_map(|v| String::from_utf8(v).unwrap_or_default())
}

/// A response as a server would send it.
#[allow(clippy::too_many_arguments)]
fn build(
    http10: bool,
    interim: &[u16],
    status: u16,
    headers: &[(String, String)],
    framing: &Framing,
    body: &[u8],
    head_request: bool,
    extra: &[u8],
) -> Vec<u8> {
    let version = if http10 { "HTTP/1.0" } else { "HTTP/1.1" };
    let mut out = Vec::new();
    for code in interim {
        out.extend_from_slice(format!("HTTP/1.1 {code} Interim\r\nLink: </x>\r\n\r\n").as_bytes());
    }
    out.extend_from_slice(format!("{version} {status} Whatever\r\n").as_bytes());
    for (n, v) in headers {
        out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    let no_body = head_request || [204, 304, 101].contains(&status);
    let mut payload = Vec::new();
    match framing {
        Framing::Length => {
            out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
            payload.extend_from_slice(body);
        }
        Framing::Chunked { .. } | Framing::ChunkedAndLength => {
            let (cuts, ext, trailer) = match framing {
                Framing::Chunked { cuts, ext, trailer } => (cuts.clone(), *ext, *trailer),
                _ => (Vec::new(), false, false),
            };
            if matches!(framing, Framing::ChunkedAndLength) {
                out.extend_from_slice(b"Content-Length: 3\r\n");
            }
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
            let mut points: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
            points.push(body.len());
            points.sort_unstable();
            points.dedup();
            let mut from = 0;
            for p in points {
                if p > from {
                    let e = if ext { ";name=\"v 1\"" } else { "" };
                    payload.extend_from_slice(format!("{:X}{e}\r\n", p - from).as_bytes());
                    payload.extend_from_slice(&body[from..p]);
                    payload.extend_from_slice(b"\r\n");
                    from = p;
                }
            }
            payload.extend_from_slice(b"0\r\n");
            if trailer {
                payload.extend_from_slice(b"X-Trailer: yes\r\n");
            }
            payload.extend_from_slice(b"\r\n");
        }
        Framing::UntilClose => payload.extend_from_slice(body),
        Framing::NotChunked => {
            out.extend_from_slice(b"Transfer-Encoding: gzip\r\nContent-Length: 1\r\n");
            payload.extend_from_slice(body);
        }
        Framing::PlusLength => {
            out.extend_from_slice(format!("Content-Length: +{}\r\n", body.len()).as_bytes());
            payload.extend_from_slice(body);
        }
        Framing::TwoLengths => {
            out.extend_from_slice(
                format!(
                    "Content-Length: {}\r\nContent-Length: {}\r\n",
                    body.len(),
                    body.len() + 1
                )
                .as_bytes(),
            );
            payload.extend_from_slice(body);
        }
    }
    out.extend_from_slice(b"\r\n");
    if !no_body {
        out.extend_from_slice(&payload);
    }
    out.extend_from_slice(extra);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_response_in_any_pieces_parses_as_the_reference_says(
        http10 in prop::bool::weighted(0.2),
        interim in prop::collection::vec(prop::sample::select(vec![100u16, 102, 103]), 0..3),
        status in prop_oneof![Just(200u16), Just(204), Just(304), Just(101), 200u16..600],
        headers in prop::collection::vec((token(), value()), 0..8),
        framing in framing(),
        body in prop::collection::vec(any::<u8>(), 0..150),
        head_request in prop::bool::weighted(0.1),
        extra in prop::collection::vec(any::<u8>(), 0..3),
        damage in prop::option::weighted(0.3, (any::<usize>(), any::<u8>())),
        truncate in prop::option::weighted(0.1, any::<usize>()),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut bytes = build(http10, &interim, status, &headers, &framing, &body, head_request, &extra);
        if let Some((at, b)) = damage {
            let i = at % bytes.len();
            bytes[i] = b;
        }
        if let Some(t) = truncate {
            bytes.truncate(t % (bytes.len() + 1));
        }
        let want = reference(&bytes, head_request);
        let whole = ours(&bytes, &[], head_request);
        let split = ours(&bytes, &cuts, head_request);
        prop_assert_eq!(&whole, &want, "in one piece: {:?}", String::from_utf8_lossy(&bytes));
        prop_assert_eq!(&split, &want, "cut at {:?}: {:?}", cuts, String::from_utf8_lossy(&bytes));
        // Undamaged, well-framed responses are complete with the body that was sent.
        if damage.is_none() && truncate.is_none() && !head_request
            && matches!(framing, Framing::Length | Framing::Chunked { .. })
            && ![204, 304, 101].contains(&status)
        {
            match &want {
                Outcome::Complete { body: got, .. } => prop_assert_eq!(got, &body),
                Outcome::Invalid => prop_assert!(false, "valid response refused: {:?}", String::from_utf8_lossy(&bytes)),
            }
        }
    }
}
