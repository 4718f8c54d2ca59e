//! Helpers for the config listener tests: captured streams, a tree with an "original"
//! routing, pushing frames, waiting for the listener, the shared vectors, python3.
#![allow(dead_code, unreachable_pub)]

use logwire_config::{Configurator, StdStream, StreamFactory};
use logwire_engine::{Emitter, Formatter, Handler, HandlerError, LogRecord, LoggerTree, Style};
use logwire_listener::{ConfigListener, ListenerEvent, ListenerHandle, ListenerOptions};
use logwire_test_support::{python as py, wait};
use logwire_wire::{ConfigReply, FixedClock};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long the listener tests wait for anything (never asserted as a duration).
const LIMIT: Duration = Duration::from_secs(20);

/// A shared byte buffer usable as a stream.
#[derive(Clone, Default)]
pub struct Buf(pub Arc<Mutex<Vec<u8>>>);

impl Buf {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
    pub fn lines(&self) -> Vec<String> {
        self.text().lines().map(str::to_owned).collect()
    }
    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `ext://sys.stdout`/`sys.stderr` of pushed configs land here.
#[derive(Clone, Default)]
pub struct Streams {
    pub stdout: Buf,
    pub stderr: Buf,
}

impl StreamFactory for Streams {
    fn open(&self, stream: StdStream) -> Box<dyn Write + Send> {
        match stream {
            StdStream::Stdout => Box::new(self.stdout.clone()),
            StdStream::Stderr => Box::new(self.stderr.clone()),
        }
    }
}

/// The routing in place before any push: root at DEBUG → `orig`, formatted like CPython's
/// test_logging root handler (`name -> LEVEL: message`).
struct OrigEmitter(Buf);

impl Emitter for OrigEmitter {
    fn emit(&self, r: &LogRecord, f: &Formatter) -> Result<(), HandlerError> {
        let mut line = f.format(r);
        line.push('\n');
        self.0.clone().write_all(line.as_bytes()).unwrap();
        Ok(())
    }
    fn kind(&self) -> &'static str {
        "test.Orig"
    }
}

/// A tree, its original output and the captured streams for pushed configs.
pub struct Fixture {
    pub tree: LoggerTree,
    pub orig: Buf,
    pub streams: Streams,
}

impl Fixture {
    pub fn new() -> Self {
        let tree = LoggerTree::new();
        let orig = Buf::default();
        let f = Formatter::new(
            Some("%(name)s -> %(levelname)s: %(message)s"),
            None,
            Style::Percent,
            true,
            Vec::new(),
        )
        .unwrap();
        tree.root().add_handler(Arc::new(
            Handler::new(OrigEmitter(orig.clone())).with_formatter(Arc::new(f)),
        ));
        tree.root().set_level(10);
        Fixture {
            tree,
            orig,
            streams: Streams::default(),
        }
    }

    /// Applies a trusted config (the operator's own), capturing its streams.
    pub fn apply_trusted(&self, text: &str) {
        Configurator::default()
            .with_streams(Arc::new(self.streams.clone()))
            .apply_text(&self.tree, text, logwire_config::SourceFormat::Wire)
            .unwrap();
    }

    pub fn listener(&self, options: ListenerOptions) -> ConfigListener {
        ConfigListener::new(self.tree.clone(), options).streams(Arc::new(self.streams.clone()))
    }

    pub fn log(&self, name: &str, level: i32, msg: &str) {
        self.tree.get_logger(name).log(level, msg.to_owned());
    }

    /// Logs a probe through the tree and checks the original routing still writes it.
    pub fn assert_orig_routing_alive(&self, probe: &str) {
        self.log("app", 20, probe);
        let want = format!("app -> INFO: {probe}");
        assert!(
            self.orig.lines().contains(&want),
            "previous routing lost {probe:?}: {:?}",
            self.orig.lines()
        );
    }
}

/// Event log collected from the callback.
#[derive(Clone, Default)]
pub struct Events(pub Arc<Mutex<Vec<String>>>);

impl Events {
    pub fn hook(&self) -> impl Fn(&ListenerEvent) + Send + Sync + 'static {
        let me = self.clone();
        move |e| me.0.lock().unwrap().push(e.to_string())
    }
    pub fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// Sends raw bytes, reads the reply (None if closed without one).
pub fn push_raw(addr: std::net::SocketAddr, bytes: &[u8]) -> Option<ConfigReply> {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = s.write_all(bytes);
    read_reply(&mut s)
}

pub fn push_unix(path: &Path, bytes: &[u8]) -> Option<ConfigReply> {
    let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = s.write_all(bytes);
    read_reply(&mut s)
}

pub fn read_reply(s: &mut impl Read) -> Option<ConfigReply> {
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    if all.len() < 4 {
        return None;
    }
    let n = u32::from_be_bytes([all[0], all[1], all[2], all[3]]) as usize;
    Some(ConfigReply::parse(&all[4..4 + n]).expect("a JSON reply"))
}

pub fn frame(payload: &[u8]) -> Vec<u8> {
    logwire_wire::encode_frame(payload)
}

/// Waits (bounded) until the listener has answered `n` configs in total.
pub fn wait_processed(h: &ListenerHandle, n: u64) {
    let done = wait::poll_until(LIMIT, || h.stats().applied + h.stats().rejected >= n);
    assert!(done, "listener did not process {n} configs: {}", h.stats());
}

/// Waits (bounded) until `cond` holds.
pub fn wait_until(what: &str, cond: impl FnMut() -> bool) {
    wait::wait_until(LIMIT, what, cond);
}

/// Stops the listener and joins it from another thread, panicking if that does not return
/// (a hang detector, not a timing assertion) although `why`.
pub fn assert_stop_returns(h: ListenerHandle, why: &str) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        h.stop_and_join();
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("stop+join returned although {why}"));
}

pub fn tcp0() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

// ------------------------------------------------------------------ vectors

pub fn b64(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|&c| c != b'=') {
        acc = (acc << 6) | A.iter().position(|&x| x == c).expect("base64") as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

pub fn vectors() -> serde_json::Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/vectors/envelopes.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// The vectors' keys: (hmac verify key, ed25519 verify key, hmac signing, ed25519 signing).
pub fn vector_keys() -> (
    logwire_wire::VerifyKey,
    logwire_wire::VerifyKey,
    logwire_wire::SigningKey,
    logwire_wire::SigningKey,
) {
    let v = vectors();
    let k = &v["keys"];
    let hmac = format!("hmac:{}", k["hmac_key"].as_str().unwrap());
    let pubk = format!("ed25519-public:{}", k["ed25519_public"].as_str().unwrap());
    let seed = format!("ed25519-private:{}", k["ed25519_seed"].as_str().unwrap());
    (
        logwire_wire::VerifyKey::from_file_text(&hmac).unwrap(),
        logwire_wire::VerifyKey::from_file_text(&pubk).unwrap(),
        logwire_wire::SigningKey::from_file_text(&hmac).unwrap(),
        logwire_wire::SigningKey::from_file_text(&seed).unwrap(),
    )
}

/// The vectors' issue time + 1 s.
pub fn vector_clock() -> FixedClock {
    FixedClock(1_763_750_000_000 + 1_000)
}

// ------------------------------------------------------------------ python

/// Runs `python3 -c script args…` (killed after 60 s); returns (status ok, stdout, stderr).
pub fn python(script: &str, args: &[String]) -> (bool, String, String) {
    let mut cmd = py::script(script, args);
    cmd.env(
        "PYTHONPATH",
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python"),
    );
    let ran = py::run_required(&mut cmd, py::LIMIT);
    (ran.status.success(), ran.stdout, ran.stderr)
}
