//! `SysLogHandler`: CPython's message format over UDP, TCP and Unix sockets, and RFC 5424.
//!
//! The contract is documented on [`SysLogHandler`], the public face of this module.

use crate::sender::buffer::{
    BufferPolicy, DEFAULT_BUFFER_CAPACITY, Framing, NoticeFn, SendError, SendStats, SenderConfig,
};
use crate::sender::{Backoff, BackoffError, Endpoint, NetSender};
use logwire_engine::{Emitter, Formatter, HandlerError, LogRecord};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// CPython's `SYSLOG_UDP_PORT` / `SYSLOG_TCP_PORT`.
pub const SYSLOG_PORT: u16 = 514;

/// `LOG_EMERG`.
pub const LOG_EMERG: u32 = 0;
/// `LOG_ALERT`.
pub const LOG_ALERT: u32 = 1;
/// `LOG_CRIT`.
pub const LOG_CRIT: u32 = 2;
/// `LOG_ERR`.
pub const LOG_ERR: u32 = 3;
/// `LOG_WARNING`.
pub const LOG_WARNING: u32 = 4;
/// `LOG_NOTICE`.
pub const LOG_NOTICE: u32 = 5;
/// `LOG_INFO`.
pub const LOG_INFO: u32 = 6;
/// `LOG_DEBUG`.
pub const LOG_DEBUG: u32 = 7;

/// `LOG_USER`, CPython's default facility.
pub const LOG_USER: u32 = 1;
/// `LOG_LOCAL0` (`local1` … `local7` follow: 17 … 23).
pub const LOG_LOCAL0: u32 = 16;

/// CPython's `SysLogHandler.facility_names`.
pub const FACILITY_NAMES: &[(&str, u32)] = &[
    ("auth", 4),
    ("authpriv", 10),
    ("console", 14),
    ("cron", 9),
    ("daemon", 3),
    ("ftp", 11),
    ("kern", 0),
    ("lpr", 6),
    ("mail", 2),
    ("news", 7),
    ("ntp", 12),
    ("security", 13),
    ("solaris-cron", 15),
    ("syslog", 5),
    ("user", 1),
    ("uucp", 8),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

/// CPython's `SysLogHandler.priority_names`.
pub const PRIORITY_NAMES: &[(&str, u32)] = &[
    ("alert", 1),
    ("crit", 2),
    ("critical", 2),
    ("debug", 7),
    ("emerg", 0),
    ("err", 3),
    ("error", 3),
    ("info", 6),
    ("notice", 5),
    ("panic", 0),
    ("warn", 4),
    ("warning", 4),
];

/// A facility by CPython name (`"local3"` → 19).
pub fn facility_from_name(name: &str) -> Option<u32> {
    FACILITY_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
}

/// A priority by CPython name (`"error"` → 3).
pub fn priority_from_name(name: &str) -> Option<u32> {
    PRIORITY_NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
}

/// CPython's `mapPriority(levelName)`: the syslog priority of a level name; names outside
/// `DEBUG INFO WARNING ERROR CRITICAL` are `warning`.
pub fn map_priority(level_name: &str) -> u32 {
    match level_name {
        "DEBUG" => LOG_DEBUG,
        "INFO" => LOG_INFO,
        "ERROR" => LOG_ERR,
        "CRITICAL" => LOG_CRIT,
        _ => LOG_WARNING,
    }
}

/// CPython's `encodePriority(facility, priority)`: `facility << 3 | priority`.
pub fn encode_priority(facility: u32, priority: u32) -> u32 {
    (facility << 3) | priority
}

/// Which message format to write.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyslogFormat {
    /// CPython's: `<PRI>` ident message, then a NUL byte if `append_nul`; no header, no TCP
    /// framing.
    #[default]
    Cpython,
    /// RFC 5424 with HOSTNAME, APP-NAME, PROCID; octet counting on TCP.
    Rfc5424,
}

/// How each record becomes syslog bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyslogMessage {
    /// The facility number.
    pub facility: u32,
    /// Prepended to the message (CPython's `ident`); CPython format only.
    pub ident: String,
    /// Append a NUL (CPython's `append_nul`, default true); CPython format only.
    pub append_nul: bool,
    /// The format.
    pub format: SyslogFormat,
    /// RFC 5424 HOSTNAME (`-` when unknown).
    pub hostname: String,
    /// RFC 5424 APP-NAME.
    pub app_name: String,
}

/// A field of an RFC 5424 header: printable US-ASCII without spaces, at most `max` bytes,
/// `-` when nothing is left.
fn header_field(s: &str, max: usize) -> String {
    let v: String = s
        .chars()
        .filter(|c| ('!'..='~').contains(c))
        .take(max)
        .collect();
    if v.is_empty() { "-".to_owned() } else { v }
}

/// This machine's host name, as the kernel reports it.
pub fn local_hostname() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    header_field(raw.trim(), 255)
}

fn default_app_name() -> String {
    let exe = std::env::args().next().unwrap_or_default();
    let base = exe.rsplit('/').next().unwrap_or("");
    header_field(base, 48)
}

/// `created` (Unix seconds) as an RFC 3339 UTC timestamp with microseconds.
///
/// ```
/// assert_eq!(logwire_handlers::rfc3339_micros(1_700_000_000.25), "2023-11-14T22:13:20.250000Z");
/// ```
pub fn rfc3339_micros(created: f64) -> String {
    let micros_total = (created * 1e6).round() as i64;
    let secs = micros_total.div_euclid(1_000_000);
    let micros = micros_total.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

impl SyslogMessage {
    /// CPython's format.
    pub fn cpython(facility: u32, ident: &str, append_nul: bool) -> Self {
        SyslogMessage {
            facility,
            ident: ident.to_owned(),
            append_nul,
            format: SyslogFormat::Cpython,
            hostname: local_hostname(),
            app_name: default_app_name(),
        }
    }

    /// RFC 5424, with this machine's host name and the program's name.
    pub fn rfc5424(facility: u32, app_name: Option<&str>) -> Self {
        SyslogMessage {
            facility,
            ident: String::new(),
            append_nul: false,
            format: SyslogFormat::Rfc5424,
            hostname: local_hostname(),
            app_name: app_name.map_or_else(default_app_name, |a| header_field(a, 48)),
        }
    }

    /// The bytes of one record, or the formatter's error (the handler then sends nothing
    /// for the record and reports it, as CPython's `SysLogHandler.emit` does).
    pub fn try_encode(
        &self,
        record: &LogRecord,
        formatter: &Formatter,
    ) -> Result<Vec<u8>, logwire_engine::FormatError> {
        let text = formatter.try_format(record)?;
        Ok(self.encode_text(&record.levelname, &text, record.created, record.process))
    }

    /// The bytes of one record (without TCP framing); a formatting error is rendered into
    /// the text (see `Formatter::format`).
    pub fn encode(&self, record: &LogRecord, formatter: &Formatter) -> Vec<u8> {
        self.encode_text(
            &record.levelname,
            &formatter.format(record),
            record.created,
            record.process,
        )
    }

    fn encode_text(&self, levelname: &str, text: &str, created: f64, pid: Option<u32>) -> Vec<u8> {
        let pri = encode_priority(self.facility, map_priority(levelname));
        let mut out = String::with_capacity(text.len() + 64);
        match self.format {
            SyslogFormat::Cpython => {
                out.push_str(&format!("<{pri}>"));
                out.push_str(&self.ident);
                out.push_str(text);
                if self.append_nul {
                    out.push('\0');
                }
            }
            SyslogFormat::Rfc5424 => {
                let procid = pid.map_or_else(|| "-".to_owned(), |p| p.to_string());
                out.push_str(&format!(
                    "<{pri}>1 {} {} {} {procid} - - ",
                    rfc3339_micros(created),
                    self.hostname,
                    self.app_name
                ));
                out.push_str(text);
            }
        }
        out.into_bytes()
    }
}

/// Where a `SysLogHandler` sends: CPython's `address`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyslogAddress {
    /// A `(host, port)` tuple.
    Inet(String, u16),
    /// A Unix socket path (`'/dev/log'`).
    Unix(PathBuf),
}

impl Default for SyslogAddress {
    /// CPython's default, `('localhost', SYSLOG_UDP_PORT)`.
    fn default() -> Self {
        SyslogAddress::Inet("localhost".into(), SYSLOG_PORT)
    }
}

/// CPython's `socktype`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SocketType {
    /// `socket.SOCK_STREAM` (1): TCP, or a Unix stream socket.
    Stream,
    /// `socket.SOCK_DGRAM` (2): UDP, or a Unix datagram socket.
    Dgram,
}

impl SocketType {
    /// From the Linux constant (`SOCK_STREAM` = 1, `SOCK_DGRAM` = 2).
    pub fn from_raw(v: i64) -> Option<Self> {
        match v {
            1 => Some(SocketType::Stream),
            2 => Some(SocketType::Dgram),
            _ => None,
        }
    }
}

/// Options of [`SysLogHandler`] beyond CPython's constructor.
#[derive(Clone, Debug)]
pub struct SyslogOptions {
    /// The message format (facility, ident, append_nul, RFC 5424 …).
    pub message: SyslogMessage,
    /// Records buffered while the daemon is away.
    pub capacity: usize,
    /// What a full buffer does.
    pub policy: BufferPolicy,
    /// The reconnect schedule.
    pub backoff: Backoff,
    /// Connect timeout per address.
    pub connect_timeout: Duration,
    /// A write that makes no progress for this long ends the connection.
    pub send_timeout: Duration,
    /// How long `flush()` waits.
    pub flush_timeout: Duration,
    /// How long `close()` waits for delivery.
    pub close_timeout: Duration,
}

impl Default for SyslogOptions {
    fn default() -> Self {
        SyslogOptions {
            message: SyslogMessage::cpython(LOG_USER, "", true),
            capacity: DEFAULT_BUFFER_CAPACITY,
            policy: BufferPolicy::Block,
            backoff: Backoff::default(),
            connect_timeout: Duration::from_secs(1),
            send_timeout: Duration::from_secs(10),
            flush_timeout: Duration::from_secs(5),
            close_timeout: Duration::from_secs(5),
        }
    }
}

/// CPython's `logging.handlers.SysLogHandler`, buffered.
///
/// CPython's wire bytes (what [`SyslogFormat::Cpython`] writes) are
/// `<PRI>` + ident + the formatted message + `\0` (when `append_nul`), UTF-8, with no
/// timestamp or hostname and no framing on TCP. `PRI = facility << 3 | priority`, the
/// priority coming from the level name through CPython's `mapPriority` (unknown levels are
/// `warning`).
///
/// [`SyslogFormat::Rfc5424`] writes `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - - MSG`
/// (RFC 3339 UTC timestamp with microseconds), octet-counted on TCP (RFC 6587
/// `MSG-LEN SP SYSLOG-MSG`), which rsyslog, syslog-ng and journald-remote parse reliably.
///
/// Like the other senders, records go through a bounded [`SendBuffer`](crate::SendBuffer)
/// and a background thread: the logging call never waits on the network, and a syslog
/// daemon that restarts does not cost records.
///
/// ```
/// use logwire_engine::{Formatter, LogRecord};
/// use logwire_handlers::{SyslogMessage, LOG_USER, encode_priority, map_priority};
///
/// // CPython's SysLogHandlerTest.test_output: ERROR from LOG_USER is <11>.
/// assert_eq!(encode_priority(LOG_USER, map_priority("ERROR")), 11);
/// let msg = SyslogMessage::cpython(LOG_USER, "", true);
/// let record = LogRecord::new("slh", 40, "x.py", 1, "späm");
/// assert_eq!(msg.encode(&record, &Formatter::default()), b"<11>sp\xc3\xa4m\x00");
/// ```
#[derive(Debug)]
pub struct SysLogHandler {
    sender: NetSender,
    message: SyslogMessage,
}

impl SysLogHandler {
    /// CPython's `SysLogHandler(address, facility, socktype)` with CPython's format
    /// (`append_nul` true, no ident).
    pub fn new(
        address: SyslogAddress,
        facility: u32,
        socktype: Option<SocketType>,
    ) -> Result<Self, SendError> {
        let options = SyslogOptions {
            message: SyslogMessage::cpython(facility, "", true),
            ..Default::default()
        };
        Self::with_options(address, socktype, options)
    }

    /// With logwire's options (the facility is `options.message.facility`).
    pub fn with_options(
        address: SyslogAddress,
        socktype: Option<SocketType>,
        options: SyslogOptions,
    ) -> Result<Self, SendError> {
        let endpoint = match (address, socktype) {
            (SyslogAddress::Inet(host, port), Some(SocketType::Stream)) => {
                Endpoint::Tcp { host, port }
            }
            (SyslogAddress::Inet(host, port), _) => Endpoint::Udp { host, port },
            (SyslogAddress::Unix(p), None) => Endpoint::UnixAny(p),
            (SyslogAddress::Unix(p), Some(SocketType::Dgram)) => Endpoint::UnixDatagram(p),
            (SyslogAddress::Unix(p), Some(SocketType::Stream)) => Endpoint::UnixStream(p),
        };
        let framing = match (&options.message.format, &endpoint) {
            (SyslogFormat::Rfc5424, Endpoint::Tcp { .. }) => Framing::OctetCounting,
            _ => Framing::None,
        };
        let notice_msg = options.message.clone();
        let notice: NoticeFn = Arc::new(move |n| {
            let text = format!("{n} records dropped (send buffer full)");
            Some(notice_msg.encode_text(
                "WARNING",
                &text,
                logwire_engine::now_secs(),
                Some(std::process::id()),
            ))
        });
        let config = SenderConfig {
            kind: "logging.handlers.SysLogHandler",
            endpoint,
            framing,
            signer: None,
            capacity: options.capacity,
            policy: options.policy,
            connect_timeout: options.connect_timeout,
            send_timeout: options.send_timeout,
            notice,
        };
        let sender = NetSender::start(
            config,
            options.backoff,
            options.flush_timeout,
            options.close_timeout,
        )?;
        Ok(SysLogHandler {
            sender,
            message: options.message,
        })
    }

    /// How records are written.
    pub fn message(&self) -> &SyslogMessage {
        &self.message
    }

    /// Counters (see [`SendStats`]).
    pub fn stats(&self) -> SendStats {
        self.sender.stats()
    }

    /// Where messages go.
    pub fn endpoint(&self) -> &Endpoint {
        self.sender.endpoint()
    }

    /// Replaces the reconnect settings.
    pub fn set_backoff(
        &self,
        retry_start: f64,
        retry_factor: f64,
        retry_max: f64,
    ) -> Result<(), BackoffError> {
        self.sender
            .backoff()
            .set(retry_start, retry_factor, retry_max)
    }
}

impl Emitter for SysLogHandler {
    fn emit(&self, record: &LogRecord, formatter: &Formatter) -> Result<(), HandlerError> {
        self.sender
            .push(self.message.try_encode(record, formatter)?)
            .map_err(|e| match e {
                SendError::Closed => HandlerError::Closed,
                other => HandlerError::Invalid(other.to_string()),
            })
    }

    fn flush(&self) -> Result<(), HandlerError> {
        self.sender
            .flush()
            .map_err(|e| HandlerError::Invalid(e.to_string()))
    }

    fn close(&self) {
        self.sender.close();
    }

    fn kind(&self) -> &'static str {
        "logging.handlers.SysLogHandler"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities_and_facilities_match_cpython() {
        assert_eq!(map_priority("WARNING"), 4);
        assert_eq!(map_priority("TRACE"), 4);
        assert_eq!(
            encode_priority(facility_from_name("local7").unwrap(), LOG_DEBUG),
            191
        );
        assert_eq!(facility_from_name("solaris-cron"), Some(15));
        assert_eq!(priority_from_name("panic"), Some(0));
        assert_eq!(facility_from_name("nope"), None);
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339_micros(0.0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339_micros(951_782_400.000_001),
            "2000-02-29T00:00:00.000001Z"
        );
        assert_eq!(
            rfc3339_micros(4_102_444_799.999_999),
            "2099-12-31T23:59:59.999999Z"
        );
    }

    #[test]
    fn rfc5424_header() {
        let mut m = SyslogMessage::rfc5424(LOG_LOCAL0, Some("my app"));
        m.hostname = "h1".into();
        let bytes = m.encode_text("ERROR", "boom", 0.5, Some(42));
        assert_eq!(
            bytes,
            b"<131>1 1970-01-01T00:00:00.500000Z h1 myapp 42 - - boom"
        );
    }
}
