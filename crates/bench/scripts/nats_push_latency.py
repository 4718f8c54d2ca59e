#!/usr/bin/env python3
"""Push-to-live latency: one signed config through a JetStream key-value bucket to three
`logwire serve --listen nats://…` listeners, against a direct socket push (to one listener,
and to the three one after the other). Every push is `logwire send-config` run as a process,
timed from its start to its exit; it exits once every listener has replied "applied", and a
listener replies only after the config is live, so the time is push-to-live plus the same
process start, key load and signing on both sides.

Usage: crates/bench/scripts/nats_push_latency.py [ITERATIONS]   (default 30)
Needs nats-server (Debian package) and a built binary: LOGWIRE_BIN, default target/debug/logwire
(cargo build -p logwire-cli). Prints one JSON line per kind and the medians' ratio.
"""
import json, os, re, statistics, subprocess, sys, tempfile, threading, time

n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..")
bin_ = os.environ.get("LOGWIRE_BIN", os.path.join(root, "target", "debug", "logwire"))
tmp = tempfile.mkdtemp(prefix="nats-push-bench-")
procs = []


def watch(proc, pattern, lines):
    """Collects stderr lines; returns the first match of `pattern` (waits up to 30 s)."""
    found = threading.Event()
    box = {}

    def run():
        for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            lines.append(line)
            m = re.search(pattern, line)
            if m and not found.is_set():
                box["m"] = m
                found.set()

    threading.Thread(target=run, daemon=True).start()
    if not found.wait(30):
        sys.exit("timed out waiting for %r: %s" % (pattern, lines[-5:]))
    return box["m"]


try:
    nats = subprocess.Popen(
        ["nats-server", "-js", "-a", "127.0.0.1", "-p", "-1", "-sd", os.path.join(tmp, "js")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    procs.append(nats)
    port = watch(nats, r"Listening for client connections on [0-9.]+:(\d+)", []).group(1)
    url = "nats://127.0.0.1:%s/logconf/bench" % port
    subprocess.run([bin_, "keygen", "--ed25519", os.path.join(tmp, "ops")], check=True,
                   capture_output=True)
    socket_addrs = []
    for name in "abc":
        p = subprocess.Popen(
            [bin_, "serve", "--tcp", "127.0.0.1:0", "--listen", "127.0.0.1:0",
             "--listen=" + url, "--listen-key", os.path.join(tmp, "ops.pub"),
             "--listen-state-dir", os.path.join(tmp, "state-" + name)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(p)
        lines = []
        socket_addrs.append(watch(p, r"config listener on tcp (\S+)", lines).group(1))
        deadline = time.time() + 30
        while not any("watching nats://" in l for l in lines):
            if time.time() > deadline:
                sys.exit("serve %s never watched the bucket: %s" % (name, lines))
            time.sleep(0.01)
    config = os.path.join(tmp, "c.json")
    seq = [0]

    def push(to, extra=()):
        seq[0] += 1
        with open(config, "w") as f:
            json.dump({"version": 1, "root": {"level": ["INFO", "WARNING"][seq[0] % 2]}}, f)
        t = time.perf_counter()
        r = subprocess.run([bin_, "send-config", config, "--to", to, "--seq", str(seq[0]),
                            "--key", os.path.join(tmp, "ops.key")] + list(extra),
                           capture_output=True)
        dt = time.perf_counter() - t
        if r.returncode != 0:
            sys.exit("send-config failed: %s %s" % (r.stdout, r.stderr))
        return dt

    kinds = {"bucket, 3 listeners": [], "socket, 1 listener": [], "socket, 3 listeners in turn": []}
    for _ in range(n):
        kinds["bucket, 3 listeners"].append(push(url, ["--expect", "3"]))
        kinds["socket, 1 listener"].append(push(socket_addrs[0]))
        t = 0.0
        for a in socket_addrs:
            t += push(a)
        # Three pushes with three seqs: each listener applies its own; the sum is the time to
        # make the config live on all three by socket pushes one after the other.
        kinds["socket, 3 listeners in turn"].append(t)
    med = {}
    for k, v in kinds.items():
        v.sort()
        med[k] = statistics.median(v)
        print(json.dumps({"kind": k, "n": len(v), "median_ms": round(med[k] * 1e3, 2),
                          "p90_ms": round(v[int(len(v) * 0.9) - 1] * 1e3, 2)}))
    print("bucket(3) / socket(1) median ratio: %.2f" % (med["bucket, 3 listeners"] / med["socket, 1 listener"]))
    print("bucket(3) / socket(3 in turn) median ratio: %.2f" % (med["bucket, 3 listeners"] / med["socket, 3 listeners in turn"]))
finally:
    for p in procs:
        p.kill()
        p.wait()
