"""A drop-in, safe replacement for ``logging.config.listen`` (stdlib only; Ed25519 keys need
the ``cryptography`` package).

Replace::

    t = logging.config.listen(9030)
    t.start()

with::

    import logwire_helper
    t = logwire_helper.listen(9030, keys=["ops.pub"], state_file="/var/lib/app/seq.json",
                              file_root="/var/log/app")
    t.start()
    ...
    t.stop()          # or logging.config.stopListening(), as before

What changes (the Rust listener's rules, design.md):

* Every config must be a signed ``LWC1`` envelope (``logwire send-config``, or
  ``logwire_helper.config.send_config``) from one of ``keys``; the verifier checks signature,
  time window, audience and the per-key seq ratchet (kept in ``state_file``), then the whole
  content policy (``logwire_helper.policy``: the same verdicts as ``logwire check --pushed``)
  before CPython's ``dictConfig``/``fileConfig`` sees the config.
* The frame's length prefix is checked against ``max_bytes`` before any of the body is read;
  the first byte must arrive within ``header_timeout`` s of connecting, the whole frame within
  ``body_timeout`` s of its first byte; a frame cut short by EOF is dropped (CPython's listener
  spins on it, gh-156378); at most ``max_connections`` are served at once.
* Every config gets a reply: a length-prefixed JSON object ``{"status": "applied" |
  "rejected", "reason": ..., "seq": n}``, which ``logwire send-config`` prints.
* ``stop()`` (and ``logging.config.stopListening()``) returns promptly even while a client is
  connected and silent.

The seq is burned (and persisted) once the verifier accepted the config, before CPython
applies it: a config CPython still fails on is answered ``rejected`` with CPython's error, and
its seq cannot be replayed.
"""

import io
import json
import logging
import logging.config
import select
import socket
import struct
import threading
import time
from typing import Any, Callable, Iterable, List, Optional

from .config import verifier as _verifier

__all__ = ["listen", "ConfigListener"]

MAX_REPLY_REASON = 4000


class ConfigListener(threading.Thread):
    """The thread ``listen()`` returns: ``start()``, ``stop()``, ``join()``, and CPython's
    ``ready`` event, ``port`` and ``abort`` attributes.

    ``applied`` and ``rejected`` count configs; ``last_reply`` is the last reply sent."""

    def __init__(self, port: int, verify: Callable[[bytes], Optional[bytes]],
                 host: str = "localhost", max_bytes: int = 1 << 20,
                 header_timeout: float = 10.0, body_timeout: float = 30.0,
                 max_connections: int = 16,
                 apply: Optional[Callable[[str], None]] = None) -> None:
        super().__init__(name="logwire-config-listener", daemon=True)
        self.verify = verify
        self.max_bytes = int(max_bytes)
        self.header_timeout = float(header_timeout)
        self.body_timeout = float(body_timeout)
        self.max_connections = int(max_connections)
        self.apply = apply or _apply_cpython
        self.ready = threading.Event()
        self.abort = 0
        self.applied = 0
        self.rejected = 0
        self.last_reply: Optional[dict] = None
        self._apply_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.max_connections)
        self._clients: List[threading.Thread] = []
        self._sock = socket.create_server((host, port))
        self._sock.setblocking(False)
        self.port = self._sock.getsockname()[1]

    # ---------------------------------------------------------------- control
    def stop(self, timeout: float = 5.0) -> None:
        """Stops accepting, closes the connections being served, and waits for the thread
        (at most ``timeout`` s)."""
        self.abort = 1
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def run(self) -> None:
        self.ready.set()
        try:
            while not self.abort:
                r, _, _ = select.select([self._sock], [], [], 0.2)
                if not r:
                    continue
                try:
                    conn, _ = self._sock.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    if self.abort:
                        break
                    time.sleep(0.05)   # EMFILE and friends: back off, do not spin
                    continue
                if not self._slots.acquire(blocking=False):
                    conn.close()       # over the connection cap
                    continue
                t = threading.Thread(target=self._serve, args=(conn,), daemon=True,
                                     name="logwire-config-conn")
                self._clients = [c for c in self._clients if c.is_alive()] + [t]
                t.start()
        finally:
            self._sock.close()
            for c in self._clients:
                c.join(1.0)
            if logging.config._listener is self:
                logging.config._listener = None

    # ---------------------------------------------------------------- one connection
    def _read(self, conn: socket.socket, n: int, deadline: float) -> Optional[bytes]:
        """Exactly ``n`` bytes before ``deadline`` (or ``None``: EOF, deadline, stop)."""
        buf = bytearray()
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0 or self.abort:
                return None
            r, _, _ = select.select([conn], [], [], min(left, 0.2))
            if not r:
                continue
            chunk = conn.recv(min(65536, n - len(buf)))
            if not chunk:
                return None        # EOF mid-frame: dropped, never spun on
            buf += chunk
        return bytes(buf)

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.setblocking(False)
            head = self._read(conn, 4, time.monotonic() + self.header_timeout)
            if head is None:
                return
            (n,) = struct.unpack(">L", head)
            if n > self.max_bytes:
                self._reply(conn, "rejected", "frame of %d bytes is larger than the limit of "
                                              "%d" % (n, self.max_bytes), None)
                return
            body = self._read(conn, n, time.monotonic() + self.body_timeout)
            if body is None:
                return
            seq = struct.unpack(">Q", body[16:24])[0] \
                if len(body) >= 24 and body[:4] == b"LWC1" else None
            with self._apply_lock:
                status, reason = self._verify_and_apply(body)
            self._reply(conn, status, reason, seq)
        except OSError:
            pass
        finally:
            conn.close()
            self._slots.release()

    def _verify_and_apply(self, body: bytes):
        v = self.verify
        payload = v(body)
        if payload is None:
            reason = getattr(v, "last_reason", None) or "rejected by the verifier"
            self.rejected += 1
            return "rejected", reason
        try:
            self.apply(payload.decode("utf-8"))
        except Exception as e:
            self.rejected += 1
            why = "%s: %s" % (type(e).__name__, e)
            cause = e.__cause__ or e.__context__
            if cause is not None:   # dictConfig wraps the real error ("Unable to configure")
                why += " (%s: %s)" % (type(cause).__name__, cause)
            return "rejected", "CPython could not apply it: " + why
        self.applied += 1
        return "applied", None

    def _reply(self, conn: socket.socket, status: str, reason: Optional[str],
               seq: Optional[int]) -> None:
        msg = {"status": status}
        if reason is not None:
            msg["reason"] = reason[:MAX_REPLY_REASON]
        if seq is not None:
            msg["seq"] = seq
        self.last_reply = msg
        data = json.dumps(msg).encode("utf-8")
        try:
            conn.setblocking(True)
            conn.settimeout(5.0)
            conn.sendall(struct.pack(">L", len(data)) + data)
        except OSError:
            pass


def _apply_cpython(text: str) -> None:
    """What CPython's listener does with a verified config: a JSON object goes to
    ``dictConfig``, anything else to ``fileConfig`` (the verifier has already decided which
    one it is, and checked it)."""
    if text.lstrip().startswith("{"):
        logging.config.dictConfig(json.loads(text))
    else:
        logging.config.fileConfig(io.StringIO(text))


def listen(port: int = logging.config.DEFAULT_LOGGING_CONFIG_PORT,
           keys: Iterable[Any] = (), state_file: Optional[str] = None,
           file_root: Optional[str] = None, audience: Optional[str] = None,
           allow_destinations: Iterable[str] = (), host: str = "localhost",
           max_bytes: int = 1 << 20, header_timeout: float = 10.0,
           body_timeout: float = 30.0, max_connections: int = 16,
           verify: Optional[Callable[[bytes], Optional[bytes]]] = None,
           on_reject: Optional[Callable[[str], None]] = None) -> ConfigListener:
    """``logging.config.listen`` with the verifier built in; returns the (not yet started)
    listener thread.

    ``keys``: key files (``.pub`` Ed25519 public keys, which need ``cryptography``; or
    ``hmac:`` files) allowed to sign configs. ``state_file``: where the per-key seq ratchet
    is kept (required: without it a replay after a restart would be accepted).
    ``file_root``: the directory pushed file handlers may write beneath (none without it).
    ``audience``: this listener's audience name. ``allow_destinations``: ``HOST:PORT``
    network handlers may reach besides loopback. ``verify``: a ready ``ConfigVerifier``
    instead of the arguments above.

    >>> t = listen(0, keys=["ops.pub"], state_file="seq.json")   # doctest: +SKIP
    >>> t.start(); t.ready.wait(5)                                # doctest: +SKIP
    >>> t.stop()                                                  # doctest: +SKIP
    """
    if verify is None:
        keys = list(keys)
        if not keys:
            raise ValueError("listen() needs at least one key (keys=[...]): it never applies "
                             "unsigned configs")
        if state_file is None:
            raise ValueError("listen() needs state_file=...: the seq ratchet must survive a "
                             "restart, or an old config could be replayed")
        verify = _verifier(keys, audience=audience, state_file=state_file,
                           file_root=file_root, allow_destinations=allow_destinations,
                           on_reject=on_reject)
    t = ConfigListener(port, verify, host=host, max_bytes=max_bytes,
                       header_timeout=header_timeout, body_timeout=body_timeout,
                       max_connections=max_connections)
    # logging.config.stopListening() stops it too, as it stops CPython's.
    with _module_lock():
        logging.config._listener = t
    return t


class _module_lock:
    def __enter__(self) -> None:
        logging._acquireLock() if hasattr(logging, "_acquireLock") else logging._lock.acquire()

    def __exit__(self, *a: Any) -> None:
        logging._releaseLock() if hasattr(logging, "_releaseLock") else logging._lock.release()
