//! The `http` block: connection settings, source addresses and headers.

#[allow(unused_imports)]
use super::*;

/// Why a source address of `http.local_ips` is refused (`text`: as written).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(super) enum IpsError {
    #[error("`{0}` is not an IP address or CIDR block (e.g. 127.0.0.2 or 127.0.0.0/28)")]
    NotAnAddress(String),
    /// `smallest`: the smallest prefix length allowed (/20 for IPv4, /116 for IPv6).
    #[error("`{text}` holds more than 4096 addresses; use /{smallest} or smaller")]
    TooLarge { text: String, smallest: u32 },
}

/// One address, or every usable address of a CIDR block (`127.0.0.0/30`).
pub(super) fn parse_ips(s: &str) -> Result<Vec<IpAddr>, IpsError> {
    let bad = || IpsError::NotAnAddress(s.to_string());
    let too_large = |smallest| IpsError::TooLarge {
        text: s.to_string(),
        smallest,
    };
    let Some((addr, bits)) = s.split_once('/') else {
        return s.parse::<IpAddr>().map(|ip| vec![ip]).map_err(|_| bad());
    };
    let ip: IpAddr = addr.parse().map_err(|_| bad())?;
    let bits: u32 = bits.parse().map_err(|_| bad())?;
    match ip {
        IpAddr::V4(v4) => {
            if bits > 32 {
                return Err(bad());
            }
            if bits < 20 {
                return Err(too_large(20));
            }
            let size = 1u32 << (32 - bits);
            let base = u32::from(v4) & !(size - 1);
            // Skip the network and broadcast addresses of blocks that have them, except on
            // loopback, where every address works.
            let skip_edges = size >= 4 && !v4.is_loopback();
            let (lo, hi) = if skip_edges { (1, size - 1) } else { (0, size) };
            Ok((lo..hi)
                .map(|i| IpAddr::V4(std::net::Ipv4Addr::from(base + i)))
                .collect())
        }
        IpAddr::V6(v6) => {
            if bits > 128 {
                return Err(bad());
            }
            if bits < 116 {
                return Err(too_large(116));
            }
            let size = 1u128 << (128 - bits);
            let base = u128::from(v6) & !(size - 1);
            Ok((0..size)
                .map(|i| IpAddr::V6(std::net::Ipv6Addr::from(base + i)))
                .collect())
        }
    }
}

impl Builder<'_> {
    pub(super) fn connections(&self, http: &RawHttp) -> Result<Connections, ScenarioError> {
        let pooled = match http.connections.as_deref() {
            None | Some("per-vu") => false,
            Some("pooled") => true,
            Some(other) => {
                return Err(self.at_value(
                    "http.connections",
                    format!("unknown http.connections `{other}`: use `per-vu` or `pooled`"),
                ));
            }
        };
        match (pooled, http.max_connections) {
            (false, None) => Ok(Connections::PerVu),
            (false, Some(_)) => Err(self.at_key(
                "http.max_connections",
                "http.max_connections needs `http.connections: pooled`",
            )),
            (true, None) => Err(self.at_key(
                "http.connections",
                "pooled connections need `http.max_connections: N` (the pool size)",
            )),
            (true, Some(0)) => Err(self.at_value(
                "http.max_connections",
                "http.max_connections must be at least 1",
            )),
            (true, Some(max)) => Ok(Connections::Pooled { max }),
        }
    }

    /// `[127.0.0.1, 127.0.0.2]`, or a CIDR block such as `127.0.0.0/30` (at most 4096 addresses).
    pub(super) fn local_ips(&self, spec: &OneOrMany<String>) -> Result<Vec<IpAddr>, ScenarioError> {
        let items: Vec<(String, String)> = match spec {
            OneOrMany::One(s) => vec![(s.clone(), "http.local_ips".to_string())],
            OneOrMany::Many(v) => v
                .iter()
                .enumerate()
                .map(|(i, s)| (s.clone(), format!("http.local_ips.{i}")))
                .collect(),
        };
        let mut ips = Vec::new();
        for (item, path) in items {
            let found = parse_ips(item.trim()).map_err(|m| self.at_value(&path, m))?;
            ips.extend(found);
        }
        if ips.is_empty() {
            return Err(self.at_value("http.local_ips", "http.local_ips lists no address"));
        }
        if ips.len() > 4096 {
            return Err(self.at_value(
                "http.local_ips",
                format!("http.local_ips names {} addresses; at most 4096", ips.len()),
            ));
        }
        Ok(ips)
    }

    pub(super) fn headers(
        &self,
        raw: &indexmap::IndexMap<String, String>,
        path: &str,
        base: &HeaderMap,
    ) -> Result<HeaderMap, ScenarioError> {
        let mut out = base.clone();
        for (k, v) in raw {
            let here = format!("{path}.{k}");
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| self.at_key(&here, format!("`{k}` is not a valid header name")))?;
            let value = HeaderValue::from_str(v).map_err(|_| {
                self.at_value(
                    &here,
                    format!("the value of header `{k}` has characters a header cannot carry"),
                )
            })?;
            if name == http::header::HOST && v.parse::<http::uri::Authority>().is_err() {
                return Err(self.at_value(
                    &here,
                    format!("host `{v}` is not HOST[:PORT] (it becomes the Host header and HTTP/2's :authority)"),
                ));
            }
            out.insert(name, value);
        }
        Ok(out)
    }
}
