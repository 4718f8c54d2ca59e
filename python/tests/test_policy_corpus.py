"""The pushed-policy conformance corpus (testdata/pushed-policy/) against the Python side:
logwire_helper.policy.check_pushed and the verifier give every config the verdict cases.json
gives it -- the same verdicts crates/cli/tests/it/pushed_policy_corpus.rs demands from
`logwire check --pushed`. A refused config leaves the verifier's seq ratchet where it was."""

import json
import os
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from logwire_helper import config as lc  # noqa: E402
from logwire_helper import policy  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "testdata" / "pushed-policy"
HMAC_LINE = "hmac:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="
NOW_MS = 1_800_000_000_000


class Corpus(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cases = json.loads((CORPUS / "cases.json").read_text())["cases"]

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = os.path.join(self.tmp.name, "root")
        os.mkdir(self.root)

    def tearDown(self):
        self.tmp.cleanup()

    def want(self, c):
        return c.get("python", c["verdict"])

    def test_corpus_is_substantial(self):
        self.assertGreaterEqual(len(self.cases), 50)
        self.assertGreaterEqual(sum(c["verdict"] == "accept" for c in self.cases), 10)
        self.assertGreaterEqual(sum(c["verdict"] == "reject" for c in self.cases), 30)
        for c in self.cases:
            # The verifier may be stricter than the listener (CPython cannot do everything
            # logwire can), never looser.
            if "python" in c:
                self.assertEqual(c["python"], "reject", c["file"])
                self.assertTrue(c.get("python_why"), c["file"])

    def test_check_pushed_verdicts(self):
        wrong = []
        for c in self.cases:
            text = (CORPUS / c["file"]).read_bytes()
            try:
                policy.check_pushed(text, self.root if c["root"] else None)
                got = "accept"
            except policy.PolicyError:
                got = "reject"
            if got != self.want(c):
                wrong.append("%s (%s): want %s, got %s" % (c["file"], c["why"],
                                                           self.want(c), got))
        self.assertEqual(wrong, [])
        self.assertEqual(os.listdir(self.root), [], "checking created files")

    def test_verifier_verdicts_and_ratchet(self):
        key = os.path.join(self.tmp.name, "k")
        with open(key, "w") as f:
            f.write(HMAC_LINE + "\n")
        state = os.path.join(self.tmp.name, "seq.json")
        reasons = []
        seq = 0
        for c in self.cases:
            with self.subTest(c["file"]):
                v = lc.verifier([key], state_file=state, clock=lambda: NOW_MS / 1000,
                                on_reject=reasons.append,
                                file_root=self.root if c["root"] else None)
                seq += 1
                env = lc.sign_config((CORPUS / c["file"]).read_bytes(), key, seq,
                                     issued_at_ms=NOW_MS)
                out = v(env)
                self.assertEqual("accept" if out is not None else "reject", self.want(c),
                                 v.last_reason)
                saved = {}
                if os.path.exists(state):
                    with open(state) as f:
                        saved = json.load(f)
                last = max(saved.values()) if saved else 0
                if out is None:
                    self.assertLess(last, seq, "a refused config burned its seq")
                    self.assertTrue(v.last_reason)
                else:
                    self.assertEqual(last, seq)


class Destinations(unittest.TestCase):
    """allow_destinations (the listener's --allow-host), which `logwire check` has no flag for:
    the Rust rules of ContentPolicy::check_destination (policy.rs's unit test)."""

    def doc(self, host, port):
        return json.dumps({"version": 1, "handlers": {"s": {
            "class": "logging.handlers.SysLogHandler", "address": [host, port]}}})

    def test_allow_list(self):
        allow = ["logs.example:514", "[2001:db8::1]:*"]
        for host, port, ok in [("127.0.0.1", 9020, True), ("::1", 9020, True),
                               ("localhost", 1, True), ("logs.example", 514, True),
                               ("LOGS.example", 514, True), ("logs.example", 515, False),
                               ("2001:db8::1", 6514, True), ("169.254.169.254", 80, False)]:
            with self.subTest(host=host, port=port):
                if ok:
                    policy.check_pushed(self.doc(host, port), None, allow)
                else:
                    with self.assertRaisesRegex(policy.PolicyError, "is not allowed"):
                        policy.check_pushed(self.doc(host, port), None, allow)
        with self.assertRaisesRegex(ValueError, "no host"):
            policy.check_pushed(self.doc("x", 1), None, [":514"])


if __name__ == "__main__":
    unittest.main()
