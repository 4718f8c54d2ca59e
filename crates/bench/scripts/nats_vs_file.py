#!/usr/bin/env python3
"""Records/s from a CPython SocketHandler stream through `logwire serve` into NATS JetStream,
against the same collector writing a file (issue 18: the goal is at least half).

Both runs stream the same pickled frames (made by CPython's SocketHandler.makePickle, as in
receive_vs_cookbook.py) over one TCP connection and time from the first byte sent until every
record is where it goes: for the file, the file holds N lines; for JetStream, the stream holds
its last message (nats-server's monitoring endpoint /jsz, polled every 10 ms: the time of the
last change of the stream's message count, once it has not changed for 2 s), i.e.
acknowledged by JetStream with file storage. NATSHandler puts several unsigned records in one
message, one JSON object per line, so the records are counted afterwards, untimed: `logwire
serve --nats-source` drains the stream into a file, which must hold exactly N lines. (A
subscriber counting during the run would double the server's work and share the 2 cores.) A fresh nats-server (-js, store in a temporary
directory) is started for the JetStream run.

    python3 crates/bench/scripts/nats_vs_file.py [--logwire target/release/logwire] [-n 100000]

Prints one line per run and the ratio. The machine is shared: give ratios from one run and say
that it was loaded.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from receive_vs_cookbook import blast, gen_frames, serve_port, write_file_config  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def nats_binary():
    return os.environ.get("LOGWIRE_NATS_SERVER") or shutil.which("nats-server") or "/usr/sbin/nats-server"


def stream_messages(monitor, stream):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/jsz?streams=true" % monitor, timeout=2) as r:
            j = json.load(r)
    except OSError:
        return 0
    for acct in j.get("account_details") or []:
        for s in acct.get("stream_detail") or []:
            if s.get("name") == stream:
                return s["state"]["messages"]
    return 0


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def run_until_stream_settles(exe, cfg, frames, monitor, stream):
    """Seconds from the first byte sent to the stream's last new message, and its message
    count."""
    p = subprocess.Popen([exe, "serve", "--tcp", "127.0.0.1:0", "--config", cfg],
                         stderr=subprocess.PIPE, text=True)
    try:
        port = serve_port(p)
        s, t0 = blast(port, frames)
        last, last_t = 0, time.perf_counter()
        deadline = time.time() + 300
        while time.time() < deadline:
            now_msgs = stream_messages(monitor, stream)
            now = time.perf_counter()
            if now_msgs != last:
                last, last_t = now_msgs, now
            elif last > 0 and now - last_t > 2.0:
                break
            time.sleep(0.01)
        s.close()
        return last_t - t0, last
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=120)


def records_in_stream(exe, url, stream, d, n):
    """Drains `stream` through `logwire serve --nats-source` into a file; its line count."""
    out = os.path.join(d, "drained.log")
    cfg = write_file_config(out)
    p = subprocess.Popen([exe, "serve", "--config", cfg, "--nats-source", url,
                          "--nats-stream", stream, "--nats-durable", "verify"],
                         stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 300
        while count_lines(out) < n and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # anything beyond n would show now
        return count_lines(out)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=120)


def run(exe, cfg, frames, done, n):
    p = subprocess.Popen([exe, "serve", "--tcp", "127.0.0.1:0", "--config", cfg],
                         stderr=subprocess.PIPE, text=True)
    try:
        port = serve_port(p)
        s, t0 = blast(port, frames)
        deadline = time.time() + 300
        while not done() and time.time() < deadline:
            time.sleep(0.01)
        elapsed = time.perf_counter() - t0
        if not done():
            raise RuntimeError("not every record arrived")
        s.close()
        return n / elapsed
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=120)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--logwire", default="target/release/logwire")
    ap.add_argument("-n", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        frames_path = os.path.join(d, "frames.bin")
        gen_frames(frames_path, args.n)
        frames = open(frames_path, "rb").read()

        out = os.path.join(d, "records.log")
        cfg = write_file_config(out)
        file_rate = run(args.logwire, cfg, frames, lambda: count_lines(out) >= args.n, args.n)
        print("file:      %8.0f records/s" % file_rate)

        port, monitor = free_port(), free_port()
        store = os.path.join(d, "js")
        server = subprocess.Popen([nats_binary(), "-js", "-a", "127.0.0.1", "-p", str(port),
                                   "-m", str(monitor), "-sd", store],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 30
            while time.time() < deadline:
                try:
                    urllib.request.urlopen("http://127.0.0.1:%d/healthz" % monitor, timeout=1)
                    break
                except OSError:
                    time.sleep(0.05)
            nats_cfg = os.path.join(d, "nats.json")
            with open(nats_cfg, "w") as f:
                json.dump({"version": 1,
                           "handlers": {"nats": {"class": "logwire.NATSHandler",
                                                 "servers": "nats://127.0.0.1:%d" % port,
                                                 "subject": "logs.{name}", "stream": "BENCH"}},
                           "root": {"level": "DEBUG", "handlers": ["nats"]}}, f)
            elapsed, messages = run_until_stream_settles(args.logwire, nats_cfg, frames,
                                                         monitor, "BENCH")
            records = records_in_stream(args.logwire, "nats://127.0.0.1:%d" % port, "BENCH",
                                        d, args.n)
            if records != args.n:
                raise RuntimeError("the stream holds %d records, not %d" % (records, args.n))
            print("jetstream: %d records in %d messages" % (records, messages))
            nats_rate = args.n / elapsed
        finally:
            server.kill()
            server.wait()
        print("jetstream: %8.0f records/s" % nats_rate)
        print("ratio jetstream/file: %.2f (goal >= 0.5)" % (nats_rate / file_rate))


if __name__ == "__main__":
    main()
