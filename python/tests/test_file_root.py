"""logwire_helper.config: pushed file handlers stay beneath the verifier's file root (the
Rust listener's rules), a config refused by any check leaves the seq ratchet where it was,
and CPython's own listen() with verifier(file_root=...) writes where the root says."""

import json
import logging
import logging.config
import os
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from logwire_helper import config as lc  # noqa: E402

HMAC_LINE = "hmac:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="  # 32 bytes
NOW_MS = 1_800_000_000_000


def file_config(filename, cls="logging.FileHandler"):
    return {"version": 1, "disable_existing_loggers": False,
            "handlers": {"f": {"class": cls, "filename": filename, "delay": True}},
            "loggers": {"lwtest.fileroot": {"handlers": ["f"], "level": "INFO"}}}


INI = textwrap.dedent("""\
    [loggers]
    keys=root
    [handlers]
    keys=h
    [formatters]
    keys=f
    [formatter_f]
    format=%%(levelname)s %%(message)s
    [logger_root]
    handlers=h
    [handler_h]
    class=handlers.RotatingFileHandler
    formatter=f
    args=ARGS
    """)


class FileRoot(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = os.path.realpath(os.path.join(self.tmp.name, "logs"))
        os.mkdir(self.root)

    def tearDown(self):
        self.tmp.cleanup()

    def confine(self, doc):
        return json.loads(lc.confine_files(json.dumps(doc), self.root))

    def test_dict_names_resolve_beneath_the_root(self):
        got = self.confine(file_config("app.log"))
        self.assertEqual(got["handlers"]["f"]["filename"], os.path.join(self.root, "app.log"))
        got = self.confine(file_config("sub/./app.log", "logging.handlers.RotatingFileHandler"))
        self.assertEqual(got["handlers"]["f"]["filename"],
                         os.path.join(self.root, "sub", "app.log"))
        inside = os.path.join(self.root, "abs.log")
        self.assertEqual(self.confine(file_config(inside))["handlers"]["f"]["filename"], inside)
        # Configs without file handlers pass through byte for byte.
        plain = b'{"version": 1, "root": {"level": "ERROR"}}'
        self.assertEqual(lc.confine_files(plain, self.root), plain)

    def test_escapes_are_refused(self):
        os.symlink("/etc", os.path.join(self.root, "etc"))
        os.symlink("/etc/passwd", os.path.join(self.root, "pw.log"))
        cases = {
            "../outside.log": "contains '..'",
            "a/../../b.log": "contains '..'",
            "/etc/passwd": "outside the file root",
            self.root + "-sibling/x.log": "outside the file root",
            self.root: "the file root itself",
            ".": "the file root itself",
            "etc/passwd": "symlink",
            "pw.log": "symlink",
            "cfg://other": "plain paths",
            "": "empty",
            "a\0b": "NUL",
        }
        for name, want in cases.items():
            with self.subTest(name):
                with self.assertRaisesRegex(lc.PolicyError, want):
                    lc.confine_files(json.dumps(file_config(name)), self.root)
        with self.assertRaisesRegex(lc.PolicyError, "plain string"):
            lc.confine_files(json.dumps(file_config(["a.log"])), self.root)

    def test_no_root_means_no_file_handlers(self):
        with self.assertRaisesRegex(lc.PolicyError, "file_root="):
            lc.confine_files(json.dumps(file_config("app.log")), None)
        # A filename smuggled onto another class is checked too.
        doc = {"version": 1, "handlers": {"s": {"class": "logging.StreamHandler",
                                                "filename": "/etc/x"}}}
        with self.assertRaisesRegex(lc.PolicyError, "outside"):
            lc.confine_files(json.dumps(doc), self.root)

    def test_ini_args_and_kwargs(self):
        text = INI.replace("ARGS", "('app.log', 'a', 10*1024*1024, 5)")
        lc.check_config_policy(text)
        out = lc.confine_files(text, self.root)
        # Integer arithmetic is written out as its value (10*1024*1024).
        self.assertIn("args = ('%s', 'a', 10485760, 5)"
                      % os.path.join(self.root, "app.log"), out)
        # fileConfig reads the rewritten text (the %% of the format survives).
        self.assertIn("%%(levelname)s", out)
        text = INI.replace("args=ARGS", "args=()\nkwargs={'filename': 'k.log', 'maxBytes': 9}")
        out = lc.confine_files(text, self.root)
        self.assertIn(repr(os.path.join(self.root, "k.log")), out)
        for args, want in [("('../x.log', 'a')", "'..'"), ("('/tmp/x.log',)", "outside"),
                           ("()", "no file name")]:
            with self.subTest(args):
                with self.assertRaisesRegex(lc.PolicyError, want):
                    lc.confine_files(INI.replace("ARGS", args), self.root)
        with self.assertRaisesRegex(lc.PolicyError, "file_root="):
            lc.confine_files(INI.replace("ARGS", "('app.log',)"), None)


class Ratchet(unittest.TestCase):
    """The seq is burned only when the whole verifier accepts, as the Rust listener does."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.key = os.path.join(self.tmp.name, "k")
        with open(self.key, "w") as f:
            f.write(HMAC_LINE + "\n")
        self.root = os.path.join(self.tmp.name, "logs")
        os.mkdir(self.root)
        self.state = os.path.join(self.tmp.name, "seq.json")

    def tearDown(self):
        self.tmp.cleanup()

    def verifier(self, **kw):
        return lc.verifier([self.key], state_file=self.state, clock=lambda: NOW_MS / 1000,
                           on_reject=lambda r: None, file_root=self.root, **kw)

    def sign(self, doc, seq):
        return lc.sign_config(json.dumps(doc), self.key, seq, issued_at_ms=NOW_MS)

    def test_refused_configs_do_not_advance_the_ratchet(self):
        v = self.verifier()
        for doc, want in [
            (file_config("../escape.log"), "'..'"),
            ({"version": 1, "handlers": {"h": {"()": "os.system"}}}, "'()'"),
            (file_config("/etc/passwd"), "outside"),
        ]:
            self.assertIsNone(v(self.sign(doc, 7)))
            self.assertIn(want, v.last_reason)
            self.assertFalse(os.path.exists(self.state), "nothing persisted for a refusal")
        got = v(self.sign(file_config("ok.log"), 7))
        self.assertEqual(json.loads(got)["handlers"]["f"]["filename"],
                         os.path.join(os.path.realpath(self.root), "ok.log"))
        with open(self.state) as f:
            self.assertEqual(list(json.load(f).values()), [7])
        # After a restart the accepted seq is still burned; the refused ones never were.
        again = self.verifier()
        self.assertIsNone(again(self.sign(file_config("ok.log"), 7)))
        self.assertIn("not greater", again.last_reason)

    def test_unwritable_state_refuses_and_keeps_the_ratchet(self):
        v = lc.verifier([self.key], state_file=os.path.join(self.tmp.name, "no", "seq.json"),
                        clock=lambda: NOW_MS / 1000, on_reject=lambda r: None,
                        file_root=self.root)
        self.assertIsNone(v(self.sign({"version": 1}, 3)))
        self.assertIn("could not be saved", v.last_reason)
        self.assertEqual(v._seqs, {})

    def test_root_must_exist(self):
        with self.assertRaisesRegex(ValueError, "not a directory"):
            lc.verifier([self.key], file_root=os.path.join(self.tmp.name, "missing"))


class CPythonListenWithFileRoot(unittest.TestCase):
    """CPython's own listen(verify=verifier(file_root=...)): the pushed FileHandler writes
    beneath the root although CPython's working directory is elsewhere; an escaping name is
    refused before CPython sees it and does not burn its seq."""

    def test_listen(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        key = os.path.join(tmp.name, "k")
        with open(key, "w") as f:
            f.write(HMAC_LINE + "\n")
        root = os.path.join(tmp.name, "logs")
        os.mkdir(root)
        log = logging.getLogger("lwtest.fileroot")
        saved = (log.handlers[:], log.level, log.propagate)
        reasons = []
        v = lc.verifier([key], state_file=os.path.join(tmp.name, "seq.json"),
                        on_reject=reasons.append, file_root=root)
        t = logging.config.listen(0, verify=v)
        t.start()
        try:
            self.assertTrue(t.ready.wait(5))
            for seq, name in [(4, "../../escape.log"), (4, "app.log")]:
                t.ready.clear()
                self.assertIsNone(lc.send_config(json.dumps(file_config(name)),
                                                 ("127.0.0.1", t.port), key, seq=seq,
                                                 timeout=5))
                self.assertTrue(t.ready.wait(5))
            self.assertEqual(len(reasons), 1, reasons)
            self.assertIn("'..'", reasons[0])
            self.assertIsNone(v.last_reason)
            log.info("written beneath the root")
            for h in log.handlers:
                h.flush()
            with open(os.path.join(root, "app.log")) as f:
                self.assertIn("written beneath the root", f.read())
            self.assertFalse(os.path.exists(os.path.join(tmp.name, "..", "escape.log")))
        finally:
            logging.config.stopListening()
            t.join(5)
            for h in log.handlers:
                h.close()
            log.handlers[:], log.level, log.propagate = saved
        self.assertFalse(t.is_alive())


if __name__ == "__main__":
    unittest.main()
