#!/usr/bin/env python3
"""logwire serve against the Python logging cookbook receiver, in one run.

1. Generates N frames with CPython's own SocketHandler.makePickle: the access-log record of
   performance.md (`logger.info("request %s %s -> %d in %.3f ms", 4 args, extra={request_id,
   user_id, client_ip})`).
2. Streams them over ONE TCP connection into
   (a) the cookbook receiver (ThreadingTCPServer + pickle.loads + makeLogRecord +
       logger.handle, with the header-read fix, FileHandler + Formatter), and
   (b) `logwire serve --config` with a FileHandler and the same format,
   and reports records/s for each (first byte sent -> last line written) and the ratio.
   The two output files must be byte-identical.
3. Fan-in (--fan-in C, default 64): the same records over C connections at once, as C
   CPython processes would open them, into both receivers; logwire's records/s there against
   its one-connection figure (issue 15: at least 0.9x). Outputs are compared sorted (the
   connections interleave).
4. Signed (--signed): the same records sealed as `LWR1` (HMAC-SHA256) by the Python helper's
   SignedSocketHandler, over one connection into `logwire serve --record-key`, against the
   unsigned figure (issue 15: at least 0.75x). The output must be identical to the unsigned one.
5. Decode-only cost per record: `pickle.loads` + `makeLogRecord` in Python against the
   `decode_frames` example of logwire-bench (pickle parse + record mapping; build it with
   cargo build --release -p logwire-bench --example decode_frames).
6. UDP loss at paced rates (DatagramHandler-style datagrams, bursts of 10).

Usage: python3 crates/bench/scripts/receive_vs_cookbook.py [--records N] [--logwire PATH]
       [--fan-in C] [--signed] [--only tcp,fan-in,signed,decode,udp]
(build first: cargo build --release -p logwire-cli).
"""

import argparse
import json
import logging
import logging.handlers
import os
import pickle
import socket
import struct
import subprocess
import sys
import tempfile
import time

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s rid=%(request_id)s"

COOKBOOK = r'''
import logging, pickle, socketserver, struct, sys, threading, time
out, n = sys.argv[1], int(sys.argv[2])
count_lock = threading.Lock()   # many connections (the fan-in case) count from many threads
h = logging.FileHandler(out)
h.setFormatter(logging.Formatter(%r))
root = logging.getLogger(); root.addHandler(h); root.setLevel(logging.DEBUG)
state = {"count": 0, "t0": None}
class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        while True:
            chunk = self.connection.recv(4)
            if state["t0"] is None: state["t0"] = time.perf_counter()
            while 0 < len(chunk) < 4:          # the header-read fix (performance.md)
                more = self.connection.recv(4 - len(chunk))
                if not more: break
                chunk += more
            if len(chunk) < 4: break
            slen = struct.unpack(">L", chunk)[0]
            chunk = self.connection.recv(slen)
            while len(chunk) < slen:
                chunk = chunk + self.connection.recv(slen - len(chunk))
            record = logging.makeLogRecord(pickle.loads(chunk))
            logging.getLogger(record.name).handle(record)
            with count_lock:
                state["count"] += 1
                done = state["count"] == n
            if done:
                h.flush()
                print("DONE %%.6f" %% (time.perf_counter() - state["t0"]), flush=True)
class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
srv = Server(("127.0.0.1", 0), Handler)
print("READY %%d" %% srv.server_address[1], flush=True)
srv.serve_forever()
''' % FORMAT


def gen_frames(path, n):
    class Capture(logging.handlers.SocketHandler):
        def __init__(self):
            super().__init__("127.0.0.1", 9)
            self.out = open(path, "wb")

        def emit(self, record):
            self.out.write(self.makePickle(record))

    cap = Capture()
    log = logging.getLogger("app.http.access")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(cap)
    for i in range(n):
        log.info("request %s %s -> %d in %.3f ms", "GET", "/api/v1/items/%d" % i, 200, 12.5 + i % 100,
                 extra={"request_id": "req-%08d" % i, "user_id": 1000 + i % 977, "client_ip": "10.0.%d.%d" % (i % 256, i % 199)})
    cap.out.close()
    log.removeHandler(cap)
    return os.path.getsize(path)


def blast(port, data):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    t0 = time.perf_counter()
    view = memoryview(data)
    for i in range(0, len(data), 1 << 20):
        s.sendall(view[i:i + (1 << 20)])
    return s, t0


def split_frames(data, parts):
    """Whole length-prefixed frames of `data`, dealt into `parts` byte strings of about the
    same number of frames each."""
    frames, pos = [], 0
    while pos + 4 <= len(data):
        end = pos + 4 + struct.unpack(">I", data[pos:pos + 4])[0]
        frames.append(data[pos:end])
        pos = end
    per = -(-len(frames) // parts)
    return [b"".join(frames[i:i + per]) for i in range(0, len(frames), per)]


def blast_many(port, parts):
    """Sends each part over its own connection, all connected first and then released at
    once (threads: sendall releases the GIL). Returns the sockets and the release time."""
    import threading
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in parts]
    go = threading.Barrier(len(parts) + 1)

    def send(s, data):
        go.wait()
        s.sendall(data)

    threads = [threading.Thread(target=send, args=(s, p)) for s, p in zip(socks, parts)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    go.wait()
    for t in threads:
        t.join()
    return socks, t0


def run_cookbook(frames, n, out, conns=1):
    p = subprocess.Popen([sys.executable, "-c", COOKBOOK, out, str(n)], stdout=subprocess.PIPE, text=True)
    port = int(p.stdout.readline().split()[1])
    if conns == 1:
        socks = [blast(port, frames)[0]]
    else:
        socks, _ = blast_many(port, split_frames(frames, conns))
    line = p.stdout.readline()
    for s in socks:
        s.close()
    p.kill()
    p.wait()
    return n / float(line.split()[1])


def run_logwire_fan_in(exe, frames, n, out, expect_size, conns):
    """`logwire serve` fed over `conns` connections at once: records/s from the release of
    the senders to the last line written."""
    cfg = write_file_config(out)
    p = subprocess.Popen([exe, "serve", "--tcp", "127.0.0.1:0", "--config", cfg], stderr=subprocess.PIPE, text=True)
    port = serve_port(p)
    socks, t0 = blast_many(port, split_frames(frames, conns))
    deadline = time.time() + 120
    while os.path.getsize(out) < expect_size and time.time() < deadline:
        time.sleep(0.0005)
    elapsed = time.perf_counter() - t0
    for s in socks:
        s.close()
    p.terminate()
    p.wait()
    return n / elapsed


def gen_signed_frames(plain_path, signed_path, key_path):
    """The records of `plain_path` sealed as LWR1 frames by the Python helper's
    SignedSocketHandler (HMAC-SHA256, a fresh key in `key_path`)."""
    helper = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../python")
    sys.path.insert(0, helper)
    from logwire_helper import SignedSocketHandler
    import base64
    with open(key_path, "w") as f:
        f.write("hmac:" + base64.b64encode(os.urandom(32)).decode())
    h = SignedSocketHandler("127.0.0.1", 9, key_path, ack=False)
    data = open(plain_path, "rb").read()
    out = bytearray()
    pos = 0
    while pos + 4 <= len(data):
        end = pos + 4 + struct.unpack(">I", data[pos:pos + 4])[0]
        record = logging.makeLogRecord(pickle.loads(data[pos + 4:end]))
        out += h.makePickle(record)
        pos = end
    h.close()
    open(signed_path, "wb").write(bytes(out))


def write_file_config(out, formatter=None):
    """A dictConfig (JSON) that writes every record to a FileHandler on `out` with
    `formatter` (a dictConfig formatter entry; by default FORMAT, the cookbook receiver's
    line); returns its path."""
    cfg = out + ".json"
    with open(cfg, "w") as f:
        json.dump({"version": 1,
                   "formatters": {"f": formatter or {"format": FORMAT}},
                   "handlers": {"file": {"class": "logging.FileHandler", "filename": out, "formatter": "f"}},
                   "root": {"level": "DEBUG", "handlers": ["file"]}}, f)
    return cfg


def serve_port(proc, kind="tcp"):
    """The port a starting `logwire serve` (stderr piped as text) says it listens on."""
    while True:
        line = proc.stderr.readline()
        if not line:
            raise RuntimeError("logwire serve exited before listening")
        if line.startswith("listening on %s " % kind):
            return int(line.rsplit(":", 1)[1])


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_logwire_measured(exe, frames, n, out, expect_size, extra=()):
    """Streams the frames into `logwire serve`: (records/s, CPU ns per record of the collector)."""
    cfg = write_file_config(out)
    p = subprocess.Popen([exe, "serve", "--tcp", "127.0.0.1:0", "--config", cfg, *extra], stderr=subprocess.PIPE, text=True)
    port = serve_port(p)
    c0 = cpu_seconds(p.pid)
    s, t0 = blast(port, frames)
    deadline = time.time() + 120
    while os.path.getsize(out) < expect_size and time.time() < deadline:
        time.sleep(0.0005)
    elapsed = time.perf_counter() - t0
    c1 = cpu_seconds(p.pid)
    s.close()
    p.terminate()
    p.wait()
    return n / elapsed, (c1 - c0) / n * 1e9


def run_logwire(exe, frames, n, out, expect_size, extra=()):
    return run_logwire_measured(exe, frames, n, out, expect_size, extra)[0]


def drop(*paths):
    """Deletes a run's outputs once compared: ~120 MB each at 1 M records, left until exit
    they were dirty pages the kernel wrote back during the later runs (fan-in and signed),
    which then measured slower than the first ones for that reason alone."""
    for p in paths:
        os.remove(p)


def decode_python(frames_path, rounds=3):
    data = open(frames_path, "rb").read()
    payloads = []
    pos = 0
    while pos < len(data):
        (n,) = struct.unpack(">L", data[pos:pos + 4])
        payloads.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for p in payloads:
            logging.makeLogRecord(pickle.loads(p))
        best = min(best, time.perf_counter() - t0)
    return best * 1e9 / len(payloads)


def udp_loss(exe, frames_path, rates, count):
    data = open(frames_path, "rb").read()
    dgrams = []
    pos = 0
    while pos < len(data) and len(dgrams) < count:
        (n,) = struct.unpack(">L", data[pos:pos + 4])
        dgrams.append(data[pos:pos + 4 + n])
        pos += 4 + n
    results = {}
    for rate in rates:
        p = subprocess.Popen([exe, "serve", "--udp", "127.0.0.1:0", "--stats", "1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        port = serve_port(p, "udp")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t0 = time.perf_counter()
        for i in range(0, len(dgrams), 10):
            for d in dgrams[i:i + 10]:
                s.sendto(d, ("127.0.0.1", port))
            target = t0 + (i + 10) / rate
            while time.perf_counter() < target:
                pass
        time.sleep(1.5)
        p.terminate()
        _, err = p.communicate(timeout=30)
        stored = 0
        for line in err.splitlines():
            if "stopped:" in line:
                stored = int(line.split("stored=")[1].split()[0])
        results[rate] = 100.0 * (len(dgrams) - stored) / len(dgrams)
    return results


def decode_exe(exe):
    """The `decode_frames` example next to a release `logwire` binary."""
    return os.path.join(os.path.dirname(exe), "examples", "decode_frames")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--logwire", default=os.path.join(os.path.dirname(__file__), "../../../target/release/logwire"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--udp-count", type=int, default=50_000)
    ap.add_argument("--fan-in", type=int, default=64, help="connections at once for the fan-in case")
    ap.add_argument("--only", default="tcp,fan-in,signed,decode,udp",
                    help="comma-separated parts to run: tcp, fan-in, signed, decode, udp")
    args = ap.parse_args()
    parts = set(args.only.split(","))
    exe = os.path.abspath(args.logwire)
    med = lambda xs: sorted(xs)[len(xs) // 2]
    n = args.records
    with tempfile.TemporaryDirectory() as d:
        frames_path = os.path.join(d, "frames.bin")
        size = gen_frames(frames_path, n)
        frames = open(frames_path, "rb").read()
        print("frames: %d, %.0f B/frame" % (n, size / n))
        ref = os.path.join(d, "reference.log")
        run_cookbook(frames, n, ref)
        expect = open(ref, "rb").read()
        cook, lw = [], []
        if parts & {"tcp", "fan-in", "signed"}:
            for run in range(args.runs):
                a = os.path.join(d, "cookbook-%d.log" % run)
                b = os.path.join(d, "logwire-%d.log" % run)
                cook.append(run_cookbook(frames, n, a))
                lw.append(run_logwire(exe, frames, n, b, len(expect)))
                same = open(a, "rb").read() == open(b, "rb").read()
                print("run %d: cookbook %.0f rec/s, logwire %.0f rec/s, ratio %.1fx, outputs identical: %s"
                      % (run, cook[-1], lw[-1], lw[-1] / cook[-1], same))
                drop(a, b)
            print("median: cookbook %.0f rec/s, logwire %.0f rec/s, ratio %.1fx" % (med(cook), med(lw), med(lw) / med(cook)))
        if "fan-in" in parts:
            c = args.fan_in
            fcook, flw = [], []
            for run in range(args.runs):
                a = os.path.join(d, "fan-cookbook-%d.log" % run)
                b = os.path.join(d, "fan-logwire-%d.log" % run)
                fcook.append(run_cookbook(frames, n, a, conns=c))
                flw.append(run_logwire_fan_in(exe, frames, n, b, len(expect), c))
                same = sorted(open(b, "rb").read().splitlines()) == sorted(expect.splitlines())
                print("fan-in %d run %d: cookbook %.0f rec/s, logwire %.0f rec/s, same lines: %s"
                      % (c, run, fcook[-1], flw[-1], same))
                drop(a, b)
            print("fan-in %d median: cookbook %.0f rec/s, logwire %.0f rec/s (%.1fx the cookbook); "
                  "logwire fan-in / one connection: %.2fx"
                  % (c, med(fcook), med(flw), med(flw) / med(fcook), med(flw) / med(lw)))
        if "signed" in parts:
            signed_path = os.path.join(d, "signed.bin")
            key_path = os.path.join(d, "record.key")
            gen_signed_frames(frames_path, signed_path, key_path)
            signed = open(signed_path, "rb").read()
            slw = []
            for run in range(args.runs):
                b = os.path.join(d, "signed-%d.log" % run)
                slw.append(run_logwire(exe, signed, n, b, len(expect), ("--record-key", key_path)))
                same = open(b, "rb").read() == expect
                print("signed run %d: logwire %.0f rec/s, output identical to the unsigned: %s" % (run, slw[-1], same))
                drop(b)
            print("signed median: %.0f rec/s; signed / unsigned: %.2fx" % (med(slw), med(slw) / med(lw)))
        if "decode" in parts:
            py_ns = decode_python(frames_path)
            out = subprocess.run([decode_exe(exe), frames_path, "5"],
                                 capture_output=True, text=True, check=True).stdout
            lw_ns = json.loads(out)["ns_per_record"]
            print("decode only: python pickle.loads+makeLogRecord %.0f ns/rec, logwire %.0f ns/rec, ratio %.1fx"
                  % (py_ns, lw_ns, py_ns / lw_ns))
        if "udp" in parts:
            for rate, loss in udp_loss(exe, frames_path, [10_000, 50_000, 100_000], args.udp_count).items():
                print("udp paced %d/s: loss %.2f%%" % (rate, loss))


if __name__ == "__main__":
    main()
