//! Truncated frames must not consume CPU (CPython spins a core forever on one, gh-156378).
//! Alone in its binary so no other test's threads are counted.

use crate::common_listen;

use common_listen::*;
use logwire_listener::ListenerOptions;
use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// CPU ticks (utime + stime) of this process's listener threads (named `logwire-config-*`,
/// shown truncated to 15 characters by the kernel).
fn listener_cpu_ticks() -> u64 {
    let mut total = 0;
    let mut threads = 0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if !stat[open + 1..close].starts_with("logwire-config") {
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        // After "pid (comm) ": state is field 0; utime and stime are fields 11 and 12.
        threads += 1;
        total += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    }
    assert!(threads >= 1, "no listener thread found");
    total
}

#[test]
fn truncated_frames_leave_the_listener_idle() {
    let fx = Fixture::new();
    let h = fx
        .listener(ListenerOptions::new().tcp(tcp0()).allow_unsigned(true))
        .start()
        .unwrap();
    let addr = h.tcp_addr().unwrap();
    let mut held = Vec::new();
    for i in 0..20u32 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(&(1000 + i).to_be_bytes()).unwrap();
        s.write_all(b"{\"version\": 1").unwrap();
        match i % 3 {
            0 => drop(s),                              // closed mid-body
            1 => s.shutdown(Shutdown::Write).unwrap(), // half-closed mid-body
            _ => held.push(s),                         // stuck mid-body, still open
        }
    }
    // One byte of a prefix, then gone (the gh-156378 reproducer).
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(&[0]).unwrap();
    drop(s);
    wait_until("the closed ones are counted", || h.stats().truncated >= 14);
    let before = listener_cpu_ticks();
    std::thread::sleep(Duration::from_secs(1));
    let spent = listener_cpu_ticks() - before;
    // A spinning thread would burn ~100 ticks (USER_HZ) in that second.
    assert!(
        spent <= 10,
        "listener threads used {spent} ticks while idle"
    );
    assert_eq!(h.stats().applied, 0);
    fx.assert_orig_routing_alive("after truncated frames");
    h.stop_and_join();
    drop(held);
}
