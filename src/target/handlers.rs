//! The endpoints: one request in, one response out (see the table in `mod.rs`).

#[allow(unused_imports)]
use super::*;

/// The streaming endpoints (see `target/stream.rs`).
pub(super) async fn streaming(
    req: Request<Incoming>,
    stats: Arc<Stats>,
) -> Response<stream::ChanBody> {
    let path = req.uri().path().to_string();
    bump(&stats.http_versions, &format!("{:?}", req.version()));
    stats.count(&path);
    let query = req.uri().query().unwrap_or("").to_string();
    if path == "/sse" {
        return stream::sse(&query, stats);
    }
    if req.method() != http::Method::POST {
        return stream::method_not_allowed();
    }
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    stream::chat(&query, &body, stats)
}

pub(super) fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub(super) fn json_response(status: StatusCode, v: serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(v.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

/// The token `/login` hands out for `user` (the target keeps no state: the token encodes it).
pub(super) fn login_token(user: &str) -> String {
    let hex: String = user.bytes().map(|b| format!("{b:02x}")).collect();
    format!("t{hex}")
}

/// The user a token from `login_token` stands for.
pub(super) fn token_user(token: &str) -> Option<String> {
    let hex = token.strip_prefix('t')?;
    if hex.is_empty() || hex.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// `body` gzip- or deflate-compressed when `accept` (Accept-Encoding) allows it (`/json`).
pub(super) fn compress(body: &[u8], accept: &str) -> Option<(&'static str, Vec<u8>)> {
    use std::io::Write;
    let wants = |e: &str| accept.split(',').any(|t| t.trim().starts_with(e));
    if wants("gzip") {
        let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        w.write_all(body).ok()?;
        return Some(("gzip", w.finish().ok()?));
    }
    if wants("deflate") {
        let mut w = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        w.write_all(body).ok()?;
        return Some(("deflate", w.finish().ok()?));
    }
    None
}

pub(super) fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r
}

/// The error type makes hyper drop the connection (used by `/reset`).
#[derive(Debug)]
pub(super) struct Drop;
impl std::fmt::Display for Drop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}
impl std::error::Error for Drop {}

/// `/json`: a small document, compressed as `Accept-Encoding` asks.
pub(super) fn json_body(req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let body: &'static str = r#"{"id":42,"name":"stampede","items":[1,2,3]}"#;
    let accept = req
        .headers()
        .get(http::header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut r = match compress(body.as_bytes(), accept) {
        Some((enc, bytes)) => {
            let mut r = Response::new(Full::new(Bytes::from(bytes)));
            r.headers_mut().insert(
                http::header::CONTENT_ENCODING,
                http::HeaderValue::from_static(enc),
            );
            r
        }
        None => text(StatusCode::OK, body),
    };
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

/// `POST /login`: a token and a session cookie for any non-empty user and password.
pub(super) async fn login(req: Request<Incoming>) -> Response<Full<Bytes>> {
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let creds: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    match (creds["user"].as_str(), creds["password"].as_str()) {
        (Some(user), Some(password)) if !user.is_empty() && !password.is_empty() => {
            let token = login_token(user);
            let mut r = json_response(
                StatusCode::OK,
                serde_json::json!({ "token": token, "user": user }),
            );
            if let Ok(v) =
                http::HeaderValue::from_str(&format!("session=s-{token}; Path=/; HttpOnly"))
            {
                r.headers_mut().insert(http::header::SET_COOKIE, v);
            }
            r
        }
        _ => json_response(
            StatusCode::BAD_REQUEST,
            serde_json::json!({ "error": "send {\"user\": ..., \"password\": ...}" }),
        ),
    }
}

/// `/me`: the user of a bearer token from `/login`.
pub(super) fn me(req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let auth = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match auth.strip_prefix("Bearer ").and_then(token_user) {
        Some(user) => json_response(StatusCode::OK, serde_json::json!({ "user": user })),
        None => text(StatusCode::UNAUTHORIZED, "missing or bad bearer token"),
    }
}

/// `/session`: the user of the `session` cookie from `/login`.
pub(super) fn session(req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let cookies = req
        .headers()
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().strip_prefix("session=s-"))
        .find_map(token_user);
    match cookies {
        Some(user) => json_response(StatusCode::OK, serde_json::json!({ "user": user })),
        None => text(StatusCode::UNAUTHORIZED, "no session cookie"),
    }
}

/// `/basic`: the user of any basic auth.
pub(super) fn basic(req: &Request<Incoming>) -> Response<Full<Bytes>> {
    use base64::Engine as _;
    let user = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.split_once(':').map(|(u, _)| u.to_string()));
    match user {
        Some(user) => json_response(StatusCode::OK, serde_json::json!({ "user": user })),
        None => text(StatusCode::UNAUTHORIZED, "basic auth required"),
    }
}

pub(super) async fn handle(
    req: Request<Incoming>,
    stats: Arc<Stats>,
) -> Result<Response<Full<Bytes>>, Drop> {
    let path = req.uri().path().to_string();
    if !path.starts_with("/__") {
        bump(&stats.http_versions, &format!("{:?}", req.version()));
    }
    let query = req.uri().query().unwrap_or("").to_string();
    match path.as_str() {
        "/__stats" => {
            let mut r = Response::new(Full::new(Bytes::from(stats.to_json())));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            return Ok(r);
        }
        "/__reset" => {
            stats.reset();
            return Ok(text(StatusCode::OK, "reset"));
        }
        _ => {}
    }
    let resp = match path.as_str() {
        "/" | "/fast" | "/work" => text(StatusCode::OK, "ok"),
        "/close" => {
            let mut r = text(StatusCode::OK, "bye");
            r.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
            r
        }
        "/delay" => {
            let ms: u64 = query_param(&query, "ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(100);
            let jitter: u64 = query_param(&query, "jitter")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let extra = if jitter > 0 {
                fastrand::u64(0..=jitter)
            } else {
                0
            };
            tokio::time::sleep(Duration::from_millis((ms + extra).min(600_000))).await;
            text(StatusCode::OK, "ok")
        }
        "/status" => {
            let code = query_param(&query, "code")
                .and_then(|v| v.parse::<u16>().ok())
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::OK);
            let rate: f64 = query_param(&query, "rate")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1.0);
            if fastrand::f64() < rate {
                text(code, "status")
            } else {
                text(StatusCode::OK, "ok")
            }
        }
        "/json" => json_body(&req),
        "/echo" => {
            let ct = req.headers().get(http::header::CONTENT_TYPE).cloned();
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let mut r = Response::new(Full::new(body));
            if let Some(ct) = ct {
                r.headers_mut().insert(http::header::CONTENT_TYPE, ct);
            }
            r
        }
        "/reset" => {
            stats.count(&path);
            return Err(Drop);
        }
        "/login" => login(req).await,
        "/me" => me(&req),
        "/session" => session(&req),
        "/basic" => basic(&req),
        "/redirect" => {
            let to = query_param(&query, "to").unwrap_or("/fast");
            let code = query_param(&query, "code")
                .and_then(|v| v.parse::<u16>().ok())
                .filter(|c| (300..400).contains(c))
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::FOUND);
            let mut r = text(code, "redirect");
            if let Ok(v) = http::HeaderValue::from_str(to) {
                r.headers_mut().insert(http::header::LOCATION, v);
            }
            r
        }
        "/seen" => {
            if let Some(k) = query_param(&query, "key") {
                stats.see(k);
            }
            text(StatusCode::OK, "ok")
        }
        _ => text(StatusCode::NOT_FOUND, "not found"),
    };
    stats.count(&path);
    Ok(resp)
}
