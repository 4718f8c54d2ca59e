//! SysLogHandler → a real rsyslogd (started unprivileged as a child with its own config in a
//! temp dir): numbered messages over UDP (CPython format) and TCP (RFC 5424, octet counted)
//! each arrive exactly once with the right facility and severity (rsyslog's testbench
//! `seq_check` oracle).

use logwire_engine::{Handler, LogRecord};
use logwire_handlers::{SocketType, SysLogHandler, SyslogAddress, SyslogMessage, SyslogOptions};
use std::collections::HashMap;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(30);

struct Rsyslogd {
    child: Child,
    out: PathBuf,
}

impl Drop for Rsyslogd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rsyslogd_binary() -> PathBuf {
    for p in ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"] {
        if Path::new(p).exists() {
            return p.into();
        }
    }
    panic!(
        "rsyslogd not found: this test needs the Debian package `rsyslog` \
         (listed in scripts/apt-packages.txt; scripts/test-all installs it, or run \
         `apt-get install -y rsyslog`)"
    );
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_rsyslogd(dir: &Path, udp: u16, tcp: u16) -> Rsyslogd {
    let bin = rsyslogd_binary();
    let out = dir.join("out.log");
    let conf = dir.join("rsyslog.conf");
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(
        &conf,
        format!(
            r#"global(workDirectory="{work}")
module(load="imudp")
module(load="imtcp")
input(type="imudp" port="{udp}" address="127.0.0.1")
input(type="imtcp" port="{tcp}" address="127.0.0.1" supportOctetCountedFraming="on")
template(name="seq" type="string" string="%syslogfacility% %syslogseverity% %msg%\n")
action(type="omfile" file="{out}" template="seq")
"#,
            work = work.display(),
            out = out.display()
        ),
    )
    .unwrap();
    let check = Command::new(&bin)
        .arg("-N1")
        .arg("-f")
        .arg(&conf)
        .output()
        .expect("run rsyslogd -N1");
    assert!(
        check.status.success(),
        "rsyslogd -N1 rejected the config:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let child = Command::new(&bin)
        .arg("-n")
        .arg("-f")
        .arg(&conf)
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start rsyslogd");
    let d = Rsyslogd { child, out };
    let deadline = Instant::now() + LIMIT;
    while TcpStream::connect(("127.0.0.1", tcp)).is_err() {
        assert!(
            Instant::now() < deadline,
            "rsyslogd did not open its TCP input"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    d
}

/// Marker → every (facility, severity) seen with it, from rsyslog's output file.
fn seen(out: &Path) -> HashMap<String, Vec<(u32, u32)>> {
    let text = std::fs::read_to_string(out).unwrap_or_default();
    let mut m: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
    for line in text.lines() {
        let mut it = line.splitn(3, ' ');
        let (Some(f), Some(s), Some(msg)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let (Ok(f), Ok(s)) = (f.parse(), s.parse()) else {
            continue;
        };
        for word in msg.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
            if word.starts_with("lw-") {
                m.entry(word.to_owned()).or_default().push((f, s));
            }
        }
    }
    m
}

fn wait_for(
    out: &Path,
    what: &str,
    mut cond: impl FnMut(&HashMap<String, Vec<(u32, u32)>>) -> bool,
) {
    let deadline = Instant::now() + LIMIT;
    loop {
        if cond(&seen(out)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; rsyslog wrote:\n{}",
            {
                let t = std::fs::read_to_string(out).unwrap_or_default();
                t.lines().rev().take(20).collect::<Vec<_>>().join("\n")
            }
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Level of message `i`, and the syslog severity CPython's mapPriority gives it.
fn level(i: usize) -> (i32, u32) {
    [(10, 7), (20, 6), (30, 4), (40, 3), (50, 2)][i % 5]
}

#[test]
fn rsyslog_receives_every_message_once_with_facility_and_severity() {
    let dir = tempfile::tempdir().unwrap();
    let (udp, tcp) = (free_udp_port(), free_tcp_port());
    let rs = start_rsyslogd(dir.path(), udp, tcp);

    // UDP, CPython's format (ident, trailing NUL), facility local3 = 19.
    let udp_opts = SyslogOptions {
        message: SyslogMessage::cpython(19, "logwire: ", true),
        ..Default::default()
    };
    let h = Handler::new(
        SysLogHandler::with_options(SyslogAddress::Inet("127.0.0.1".into(), udp), None, udp_opts)
            .unwrap(),
    );
    // imudp may bind a moment after imtcp: probe until a datagram gets through.
    let mut probe = 0;
    wait_for(&rs.out, "a UDP probe", |m| {
        if m.keys().any(|k| k.starts_with("lw-probe")) {
            return true;
        }
        probe += 1;
        h.handle(&LogRecord::new(
            "t",
            20,
            "x.py",
            1,
            format!("lw-probe{probe}"),
        ));
        false
    });
    // UDP is lossy under load by nature: send in batches, each seen before the next.
    const UDP_N: usize = 300;
    for batch in 0..UDP_N / 30 {
        for i in batch * 30..(batch + 1) * 30 {
            h.handle(&LogRecord::new(
                "t",
                level(i).0,
                "x.py",
                1,
                format!("lw-u{i:06}"),
            ));
        }
        h.flush();
        let upto = (batch + 1) * 30;
        wait_for(&rs.out, "a UDP batch", |m| {
            (batch * 30..upto).all(|i| m.contains_key(&format!("lw-u{i:06}")))
        });
    }
    h.close();

    // TCP, RFC 5424 octet counted, facility local5 = 21.
    let tcp_opts = SyslogOptions {
        message: SyslogMessage::rfc5424(21, Some("logwire-test")),
        ..Default::default()
    };
    let h = Handler::new(
        SysLogHandler::with_options(
            SyslogAddress::Inet("127.0.0.1".into(), tcp),
            Some(SocketType::Stream),
            tcp_opts,
        )
        .unwrap(),
    );
    const TCP_N: usize = 2000;
    for i in 0..TCP_N {
        // A multi-line message too: octet counting keeps it one record.
        let extra = if i % 100 == 0 { "\nsecond line" } else { "" };
        h.handle(&LogRecord::new(
            "t",
            level(i).0,
            "x.py",
            1,
            format!("lw-t{i:06}{extra}"),
        ));
    }
    h.flush();
    wait_for(&rs.out, "all TCP messages", |m| {
        (0..TCP_N).all(|i| m.contains_key(&format!("lw-t{i:06}")))
    });
    h.close();

    let m = seen(&rs.out);
    for i in 0..UDP_N {
        assert_eq!(
            m[&format!("lw-u{i:06}")],
            [(19, level(i).1)],
            "UDP message {i}"
        );
    }
    for i in 0..TCP_N {
        assert_eq!(
            m[&format!("lw-t{i:06}")],
            [(21, level(i).1)],
            "TCP message {i}"
        );
    }
    assert_eq!(
        m.keys()
            .filter(|k| k.starts_with("lw-t") || k.starts_with("lw-u"))
            .count(),
        UDP_N + TCP_N
    );
}
