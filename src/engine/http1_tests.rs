//! Unit tests of the HTTP/1.1 response parser (`http1.rs`).

use super::*;

fn whole(resp: &[u8]) -> (Response, Feed) {
    let mut r = Response::new();
    let f = r.feed(resp, false).expect("valid");
    (r, f)
}

/// Feed `resp` split at every position, and byte by byte: the result must not change.
fn every_split(resp: &[u8]) -> u16 {
    let (r, f) = whole(resp);
    assert_eq!(
        f,
        Feed::Done { extra: 0 },
        "{}",
        String::from_utf8_lossy(resp)
    );
    for cut in 1..resp.len() {
        let mut p = Response::new();
        assert_eq!(p.feed(&resp[..cut], false), Ok(Feed::More), "cut {cut}");
        assert_eq!(
            p.feed(&resp[cut..], false),
            Ok(Feed::Done { extra: 0 }),
            "cut {cut}"
        );
        assert_eq!(p.status, r.status);
    }
    let mut p = Response::new();
    for (i, b) in resp.iter().enumerate() {
        let f = p.feed(std::slice::from_ref(b), false).expect("valid");
        if i + 1 < resp.len() {
            assert_eq!(f, Feed::More, "byte {i}");
        } else {
            assert_eq!(f, Feed::Done { extra: 0 });
        }
    }
    r.status
}

#[test]
fn content_length_bodies_in_any_split() {
    assert_eq!(
        every_split(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
        200
    );
    assert_eq!(
        every_split(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"),
        404
    );
}

#[test]
fn chunked_bodies_with_extensions_and_trailers() {
    assert_eq!(
        every_split(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-T: 1\r\n\r\n"
        ),
        200
    );
    assert_eq!(
        every_split(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
        200
    );
}

#[test]
fn interim_responses_are_skipped() {
    let (r, f) =
        whole(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
    assert_eq!(f, Feed::Done { extra: 0 });
    assert_eq!(r.status, 201);
}

#[test]
fn close_delimited_bodies_end_at_eof() {
    let mut r = Response::new();
    assert_eq!(r.feed(b"HTTP/1.0 200 OK\r\n\r\nabc", false), Ok(Feed::More));
    assert!(r.eof().is_ok());
    assert!(r.close);
    let mut r = Response::new();
    assert_eq!(
        r.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", false),
        Ok(Feed::More)
    );
    assert!(r.eof().is_err());
}

#[test]
fn head_and_no_content_have_no_body() {
    let mut r = Response::new();
    assert_eq!(
        r.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", true),
        Ok(Feed::Done { extra: 0 })
    );
    let (_, f) = whole(b"HTTP/1.1 204 No Content\r\nContent-Length: 99\r\n\r\n");
    assert_eq!(f, Feed::Done { extra: 0 });
}

#[test]
fn connection_close_and_http10_are_noticed() {
    let (r, _) = whole(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    assert!(r.close);
    let (r, _) = whole(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n");
    assert!(!r.close);
    let (r, _) = whole(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert!(!r.close);
}

#[test]
fn captures_headers_cookies_and_dechunked_bodies_in_any_split() {
    let resp: &[u8] = b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nX-Id: 42\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    for cut in 1..resp.len() {
        let mut r = Response::capturing(Capture {
            headers: true,
            cookies: true,
            body: true,
            location: false,
            max_body: 0,
        });
        let _ = r.feed(&resp[..cut], false).expect("valid");
        assert_eq!(r.feed(&resp[cut..], false), Ok(Feed::Done { extra: 0 }));
        assert_eq!(r.body_bytes, b"abcde", "cut {cut}");
        assert_eq!(r.header("x-id"), Some(&b"42"[..]));
    }
    let mut r = Response::capturing(Capture {
        cookies: true,
        ..Capture::default()
    });
    let _ = r.feed(resp, false);
    assert_eq!(r.headers.len(), 1, "only Set-Cookie");
    assert!(r.body_bytes.is_empty());
}

#[test]
fn garbage_and_extra_bytes_are_reported() {
    let mut r = Response::new();
    assert!(r.feed(b"SSH-2.0-OpenSSH\r\n\r\n", false).is_err());
    let (_, f) = whole(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxyz");
    assert_eq!(f, Feed::Done { extra: 2 });
    let mut r = Response::new();
    assert!(
        r.feed(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            false
        )
        .is_err()
    );
}

fn parse_err(resp: &[u8]) -> ProtocolError {
    let mut r = Response::new();
    r.feed(resp, false).expect_err("must be refused")
}

#[test]
fn a_thousand_interim_responses_then_the_final_one() {
    let mut resp = Vec::new();
    for _ in 0..1000 {
        resp.extend_from_slice(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n");
    }
    resp.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    let (r, f) = whole(&resp);
    assert_eq!((r.status, f), (200, Feed::Done { extra: 0 }));
    // Split in two reads anywhere: the same.
    for cut in [1, 37, resp.len() / 2, resp.len() - 3] {
        let mut p = Response::new();
        assert_eq!(p.feed(&resp[..cut], false), Ok(Feed::More));
        assert_eq!(p.feed(&resp[cut..], false), Ok(Feed::Done { extra: 0 }));
        assert_eq!(p.status, 200);
    }
    let mut endless = Vec::new();
    for _ in 0..=MAX_INTERIM {
        endless.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    assert_eq!(
        parse_err(&endless),
        ProtocolError::TooManyInterim { limit: MAX_INTERIM }
    );
}

fn with_headers(n: usize) -> Vec<u8> {
    let mut v = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..n {
        v.extend_from_slice(format!("X-H{i}: {i}\r\n").as_bytes());
    }
    v.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    v
}

#[test]
fn header_lines_up_to_the_limit_and_the_count_beyond_it() {
    assert_eq!(whole(&with_headers(69)).0.status, 200);
    assert_eq!(whole(&with_headers(255)).0.status, 200);
    let e = parse_err(&with_headers(299));
    assert_eq!(
        e,
        ProtocolError::TooManyHeaderLines {
            lines: 300,
            limit: 256
        }
    );
    assert_eq!(e.to_string(), "too many header lines: 300 > 256");
    // Over several reads: the same reason once the head is all there.
    let big = with_headers(299);
    let mut r = Response::new();
    assert_eq!(r.feed(&big[..2000], false), Ok(Feed::More));
    assert_eq!(
        r.feed(&big[2000..], false),
        Err(ProtocolError::TooManyHeaderLines {
            lines: 300,
            limit: 256
        })
    );
    let mut r = Response::new();
    r.max_header_lines = 400;
    assert!(r.feed(&big, false).is_ok());
}

#[test]
fn the_head_size_limit_holds_in_one_read_and_across_reads() {
    let mut v = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
    v.extend(std::iter::repeat_n(b'a', 70 * 1024));
    v.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
    let limit = ProtocolError::HeadTooLarge {
        limit: MAX_HEAD_BYTES as u32,
    };
    assert_eq!(parse_err(&v), limit);
    let mut r = Response::new();
    let mut got = Ok(Feed::More);
    for c in v.chunks(1000) {
        got = r.feed(c, false);
        if got.is_err() {
            break;
        }
    }
    assert_eq!(got, Err(limit));
}

#[test]
fn framing_per_rfc_9112_section_6_3() {
    // A final coding other than chunked: the body runs until the connection closes.
    let mut r = Response::new();
    assert_eq!(
        r.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\nContent-Length: 3\r\n\r\nabcdef", false),
        Ok(Feed::More)
    );
    assert!(r.eof().is_ok() && r.close);
    // TE and CL: TE wins, and the connection is not reused.
    let (r, f) = whole(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n");
    assert_eq!(f, Feed::Done { extra: 0 });
    assert!(r.close);
    // Content-Length must be digits, and agree with itself.
    for bad in [
        "+5",
        "-5",
        "0x5",
        "5 5",
        "",
        "5,",
        "99999999999999999999999",
    ] {
        let resp = format!("HTTP/1.1 200 OK\r\nContent-Length: {bad}\r\n\r\nhello");
        assert_eq!(
            parse_err(resp.as_bytes()),
            ProtocolError::BadContentLength,
            "{bad:?}"
        );
    }
    assert_eq!(
        parse_err(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
        ProtocolError::ConflictingContentLength
    );
    assert_eq!(
        parse_err(b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n"),
        ProtocolError::ConflictingContentLength
    );
    let (_, f) = whole(b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello");
    assert_eq!(f, Feed::Done { extra: 0 });
    // 101: no body, and the connection now speaks something else.
    let (r, f) = whole(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
    assert_eq!((r.status, f, r.close), (101, Feed::Done { extra: 0 }, true));
}

#[test]
fn chunk_sizes_are_strict_and_extensions_allowed() {
    let chunked = |size_line: &str| {
        format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{size_line}\r\n")
    };
    for bad in ["1 0", " 1", "", "-1", "g", "1;a\nb", "11111111111111111"] {
        let mut r = Response::new();
        assert!(r.feed(chunked(bad).as_bytes(), false).is_err(), "{bad:?}");
    }
    assert_eq!(
        every_split(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1 ;a=b\r\nx\r\n1\t;q=\"1 0\"\r\ny\r\n0\r\n\r\n"),
        200
    );
}

#[test]
fn an_early_end_is_told_apart_from_a_cut_head() {
    let mut r = Response::new();
    let _ = r.feed(b"HTTP/1.1 200 OK\r\nContent-Le", false);
    assert_eq!(r.eof(), Err(ProtocolError::ClosedInHead));
    let mut r = Response::new();
    let _ = r.feed(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n12345",
        false,
    );
    assert!(r.has_head() && r.eof().is_err());
    assert_eq!(r.status, 200);
}
