//! Open files and ephemeral ports against what the plan needs (each VU holds a socket).

use crate::Failure;
use crate::plan::{Connections, Plan};

/// Files kept for everything but the load's sockets (stdio, reports, the runtime's epoll...).
const FD_RESERVE: u64 = 64;

/// Refuse, before any traffic, a plan that would run out of file descriptors or source ports.
pub(super) fn check_limits(plan: &Plan, nofile: u64) -> Result<(), Failure> {
    let peak = plan.peak_connections();
    let mode = match plan.http.connections {
        Connections::PerVu => format!(
            "per-vu connections: one per VU, {} VUs at peak",
            plan.peak_vus()
        ),
        Connections::Pooled { max } => format!("a pool of {max}"),
    };
    if nofile > 0 && peak + FD_RESERVE > nofile {
        let room = nofile.saturating_sub(FD_RESERVE);
        return Err(Failure::Usage(format!(
            "{} needs up to {peak} connections at once ({mode}), but this process may open only {nofile} files (hard limit, `ulimit -Hn`; {FD_RESERVE} kept for other files). Ways out:\n  \
             - share connections: `http: {{ connections: pooled, max_connections: {} }}` (or fewer)\n  \
             - raise the hard limit (`ulimit -Hn`, `nofile` in /etc/security/limits.conf or the container runtime)\n  \
             - split the load over several processes or machines, each with a part of the VUs",
            plan.name,
            room.min(peak).max(1)
        )));
    }
    // Each (source address, target address) pair has one ephemeral port range of its own.
    let ports = ephemeral_ports();
    let pairs = plan.http.local_ips.len().max(1) as u64;
    if ports > 0 && peak > ports * pairs {
        return Err(Failure::Usage(format!(
            "{} needs up to {peak} connections at once ({mode}), but {pairs} source address(es) give only {} ports towards one target address (ephemeral range {ports} per address). Spread them with `http.local_ips: [127.0.0.1, 127.0.0.2, ...]` (or a CIDR such as 127.0.0.0/28) or use pooled connections",
            plan.name,
            ports * pairs
        )));
    }
    Ok(())
}

/// How many ephemeral ports the kernel hands out per address pair (0 when unknown).
fn ephemeral_ports() -> u64 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|x| x.parse::<u64>());
            match (it.next(), it.next()) {
                (Some(Ok(lo)), Some(Ok(hi))) if hi >= lo => Some(hi - lo + 1),
                _ => None,
            }
        })
        .unwrap_or(0)
}

/// Raise the soft open-files limit to the hard one (each VU holds a socket); the soft limit in
/// force afterwards, 0 when it cannot be read. The `rlimit` crate also knows macOS's
/// `kern.maxfilesperproc` cap.
pub(super) fn raise_nofile_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX).unwrap_or_else(|_| {
        rlimit::Resource::NOFILE
            .get()
            .map_or(0, |(soft, _hard)| soft)
    })
}

#[cfg(test)]
mod tests {
    use super::raise_nofile_limit;

    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let now = raise_nofile_limit();
        let (soft, hard) = rlimit::Resource::NOFILE.get().expect("getrlimit");
        assert_eq!(now, soft);
        assert!(now > 0);
        // On Linux nothing caps the soft limit below the hard one.
        if cfg!(target_os = "linux") {
            assert_eq!(soft, hard);
        }
    }
}
