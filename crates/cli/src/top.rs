//! `logwire top`: a running collector's metrics endpoint (`serve --metrics`), live in the
//! terminal: records per second in and out, rejects by reason, outputs, queue depth,
//! connections, config pushes.
//!
//! It scrapes `/metrics` (the Prometheus text format) every `--interval` and shows each
//! counter's total and its rate since the previous scrape: the collector's record counters,
//! then per listener what came in and what became of it (records received, stored and
//! rejected per second), per output records and bytes per second. The
//! terminal is restored however it ends (`q`, Esc, Ctrl-C, an error); an endpoint that does
//! not answer is shown as such and retried, never a crash.

use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Gauge, Paragraph, Row, Table};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Arguments of `logwire top`.
#[derive(clap::Args, Debug)]
#[command(after_help = TOP_EXAMPLES)]
pub(crate) struct TopArgs {
    /// The collector's metrics address (its `serve --metrics ADDR`).
    #[arg(value_name = "ADDR", default_value = "127.0.0.1:9102")]
    addr: String,
    /// Seconds between scrapes.
    #[arg(long, value_name = "SECONDS", default_value_t = 1.0)]
    interval: f64,
    /// Scrape twice (one interval apart), print the view once as text and exit: for scripts
    /// and for terminals that cannot take a full-screen program.
    #[arg(long)]
    once: bool,
}

const TOP_EXAMPLES: &str = "\
Examples:
  # A collector with metrics, and its live view (q or Esc quits)
  logwire serve --metrics 127.0.0.1:9102 &
  logwire top 127.0.0.1:9102

  # One snapshot as text (rates over 2 seconds)
  logwire top --once --interval 2";

/// One sample of the exposition: name, labels, value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

impl Sample {
    fn label(&self, key: &str) -> &str {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// Parses the Prometheus text format (what `/metrics` answers a plain GET). Lines it does
/// not understand are skipped: a newer collector may expose more.
pub(crate) fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = match line.rsplit_once(' ') {
            Some(p) => p,
            None => continue,
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, Vec::new()),
            Some((name, rest)) => (name, parse_labels(rest.trim_end_matches('}'))),
        };
        out.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    out
}

fn parse_labels(text: &str) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    let mut rest = text;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        value.push(if n == 'n' { '\n' } else { n });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        labels.push((key.trim_start_matches(',').trim().to_owned(), value));
        rest = &after[end..];
    }
    labels
}

/// Two scrapes and the time between them: totals and rates.
#[derive(Debug, Default)]
pub(crate) struct View {
    now: Vec<Sample>,
    before: Vec<Sample>,
    seconds: f64,
    error: Option<String>,
    addr: String,
}

impl View {
    fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
        samples
            .iter()
            .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == *v))
    }

    fn total(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        Self::find(&self.now, name, labels).map_or(0.0, |s| s.value)
    }

    /// Per second since the previous scrape (0 before there are two).
    fn rate(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let (Some(now), Some(before)) = (
            Self::find(&self.now, name, labels),
            Self::find(&self.before, name, labels),
        ) else {
            return 0.0;
        };
        if self.seconds <= 0.0 {
            return 0.0;
        }
        ((now.value - before.value) / self.seconds).max(0.0)
    }

    /// A view of two expositions taken `seconds` apart.
    pub(crate) fn of(addr: &str, before: &str, now: &str, seconds: f64) -> View {
        View {
            now: parse(now),
            before: parse(before),
            seconds,
            error: None,
            addr: addr.to_owned(),
        }
    }

    /// Draws the view into `area` of a frame.
    pub(crate) fn draw(&self, frame: &mut ratatui::Frame<'_>) {
        let area = frame.area();
        let bold = Style::default().add_modifier(Modifier::BOLD);
        let listeners: Vec<String> = self
            .now
            .iter()
            .filter(|s| s.name == "logwire_listener_info")
            .map(|s| format!("{} {}", s.label("kind"), s.label("address")))
            .collect();
        let header = match &self.error {
            Some(e) => format!("logwire top  {}  (q quits)  cannot scrape: {e}", self.addr),
            None => format!(
                "logwire top  {}  (q quits)  listeners: {}",
                self.addr,
                if listeners.is_empty() {
                    "-".to_owned()
                } else {
                    listeners.join(", ")
                }
            ),
        };
        let rejects: Vec<&Sample> = self
            .now
            .iter()
            .filter(|s| s.name == "logwire_records_rejected_total" && s.value > 0.0)
            .collect();
        let outputs: Vec<&Sample> = self
            .now
            .iter()
            .filter(|s| s.name == "logwire_output_records_total")
            .collect();
        let listener_rows: Vec<Row<'_>> = self
            .now
            .iter()
            .filter(|s| s.name == "logwire_listener_info")
            .map(|s| {
                let labels = [("kind", s.label("kind")), ("address", s.label("address"))];
                let (rejected, rejected_rate) =
                    self.sum_over("logwire_listener_records_rejected_total", &labels);
                Row::new(vec![
                    format!("{} {}", s.label("kind"), s.label("address")),
                    format!(
                        "{:.0}",
                        self.total("logwire_listener_connections_open", &labels)
                    ),
                    format!(
                        "{:.0}/s",
                        self.rate("logwire_listener_records_received_total", &labels)
                    ),
                    format!(
                        "{:.0}/s",
                        self.rate("logwire_listener_records_stored_total", &labels)
                    ),
                    format!("{rejected:.0}"),
                    format!("{rejected_rate:.0}/s"),
                    format!(
                        "{}/s",
                        human_bytes(self.rate("logwire_listener_received_bytes_total", &labels))
                    ),
                ])
            })
            .collect();
        let listeners_height = u16::try_from(listener_rows.len()).unwrap_or(8).min(8) + 3;
        let [head, records, queue, listeners_area, lower] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(10),
            Constraint::Length(3),
            Constraint::Length(listeners_height),
            Constraint::Min(4),
        ])
        .areas(area);
        frame.render_widget(Paragraph::new(Line::styled(header, bold)), head);

        let row = |label: &str, name: &str, gauge: bool| {
            let total = self.total(name, &[]);
            let rate = if gauge {
                String::new()
            } else {
                format!("{:.0}/s", self.rate(name, &[]))
            };
            Row::new(vec![label.to_owned(), format!("{total:.0}"), rate])
        };
        let record_rows = vec![
            row("received", "logwire_records_received_total", false),
            row("stored", "logwire_records_stored_total", false),
            {
                // A sum over the reasons, not one series.
                let (total, rate) = self.rejected_total();
                Row::new(vec![
                    "rejected".to_owned(),
                    format!("{total:.0}"),
                    format!("{rate:.0}/s"),
                ])
            },
            row("duplicates", "logwire_records_duplicates_total", false),
            row("dropped", "logwire_records_dropped_total", false),
            row("pending", "logwire_records_pending", true),
            row("connections open", "logwire_connections_open", true),
        ];
        let widths = [
            Constraint::Length(18),
            Constraint::Length(14),
            Constraint::Length(12),
        ];
        let [records_area, rejects_area] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(records);
        frame.render_widget(
            Table::new(record_rows, widths)
                .header(Row::new(vec!["records", "total", "rate"]).style(bold))
                .block(Block::bordered().title("Records (all listeners)")),
            records_area,
        );
        let reject_rows: Vec<Row<'_>> = rejects
            .iter()
            .map(|s| {
                let reason = s.label("reason");
                Row::new(vec![
                    reason.to_owned(),
                    format!("{:.0}", s.value),
                    format!(
                        "{:.0}/s",
                        self.rate("logwire_records_rejected_total", &[("reason", reason)])
                    ),
                ])
            })
            .collect();
        frame.render_widget(
            Table::new(reject_rows, widths)
                .header(Row::new(vec!["reason", "total", "rate"]).style(bold))
                .block(Block::bordered().title("Rejects by reason")),
            rejects_area,
        );

        let used = self.total("logwire_queue_bytes", &[]);
        let limit = self.total("logwire_queue_bytes_limit", &[]).max(1.0);
        frame.render_widget(
            Gauge::default()
                .block(Block::bordered().title("Queue"))
                .ratio((used / limit).clamp(0.0, 1.0))
                .label(format!(
                    "{} of {} queued for the outputs",
                    human_bytes(used),
                    human_bytes(limit)
                )),
            queue,
        );

        frame.render_widget(
            Table::new(
                listener_rows,
                [
                    Constraint::Length(34),
                    Constraint::Length(6),
                    Constraint::Length(12),
                    Constraint::Length(12),
                    Constraint::Length(10),
                    Constraint::Length(10),
                    Constraint::Length(14),
                ],
            )
            .header(
                Row::new(vec![
                    "listener", "open", "received", "stored", "rejected", "rejects", "bytes in",
                ])
                .style(bold),
            )
            .block(Block::bordered().title("Listeners")),
            listeners_area,
        );
        let [outputs_area, pushes_area] =
            Layout::horizontal([Constraint::Percentage(70), Constraint::Percentage(30)])
                .areas(lower);
        let output_rows: Vec<Row<'_>> = outputs
            .iter()
            .map(|s| {
                let labels = [("output", s.label("output")), ("kind", s.label("kind"))];
                Row::new(vec![
                    s.label("output").to_owned(),
                    s.label("kind").to_owned(),
                    format!("{:.0}", s.value),
                    format!(
                        "{:.0}/s",
                        self.rate("logwire_output_records_total", &labels)
                    ),
                    // Kinds that do not count bytes have no series: shown as "-".
                    if View::find(&self.now, "logwire_output_bytes_total", &labels).is_some() {
                        format!(
                            "{}/s",
                            human_bytes(self.rate("logwire_output_bytes_total", &labels))
                        )
                    } else {
                        "-".to_owned()
                    },
                    format!("{:.0}", self.total("logwire_output_errors_total", &labels)),
                ])
            })
            .collect();
        frame.render_widget(
            Table::new(
                output_rows,
                [
                    Constraint::Length(10),
                    Constraint::Length(24),
                    Constraint::Length(9),
                    Constraint::Length(8),
                    Constraint::Length(11),
                    Constraint::Length(6),
                ],
            )
            .header(
                Row::new(vec!["output", "kind", "records", "rate", "bytes", "errors"]).style(bold),
            )
            .block(Block::bordered().title("Outputs")),
            outputs_area,
        );
        let mut push_lines = vec![Line::from(format!(
            "applied {:.0}",
            self.total("logwire_config_pushes_applied_total", &[])
        ))];
        for s in self
            .now
            .iter()
            .filter(|s| s.name == "logwire_config_pushes_rejected_total" && s.value > 0.0)
        {
            push_lines.push(Line::from(format!(
                "rejected {} {:.0}",
                s.label("reason"),
                s.value
            )));
        }
        frame.render_widget(
            Paragraph::new(push_lines).block(Block::bordered().title("Config pushes")),
            pushes_area,
        );
    }

    /// The total and rate of `name` summed over its series that carry `labels` (a
    /// listener's rejects over every reason).
    fn sum_over(&self, name: &str, labels: &[(&str, &str)]) -> (f64, f64) {
        let sum = |samples: &[Sample]| -> f64 {
            samples
                .iter()
                .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == *v))
                .map(|s| s.value)
                .sum()
        };
        let total = sum(&self.now);
        let rate = if self.seconds > 0.0 && !self.before.is_empty() {
            ((total - sum(&self.before)) / self.seconds).max(0.0)
        } else {
            0.0
        };
        (total, rate)
    }

    fn rejected_total(&self) -> (f64, f64) {
        self.sum_over("logwire_records_rejected_total", &[])
    }
}

fn human_bytes(n: f64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `GET /metrics` from `addr`: the body, or why not in one sentence.
fn scrape(addr: &str) -> Result<String, String> {
    let target: SocketAddr = addr
        .to_socket_addrs()
        .map_err(|e| format!("{addr} is not an address: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr} resolves to no address"))?;
    let timeout = Duration::from_secs(5);
    let mut s = TcpStream::connect_timeout(&target, timeout).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut text = String::new();
    // A metrics page is a few KiB; cap what a wrong address can make us hold.
    s.take(16 << 20)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or("the answer is not HTTP (is this a serve --metrics address?)")?;
    if !head.starts_with("HTTP/1.1 200") {
        let status = head.lines().next().unwrap_or_default();
        return Err(format!("the endpoint answered {status}"));
    }
    Ok(body.to_owned())
}

pub(crate) fn run(args: TopArgs) -> ExitCode {
    let interval = Duration::from_secs_f64(args.interval.clamp(0.1, 3600.0));
    if args.once {
        let first = match scrape(&args.addr) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("logwire top: cannot scrape {}: {e}", args.addr);
                return ExitCode::from(2);
            }
        };
        let start = Instant::now();
        std::thread::sleep(interval);
        let second = match scrape(&args.addr) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("logwire top: cannot scrape {}: {e}", args.addr);
                return ExitCode::from(2);
            }
        };
        let view = View::of(&args.addr, &first, &second, start.elapsed().as_secs_f64());
        let backend = ratatui::backend::TestBackend::new(110, 30);
        let mut terminal = match Terminal::new(backend) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("logwire top: {e}");
                return ExitCode::from(2);
            }
        };
        let _ = terminal.draw(|f| view.draw(f));
        print!("{}", buffer_text(terminal.backend().buffer()));
        return ExitCode::SUCCESS;
    }
    let mut terminal = ratatui::init();
    let result = live(&mut terminal, &args.addr, interval);
    ratatui::restore();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("logwire top: {e}");
            ExitCode::from(2)
        }
    }
}

/// The screen's text, one line per row, trailing blanks trimmed.
pub(crate) fn buffer_text(buffer: &ratatui::buffer::Buffer) -> String {
    let mut out = String::new();
    for y in 0..buffer.area.height {
        let mut line = String::new();
        for x in 0..buffer.area.width {
            line.push_str(buffer[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn live<B: Backend>(
    terminal: &mut Terminal<B>,
    addr: &str,
    interval: Duration,
) -> Result<(), String>
where
    B::Error: std::fmt::Display,
{
    use ratatui::crossterm::event::{self, Event, KeyCode, KeyModifiers};
    let mut view = View {
        addr: addr.to_owned(),
        ..View::default()
    };
    let mut last: Option<(Instant, Vec<Sample>)> = None;
    loop {
        match scrape(addr) {
            Ok(text) => {
                let now = parse(&text);
                let at = Instant::now();
                if let Some((then, before)) = last.take() {
                    view.before = before;
                    view.seconds = at.duration_since(then).as_secs_f64();
                }
                view.now = now.clone();
                view.error = None;
                last = Some((at, now));
            }
            Err(e) => view.error = Some(e),
        }
        terminal
            .draw(|f| view.draw(f))
            .map_err(|e| format!("cannot draw: {e}"))?;
        let deadline = Instant::now() + interval;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            if !event::poll(left).map_err(|e| e.to_string())? {
                break;
            }
            if let Event::Key(k) = event::read().map_err(|e| e.to_string())? {
                let ctrl_c =
                    k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
                if matches!(k.code, KeyCode::Char('q') | KeyCode::Esc) || ctrl_c {
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = r#"# TYPE logwire_records_received_total counter
logwire_listener_info{kind="tcp",address="127.0.0.1:9020"} 1
logwire_records_received_total 1000
logwire_records_stored_total 990
logwire_records_rejected_total{reason="bad_pickle"} 10
logwire_records_rejected_total{reason="too_large"} 0
logwire_records_pending 0
logwire_queue_bytes 0
logwire_queue_bytes_limit 67108864
logwire_output_records_total{output="stdout",kind="logwire.SafeStdout"} 990
logwire_output_errors_total{output="stdout",kind="logwire.SafeStdout"} 0
logwire_config_pushes_applied_total 1
logwire_listener_received_bytes_total{kind="tcp",address="127.0.0.1:9020"} 100000
logwire_listener_connections_accepted_total{kind="tcp",address="127.0.0.1:9020"} 10
logwire_listener_records_received_total{kind="tcp",address="127.0.0.1:9020"} 1000
logwire_listener_records_stored_total{kind="tcp",address="127.0.0.1:9020"} 990
logwire_listener_records_rejected_total{kind="tcp",address="127.0.0.1:9020",reason="bad_pickle"} 10
logwire_listener_records_rejected_total{kind="tcp",address="127.0.0.1:9020",reason="empty"} 0
logwire_output_bytes_total{output="stdout",kind="logwire.SafeStdout"} 0
"#;

    const NOW: &str = r#"logwire_listener_info{kind="tcp",address="127.0.0.1:9020"} 1
logwire_records_received_total 3000
logwire_records_stored_total 2960
logwire_records_rejected_total{reason="bad_pickle"} 30
logwire_records_rejected_total{reason="too_large"} 0
logwire_records_pending 10
logwire_connections_open 4
logwire_queue_bytes 16777216
logwire_queue_bytes_limit 67108864
logwire_output_records_total{output="stdout",kind="logwire.SafeStdout"} 2960
logwire_output_errors_total{output="stdout",kind="logwire.SafeStdout"} 2
logwire_config_pushes_applied_total 1
logwire_config_pushes_rejected_total{reason="bad_signature"} 3
logwire_listener_received_bytes_total{kind="tcp",address="127.0.0.1:9020"} 2197152
logwire_listener_connections_accepted_total{kind="tcp",address="127.0.0.1:9020"} 14
logwire_listener_connections_open{kind="tcp",address="127.0.0.1:9020"} 4
logwire_listener_records_received_total{kind="tcp",address="127.0.0.1:9020"} 3000
logwire_listener_records_stored_total{kind="tcp",address="127.0.0.1:9020"} 2960
logwire_listener_records_rejected_total{kind="tcp",address="127.0.0.1:9020",reason="bad_pickle"} 26
logwire_listener_records_rejected_total{kind="tcp",address="127.0.0.1:9020",reason="empty"} 4
logwire_output_bytes_total{output="stdout",kind="logwire.SafeStdout"} 4194304
logwire_output_records_total{output="h#1",kind="logging.NullHandler"} 7
"#;

    #[test]
    fn parses_names_labels_and_values() {
        let s = parse(NOW);
        assert_eq!(s.len(), 22);
        assert_eq!(s[0].label("address"), "127.0.0.1:9020");
        assert_eq!(s[3].label("reason"), "bad_pickle");
        assert_eq!(s[3].value, 30.0);
        let escaped = parse("m{a=\"x\\\"y\",b=\"z\"} 2\n");
        assert_eq!(
            escaped[0].labels,
            vec![("a".into(), "x\"y".into()), ("b".into(), "z".into())]
        );
    }

    #[test]
    fn renders_totals_rates_rejects_outputs_and_queue() {
        let view = View::of("127.0.0.1:9102", BEFORE, NOW, 2.0);
        let mut terminal = Terminal::new(ratatui::backend::TestBackend::new(110, 30)).unwrap();
        terminal.draw(|f| view.draw(f)).unwrap();
        let text = buffer_text(terminal.backend().buffer());
        let line_with = |needle: &str| -> &str {
            text.lines()
                .find(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("no {needle:?} in\n{text}"))
        };
        assert!(
            line_with("logwire top").contains("listeners: tcp 127.0.0.1:9020"),
            "{text}"
        );
        // (3000 - 1000) / 2 s
        assert!(
            line_with("received").contains("3000") && line_with("received").contains("1000/s"),
            "{text}"
        );
        assert!(line_with("stored").contains("985/s"), "{text}");
        let reject = line_with("bad_pickle");
        assert!(reject.contains("30") && reject.contains("10/s"), "{text}");
        assert!(
            !text.contains("too_large"),
            "zero reasons are not listed: {text}"
        );
        // 2960 records and 4 MiB in 2 s.
        let out = line_with("logwire.SafeStdout");
        assert!(
            out.contains("stdout")
                && out.contains("2960")
                && out.contains("985/s")
                && out.contains("2.0 MiB/s"),
            "{text}"
        );
        // An output whose kind does not count bytes shows none, not 0.
        let null = line_with("logging.NullHandler");
        assert!(null.contains(" - "), "{text}");
        assert!(
            line_with("queued for the outputs").contains("16.0 MiB of 64.0 MiB"),
            "{text}"
        );
        assert!(line_with("rejected bad_signature").contains('3'), "{text}");
        assert!(line_with("connections open").contains('4'), "{text}");
        // Per listener, over 2 s: (3000 - 1000) received = 1000/s, (2960 - 990) stored =
        // 985/s, rejects over every reason 30 in all = 10/s, (2197152 - 100000) B = 1 MiB/s.
        let listener = line_with("tcp 127.0.0.1:9020  ");
        let cells: Vec<&str> = listener
            .split_whitespace()
            .map(|c| c.trim_matches('│'))
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(
            cells,
            [
                "tcp",
                "127.0.0.1:9020",
                "4",
                "1000/s",
                "985/s",
                "30",
                "10/s",
                "1.0",
                "MiB/s"
            ],
            "{text}"
        );
    }

    #[test]
    fn an_unreachable_endpoint_is_shown_not_fatal() {
        let view = View {
            addr: "127.0.0.1:1".into(),
            error: Some("Connection refused (os error 111)".into()),
            ..View::default()
        };
        let mut terminal = Terminal::new(ratatui::backend::TestBackend::new(100, 20)).unwrap();
        terminal.draw(|f| view.draw(f)).unwrap();
        let text = buffer_text(terminal.backend().buffer());
        assert!(text.contains("cannot scrape: Connection refused"), "{text}");
    }
}
