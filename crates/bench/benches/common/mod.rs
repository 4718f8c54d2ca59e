//! Frames for the receive benches: CPython's own `SocketHandler.makePickle` output, so the
//! parser and mapper see what they see in production (the same records as
//! `scripts/receive_vs_cookbook.py`). Needs `python3`; without it the benches fail with a
//! clear message.

// Each bench uses part of this.
#![allow(dead_code)]

use std::process::Command;

/// `n` length-prefixed frames made by CPython, the access-log record of `receive_vs_cookbook.py`.
pub(crate) fn cpython_frames(n: usize) -> Vec<u8> {
    // The access-log record of `scripts/receive_vs_cookbook.py` (and performance.md).
    let script = r#"
import logging, logging.handlers, sys
n = int(sys.argv[1])
out = bytearray()
class Capture(logging.handlers.SocketHandler):
    def emit(self, record):
        out.extend(self.makePickle(record))
log = logging.getLogger("app.http.access")
log.propagate = False
log.setLevel(logging.INFO)
log.addHandler(Capture("127.0.0.1", 9))
for i in range(n):
    log.info("request %s %s -> %d in %.3f ms", "GET", "/api/v1/items/%d" % i, 200, 12.5 + i % 100,
             extra={"request_id": "req-%08d" % i, "user_id": 1000 + i % 977, "client_ip": "10.0.%d.%d" % (i % 256, i % 199)})
sys.stdout.buffer.write(bytes(out))
"#;
    let out = Command::new("python3")
        .args(["-c", script, &n.to_string()])
        .output()
        .expect("python3 is needed to make CPython's frames for this bench");
    assert!(
        out.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The payloads of length-prefixed frames.
pub(crate) fn payloads(frames: &[u8]) -> Vec<&[u8]> {
    logwire_wire::payloads(frames).collect()
}
