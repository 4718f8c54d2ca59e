"""Test plumbing: the real `logwire serve` binary as a collector (LOGWIRE_BIN, default
target/debug/logwire), and real CPython sender processes."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYDIR = str(REPO / "python")
HMAC_LINE = "hmac:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="


def logwire_bin():
    b = os.environ.get("LOGWIRE_BIN") or str(REPO / "target" / "debug" / "logwire")
    if not os.access(b, os.X_OK):
        raise RuntimeError("no logwire binary at %s: build it (cargo build -p logwire-cli) or "
                           "set LOGWIRE_BIN" % b)
    return b


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Collector:
    """`logwire serve --tcp 127.0.0.1:PORT --record-key K --record-state-dir D --config C`
    storing every record's message as one line of OUT."""

    def __init__(self, workdir, port=None, extra=()):
        self.dir = workdir
        self.key = os.path.join(workdir, "records.key")
        if not os.path.exists(self.key):
            with open(self.key, "w") as f:
                f.write(HMAC_LINE + "\n")
            os.chmod(self.key, 0o600)
        self.state = os.path.join(workdir, "state")
        self.out = os.path.join(workdir, "out.log")
        self.config = os.path.join(workdir, "collector.json")
        with open(self.config, "w") as f:
            json.dump({"version": 1, "formatters": {"f": {"format": "%(message)s"}},
                       "handlers": {"file": {"class": "logging.FileHandler",
                                             "filename": self.out, "formatter": "f"}},
                       "root": {"level": "DEBUG", "handlers": ["file"]}}, f)
        self.port = port or free_port()
        self.extra = list(extra)
        self.proc = None
        self.stderr_lines = []
        self.starts = 0

    def start(self, timeout=30):
        args = [logwire_bin(), "serve", "--tcp", "127.0.0.1:%d" % self.port,
                "--record-key", self.key, "--record-state-dir", self.state,
                "--config", self.config] + self.extra
        end = time.monotonic() + timeout
        while True:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            ready = threading.Event()
            lines = self.stderr_lines

            def pump(p=self.proc):
                for raw in p.stderr:
                    line = raw.decode("utf-8", "replace").rstrip("\n")
                    lines.append(line)
                    if line.startswith("listening on tcp"):
                        ready.set()
                ready.set()

            self.pump = threading.Thread(target=pump, daemon=True)
            self.pump.start()
            ready.wait(timeout)
            if self.proc.poll() is None:
                self.starts += 1
                return self
            self._reap()
            # The port can still be held for a moment after a kill: try again.
            if time.monotonic() > end:
                raise RuntimeError("logwire serve did not start: %s"
                                   % "\n".join(self.stderr_lines[-10:]))
            time.sleep(0.1)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        p = self.proc
        p.send_signal(sig)
        rc = p.wait(timeout)
        self._reap()
        if sig == signal.SIGTERM and rc != 0:
            raise AssertionError("SIGTERM: serve exited %s: %s"
                                 % (rc, "\n".join(self.stderr_lines[-10:])))
        self.proc = None
        return rc

    def _reap(self):
        self.pump.join(10)
        self.proc.stderr.close()

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
            self._reap()

    def lines(self):
        if not os.path.exists(self.out):
            return []
        with open(self.out, "rb") as f:
            return f.read().decode("utf-8", "replace").split("\n")[:-1]


def count_exact(lines, pattern):
    """(Counter of the ids in lines that match `pattern` whole, list of other lines)."""
    rx = re.compile(pattern)
    seen = {}
    other = []
    for line in lines:
        m = rx.fullmatch(line)
        if m:
            seen[m.group(1)] = seen.get(m.group(1), 0) + 1
        else:
            other.append(line)
    return seen, other


def run_python(script, *args, timeout=300, env=None):
    """Runs `script` (source text) in a fresh CPython process (this interpreter) with the
    helper importable; returns the CompletedProcess."""
    e = dict(os.environ, PYTHONPATH=PYDIR)
    e.update(env or {})
    return subprocess.run([sys.executable, "-c", script] + [str(a) for a in args],
                          env=e, capture_output=True, text=True, timeout=timeout)


def start_python(script, *args, env=None):
    e = dict(os.environ, PYTHONPATH=PYDIR)
    e.update(env or {})
    return subprocess.Popen([sys.executable, "-c", script] + [str(a) for a in args], env=e,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
