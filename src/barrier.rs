//! The start barrier of a distributed run (Kubernetes pods start seconds or minutes apart):
//! part 1 listens, every other part connects and says which it is; once all n are there,
//! part 1 tells them all to start in `LEAD` — a delay rather than a clock time, so the start
//! does not depend on the nodes' clocks agreeing.
//!
//! Protocol, one line each way: `READY <index> <count>\n`, answered by `START <ms>\n`.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// How far ahead of the release the common start is: time for the message to reach everyone.
const LEAD: Duration = Duration::from_millis(2000);

/// Why a part could not pass the start barrier.
#[derive(Debug, thiserror::Error)]
pub enum BarrierError {
    #[error("`{0}` is not HOST:PORT")]
    NotHostPort(String),
    #[error("cannot listen on port {port}: {source}")]
    Listen { port: u16, source: std::io::Error },
    #[error("only {arrived} of {count} parts arrived in time (missing: {missing})")]
    Missing {
        arrived: usize,
        count: usize,
        missing: String,
    },
    #[error("cannot resolve {addr}: {source}")]
    Resolve {
        addr: String,
        source: std::io::Error,
    },
    #[error("{0} resolves to no address")]
    NoAddress(String),
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("waiting for the start: {0}")]
    Waiting(std::io::Error),
    #[error("unexpected answer `{0}`")]
    Unexpected(String),
    #[error("part 1 did not release the start in time ({0})")]
    NotReleased(Box<BarrierError>),
    #[error("no answer")]
    NoAnswer,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Wait at the barrier; returns when this part should start. `index` is 0-based.
pub fn wait(
    addr: &str,
    index: usize,
    count: usize,
    timeout: Duration,
    quiet: bool,
) -> Result<DateTime<Utc>, BarrierError> {
    let deadline = Instant::now() + timeout;
    if count <= 1 {
        return Ok(Utc::now());
    }
    if index == 0 {
        lead(addr, count, deadline, quiet)
    } else {
        follow(addr, index, count, deadline, quiet)
    }
}

fn port_of(addr: &str) -> Result<u16, BarrierError> {
    addr.rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .ok_or_else(|| BarrierError::NotHostPort(addr.to_string()))
}

fn lead(
    addr: &str,
    count: usize,
    deadline: Instant,
    quiet: bool,
) -> Result<DateTime<Utc>, BarrierError> {
    let port = port_of(addr)?;
    let listener = TcpListener::bind(("0.0.0.0", port))
        .map_err(|source| BarrierError::Listen { port, source })?;
    listener.set_nonblocking(true)?;
    let mut ready: BTreeMap<usize, TcpStream> = BTreeMap::new();
    if !quiet {
        eprintln!(
            "barrier: waiting for {} other parts on port {port}",
            count - 1
        );
    }
    while ready.len() < count - 1 {
        if Instant::now() >= deadline {
            return Err(BarrierError::Missing {
                arrived: ready.len() + 1,
                count,
                missing: (1..count)
                    .filter(|i| !ready.contains_key(i))
                    .map(|i| (i + 1).to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut line = String::new();
                let mut r = BufReader::new(stream.try_clone()?);
                if r.read_line(&mut line).is_err() {
                    continue;
                }
                let mut it = line.split_whitespace();
                match (
                    it.next(),
                    it.next().and_then(|x| x.parse::<usize>().ok()),
                    it.next().and_then(|x| x.parse::<usize>().ok()),
                ) {
                    (Some("READY"), Some(i), Some(n)) if n == count && i > 0 && i < count => {
                        // A part that reconnects replaces its earlier connection.
                        ready.insert(i, stream);
                    }
                    _ => {
                        let mut s = stream;
                        let _ = writeln!(s, "REFUSED expected READY <index> {count}");
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let start = Utc::now() + chrono::Duration::from_std(LEAD).unwrap_or_default();
    for s in ready.values_mut() {
        let _ = writeln!(s, "START {}", LEAD.as_millis());
    }
    if !quiet {
        eprintln!(
            "barrier: all {count} parts ready; starting in {} ms",
            LEAD.as_millis()
        );
    }
    Ok(start)
}

fn follow(
    addr: &str,
    index: usize,
    count: usize,
    deadline: Instant,
    quiet: bool,
) -> Result<DateTime<Utc>, BarrierError> {
    let mut last_err = BarrierError::NoAnswer;
    let mut said = false;
    while Instant::now() < deadline {
        let attempt = (|| -> Result<DateTime<Utc>, BarrierError> {
            let target = addr
                .to_socket_addrs()
                .map_err(|source| BarrierError::Resolve {
                    addr: addr.to_string(),
                    source,
                })?
                .next()
                .ok_or_else(|| BarrierError::NoAddress(addr.to_string()))?;
            let mut s =
                TcpStream::connect_timeout(&target, Duration::from_secs(2)).map_err(|source| {
                    BarrierError::Connect {
                        addr: addr.to_string(),
                        source,
                    }
                })?;
            writeln!(s, "READY {index} {count}")?;
            let left = deadline.saturating_duration_since(Instant::now());
            s.set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
            let mut line = String::new();
            BufReader::new(s)
                .read_line(&mut line)
                .map_err(BarrierError::Waiting)?;
            let ms: u64 = line
                .strip_prefix("START ")
                .and_then(|x| x.trim().parse().ok())
                .ok_or_else(|| BarrierError::Unexpected(line.trim().to_string()))?;
            Ok(Utc::now() + chrono::Duration::milliseconds(ms as i64))
        })();
        match attempt {
            Ok(t) => return Ok(t),
            Err(e) => {
                if !said && !quiet {
                    eprintln!("barrier: waiting for part 1 at {addr} ({e})");
                    said = true;
                }
                last_err = e;
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
    Err(BarrierError::NotReleased(Box::new(last_err)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_parts_meet_and_get_one_start_time() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let t = Duration::from_secs(20);
        let followers: Vec<_> = (1..3)
            .map(|i| {
                let a = addr.clone();
                std::thread::spawn(move || wait(&a, i, 3, t, true))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        let lead = wait(&addr, 0, 3, t, true).unwrap();
        for f in followers {
            let s = f.join().unwrap().unwrap();
            assert!((s - lead).num_milliseconds().abs() < 200, "{s} vs {lead}");
        }
    }

    #[test]
    fn a_missing_part_times_out_and_is_named() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = wait(
            &format!("127.0.0.1:{port}"),
            0,
            2,
            Duration::from_millis(300),
            true,
        )
        .unwrap_err();
        assert!(
            matches!(&e, BarrierError::Missing { arrived: 1, count: 2, missing } if missing == "2"),
            "{e}"
        );
        assert!(e.to_string().contains("missing: 2"), "{e}");
    }
}
