//! Outcomes per listener: every frame is counted under the listener it came in on (received,
//! stored, rejected by reason, duplicates), each listener's counts reconcile on their own,
//! and they add up to the collector's totals. Listener A also carries signed `LWR1` records
//! in bulk reads, which take the bulk path (judged on the dispatcher) and still dedupe.

use crate::common_recv;

use common_recv::{start, tcp0, udp0, wait_for};
use logwire_collector::receiver::{ListenAddr, OutcomeCounts, ReceiverOptions, RejectReason};
use logwire_pickle::{PickleValue, encode_record_protocol1};
use logwire_wire::encode_frame;
use logwire_wire::generate_hmac;
use logwire_wire::{Epoch, KeyRing};
use logwire_wire::{PayloadFormat, seal_record_frame};
use tokio::io::AsyncWriteExt;

fn payload(i: usize) -> Vec<u8> {
    encode_record_protocol1(&[
        ("name", PickleValue::Str("per.listener".into())),
        ("msg", PickleValue::Str(format!("m{i}"))),
        ("levelno", PickleValue::Int(20)),
    ])
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_are_counted_per_listener() {
    let key = generate_hmac().unwrap();
    let keys: KeyRing = [key.verify_key()].into_iter().collect();
    let opts = ReceiverOptions {
        keys,
        allow_unsigned: true,
        log_rejects: false,
        ..ReceiverOptions::default()
    };
    let (running, keep) = start(opts, &[tcp0(), tcp0(), udp0()]).await;
    let addrs = running.local_addrs().to_vec();
    let (ListenAddr::Tcp(a), ListenAddr::Tcp(b), ListenAddr::Udp(c)) =
        (&addrs[0], &addrs[1], &addrs[2])
    else {
        unreachable!()
    };

    // A: 200 signed records in one write (bulk reads), 20 of them again, 2 bad pickles.
    let epoch = Epoch([9; 16]);
    let signed = |seq: u64| {
        seal_record_frame(
            &key,
            epoch,
            seq,
            PayloadFormat::Pickle,
            false,
            &payload(seq as usize),
        )
        .unwrap()
    };
    let first: Vec<u8> = (1..=200).flat_map(signed).collect();
    let mut again: Vec<u8> = (1..=20).flat_map(signed).collect();
    again.extend(encode_frame(b"\x80\x02garbage"));
    again.extend(encode_frame(b"not a pickle"));
    let mut s = tokio::net::TcpStream::connect(a).await.unwrap();
    s.write_all(&first).await.unwrap();
    s.flush().await.unwrap();
    assert!(
        wait_for(|| running.stats().stored >= 200).await,
        "{}",
        running.stats()
    );
    s.write_all(&again).await.unwrap();
    s.shutdown().await.unwrap();

    // B: 50 plain records, an empty frame, then half a frame and EOF.
    let mut plain: Vec<u8> = (0..50).flat_map(|i| encode_frame(&payload(i))).collect();
    plain.extend(encode_frame(b""));
    plain.extend_from_slice(&[0, 0, 0, 100, 1, 2, 3]);
    let mut s = tokio::net::TcpStream::connect(b).await.unwrap();
    s.write_all(&plain).await.unwrap();
    s.shutdown().await.unwrap();

    // C: 5 datagrams, and one whose prefix disagrees with its length.
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for i in 0..5 {
        udp.send_to(&encode_frame(&payload(i)), c).await.unwrap();
    }
    udp.send_to(&[0, 0, 0, 50, 1], c).await.unwrap();

    let total = 222 + 52 + 6;
    assert!(
        wait_for(|| running.stats().received >= total).await,
        "{}",
        running.stats()
    );
    let per = running.stats_handle().per_listener();
    let stats = running.shutdown().await;

    let reasons = |o: &OutcomeCounts| {
        RejectReason::ALL
            .iter()
            .filter_map(|r| (o.rejected(*r) > 0).then_some((*r, o.rejected(*r))))
            .collect::<Vec<_>>()
    };
    // Snapshots taken before shutdown may still show records pending; they reconcile anyway.
    let outcomes: Vec<&OutcomeCounts> = per.iter().map(|(_, c)| &c.outcomes).collect();
    for o in &outcomes {
        assert!(o.reconciles(), "{o:?}");
    }
    let [oa, ob, oc] = outcomes[..] else {
        unreachable!()
    };
    assert_eq!(
        (oa.received, oa.stored + oa.pending, oa.duplicates),
        (222, 200, 20)
    );
    assert_eq!(reasons(oa), [(RejectReason::BadPickle, 2)]);
    assert_eq!(
        (ob.received, ob.stored + ob.pending, ob.duplicates),
        (52, 50, 0)
    );
    assert_eq!(
        reasons(ob),
        [(RejectReason::Truncated, 1), (RejectReason::Empty, 1)]
    );
    assert_eq!((oc.received, oc.stored + oc.pending), (6, 5));
    assert_eq!(reasons(oc), [(RejectReason::BadDatagram, 1)]);
    assert_eq!(per[2].1.datagrams, 6);

    // The listeners add up to the collector's totals.
    let sum = |f: fn(&OutcomeCounts) -> u64| outcomes.iter().map(|o| f(o)).sum::<u64>();
    assert_eq!(sum(|o| o.received), stats.received);
    assert_eq!(sum(|o| o.duplicates), stats.duplicates);
    assert_eq!(sum(|o| o.rejected_total()), stats.rejected_total());
    assert_eq!(stats.stored, 255);
    assert!(stats.reconciles() && stats.pending == 0, "{stats}");
    assert_eq!(keep.records().len(), 255);
    // The signed records took the bulk path (a signed read used to be judged inline).
    assert!(stats.dispatcher_reads > 0, "{stats:?}");
}
