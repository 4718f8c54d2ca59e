#!/usr/bin/env python3
"""Instructions per record of `logwire serve`, counted by callgrind (repeatable on a noisy host).

Two measures, each the difference of two runs so that start-up and shutdown cancel out:

  decode   the `decode_frames` example of logwire-bench, `decode_frames FRAMES N` (pickle parse
           + record mapping): (Ir(rounds=3) - Ir(rounds=1)) / (2 * frames). Build it with
           `cargo build --release -p logwire-bench --example decode_frames`.
  pipeline `logwire serve --tcp --config <FileHandler, the benchmark's format>` under callgrind
           while one TCP connection streams the frames, then SIGTERM:
           (Ir(big) - Ir(small)) / (big - small) records, every thread of the process counted.

    python3 crates/bench/scripts/callgrind_receive.py [--logwire target/release/logwire]
"""

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from receive_vs_cookbook import gen_frames, serve_port, write_file_config  # noqa: E402


def total_ir(out_file):
    with open(out_file) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError("no totals in " + out_file)


def callgrind(args, out_file, **kw):
    return subprocess.Popen(["valgrind", "--tool=callgrind", "--trace-children=no",
                             "--callgrind-out-file=" + out_file] + args, **kw)


def decode_ir(exe, frames_path, n, d):
    irs = []
    for rounds in (1, 3):
        out = os.path.join(d, "cg.decode.%d" % rounds)
        decode = os.path.join(os.path.dirname(exe), "examples", "decode_frames")
        p = callgrind([decode, frames_path, str(rounds)], out,
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        p.wait()
        irs.append(total_ir(out))
    return (irs[1] - irs[0]) / (2 * n)


def frames_prefix(data, n):
    pos = 0
    for _ in range(n):
        pos += 4 + int.from_bytes(data[pos:pos + 4], "big")
    return data[:pos]


def pipeline_run(exe, data, n, d):
    log = os.path.join(d, "pipe-%d.log" % n)
    cfg = write_file_config(log)
    out = os.path.join(d, "cg.pipe.%d" % n)
    p = callgrind([exe, "serve", "--tcp", "127.0.0.1:0", "--config", cfg], out,
                  stderr=subprocess.PIPE, text=True)
    port = serve_port(p)
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(data)
    deadline = time.time() + 600
    lines = 0
    while time.time() < deadline:
        time.sleep(0.2)
        if os.path.exists(log):
            with open(log, "rb") as f:
                lines = f.read().count(b"\n")
            if lines >= n:
                break
    s.close()
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=600)
    if lines != n:
        raise RuntimeError("wrote %d lines of %d" % (lines, n))
    return total_ir(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--logwire", default=os.path.join(os.path.dirname(__file__), "../../../target/release/logwire"))
    ap.add_argument("--decode-frames", type=int, default=5000)
    ap.add_argument("--small", type=int, default=2000)
    ap.add_argument("--big", type=int, default=20000)
    ap.add_argument("--skip-decode", action="store_true")
    ap.add_argument("--skip-pipeline", action="store_true")
    ap.add_argument("--keep", help="directory to keep the callgrind outputs in (for callgrind_annotate)")
    args = ap.parse_args()
    exe = os.path.abspath(args.logwire)
    with tempfile.TemporaryDirectory() as tmp:
        d = args.keep or tmp
        os.makedirs(d, exist_ok=True)
        frames_path = os.path.join(d, "frames.bin")
        gen_frames(frames_path, max(args.big, args.decode_frames))
        data = open(frames_path, "rb").read()
        if not args.skip_decode:
            dec_path = os.path.join(d, "decode.bin")
            with open(dec_path, "wb") as f:
                f.write(frames_prefix(data, args.decode_frames))
            print("decode (parse + map): %.0f instructions/record" % decode_ir(exe, dec_path, args.decode_frames, d))
        if not args.skip_pipeline:
            small = pipeline_run(exe, frames_prefix(data, args.small), args.small, d)
            big = pipeline_run(exe, frames_prefix(data, args.big), args.big, d)
            print("pipeline (TCP -> FileHandler): %.0f instructions/record (Ir %d for %d, %d for %d)"
                  % ((big - small) / (args.big - args.small), small, args.small, big, args.big))


if __name__ == "__main__":
    main()
