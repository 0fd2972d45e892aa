//! Opening a connection's socket: from a chosen source address (`IP_BIND_ADDRESS_NO_PORT`), and
//! the CONNECT tunnel through an HTTP proxy.

use super::client::Tunnel;
use std::io;
use std::net::{IpAddr, SocketAddr};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

/// Ask the proxy on `stream` for a tunnel to the target (`CONNECT host:port`); any 2xx opens it.
pub async fn tunnel(stream: &mut TcpStream, t: &Tunnel) -> Result<(), ()> {
    use tokio::io::AsyncReadExt;
    let mut req = format!("CONNECT {a} HTTP/1.1\r\nhost: {a}\r\n", a = t.authority);
    if let Some(auth) = &t.authorization {
        req.push_str(&format!("proxy-authorization: {auth}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.map_err(|_| ())?;
    // The proxy says nothing more after its answer until we speak, so reading past the head
    // cannot swallow the target's bytes.
    let mut head = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    loop {
        let n = stream.read(&mut chunk).await.map_err(|_| ())?;
        if n == 0 {
            return Err(());
        }
        head.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(&head) {
            Ok(httparse::Status::Complete(_)) => {
                return match resp.code {
                    Some(c) if (200..300).contains(&c) => Ok(()),
                    _ => Err(()),
                };
            }
            Ok(httparse::Status::Partial) if head.len() < 16 * 1024 => {}
            _ => return Err(()),
        }
    }
}

pub async fn open(addr: SocketAddr, local: Option<IpAddr>) -> io::Result<TcpStream> {
    let Some(ip) = local else {
        return TcpStream::connect(addr).await;
    };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    bind_no_port(&socket);
    socket.bind(SocketAddr::new(ip, 0))?;
    socket.connect(addr).await
}

/// Let the kernel pick the source port at connect time, per destination, rather than at bind
/// time from one shared range (Linux `IP_BIND_ADDRESS_NO_PORT`): without it, binding source
/// addresses caps connections at the ephemeral range once, not per address pair.
fn bind_no_port(socket: &TcpSocket) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let one: libc::c_int = 1;
        // SAFETY: a valid socket fd and a pointer to a live c_int of the given length.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_BIND_ADDRESS_NO_PORT,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = socket;
}
