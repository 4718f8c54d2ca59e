//! Remote logger names cannot grow the collector's tree without bound: a name longer than
//! MAX_REMOTE_NAME_LEN (a frame may carry a megabyte of dots) gets no logger or placeholders
//! of its own and enters at its nearest existing ancestor; the record is still handled.

use crate::common_recv;

use common_recv::{start, tcp0, wait_for};
use logwire_collector::receiver::{ListenAddr, MAX_REMOTE_NAME_LEN, ReceiverOptions};
use std::io::Write;
use std::net::TcpStream;

fn json_frame(name: &str, msg: &str) -> Vec<u8> {
    let payload =
        format!(r#"{{"name": "{name}", "msg": "{msg}", "levelno": 30, "levelname": "WARNING"}}"#);
    let mut f = (payload.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(payload.as_bytes());
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_dotted_names_do_not_create_loggers() {
    let (running, keep) = start(ReceiverOptions::default(), &[tcp0()]).await;
    let ListenAddr::Tcp(addr) = running.local_addrs()[0].clone() else {
        unreachable!()
    };
    // "app" exists (a short name gets its logger); then names of 300 000 bytes under it.
    let huge: Vec<String> = (0..20)
        .map(|i| format!("app.{}{i}", "a.".repeat(150_000)))
        .collect();
    let frames: Vec<Vec<u8>> = std::iter::once(json_frame("app", "short"))
        .chain(
            huge.iter()
                .enumerate()
                .map(|(i, n)| json_frame(n, &format!("huge {i}"))),
        )
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        for f in frames {
            s.write_all(&f).unwrap();
        }
    })
    .await
    .unwrap();
    assert!(
        wait_for(|| running.stats().stored == 21).await,
        "{}",
        running.stats()
    );
    // Every record was handled, under its own (remote) name.
    let records = keep.records();
    assert_eq!(records.len(), 21);
    assert!(records.iter().skip(1).all(|r| r.name.len() > 300_000));
    // The tree holds "app" and nothing longer than the cap.
    let snap = running.tree().snapshot();
    assert!(snap.get("app").is_some());
    assert!(
        snap.loggers()
            .all(|n| n.name().len() <= MAX_REMOTE_NAME_LEN),
        "a huge name got a logger"
    );
    assert!(
        snap.loggers().count() < 10,
        "placeholders were created for a huge name"
    );
    running.shutdown().await;
}

/// A name of `parts` dotted parts sharing no prefix with the others: `parts` new nodes.
fn deep_name(i: usize, parts: usize) -> String {
    let mut s = format!("{i:06}");
    for _ in 1..parts {
        s.push_str(".a");
    }
    s
}

/// The cap on remote loggers counts their placeholders (issue 13, item 2): 10 000 loggers
/// of 125 parts were 1.25 million nodes. Past the budget, records enter at the nearest
/// existing ancestor, counted, and are still stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_names_make_at_most_the_node_budget_placeholders_included() {
    use logwire_collector::receiver::MAX_REMOTE_LOGGERS;
    let (running, keep) = start(ReceiverOptions::default(), &[tcp0()]).await;
    let ListenAddr::Tcp(addr) = running.local_addrs()[0].clone() else {
        unreachable!()
    };
    let nodes_before = running.tree().snapshot().len();
    let (names, parts) = (200, 125);
    let frames: Vec<Vec<u8>> = (0..names)
        .map(|i| json_frame(&deep_name(i, parts), &format!("deep {i}")))
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        for f in frames {
            s.write_all(&f).unwrap();
        }
    })
    .await
    .unwrap();
    assert!(
        wait_for(|| running.stats().stored == names as u64).await,
        "{}",
        running.stats()
    );
    let made = running.tree().snapshot().len() - nodes_before;
    let fitted = MAX_REMOTE_LOGGERS / parts;
    assert_eq!(made, fitted * parts, "nodes made by remote names");
    assert_eq!(running.stats().at_ancestor, (names - fitted) as u64);
    assert_eq!(keep.records().len(), names);
    running.shutdown().await;
}
