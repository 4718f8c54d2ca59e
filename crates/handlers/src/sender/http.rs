//! [`HTTPHandler`]: CPython's `logging.handlers.HTTPHandler` — one request per record — with
//! a small bounded HTTP/1.1 client and the [`DeliveryQueue`](super::deliver) in front of it.
//!
//! The contract is documented on [`HTTPHandler`], the public face of this module.

use super::deliver::args_value;
use super::deliver::{DEFAULT_QUEUE_BYTES, Deliver, DeliveryQueue, DeliveryStats, InvalidArgument};
use super::encode::RecordLayout;
use super::smtp::Credentials;
use super::tls_client::{Stream, TlsClientConfig, arm, connect_tcp};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use logwire_engine::{Emitter, Formatter, HandlerError, LogRecord, Value};
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The most bytes of status line and headers read.
pub const MAX_RESPONSE_HEAD: usize = 64 * 1024;
/// The most header lines read.
pub const MAX_RESPONSE_HEADERS: usize = 100;

/// GET or POST (CPython refuses any other method).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpMethod {
    /// The record in the query string.
    Get,
    /// The record as a form body.
    Post,
}

impl HttpMethod {
    /// CPython's `method.upper()` check: `GET` or `POST`, any case.
    pub fn parse(s: &str) -> Result<Self, InvalidArgument> {
        match s.to_ascii_uppercase().as_str() {
            "GET" => Ok(HttpMethod::Get),
            "POST" => Ok(HttpMethod::Post),
            _ => Err("method must be GET or POST".into()),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
        }
    }
}

/// Options of [`HTTPHandler`] beyond `host`, `url` and `method`.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// CPython's `secure=True`: HTTPS with these roots.
    pub secure: Option<TlsClientConfig>,
    /// CPython's `credentials=(user, password)`: HTTP Basic.
    pub credentials: Option<Credentials>,
    /// Every socket operation at most this long.
    pub timeout: Duration,
    /// The whole exchange at most this long.
    pub session_timeout: Duration,
    /// Bytes of queued requests at most.
    pub queue_bytes: usize,
    /// How long `flush()` waits for delivery.
    pub flush_timeout: Duration,
    /// How long `close()` waits for delivery.
    pub close_timeout: Duration,
    /// Which Python's `__dict__` to reproduce (3.12+ records always carry `taskName`).
    pub layout: RecordLayout,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            secure: None,
            credentials: None,
            timeout: Duration::from_secs(5),
            session_timeout: Duration::from_secs(30),
            queue_bytes: DEFAULT_QUEUE_BYTES,
            flush_timeout: Duration::from_secs(5),
            close_timeout: Duration::from_secs(30),
            layout: RecordLayout::default(),
        }
    }
}

/// Why an `HTTPHandler` host is refused ([`split_host_port`]); the texts are CPython's
/// `http.client.InvalidURL` ones where it has one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HostPortError {
    /// The text after the last `:` is not a port.
    #[error("nonnumeric port: '{port}'")]
    NonNumericPort {
        /// The port as written.
        port: String,
    },
    /// Nothing before the port.
    #[error("host is empty")]
    EmptyHost,
}

impl From<HostPortError> for InvalidArgument {
    fn from(e: HostPortError) -> Self {
        InvalidArgument::from(e.to_string())
    }
}

/// CPython's `HTTPConnection(host)` parsing: `host`, `host:port`, `[v6]:port`; the port is
/// 80 (443 when secure) when absent. Returns (host to connect to, port).
pub fn split_host_port(host: &str, secure: bool) -> Result<(String, u16), HostPortError> {
    let default = if secure { 443 } else { 80 };
    let (h, p) = match (host.rfind(':'), host.rfind(']')) {
        (Some(i), close) if close.is_none_or(|c| i > c) => (&host[..i], Some(&host[i + 1..])),
        _ => (host, None),
    };
    let port = match p {
        None | Some("") => default,
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| HostPortError::NonNumericPort { port: p.to_owned() })?,
    };
    let h = h
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(h);
    if h.is_empty() {
        return Err(HostPortError::EmptyHost);
    }
    Ok((h.to_owned(), port))
}

/// CPython's `HTTPHandler`.
///
/// The request is CPython's: `data = urllib.parse.urlencode(record.__dict__)` (see
/// [`map_log_record`] and [`urlencode`]); GET appends it to `url` after `?` (or `&` when
/// `url` has a `?`), POST sends it as the body with `Content-type:
/// application/x-www-form-urlencoded` and `Content-length`; `credentials` add
/// `Authorization: Basic …`; `http.client` adds `Host` (with the port when it is not the
/// scheme's default) and `Accept-Encoding: identity`.
///
/// Budgets of the client: the status line and headers at most [`MAX_RESPONSE_HEAD`] bytes
/// and [`MAX_RESPONSE_HEADERS`] lines; every socket operation at most `timeout`, the whole
/// exchange at most `session_timeout`. The response body is not read (one connection per
/// request, closed after the head), so a huge or endless body costs nothing.
///
/// Differences from CPython, each explicit: the reply status is checked (CPython ignores it):
/// anything but 2xx is a counted, reported failure; `context` (an `ssl.SSLContext`, code) is
/// refused in configs — `secure` uses [`TlsClientConfig`] (Mozilla's roots, plus logwire's
/// `cafile`); the request is never made from the logging call itself.
pub struct HTTPHandler {
    client: Arc<HttpClient>,
    queue: DeliveryQueue,
}

impl std::fmt::Debug for HTTPHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HTTPHandler")
            .field("host", &self.client.host_arg)
            .field("url", &self.client.url)
            .field("method", &self.client.method)
            .finish_non_exhaustive()
    }
}

/// What `http.client` refuses in a request target (`InvalidURL`): a space or control
/// character in the URL or the host. Run when a config is checked and when the handler is
/// built, so `logwire check` and the listener give the same verdict.
pub(crate) fn check_request_target(host: &str, url: &str) -> Result<(), InvalidArgument> {
    if url.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(format!("URL {url:?} contains a space or control character").into());
    }
    if host.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(format!("host {host:?} contains a space or control character").into());
    }
    Ok(())
}

impl HTTPHandler {
    /// CPython's `HTTPHandler(host, url, method='GET', secure=False, credentials=None)`.
    pub fn new(
        host: impl Into<String>,
        url: impl Into<String>,
        method: HttpMethod,
        options: HttpOptions,
    ) -> Result<Self, InvalidArgument> {
        let host_arg = host.into();
        let url = url.into();
        let (connect_host, port) = split_host_port(&host_arg, options.secure.is_some())?;
        check_request_target(&host_arg, &url)?;
        let client = Arc::new(HttpClient {
            host_arg,
            connect_host,
            port,
            url,
            method,
            options: options.clone(),
        });
        let queue = DeliveryQueue::new(
            "logging.handlers.HTTPHandler",
            Arc::clone(&client) as Arc<dyn Deliver>,
            options.queue_bytes,
            options.flush_timeout,
            options.close_timeout,
        );
        Ok(HTTPHandler { client, queue })
    }

    /// The request bytes `emit` sends for `record` (head and body).
    pub fn build_request(&self, record: &LogRecord) -> Vec<u8> {
        self.client.request(&urlencode(&map_log_record(
            record,
            self.client.options.layout,
        )))
    }

    /// Counters: queued, delivered, failed, refused …
    pub fn stats(&self) -> DeliveryStats {
        self.queue.stats()
    }
}

impl Emitter for HTTPHandler {
    fn emit(&self, record: &LogRecord, _formatter: &Formatter) -> Result<(), HandlerError> {
        let payload = self.build_request(record);
        self.queue.submit(payload, record)
    }

    fn flush(&self) -> Result<(), HandlerError> {
        self.queue.flush_handler()
    }

    fn close(&self) {
        self.queue.close();
    }

    fn kind(&self) -> &'static str {
        "logging.handlers.HTTPHandler"
    }
}

/// CPython's `mapLogRecord(record)`: `record.__dict__` — the attributes `LogRecord.__init__`
/// sets, in its order (`msg` and `args` as logged, not merged; `exc_info` `None`, since
/// logwire keeps only the formatted `exc_text`), then the extras. Each value as `str()`
/// renders it, ready for [`urlencode`].
pub fn map_log_record(record: &LogRecord, layout: RecordLayout) -> Vec<(String, String)> {
    let opt = |s: &Option<String>| s.clone().unwrap_or_else(|| "None".into());
    let mut d = vec![
        ("name".into(), record.name.clone()),
        ("msg".into(), record.msg.clone()),
        ("args".into(), args_value(&record.args).py_str()),
        ("levelname".into(), record.levelname.clone()),
        ("levelno".into(), record.levelno.to_string()),
        ("pathname".into(), record.pathname.clone()),
        ("filename".into(), record.filename.clone()),
        ("module".into(), record.module.clone()),
        ("exc_info".into(), "None".into()),
        ("exc_text".into(), opt(&record.exc_text)),
        ("stack_info".into(), opt(&record.stack_info)),
        ("lineno".into(), record.lineno.to_string()),
        ("funcName".into(), opt(&record.func_name)),
        ("created".into(), Value::Float(record.created).py_str()),
        ("msecs".into(), Value::Float(record.msecs).py_str()),
        (
            "relativeCreated".into(),
            Value::Float(record.relative_created).py_str(),
        ),
        (
            "thread".into(),
            record.thread.map_or("None".into(), |t| t.to_string()),
        ),
        ("threadName".into(), opt(&record.thread_name)),
        ("processName".into(), opt(&record.process_name)),
        (
            "process".into(),
            record.process.map_or("None".into(), |p| p.to_string()),
        ),
    ];
    if layout.has_task_name() {
        d.push(("taskName".into(), opt(&record.task_name)));
    }
    for (k, v) in &record.extra {
        d.push((k.clone(), v.py_str()));
    }
    d
}

/// `urllib.parse.urlencode(pairs)`: `quote_plus` of each key and value (UTF-8; letters,
/// digits and `_.-~` kept, space as `+`), joined with `&`.
pub fn urlencode(pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        quote_plus(k, &mut out);
        out.push('=');
        quote_plus(v, &mut out);
    }
    out
}

fn quote_plus(s: &str, out: &mut String) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}

pub(crate) struct HttpClient {
    host_arg: String,
    connect_host: String,
    port: u16,
    url: String,
    method: HttpMethod,
    options: HttpOptions,
}

impl HttpClient {
    fn request(&self, data: &str) -> Vec<u8> {
        let mut url = self.url.clone();
        if self.method == HttpMethod::Get {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(data);
        }
        if url.is_empty() {
            url.push('/');
        }
        let default_port = if self.options.secure.is_some() {
            443
        } else {
            80
        };
        // http.client's Host: the host as given (IPv6 in brackets), with the port unless it
        // is the scheme's default.
        let host_hdr = {
            let h = if self.connect_host.contains(':') {
                format!("[{}]", self.connect_host)
            } else {
                self.connect_host.clone()
            };
            if self.port == default_port {
                h
            } else {
                format!("{h}:{}", self.port)
            }
        };
        let mut head = format!(
            "{} {url} HTTP/1.1\r\nHost: {host_hdr}\r\nAccept-Encoding: identity\r\n",
            self.method.as_str()
        );
        if self.method == HttpMethod::Post {
            head.push_str("Content-type: application/x-www-form-urlencoded\r\n");
            head.push_str(&format!("Content-length: {}\r\n", data.len()));
        }
        if let Some(c) = &self.options.credentials {
            let token = B64.encode(format!("{}:{}", c.username, c.password));
            head.push_str(&format!("Authorization: Basic {token}\r\n"));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        if self.method == HttpMethod::Post {
            out.extend_from_slice(data.as_bytes());
        }
        out
    }

    fn exchange(&self, request: &[u8], deadline: Instant) -> Result<(), String> {
        let per_op = self.options.timeout;
        let tcp = connect_tcp(&self.connect_host, self.port, deadline)
            .map_err(|e| format!("connect: {e}"))?;
        arm(&tcp, deadline, per_op).map_err(|e| format!("deadline: {e}"))?;
        let mut stream = match &self.options.secure {
            None => Stream::Plain(tcp),
            Some(tls) => Stream::Tls(
                tls.connect(&self.connect_host, tcp)
                    .map_err(|e| format!("TLS: {e}"))?,
            ),
        };
        for chunk in request.chunks(16 * 1024) {
            arm(stream.tcp(), deadline, per_op).map_err(|e| format!("deadline: {e}"))?;
            stream
                .write_all(chunk)
                .map_err(|e| format!("sending the request: {e}"))?;
        }
        stream
            .flush()
            .map_err(|e| format!("sending the request: {e}"))?;
        let head = read_head(&mut stream, deadline, per_op)?;
        let status_line = head.lines().next().unwrap_or("");
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        let code = parts.next().and_then(|c| c.parse::<u16>().ok());
        let (true, Some(code)) = (version.starts_with("HTTP/"), code) else {
            return Err(format!(
                "not an HTTP status line: {:?}",
                truncate(status_line)
            ));
        };
        if (200..300).contains(&code) {
            Ok(())
        } else {
            Err(format!("server answered {}", truncate(status_line)))
        }
    }
}

/// Reads the status line and headers, bounded in bytes, lines and time.
fn read_head(stream: &mut Stream, deadline: Instant, per_op: Duration) -> Result<String, String> {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            buf.truncate(end);
            let head = String::from_utf8_lossy(&buf).into_owned();
            if head.lines().count() > MAX_RESPONSE_HEADERS + 1 {
                return Err(format!(
                    "response has more than {MAX_RESPONSE_HEADERS} header lines"
                ));
            }
            return Ok(head);
        }
        if buf.len() > MAX_RESPONSE_HEAD {
            return Err(format!(
                "response head longer than {MAX_RESPONSE_HEAD} bytes"
            ));
        }
        arm(stream.tcp(), deadline, per_op).map_err(|e| format!("deadline: {e}"))?;
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!("no response within the timeout ({e})"));
            }
            Err(e) => return Err(format!("reading the response: {e}")),
        };
        if n == 0 {
            return Err("connection closed before the response head ended".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn truncate(s: &str) -> String {
    s.chars().take(200).collect()
}

impl Deliver for HttpClient {
    fn deliver(&self, payload: &[u8]) -> Result<(), String> {
        let deadline = Instant::now() + self.options.session_timeout;
        self.exchange(payload, deadline)
            .map_err(|e| format!("HTTP {}: {e}", self.host_arg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_plus_matches_python() {
        // urllib.parse.urlencode({'a b': 'x/y?z=é~'}) == 'a+b=x%2Fy%3Fz%3D%C3%A9~'
        let pairs = vec![("a b".to_owned(), "x/y?z=é~".to_owned())];
        assert_eq!(urlencode(&pairs), "a+b=x%2Fy%3Fz%3D%C3%A9~");
    }

    #[test]
    fn host_port_split_like_http_client() {
        assert_eq!(
            split_host_port("h:8080", false).unwrap(),
            ("h".into(), 8080)
        );
        assert_eq!(split_host_port("h", true).unwrap(), ("h".into(), 443));
        assert_eq!(
            split_host_port("[::1]:9", false).unwrap(),
            ("::1".into(), 9)
        );
        assert_eq!(
            split_host_port("h:x", false).unwrap_err().to_string(),
            "nonnumeric port: 'x'"
        );
        assert_eq!(split_host_port(":80", false), Err(HostPortError::EmptyHost));
        // HTTPHandler::new reports it as the constructor argument it refuses.
        let refused = HTTPHandler::new("[]", "/", HttpMethod::Get, HttpOptions::default());
        assert_eq!(
            refused.err().map(|e| e.to_string()).as_deref(),
            Some("host is empty")
        );
    }
}
