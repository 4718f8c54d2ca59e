"""logwire_helper.listen(): CPython's logging.config.listen with the verifier built in, driven
by the real `logwire send-config`, by the helper's own sender and by the hostile cases the
Rust listener's tests use (oversized prefix, truncated frame, silent client, slow body,
unsigned, replayed, policy-violating and unparseable configs)."""

import json
import logging
import logging.config
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import logwire_helper  # noqa: E402
from logwire_helper import config as lc  # noqa: E402
from support import HMAC_LINE, logwire_bin  # noqa: E402

LOGGER = "lwtest.listener"


def file_config(name, level="INFO"):
    return {"version": 1, "disable_existing_loggers": False,
            "formatters": {"f": {"format": "%(levelname)s %(message)s"}},
            "handlers": {"f": {"class": "logging.FileHandler", "filename": name,
                               "formatter": "f", "delay": True}},
            "loggers": {LOGGER: {"handlers": ["f"], "level": level, "propagate": False}}}


class Listen(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.key = os.path.join(self.tmp.name, "push.hmac")
        with open(self.key, "w") as f:
            f.write(HMAC_LINE + "\n")
        os.chmod(self.key, 0o600)
        self.root = os.path.realpath(os.path.join(self.tmp.name, "logs"))
        os.mkdir(self.root)
        self.state = os.path.join(self.tmp.name, "seq.json")
        self.reasons = []
        log = logging.getLogger(LOGGER)
        saved = (log.handlers[:], log.level, log.propagate)

        def restore():
            for h in log.handlers:
                h.close()
            log.handlers[:], log.level, log.propagate = saved
        self.addCleanup(restore)
        self.t = logwire_helper.listen(0, keys=[self.key], state_file=self.state,
                                       file_root=self.root, on_reject=self.reasons.append,
                                       header_timeout=1.0, body_timeout=1.0)
        self.t.start()
        self.addCleanup(self.t.stop)
        self.assertTrue(self.t.ready.wait(5))
        self.addr = ("127.0.0.1", self.t.port)

    def send(self, doc, seq, key=True):
        text = doc if isinstance(doc, str) else json.dumps(doc)
        return lc.send_config(text, self.addr, self.key if key else None, seq=seq, timeout=10)

    def test_logwire_send_config_and_the_helper_sender(self):
        path = os.path.join(self.tmp.name, "push.json")
        with open(path, "w") as f:
            json.dump(file_config("app.log"), f)
        r = subprocess.run([logwire_bin(), "send-config", path, "--to", "%s:%d" % self.addr,
                            "--key", self.key, "--seq", "10"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("applied", r.stdout + r.stderr)
        log = logging.getLogger(LOGGER)
        log.info("through the pushed config")
        for h in log.handlers:
            h.flush()
        with open(os.path.join(self.root, "app.log")) as f:
            self.assertEqual(f.read(), "INFO through the pushed config\n")
        # The same seq again: a replay, refused, and send-config says so (exit 1).
        r = subprocess.run([logwire_bin(), "send-config", path, "--to", "%s:%d" % self.addr,
                            "--key", self.key, "--seq", "10"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("not greater than the last applied seq", r.stdout + r.stderr)
        # The helper's sender gets the reply dict.
        reply = self.send(file_config("app.log", level="ERROR"), 11)
        self.assertEqual(reply, {"status": "applied", "seq": 11})
        self.assertEqual(log.level, logging.ERROR)
        self.assertEqual(self.t.applied, 2)

    def test_policy_rejections_are_answered_and_burn_nothing(self):
        for doc, why in [
            (file_config("/etc/passwd"), "outside the file root"),
            ({"version": 1, "formatters": {"f": {"class": "logging.FileHandler",
                                                  "format": "/tmp/x", "datefmt": "w"}}},
             "only logging.Formatter"),
            ({"version": 1, "root": {"level": "NTOSET"}}, "unknown level 'NTOSET'"),
            ({"version": 1, "handlers": {"h": {"()": "os.system"}}}, "factories"),
            ("{not json", "not valid JSON"),
        ]:
            with self.subTest(why):
                reply = self.send(doc, 20)
                self.assertEqual(reply["status"], "rejected", reply)
                self.assertIn(why, reply["reason"])
                self.assertEqual(reply["seq"], 20)
        self.assertFalse(os.path.exists(self.state), "a refused config burned its seq")
        self.assertEqual(self.send({"version": 1}, 20), {"status": "applied", "seq": 20})

    def test_a_config_cpython_fails_on_is_answered_with_its_error(self):
        # Passes every check, but the directory beneath the root does not exist: CPython's
        # FileHandler fails to open it. The sender learns why; the seq was burned.
        doc = file_config("missing-dir/app.log")
        doc["handlers"]["f"]["delay"] = False
        reply = self.send(doc, 40)
        self.assertEqual(reply["status"], "rejected", reply)
        self.assertIn("CPython could not apply it", reply["reason"])
        self.assertIn("FileNotFoundError", reply["reason"] + str(reply))
        self.assertEqual(self.send(doc, 40)["status"], "rejected")   # replay refused
        self.assertIn("not greater than", self.t.last_reply["reason"])

    def test_unsigned_is_refused(self):
        reply = self.send({"version": 1}, 1, key=False)
        self.assertEqual(reply["status"], "rejected")
        self.assertIn("not a signed LWC1 config", reply["reason"])

    def raw(self):
        s = socket.create_connection(self.addr, timeout=10)
        self.addCleanup(s.close)
        return s

    def reply_of(self, s):
        head = s.recv(4)
        if not head:
            return None
        (n,) = struct.unpack(">L", head)
        body = b""
        while len(body) < n:
            chunk = s.recv(n - len(body))
            if not chunk:
                break
            body += chunk
        return json.loads(body)

    def test_oversized_prefix_is_refused_before_the_body(self):
        s = self.raw()
        s.sendall(struct.pack(">L", 0xFFFFFFFF))
        reply = self.reply_of(s)
        self.assertEqual(reply["status"], "rejected")
        self.assertIn("larger than the limit", reply["reason"])

    def test_truncated_frame_and_silent_client_do_not_spin_or_block(self):
        t0 = time.process_time()
        s = self.raw()
        s.sendall(struct.pack(">L", 1000) + b"LWC1" + bytes(20))
        s.shutdown(socket.SHUT_WR)          # EOF mid-frame
        self.assertEqual(s.recv(1), b"")     # dropped, connection closed, no reply
        idle = self.raw()                   # connects and says nothing
        slow = self.raw()
        slow.sendall(struct.pack(">L", 100) + b"LW")   # then nothing: the body deadline
        time.sleep(1.5)
        # Deadlines closed both; the listener still serves.
        self.assertEqual(idle.recv(1), b"")
        self.assertEqual(slow.recv(1), b"")
        self.assertEqual(self.send({"version": 1}, 30)["status"], "applied")
        self.assertLess(time.process_time() - t0, 1.0, "the listener spun")

    def test_stop_returns_while_a_client_is_connected(self):
        self.raw()
        partial = self.raw()
        partial.sendall(struct.pack(">L", 100))
        t0 = time.monotonic()
        logging.config.stopListening()      # CPython's own stop call works too
        self.t.join(5)
        self.assertFalse(self.t.is_alive())
        self.assertLess(time.monotonic() - t0, 2.0)

    def test_arguments(self):
        with self.assertRaisesRegex(ValueError, "needs at least one key"):
            logwire_helper.listen(0, keys=[], state_file=self.state)
        with self.assertRaisesRegex(ValueError, "state_file"):
            logwire_helper.listen(0, keys=[self.key])


if __name__ == "__main__":
    unittest.main()
