#!/usr/bin/env python3
"""Where `logwire serve`'s CPU goes, per thread, while it receives the benchmark's frames.

Streams the frames of `receive_vs_cookbook.py` (CPython's `makePickle` access-log record) into
`logwire serve --config <FileHandler, the benchmark's format>` over N connections at once, and
prints per run: records/s, the collector's CPU per record (user and system), and per thread
name its CPU per record and context switches (from /proc/PID/task/*/stat and status).

    python3 crates/bench/scripts/receive_split.py [--records N] [--connections N] [--runs N]
        [--pin "taskset -c 1"] [--logwire target/release/logwire]

--pin prefixes the collector's command (e.g. to run it on one vCPU). Noisy hosts: compare
builds run by run, not absolute figures.
"""

import argparse
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from receive_vs_cookbook import gen_frames, serve_port, write_file_config  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def threads(pid):
    """{thread name: [user ticks, system ticks, context switches]} summed over threads."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            stat = open("/proc/%d/task/%s/stat" % (pid, tid)).read()
            status = open("/proc/%d/task/%s/status" % (pid, tid)).read()
        except FileNotFoundError:
            continue  # the thread ended meanwhile
        name = stat.split("(", 1)[1].rsplit(")", 1)[0]
        fields = stat.rsplit(")", 1)[1].split()
        switches = sum(int(l.split()[1]) for l in status.splitlines() if "ctxt_switches" in l)
        t = out.setdefault(name, [0, 0, 0])
        t[0] += int(fields[11])
        t[1] += int(fields[12])
        t[2] += switches
    return out


def run(cmd, cfg, out, frames, conns, lines, want):
    """One run; ends when `out` holds `want` bytes, or (`want` None) `lines` lines."""
    if os.path.exists(out):
        os.remove(out)
    p = subprocess.Popen(cmd + ["serve", "--tcp", "127.0.0.1:0", "--config", cfg],
                         stderr=subprocess.PIPE, text=True)
    try:
        port = serve_port(p)
        before = threads(p.pid)
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(conns)]
        t0 = time.perf_counter()

        def send(s):
            view = memoryview(frames)
            for i in range(0, len(frames), 1 << 20):
                s.sendall(view[i:i + (1 << 20)])

        senders = [threading.Thread(target=send, args=(s,)) for s in socks]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        deadline = time.time() + 120
        while time.time() < deadline:
            if want is not None:
                if os.path.getsize(out) >= want:
                    break
            elif open(out, "rb").read().count(b"\n") >= lines:
                break
            time.sleep(0.0005)
        elapsed = time.perf_counter() - t0
        after = threads(p.pid)
        for s in socks:
            s.close()
        return elapsed, before, after, os.path.getsize(out)
    finally:
        p.terminate()
        p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=300_000, help="frames per connection")
    ap.add_argument("--connections", type=int, default=1)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pin", default="", help="command prefix for the collector")
    ap.add_argument("--logwire", default=os.path.join(os.path.dirname(__file__), "../../../target/release/logwire"))
    args = ap.parse_args()
    cmd = shlex.split(args.pin) + [os.path.abspath(args.logwire)]
    with tempfile.TemporaryDirectory() as d:
        frames_path = os.path.join(d, "frames.bin")
        gen_frames(frames_path, args.records)
        frames = open(frames_path, "rb").read()
        out = os.path.join(d, "out.log")
        cfg = write_file_config(out)
        n = args.records * args.connections
        # The first run counts lines to learn the output's size; later runs poll the size.
        want = None
        for i in range(args.runs + 1):
            elapsed, before, after, size = run(cmd, cfg, out, frames, args.connections, n, want)
            if want is None:
                want = size
                continue  # a warm-up: its timing includes counting lines
            parts, user, system = [], 0.0, 0.0
            for name, (u, s, cs) in sorted(after.items()):
                b = before.get(name, [0, 0, 0])
                tu = (u - b[0]) / TICK / n * 1e9
                ts = (s - b[1]) / TICK / n * 1e9
                user, system = user + tu, system + ts
                parts.append("%s user %.0f sys %.0f switches %d" % (name, tu, ts, cs - b[2]))
            print("run %d: %.0f rec/s, CPU %.0f ns/record (user %.0f, sys %.0f) | %s"
                  % (i, n / elapsed, user + system, user, system, " | ".join(parts)))


if __name__ == "__main__":
    main()
