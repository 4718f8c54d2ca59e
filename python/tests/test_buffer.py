"""SignedSocketHandler's buffer policies, close timeout and reports, against the real
`logwire serve`: a full buffer drops only what its policy says and counts every drop; what
report() calls acknowledged was stored; JSON payloads carry extras pickle cannot; the handler
works from dictConfig, fileConfig and as a context manager."""

import io
import json
import logging
import logging.config
import os
import signal
import sys
import tempfile
import textwrap
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import logwire_helper as lh  # noqa: E402
from support import Collector, count_exact  # noqa: E402


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.c = Collector(self.tmp.name)          # not started
        self.addCleanup(self.c.close)
        self.log = logging.getLogger("lwtest.buffer.%s" % self.id())
        self.log.propagate = False
        self.log.setLevel(logging.DEBUG)
        self.stderr = io.StringIO()
        self._saved_stderr = sys.stderr

    def handler(self, **kw):
        h = lh.SignedSocketHandler("127.0.0.1", self.c.port, self.c.key, **kw)
        # Backoff of CPython's shape but quick, so the tests need not wait 1, 2, 4 s.
        h.retryStart, h.retryMax = 0.05, 0.2
        self.log.addHandler(h)
        self.addCleanup(lambda: (self.log.removeHandler(h), h.close(timeout=0)))
        return h

    def quiet(self):
        sys.stderr = self.stderr
        self.addCleanup(setattr, sys, "stderr", self._saved_stderr)


class Overflow(Base):
    def test_drop_oldest_keeps_the_newest_and_counts_the_rest(self):
        self.quiet()
        h = self.handler(buffer_records=100, overflow="drop_oldest")
        for i in range(250):
            self.log.info("<r %03d>", i)
        r = h.report()
        self.assertEqual((r.emitted, r.dropped, r.pending, r.acked), (250, 150, 100, 0))
        self.assertIn("dropping records", self.stderr.getvalue())
        self.c.start()
        self.assertTrue(h.wait_acked(30))
        self.assertEqual(h.report().acked, 100)
        h.close()
        self.c.stop()
        seen, other = count_exact(self.c.lines(), r"<r (\d{3})>")
        self.assertEqual(sorted(seen), ["%03d" % i for i in range(150, 250)])
        self.assertEqual(other, [])

    def test_block_waits_then_drops_the_new_record(self):
        self.quiet()
        h = self.handler(buffer_records=10, overflow="block", block_timeout=0.2)
        t = time.monotonic()
        for i in range(13):
            self.log.info("<b %03d>", i)
        took = time.monotonic() - t
        self.assertGreaterEqual(took, 3 * 0.2 * 0.9, "the full buffer did not block")
        r = h.report()
        self.assertEqual((r.emitted, r.dropped, r.pending), (13, 3, 10))
        self.c.start()
        h.close(timeout=30)
        self.c.stop()
        seen, _ = count_exact(self.c.lines(), r"<b (\d{3})>")
        self.assertEqual(sorted(seen), ["%03d" % i for i in range(10)])
        self.assertEqual(h.report().acked, 10)

    def test_block_unblocks_when_acks_make_room(self):
        self.c.start()
        h = self.handler(buffer_records=50, overflow="block", block_timeout=30)
        for i in range(2000):
            self.log.info("<u %04d>", i)
        h.close(timeout=30)
        r = h.report()
        self.assertEqual((r.acked, r.dropped, r.pending), (2000, 0, 0))

    def test_byte_bound(self):
        self.quiet()
        h = self.handler(buffer_bytes=20000, overflow="drop_oldest")
        for i in range(100):
            self.log.info("<y %03d> %s", i, "x" * 900)
        r = h.report()
        self.assertGreater(r.dropped, 70)
        self.assertEqual(r.pending + r.dropped, 100)


class CloseAndReports(Base):
    def test_close_times_out_and_counts_what_was_not_acknowledged(self):
        self.quiet()
        h = self.handler()
        for i in range(20):
            self.log.info("never delivered %d", i)
        t = time.monotonic()
        h.close(timeout=0.5)
        self.assertLess(time.monotonic() - t, 3)
        r = h.report()
        self.assertEqual((r.emitted, r.acked, r.dropped, r.pending), (20, 0, 20, 0))
        self.assertIn("20 of 20 records were not delivered", self.stderr.getvalue())
        self.log.info("after close")
        self.assertEqual(h.report().dropped, 21)

    def test_acked_means_stored(self):
        self.c.start()
        h = self.handler()
        for i in range(500):
            self.log.info("<a %03d>", i)
        self.assertTrue(h.wait_acked(30))
        r = h.report()
        self.assertEqual(r.acked, 500)
        self.assertEqual(h.read_acks(), 500)
        # Acknowledged means the collector's handlers have it: the file holds every record
        # now, before the handler or the collector is closed.
        seen, _ = count_exact(self.c.lines(), r"<a (\d{3})>")
        self.assertEqual(len(seen), 500)

    def test_collector_that_never_acks_gets_no_acked_report(self):
        """A peer that reads but never acknowledges (not a logwire collector): nothing is
        reported acknowledged, and close says so."""
        import socket
        import threading
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        got = bytearray()

        def sink():
            conn, _ = srv.accept()
            with conn:
                while True:
                    b = conn.recv(65536)
                    if not b:
                        return
                    got.extend(b)

        t = threading.Thread(target=sink, daemon=True)
        t.start()
        self.quiet()
        h = lh.SignedSocketHandler("127.0.0.1", srv.getsockname()[1], self.c.key)
        self.log.addHandler(h)
        for i in range(10):
            self.log.info("unacked %d", i)
        h.close(timeout=1.0)
        self.log.removeHandler(h)
        srv.close()
        t.join(5)
        r = h.report()
        self.assertEqual((r.sent, r.acked, r.dropped), (10, 0, 10))
        self.assertGreater(len(got), 10 * 80)


class NoAcks(Base):
    def test_ack_false_sends_and_reports_nothing_as_acknowledged(self):
        self.c.start()
        h = self.handler(ack=False)
        for i in range(300):
            self.log.info("<n %03d>", i)
        self.assertTrue(h.wait_acked(30))      # here: everything written
        h.close()
        r = h.report()
        self.assertEqual((r.sent, r.acked, r.dropped, r.pending), (300, 0, 0, 0))
        self.c.stop()
        seen, _ = count_exact(self.c.lines(), r"<n (\d{3})>")
        self.assertEqual(len(seen), 300)


class Payloads(Base):
    def test_json_payload_carries_an_extra_pickle_cannot(self):
        self.quiet()
        self.c.start()
        hj = self.handler(payload="json")
        hp = self.handler()

        class Conn:
            def __reduce__(self):
                raise TypeError("not picklable")

        self.log.info("<j 1>", extra={"conn": Conn()})
        self.assertTrue(hj.wait_acked(30))
        hj.close()
        hp.close()
        self.assertEqual(hj.report().acked, 1)
        self.assertEqual(hp.report().dropped, 1)   # CPython's handleError, and counted
        self.c.stop()
        self.assertEqual(self.c.lines().count("<j 1>"), 1)

    def test_bad_arguments_are_clear(self):
        with self.assertRaisesRegex(ValueError, "payload must be 'pickle' or 'json'"):
            lh.SignedSocketHandler("127.0.0.1", 1, self.c.key, payload="xml")
        with self.assertRaisesRegex(ValueError, "overflow must be"):
            lh.SignedSocketHandler("127.0.0.1", 1, self.c.key, overflow="spill")
        with self.assertRaisesRegex(ValueError, "replay window"):
            lh.SignedSocketHandler("127.0.0.1", 1, self.c.key, in_flight=5000)
        bad = os.path.join(self.tmp.name, "ed.key")
        with open(bad, "w") as f:
            f.write("ed25519-private:" + "A" * 43 + "=\n")
        with self.assertRaisesRegex(ValueError, "Ed25519 keys sign configs"):
            lh.SignedSocketHandler("127.0.0.1", 1, bad)


class Configured(Base):
    def test_dictconfig_fileconfig_and_context_manager(self):
        self.c.start()
        name = "lwtest.buffer.configured"
        log = logging.getLogger(name)
        saved = (log.handlers[:], log.level, log.propagate)
        try:
            logging.config.dictConfig({
                "version": 1, "disable_existing_loggers": False,
                "handlers": {"lw": {"class": "logwire_helper.SignedSocketHandler",
                                    "host": "127.0.0.1", "port": self.c.port,
                                    "key_file": self.c.key, "payload": "json"}},
                "loggers": {name: {"handlers": ["lw"], "level": "INFO", "propagate": False}}})
            log.info("<cfg dict>")
            h = log.handlers[0]
            self.assertIsInstance(h, lh.SignedSocketHandler)
            h.close()
            self.assertEqual(h.report().acked, 1)
            logging.config.fileConfig(io.StringIO(textwrap.dedent("""\
                [loggers]
                keys=root,app
                [handlers]
                keys=lw
                [formatters]
                keys=
                [logger_root]
                handlers=
                [logger_app]
                qualname=%s
                handlers=lw
                level=INFO
                propagate=0
                [handler_lw]
                class=logwire_helper.SignedSocketHandler
                args=('127.0.0.1', %d, %r)
                """ % (name, self.c.port, self.c.key))), disable_existing_loggers=False)
            log.info("<cfg ini>")
            h = log.handlers[0]
            h.close()
            self.assertEqual(h.report().acked, 1)
        finally:
            for h in log.handlers:
                h.close()
            log.handlers[:], log.level, log.propagate = saved
        with lh.SignedSocketHandler("127.0.0.1", self.c.port, self.c.key) as h:
            self.log.addHandler(h)
            self.log.info("<cfg with>")
        self.log.removeHandler(h)
        self.assertEqual(h.report().acked, 1)
        self.c.stop()
        lines = self.c.lines()
        for m in ("<cfg dict>", "<cfg ini>", "<cfg with>"):
            self.assertEqual(lines.count(m), 1, lines)


if __name__ == "__main__":
    unittest.main()
