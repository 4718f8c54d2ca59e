//! [`SMTPHandler`]: CPython's `logging.handlers.SMTPHandler` — one mail per record — with a
//! small bounded SMTP client and the [`DeliveryQueue`](super::deliver) in front of it.
//!
//! The contract is documented on [`SMTPHandler`], the public face of this module.

use super::deliver::{DEFAULT_QUEUE_BYTES, Deliver, InvalidArgument};
use super::deliver::{DeliveryQueue, DeliveryStats};
use super::tls_client::{Stream, TlsClientConfig, arm, connect_tcp};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use logwire_engine::{Emitter, Formatter, HandlerError, LogRecord};
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// CPython's `smtplib.SMTP_PORT`.
pub const SMTP_PORT: u16 = 25;
/// The longest reply line read (RFC 5321 § 4.5.3.1.5 says 512 with CRLF; some servers
/// send longer texts, so twice that).
pub const MAX_REPLY_LINE: usize = 1024;
/// The most lines in one (multi-line) reply.
pub const MAX_REPLY_LINES: usize = 100;
/// CPython's email policy `max_line_length`, for header folding and the body encoding.
const MAX_LINE_LENGTH: usize = 78;

/// Username and password for SMTP AUTH or HTTP Basic.
#[derive(Clone)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password.
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Options of [`SMTPHandler`] beyond its addresses and subject.
#[derive(Clone, Debug)]
pub struct SmtpOptions {
    /// CPython's `credentials=(username, password)`: AUTH after EHLO (and STARTTLS).
    pub credentials: Option<Credentials>,
    /// CPython's `secure` (an empty tuple): STARTTLS with these roots.
    pub secure: Option<TlsClientConfig>,
    /// CPython's `timeout`: every socket operation at most this long.
    pub timeout: Duration,
    /// The whole SMTP session at most this long.
    pub session_timeout: Duration,
    /// Bytes of queued mails at most.
    pub queue_bytes: usize,
    /// How long `flush()` waits for delivery.
    pub flush_timeout: Duration,
    /// How long `close()` waits for delivery.
    pub close_timeout: Duration,
    /// The name sent with EHLO (CPython: `socket.getfqdn()`).
    pub local_hostname: String,
}

impl Default for SmtpOptions {
    fn default() -> Self {
        SmtpOptions {
            credentials: None,
            secure: None,
            timeout: Duration::from_secs(5),
            session_timeout: Duration::from_secs(30),
            queue_bytes: DEFAULT_QUEUE_BYTES,
            flush_timeout: Duration::from_secs(5),
            close_timeout: Duration::from_secs(30),
            local_hostname: "localhost".into(),
        }
    }
}

/// CPython's `logging.handlers.SMTPHandler`.
///
/// The message is built as CPython's `emit` builds it (`EmailMessage` with `From`, `To`
/// (`','.join(toaddrs)`), `Subject` ([`SMTPHandler::get_subject`]), `Date` (local time),
/// then `set_content(self.format(record))`), and sent as `smtplib.send_message` sends it:
/// CRLF line ends, `MAIL FROM:<from> size=N` when the server offers `SIZE`, one `RCPT TO`
/// per address, `DATA` with leading dots doubled, `QUIT`.
///
/// The client (`SmtpClient`): EHLO (HELO if refused), STARTTLS when `secure` is given,
/// AUTH PLAIN or LOGIN when `credentials` are given, MAIL/RCPT/DATA, QUIT. Budgets, so that a
/// hostile or stuck server costs bounded time and memory:
/// * every reply line at most [`MAX_REPLY_LINE`] bytes (RFC 5321 allows 512), a reply at
///   most [`MAX_REPLY_LINES`] lines;
/// * every socket operation at most `timeout` (CPython's parameter, 5 s), and the whole
///   session at most `session_timeout` (30 s by default), whatever the server trickles;
/// * bytes after the `220` reply to STARTTLS are refused (the STARTTLS injection attack).
///
/// Differences from CPython, each safer: `secure` starts TLS even without credentials (CPython
/// silently ignores `secure` then and sends in plain text); the server must offer STARTTLS
/// when `secure` is given; CRAM-MD5 is not offered (PLAIN or LOGIN are); a record is never
/// sent from the logging call itself (the delivery queue, [`DeliveryStats`](crate::DeliveryStats)).
pub struct SMTPHandler {
    client: Arc<SmtpClient>,
    subject: String,
    queue: DeliveryQueue,
}

impl std::fmt::Debug for SMTPHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SMTPHandler")
            .field("mailhost", &self.client.host)
            .field("mailport", &self.client.port)
            .field("toaddrs", &self.client.toaddrs)
            .finish_non_exhaustive()
    }
}

/// What CPython's `EmailMessage` and `smtplib` refuse in the fields a mail is built from:
/// envelope addresses that are not plain ASCII `local@domain`, no recipient, a line break in a
/// header value (it would inject headers). Run when a config is checked and when the handler
/// is built, so `logwire check` and the listener give the same verdict.
pub(crate) fn check_message_fields(
    fromaddr: &str,
    toaddrs: &[String],
    subject: &str,
) -> Result<(), InvalidArgument> {
    for a in std::iter::once(fromaddr).chain(toaddrs.iter().map(String::as_str)) {
        check_envelope_address(&address_of(a))?;
    }
    if toaddrs.is_empty() {
        return Err("toaddrs is empty: a mail needs at least one recipient".into());
    }
    if std::iter::once(subject)
        .chain(std::iter::once(fromaddr))
        .chain(toaddrs.iter().map(String::as_str))
        .any(|v| v.contains(['\r', '\n']))
    {
        return Err("a header value (subject, fromaddr or toaddrs) contains a line break".into());
    }
    Ok(())
}

impl SMTPHandler {
    /// CPython's `SMTPHandler(mailhost, fromaddr, toaddrs, subject, credentials, secure,
    /// timeout)`, with `mailhost` split into host and port (`None`: port 25) and the rest in
    /// `options`. Nothing is connected yet.
    pub fn new(
        host: impl Into<String>,
        port: Option<u16>,
        fromaddr: impl Into<String>,
        toaddrs: Vec<String>,
        subject: impl Into<String>,
        options: SmtpOptions,
    ) -> Result<Self, InvalidArgument> {
        let fromaddr = fromaddr.into();
        let subject = subject.into();
        check_message_fields(&fromaddr, &toaddrs, &subject)?;
        let from_envelope = address_of(&fromaddr);
        let envelope_to: Vec<String> = toaddrs.iter().map(|a| address_of(a)).collect();
        let client = Arc::new(SmtpClient {
            host: host.into(),
            port: port.unwrap_or(SMTP_PORT),
            fromaddr,
            toaddrs,
            from_envelope,
            envelope_to,
            options: options.clone(),
        });
        let queue = DeliveryQueue::new(
            "logging.handlers.SMTPHandler",
            Arc::clone(&client) as Arc<dyn Deliver>,
            options.queue_bytes,
            options.flush_timeout,
            options.close_timeout,
        );
        Ok(SMTPHandler {
            client,
            subject,
            queue,
        })
    }

    /// CPython's `getSubject(record)`: the configured subject.
    pub fn get_subject(&self, _record: &LogRecord) -> &str {
        &self.subject
    }

    /// The message `emit` sends for a record formatted as `body`, with CRLF line ends and
    /// `date` as the `Date` header (before dot-stuffing).
    pub fn build_message(&self, record: &LogRecord, body: &str, date: &str) -> Vec<u8> {
        build_message(
            &self.client.fromaddr,
            &self.client.toaddrs.join(","),
            self.get_subject(record),
            date,
            body,
        )
    }

    /// Counters: queued, delivered, failed, refused …
    pub fn stats(&self) -> DeliveryStats {
        self.queue.stats()
    }
}

impl Emitter for SMTPHandler {
    fn emit(&self, record: &LogRecord, formatter: &Formatter) -> Result<(), HandlerError> {
        let body = formatter.try_format(record)?;
        let payload = self.build_message(record, &body, &local_date());
        self.queue.submit(payload, record)
    }

    fn flush(&self) -> Result<(), HandlerError> {
        self.queue.flush_handler()
    }

    fn close(&self) {
        self.queue.close();
    }

    fn kind(&self) -> &'static str {
        "logging.handlers.SMTPHandler"
    }
}

/// `email.utils.localtime()` as `format_datetime` writes it: `Mon, 07 Dec 2026 14:40:58 +0100`.
fn local_date() -> String {
    jiff::Zoned::now()
        .strftime("%a, %d %b %Y %H:%M:%S %z")
        .to_string()
}

/// The address of `Name <addr>`, or the text itself trimmed (`email.utils.getaddresses`,
/// for the plain forms a config names).
fn address_of(text: &str) -> String {
    let t = text.trim();
    match (t.rfind('<'), t.rfind('>')) {
        (Some(a), Some(b)) if a < b => t[a + 1..b].trim().to_owned(),
        _ => t.to_owned(),
    }
}

fn check_envelope_address(a: &str) -> Result<(), String> {
    if a.is_empty() {
        return Err("an empty mail address".into());
    }
    if !a.is_ascii() {
        // smtplib needs the server's SMTPUTF8 then; not supported here.
        return Err(format!(
            "mail address {a:?} is not ASCII (SMTPUTF8 is not supported)"
        ));
    }
    if a.bytes()
        .any(|b| b.is_ascii_control() || b == b' ' || b == b'<' || b == b'>')
    {
        return Err(format!(
            "mail address {a:?} contains a space, control character or angle bracket"
        ));
    }
    Ok(())
}

/// The flattened `EmailMessage` of CPython's `SMTPHandler.emit`, CRLF line ends.
fn build_message(from: &str, to: &str, subject: &str, date: &str, body: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 256);
    header(&mut out, "From", from);
    header(&mut out, "To", to);
    header(&mut out, "Subject", subject);
    header(&mut out, "Date", date);
    let (cte, encoded) = encode_body(body);
    out.extend_from_slice(b"Content-Type: text/plain; charset=\"utf-8\"\r\n");
    out.extend_from_slice(format!("Content-Transfer-Encoding: {cte}\r\n").as_bytes());
    out.extend_from_slice(b"MIME-Version: 1.0\r\n\r\n");
    out.extend_from_slice(&encoded);
    out
}

/// One header, folded at spaces past 78 characters as the email policy folds plain words;
/// a non-ASCII value as [`encode_non_ascii`] writes it.
fn header(out: &mut Vec<u8>, name: &str, value: &str) {
    let value = if value.is_ascii() {
        value.to_owned()
    } else {
        encode_non_ascii(value)
    };
    let mut line = format!("{name}:");
    let mut first = true;
    for word in value.split(' ') {
        let sep = " ";
        if !first && line.len() + sep.len() + word.len() > MAX_LINE_LENGTH {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
            line = String::new();
        }
        line.push_str(sep);
        line.push_str(word);
        first = false;
    }
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// How the email policy writes a non-ASCII unstructured value: the span from the first to
/// the last whitespace-separated word holding non-ASCII characters becomes one RFC 2047
/// encoded word (the words around it stay as they are). A span too long for one encoded
/// word is cut into several Q words (CPython cuts it differently: same text, other bytes).
fn encode_non_ascii(value: &str) -> String {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in value.char_indices() {
        match (c == ' ' || c == '\t', start) {
            (true, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, value.len()));
    }
    let non_ascii = |&&(s, e): &&(usize, usize)| !value[s..e].is_ascii();
    let (Some(&(first, _)), Some(&(_, last))) = (
        spans.iter().find(non_ascii),
        spans.iter().rev().find(non_ascii),
    ) else {
        return value.to_owned();
    };
    let run = &value[first..last];
    let ew = encoded_word(run);
    let ew = if ew.len() > 75 {
        encoded_words(run)
    } else {
        ew
    };
    format!("{}{ew}{}", &value[..first], &value[last..])
}

/// `email._encoded_words.encode(text, 'utf-8')`: Q unless it is at least 5 characters
/// longer than base64.
fn encoded_word(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut q = String::new();
    for &b in bytes {
        q_byte(b, &mut q);
    }
    let b_len = bytes.len().div_ceil(3) * 4;
    if q.len() < b_len + 5 {
        format!("=?utf-8?q?{q}?=")
    } else {
        format!("=?utf-8?b?{}?=", B64.encode(bytes))
    }
}

/// One byte in RFC 2047 Q form as `email._encoded_words` writes it.
fn q_byte(b: u8, out: &mut String) {
    match b {
        b' ' => out.push('_'),
        b'-' | b'!' | b'*' | b'+' | b'/' => out.push(b as char),
        _ if b.is_ascii_alphanumeric() => out.push(b as char),
        _ => out.push_str(&format!("={b:02X}")),
    }
}

/// RFC 2047 Q-encoded words, each at most 75 characters (never cutting a character).
fn encoded_words(value: &str) -> String {
    let mut words = Vec::new();
    let mut cur = String::new();
    for ch in value.chars() {
        let mut enc = String::new();
        let mut buf = [0u8; 4];
        for &b in ch.encode_utf8(&mut buf).as_bytes() {
            q_byte(b, &mut enc);
        }
        if "=?utf-8?q?".len() + cur.len() + enc.len() + 2 > 75 {
            words.push(std::mem::take(&mut cur));
        }
        cur.push_str(&enc);
    }
    words.push(cur);
    words
        .iter()
        .map(|w| format!("=?utf-8?q?{w}?="))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `set_content(text)`'s choice (`email.contentmanager._encode_text`): `7bit` when ASCII and
/// no line is longer than 78 bytes, `8bit` when only non-ASCII; otherwise the shorter of
/// quoted-printable and base64 on a sniff of the first 10 lines. CRLF line ends.
fn encode_body(body: &str) -> (&'static str, Vec<u8>) {
    let lines: Vec<&[u8]> = split_lines(body).into_iter().map(str::as_bytes).collect();
    let joined = |lines: &[&[u8]]| {
        let mut out = Vec::new();
        for l in lines {
            out.extend_from_slice(l);
            out.push(b'\n');
        }
        out
    };
    let longest = lines.iter().map(|l| l.len()).max().unwrap_or(0);
    let (cte, text): (&'static str, Vec<u8>) = if longest <= MAX_LINE_LENGTH {
        (
            if body.is_ascii() { "7bit" } else { "8bit" },
            joined(&lines),
        )
    } else {
        let sniff = joined(&lines[..lines.len().min(10)]);
        let sniff_qp = qp_body_encode(&sniff, MAX_LINE_LENGTH);
        // binascii.b2a_base64 of the sniff: one line, with its newline.
        let sniff_b64_len = sniff.len().div_ceil(3) * 4 + 1;
        if sniff_qp.len() > sniff_b64_len {
            let data = joined(&lines);
            // `_encode_base64`: 57 bytes (78 // 4 * 3) per encoded line.
            let mut out = Vec::with_capacity(data.len() / 57 * 78 + 80);
            for chunk in data.chunks(MAX_LINE_LENGTH / 4 * 3) {
                out.extend_from_slice(B64.encode(chunk).as_bytes());
                out.push(b'\n');
            }
            ("base64", out)
        } else if lines.len() <= 10 {
            ("quoted-printable", sniff_qp.into_bytes())
        } else {
            (
                "quoted-printable",
                qp_body_encode(&joined(&lines), MAX_LINE_LENGTH).into_bytes(),
            )
        }
    };
    let mut out = Vec::with_capacity(text.len() + text.len() / 40);
    for &b in &text {
        if b == b'\n' {
            out.extend_from_slice(b"\r\n");
        } else {
            out.push(b);
        }
    }
    (cte, out)
}

/// `email.quoprimime.body_encode(data.decode('latin-1'), maxlinelen)` with `\n` line ends:
/// bytes outside `\t`, space … `~` (except `=`) become `=XX`, lines are wrapped with soft
/// breaks, and a line's trailing space or tab is quoted — the same steps, in the same order.
fn qp_body_encode(data: &[u8], maxlinelen: usize) -> String {
    if data.is_empty() {
        return String::new();
    }
    let mut body = String::with_capacity(data.len() * 2);
    for &b in data {
        let keep =
            b == b'\t' || b == b'\n' || b == b'\r' || ((b' '..=b'~').contains(&b) && b != b'=');
        if keep {
            body.push(b as char);
        } else {
            body.push_str(&format!("={b:02X}"));
        }
    }
    let quote = |c: char| format!("={:02X}", c as u32);
    let maxlinelen1 = maxlinelen - 1;
    let mut encoded: Vec<String> = Vec::new();
    // Everything in `body` is ASCII now, so byte indexes are character indexes.
    for line in split_lines(&body) {
        let b = line.as_bytes();
        let mut start: isize = 0;
        let laststart = b.len() as isize - 1 - maxlinelen as isize;
        while start <= laststart {
            let stop = (start + maxlinelen1 as isize) as usize;
            let st = start as usize;
            if b[stop - 2] == b'=' {
                encoded.push(line[st..stop - 1].to_owned());
                start = stop as isize - 2;
            } else if b[stop - 1] == b'=' {
                encoded.push(line[st..stop].to_owned());
                start = stop as isize - 1;
            } else {
                encoded.push(format!("{}=", &line[st..stop]));
                start = stop as isize;
            }
        }
        let st = start as usize;
        match b.last() {
            Some(&last @ (b' ' | b'\t')) => {
                let room = start - laststart;
                let c = last as char;
                let q = if room >= 3 {
                    quote(c)
                } else if room == 2 {
                    format!("{c}=\n")
                } else {
                    format!("=\n{}", quote(c))
                };
                encoded.push(format!("{}{q}", &line[st..line.len() - 1]));
            }
            _ => encoded.push(line[st..].to_owned()),
        }
    }
    if matches!(data.last(), Some(b'\r' | b'\n')) {
        encoded.push(String::new());
    }
    encoded.join("\n")
}

/// Python's `str.splitlines()` for the line breaks text has (`\r\n`, `\n`, `\r`).
fn split_lines(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        match rest.find(['\r', '\n']) {
            None => {
                out.push(rest);
                break;
            }
            Some(i) => {
                out.push(&rest[..i]);
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
            }
        }
    }
    out
}

/// smtplib's `_quote_periods` and its ending: leading dots doubled, `.` line appended.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 16);
    let mut at_line_start = true;
    for &b in message {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// The SMTP client: one session per message.
pub(crate) struct SmtpClient {
    host: String,
    port: u16,
    fromaddr: String,
    toaddrs: Vec<String>,
    from_envelope: String,
    envelope_to: Vec<String>,
    options: SmtpOptions,
}

impl Deliver for SmtpClient {
    fn deliver(&self, payload: &[u8]) -> Result<(), String> {
        let deadline = Instant::now() + self.options.session_timeout;
        let r = self.session(payload, deadline);
        r.map_err(|e| format!("SMTP {}:{}: {e}", self.host, self.port))
    }
}

/// One reply: its code and text lines.
struct Reply {
    code: u16,
    lines: Vec<String>,
}

impl Reply {
    fn text(&self) -> String {
        self.lines.join(" / ")
    }
}

/// A connection with a bounded line reader.
struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    deadline: Instant,
    per_op: Duration,
}

impl Conn {
    fn arm(&self) -> Result<(), String> {
        arm(self.stream.tcp(), self.deadline, self.per_op)
            .map_err(|e| format!("session deadline: {e}"))
    }

    fn read_line(&mut self) -> Result<String, String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                if i + 1 > MAX_REPLY_LINE {
                    return Err(format!("reply line longer than {MAX_REPLY_LINE} bytes"));
                }
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            if self.buf.len() > MAX_REPLY_LINE {
                return Err(format!("reply line longer than {MAX_REPLY_LINE} bytes"));
            }
            self.arm()?;
            let mut chunk = [0u8; 2048];
            let n = match self.stream.read(&mut chunk) {
                Ok(n) => n,
                Err(e) if is_timeout(&e) => {
                    return Err(format!("no reply within the timeout ({e})"));
                }
                Err(e) => return Err(format!("reading a reply: {e}")),
            };
            if n == 0 {
                return Err("connection closed in the middle of a reply".into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn reply(&mut self) -> Result<Reply, String> {
        let mut lines = Vec::new();
        loop {
            let line = self.read_line()?;
            let bytes = line.as_bytes();
            let code = match line.get(..3).and_then(|c| c.parse::<u16>().ok()) {
                Some(c) if (200..600).contains(&c) || (100..200).contains(&c) => c,
                _ => return Err(format!("not an SMTP reply: {:?}", truncate(&line))),
            };
            let more = bytes.get(3) == Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").to_owned());
            if !more {
                return Ok(Reply { code, lines });
            }
            if lines.len() >= MAX_REPLY_LINES {
                return Err(format!("reply of more than {MAX_REPLY_LINES} lines"));
            }
        }
    }

    fn send(&mut self, data: &[u8]) -> Result<(), String> {
        for chunk in data.chunks(16 * 1024) {
            self.arm()?;
            self.stream
                .write_all(chunk)
                .map_err(|e| format!("sending: {e}"))?;
        }
        self.stream.flush().map_err(|e| format!("sending: {e}"))
    }

    fn command(&mut self, cmd: &str, ok: &[u16], what: &str) -> Result<Reply, String> {
        self.send(format!("{cmd}\r\n").as_bytes())?;
        let r = self.reply()?;
        if ok.contains(&r.code) {
            Ok(r)
        } else {
            Err(format!(
                "{what} refused: {} {}",
                r.code,
                truncate(&r.text())
            ))
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

fn truncate(s: &str) -> String {
    if s.len() <= 200 {
        s.to_owned()
    } else {
        let mut end = 200;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    }
}

/// The ESMTP keywords of an EHLO reply (first word of each line after the greeting),
/// upper-cased, with their parameters.
fn capabilities(r: &Reply) -> Vec<(String, String)> {
    r.lines
        .iter()
        .skip(1)
        .map(|l| {
            let mut it = l.splitn(2, [' ', '=']);
            let k = it.next().unwrap_or("").to_ascii_uppercase();
            (k, it.next().unwrap_or("").to_ascii_uppercase())
        })
        .collect()
}

impl SmtpClient {
    fn ehlo(&self, conn: &mut Conn) -> Result<Option<Vec<(String, String)>>, String> {
        let name = &self.options.local_hostname;
        conn.send(format!("EHLO {name}\r\n").as_bytes())?;
        let r = conn.reply()?;
        if r.code == 250 {
            return Ok(Some(capabilities(&r)));
        }
        conn.command(&format!("HELO {name}"), &[250], "HELO")?;
        Ok(None)
    }

    fn session(&self, payload: &[u8], deadline: Instant) -> Result<(), String> {
        let tcp =
            connect_tcp(&self.host, self.port, deadline).map_err(|e| format!("connect: {e}"))?;
        let mut conn = Conn {
            stream: Stream::Plain(tcp),
            buf: Vec::new(),
            deadline,
            per_op: self.options.timeout,
        };
        let greeting = conn.reply()?;
        if greeting.code != 220 {
            return Err(format!(
                "greeting {} {}",
                greeting.code,
                truncate(&greeting.text())
            ));
        }
        let mut caps = self.ehlo(&mut conn)?;
        if let Some(tls) = &self.options.secure {
            let offered = caps
                .as_ref()
                .is_some_and(|c| c.iter().any(|(k, _)| k == "STARTTLS"));
            if !offered {
                return Err("secure is set but the server does not offer STARTTLS".into());
            }
            conn.command("STARTTLS", &[220], "STARTTLS")?;
            if !conn.buf.is_empty() {
                // Anything here was sent before TLS and would be read as if it came after.
                return Err("server sent data after its STARTTLS reply (refused)".into());
            }
            let Stream::Plain(tcp) = conn.stream else {
                return Err("STARTTLS twice".into());
            };
            arm(&tcp, deadline, self.options.timeout)
                .map_err(|e| format!("session deadline: {e}"))?;
            conn.stream = Stream::Tls(
                tls.connect(&self.host, tcp)
                    .map_err(|e| format!("STARTTLS: {e}"))?,
            );
            caps = self.ehlo(&mut conn)?;
        }
        let caps = caps.unwrap_or_default();
        if let Some(c) = &self.options.credentials {
            self.login(&mut conn, &caps, c)?;
        }
        let mut mail = format!("MAIL FROM:<{}>", self.from_envelope);
        if caps.iter().any(|(k, _)| k == "SIZE") {
            mail.push_str(&format!(" size={}", payload.len()));
        }
        conn.command(&mail, &[250], "MAIL FROM")?;
        let mut accepted = 0;
        let mut refused = Vec::new();
        for to in &self.envelope_to {
            conn.send(format!("RCPT TO:<{to}>\r\n").as_bytes())?;
            let r = conn.reply()?;
            if r.code == 250 || r.code == 251 {
                accepted += 1;
            } else {
                refused.push(format!("{to}: {} {}", r.code, truncate(&r.text())));
            }
        }
        if accepted == 0 {
            let _ = conn.command("RSET", &[250], "RSET");
            return Err(format!("every recipient refused: {}", refused.join("; ")));
        }
        conn.command("DATA", &[354], "DATA")?;
        conn.send(&dot_stuff(payload))?;
        let r = conn.reply()?;
        if r.code != 250 {
            return Err(format!(
                "message refused: {} {}",
                r.code,
                truncate(&r.text())
            ));
        }
        // The mail is accepted; a failing QUIT does not undo that.
        let _ = conn.command("QUIT", &[221], "QUIT");
        if !refused.is_empty() {
            // smtplib returns the refused ones; CPython's handler ignores them. Say so.
            return Err(format!(
                "delivered, but some recipients were refused: {}",
                refused.join("; ")
            ));
        }
        Ok(())
    }

    fn login(
        &self,
        conn: &mut Conn,
        caps: &[(String, String)],
        c: &Credentials,
    ) -> Result<(), String> {
        let auth = caps
            .iter()
            .find(|(k, _)| k == "AUTH")
            .map(|(_, v)| v.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .ok_or("credentials are set but the server offers no AUTH")?;
        if auth.iter().any(|m| m == "PLAIN") {
            let token = B64.encode(format!("\0{}\0{}", c.username, c.password));
            conn.command(&format!("AUTH PLAIN {token}"), &[235], "AUTH PLAIN")?;
        } else if auth.iter().any(|m| m == "LOGIN") {
            conn.command("AUTH LOGIN", &[334], "AUTH LOGIN")?;
            conn.command(&B64.encode(&c.username), &[334], "AUTH LOGIN user")?;
            conn.command(&B64.encode(&c.password), &[235], "AUTH LOGIN")?;
        } else {
            return Err(format!(
                "no supported AUTH mechanism (PLAIN, LOGIN) among {}",
                auth.join(" ")
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_are_doubled_at_line_starts_only() {
        assert_eq!(
            dot_stuff(b".a\r\nb.c\r\n..d\r\n"),
            b"..a\r\nb.c\r\n...d\r\n.\r\n"
        );
        assert_eq!(dot_stuff(b"x"), b"x\r\n.\r\n");
    }

    #[test]
    fn long_ascii_lines_go_base64_and_short_ones_7bit() {
        assert_eq!(encode_body("a\nb").0, "7bit");
        assert_eq!(encode_body("é").0, "8bit");
        assert_eq!(encode_body(&"x".repeat(100)).0, "quoted-printable");
        assert_eq!(encode_body(&"é".repeat(60)).0, "base64");
    }

    #[test]
    fn addresses_in_angle_brackets_are_extracted() {
        assert_eq!(address_of("Ops <ops@example.org>"), "ops@example.org");
        assert_eq!(address_of(" a@b "), "a@b");
        assert!(check_envelope_address("a b@c").is_err());
    }

    #[test]
    fn non_ascii_subjects_encode_as_the_email_policy_does() {
        // Each expected value is what CPython's EmailMessage writes for the subject.
        for (subject, want) in [
            ("ü", "=?utf-8?q?=C3=BC?="),
            (
                "Fehler: ünd € im Dienst!",
                "Fehler: =?utf-8?b?w7xuZCDigqw=?= im Dienst!",
            ),
            ("a ü b ö c", "a =?utf-8?q?=C3=BC_b_=C3=B6?= c"),
            ("x ü, b: ö y", "x =?utf-8?b?w7wsIGI6IMO2?= y"),
            ("Fehler (ü) x", "Fehler =?utf-8?q?=28=C3=BC=29?= x"),
        ] {
            assert_eq!(encode_non_ascii(subject), want, "{subject}");
        }
    }

    #[test]
    fn line_breaks_in_headers_are_refused() {
        let mk = |to: &str, subject: &str| {
            SMTPHandler::new(
                "localhost",
                None,
                "a@b",
                vec![to.into()],
                subject,
                SmtpOptions::default(),
            )
        };
        assert!(mk("Ops\r\nBcc: x <c@d>", "s").is_err());
        assert!(mk("c@d", "s\nBcc: x@y").is_err());
        assert!(mk("c@d", "fine").is_ok());
    }
}
