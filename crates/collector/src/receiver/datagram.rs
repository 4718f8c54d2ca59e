//! Datagram receivers: UDP (`DatagramHandler(host, port)`) and Unix datagram sockets
//! (`DatagramHandler(path, None)`). One record per datagram, which keeps the 4-byte length
//! prefix CPython's `makePickle` adds; the prefix must equal the datagram's remaining length.
//!
//! Nothing is ever sent back: a UDP source address is forgeable, and a reply would make the
//! collector an amplifier. Signed records over datagrams are verified and deduplicated, but
//! not acked.

use super::ingest::{Origin, Shared, Tally};
use super::stats::ListenerId;
use super::stats::RejectReason;
use super::work::Batch;
use logwire_record::RecordMapper;
use logwire_wire::{FrameError, split_datagram};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::{mpsc, watch};

/// A bound datagram socket of either family.
#[derive(Debug)]
pub(crate) enum DatagramSocket {
    /// UDP over IPv4 or IPv6.
    Udp(tokio::net::UdpSocket),
    /// A Unix datagram socket.
    Unix(tokio::net::UnixDatagram),
}

impl DatagramSocket {
    async fn recv_from(&self, buf: &mut [u8]) -> std::io::Result<(usize, String)> {
        match self {
            DatagramSocket::Udp(s) => s.recv_from(buf).await.map(|(n, a)| (n, a.to_string())),
            DatagramSocket::Unix(s) => s.recv_from(buf).await.map(|(n, a)| (n, unix_peer(&a))),
        }
    }

    fn try_recv_from(&self, buf: &mut [u8]) -> std::io::Result<(usize, String)> {
        match self {
            DatagramSocket::Udp(s) => s.try_recv_from(buf).map(|(n, a)| (n, a.to_string())),
            DatagramSocket::Unix(s) => s.try_recv_from(buf).map(|(n, a)| (n, unix_peer(&a))),
        }
    }
}

fn unix_peer(a: &tokio::net::unix::SocketAddr) -> String {
    a.as_pathname().map_or_else(
        || "unix:(unnamed)".to_owned(),
        |p| format!("unix:{}", p.display()),
    )
}

/// Receives datagrams until stopped, then drains what the socket still holds.
pub(crate) async fn recv_loop(
    shared: Arc<Shared>,
    dispatch: mpsc::Sender<Batch>,
    mut stop: watch::Receiver<bool>,
    socket: DatagramSocket,
    listener: Arc<super::stats::PerListener>,
    listener_id: ListenerId,
) {
    let opts = &shared.options;
    let mut mapper = RecordMapper::new(opts.map_limits.clone());
    // One byte more than the largest acceptable datagram, so that an oversized one shows up
    // as a length mismatch instead of being silently cut to size.
    let size = (opts.max_frame + 4 + 1).min(16 << 20);
    let mut buf = vec![0u8; size];
    loop {
        let res = tokio::select! {
            _ = super::stopped(&mut stop) => break,
            r = socket.recv_from(&mut buf) => r,
        };
        match res {
            Ok((n, peer)) => {
                if !handle(
                    &shared,
                    &listener,
                    &dispatch,
                    &mut mapper,
                    &buf[..n],
                    Origin {
                        peer: &peer,
                        listener: listener_id,
                    },
                )
                .await
                {
                    return;
                }
            }
            Err(e) => {
                eprintln!("logwire: datagram receive failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
    // Stopping: take what the kernel already holds, without waiting for more.
    while let Ok((n, peer)) = socket.try_recv_from(&mut buf) {
        if !handle(
            &shared,
            &listener,
            &dispatch,
            &mut mapper,
            &buf[..n],
            Origin {
                peer: &peer,
                listener: listener_id,
            },
        )
        .await
        {
            return;
        }
    }
}

/// Judges one datagram; false when the dispatcher is gone.
async fn handle(
    shared: &Shared,
    listener: &super::stats::PerListener,
    dispatch: &mpsc::Sender<Batch>,
    mapper: &mut RecordMapper,
    datagram: &[u8],
    from: Origin<'_>,
) -> bool {
    let counters = &*shared.counters;
    counters
        .bytes
        .fetch_add(datagram.len() as u64, Ordering::Relaxed);
    listener
        .bytes
        .fetch_add(datagram.len() as u64, Ordering::Relaxed);
    listener.datagrams.fetch_add(1, Ordering::Relaxed);
    let payload = match split_datagram(datagram) {
        Ok(p) if p.len() > shared.options.max_frame => {
            shared.reject(
                from,
                RejectReason::TooLarge,
                &format_args!("datagram payload of {} bytes", p.len()),
            );
            return true;
        }
        Ok(p) => p,
        Err(FrameError::DatagramLengthMismatch { announced, .. })
            if announced as usize > shared.options.max_frame =>
        {
            shared.reject(
                from,
                RejectReason::TooLarge,
                &format_args!("datagram announces {announced} bytes"),
            );
            return true;
        }
        Err(e) => {
            shared.reject(from, RejectReason::BadDatagram, &e);
            return true;
        }
    };
    // What the record may hold, from the queue's budget before it is built (see `stream`).
    let most = shared.options.map_limits.records_budget(payload.len(), 1);
    let reserved = shared.queue.reserve(most).await;
    let outcome = shared.judge(payload, mapper, from, None);
    let mut batch = Batch::with_capacity(from.listener, 1);
    let mut tally = Tally::new(from.listener);
    tally.push(outcome, &mut batch);
    tally.publish(counters);
    shared.queue.settle(reserved, &mut batch);
    if batch.is_empty() {
        return true;
    }
    let n = batch
        .iter()
        .filter(|w| matches!(w, super::work::Work::Record(..)))
        .count() as u64;
    shared.queue.charge(&mut batch).await;
    if dispatch.send(batch).await.is_err() {
        counters.sub_pending(from.listener, n);
        counters.add_dropped(from.listener, n);
        return false;
    }
    true
}
