"""logwire_helper.config: LWC1 signing against the shared vectors, the verify= callable,
its content policy, and CPython's own logging.config.listen() with it."""

import base64
import io
import json
import logging
import logging.config
import os
import socket
import struct
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from logwire_helper import config as lc  # noqa: E402

VECTORS = Path(__file__).resolve().parents[2] / "testdata" / "vectors" / "envelopes.json"

try:
    import cryptography  # noqa: F401
    HAVE_ED25519 = True
except ImportError:
    HAVE_ED25519 = False


def key_file(d, line):
    fd, p = tempfile.mkstemp(dir=d)
    with os.fdopen(fd, "w") as f:
        f.write(line + "\n")
    return p


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.v = json.loads(VECTORS.read_text())
        cls.tmp = tempfile.TemporaryDirectory()
        k = cls.v["keys"]
        cls.hmac_file = key_file(cls.tmp.name, "hmac:" + k["hmac_key"])
        cls.ed_priv = key_file(cls.tmp.name, "ed25519-private:" + k["ed25519_seed"])
        cls.ed_pub = key_file(cls.tmp.name, "ed25519-public:" + k["ed25519_public"])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def vec(self, name):
        return next(f for f in self.v["config_frames"] if f["name"] == name)

    def key_for(self, vec):
        return self.hmac_file if vec["alg"] == 2 else self.ed_priv


class Vectors(Base):
    def test_key_ids(self):
        self.assertEqual(lc.load_key_file(self.hmac_file).key_id.hex(),
                         self.v["keys"]["hmac_key_id_hex"])
        if HAVE_ED25519:
            self.assertEqual(lc.load_key_file(self.ed_pub).key_id.hex(),
                             self.v["keys"]["ed25519_key_id_hex"])
            self.assertEqual(lc.load_key_file(self.ed_priv).key_id.hex(),
                             self.v["keys"]["ed25519_key_id_hex"])

    def test_config_frames_byte_identical(self):
        for vec in self.v["config_frames"]:
            if vec["alg"] == 1 and not HAVE_ED25519:
                continue
            with self.subTest(vec["name"]):
                frame = lc.sign_config_frame(
                    base64.b64decode(vec["payload"]), self.key_for(vec), vec["seq"],
                    audience=vec["audience"], issued_at_ms=vec["issued_at_ms"],
                    ttl=(vec["expires_at_ms"] - vec["issued_at_ms"]) / 1000)
                self.assertEqual(frame, base64.b64decode(vec["frame"]))

    def test_vectors_verify_and_tampered_does_not(self):
        for vec in self.v["config_frames"]:
            if vec["alg"] == 1 and not HAVE_ED25519:
                continue
            with self.subTest(vec["name"]):
                clock = lambda: (vec["issued_at_ms"] + 1000) / 1000  # noqa: E731
                v = lc.verifier([self.hmac_file] + ([self.ed_pub] if HAVE_ED25519 else []),
                                audience=vec["audience"], clock=clock, on_reject=lambda r: None)
                env = base64.b64decode(vec["frame"])[4:]
                self.assertEqual(v(env), base64.b64decode(vec["payload"]), v.last_reason)
        for bad in self.v["must_reject"]:
            v = lc.verifier([self.hmac_file], clock=lambda: 1763750001.0,
                            on_reject=lambda r: None)
            self.assertIsNone(v(base64.b64decode(bad["frame"])[4:]))
            self.assertIn("signature", v.last_reason)


class VerifierChecks(Base):
    NOW = 1_800_000_000_000

    def make(self, **kw):
        kw.setdefault("clock", lambda: self.NOW / 1000)
        kw.setdefault("on_reject", lambda r: None)
        return lc.verifier([self.hmac_file], **kw)

    def sign(self, payload, seq, **kw):
        kw.setdefault("issued_at_ms", self.NOW)
        return lc.sign_config(payload, self.hmac_file, seq, **kw)

    def test_accepts_and_ratchets(self):
        v = self.make()
        ok = b'{"version": 1}'
        self.assertEqual(v(self.sign(ok, 5)), ok)
        self.assertIsNone(v(self.sign(ok, 5)))
        self.assertIn("not greater", v.last_reason)
        self.assertIsNone(v(self.sign(ok, 4)))
        self.assertEqual(v(self.sign(ok, 6)), ok)

    def test_state_file_survives_restart(self):
        state = os.path.join(self.tmp.name, "seq.json")
        ok = b'{"version": 1}'
        frame = self.sign(ok, 9)
        self.assertEqual(self.make(state_file=state)(frame), ok)
        again = self.make(state_file=state)
        self.assertIsNone(again(frame))
        self.assertIn("not greater", again.last_reason)
        os.unlink(state)

    def test_time_audience_key_checks(self):
        ok = b'{"version": 1}'
        cases = {
            "expired": self.sign(ok, 1, issued_at_ms=self.NOW - 600_000, ttl=300),
            "ahead": self.sign(ok, 1, issued_at_ms=self.NOW + 301_000),
            "audience": self.sign(ok, 1, audience="elsewhere"),
            "7 days": self.sign(ok, 1, ttl=8 * 86400),
        }
        for want, frame in cases.items():
            with self.subTest(want):
                v = self.make()
                self.assertIsNone(v(frame))
                self.assertIn(want, v.last_reason)
        other = key_file(self.tmp.name, "hmac:" + base64.b64encode(b"k" * 32).decode())
        v = self.make()
        self.assertIsNone(v(lc.sign_config(ok, other, 1, issued_at_ms=self.NOW)))
        self.assertIn("unknown key", v.last_reason)
        self.assertIsNone(v(ok))
        self.assertIn("not a signed", v.last_reason)
        # Audience accepted when it matches.
        self.assertEqual(self.make(audience="web")(self.sign(ok, 1, audience="web")), ok)

    def test_policy(self):
        bad = {
            "factory": {"version": 1, "filters": {"x": {"()": "subprocess.getoutput", "cmd": "id"}}},
            "popen": {"version": 1, "handlers": {"h": {"class": "subprocess.Popen", "args": ["id"]}}},
            "dot": {"version": 1, "handlers": {"h": {"class": "logging.StreamHandler",
                                                     ".": {"x": 1}}}},
            "ext": {"version": 1, "handlers": {"h": {"class": "logging.StreamHandler",
                                                     "stream": "ext://os.system"}}},
            "cfg class": {"version": 1, "evil": "os.system",
                          "handlers": {"h": {"class": "cfg://evil"}}},
        }
        for name, doc in bad.items():
            with self.subTest(name):
                with self.assertRaises(lc.PolicyError):
                    lc.check_config_policy(json.dumps(doc).encode())
        ini_eval = textwrap.dedent("""\
            [loggers]
            keys=root
            [handlers]
            keys=h
            [formatters]
            keys=
            [logger_root]
            handlers=h
            [handler_h]
            class=StreamHandler
            args=(__import__('os').system('id'),)
            """)
        with self.assertRaisesRegex(lc.PolicyError, "not a plain literal"):
            lc.check_config_policy(ini_eval)
        with self.assertRaisesRegex(lc.PolicyError, "not allowed"):
            lc.check_config_policy(ini_eval.replace("StreamHandler", "os.system").replace(
                "__import__('os').system('id')", "sys.stdout"))
        good_ini = ini_eval.replace("__import__('os').system('id')", "sys.stdout")
        lc.check_config_policy(good_ini)
        rotating = ini_eval.replace("class=StreamHandler", "class=handlers.RotatingFileHandler")
        lc.check_config_policy(rotating.replace("__import__('os').system('id'),",
                                                "'app.log', 'a', 10*1024*1024, 5"))
        with self.assertRaisesRegex(lc.PolicyError, "not a plain literal"):
            lc.check_config_policy(rotating.replace("__import__('os').system('id'),",
                                                    "'app.log', 'a', 10**100**100, 5"))
        lc.check_config_policy(json.dumps({
            "version": 1,
            "handlers": {"h": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout"}},
            "root": {"handlers": ["h"]}}))

    def test_verifier_rejects_policy_violation_and_does_not_burn_seq(self):
        v = self.make()
        evil = json.dumps({"version": 1, "handlers": {"h": {"()": "os.system"}}}).encode()
        self.assertIsNone(v(self.sign(evil, 3)))
        self.assertIn("'()'", v.last_reason)
        ok = b'{"version": 1}'
        self.assertEqual(v(self.sign(ok, 3)), ok)


class WithCPythonListen(Base):
    """The verifier inside CPython's own listen(): signed configs apply, others do not."""

    def test_listen_with_verifier(self):
        out = io.StringIO()
        log = logging.getLogger("lwtest.listen")
        saved = (log.handlers[:], log.level, log.propagate)
        state = os.path.join(self.tmp.name, "listen-seq.json")
        v = lc.verifier([self.hmac_file], state_file=state, on_reject=lambda r: None)
        t = logging.config.listen(0, verify=v)
        t.start()
        try:
            self.assertTrue(t.ready.wait(5))
            conf = {"version": 1, "disable_existing_loggers": False,
                    "formatters": {"f": {"format": "%(levelname)s %(message)s"}},
                    "handlers": {"h": {"class": "logging.StreamHandler",
                                       "stream": "ext://sys.stdout", "formatter": "f"}},
                    "loggers": {"lwtest.listen": {"level": "INFO", "handlers": ["h"],
                                                  "propagate": False}}}
            for frame_seq, payload, applied in [
                (1, json.dumps(conf), True),
                (1, json.dumps(conf), False),  # replay
                (2, json.dumps({"version": 1, "handlers": {"x": {"()": "os.getpid"}}}), False),
            ]:
                t.ready.clear()
                reply = lc.send_config(payload, ("127.0.0.1", t.port), self.hmac_file,
                                       seq=frame_seq, timeout=5)
                self.assertIsNone(reply)  # CPython never replies
                self.assertTrue(t.ready.wait(5))
                self.assertEqual(v.last_reason is None, applied, v.last_reason)
            self.assertEqual(log.level, logging.INFO)
            self.assertEqual(type(log.handlers[0]), logging.StreamHandler)
            # Unsigned: rejected by the verifier, nothing changes.
            t.ready.clear()
            lc.send_config(json.dumps({"version": 1, "loggers": {"lwtest.listen": {
                "level": "ERROR"}}}), ("127.0.0.1", t.port), timeout=5)
            self.assertTrue(t.ready.wait(5))
            self.assertEqual(log.level, logging.INFO)
        finally:
            logging.config.stopListening()
            t.join(5)
            log.handlers[:], log.level, log.propagate = saved
        self.assertFalse(t.is_alive())


if __name__ == "__main__":
    unittest.main()
