//! Config pushes through a JetStream key-value bucket, against a real `nats-server -js`
//! (Debian package `nats-server`) started on loopback with its store in a temp dir.
//! Three library listeners, each with its own logger tree and seq state, as three services.

use logwire_engine::LoggerTree;
use logwire_listener::{ConfigListener, ListenerOptions};
use logwire_nats::{KvConfigListener, KvEvent, KvTarget, NatsConnect, PushReport, push_config};
use logwire_test_support::nats::NatsServer;
use logwire_wire::{EnvelopeClock, SigningKey, SystemEnvelopeClock, sign_config};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// The key `key` of bucket `bucket` on `nats`.
fn kv_target(nats: &NatsServer, bucket: &str, key: &str) -> KvTarget {
    format!("{}/{bucket}/{key}", nats.url()).parse().unwrap()
}

/// One service: a logger tree, its seq state, and the events its listener reported.
struct Service {
    tree: LoggerTree,
    events: Arc<Mutex<Vec<KvEvent>>>,
    _state: tempfile::TempDir,
    handle: logwire_nats::KvListenerHandle,
}

impl Service {
    fn start(target: &KvTarget, signer: &SigningKey, audience: &str, name: &str) -> Service {
        let tree = LoggerTree::new();
        let state = tempfile::tempdir().unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let options = ListenerOptions::new()
            .key(signer.verify_key())
            .state_dir(state.path())
            .audience(audience);
        let seen = Arc::clone(&events);
        let handle =
            KvConfigListener::new(ConfigListener::new(tree.clone(), options), target.clone())
                .name(name)
                .on_event(move |e| seen.lock().unwrap().push(e.clone()))
                .start()
                .unwrap();
        Service {
            tree,
            events,
            _state: state,
            handle,
        }
    }

    fn applied_revisions(&self) -> Vec<u64> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                KvEvent::Applied { revision, .. } => Some(*revision),
                _ => None,
            })
            .collect()
    }

    fn processed(&self) -> usize {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(e, KvEvent::Applied { .. } | KvEvent::Rejected { .. }))
            .count()
    }

    fn level(&self) -> i32 {
        self.tree.root().effective_level()
    }
}

fn config(level: &str) -> Vec<u8> {
    format!(r#"{{"version": 1, "root": {{"level": "{level}"}}}}"#).into_bytes()
}

/// A signed envelope (the frame body, without the socket's length prefix).
fn signed(signer: &SigningKey, seq: u64, audience: Option<&str>, level: &str) -> Vec<u8> {
    let now = SystemEnvelopeClock.now_ms();
    sign_config(signer, seq, now, now + 300_000, audience, &config(level)).unwrap()
}

async fn push(target: &KvTarget, body: Vec<u8>, expect: usize) -> PushReport {
    push_config(target, &NatsConnect::default(), body, Some(expect), WAIT)
        .await
        .unwrap()
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + WAIT;
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn statuses(report: &PushReport) -> Vec<(String, String)> {
    let mut v: Vec<_> = report
        .replies
        .iter()
        .map(|r| (r.listener.clone(), r.status.clone()))
        .collect();
    v.sort();
    v
}

fn three(target: &KvTarget, signer: &SigningKey) -> Vec<Service> {
    ["a", "b", "c"]
        .iter()
        .map(|n| Service::start(target, signer, "payments", n))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_push_reaches_three_listeners_and_each_applies() {
    let nats = NatsServer::start();
    let target = kv_target(&nats, "logconf", "payments");
    let signer = logwire_wire::generate_ed25519().unwrap();
    let services = three(&target, &signer);
    let report = push(&target, signed(&signer, 1, Some("payments"), "ERROR"), 3).await;
    assert_eq!(
        statuses(&report),
        [("a", "applied"), ("b", "applied"), ("c", "applied")].map(|(a, b)| (a.into(), b.into()))
    );
    assert!(report.all_applied());
    for r in &report.replies {
        assert_eq!(
            (r.seq, r.revision, r.audience.as_deref()),
            (1, report.revision, Some("payments"))
        );
    }
    for s in &services {
        assert_eq!(s.level(), 40);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_replayed_and_wrong_audience_revisions_are_rejected_by_every_listener() {
    let nats = NatsServer::start();
    let target = kv_target(&nats, "logconf", "payments");
    let signer = logwire_wire::generate_ed25519().unwrap();
    let services = three(&target, &signer);
    let good = signed(&signer, 10, Some("payments"), "ERROR");
    assert!(push(&target, good.clone(), 3).await.all_applied());

    // Tampered: one payload byte changed after signing (WARNING → WARNINH is still JSON-ish
    // text; the signature no longer covers it).
    let mut tampered = signed(&signer, 11, Some("payments"), "WARNING");
    let at = tampered.len() - 5;
    tampered[at] ^= 0x01;
    let report = push(&target, tampered, 3).await;
    assert_eq!(report.replies.len(), 3, "{report:?}");
    for r in &report.replies {
        assert!(!r.applied() && r.reason.contains("signature"), "{r:?}");
    }

    // Replayed: the applied revision's exact bytes, put again as a new revision.
    let report = push(&target, good, 3).await;
    assert_eq!(report.replies.len(), 3, "{report:?}");
    for r in &report.replies {
        assert!(
            !r.applied() && r.seq == 10 && r.reason.contains("seq"),
            "{r:?}"
        );
    }

    // Signed for another audience.
    let report = push(&target, signed(&signer, 12, Some("billing"), "DEBUG"), 3).await;
    assert_eq!(report.replies.len(), 3, "{report:?}");
    for r in &report.replies {
        assert!(!r.applied() && r.reason.contains("audience"), "{r:?}");
    }

    for s in &services {
        assert_eq!(
            s.level(),
            40,
            "a rejected revision changed the running config"
        );
        assert_eq!(s.applied_revisions().len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_started_after_the_push_applies_the_latest_once() {
    let nats = NatsServer::start();
    let target = kv_target(&nats, "logconf", "late");
    let signer = logwire_wire::generate_ed25519().unwrap();
    let first = push(&target, signed(&signer, 5, None, "ERROR"), 0).await;
    let latest = push(&target, signed(&signer, 6, None, "WARNING"), 0).await;
    assert!(latest.revision > first.revision);

    let late = Service::start(&target, &signer, "payments", "late");
    wait_until("the late listener applies the latest", || {
        late.processed() >= 1
    });
    assert_eq!(late.applied_revisions(), [latest.revision]);
    assert_eq!(late.level(), 30);

    // The next push is applied too, and nothing before it was processed twice.
    let next = push(&target, signed(&signer, 7, None, "CRITICAL"), 1).await;
    assert!(next.all_applied(), "{next:?}");
    assert_eq!(late.applied_revisions(), [latest.revision, next.revision]);
    assert_eq!(late.processed(), 2);
    assert_eq!(late.level(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_nats_server_is_killed_and_restarted_listeners_resume_without_reapplying() {
    let mut nats = NatsServer::start();
    let target = kv_target(&nats, "logconf", "restart");
    let signer = logwire_wire::generate_ed25519().unwrap();
    let s = Service::start(&target, &signer, "payments", "survivor");
    assert!(
        push(&target, signed(&signer, 1, None, "ERROR"), 1)
            .await
            .all_applied()
    );

    nats.restart();
    let report = push(&target, signed(&signer, 2, None, "WARNING"), 1).await;
    assert!(report.all_applied(), "{report:?}");
    // Exactly the two revisions, each once: the reconnect did not reprocess revision 1.
    assert_eq!(s.processed(), 2, "{:?}", s.events.lock().unwrap());
    assert_eq!(s.level(), 30);
    s.handle.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_started_while_nats_is_down_retries_and_applies_once_it_is_up() {
    let mut nats = NatsServer::start();
    let target = kv_target(&nats, "logconf", "down");
    nats.kill();
    let signer = logwire_wire::generate_ed25519().unwrap();
    let s = Service::start(&target, &signer, "payments", "patient");
    wait_until("a failed session is reported", || {
        s.events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, KvEvent::Disconnected { .. }))
    });
    nats.restart();
    let report = push(&target, signed(&signer, 1, None, "ERROR"), 1).await;
    assert!(report.all_applied(), "{report:?}");
    assert_eq!(s.level(), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_above_the_bucket_cap_is_refused_by_the_server() {
    let nats = NatsServer::start();
    let target = kv_target(&nats, "logconf", "big");
    let err = push_config(
        &target,
        &NatsConnect::default(),
        vec![b' '; 2 << 20],
        Some(0),
        WAIT,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("push to"), "{err}");
}

#[test]
fn a_keyless_listener_is_refused() {
    let target: KvTarget = "nats://127.0.0.1:4222/logconf/k".parse().unwrap();
    let err = KvConfigListener::new(
        ConfigListener::new(LoggerTree::new(), ListenerOptions::new()),
        target,
    )
    .start()
    .unwrap_err();
    assert!(err.to_string().contains("unsigned"), "{err}");
}
