//! A real server run by a Python script that records what it receives: the script prints
//! `{"port": N}` once listening, then one JSON line per request or mail, and runs until the
//! test closes its stdin. The SMTP (aiosmtpd) and HTTP (`http.server`) tests share it.

use logwire_test_support::process::Lines;
use logwire_test_support::wait::poll_until;
use std::process::Child;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// A running recording server; killed when dropped.
pub(crate) struct RecordingPeer {
    child: Child,
    /// Everything it printed (the port line first).
    pub(crate) lines: Lines,
    /// The port it listens on.
    pub(crate) port: u16,
}

impl RecordingPeer {
    /// Waits for `child`'s port line (`what` names the server in the failure).
    pub(crate) fn start(mut child: Child, what: &str) -> RecordingPeer {
        let lines = Lines::collect(child.stdout.take().expect("the script's stdout is piped"));
        assert!(
            poll_until(WAIT, || !lines.is_empty() || lines.ended()),
            "{what} did not start"
        );
        let first: serde_json::Value = serde_json::from_str(&lines.snapshot()[0])
            .unwrap_or_else(|e| panic!("{what}'s port line: {e}"));
        let port = first["port"].as_u64().unwrap() as u16;
        RecordingPeer { child, lines, port }
    }

    /// What it recorded so far (the port line excluded), waiting for `n` of them.
    pub(crate) fn recorded(&self, n: usize) -> Vec<serde_json::Value> {
        assert!(
            poll_until(WAIT, || self.lines.len() > n || self.lines.ended()),
            "expected {n} recorded, got {:?}",
            self.lines.snapshot()
        );
        self.lines.snapshot()[1..]
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for RecordingPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
