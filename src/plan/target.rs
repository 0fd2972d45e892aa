//! The target: scheme, host, port and base path, and the checks its URL must pass.

/// Why a target URL is refused (the message quotes the URL, credentials redacted).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("malformed target URL `{url}`: {reason}")]
    Malformed { url: String, reason: String },
    #[error("malformed target URL `{0}`: write it with a scheme, e.g. `http://{0}`")]
    NoScheme(String),
    #[error("target `{url}`: unsupported scheme `{scheme}` (expected http:// or https://)")]
    Scheme { url: String, scheme: String },
    #[error("malformed target URL `{0}`: no host")]
    NoHost(String),
    #[error("target `{0}`: a query string belongs on a step's path, not on the target")]
    Query(String),
    #[error("target `{0}`: the port must be a whole number from 1 to 65535")]
    Port(String),
    #[error("target `{0}`: port 0 cannot be connected to; use a port from 1 to 65535")]
    PortZero(String),
    #[error("target `{0}`: a `#fragment` is never sent to a server; remove it")]
    Fragment(String),
    /// The URL is given redacted (`user:password@` replaced).
    #[error(
        "target `{0}`: credentials in the URL are not sent; use `http: {{ auth: {{ basic: {{ user: ..., password: ... }} }} }}` (or `{{{{env.NAME}}}}` for the password)"
    )]
    Credentials(String),
}

/// Where requests go: scheme (`http` or `https`), host, port, and a base path that step paths
/// are appended to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `https://`: connections use TLS.
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Base path without a trailing slash ("" for none).
    pub base_path: String,
}

impl Target {
    /// Parse `http[s]://host[:port][/base]`.
    pub fn parse(url: &str) -> Result<Target, TargetError> {
        let url = url.trim();
        check_url(url)?;
        let uri: http::Uri =
            url.parse()
                .map_err(|e: http::uri::InvalidUri| TargetError::Malformed {
                    url: url.to_string(),
                    reason: e.to_string(),
                })?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(other) => {
                return Err(TargetError::Scheme {
                    url: url.to_string(),
                    scheme: other.to_string(),
                });
            }
            None => return Err(TargetError::NoScheme(url.to_string())),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| TargetError::NoHost(url.to_string()))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        if uri.query().is_some() {
            return Err(TargetError::Query(url.to_string()));
        }
        let base_path = uri.path().trim_end_matches('/').to_string();
        Ok(Target {
            tls,
            host,
            port,
            base_path,
        })
    }

    /// The `Host` header value.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    pub fn url(&self) -> String {
        format!("{}://{}{}", self.scheme(), self.authority(), self.base_path)
    }

    pub fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    pub fn default_port(&self) -> u16 {
        if self.tls { 443 } else { 80 }
    }
}

/// The checks a target URL needs beyond `http::Uri` (which lets a bad port through as no port
/// at all): a port from 1 to 65535, no credentials.
pub fn check_url(text: &str) -> Result<(), TargetError> {
    let parsed = match url::Url::parse(text) {
        Ok(u) => u,
        Err(url::ParseError::InvalidPort) => return Err(TargetError::Port(text.to_string())),
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            return Err(TargetError::NoScheme(text.to_string()));
        }
        Err(e) => {
            return Err(TargetError::Malformed {
                url: text.to_string(),
                reason: e.to_string(),
            });
        }
    };
    if parsed.port() == Some(0) {
        return Err(TargetError::PortZero(text.to_string()));
    }
    if parsed.fragment().is_some() {
        return Err(TargetError::Fragment(text.to_string()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(TargetError::Credentials(redact(text)));
    }
    Ok(())
}

/// The URL with its `user:password@` replaced, for messages.
pub(super) fn redact(text: &str) -> String {
    match (text.find("://"), text.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://…@{}", &text[..s], &text[at + 1..]),
        _ => text.to_string(),
    }
}
