#!/usr/bin/env python3
"""Records/s from a CPython SocketHandler stream through `logwire serve` into NATS JetStream,
against the same collector writing a file (issue 18: the goal is at least half).

Both runs stream the same pickled frames (made by CPython's SocketHandler.makePickle, as in
receive_vs_cookbook.py) over one TCP connection and time from the first byte sent until every
record is where it goes: for the file, the file holds N lines; for JetStream, the stream holds
N messages (read from nats-server's monitoring endpoint /jsz, polled every 10 ms), i.e.
acknowledged by JetStream with file storage. A fresh nats-server (-js, store in a temporary
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
            nats_rate = run(args.logwire, nats_cfg, frames,
                            lambda: stream_messages(monitor, "BENCH") >= args.n, args.n)
        finally:
            server.kill()
            server.wait()
        print("jetstream: %8.0f records/s" % nats_rate)
        print("ratio jetstream/file: %.2f (goal >= 0.5)" % (nats_rate / file_rate))


if __name__ == "__main__":
    main()
