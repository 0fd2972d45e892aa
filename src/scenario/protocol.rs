//! The protocol part of `http`: TLS settings (`http.tls`, `--insecure`), the HTTP version and
//! redirects — validated at load time, certificate files read and parsed here so that a bad
//! path or PEM is reported as `file:line:column` before any traffic.

use super::model::RawHttp;
use super::{Builder, Overrides, ScenarioError};
use crate::plan::{HttpVersion, Pem, Target, TlsOptions};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

impl Builder<'_> {
    /// Read a PEM file named at `path` (relative to the scenario's folder) and check that it
    /// holds what `parse` looks for.
    fn pem_file(
        &self,
        key: &str,
        name: &str,
        parse: impl Fn(&[u8]) -> Result<(), String>,
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
                        .map_err(|e| format!("no private key in PEM ({e})"))
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

fn certificates(pem: &[u8]) -> Result<(), String> {
    let mut n = 0;
    for c in CertificateDer::pem_slice_iter(pem) {
        c.map_err(|e| format!("malformed PEM ({e})"))?;
        n += 1;
    }
    if n == 0 {
        return Err("no certificate (-----BEGIN CERTIFICATE-----) in the file".into());
    }
    Ok(())
}
