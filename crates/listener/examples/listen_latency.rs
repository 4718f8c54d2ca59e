//! Config push latency of logwire's listener: last byte of a signed (Ed25519) frame sent →
//! the new level visible through `Logger::is_enabled_for`, polled from the sending thread (yielding between polls).
//!
//! `cargo run --release -p logwire-listener --example listen_latency -- [ITERATIONS]` prints one
//! JSON line: `{"impl": "logwire", "n": …, "median_ms": …, "p90_ms": …}`. The config text is
//! the same minimal dictConfig `crates/bench/scripts/listen_latency_cpython.py` sends.

use logwire_engine::LoggerTree;
use logwire_listener::{ConfigListener, ListenerOptions};
use logwire_wire::{EnvelopeClock, SystemEnvelopeClock, sign_config_frame};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn config(level: &str) -> String {
    format!(
        r#"{{"version": 1, "disable_existing_loggers": false, "loggers": {{"bench": {{"level": "{level}"}}}}}}"#
    )
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let signer = logwire_wire::generate_ed25519().expect("key");
    let state = std::env::temp_dir().join(format!("logwire-listen-bench-{}", std::process::id()));
    let tree = LoggerTree::new();
    let options = ListenerOptions::new()
        .tcp("127.0.0.1:0".parse().unwrap())
        .key(signer.verify_key())
        .state_dir(&state);
    let listener = ConfigListener::new(tree.clone(), options)
        .start()
        .expect("listener");
    let addr = listener.tcp_addr().unwrap();
    let logger = tree.get_logger("bench");
    let mut samples = Vec::with_capacity(n);
    for i in 0..n + 10 {
        let (name, level) = if i % 2 == 0 {
            ("ERROR", 40)
        } else {
            ("WARNING", 30)
        };
        let now = SystemEnvelopeClock.now_ms();
        // Signing is the sender's cost, outside the measured interval.
        let frame = sign_config_frame(
            &signer,
            i as u64 + 1,
            now,
            now + 60_000,
            None,
            config(name).as_bytes(),
        )
        .unwrap();
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        s.write_all(&frame).unwrap();
        let sent = Instant::now();
        let deadline = sent + Duration::from_secs(10);
        // Live when WARNING (30) flips: enabled under WARNING, disabled under ERROR.
        let want_enabled = level == 30;
        while logger.is_enabled_for(30) != want_enabled {
            assert!(Instant::now() < deadline, "config {i} never went live");
            // Yield like the CPython side (time.sleep(0)): on a loaded machine a spinning
            // poller would take the core the listener needs.
            std::thread::yield_now();
        }
        let took = sent.elapsed();
        let mut reply = Vec::new();
        s.read_to_end(&mut reply).unwrap();
        if i >= 10 {
            samples.push(took.as_secs_f64() * 1e3);
        }
    }
    listener.stop_and_join();
    let _ = std::fs::remove_dir_all(&state);
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let q = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    println!(
        "{{\"impl\": \"logwire (Ed25519, signed)\", \"n\": {}, \"median_ms\": {:.4}, \"p90_ms\": {:.4}, \"max_ms\": {:.4}}}",
        samples.len(),
        q(0.5),
        q(0.9),
        samples[samples.len() - 1]
    );
}
