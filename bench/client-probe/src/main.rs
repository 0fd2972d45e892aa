//! `client-probe MODE URL CONNS SECS`: CONNS tasks on one current-thread runtime, each sending
//! GET URL in a closed loop for SECS seconds; prints `requests=N errors=N`.
//! MODE: `hyper` (hyper::client::conn::http1, one connection owned per task, as oha does),
//! `reqwest-shared` (one reqwest::Client for all tasks), `reqwest-per-vu` (one Client per task).

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Counts {
    ok: Cell<u64>,
    err: Cell<u64>,
}

async fn hyper_loop(url: hyper::Uri, until: Instant, c: Rc<Counts>) {
    let authority = url.authority().map(|a| a.to_string()).unwrap_or_default();
    'outer: while Instant::now() < until {
        let Ok(stream) = tokio::net::TcpStream::connect(&authority).await else {
            c.err.set(c.err.get() + 1);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let io = hyper_util::rt::TokioIo::new(stream);
        let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(io).await else {
            c.err.set(c.err.get() + 1);
            continue;
        };
        tokio::task::spawn_local(async move {
            let _ = conn.await;
        });
        while Instant::now() < until {
            let req = hyper::Request::get(url.clone())
                .header(hyper::header::HOST, authority.as_str())
                .body(Empty::<Bytes>::new());
            let Ok(req) = req else { break 'outer };
            match sender.send_request(req).await {
                Ok(resp) => {
                    let ok = resp.into_body().collect().await.is_ok();
                    let n = if ok { &c.ok } else { &c.err };
                    n.set(n.get() + 1);
                }
                Err(_) => {
                    c.err.set(c.err.get() + 1);
                    continue 'outer;
                }
            }
        }
    }
}

async fn reqwest_loop(client: reqwest::Client, url: String, until: Instant, c: Rc<Counts>) {
    while Instant::now() < until {
        match client.get(&url).send().await {
            Ok(r) => {
                let ok = r.bytes().await.is_ok();
                let n = if ok { &c.ok } else { &c.err };
                n.set(n.get() + 1);
            }
            Err(_) => c.err.set(c.err.get() + 1),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: client-probe hyper|reqwest-shared|reqwest-per-vu URL CONNS SECS");
        std::process::exit(2);
    }
    let (mode, url) = (args[1].clone(), args[2].clone());
    let conns: usize = args[3].parse().unwrap_or(50);
    let secs: f64 = args[4].parse().unwrap_or(8.0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    let counts = Rc::new(Counts::default());
    local.block_on(&rt, async {
        let until = Instant::now() + Duration::from_secs_f64(secs);
        let shared = reqwest::Client::builder()
            .pool_max_idle_per_host(conns)
            .build()
            .expect("client");
        let mut tasks = Vec::new();
        for _ in 0..conns {
            let c = counts.clone();
            tasks.push(match mode.as_str() {
                "hyper" => {
                    let uri: hyper::Uri = url.parse().expect("URL");
                    tokio::task::spawn_local(hyper_loop(uri, until, c))
                }
                "reqwest-shared" => {
                    tokio::task::spawn_local(reqwest_loop(shared.clone(), url.clone(), until, c))
                }
                "reqwest-per-vu" => {
                    let own = reqwest::Client::builder().build().expect("client");
                    tokio::task::spawn_local(reqwest_loop(own, url.clone(), until, c))
                }
                other => {
                    eprintln!("unknown mode {other}");
                    std::process::exit(2);
                }
            });
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    println!("requests={} errors={}", counts.ok.get(), counts.err.get());
}
