//! A connection keeps its records across what used to close it (issue 13, items 5 and 6):
//!
//! * a quiet established connection is not closed by default, however long it is quiet
//!   (CPython's `SocketHandler` learns of a close only when a later send fails, and loses
//!   that record); a frame that has started still has its deadline;
//! * an oversized frame is skipped (counted `too_large`, nothing of it buffered) and the
//!   frames after it are read, up to a cap on skipped bytes per connection; a length past
//!   what is left of that cap closes the connection at once.

use crate::common_recv;

use common_recv::{start, tcp0, wait_for};
use logwire_collector::receiver::{ListenAddr, ReceiverOptions, RejectReason};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(payload);
    f
}

fn good(msg: &str) -> Vec<u8> {
    frame(format!(r#"{{"name": "good", "msg": "{msg}", "levelno": 20}}"#).as_bytes())
}

fn addr(a: &[ListenAddr]) -> std::net::SocketAddr {
    match &a[0] {
        ListenAddr::Tcp(a) => *a,
        other => panic!("{other}"),
    }
}

/// Tokio's clock is paused: while every task waits, it jumps to the next timer, so two hours
/// of quiet pass at once, and any deadline between frames (the old default was one hour)
/// would close the connection before the second record.
#[tokio::test(start_paused = true)]
async fn a_quiet_connection_stays_open_by_default() {
    let (running, keep) = start(ReceiverOptions::default(), &[tcp0()]).await;
    let mut s = TcpStream::connect(addr(running.local_addrs()))
        .await
        .unwrap();
    s.write_all(&good("before the quiet")).await.unwrap();
    assert!(wait_for(|| keep.records().len() == 1).await);
    tokio::time::sleep(Duration::from_secs(2 * 3600)).await;
    s.write_all(&good("after two hours")).await.unwrap();
    assert!(wait_for(|| keep.records().len() == 2).await);
    let stats = running.stats();
    assert_eq!(stats.connections_timed_out, 0, "{stats}");

    // A started frame still has its deadline (30 s): half a frame, then quiet.
    let half = good("never finished");
    s.write_all(&half[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(wait_for(|| running.stats().connections_timed_out == 1).await);
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest).await;
    let stats = running.shutdown().await;
    assert_eq!(stats.rejected(RejectReason::Truncated), 1, "{stats}");
    assert_eq!(stats.stored, 2, "{stats}");

    // An idle deadline still applies when asked for.
    let options = ReceiverOptions {
        idle_timeout: Some(Duration::from_secs(5)),
        ..ReceiverOptions::default()
    };
    let (running, _keep) = start(options, &[tcp0()]).await;
    let mut s = TcpStream::connect(addr(running.local_addrs()))
        .await
        .unwrap();
    s.write_all(&good("one")).await.unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(wait_for(|| running.stats().connections_timed_out == 1).await);
    running.shutdown().await;
}

/// Oversized frames of several sizes and arrivals (whole, prefix split over writes, body
/// dribbled in small writes, back to back with good frames in one write): each is counted
/// `too_large` and every good frame around it is stored, on the one connection.
#[tokio::test]
async fn oversized_frames_are_skipped_and_the_connection_kept() {
    const CAP: usize = 4096;
    let options = ReceiverOptions {
        max_frame: CAP,
        ..ReceiverOptions::default()
    };
    let (running, keep) = start(options, &[tcp0()]).await;
    let mut s = TcpStream::connect(addr(running.local_addrs()))
        .await
        .unwrap();
    let big = |n: usize| frame(&vec![b'}'; n]);
    let mut sent_good = 0;
    let mut oversized = 0;
    for (i, n) in [CAP + 1, 3 * CAP, 200_000, 1 << 20].into_iter().enumerate() {
        s.write_all(&good(&format!("before {i}"))).await.unwrap();
        let f = big(n);
        match i % 3 {
            // Whole, with the next good frame in the same write.
            0 => {
                let mut w = f.clone();
                w.extend_from_slice(&good(&format!("glued {i}")));
                s.write_all(&w).await.unwrap();
                sent_good += 1;
            }
            // The prefix split, then the body in small writes.
            1 => {
                s.write_all(&f[..2]).await.unwrap();
                s.flush().await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
                for chunk in f[2..].chunks(999) {
                    s.write_all(chunk).await.unwrap();
                }
            }
            _ => s.write_all(&f).await.unwrap(),
        }
        oversized += 1;
        sent_good += 1;
    }
    s.write_all(&good("last")).await.unwrap();
    sent_good += 1;
    assert!(wait_for(|| keep.records().len() == sent_good).await);
    let msgs: Vec<String> = keep.records().into_iter().map(|r| r.msg).collect();
    assert_eq!(msgs.last().map(String::as_str), Some("last"), "{msgs:?}");
    let stats = running.stats();
    assert_eq!(stats.rejected(RejectReason::TooLarge), oversized, "{stats}");
    assert_eq!(stats.connections_accepted, 1, "{stats}");
    drop(s);
    let stats = running.shutdown().await;
    assert!(stats.reconciles(), "{stats}");
    assert_eq!(stats.rejected_total(), oversized, "{stats}");
}

/// Skipping has a cap per connection: a length past what is left of it (a 4 GiB prefix, or
/// an oversized frame after 64 MiB of them) closes the connection at once, without reading
/// the body; the frames before are stored.
#[tokio::test]
async fn skipping_is_capped_per_connection() {
    let options = ReceiverOptions {
        max_frame: 4096,
        ..ReceiverOptions::default()
    };
    let (running, keep) = start(options, &[tcp0()]).await;
    let at = addr(running.local_addrs());

    let mut s = TcpStream::connect(at).await.unwrap();
    let mut w = good("before 4 GiB");
    w.extend_from_slice(&u32::MAX.to_be_bytes());
    w.extend_from_slice(&good("inside the 4 GiB body"));
    s.write_all(&w).await.unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest).await;
    assert!(wait_for(|| keep.records().len() == 1).await);

    // 8 MiB frames: the ninth would pass 64 MiB.
    let mut s = TcpStream::connect(at).await.unwrap();
    let body = vec![b'x'; 8 << 20];
    let mut closed = false;
    for i in 0..9 {
        s.write_all(&good(&format!("between {i}"))).await.unwrap();
        s.write_all(&(body.len() as u32).to_be_bytes())
            .await
            .unwrap();
        if s.write_all(&body).await.is_err() {
            closed = true;
            break;
        }
    }
    let _ = s.read_to_end(&mut rest).await;
    assert!(
        wait_for(|| keep.records().len() == 10).await,
        "{:?}",
        running.stats()
    );
    let stats = running.shutdown().await;
    // 8 skipped, the 4 GiB prefix and the ninth refused: 10 too_large.
    assert_eq!(stats.rejected(RejectReason::TooLarge), 10, "{stats}");
    assert_eq!(stats.stored, 10, "{stats}");
    let _ = closed;
}
