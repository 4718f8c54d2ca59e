#!/usr/bin/env python3
"""Side by side: `logwire audit`, Bandit and Ruff on the audit corpus (and, with --stdlib, on
this machine's CPython standard library for speed).

Creates its own venv (default target/audit-compare-venv), pip-installs pinned Bandit and Ruff
from PyPI, runs the three tools on testdata/audit/ and scores the listen and pickle cases
against testdata/audit/expected.json, the reviewed ground truth:

  listen: listen-no-verify and listen-weak-verify sites (Bandit B612, Ruff S612)
  pickle: pickle-receiver sites (Bandit B301, Ruff S301)

A tool's finding counts as a true positive when the expected file has a site of the same
kind on the same line; anything else of those kinds is a false positive. Exit status 1 if
logwire misses a site Bandit or Ruff finds, misses any expected site, or reports a false
positive; 2 if a tool could not be installed or run.

  python3 crates/audit/scripts/compare.py --binary target/debug/logwire
  python3 crates/audit/scripts/compare.py --binary target/release/logwire --stdlib
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import sysconfig
import time
import venv

BANDIT = "bandit==1.9.4"
RUFF = "ruff==0.17.6"

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CORPUS = os.path.join(ROOT, "testdata", "audit")

LOGWIRE_KIND = {"listen-no-verify": "listen", "listen-weak-verify": "listen", "pickle-receiver": "pickle"}
BANDIT_KIND = {"B612": "listen", "B301": "pickle"}
RUFF_KIND = {"S612": "listen", "S301": "pickle"}


def die(msg):
    print("compare.py: " + msg, file=sys.stderr)
    sys.exit(2)


def ensure_venv(path):
    bindir = os.path.join(path, "bin")
    bandit, ruff = os.path.join(bindir, "bandit"), os.path.join(bindir, "ruff")
    stamp = os.path.join(path, "installed.txt")
    want = BANDIT + " " + RUFF
    if os.path.exists(stamp) and open(stamp).read() == want and os.path.exists(bandit) and os.path.exists(ruff):
        return bandit, ruff
    print("creating %s and installing %s, %s from PyPI" % (path, BANDIT, RUFF), flush=True)
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(path)
    except Exception as e:  # ensurepip missing (Debian: python3-venv), disk full, ...
        die("cannot create a venv at %s: %s" % (path, e))
    r = subprocess.run([os.path.join(bindir, "pip"), "install", "-q", BANDIT, RUFF])
    if r.returncode != 0:
        die("pip could not install %s and %s" % (BANDIT, RUFF))
    with open(stamp, "w") as f:
        f.write(want)
    return bandit, ruff


def rel(p):
    return os.path.basename(p)


def run_logwire(binary, target):
    r = subprocess.run([binary, "audit", "--format", "json", target], capture_output=True, text=True)
    if r.returncode not in (0, 1):
        die("logwire audit exited %d: %s" % (r.returncode, r.stderr.strip()))
    return json.loads(r.stdout)["findings"]


def run_bandit(bandit, target):
    r = subprocess.run([bandit, "-q", "-f", "json", "-r", target], capture_output=True, text=True)
    if r.returncode not in (0, 1):
        die("bandit exited %d: %s" % (r.returncode, r.stderr.strip()[-300:]))
    return json.loads(r.stdout)


def run_ruff(ruff, target, select="S301,S612"):
    r = subprocess.run(
        [ruff, "check", "--isolated", "--no-cache", "--select", select, "--output-format", "json", target],
        capture_output=True, text=True,
    )
    if r.returncode not in (0, 1):
        die("ruff exited %d: %s" % (r.returncode, r.stderr.strip()[-300:]))
    return json.loads(r.stdout)


def score(name, found, truth):
    """found, truth: sets of (file, line, kind)."""
    rows = []
    for kind in ("listen", "pickle"):
        t = {x for x in truth if x[2] == kind}
        f = {x for x in found if x[2] == kind}
        tp, fp = f & t, f - t
        rows.append((kind, len(tp), len(t), sorted(fp)))
    line = "  %-8s" % name
    for kind, tp, total, fp in rows:
        line += "  %s: recall %d/%d (%3.0f%%), %d false positive%s" % (
            kind, tp, total, 100.0 * tp / total if total else 100.0, len(fp), "" if len(fp) == 1 else "s")
    print(line)
    for kind, _, _, fp in rows:
        for f in fp:
            print("           false positive: %s:%d (%s)" % f)
    return found & truth


def corpus(binary, bandit, ruff):
    expected = json.load(open(os.path.join(CORPUS, "expected.json")))
    truth = {(f, s["line"], LOGWIRE_KIND[s["rule"]]) for f, sites in expected.items() for s in sites
             if s["rule"] in LOGWIRE_KIND}

    lw = {(rel(x["path"]), x["line"], LOGWIRE_KIND[x["rule"]]) for x in run_logwire(binary, CORPUS)
          if x["rule"] in LOGWIRE_KIND}
    b = run_bandit(bandit, CORPUS)
    bd = {(rel(x["filename"]), x["line_number"], BANDIT_KIND[x["test_id"]]) for x in b["results"]
          if x["test_id"] in BANDIT_KIND}
    rf = {(rel(x["filename"]), x["location"]["row"], RUFF_KIND[x["code"]]) for x in run_ruff(ruff, CORPUS)
          if x["code"] in RUFF_KIND}

    files = len([n for n in os.listdir(CORPUS) if n.endswith(".py")])
    print("corpus: %d files, %d listen and %d pickle sites (testdata/audit/expected.json)" % (
        files, len({x for x in truth if x[2] == "listen"}), len({x for x in truth if x[2] == "pickle"})))
    lw_tp = score("logwire", lw, truth)
    b_tp = score("bandit", bd, truth)
    r_tp = score("ruff", rf, truth)
    if b["errors"]:
        print("  bandit could not parse: " + ", ".join(rel(e["filename"]) for e in b["errors"]))

    problems = []
    for tool, tp in (("bandit", b_tp), ("ruff", r_tp)):
        for miss in sorted(tp - lw_tp):
            problems.append("logwire misses %s:%d (%s), which %s finds" % (miss + (tool,)))
    for miss in sorted(truth - lw):
        problems.append("logwire misses expected %s:%d (%s)" % miss)
    for fp in sorted(lw - truth):
        problems.append("logwire reports a false positive at %s:%d (%s)" % fp)
    only = truth & lw - b_tp - r_tp
    print("  sites only logwire finds: %d of %d" % (len(only), len(truth)))
    for p in problems:
        print("FAIL: " + p)
    return not problems


def timed(cmd):
    """(wall seconds, CPU seconds user+system, stdout). CPU time is the fairer figure on a
    shared machine: wall time there depends on what else runs."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, r.stdout


def stdlib(binary, bandit, ruff, runs):
    lib = sysconfig.get_paths()["stdlib"]
    # The standard library only: a pyenv or venv Python keeps site-packages beneath it.
    paths = sorted(os.path.join(lib, n) for n in os.listdir(lib) if n != "site-packages")
    files = sum(1 for p in paths for _ in ([p] if p.endswith(".py") else
                [f for d, _, fs in os.walk(p) for f in fs if f.endswith((".py", ".pyw"))]))
    print("stdlib: %s (%d Python files, site-packages left out)" % (lib, files))
    best, cpu, out = {}, {}, {}
    for name, cmd in (
        ("logwire", [binary, "audit", "--format", "json"] + paths),
        ("ruff", [ruff, "check", "--isolated", "--no-cache", "--select", "S301,S612", "--output-format", "json"] + paths),
        ("bandit", [bandit, "-q", "-f", "json", "-r"] + paths),
    ):
        n = 1 if name == "bandit" else runs
        results = [timed(cmd) for _ in range(n)]
        best[name] = min(r[0] for r in results)
        cpu[name] = min(r[1] for r in results)
        out[name] = results[0][2]
        print("  %-8s best of %d: %.2f s wall, %.2f s CPU" % (name, n, best[name], cpu[name]), flush=True)
    print("  logwire is %.0fx faster than bandit in wall time, %.0fx in CPU time; ruff (S301,S612 only) "
          "takes %.2fx logwire's wall time" % (best["bandit"] / best["logwire"], cpu["bandit"] / cpu["logwire"],
                                                best["ruff"] / best["logwire"]))
    print("  load average now: %.2f %.2f %.2f (2 cores)" % os.getloadavg())
    try:
        b = json.loads(out["bandit"])
        kinds = [BANDIT_KIND[x["test_id"]] for x in b["results"] if x["test_id"] in BANDIT_KIND]
        print("  bandit in the stdlib: %d B612 (listen), %d B301 (pickle); %d files it could not parse" % (
            kinds.count("listen"), kinds.count("pickle"), len(b["errors"])))
        r = json.loads(out["ruff"])
        kinds = [RUFF_KIND[x["code"]] for x in r if x["code"] in RUFF_KIND]
        print("  ruff in the stdlib: %d S612 (listen), %d S301 (pickle)" % (kinds.count("listen"), kinds.count("pickle")))
    except (ValueError, KeyError) as e:
        print("  (could not read bandit/ruff output: %s)" % e)
    findings = json.loads(out["logwire"])["findings"]
    print("  logwire findings in the stdlib: %d" % len(findings))
    for f in findings:
        print("    %s:%d:%d %s  %s" % (os.path.relpath(f["path"], lib), f["line"], f["column"], f["rule"],
                                      f["source"].strip()[:80]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "debug", "logwire"),
                    help="the logwire binary (default target/debug/logwire)")
    ap.add_argument("--venv", default=os.path.join(ROOT, "target", "audit-compare-venv"),
                    help="where to create the venv with Bandit and Ruff")
    ap.add_argument("--stdlib", action="store_true",
                    help="also time the three tools on this Python's standard library")
    ap.add_argument("--runs", type=int, default=3, help="timed runs of logwire and ruff (best is kept)")
    a = ap.parse_args()
    if not os.access(a.binary, os.X_OK):
        die("no logwire binary at %s (cargo build -p logwire-cli)" % a.binary)
    bandit, ruff = ensure_venv(a.venv)
    ok = corpus(a.binary, bandit, ruff)
    if a.stdlib:
        stdlib(a.binary, bandit, ruff, a.runs)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
