//! Connections shared by a worker's VUs (`http.connections: pooled`).

use super::client::Conn;
use std::cell::RefCell;

/// Connections shared by a worker's VUs (`http.connections: pooled`): at most `size` open or in
/// use at once; a VU waits for a free one (`http_req_blocked`). HTTP/2 connections are shared
/// differently: each keeps its permit for good and joins `h2`, where every VU may send on it at
/// once, as streams (up to the server's concurrent-stream limit, beyond which hyper queues
/// them); new connections are opened while permits remain.
pub struct Pool {
    pub(super) idle: RefCell<Vec<Conn>>,
    pub(super) permits: tokio::sync::Semaphore,
    h2: RefCell<Vec<super::h2::Sender>>,
    /// Woken when a connection joins `h2`.
    pub(super) h2_added: tokio::sync::Notify,
}

impl Pool {
    pub fn new(size: usize) -> Self {
        Pool {
            idle: RefCell::new(Vec::new()),
            permits: tokio::sync::Semaphore::new(size.max(1)),
            h2: RefCell::new(Vec::new()),
            h2_added: tokio::sync::Notify::new(),
        }
    }

    /// One of the pool's HTTP/2 connections for VU `index`, when no new connection may be
    /// opened. Closed ones leave the list and give their permit back.
    pub(super) fn shared_h2(&self, index: usize) -> Option<super::h2::Sender> {
        let mut list = self.h2.borrow_mut();
        let before = list.len();
        list.retain(|s| !s.is_closed());
        if list.len() < before {
            self.permits.add_permits(before - list.len());
        }
        if list.is_empty() || self.permits.available_permits() > 0 {
            return None;
        }
        Some(list[index % list.len()].clone())
    }

    /// Keep a connection for the next VU: an HTTP/2 one joins the shared list with its permit.
    pub(super) fn put(&self, conn: Conn, permit: tokio::sync::SemaphorePermit<'_>) {
        match conn {
            Conn::H2(mut s) if !s.is_closed() => {
                // Shared from now on: its frames need a task of their own.
                s.detach();
                permit.forget();
                self.h2.borrow_mut().push(s);
                self.h2_added.notify_waiters();
            }
            Conn::H2(_) => {}
            c => self.idle.borrow_mut().push(c),
        }
    }
}
