"""Signed logging handlers for a logwire collector (stdlib only).

``SignedSocketHandler`` and ``SignedDatagramHandler`` send every record as an ``LWR1``
envelope (design.md, "Signed record frame") to ``logwire serve --record-key KEY``::

    off  len  field
    0    4    magic "LWR1"
    4    1    alg: 2 = HMAC-SHA256
    5    1    payload format: 1 = pickle record dict, 2 = JSON object
    6    1    flags: bit 0 = ack requested
    7    1    reserved, zero
    8    8    key_id = SHA-256(b"logwire/hmac-key-id\\0" + key)[:8]
    16   16   epoch (random per handler instance, and per process after a fork)
    32   8    seq, u64 BE, 1, 2, 3 ...
    40   4    N, u32 BE payload length
    44   N    payload: the record dict SocketHandler.makePickle builds (pickle protocol 1),
              or the same dict as JSON (``payload="json"``)
    44+N 32   tag = HMAC-SHA256(key, b"logwire/record/v1\\0" + bytes[0:44+N])

The 4-byte big-endian length prefix CPython uses goes in front, for streams and datagrams.

``SignedSocketHandler`` never loses a record silently (see its docstring): a background
thread sends, keeps every record until the collector acknowledges it, reconnects with
CPython's backoff and resends what was not acknowledged.

>>> import logging, logwire_helper
>>> h = logwire_helper.SignedSocketHandler("127.0.0.1", 9020, "sender.key")  # doctest: +SKIP
>>> logging.getLogger("app").addHandler(h)                                  # doctest: +SKIP
"""

import base64
import collections
# socket.create_connection encodes host names with the idna codec; imported on first use
# from the sender thread of a freshly forked child, the lookup can fail ("unknown encoding:
# idna", a CPython race between imports and fork). Import it now, once.
import encodings.idna  # noqa: F401
import hashlib
import hmac
import json
import logging
import logging.handlers
import os
import pickle
from pickle import dumps as _dumps
import select
import socket
import struct
import sys
import threading
import time
import weakref
from typing import Any, Deque, Dict, List, NamedTuple, Optional, Tuple, Union

__all__ = [
    "SignedSocketHandler",
    "SignedDatagramHandler",
    "DeliveryReport",
    "load_key",
    "key_id",
    "seal_record",
    "record_dict",
    "parse_ack",
    "listen",
]

MAGIC = b"LWR1"
ALG_HMAC_SHA256 = 2
FORMAT_PICKLE = 1
FORMAT_JSON = 2
FLAG_ACK = 0x01
SIGNING_CONTEXT = b"logwire/record/v1\0"
KEY_ID_CONTEXT = b"logwire/hmac-key-id\0"
ACK_MAGIC = b"LWA1"
MIN_KEY_LEN = 16
#: Pickle protocol of format-1 payloads: CPython's makePickle uses 1 (logwire's bounded parser
#: reads 0-5; 4 is a quarter smaller, but the collector's parse of it measured slower).
PICKLE_PROTOCOL = 1
#: How long the busy sender lets records gather between batches (seconds).
LINGER = 0.005
#: The collector remembers the last 4096 seqs of an epoch (its replay window): a record
#: resent from further back would be refused as too old, so at most this many records are
#: ever in flight unacknowledged.
MAX_IN_FLIGHT = 4096


def load_key(path: str) -> bytes:
    """Reads an ``hmac:<base64>`` key file and returns the key bytes.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "k")
    >>> with open(p, "w") as f:
    ...     _ = f.write("hmac:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY=")
    >>> load_key(p)[:4]
    b'ABCD'
    """
    with open(path, "r", encoding="ascii") as f:
        text = f.read(4096).strip()
    kind, sep, b64 = text.partition(":")
    if not sep or kind != "hmac":
        hint = ""
        if kind.startswith("ed25519"):
            hint = " (record signing uses HMAC keys; Ed25519 keys sign configs)"
        raise ValueError("%s: not an hmac key file (expected 'hmac:<base64>')%s" % (path, hint))
    try:
        key = base64.b64decode(b64, validate=True)
    except ValueError:
        raise ValueError("%s: the key is not valid base64" % path) from None
    if len(key) < MIN_KEY_LEN:
        raise ValueError("%s: an HMAC key needs at least %d bytes" % (path, MIN_KEY_LEN))
    return key


def key_id(key: bytes) -> bytes:
    """The 8-byte key id of an HMAC key.

    >>> key_id(bytes(32)).hex()
    'a8da08b92da19cd7'
    """
    return hashlib.sha256(KEY_ID_CONTEXT + key).digest()[:8]


def seal_record(key: bytes, epoch: bytes, seq: int, payload: bytes, fmt: int = FORMAT_PICKLE,
                ack: bool = False) -> bytes:
    """The LWR1 envelope (without the length prefix) for one payload.

    >>> env = seal_record(bytes(32), bytes(16), 1, b"{}", FORMAT_JSON, ack=True)
    >>> env[:8], len(env)
    (b'LWR1\\x02\\x02\\x01\\x00', 78)
    """
    if len(epoch) != 16:
        raise ValueError("epoch must be 16 bytes")
    if not 1 <= seq < 2 ** 64:
        raise ValueError("seq must be in 1 .. 2**64-1")
    head = MAGIC + bytes([ALG_HMAC_SHA256, fmt, FLAG_ACK if ack else 0, 0])
    head += key_id(key) + epoch + struct.pack(">QL", seq, len(payload))
    signed = head + payload
    tag = hmac.new(key, SIGNING_CONTEXT + signed, hashlib.sha256).digest()
    return signed + tag


class _Sealer:
    """Seals payloads for one key with a precomputed HMAC state (the sender's hot path)."""

    _HEAD = struct.Struct(">L4sBBBB8s16sQL")   # length prefix + the 44-byte LWR1 header

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.key_id = key_id(key)
        # HMAC (RFC 2104) with the key's inner and outer states computed once: per frame,
        # two hash copies instead of the key schedule (this is the sender's hot path).
        block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._inner.update(SIGNING_CONTEXT)
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def frame(self, epoch: bytes, seq: int, payload: bytes, fmt: int, ack: bool) -> bytes:
        """The length-prefixed LWR1 frame.

        >>> f = _Sealer(bytes(32)).frame(bytes(16), 1, b"{}", FORMAT_JSON, True)
        >>> f[4:] == seal_record(bytes(32), bytes(16), 1, b"{}", FORMAT_JSON, True)
        True
        """
        n = len(payload)
        head = self._HEAD.pack(n + 76, MAGIC, ALG_HMAC_SHA256, fmt, FLAG_ACK if ack else 0, 0,
                               self.key_id, epoch, seq, n)
        i = self._inner.copy()
        i.update(memoryview(head)[4:])
        i.update(payload)
        o = self._outer.copy()
        o.update(i.digest())
        return b"".join((head, payload, o.digest()))


def record_dict(handler: logging.Handler, record: logging.LogRecord) -> Dict[str, Any]:
    """The dict CPython's SocketHandler.makePickle pickles (msg merged, args/exc_info None).

    >>> r = logging.LogRecord("app", 20, "x.py", 1, "n=%d", (5,), None)
    >>> d = record_dict(logging.Handler(), r); (d["msg"], d["args"])
    ('n=5', None)
    """
    ei = record.exc_info
    if ei:
        # Side effect wanted: fills record.exc_text, as makePickle does.
        handler.format(record)
    d = dict(record.__dict__)
    d["msg"] = record.getMessage()
    d["args"] = None
    d["exc_info"] = None
    d.pop("message", None)
    return d


def _json_default(v: Any) -> Any:
    return repr(v)


def encode_payload(handler: logging.Handler, record: logging.LogRecord,
                   fmt: int = FORMAT_PICKLE) -> bytes:
    """The LWR1 payload for ``record``: pickle protocol 1 of ``record_dict`` (format 1), or
    the same dict as a JSON object (format 2), where values JSON cannot hold (an extra that
    is a custom object) arrive as their ``repr``.

    >>> r = logging.LogRecord("app", 20, "x.py", 1, "hi", None, None)
    >>> r.conn = object()      # pickle would fail on this extra; JSON sends its repr
    >>> b'"conn": "<object object' in encode_payload(logging.Handler(), r, FORMAT_JSON)
    True
    """
    d = record_dict(handler, record)
    if fmt == FORMAT_JSON:
        return json.dumps(d, default=_json_default, ensure_ascii=False).encode("utf-8")
    return pickle.dumps(d, PICKLE_PROTOCOL)


def parse_ack(body: bytes) -> Tuple[bytes, int]:
    """(epoch, seq) of an LWA1 ack body (without its length prefix).

    >>> parse_ack(b"LWA1" + bytes(16) + (7).to_bytes(8, "big"))[1]
    7
    """
    if len(body) != 28 or body[:4] != ACK_MAGIC:
        raise ValueError("not an LWA1 ack")
    return body[4:20], struct.unpack(">Q", body[20:28])[0]


def _payload_format(payload: Union[str, int]) -> int:
    if payload in ("pickle", FORMAT_PICKLE):
        return FORMAT_PICKLE
    if payload in ("json", FORMAT_JSON):
        return FORMAT_JSON
    raise ValueError("payload must be 'pickle' or 'json', not %r" % (payload,))


# Handlers to renew in a forked child (os.register_at_fork): a fresh epoch, and for the
# stream handler a fresh connection, buffer and thread. The parent's records stay the
# parent's.
_live: "weakref.WeakSet[Any]" = weakref.WeakSet()
_live_lock = threading.Lock()


def _before_fork() -> None:
    _live_lock.acquire()
    for h in list(_live):
        h._fork_acquire()


def _after_fork_parent() -> None:
    for h in list(_live):
        h._fork_release()
    _live_lock.release()


def _after_fork_child() -> None:
    for h in list(_live):
        try:
            h._fork_child()
        except Exception:  # never break the child over a handler
            pass
    globals()["_live_lock"] = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_parent,
                        after_in_child=_after_fork_child)


def _register(h: Any) -> None:
    with _live_lock:
        _live.add(h)


class DeliveryReport(NamedTuple):
    """What a handler knows about its records (all counts since the handler was made, or
    since the fork that made this process).

    * ``emitted``: records handed to the handler.
    * ``acked``: records the collector acknowledged: stored and flushed (``ack=True``).
    * ``sent``: records written to a connection at least once.
    * ``pending``: records buffered, not yet acknowledged (``ack=True``) or not yet written.
    * ``dropped``: records the handler gave up (buffer full, or still pending when ``close``
      timed out, or encoding failed); every drop is counted here and reported on stderr.
    * ``resent``: records written again after a reconnect.
    * ``reconnects``: connections made after the first.
    """

    emitted: int
    acked: int
    sent: int
    pending: int
    dropped: int
    resent: int
    reconnects: int


class SignedSocketHandler(logging.handlers.SocketHandler):
    """``SocketHandler`` sending LWR1-signed records, and losing none of them silently.

    ``host``/``port`` as CPython's (``port=None``: ``host`` is a Unix socket path);
    ``key_file``: an ``hmac:<base64>`` key file (``python3 -m logwire_helper.keygen``), the
    same file as ``logwire serve --record-key``.

    The logging call never waits on the network: ``emit`` encodes the record and appends it
    to a bounded buffer; a background thread seals, sends, reads the collector's ``LWA1``
    acks, and keeps every record until it is acknowledged (``ack=True``, the default). When
    the connection breaks it reconnects with CPython's backoff (``retryStart`` 1 s,
    ``retryFactor`` 2, ``retryMax`` 30 s, the attributes CPython has) and resends every
    unacknowledged record with its original seq, so a collector with ``--record-state-dir``
    stores each exactly once.

    The buffer holds at most ``buffer_records`` records and ``buffer_bytes`` bytes. When it
    is full, ``overflow`` decides:

    * ``"block"`` (default): the logging call waits up to ``block_timeout`` seconds for room;
      if there is still none, that record is dropped.
    * ``"drop_oldest"``: the oldest record not yet sent is dropped to make room (records in
      flight keep their place, so seqs stay contiguous).

    Every drop is counted (``report().dropped``) and reported on stderr (the first of each
    run of drops, and a total at ``close``). At most ``in_flight`` records (<= 4096, the
    collector's replay window) are sent without an ack.

    ``close(timeout=close_timeout)`` waits until every record is acknowledged (or the
    timeout passes; what is left is counted as dropped), then stops the thread.
    ``report()`` tells what is true: ``acked`` counts only records the collector confirmed.

    ``payload="json"`` sends the record dict as JSON (LWR1 payload format 2): extras that do
    not pickle still arrive (as their ``repr``).

    After ``os.fork()`` the child starts with a fresh epoch, connection, buffer and thread;
    the parent's records stay with the parent.

    Usable from dictConfig (``"class": "logwire_helper.SignedSocketHandler", "host": ...,
    "port": 9020, "key_file": "sender.key"``), fileConfig
    (``class=logwire_helper.SignedSocketHandler``, ``args=('127.0.0.1', 9020,
    'sender.key')``) and as a context manager:

    >>> with SignedSocketHandler("127.0.0.1", 9020, "sender.key") as h:  # doctest: +SKIP
    ...     log = logging.getLogger("app"); log.addHandler(h)
    ...     log.warning("signed, acknowledged, never dropped silently")
    """

    def __init__(self, host: str, port: Optional[int], key_file: str, ack: bool = True,
                 payload: str = "pickle", buffer_records: int = 10000,
                 buffer_bytes: int = 16 * 1024 * 1024, overflow: str = "block",
                 block_timeout: float = 5.0, close_timeout: float = 10.0,
                 in_flight: int = 1024, connect_timeout: float = 5.0) -> None:
        logging.handlers.SocketHandler.__init__(self, host, port)
        self._key = load_key(key_file)
        self._sealer = _Sealer(self._key)
        self.ack = bool(ack)
        self.payload_format = _payload_format(payload)
        if buffer_records < 1 or buffer_bytes < 1:
            raise ValueError("buffer_records and buffer_bytes must be at least 1")
        if overflow not in ("block", "drop_oldest"):
            raise ValueError("overflow must be 'block' or 'drop_oldest', not %r" % (overflow,))
        if not 1 <= in_flight <= MAX_IN_FLIGHT:
            raise ValueError("in_flight must be in 1 .. %d (the collector's replay window)"
                             % MAX_IN_FLIGHT)
        self.buffer_records = int(buffer_records)
        self.buffer_bytes = int(buffer_bytes)
        self.overflow = overflow
        self.block_timeout = float(block_timeout)
        self.close_timeout = float(close_timeout)
        self.in_flight = int(in_flight)
        self.connect_timeout = float(connect_timeout)
        self._fresh_state()
        _register(self)
        # A multiprocessing child (fork) leaves through os._exit, which skips atexit and so
        # logging.shutdown(): close the handler (waiting for the acks) in its exit function.
        import multiprocessing.util as mp_util
        mp_util.register_after_fork(self, SignedSocketHandler._after_mp_fork)

    def _after_mp_fork(self) -> None:
        import multiprocessing.util as mp_util
        mp_util.Finalize(self, self.close, exitpriority=100)

    # ----------------------------------------------------------------- state
    def _fresh_state(self) -> None:
        self.epoch = os.urandom(16)
        self._pid = os.getpid()
        self._lock_ = threading.Lock()
        self._cond = threading.Condition(self._lock_)
        # Payloads not sealed yet: a record gets its seq when it is first sent, so a drop
        # leaves no gap in the seqs (the collector's acks are cumulative).
        self._unsent: Deque[bytes] = collections.deque()
        # Sealed batches [first_seq, last_seq, frames, bytes]: sent on the current connection
        # and awaiting the ack, and (after a reconnect) waiting to be sent again.
        self._unacked: Deque[list] = collections.deque()
        self._resend: Deque[list] = collections.deque()
        self._held = 0            # records in _unacked and _resend
        self._in_flight_n = 0     # records in _unacked
        self._bytes = 0           # bytes of every buffered record, as frames
        self._seq = 0
        self.acked = 0            # highest seq the collector acknowledged (cumulative)
        self._emitted = self._sent = self._dropped = self._resent = self._reconnects = 0
        self._drop_reported = False
        self._waiters = 0
        self._closing = False
        self._closed = False
        self._deadline: Optional[float] = None
        self._thread: Optional[threading.Thread] = None
        self._sleeping = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._conn: Optional[socket.socket] = None
        self._connect_error_reported = False
        self.retryTime = None

    def _fork_acquire(self) -> None:
        self._cond.acquire()

    def _fork_release(self) -> None:
        self._cond.release()

    def _fork_child(self) -> None:
        # The parent's lock was held across the fork (by _before_fork): drop it with the
        # rest. The inherited descriptors are the parent's connection and pipe: closing
        # the child's copies leaves the parent's connection as it is.
        old = (self._conn, self._wake_r, self._wake_w)
        if self._closed:
            self._lock_ = threading.Lock()
            self._cond = threading.Condition(self._lock_)
            return
        self._fresh_state()
        if old[0] is not None:
            try:
                old[0].close()      # the child's copy only: the parent's stays connected
            except OSError:
                pass
        for fd in old[1:]:
            try:
                os.close(fd)
            except OSError:
                pass

    # ----------------------------------------------------------------- logging API
    def emit(self, record: logging.LogRecord) -> None:
        """Encodes the record and buffers it; never waits on the network (with
        ``overflow="block"`` it waits for room in a full buffer, up to ``block_timeout``)."""
        try:
            # encode_payload, inlined: this is the logging call's whole cost.
            if record.exc_info:
                self.format(record)
            d = record.__dict__.copy()
            d["msg"] = record.getMessage()
            d["args"] = None
            d["exc_info"] = None
            d.pop("message", None)
            if self.payload_format == FORMAT_PICKLE:
                payload = _dumps(d, PICKLE_PROTOCOL)
            else:
                payload = json.dumps(d, default=_json_default, ensure_ascii=False).encode()
        except Exception:
            with self._cond:
                self._emitted += 1
                self._drop(1, "it could not be encoded")
            self.handleError(record)
            return
        size = len(payload) + 80
        with self._lock_:
            # The common case: room, and a running sender that is not asleep.
            unsent = self._unsent
            if (not self._sleeping and self._thread is not None and not self._closing
                    and len(unsent) + self._held < self.buffer_records
                    and self._bytes + size <= self.buffer_bytes):
                self._emitted += 1
                unsent.append(payload)
                self._bytes += size
                return
            self._enqueue_locked(payload, size)

    def _enqueue(self, payload: bytes) -> None:
        # A buffered record costs its frame's size: payload + 4 (prefix) + 44 + 32 (tag).
        with self._cond:
            self._enqueue_locked(payload, len(payload) + 80)

    def _enqueue_locked(self, payload: bytes, size: int) -> None:
        self._emitted += 1
        if self._closing or self._closed:
            self._drop(1, "the handler is closed")
            return
        if not self._has_room(size):
            if self.overflow == "drop_oldest":
                while not self._has_room(size):
                    if not self._drop_oldest_unsent():
                        break
            else:
                end = time.monotonic() + self.block_timeout
                self._waiters += 1
                try:
                    while not self._has_room(size) and not self._closing:
                        left = end - time.monotonic()
                        if left <= 0:
                            break
                        self._cond.wait(left)
                finally:
                    self._waiters -= 1
            if not self._has_room(size):
                self._drop(1, "the buffer is full (%d records, %d bytes)"
                           % (len(self._unsent) + self._held, self._bytes))
                return
        self._unsent.append(payload)
        self._bytes += size
        if self._thread is None:
            self._start_thread()
        elif self._sleeping:
            self._sleeping = False
            try:
                os.write(self._wake_w, b"\0")
            except (BlockingIOError, OSError):
                pass

    def _has_room(self, size: int) -> bool:
        n = len(self._unsent) + self._held
        return n == 0 or (n < self.buffer_records and self._bytes + size <= self.buffer_bytes)

    def _drop_oldest_unsent(self) -> bool:
        if not self._unsent:
            return False     # everything buffered is in flight: keep the seqs contiguous
        data = self._unsent.popleft()
        self._bytes -= len(data) + 80
        self._drop(1, "the buffer is full (overflow='drop_oldest')")
        return True

    def _drop(self, n: int, why: str) -> None:
        self._dropped += n
        if not self._drop_reported:
            self._drop_reported = True
            sys.stderr.write("logwire_helper: %s to %s: dropping records: %s (counted in "
                             "report().dropped)\n" % (type(self).__name__, self._where(), why))

    def _where(self) -> str:
        return self.host if self.port is None else "%s:%s" % (self.host, self.port)

    def _start_thread(self) -> None:
        t = threading.Thread(target=self._run, name="logwire-sender-%s" % self._where(),
                             daemon=True)
        self._thread = t
        t.start()

    def makePickle(self, record: logging.LogRecord) -> bytes:
        """The length-prefixed LWR1 frame for ``record`` with this handler's epoch and the
        next seq, for a caller that sends frames itself (as CPython's ``makePickle`` is used
        with ``send``). ``emit`` does not use it: records logged through the handler are
        sealed by its sender thread. Do not mix the two on one handler."""
        payload = encode_payload(self, record, self.payload_format)
        with self._cond:
            self._seq += 1
            seq = self._seq
        return self._sealer.frame(self.epoch, seq, payload, self.payload_format, self.ack)

    def send(self, s: bytes) -> None:
        """Not used: the sender thread writes. Raises ``TypeError`` (CPython's
        ``SocketHandler.send`` would write ``s`` to the socket synchronously, bypassing the
        buffer, the acks and the resends)."""
        raise TypeError("SignedSocketHandler sends from its own thread: log through it "
                        "(handler.handle(record) or a logger), do not call send()")

    def flush(self) -> None:
        """Wakes the sender; does not wait (``wait_acked`` and ``close`` wait)."""
        with self._cond:
            if self._thread is not None and self._sleeping:
                self._sleeping = False
                try:
                    os.write(self._wake_w, b"\0")
                except OSError:
                    pass

    def report(self) -> DeliveryReport:
        """Counts that are true now (see ``DeliveryReport``).

        >>> h.report().dropped  # doctest: +SKIP
        0
        """
        with self._cond:
            return DeliveryReport(self._emitted, self.acked if self.ack else 0, self._sent,
                                  len(self._unsent) + self._held, self._dropped,
                                  self._resent, self._reconnects)

    def wait_acked(self, timeout: Optional[float] = None) -> bool:
        """Waits until every record emitted so far is acknowledged (``ack=True``) or
        written (``ack=False``); True if so, False on timeout."""
        end = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._waiters += 1
            try:
                while self._unsent or self._held:
                    left = None if end is None else end - time.monotonic()
                    if left is not None and left <= 0:
                        return False
                    self._cond.wait(left if left is not None else 1.0)
                return True
            finally:
                self._waiters -= 1

    def read_acks(self, timeout: float = 0.0) -> int:
        """The highest seq the collector acknowledged for this handler's epoch (0 if none),
        after waiting up to ``timeout`` s for everything to be acknowledged. Kept for
        compatibility; ``report()`` says more."""
        if timeout > 0:
            self.wait_acked(timeout)
        with self._cond:
            return self.acked

    def close(self, timeout: Optional[float] = None) -> None:
        """Waits up to ``timeout`` (default ``close_timeout``) s for every record to be
        acknowledged, then stops the sender. Records still pending are counted as dropped
        and reported on stderr."""
        with self._cond:
            if self._closed:
                return
            self._closing = True
            wait = self.close_timeout if timeout is None else timeout
            self._deadline = time.monotonic() + wait
            thread = self._thread
            self._cond.notify_all()
            try:
                os.write(self._wake_w, b"\0")
            except OSError:
                pass
        if thread is not None and thread is not threading.current_thread():
            thread.join(wait + self.connect_timeout + 1.0)
        with self._cond:
            left = len(self._unsent) + self._held
            if left:
                self._dropped += left
                self._unsent.clear()
                self._unacked.clear()
                self._resend.clear()
                self._held = self._in_flight_n = 0
                self._bytes = 0
            self._closed = True
            dropped = self._dropped
            emitted = self._emitted
            if dropped:
                sys.stderr.write("logwire_helper: %s to %s closed: %d of %d records were not "
                                 "delivered (%d unacknowledged at close)\n"
                                 % (type(self).__name__, self._where(), dropped, emitted, left))
            for fd in (self._wake_r, self._wake_w):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._wake_r = self._wake_w = -1
        logging.Handler.close(self)

    def __enter__(self) -> "SignedSocketHandler":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ----------------------------------------------------------------- the sender thread
    def _connect(self) -> Optional[socket.socket]:
        try:
            if self.port is None:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(self.connect_timeout)
                try:
                    s.connect(self.host)
                except OSError:
                    s.close()
                    raise
            else:
                s = socket.create_connection((self.host, self.port), self.connect_timeout)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except Exception as e:   # OSError, and whatever name resolution may raise
            if not isinstance(e, OSError) and not self._connect_error_reported:
                self._connect_error_reported = True
                sys.stderr.write("logwire_helper: %s to %s: cannot connect: %s: %s (retrying "
                                 "with backoff)\n" % (type(self).__name__, self._where(),
                                                       type(e).__name__, e))
            # CPython's backoff (SocketHandler.createSocket).
            now = time.monotonic()
            if self.retryTime is None:
                self.retryPeriod = self.retryStart
            else:
                self.retryPeriod = min(self.retryPeriod * self.retryFactor, self.retryMax)
            self.retryTime = now + self.retryPeriod
            return None
        self.retryTime = None
        s.setblocking(False)
        return s

    def _run(self) -> None:
        """The sender thread. A bug must not silently stop delivery: an unexpected error is
        reported on stderr and the loop starts again on a fresh connection (what was not
        acknowledged is resent)."""
        while True:
            try:
                self._loop()
                return
            except Exception:
                import traceback
                sys.stderr.write("logwire_helper: %s to %s: sender thread error (restarting "
                                 "it):\n%s" % (type(self).__name__, self._where(),
                                               traceback.format_exc()))
                with self._cond:
                    conn, self._conn = self._conn, None
                    if self._closed:
                        return
                if conn is not None:
                    try:
                        conn.close()
                    except OSError:
                        pass
                time.sleep(0.5)

    def _loop(self) -> None:
        cond = self._cond
        conn: Optional[socket.socket] = None
        out = b""                   # bytes of the batch being written
        out_n = 0                   # records in it (ack=False: forgotten once written)
        acks = bytearray()
        connected_once = False
        wake_r = self._wake_r
        while True:
            with cond:
                if self._closing:
                    done = not self._unsent and not self._held and not out
                    if done or time.monotonic() >= (self._deadline or 0):
                        break
                if conn is None:
                    due = self.retryTime
            if conn is None:
                now = time.monotonic()
                if due is not None and now < due:
                    self._sleep(wake_r, due - now)
                    continue
                conn = self._connect()
                if conn is None:
                    continue
                with cond:
                    self._conn = conn
                    if connected_once:
                        self._reconnects += 1
                    connected_once = True
                    # Resend everything not acknowledged, in seq order, with its seq.
                    if self._unacked:
                        self._resent += self._in_flight_n
                        self._unacked.extend(self._resend)
                        self._resend, self._unacked = self._unacked, collections.deque()
                        self._in_flight_n = 0
                out, out_n, acks = b"", 0, bytearray()
            if not out:
                with cond:
                    out, out_n = self._next_batch()
                    if not out:
                        self._sleeping = True
            try:
                if out:
                    # Busy: write and read acks without select first. Every socket call
                    # hands the GIL to the logging threads, and taking it back can cost a
                    # switch interval, so the busy path makes as few calls as it can.
                    try:
                        n = conn.send(out)
                    except BlockingIOError:
                        n = 0
                    out = out[n:]
                    if not out:
                        out_n = 0
                        if not self.ack:
                            with cond:
                                cond.notify_all()
                    self._recv_acks(conn, acks)
                    if out:
                        select.select([conn], [conn], [], 1.0)
                    elif not self._closing and len(self._unsent) < 1024:
                        # Let records gather for the next batch (a few ms at most).
                        time.sleep(LINGER)
                    continue
                # Nothing to send (all sent, or the in-flight limit reached): wait for acks,
                # new records (the wake pipe) or the close deadline.
                r, _, _ = select.select([conn, wake_r], [], [], self._idle_wait())
                if wake_r in r:
                    try:
                        os.read(wake_r, 4096)
                    except OSError:
                        pass
                if conn in r:
                    self._recv_acks(conn, acks)
            except (OSError, ValueError):
                try:
                    conn.close()
                except OSError:
                    pass
                conn = None
                with cond:
                    self._conn = None
                    if not self.ack and out:
                        self._drop(out_n, "the connection broke with records unacknowledged "
                                          "(ack=False)")
                    out, out_n = b"", 0
                # CPython retries at once after a send error, then backs off.
                self.retryTime = None
        if conn is not None:
            try:
                conn.close()
            except OSError:
                pass
        with cond:
            self._conn = None
            cond.notify_all()

    def _recv_acks(self, conn: socket.socket, acks: bytearray) -> None:
        try:
            chunk = conn.recv(65536)
        except BlockingIOError:
            return
        if not chunk:
            raise ConnectionResetError("the collector closed the connection")
        acks += chunk
        self._take_acks(acks)

    def _idle_wait(self) -> Optional[float]:
        with self._cond:
            if self._closing:
                return max(0.0, (self._deadline or 0) - time.monotonic())
        return None if not self.ack else 5.0

    def _sleep(self, fd: int, seconds: float) -> None:
        with self._cond:
            if self._closing:
                seconds = min(seconds, max(0.0, (self._deadline or 0) - time.monotonic()))
            self._sleeping = True
        try:
            r, _, _ = select.select([fd], [], [], seconds)
            if r:
                os.read(fd, 4096)
        except OSError:
            pass

    def _next_batch(self) -> Tuple[bytes, int]:
        """The next bytes to write: a batch to resend after a reconnect, or records sealed
        now (up to 1 MiB and the in-flight limit). Called with the lock held; the sender's
        hot loop.

        Only the last frame of a batch asks for an ack: the collector's acks are cumulative
        (every record of the epoch up to that seq is stored), so one ack per batch says what
        one per record would, at a fraction of the collector's and this thread's work. A
        resent batch is sent whole, as it was sealed, its last frame still asking."""
        ack = self.ack
        if ack:
            room = self.in_flight - self._in_flight_n
            if room <= 0:
                return b"", 0
            if self._resend:
                batch = self._resend[0]
                n = len(batch[2])
                if n > room and self._in_flight_n:
                    return b"", 0      # wait for acks to make room for it
                self._resend.popleft()
                self._unacked.append(batch)
                self._in_flight_n += n
                return b"".join(batch[2]), n
        unsent = self._unsent
        if not unsent:
            return b"", 0
        room = room if ack else len(unsent)
        parts: List[bytes] = []
        append = parts.append
        size = 0
        popleft = unsent.popleft
        first = seq = self._seq + 1
        sealer = self._sealer
        epoch, fmt = self.epoch, self.payload_format
        pack, kid = sealer._HEAD.pack, sealer.key_id
        inner, outer = sealer._inner.copy, sealer._outer.copy
        while unsent and size < 1048576 and room > 0:
            data = popleft()
            # _Sealer.frame(epoch, seq, data, fmt, False), inlined.
            n = len(data)
            head = pack(n + 76, MAGIC, ALG_HMAC_SHA256, fmt, 0, 0, kid, epoch, seq, n)
            i = inner()
            i.update(memoryview(head)[4:])
            i.update(data)
            o = outer()
            o.update(i.digest())
            data = b"".join((head, data, o.digest()))
            append(data)
            size += n + 80
            room -= 1
            seq += 1
        last = seq - 1
        count = last - first + 1
        self._sent += count
        self._seq = last
        if ack:
            f = parts[-1]
            parts[-1] = sealer.frame(epoch, last, f[48:-32], fmt, True)
            self._unacked.append([first, last, parts, size])
            self._held += count
            self._in_flight_n += count
        else:
            self._bytes -= size          # ack=False: forgotten once taken for writing
        return b"".join(parts), count

    _ACK_UNIT = b"\0\0\0\x1c" + ACK_MAGIC   # every LWA1 frame: 4 + 28 bytes

    def _take_acks(self, buf: bytearray) -> None:
        best = 0
        # Acks are cumulative and every ack frame is 32 bytes: the last whole one says it
        # all (the collector acks each record; parsing each would cost the sender a loop).
        k = len(buf) // 32
        if k and buf[0:8] == self._ACK_UNIT and buf[(k - 1) * 32:(k - 1) * 32 + 8] == \
                self._ACK_UNIT:
            last = bytes(buf[(k - 1) * 32 + 4:k * 32])
            del buf[:k * 32]
            epoch, seq = parse_ack(last)
            if epoch == self.epoch:
                best = seq
        while len(buf) >= 4:
            (n,) = struct.unpack_from(">L", buf)
            if n > 4096:
                raise ConnectionResetError("not an LWA1 ack stream")
            if len(buf) < 4 + n:
                break
            body = bytes(buf[4:4 + n])
            del buf[:4 + n]
            try:
                epoch, seq = parse_ack(body)
            except ValueError:
                continue
            if epoch == self.epoch and seq > best:
                best = seq
        if not best:
            return
        with self._cond:
            if best > self.acked:
                self.acked = best
            unacked = self._unacked
            while unacked and unacked[0][1] <= best:
                batch = unacked.popleft()
                n = len(batch[2])
                self._bytes -= batch[3]
                self._held -= n
                self._in_flight_n -= n
            if unacked and unacked[0][0] <= best:
                # An ack inside a batch (not one this sender asked for): keep the rest.
                batch = unacked[0]
                k = best - batch[0] + 1
                done = batch[2][:k]
                batch[2] = batch[2][k:]
                batch[0] = best + 1
                nb = sum(len(f) for f in done)
                batch[3] -= nb
                self._bytes -= nb
                self._held -= k
                self._in_flight_n -= k
            if self._waiters or self._closing:
                self._cond.notify_all()


class SignedDatagramHandler(logging.handlers.DatagramHandler):
    """DatagramHandler sending LWR1-signed records (never acked: datagrams get no reply, and
    UDP loss is invisible to both sides). After ``os.fork()`` the child gets a fresh epoch.

    >>> h = SignedDatagramHandler("127.0.0.1", 9021, "sender.key")  # doctest: +SKIP
    """

    def __init__(self, host: str, port: Optional[int], key_file: str, ack: bool = False,
                 payload: str = "pickle") -> None:
        logging.handlers.DatagramHandler.__init__(self, host, port)
        self.key = load_key(key_file)
        self._sealer = _Sealer(self.key)
        self.ack = bool(ack)
        self.payload_format = _payload_format(payload)
        self._seq_lock = threading.Lock()
        self.epoch = os.urandom(16)
        self._seq = 0
        self._pid = os.getpid()
        _register(self)

    def _fork_acquire(self) -> None:
        self._seq_lock.acquire()

    def _fork_release(self) -> None:
        self._seq_lock.release()

    def _fork_child(self) -> None:
        self._seq_lock = threading.Lock()
        self.epoch = os.urandom(16)
        self._seq = 0
        self._pid = os.getpid()

    def next_seq(self) -> int:
        with self._seq_lock:
            if self._pid != os.getpid():
                self._fork_child()
            self._seq += 1
            return self._seq

    def makePickle(self, record: logging.LogRecord) -> bytes:
        """The length-prefixed LWR1 frame for ``record`` (CPython's ``makePickle`` hook)."""
        payload = encode_payload(self, record, self.payload_format)
        return self._sealer.frame(self.epoch, self.next_seq(), payload, self.payload_format,
                                  self.ack)

    def __enter__(self) -> "SignedDatagramHandler":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def listen(*args: Any, **kwargs: Any) -> Any:
    """``logging.config.listen`` with the verifier built in: see ``logwire_helper.listener``."""
    from .listener import listen as _listen
    return _listen(*args, **kwargs)
