//! The protocol part of `http`: TLS settings (`http.tls`, `--insecure`), the HTTP version and
//! redirects — validated at load time, certificate files read and parsed here so that a bad
//! path or PEM is reported as `file:line:column` before any traffic.

use super::model::RawHttp;
use super::{Builder, Overrides, ScenarioError};
use crate::plan::{HttpVersion, Pem, Proxy, Target, TlsOptions};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

impl Builder<'_> {
    /// Read a PEM file named at `path` (relative to the scenario's folder) and check that it
    /// holds what `parse` looks for.
    fn pem_file(
        &self,
        key: &str,
        name: &str,
        parse: impl Fn(&[u8]) -> Result<(), PemError>,
    ) -> Result<Pem, ScenarioError> {
        let file = self.base_dir.join(name);
        let bytes = std::fs::read(&file)
            .map_err(|e| self.at_value(key, format!("cannot read {}: {e}", file.display())))?;
        parse(&bytes).map_err(|m| self.at_value(key, format!("{}: {m}", file.display())))?;
        Ok(Pem(bytes))
    }

    pub(super) fn tls(
        &self,
        http: &RawHttp,
        target: &Target,
        ov: &Overrides,
    ) -> Result<TlsOptions, ScenarioError> {
        let mut opts = TlsOptions {
            insecure: ov.insecure,
            ..TlsOptions::default()
        };
        let Some(raw) = &http.tls else {
            return Ok(opts);
        };
        opts.insecure |= raw.insecure.unwrap_or(false);
        opts.resumption = raw.resumption.unwrap_or(true);
        if let Some(f) = &raw.ca_file {
            opts.ca = Some(self.pem_file("http.tls.ca_file", f, certificates)?);
        }
        match (&raw.client_cert, &raw.client_key) {
            (Some(c), Some(k)) => {
                let cert = self.pem_file("http.tls.client_cert", c, certificates)?;
                let key = self.pem_file("http.tls.client_key", k, |b| {
                    PrivateKeyDer::from_pem_slice(b)
                        .map(|_| ())
                        .map_err(|e| PemError::NoPrivateKey(e.to_string()))
                })?;
                opts.client_cert = Some((cert, key));
            }
            (Some(_), None) => {
                return Err(self.at_key(
                    "http.tls.client_cert",
                    "http.tls.client_cert needs http.tls.client_key (the certificate's private key)",
                ));
            }
            (None, Some(_)) => {
                return Err(self.at_key(
                    "http.tls.client_key",
                    "http.tls.client_key needs http.tls.client_cert",
                ));
            }
            (None, None) => {}
        }
        if let Some(name) = &raw.server_name {
            ServerName::try_from(name.as_str()).map_err(|_| {
                self.at_value(
                    "http.tls.server_name",
                    format!("`{name}` is not a DNS name or IP address"),
                )
            })?;
            opts.server_name = Some(name.clone());
        }
        // (A --target override to http:// just leaves the TLS settings unused.)
        if !target.tls && ov.target.is_none() {
            return Err(self.at_key(
                "http.tls",
                format!(
                    "http.tls is set but the target `{}` is not https://",
                    target.url()
                ),
            ));
        }
        Ok(opts)
    }

    /// `http.version`, `http.h2c` and `http.max_redirects`.
    pub(super) fn protocol(
        &self,
        http: &RawHttp,
        target: &Target,
    ) -> Result<(HttpVersion, u32), ScenarioError> {
        use serde_yaml_ng::Value;
        let version = match &http.version {
            None => HttpVersion::Http1,
            Some(v) => {
                let text = match v {
                    Value::String(s) => s.trim().to_string(),
                    Value::Number(n) => n.to_string(),
                    _ => String::new(),
                };
                match text.as_str() {
                    "1.1" | "1" => HttpVersion::Http1,
                    "2" | "2.0" => HttpVersion::Http2,
                    "auto" => HttpVersion::Auto,
                    _ => {
                        return Err(self.at_value(
                            "http.version",
                            "http.version is \"1.1\", \"2\" or \"auto\" (ALPN decides)",
                        ));
                    }
                }
            }
        };
        let h2c = http.h2c.unwrap_or(false);
        if version == HttpVersion::Http2 && !target.tls && !h2c {
            return Err(self.at_value(
                "http.version",
                "HTTP/2 over http:// is cleartext h2c: add `http.h2c: true` to allow it, or use an https:// target",
            ));
        }
        if h2c && target.tls {
            return Err(self.at_key(
                "http.h2c",
                "http.h2c is for http:// targets; over https:// HTTP/2 is chosen by ALPN",
            ));
        }
        Ok((version, http.max_redirects.unwrap_or(10)))
    }
}

impl Builder<'_> {
    /// `http.compression`: the Accept-Encoding to send, if any.
    pub(super) fn compression(
        &self,
        http: &RawHttp,
    ) -> Result<Option<&'static str>, ScenarioError> {
        Ok(match http.compression.as_deref().map(str::trim) {
            None | Some("none") => None,
            Some("gzip") => Some("gzip"),
            Some("br") => Some("br"),
            Some("deflate") => Some("deflate"),
            Some(other) => {
                return Err(self.at_value(
                    "http.compression",
                    format!("unknown http.compression `{other}`: use gzip, br, deflate or none"),
                ));
            }
        })
    }

    /// `http.proxy`, else `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` (either case) unless
    /// `NO_PROXY` lists the host. Loopback targets use a proxy only when `http.proxy` says so.
    pub(super) fn proxy(
        &self,
        http: &RawHttp,
        target: &Target,
    ) -> Result<Option<Proxy>, ScenarioError> {
        let (url, origin) = match http.proxy.as_deref().map(str::trim) {
            Some("none") | Some("") => return Ok(None),
            Some(u) => (u.to_string(), "http.proxy".to_string()),
            None => {
                let loopback = target.host.eq_ignore_ascii_case("localhost")
                    || target
                        .host
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback());
                if loopback {
                    return Ok(None);
                }
                let names: &[&str] = if target.tls {
                    &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
                } else {
                    &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
                };
                let found = names.iter().find_map(|n| {
                    std::env::var(n)
                        .ok()
                        .filter(|v| !v.trim().is_empty())
                        .map(|v| (v, n.to_string()))
                });
                let Some((url, name)) = found else {
                    return Ok(None);
                };
                let no_proxy = std::env::var("NO_PROXY")
                    .or_else(|_| std::env::var("no_proxy"))
                    .unwrap_or_default();
                if bypassed(&no_proxy, &target.host) {
                    return Ok(None);
                }
                (url, name)
            }
        };
        parse_proxy(&url, &origin).map(Some).map_err(|m| {
            if origin == "http.proxy" {
                self.at_value("http.proxy", m)
            } else {
                self.err_at(None, format!("${origin}: {m}"))
            }
        })
    }

    /// `http.resolve: { "HOST:PORT": IP }`.
    pub(super) fn resolve(
        &self,
        http: &RawHttp,
    ) -> Result<Vec<(String, u16, std::net::IpAddr)>, ScenarioError> {
        let mut out = Vec::new();
        for (key, ip) in &http.resolve {
            let bad = |m: String| self.at_key("http.resolve", m);
            let (host, port) = key
                .rsplit_once(':')
                .and_then(|(h, p)| {
                    Some((
                        h.trim_start_matches('[').trim_end_matches(']'),
                        p.parse::<u16>().ok()?,
                    ))
                })
                .ok_or_else(|| {
                    bad(format!(
                        "http.resolve key `{key}` is not HOST:PORT (e.g. \"api.example.com:443\")"
                    ))
                })?;
            let ip: std::net::IpAddr = ip.trim().parse().map_err(|_| {
                bad(format!(
                    "http.resolve: `{ip}` (for {key}) is not an IP address"
                ))
            })?;
            out.push((host.to_ascii_lowercase(), port, ip));
        }
        Ok(out)
    }
}

/// Does `NO_PROXY` (comma-separated names, `.suffix`es, `*`) exclude `host`?
fn bypassed(no_proxy: &str, host: &str) -> bool {
    no_proxy.split(',').map(str::trim).any(|entry| {
        let entry = entry.split_once(':').map_or(entry, |(h, _)| h);
        let entry = entry.trim_start_matches('.');
        entry == "*"
            || (!entry.is_empty()
                && (host.eq_ignore_ascii_case(entry)
                    || host
                        .to_ascii_lowercase()
                        .ends_with(&format!(".{}", entry.to_ascii_lowercase()))))
    })
}

/// Why a proxy URL is refused (`url`: as written).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
enum ProxyError {
    #[error("proxy `{0}`: only http:// proxies are supported (tunnels with CONNECT)")]
    Scheme(String),
    #[error("proxy `{url}`: bad port `{port}`")]
    Port { url: String, port: String },
    #[error("proxy `{0}` is not http://HOST:PORT (e.g. http://proxy.internal:3128)")]
    Shape(String),
}

/// Why a PEM file of `http.tls` is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
enum PemError {
    /// `0`: the PEM parser's reason.
    #[error("malformed PEM ({0})")]
    Malformed(String),
    #[error("no certificate (-----BEGIN CERTIFICATE-----) in the file")]
    NoCertificate,
    #[error("no private key in PEM ({0})")]
    NoPrivateKey(String),
}

/// `http://[user:password@]host[:port][/]`, or `host[:port]` without the scheme (as curl takes
/// it), parsed by the `url` crate; the credentials are percent-decoded as curl does.
fn parse_proxy(url: &str, origin: &str) -> Result<Proxy, ProxyError> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("socks") {
        return Err(ProxyError::Scheme(url.into()));
    }
    let full = if lower.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    let shape = || ProxyError::Shape(url.into());
    let parsed = url::Url::parse(&full).map_err(|e| match e {
        url::ParseError::InvalidPort => ProxyError::Port {
            url: url.into(),
            port: full
                .rsplit_once(':')
                .map_or("", |(_, p)| p.trim_end_matches('/'))
                .into(),
        },
        _ => shape(),
    })?;
    if parsed.scheme() != "http" {
        return Err(ProxyError::Scheme(url.into()));
    }
    if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() || parsed.fragment().is_some()
    {
        return Err(shape());
    }
    let host = parsed.host_str().ok_or_else(shape)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(shape());
    }
    let decode = |s: &str| -> String {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let authorization = (!parsed.username().is_empty() || parsed.password().is_some()).then(|| {
        use base64::Engine as _;
        let user = decode(parsed.username());
        let pass = parsed.password().map(decode).unwrap_or_default();
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    });
    Ok(Proxy {
        host: host.to_string(),
        port: parsed.port().unwrap_or(80),
        authorization,
        origin: origin.to_string(),
    })
}

fn certificates(pem: &[u8]) -> Result<(), PemError> {
    let mut n = 0;
    for c in CertificateDer::pem_slice_iter(pem) {
        c.map_err(|e| PemError::Malformed(e.to_string()))?;
        n += 1;
    }
    if n == 0 {
        return Err(PemError::NoCertificate);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_matches_names_and_suffixes() {
        assert!(bypassed("example.com", "example.com"));
        assert!(bypassed(" .example.com,other", "api.example.com"));
        assert!(bypassed("example.com:443", "api.EXAMPLE.com"));
        assert!(bypassed("*", "anything"));
        assert!(!bypassed("example.com", "notexample.com"));
        assert!(!bypassed("", "example.com"));
    }

    #[test]
    fn proxy_urls() {
        let p = parse_proxy("http://u:p@proxy.internal:3128/", "HTTPS_PROXY").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.internal", 3128));
        assert_eq!(p.authorization.as_deref(), Some("Basic dTpw"));
        assert!(!format!("{p:?}").contains("dTpw"));
        let p = parse_proxy("10.0.0.1:8080", "http.proxy").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("10.0.0.1", 8080));
        assert!(parse_proxy("https://proxy:443", "x").is_err());
        assert!(parse_proxy("http://proxy:x", "x").is_err());
        assert!(parse_proxy("HTTPS://proxy:443", "x").is_err());
        for bad in [
            "not a url",
            "http://",
            "http://proxy:3128/path",
            "http://pro xy:1",
            ":3128",
        ] {
            assert!(parse_proxy(bad, "x").is_err(), "{bad}");
        }
        let p = parse_proxy("http://[::1]:3128", "x").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("::1", 3128));
        let p = parse_proxy("proxy", "x").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy", 80));
        // user%40corp:p%3Ass -> user@corp:p:ss
        let p = parse_proxy("http://user%40corp:p%3Ass@proxy:8080", "x").unwrap();
        assert_eq!(
            p.authorization.as_deref(),
            Some("Basic dXNlckBjb3JwOnA6c3M=")
        );
    }
}
