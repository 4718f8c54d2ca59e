"""SignedSocketHandler against the real `logwire serve` binary, from real CPython processes:
no record is lost or stored twice across collector restarts (SIGTERM, then SIGKILL), a handler
shared across os.fork() keeps both processes' records (issue 14 bugs 2 and 3), and what
report() says is true."""

import json
import os
import signal
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support import Collector, count_exact, run_python, start_python  # noqa: E402

SENDER = r"""
import json, logging, sys, time
import logwire_helper as lh
host, port, key, n, rate = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
h = lh.SignedSocketHandler(host, port, key, ack=True)
log = logging.getLogger("restarts")
log.propagate = False
log.setLevel(logging.INFO)
log.addHandler(h)
start = time.monotonic()
for i in range(n):
    # Paced: record i leaves at start + i/rate.
    delay = start + i / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    log.info("<rec %05d>", i)
    if i % 500 == 0:
        print("progress", i, flush=True)
sent_for = time.monotonic() - start
h.close(timeout=120)
print("report", json.dumps(h.report()._asdict()), "seconds", round(sent_for, 2), flush=True)
"""

FORKER = r"""
import json, logging, os, sys
import logwire_helper as lh
host, port, key, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
h = lh.SignedSocketHandler(host, port, key, ack=True)
log = logging.getLogger("fork")
log.propagate = False
log.setLevel(logging.INFO)
log.addHandler(h)
for i in range(10):
    log.info("<pre %05d>", i)
assert h.wait_acked(30), "the records before the fork were not acknowledged"
parent_epoch = h.epoch
pid = os.fork()
who = "c" if pid == 0 else "p"
for i in range(1000):
    log.info("<" + who + " %05d>", i)
h.close(timeout=60)
r = h.report()
with open(out + "." + who, "w") as f:
    f.write(" ".join([who, json.dumps(r._asdict()), h.epoch.hex(), parent_epoch.hex()]))
if pid == 0:
    os._exit(0 if r.acked == 1000 and r.dropped == 0 else 3)
_, status = os.waitpid(pid, 0)
sys.exit(0 if status == 0 and r.acked == 1010 and r.dropped == 0 else 4)
"""


class Restarts(unittest.TestCase):
    def test_sigterm_and_sigkill_restarts_lose_nothing_and_store_once(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        c = Collector(tmp.name).start()
        self.addCleanup(c.close)
        n, rate = 20000, 2500
        p = start_python(SENDER, "127.0.0.1", c.port, c.key, n, rate)
        self.addCleanup(lambda: p.poll() is None and p.kill())

        def stored():
            return len(c.lines())

        def wait_stored(at_least, limit=60):
            end = time.monotonic() + limit
            while stored() < at_least:
                self.assertLess(time.monotonic(), end, "the collector stopped receiving "
                                "(%d stored)" % stored())
                time.sleep(0.05)

        # A stop while records flow, a restart a second later, and the same with kill -9
        # once the restarted collector has stored more.
        wait_stored(3000)
        c.stop(signal.SIGTERM)
        at_term = stored()
        time.sleep(1.0)
        c.start()
        wait_stored(at_term + 2000)
        c.stop(signal.SIGKILL)
        at_kill = stored()
        time.sleep(1.0)
        c.start()
        out, err = p.communicate(timeout=300)
        self.assertEqual(p.returncode, 0, err)
        self.assertLess(at_kill, n, "the stream ended before the kill: the test proved nothing")
        report = json.loads(out.split("report ", 1)[1].split(" seconds")[0])
        c.stop(signal.SIGTERM)

        seen, other = count_exact(c.lines(), r"<rec (\d{5})>")
        missing = [i for i in range(n) if "%05d" % i not in seen]
        twice = {k: v for k, v in seen.items() if v != 1}
        # A kill -9 in the middle of the collector's batched write can leave a partial line
        # (README, guarantees table); the record it cut was not acknowledged and is stored
        # again whole, so it is not missing.
        self.assertLessEqual(len(other), 1, other[:5])
        self.assertEqual(missing, [], "lost %d records" % len(missing))
        self.assertEqual(twice, {}, "stored more than once")
        self.assertEqual(report["emitted"], n)
        self.assertEqual(report["acked"], n, report)
        self.assertEqual(report["dropped"], 0, report)
        self.assertEqual(report["pending"], 0, report)
        self.assertGreaterEqual(report["reconnects"], 2, report)
        self.assertEqual(c.starts, 3)
        sys.stderr.write("\n  restarts: %s, %d partial lines, collector stored %d at SIGTERM, "
                         "%d at SIGKILL\n" % (report, len(other), at_term, at_kill))


class Fork(unittest.TestCase):
    def test_a_handler_shared_across_fork_keeps_both_processes_records(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        c = Collector(tmp.name).start()
        self.addCleanup(c.close)
        reports = os.path.join(tmp.name, "report")
        r = run_python(FORKER, "127.0.0.1", c.port, c.key, reports, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        c.stop(signal.SIGTERM)
        lines = c.lines()
        for who, count in (("pre", 10), ("p", 1000), ("c", 1000)):
            seen, _ = count_exact(lines, "<" + who + r" (\d{5})>")
            self.assertEqual(sorted(seen), ["%05d" % i for i in range(count)], who)
            self.assertEqual(set(seen.values()), {1}, who)
        self.assertEqual(len(lines), 2010)
        got = {}
        for who in ("p", "c"):
            with open(reports + "." + who) as f:
                got[who] = f.read().split()
        child_epoch, parent_epoch = got["c"][-2:]
        self.assertNotEqual(child_epoch, parent_epoch, "the child kept the parent's epoch")
        self.assertEqual(got["p"][-2], parent_epoch)


MP_SENDER = r"""
import json, logging, multiprocessing, os, sys
import logwire_helper as lh
host, port, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
h = lh.SignedSocketHandler(host, port, key, ack=True)
log = logging.getLogger("mp")
log.propagate = False
log.setLevel(logging.INFO)
log.addHandler(h)
log.info("<mp parent 00000>")

def work(i):
    # Returns straight after logging: multiprocessing ends the child with os._exit, which
    # skips logging.shutdown; the handler must still deliver what it buffered.
    for j in range(200):
        log.info("<mp w%d %05d>", i, j)

if __name__ == "__main__":
    ctx = multiprocessing.get_context("fork")
    ps = [ctx.Process(target=work, args=(i,)) for i in range(3)]
    for p in ps:
        p.start()
    for p in ps:
        p.join(60)
    h.close()
    sys.exit(0 if all(p.exitcode == 0 for p in ps) and h.report().acked == 1 else 5)
"""


class Multiprocessing(unittest.TestCase):
    def test_fork_workers_that_exit_through_os_exit_deliver_everything(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        c = Collector(tmp.name).start()
        self.addCleanup(c.close)
        script = os.path.join(tmp.name, "mp_sender.py")
        with open(script, "w") as f:
            f.write(MP_SENDER)
        r = run_python("import runpy, sys; sys.argv = sys.argv[1:]; "
                       "runpy.run_path(sys.argv[0], run_name='__main__')",
                       script, "127.0.0.1", c.port, c.key, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        c.stop(signal.SIGTERM)
        lines = c.lines()
        for i in range(3):
            seen, _ = count_exact(lines, "<mp w%d " % i + r"(\d{5})>")
            self.assertEqual(sorted(seen), ["%05d" % j for j in range(200)],
                             "worker %d: %s" % (i, r.stderr[-3000:]))
            self.assertEqual(set(seen.values()), {1})
        self.assertEqual(lines.count("<mp parent 00000>"), 1)


DGRAM_FORKER = r"""
import logging, os, sys
import logwire_helper as lh
port, key = int(sys.argv[1]), sys.argv[2]
h = lh.SignedDatagramHandler("127.0.0.1", port, key)
log = logging.getLogger("dgram")
log.propagate = False
log.addHandler(h)
log.warning("before")
pid = os.fork()
log.warning("child" if pid == 0 else "parent")
if pid == 0:
    os._exit(0)
os.waitpid(pid, 0)
"""


class DatagramFork(unittest.TestCase):
    def test_a_forked_child_signs_under_its_own_epoch(self):
        import socket
        import struct
        from support import HMAC_LINE
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        key = os.path.join(tmp.name, "k")
        with open(key, "w") as f:
            f.write(HMAC_LINE + "\n")
        rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(rx.close)
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(10)
        r = run_python(DGRAM_FORKER, rx.getsockname()[1], key, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        frames = [rx.recv(65536) for _ in range(3)]
        ids = sorted((f[4 + 16:4 + 32].hex(), struct.unpack(">Q", f[4 + 32:4 + 40])[0])
                     for f in frames)
        epochs = {e for e, _ in ids}
        self.assertEqual(len(epochs), 2, ids)          # parent's and child's
        self.assertEqual(len(set(ids)), 3, ids)        # no (epoch, seq) sent twice


if __name__ == "__main__":
    unittest.main()
