//! Bounded waiting (tests never wait forever, and never assert how long something took) and
//! free loopback ports.

use std::net::TcpListener;
use std::time::{Duration, Instant};

/// How often [`poll_until`] looks again.
const POLL: Duration = Duration::from_millis(10);

/// Polls `cond` until it holds or `limit` has passed; returns whether it held (it is asked
/// once more at the deadline).
pub fn poll_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(POLL);
    }
    cond()
}

/// As [`poll_until`], but panics with "timed out waiting for {what}" if `cond` never held.
pub fn wait_until(limit: Duration, what: &str, cond: impl FnMut() -> bool) {
    assert!(poll_until(limit, cond), "timed out waiting for {what}");
}

/// A loopback port nobody listens on right now (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
