"""Every public docstring example of the helper runs (doctest), and the CLIs answer --help."""

import doctest
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import logwire_helper  # noqa: E402
from logwire_helper import config, keygen, listener, policy  # noqa: E402

PYDIR = str(Path(__file__).resolve().parents[1])


class _RunnableOnly(doctest.DocTestFinder):
    """Leaves out docstrings whose every example is marked +SKIP (they show a call that
    needs a live peer or files; the integration tests run those paths)."""

    def find(self, *a, **kw):
        return [t for t in super().find(*a, **kw)
                if any(not ex.options.get(doctest.SKIP) for ex in t.examples)]


def load_tests(loader, tests, pattern):
    for m in (logwire_helper, config, keygen, listener, policy):
        tests.addTests(doctest.DocTestSuite(m, test_finder=_RunnableOnly()))
    return tests


class Cli(unittest.TestCase):
    def run_module(self, *args):
        return subprocess.run([sys.executable, "-m"] + list(args), capture_output=True,
                              text=True, timeout=60, env=dict(os.environ, PYTHONPATH=PYDIR))

    def test_help(self):
        for mod in ("logwire_helper.keygen", "logwire_helper.policy"):
            r = self.run_module(mod, "--help")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("usage:", r.stdout)

    def test_policy_cli(self):
        with tempfile.TemporaryDirectory() as d:
            good, bad = os.path.join(d, "good.json"), os.path.join(d, "bad.json")
            with open(good, "w") as f:
                f.write('{"version": 1}')
            with open(bad, "w") as f:
                f.write('{"version": 1, "root": {"level": "NTOSET"}}')
            self.assertEqual(self.run_module("logwire_helper.policy", good).returncode, 0)
            r = self.run_module("logwire_helper.policy", bad)
            self.assertEqual(r.returncode, 1)
            self.assertIn("root.level: unknown level 'NTOSET'", r.stdout)
            r = self.run_module("logwire_helper.policy", os.path.join(d, "missing"))
            self.assertEqual(r.returncode, 2)


if __name__ == "__main__":
    unittest.main()
