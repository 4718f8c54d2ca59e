//! Accept loops and one connection's life: prefix (header deadline) → cap check → body
//! (body deadline, buffer grown by what arrives, never by what is announced) → the gate →
//! reply → close.
//!
//! Reads return 0 at end of stream and the connection ends there, so a truncated frame
//! costs nothing after the peer is gone (CPython spins on it forever, gh-156378). Connection
//! tasks are owned by their accept loop's `JoinSet`: stopping the listener drops the set,
//! which aborts every connection wherever it is blocked. Nothing waits for a client.
//!
//! With TLS, the handshake runs inside the connection's task, after its slot under the
//! connection cap is taken and under the header deadline (handshake and length prefix
//! together), so a slow or half-open TLS client pins no more than a plain one.
//!
//! Who gets a slot when they are all taken is `slots`' business: a connection that has sent
//! nothing is shed before one that is sending is refused, and known peers (a Unix uid, a
//! verified TLS client certificate) have slots of their own.

use super::gate::{Gate, Outcome};
use super::slots::{Admission, Slot, Slots, admit_fairly};
use super::stats::{Counters, ListenerEvent};
use logwire_wire::{FrameError, FrameHeader, PREFIX_LEN};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout, timeout_at};

/// The event callback.
pub type EventCallback = Arc<dyn Fn(&ListenerEvent) + Send + Sync>;

/// How long a reply may take to write.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// After replying, the rest of what the peer sent is read and discarded for this long (at
/// most the size cap plus [`DRAIN_SLACK`] bytes): closing with unread data makes the kernel send a reset, which
/// can destroy the reply before the peer reads it.
const DRAIN_TIME: Duration = Duration::from_millis(500);
const DRAIN_SLACK: usize = 64 * 1024;
/// Back-off after a failed accept (EMFILE and friends), so an exhausted fd table cannot
/// make the accept loop spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

pub(crate) struct Shared {
    pub(crate) gate: Gate,
    pub(crate) counters: Counters,
    pub(crate) events: Option<EventCallback>,
    pub(crate) max_config_bytes: usize,
    pub(crate) header_timeout: Duration,
    pub(crate) body_timeout: Duration,
    pub(crate) peer_uids: Option<Vec<u32>>,
}

impl Shared {
    fn event(&self, e: ListenerEvent) {
        if let Some(cb) = &self.events {
            cb(&e);
        }
    }

    /// Reports a connection shed to make room (see `slots`).
    fn shed(&self, peer: &str) {
        Counters::bump(&self.counters.shed_idle);
        self.dropped(
            peer,
            "shed: it had sent nothing while every slot was taken".into(),
        );
    }

    fn dropped(&self, peer: &str, reason: String) {
        self.event(ListenerEvent::Dropped {
            reason,
            peer: peer.to_owned(),
        });
    }
}

/// What accepts TLS on a TCP address; without the `tls` feature there is none to have.
#[cfg(feature = "tls")]
pub(crate) type Acceptor = tokio_rustls::TlsAcceptor;
/// What accepts TLS on a TCP address; without the `tls` feature there is none to have.
#[cfg(not(feature = "tls"))]
pub(crate) type Acceptor = std::convert::Infallible;

/// The TLS acceptor of the options' [`TlsServer`](crate::TlsServer), if any.
#[cfg(feature = "tls")]
pub(crate) fn acceptor(o: &crate::ListenerOptions) -> Option<Acceptor> {
    o.tls.as_ref().map(crate::TlsServer::acceptor)
}

/// Without the `tls` feature, TCP addresses speak plain.
#[cfg(not(feature = "tls"))]
pub(crate) fn acceptor(_: &crate::ListenerOptions) -> Option<Acceptor> {
    None
}

pub(crate) async fn accept_tcp(
    l: tokio::net::TcpListener,
    shared: Arc<Shared>,
    slots: Arc<Slots>,
    tls: Option<Acceptor>,
) {
    let mut conns = JoinSet::new();
    loop {
        let (stream, peer) = match l.accept().await {
            Ok(x) => x,
            Err(_) => {
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        while conns.try_join_next().is_some() {}
        let peer = peer.to_string();
        let Admission::Admitted { slot } = admit_fairly(&slots, false).await else {
            Counters::bump(&shared.counters.refused_over_cap);
            drop(stream);
            shared.dropped(&peer, "connection cap reached".into());
            continue;
        };
        let _ = stream.set_nodelay(true);
        Counters::bump(&shared.counters.connections);
        let sh = shared.clone();
        #[allow(clippy::clone_on_copy)] // `Option<Infallible>` without the `tls` feature
        let tls = tls.clone();
        conns.spawn(async move {
            let header_deadline = Instant::now() + sh.header_timeout;
            let serve = async {
                match tls {
                    None => {
                        serve_conn(stream, peer.clone(), sh.clone(), header_deadline, &slot).await
                    }
                    #[cfg(not(feature = "tls"))]
                    Some(never) => match never {},
                    #[cfg(feature = "tls")]
                    Some(acceptor) => {
                        tls_conn(
                            stream,
                            acceptor,
                            peer.clone(),
                            sh.clone(),
                            header_deadline,
                            &slot,
                        )
                        .await
                    }
                }
            };
            tokio::select! {
                biased;
                () = slot.shed() => sh.shed(&peer),
                () = serve => {}
            }
        });
    }
}

#[cfg(feature = "tls")]
/// A TLS connection: the handshake (under the header deadline), then [`serve_conn`]. A
/// verified client certificate makes the peer known (see `slots`).
async fn tls_conn(
    stream: tokio::net::TcpStream,
    acceptor: tokio_rustls::TlsAcceptor,
    peer: String,
    sh: Arc<Shared>,
    header_deadline: Instant,
    slot: &Slot,
) {
    match timeout_at(header_deadline, acceptor.accept(stream)).await {
        Ok(Ok(tls_stream)) => {
            // Shed during the handshake: the shed branch reports it.
            if !slot.known() {
                return std::future::pending().await;
            }
            let peer = format!("{peer} (TLS)");
            serve_conn(tls_stream, peer, sh, header_deadline, slot).await;
        }
        Ok(Err(e)) => {
            Counters::bump(&sh.counters.tls_failed);
            sh.dropped(&peer, format!("TLS handshake failed: {e}"));
        }
        Err(_) => {
            Counters::bump(&sh.counters.timed_out);
            sh.dropped(
                &peer,
                format!(
                    "TLS handshake not finished within {:?} (header deadline)",
                    sh.header_timeout
                ),
            );
        }
    }
}

pub(crate) async fn accept_unix(
    l: tokio::net::UnixListener,
    shared: Arc<Shared>,
    slots: Arc<Slots>,
) {
    let mut conns = JoinSet::new();
    loop {
        let (stream, _) = match l.accept().await {
            Ok(x) => x,
            Err(_) => {
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        while conns.try_join_next().is_some() {}
        let uid = stream.peer_cred().map(|c| c.uid()).ok();
        let peer = match uid {
            Some(u) => format!("unix uid {u}"),
            None => "unix peer".to_owned(),
        };
        if let Some(allowed) = &shared.peer_uids
            && !uid.is_some_and(|u| allowed.contains(&u))
        {
            Counters::bump(&shared.counters.refused_peer);
            drop(stream);
            shared.dropped(&peer, "peer uid not allowed".into());
            continue;
        }
        // The kernel vouches for the uid (and it passed the allowed list, if any): a known
        // peer, with the reserved slots (see `slots`).
        let Admission::Admitted { slot } = admit_fairly(&slots, uid.is_some()).await else {
            Counters::bump(&shared.counters.refused_over_cap);
            drop(stream);
            shared.dropped(&peer, "connection cap reached".into());
            continue;
        };
        Counters::bump(&shared.counters.connections);
        let sh = shared.clone();
        conns.spawn(async move {
            let header_deadline = Instant::now() + sh.header_timeout;
            tokio::select! {
                biased;
                () = slot.shed() => sh.shed(&peer),
                () = serve_conn(stream, peer.clone(), sh.clone(), header_deadline, &slot) => {}
            }
        });
    }
}

/// Reads until `buf` is full or the stream ends; returns how much was read.
async fn read_full<S: AsyncRead + Unpin>(s: &mut S, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut have = 0;
    while have < buf.len() {
        match s.read(&mut buf[have..]).await? {
            0 => break,
            n => have += n,
        }
    }
    Ok(have)
}

async fn serve_conn<S>(
    mut stream: S,
    peer: String,
    shared: Arc<Shared>,
    header_deadline: Instant,
    slot: &Slot,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let c = &shared.counters;
    let mut header = [0u8; PREFIX_LEN];
    // The first byte alone: from it on, the connection is sending and is never shed.
    let first = match timeout_at(header_deadline, read_full(&mut stream, &mut header[..1])).await {
        Ok(Ok(1)) if slot.sending() => {
            timeout_at(header_deadline, read_full(&mut stream, &mut header[1..]))
                .await
                .map(|r| r.map(|n| n + 1))
        }
        // Shed between the read and the mark: the shed branch reports it.
        Ok(Ok(1)) => return std::future::pending().await,
        other => other,
    };
    match first {
        Ok(Ok(PREFIX_LEN)) => {}
        Ok(Ok(0)) => return shared.dropped(&peer, "closed before sending anything".into()),
        Ok(Ok(n)) => {
            Counters::bump(&c.truncated);
            return shared.dropped(
                &peer,
                format!("closed after {n} of the 4 length-prefix bytes"),
            );
        }
        Ok(Err(e)) => return shared.dropped(&peer, format!("read error: {e}")),
        Err(_) => {
            Counters::bump(&c.timed_out);
            return shared.dropped(
                &peer,
                format!(
                    "no length prefix within {:?} (header deadline)",
                    shared.header_timeout
                ),
            );
        }
    }
    // The prefix is checked against the cap before any body byte is read.
    let len = match FrameHeader::from_bytes(header).check(shared.max_config_bytes) {
        Ok(len) => len,
        Err(e) => {
            Counters::bump(&c.too_large);
            let len = match e {
                FrameError::TooLarge { len, .. } => len,
                _ => u64::from(u32::from_be_bytes(header)),
            };
            let reason = format!(
                "config of {len} bytes is larger than this listener's cap of {} bytes",
                shared.max_config_bytes
            );
            return finish(stream, &shared, &peer, rejected_unread(reason)).await;
        }
    };
    if len == 0 {
        return finish(
            stream,
            &shared,
            &peer,
            rejected_unread("empty config".into()),
        )
        .await;
    }
    let mut body = Vec::with_capacity(len.min(64 * 1024));
    let read = timeout(
        shared.body_timeout,
        (&mut stream).take(len as u64).read_to_end(&mut body),
    )
    .await;
    match read {
        Ok(Ok(_)) if body.len() == len => {}
        Ok(Ok(got)) => {
            Counters::bump(&c.truncated);
            let reason =
                format!("truncated frame: the connection ended after {got} of {len} bytes");
            shared.dropped(&peer, reason.clone());
            // The peer may have closed only its sending side: tell it why, best effort.
            return reply(
                stream,
                &shared,
                logwire_wire::ConfigReply::rejected(0, reason),
            )
            .await;
        }
        Ok(Err(e)) => return shared.dropped(&peer, format!("read error: {e}")),
        Err(_) => {
            Counters::bump(&c.timed_out);
            let reason = format!(
                "body deadline passed: {} of {len} bytes arrived within {:?}",
                body.len(),
                shared.body_timeout
            );
            shared.dropped(&peer, reason.clone());
            return reply(
                stream,
                &shared,
                logwire_wire::ConfigReply::rejected(0, reason),
            )
            .await;
        }
    }
    let sh = shared.clone();
    // Applying opens files and takes the apply lock: keep it off the async workers.
    let outcome = match tokio::task::spawn_blocking(move || sh.gate.process(body)).await {
        Ok(o) => o,
        Err(_) => return,
    };
    finish(stream, &shared, &peer, outcome).await;
}

fn rejected_unread(reason: String) -> Outcome {
    Outcome {
        reply: logwire_wire::ConfigReply::rejected(0, reason),
        key_id: None,
    }
}

/// Counts and reports the outcome, then replies and closes.
async fn finish<S>(stream: S, shared: &Shared, peer: &str, outcome: Outcome)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let r = &outcome.reply;
    match r.status {
        logwire_wire::ConfigStatus::Applied => {
            Counters::bump(&shared.counters.applied);
            shared.event(ListenerEvent::Applied {
                seq: r.seq,
                key_id: outcome.key_id,
                peer: peer.to_owned(),
            });
        }
        logwire_wire::ConfigStatus::Rejected => {
            Counters::bump(&shared.counters.rejected);
            shared.event(ListenerEvent::Rejected {
                seq: r.seq,
                reason: r.reason.clone(),
                peer: peer.to_owned(),
            });
        }
    }
    reply(stream, shared, outcome.reply).await;
}

async fn reply<S>(mut stream: S, shared: &Shared, reply: logwire_wire::ConfigReply)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let frame = reply.encode_frame();
    let written = timeout(REPLY_TIMEOUT, async {
        stream.write_all(&frame).await?;
        stream.flush().await?;
        stream.shutdown().await
    })
    .await;
    if !matches!(written, Ok(Ok(()))) {
        Counters::bump(&shared.counters.reply_failed);
        return;
    }
    let _ = timeout(DRAIN_TIME, async {
        let mut scratch = [0u8; 8192];
        let mut total = 0;
        // A sender rejected on its length prefix may still be sending that many bytes.
        let limit = shared.max_config_bytes.saturating_add(DRAIN_SLACK);
        while total < limit {
            match stream.read(&mut scratch).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    })
    .await;
}
