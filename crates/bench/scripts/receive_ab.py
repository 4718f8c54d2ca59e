#!/usr/bin/env python3
"""A/B of `logwire serve` builds on the TCP part of receive_vs_cookbook.py, runs interleaved.

The machine's load moves by more than most changes are worth, so two builds are compared run
by run in the same minutes: A, B, A, B, ... Each run streams N CPython-made frames over one
TCP connection into `logwire serve --config` (FileHandler) and reports records/s (first byte
sent -> last line written) and the process's CPU time per record (/proc, all threads). Every
output is compared with the cookbook receiver's, which runs once first.

Usage: python3 crates/bench/scripts/receive_ab.py OLD_BINARY NEW_BINARY [--records N] [--runs N]
"""

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import receive_vs_cookbook as rvc  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binaries", nargs=2)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=8)
    args = ap.parse_args()
    exes = [os.path.abspath(b) for b in args.binaries]
    med = lambda xs: sorted(xs)[len(xs) // 2]
    with tempfile.TemporaryDirectory() as d:
        frames_path = os.path.join(d, "frames.bin")
        rvc.gen_frames(frames_path, args.records)
        frames = open(frames_path, "rb").read()
        ref = os.path.join(d, "cookbook.log")
        cook = rvc.run_cookbook(frames, args.records, ref)
        expect = open(ref, "rb").read()
        rates = {e: [] for e in exes}
        cpus = {e: [] for e in exes}
        for i in range(args.runs):
            for e in exes:
                out = os.path.join(d, "out-%d.log" % i)
                if os.path.exists(out):
                    os.remove(out)
                rate, cpu = rvc.run_logwire_measured(e, frames, args.records, out, len(expect))
                if open(out, "rb").read() != expect:
                    print("OUTPUT DIFFERS from the cookbook's: %s run %d" % (e, i))
                rates[e].append(rate)
                cpus[e].append(cpu)
        print("frames: %d; cookbook (once): %.0f rec/s" % (args.records, cook))
        for tag, e in zip("AB", exes):
            print("%s %s: median %.0f rec/s, CPU %.0f ns/record; runs %s"
                  % (tag, e, med(rates[e]), med(cpus[e]), " ".join("%.0f" % x for x in rates[e])))
        a, b = exes
        print("B/A: %.2fx (medians)" % (med(rates[b]) / med(rates[a])))


if __name__ == "__main__":
    main()
