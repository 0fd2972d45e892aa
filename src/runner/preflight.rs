//! Before any traffic: the target resolved and connected to, so a wrong address is refused
//! with exit 2 instead of becoming a run of failed requests.

use crate::Failure;
use crate::plan::Plan;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Resolve the target (or its proxy) and check that it accepts connections, before any load
/// is sent.
pub(super) fn preflight(plan: &Plan) -> Result<Vec<SocketAddr>, Failure> {
    if let Some(p) = &plan.http.proxy {
        let addrs: Vec<SocketAddr> = (p.host.as_str(), p.port)
            .to_socket_addrs()
            .map_err(|e| {
                Failure::Usage(format!(
                    "{}: cannot resolve proxy {}:{}: {e}",
                    p.origin, p.host, p.port
                ))
            })?
            .collect();
        for a in &addrs {
            if TcpStream::connect_timeout(a, Duration::from_secs(3)).is_ok() {
                return Ok(addrs);
            }
        }
        return Err(Failure::Usage(format!(
            "{}: proxy {}:{} is unreachable",
            p.origin, p.host, p.port
        )));
    }
    let url = plan.target.url();
    let addrs: Vec<SocketAddr> = match plan.resolve_override() {
        Some(a) => Ok(vec![a]),
        None => (plan.target.host.as_str(), plan.target.port)
            .to_socket_addrs()
            .map(|a| a.collect()),
    }
    .map_err(|e| {
        Failure::Usage(format!(
            "{}: cannot resolve target {url}: {e}",
            plan.target_origin
        ))
    })?;
    if addrs.is_empty() {
        return Err(Failure::Usage(format!(
            "{}: target {url} resolves to no address",
            plan.target_origin
        )));
    }
    let mut last = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, Duration::from_secs(3)) {
            Ok(_) => return Ok(addrs),
            Err(e) => last = Some(e),
        }
    }
    let why = last.map(|e| e.to_string()).unwrap_or_default();
    Err(Failure::Usage(format!(
        "{}: target {url} is unreachable ({why}); is the service running? (`stampede target --addr {}:{}` starts a test target)",
        plan.target_origin, plan.target.host, plan.target.port
    )))
}
