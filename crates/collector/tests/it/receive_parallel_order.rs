//! One connection carrying thousands of frames in large writes, so that reads hold many
//! frames and are judged off the connection's task (by decode threads, or by the dispatcher
//! itself): records still reach the handlers in the order they were sent, every frame is
//! counted once under the right outcome (good, rejected with its reason, signed, duplicate),
//! and the signed record asking for an ack gets its cumulative ack.

use crate::common_recv;

use common_recv::{start, tcp0, wait_for};
use logwire_collector::receiver::{
    BulkDecode, ListenAddr, ReceiverOptions, ReceiverStats, RejectReason,
};
use logwire_pickle::{PickleValue, encode_record_protocol1};
use logwire_wire::{Epoch, PayloadFormat, seal_record_frame};
use logwire_wire::{HmacKey, KeyRing, RecordAck, SigningKey, VerifyKey};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Frames on the connection.
const FRAMES: usize = 20_000;

fn plain(msg: &str, levelno: PickleValue) -> Vec<u8> {
    let payload = encode_record_protocol1(&[
        ("name", PickleValue::Str("par.app".into())),
        ("msg", PickleValue::Str(msg.into())),
        ("levelno", levelno),
        ("levelname", PickleValue::Str("INFO".into())),
        ("created", PickleValue::Float(1_700_000_000.25)),
    ])
    .unwrap();
    framed(&payload)
}

fn framed(payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(payload);
    f
}

/// What the stream holds, and what the collector must make of it.
#[derive(Default)]
struct Expect {
    stream: Vec<u8>,
    /// Messages stored, in send order.
    stored: Vec<String>,
    bad_pickle: u64,
    empty: u64,
    bad_record: u64,
    bad_tag: u64,
    duplicates: u64,
    /// The signed record asking for an ack (the last signed seq).
    acked_seq: u64,
}

fn build(key: &SigningKey, epoch: Epoch) -> Expect {
    let mut e = Expect::default();
    let mut seq = 0;
    let sign = |msg: &str, seq: u64, ack: bool| {
        let payload = encode_record_protocol1(&[
            ("name", PickleValue::Str("par.signed".into())),
            ("msg", PickleValue::Str(msg.into())),
            ("levelno", PickleValue::Int(30)),
        ])
        .unwrap();
        seal_record_frame(key, epoch, seq, PayloadFormat::Pickle, ack, &payload).unwrap()
    };
    for i in 0..FRAMES {
        let msg = format!("m{i}");
        // Signed frames (one per 2 500, ~250 KB: most reads hold none, so most reads go to the
        // workers): a new seq, the same seq again, and a tampered one.
        if i % 2500 == 1250 {
            seq += 1;
            let f = sign(&msg, seq, false);
            e.stream.extend_from_slice(&f);
            e.stream.extend_from_slice(&f);
            let mut bad = sign("tampered", seq + 1000, false);
            let at = bad.len() - 5;
            bad[at] ^= 1;
            e.stream.extend_from_slice(&bad);
            e.stored.push(msg);
            e.duplicates += 1;
            e.bad_tag += 1;
        } else if i % 97 == 13 {
            e.stream.extend_from_slice(&framed(b"not a pickle"));
            e.bad_pickle += 1;
        } else if i % 89 == 7 {
            e.stream.extend_from_slice(&framed(b""));
            e.empty += 1;
        } else if i % 101 == 17 {
            let f = plain(&msg, PickleValue::Str("INFO".into()));
            e.stream.extend_from_slice(&f);
            e.bad_record += 1;
        } else if i % 13 == 5 {
            let json = format!(r#"{{"name": "par.json", "msg": "{msg}", "levelno": 20}}"#);
            e.stream.extend_from_slice(&framed(json.as_bytes()));
            e.stored.push(msg);
        } else {
            e.stream
                .extend_from_slice(&plain(&msg, PickleValue::Int(20)));
            e.stored.push(msg);
        }
    }
    seq += 1;
    let f = sign("last, acked", seq, true);
    e.stream.extend_from_slice(&f);
    e.stored.push("last, acked".into());
    e.acked_seq = seq;
    e
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decode_threads_keep_order_and_exact_counts() {
    let stats = one_connection(BulkDecode::Threads(2)).await;
    assert!(
        stats.parallel_reads > 0,
        "decode threads were used: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dispatcher_keeps_order_and_exact_counts() {
    let stats = one_connection(BulkDecode::Dispatcher).await;
    assert!(
        stats.dispatcher_reads > 0,
        "the dispatcher judged reads: {stats:?}"
    );
    assert_eq!(stats.parallel_reads, 0, "{stats:?}");
}

/// Sends the stream over one connection to a collector judging bulk reads as `bulk` says,
/// checks order, counts and the ack, and returns the final stats.
async fn one_connection(bulk: BulkDecode) -> ReceiverStats {
    let secret = HmacKey::from_bytes(&[7u8; 32]).unwrap();
    let key = SigningKey::Hmac(secret.clone());
    let keys: KeyRing = [VerifyKey::Hmac(secret)].into_iter().collect();
    let opts = ReceiverOptions {
        keys,
        allow_unsigned: true,
        log_rejects: false,
        bulk_decode: bulk,
        ..ReceiverOptions::default()
    };
    let epoch = Epoch([3u8; 16]);
    let e = build(&key, epoch);
    let (running, keep) = start(opts, &[tcp0()]).await;
    let ListenAddr::Tcp(addr) = running.local_addrs()[0] else {
        unreachable!()
    };

    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    // Large writes: the collector's reads then hold hundreds of frames each.
    for part in e.stream.chunks(256 * 1024) {
        conn.write_all(part).await.unwrap();
    }
    let mut ack = [0u8; 4 + 28];
    tokio::time::timeout(Duration::from_secs(30), conn.read_exact(&mut ack))
        .await
        .expect("an ack within 30 s")
        .unwrap();
    let ack = RecordAck::parse(&ack[4..]).unwrap();
    assert_eq!((ack.epoch, ack.seq), (epoch, e.acked_seq));
    drop(conn);

    // Frames sent: FRAMES, plus two more for each signed block (duplicate, tampered), plus
    // the acked one.
    let sent = FRAMES as u64 + e.duplicates + e.bad_tag + 1;
    assert!(
        wait_for(|| running.stats().received == sent).await,
        "{}",
        running.stats()
    );
    let stats = running.shutdown().await;

    let msgs: Vec<String> = keep.records().into_iter().map(|r| r.msg).collect();
    assert_eq!(msgs.len(), e.stored.len(), "{stats}");
    if let Some(i) = (0..msgs.len()).find(|&i| msgs[i] != e.stored[i]) {
        panic!(
            "record {i} out of order: got {:?}, expected {:?}",
            &msgs[i..(i + 3).min(msgs.len())],
            &e.stored[i..(i + 3).min(e.stored.len())]
        );
    }
    assert_eq!(stats.received, sent, "{stats}");
    assert_eq!(stats.stored, e.stored.len() as u64, "{stats}");
    assert_eq!(stats.duplicates, e.duplicates, "{stats}");
    assert_eq!(
        stats.rejected(RejectReason::BadPickle),
        e.bad_pickle,
        "{stats}"
    );
    assert_eq!(stats.rejected(RejectReason::Empty), e.empty, "{stats}");
    assert_eq!(
        stats.rejected(RejectReason::BadRecord),
        e.bad_record,
        "{stats}"
    );
    assert_eq!(stats.rejected(RejectReason::BadTag), e.bad_tag, "{stats}");
    assert_eq!(
        stats.rejected_total(),
        e.bad_pickle + e.empty + e.bad_record + e.bad_tag,
        "{stats}"
    );
    assert_eq!((stats.pending, stats.dropped), (0, 0), "{stats}");
    assert!(stats.reconciles(), "{stats}");
    assert!(stats.acks_sent >= 1, "{stats}");
    stats
}

/// A connection carrying only signed frames, every seventh tampered: bulk reads leave part of
/// their tags to the dispatcher (`stream::TAGS_CHECKED_HERE`), and a tampered frame is
/// refused whichever side verifies it, while the good ones arrive in order, each once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_bulk_reads_refuse_tampering_on_either_side() {
    let secret = HmacKey::from_bytes(&[9u8; 32]).unwrap();
    let key = SigningKey::Hmac(secret.clone());
    let opts = ReceiverOptions {
        keys: [VerifyKey::Hmac(secret)].into_iter().collect(),
        log_rejects: false,
        ..ReceiverOptions::default()
    };
    let epoch = Epoch([5u8; 16]);
    let (mut stream, mut good, mut tampered) = (Vec::new(), Vec::new(), 0u64);
    for seq in 1..=4_000u64 {
        let msg = format!("s{seq}");
        let payload = encode_record_protocol1(&[
            ("name", PickleValue::Str("par.signed".into())),
            ("msg", PickleValue::Str(msg.clone())),
            ("levelno", PickleValue::Int(30)),
        ])
        .unwrap();
        let mut f =
            seal_record_frame(&key, epoch, seq, PayloadFormat::Pickle, false, &payload).unwrap();
        if seq % 7 == 3 {
            let at = f.len() - 40;
            f[at] ^= 1;
            tampered += 1;
        } else {
            good.push(msg);
        }
        stream.extend_from_slice(&f);
    }
    let (running, keep) = start(opts, &[tcp0()]).await;
    let ListenAddr::Tcp(addr) = running.local_addrs()[0] else {
        unreachable!()
    };
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    for part in stream.chunks(256 * 1024) {
        conn.write_all(part).await.unwrap();
    }
    drop(conn);
    assert!(
        wait_for(|| running.stats().received == 4_000).await,
        "{}",
        running.stats()
    );
    let stats = running.shutdown().await;
    assert!(stats.dispatcher_reads > 0, "bulk reads: {stats}");
    assert_eq!(stats.rejected(RejectReason::BadTag), tampered, "{stats}");
    let msgs: Vec<String> = keep.records().into_iter().map(|r| r.msg).collect();
    assert_eq!(msgs, good, "every good signed record once, in order");
}
