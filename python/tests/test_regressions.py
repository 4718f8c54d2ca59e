"""Regression tests for the bugs of issue 14 found in the Python helper (bug 2, the fork,
and bug 3, loss across collector restarts, are in test_delivery.py; bug 6 is the corpus,
test_policy_corpus.py)."""

import json
import logging
import logging.config
import os
import stat
import subprocess
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from logwire_helper import config as lc  # noqa: E402
import logwire_helper as lh  # noqa: E402

PYDIR = str(Path(__file__).resolve().parents[1])
HMAC_LINE = "hmac:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="


class Bug1FormatterClassTruncatesAFile(unittest.TestCase):
    """A formatter whose class is logging.FileHandler, format a path outside the root and
    datefmt 'w': CPython would truncate that file. Through CPython's own listen() with the
    verifier, the file keeps its content, in JSON and in INI, and the seq is not burned."""

    def test_listen_refuses_and_the_victim_survives(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        key = os.path.join(tmp.name, "k")
        with open(key, "w") as f:
            f.write(HMAC_LINE + "\n")
        root = os.path.join(tmp.name, "logs")
        os.mkdir(root)
        victim = os.path.join(tmp.name, "victim.txt")
        with open(victim, "w") as f:
            f.write("precious\n")
        as_json = json.dumps({"version": 1, "formatters": {"f": {
            "class": "logging.FileHandler", "format": victim, "datefmt": "w"}}})
        as_ini = textwrap.dedent("""\
            [loggers]
            keys=root
            [handlers]
            keys=
            [formatters]
            keys=f
            [logger_root]
            handlers=
            [formatter_f]
            class=logging.FileHandler
            format=%s
            datefmt=w
            """ % victim)
        # Without the verifier CPython does truncate it (the bug is real, and this test can
        # tell): a formatter class is called as class(format, datefmt, style).
        scratch = os.path.join(tmp.name, "scratch.txt")
        with open(scratch, "w") as f:
            f.write("x\n")
        h = logging.FileHandler(scratch, "w")
        h.close()
        self.assertEqual(os.path.getsize(scratch), 0)

        reasons = []
        state = os.path.join(tmp.name, "seq.json")
        v = lc.verifier([key], state_file=state, on_reject=reasons.append, file_root=root)
        t = logging.config.listen(0, verify=v)
        t.start()
        try:
            self.assertTrue(t.ready.wait(5))
            for text in (as_json, as_ini):
                t.ready.clear()
                lc.send_config(text, ("127.0.0.1", t.port), key, seq=7, timeout=5)
                self.assertTrue(t.ready.wait(5))
        finally:
            logging.config.stopListening()
            t.join(5)
        with open(victim) as f:
            self.assertEqual(f.read(), "precious\n")
        self.assertEqual(len(reasons), 2, reasons)
        for r in reasons:
            self.assertIn("only logging.Formatter", r)
        self.assertFalse(os.path.exists(state), "a refused config burned its seq")


class Bug4IniFileHandlerOnPython38(unittest.TestCase):
    """verifier(file_root=...) on an INI config with a FileHandler raised AttributeError
    (ast.unparse) on Python 3.8; it must accept (or refuse) cleanly on every Python, and
    CPython's fileConfig must apply what it returns. test-all runs this under 3.8."""

    def test_ini_file_handler_is_confined_and_applied(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        key = os.path.join(tmp.name, "k")
        with open(key, "w") as f:
            f.write(HMAC_LINE + "\n")
        root = os.path.realpath(os.path.join(tmp.name, "logs"))
        os.mkdir(root)
        text = textwrap.dedent("""\
            [loggers]
            keys=root,app
            [handlers]
            keys=h
            [formatters]
            keys=f
            [formatter_f]
            format=%(levelname)s %(message)s
            [logger_root]
            handlers=
            [logger_app]
            qualname=lwtest.bug4
            handlers=h
            level=INFO
            propagate=0
            [handler_h]
            class=handlers.RotatingFileHandler
            formatter=f
            args=('app%%d.log', 'a', 10*1024*1024, 3)
            """)
        reasons = []
        v = lc.verifier([key], on_reject=reasons.append, file_root=root)
        out = v(lc.sign_config(text, key, 1))
        self.assertIsNotNone(out, reasons)
        log = logging.getLogger("lwtest.bug4")
        saved = (log.handlers[:], log.level, log.propagate)
        import io
        try:
            logging.config.fileConfig(io.StringIO(out.decode("utf-8")),
                                      disable_existing_loggers=False)
            log.info("hello from fileConfig")
            for h in log.handlers:
                h.flush()
            with open(os.path.join(root, "app%d.log")) as f:
                self.assertEqual(f.read(), "INFO hello from fileConfig\n")
        finally:
            for h in log.handlers:
                h.close()
            log.handlers[:], log.level, log.propagate = saved
        # And one outside the root is refused with a reason, not an exception.
        bad = text.replace("'app%%d.log'", "'/tmp/lw-bug4.log'")
        self.assertIsNone(v(lc.sign_config(bad, key, 2)))
        self.assertIn("outside the file root", reasons[-1])


class Bug5Keygen(unittest.TestCase):
    """`python3 -m logwire_helper.keygen --help` wrote a key file named --help; an existing
    file gave a raw traceback; success printed nothing."""

    def run_keygen(self, *args, cwd):
        env = dict(os.environ, PYTHONPATH=PYDIR)
        return subprocess.run([sys.executable, "-m", "logwire_helper.keygen"] + list(args),
                              cwd=cwd, env=env, capture_output=True, text=True, timeout=60)

    def test_help_existing_and_success(self):
        with tempfile.TemporaryDirectory() as d:
            r = self.run_keygen("--help", cwd=d)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("usage:", r.stdout)
            self.assertIn("--ed25519", r.stdout)
            self.assertEqual(os.listdir(d), [], "--help created a file")

            r = self.run_keygen("sender.key", cwd=d)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("wrote sender.key", r.stdout)
            path = os.path.join(d, "sender.key")
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            key = lh.load_key(path)
            self.assertEqual(len(key), 32)
            self.assertIn(lh.key_id(key).hex(), r.stdout)

            r = self.run_keygen("sender.key", cwd=d)
            self.assertEqual(r.returncode, 1)
            self.assertIn("already exists", r.stderr)
            self.assertNotIn("Traceback", r.stderr)
            self.assertEqual(lh.load_key(path), key, "an existing key was replaced")

            r = self.run_keygen("--force", "sender.key", cwd=d)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotEqual(lh.load_key(path), key)

            r = self.run_keygen(cwd=d)
            self.assertEqual(r.returncode, 2)
            self.assertIn("usage:", r.stderr)

    def test_ed25519_pair(self):
        try:
            import cryptography  # noqa: F401
        except ImportError:
            if os.environ.get("LOGWIRE_REQUIRE_CRYPTOGRAPHY"):
                raise
            self.skipTest("cryptography is not installed (test-all installs it)")
        with tempfile.TemporaryDirectory() as d:
            r = self.run_keygen("--ed25519", "ops", cwd=d)
            self.assertEqual(r.returncode, 0, r.stderr)
            priv = lc.load_key_file(os.path.join(d, "ops.key"))
            pub = lc.load_key_file(os.path.join(d, "ops.pub"))
            self.assertEqual(priv.key_id, pub.key_id)
            env = lc.sign_config("{}", priv, 1)
            self.assertTrue(pub.verify(lc.SIGNING_CONTEXT + env[:-64], env[-64:]))


class Ed25519NeedsCryptography(unittest.TestCase):
    def test_the_error_names_the_package(self):
        saved = {k: v for k, v in sys.modules.items() if k.split(".")[0] == "cryptography"}
        for k in saved:
            del sys.modules[k]
        sys.modules["cryptography"] = None     # import cryptography now fails
        try:
            with self.assertRaisesRegex(ValueError, r"pip install cryptography"):
                lc.Key("ed25519-public", bytes(32))
        finally:
            del sys.modules["cryptography"]
            sys.modules.update(saved)


if __name__ == "__main__":
    unittest.main()
