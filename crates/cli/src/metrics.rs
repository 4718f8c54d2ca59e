//! `serve --metrics ADDR`: the collector's counters as Prometheus metrics over HTTP.
//!
//! Two paths, both `GET`:
//! * `/metrics`: the OpenMetrics text exposition (encoded by `prometheus-client`) to a
//!   client whose `Accept` asks for `application/openmetrics-text` (Prometheus does), else
//!   the same in the Prometheus text format 0.0.4 (what `promtool check metrics` reads; see
//!   [`to_prometheus_text`]). Built from one snapshot of the counters per
//!   scrape, so the record counters of one scrape reconcile as [`ReceiverStats`] says:
//!   `received >= stored + rejected + duplicates + dropped + pending`, equal once nothing is
//!   in flight (a frame read while the snapshot is taken is counted received first).
//! * `/health`: `200 ok` while the collector runs.
//!
//! Anything else is `404` (`405` for another method). The server is deliberately small and
//! bounded, since the address may be reachable by more than the scraper: a request's head
//! must arrive within 5 s and fit in 8 KiB, at most 16 requests are served at once (others
//! wait in the backlog), one response per connection, no request body is read.
//!
//! Record counters (`logwire_records_*`) cover all listeners together; the same outcomes per
//! listener are `logwire_listener_records_*` (labelled `kind` and `address`, as every
//! `logwire_listener_*` family; rejects also by `reason`), and reconcile per listener the
//! same way. Per listener besides: connections accepted, refused and open, bytes and
//! datagrams received.
//! Outputs are the handlers of the current routing, by handler name (`stdout` for the
//! default printer).

use logwire_collector::receiver::{ListenAddr, ListenerCounts, ReceiverStats, StatsHandle};
use logwire_engine::LoggerTree;
use logwire_listener::{ListenerEvent, ListenerStats};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Longest request head read.
const MAX_HEAD: usize = 8 * 1024;
/// Deadline for a request's head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Requests served at once.
const MAX_CONCURRENT: usize = 16;

/// Why a config push was rejected, for `logwire_config_pushes_rejected_total{reason}`. The
/// listener reports reasons as sentences (they go back to the sender); this maps them to a
/// fixed set so that the label cannot grow without bound.
pub(crate) const PUSH_REJECT_REASONS: [&str; 11] = [
    "unsigned",
    "bad_signature",
    "expired",
    "audience",
    "replay",
    "too_large",
    "truncated",
    "timed_out",
    "empty",
    "bad_envelope",
    "invalid_config",
];

fn classify_push_reject(reason: &str) -> &'static str {
    let has = |s: &str| reason.contains(s);
    if has("unsigned config refused") {
        "unsigned"
    } else if has("bad signature")
        || has("unknown key id")
        || has("no keys to verify")
        || has("key but the envelope says")
        || has("verify hook")
    {
        "bad_signature"
    } else if has("expired at") || has("expires_at") || has("lifetime of") || has("issued") {
        "expired"
    } else if has("addressed to audience") {
        "audience"
    } else if has("is not greater than the last applied seq") {
        "replay"
    } else if has("too large") || has("exceeds the") {
        "too_large"
    } else if has("truncated frame") {
        "truncated"
    } else if has("deadline") {
        "timed_out"
    } else if has("empty config") {
        "empty"
    } else if has("LWC1") || has("envelope") || has("header") {
        "bad_envelope"
    } else {
        // What is left is the config itself: it did not parse, validate or build.
        "invalid_config"
    }
}

/// Config pushes counted from the listener's events (applied, and rejected by reason).
#[derive(Debug, Default)]
pub(crate) struct PushCounters {
    applied: AtomicU64,
    rejected: [AtomicU64; PUSH_REJECT_REASONS.len()],
}

impl PushCounters {
    /// Counts one listener event.
    pub(crate) fn count(&self, event: &ListenerEvent) {
        match event {
            ListenerEvent::Applied { .. } => {
                self.applied.fetch_add(1, Ordering::Relaxed);
            }
            ListenerEvent::Rejected { reason, .. } => {
                let kind = classify_push_reject(reason);
                let i = PUSH_REJECT_REASONS
                    .iter()
                    .position(|r| *r == kind)
                    .unwrap_or(PUSH_REJECT_REASONS.len() - 1);
                self.rejected[i].fetch_add(1, Ordering::Relaxed);
            }
            // Dropped connections, and events newer than this counter.
            _ => {}
        }
    }
}

/// What a scrape reads.
pub(crate) struct Sources {
    pub(crate) stats: StatsHandle,
    pub(crate) tree: LoggerTree,
    /// Config pushes applied and rejected, when serve runs a config listener of any kind
    /// (socket, or NATS key-value watcher: both count into these).
    pub(crate) pushes: Option<Arc<PushCounters>>,
    /// The socket config listener's connection counters, when serve runs one.
    pub(crate) config_sockets: Option<ListenerStatsFn>,
}

/// Reads the config listener's counters.
pub(crate) type ListenerStatsFn = Arc<dyn Fn() -> ListenerStats + Send + Sync>;

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field("listeners", &self.stats.per_listener())
            .finish_non_exhaustive()
    }
}

fn counter(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(value);
    c.encode(enc.encode_descriptor(name, help, None, c.metric_type())?)
}

fn gauge(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(value);
    g.encode(enc.encode_descriptor(name, help, None, g.metric_type())?)
}

fn as_i64(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

impl Collector for Sources {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let s: ReceiverStats = self.stats.snapshot();
        self.encode_listeners(&mut enc)?;
        counter(
            &mut enc,
            "logwire_records_received",
            "Frames received (read to their end or cut short): stored + rejected + duplicates + dropped + pending.",
            s.received,
        )?;
        counter(
            &mut enc,
            "logwire_records_stored",
            "Records handed to the outputs.",
            s.stored,
        )?;
        {
            let c = ConstCounter::new(0u64);
            let mut family = enc.encode_descriptor(
                "logwire_records_rejected",
                "Frames rejected, by reason.",
                None,
                c.metric_type(),
            )?;
            for (reason, n) in &s.rejected {
                let labels = [("reason", reason.as_str())];
                ConstCounter::new(*n).encode(family.encode_family(&labels)?)?;
            }
        }
        counter(
            &mut enc,
            "logwire_records_duplicates",
            "Signed records seen before (same key, epoch and seq), stored once.",
            s.duplicates,
        )?;
        counter(
            &mut enc,
            "logwire_records_dropped",
            "Records accepted but lost inside the collector (e.g. stdout closed).",
            s.dropped,
        )?;
        gauge(
            &mut enc,
            "logwire_records_pending",
            "Records accepted and waiting for the outputs.",
            as_i64(s.pending),
        )?;
        counter(
            &mut enc,
            "logwire_received_bytes",
            "Bytes read from senders (length prefixes included).",
            s.bytes_received,
        )?;
        counter(
            &mut enc,
            "logwire_connections_accepted",
            "Stream connections accepted.",
            s.connections_accepted,
        )?;
        counter(
            &mut enc,
            "logwire_connections_refused",
            "Stream connections closed at once: the connection cap was reached or their address held its share.",
            s.connections_refused,
        )?;
        counter(
            &mut enc,
            "logwire_connections_shed",
            "Stream connections closed at the cap to make room, having sent no complete frame.",
            s.connections_shed,
        )?;
        counter(
            &mut enc,
            "logwire_connections_timed_out",
            "Stream connections closed by a header, idle or body deadline.",
            s.connections_timed_out,
        )?;
        gauge(
            &mut enc,
            "logwire_connections_open",
            "Stream connections open now.",
            as_i64(self.stats.connections_open()),
        )?;
        counter(
            &mut enc,
            "logwire_acks_sent",
            "LWA1 acks written to signed senders.",
            s.acks_sent,
        )?;
        counter(
            &mut enc,
            "logwire_journal_errors",
            "Failed writes of the replay journal (acks withheld).",
            s.journal_errors,
        )?;
        counter(
            &mut enc,
            "logwire_sync_failures",
            "Flushes after which an output could not confirm its records (acks withheld).",
            s.sync_failures,
        )?;
        gauge(
            &mut enc,
            "logwire_queue_bytes",
            "Bytes of records and reads queued for the outputs (receivers stop reading at the limit).",
            as_i64(self.stats.queue_bytes()),
        )?;
        gauge(
            &mut enc,
            "logwire_queue_bytes_limit",
            "The queue's byte budget.",
            as_i64(self.stats.queue_bytes_limit()),
        )?;
        self.encode_outputs(&mut enc)?;
        if let Some(pushes) = &self.pushes {
            counter(
                &mut enc,
                "logwire_config_pushes_applied",
                "Pushed configs applied (socket and NATS config listeners together).",
                pushes.applied.load(Ordering::Relaxed),
            )?;
            let c = ConstCounter::new(0u64);
            let mut family = enc.encode_descriptor(
                "logwire_config_pushes_rejected",
                "Pushed configs rejected, by reason (socket and NATS config listeners together).",
                None,
                c.metric_type(),
            )?;
            for (reason, n) in PUSH_REJECT_REASONS.iter().zip(&pushes.rejected) {
                let labels = [("reason", *reason)];
                ConstCounter::new(n.load(Ordering::Relaxed))
                    .encode(family.encode_family(&labels)?)?;
            }
        }
        if let Some(listener) = &self.config_sockets {
            let l = listener();
            counter(
                &mut enc,
                "logwire_config_connections",
                "Config listener connections served.",
                l.connections,
            )?;
            let c = ConstCounter::new(0u64);
            let mut family = enc.encode_descriptor(
                "logwire_config_connections_refused",
                "Config listener connections closed at once, by reason.",
                None,
                c.metric_type(),
            )?;
            for (reason, n) in [
                ("over_cap", l.refused_over_cap),
                ("peer", l.refused_peer),
                ("tls_failed", l.tls_failed),
            ] {
                ConstCounter::new(n).encode(family.encode_family(&[("reason", reason)])?)?;
            }
        }
        Ok(())
    }
}

/// A listener's labels: `kind` (tcp, udp, unix, unix-dgram) and `address`.
fn listener_labels(l: &ListenAddr) -> [(&'static str, String); 2] {
    let (kind, addr) = match l {
        ListenAddr::Tcp(a) => ("tcp", a.to_string()),
        ListenAddr::Udp(a) => ("udp", a.to_string()),
        ListenAddr::Unix(p) => ("unix", p.display().to_string()),
        ListenAddr::UnixDatagram(p) => ("unix-dgram", p.display().to_string()),
        other => ("other", format!("{other:?}")),
    };
    [("kind", kind.to_owned()), ("address", addr)]
}

impl Sources {
    /// Per listener: what it took in (connections, bytes, datagrams) and what became of its
    /// frames (`logwire_listener_records_*`, which reconcile per listener as the totals do:
    /// each listener's counts are one snapshot, outcomes read before `received`).
    fn encode_listeners(&self, enc: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let listeners = self.stats.per_listener();
        let labels: Vec<_> = listeners.iter().map(|(a, _)| listener_labels(a)).collect();
        {
            let g = ConstGauge::new(1i64);
            let mut family = enc.encode_descriptor(
                "logwire_listener_info",
                "A record listener of this collector.",
                None,
                g.metric_type(),
            )?;
            for l in &labels {
                ConstGauge::new(1i64).encode(family.encode_family(l)?)?;
            }
        }
        type Get = fn(&ListenerCounts) -> u64;
        let counters: [(&str, &str, Get); 4] = [
            (
                "logwire_listener_connections_accepted",
                "Stream connections a listener accepted.",
                |c| c.connections_accepted,
            ),
            (
                "logwire_listener_connections_refused",
                "Stream connections a listener closed at once (connection caps).",
                |c| c.connections_refused,
            ),
            (
                "logwire_listener_received_bytes",
                "Bytes a listener read from senders.",
                |c| c.bytes_received,
            ),
            (
                "logwire_listener_datagrams",
                "Datagrams a datagram listener received.",
                |c| c.datagrams,
            ),
        ];
        for (name, help, get) in counters {
            let c = ConstCounter::new(0u64);
            let mut family = enc.encode_descriptor(name, help, None, c.metric_type())?;
            for ((_, counts), l) in listeners.iter().zip(&labels) {
                ConstCounter::new(get(counts)).encode(family.encode_family(l)?)?;
            }
        }
        {
            let g = ConstGauge::new(0i64);
            let mut family = enc.encode_descriptor(
                "logwire_listener_connections_open",
                "Stream connections open on a listener now.",
                None,
                g.metric_type(),
            )?;
            for ((_, counts), l) in listeners.iter().zip(&labels) {
                ConstGauge::new(as_i64(counts.connections_open))
                    .encode(family.encode_family(l)?)?;
            }
        }
        let outcomes: [(&str, &str, Get); 4] = [
            (
                "logwire_listener_records_received",
                "Frames a listener received: its stored + rejected + duplicates + dropped + pending.",
                |c| c.outcomes.received,
            ),
            (
                "logwire_listener_records_stored",
                "Records from a listener handed to the outputs.",
                |c| c.outcomes.stored,
            ),
            (
                "logwire_listener_records_duplicates",
                "Signed records from a listener seen before, stored once.",
                |c| c.outcomes.duplicates,
            ),
            (
                "logwire_listener_records_dropped",
                "Records from a listener accepted but lost inside the collector.",
                |c| c.outcomes.dropped,
            ),
        ];
        for (name, help, get) in outcomes {
            let c = ConstCounter::new(0u64);
            let mut family = enc.encode_descriptor(name, help, None, c.metric_type())?;
            for ((_, counts), l) in listeners.iter().zip(&labels) {
                ConstCounter::new(get(counts)).encode(family.encode_family(l)?)?;
            }
        }
        {
            let c = ConstCounter::new(0u64);
            let mut family = enc.encode_descriptor(
                "logwire_listener_records_rejected",
                "Frames a listener received and the collector rejected, by reason.",
                None,
                c.metric_type(),
            )?;
            for ((_, counts), [kind, address]) in listeners.iter().zip(&labels) {
                for (reason, n) in &counts.outcomes.rejected {
                    let l = [
                        (kind.0, kind.1.as_str()),
                        (address.0, address.1.as_str()),
                        ("reason", reason.as_str()),
                    ];
                    ConstCounter::new(*n).encode(family.encode_family(&l)?)?;
                }
            }
        }
        let g = ConstGauge::new(0i64);
        let mut family = enc.encode_descriptor(
            "logwire_listener_records_pending",
            "Records from a listener accepted and waiting for the outputs.",
            None,
            g.metric_type(),
        )?;
        for ((_, counts), l) in listeners.iter().zip(&labels) {
            ConstGauge::new(as_i64(counts.outcomes.pending)).encode(family.encode_family(l)?)?;
        }
        Ok(())
    }

    /// Records, bytes and errors per output: every handler of the current routing, read
    /// through [`logwire_engine::Handler::stats`]. A pushed or reloaded config replaces
    /// the handlers: the series of a handler that is gone are dropped (not kept at their
    /// last value), and a handler rebuilt under the same name starts again from 0, which
    /// Prometheus' `rate()` reads as a counter reset.
    fn encode_outputs(&self, enc: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let snapshot = self.tree.snapshot();
        let handlers = snapshot.all_handlers();
        // A handler without a name is labelled by its kind and place, so two of them never
        // make one series twice (an invalid exposition).
        let labels: Vec<[(&str, String); 2]> = handlers
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let name = h
                    .name()
                    .map_or_else(|| format!("{}#{i}", h.kind()), str::to_owned);
                [("output", name), ("kind", h.kind().to_owned())]
            })
            .collect();
        // One snapshot per handler, so that a scrape's records, bytes and errors of an
        // output are read together.
        let stats: Vec<logwire_engine::HandlerStats> = handlers.iter().map(|h| h.stats()).collect();
        type Get = fn(&logwire_engine::HandlerStats) -> Option<u64>;
        let families: [(&str, &str, Get); 3] = [
            (
                "logwire_output_records",
                "Records given to an output (a handler of the routing) after its filters.",
                |s| Some(s.records),
            ),
            (
                "logwire_output_bytes",
                "Bytes an output emitted (lines written, for the kinds that count them).",
                |s| s.bytes,
            ),
            (
                "logwire_output_errors",
                "Handler errors of an output (failed emits, flushes, syncs).",
                |s| Some(s.errors),
            ),
        ];
        for (metric, help, get) in families {
            let c = ConstCounter::new(0u64);
            let mut family = enc.encode_descriptor(metric, help, None, c.metric_type())?;
            for (s, l) in stats.iter().zip(&labels) {
                // A kind that does not count bytes has no bytes series (not a false 0).
                if let Some(n) = get(s) {
                    ConstCounter::new(n).encode(family.encode_family(l)?)?;
                }
            }
        }
        Ok(())
    }
}

/// The OpenMetrics exposition now (what `/metrics` answers a scraper that asks for it).
pub(crate) fn render(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail, and our collector returns errors only from it.
    let _ = prometheus_client::encoding::text::encode(&mut out, registry);
    out
}

/// The same exposition in Prometheus' older text format (0.0.4), for readers that know only
/// that one (`promtool check metrics`, scripts). The two differ, for what we expose, in two
/// ways: OpenMetrics names a counter family without the `_total` its samples carry (the old
/// format wants the samples' name in `# HELP`/`# TYPE`), and it ends with `# EOF`.
pub(crate) fn to_prometheus_text(open_metrics: &str) -> String {
    let mut counters = std::collections::HashSet::new();
    for line in open_metrics.lines() {
        if let Some(name) = line
            .strip_prefix("# TYPE ")
            .and_then(|rest| rest.strip_suffix(" counter"))
        {
            counters.insert(name.to_owned());
        }
    }
    let mut out = String::with_capacity(open_metrics.len() + 64 * counters.len());
    for line in open_metrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match meta {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                if counters.contains(name) {
                    out.push_str(&format!("{prefix}{name}_total {tail}"));
                } else {
                    out.push_str(line);
                }
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Whether a request head asks for OpenMetrics (Prometheus' scraper does).
fn wants_open_metrics(head: &str) -> bool {
    head.lines().any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("accept") && v.contains("application/openmetrics-text")
        })
    })
}

/// A registry holding `sources`.
pub(crate) fn registry(sources: Sources) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(sources));
    registry
}

/// Serves `/metrics` and `/health` on `listener` until the task is aborted.
pub(crate) async fn serve_http(listener: TcpListener, registry: Arc<Mutex<Registry>>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT));
    loop {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let Ok((stream, _)) = listener.accept().await else {
            // EMFILE and friends: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let registry = Arc::clone(&registry);
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tokio::time::timeout(HEAD_TIMEOUT, answer(stream, &registry)).await;
        });
    }
}

async fn answer(mut stream: TcpStream, registry: &Mutex<Registry>) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_HEAD {
            return respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                "request head too large\n",
            )
            .await;
        }
    }
    let head = String::from_utf8_lossy(&head);
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/metrics") => {
            let body = render(&registry.lock().unwrap_or_else(|e| e.into_inner()));
            if wants_open_metrics(&head) {
                let kind = "application/openmetrics-text; version=1.0.0; charset=utf-8";
                respond(&mut stream, "200 OK", kind, &body).await
            } else {
                let kind = "text/plain; version=0.0.4; charset=utf-8";
                respond(&mut stream, "200 OK", kind, &to_prometheus_text(&body)).await
            }
        }
        ("GET", "/health") => respond(&mut stream, "200 OK", "text/plain", "ok\n").await,
        ("GET", _) => {
            respond(
                &mut stream,
                "404 Not Found",
                "text/plain",
                "not found: try /metrics or /health\n",
            )
            .await
        }
        _ => {
            respond(
                &mut stream,
                "405 Method Not Allowed",
                "text/plain",
                "only GET\n",
            )
            .await
        }
    }
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &str,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_reject_reasons_are_classified() {
        for (text, want) in [
            (
                "unsigned config refused: this listener only accepts signed LWC1 configs",
                "unsigned",
            ),
            ("bad signature", "bad_signature"),
            ("unknown key id 0011223344556677", "bad_signature"),
            ("expired at 5 (listener's clock is 9)", "expired"),
            ("addressed to audience a, this listener is b", "audience"),
            (
                "seq 3 is not greater than the last applied seq 7 for key 00",
                "replay",
            ),
            (
                "truncated frame: the connection ended after 3 of 9 bytes",
                "truncated",
            ),
            (
                "body deadline passed: 0 of 9 bytes arrived within 30s",
                "timed_out",
            ),
            ("empty config", "empty"),
            (
                "handlers.h: unknown handler class 'os.system'",
                "invalid_config",
            ),
        ] {
            assert_eq!(classify_push_reject(text), want, "{text}");
        }
    }
}
