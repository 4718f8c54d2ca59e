"""Signed logging handlers for a logwire collector (stdlib only).

``SignedSocketHandler`` and ``SignedDatagramHandler`` subclass CPython's
``logging.handlers.SocketHandler`` / ``DatagramHandler`` and override ``makePickle`` so every
record leaves as an ``LWR1`` envelope (design.md, "Signed record frame")::

    off  len  field
    0    4    magic "LWR1"
    4    1    alg: 2 = HMAC-SHA256
    5    1    payload format: 1 = pickle record dict, 2 = JSON object
    6    1    flags: bit 0 = ack requested
    7    1    reserved, zero
    8    8    key_id = SHA-256(b"logwire/hmac-key-id\\0" + key)[:8]
    16   16   epoch (random per handler instance)
    32   8    seq, u64 BE, 1, 2, 3 ...
    40   4    N, u32 BE payload length
    44   N    payload: pickle.dumps(record dict, 1), as SocketHandler.makePickle builds it
    44+N 32   tag = HMAC-SHA256(key, b"logwire/record/v1\\0" + bytes[0:44+N])

The 4-byte big-endian length prefix CPython uses goes in front, for streams and datagrams.
"""

import base64
import hashlib
import hmac
import logging.handlers
import os
import pickle
import socket
import struct
import threading

__all__ = [
    "SignedSocketHandler",
    "SignedDatagramHandler",
    "load_key",
    "key_id",
    "seal_record",
    "record_dict",
    "parse_ack",
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


def load_key(path):
    """Reads an ``hmac:<base64>`` key file and returns the key bytes."""
    with open(path, "r", encoding="ascii") as f:
        text = f.read(4096).strip()
    kind, sep, b64 = text.partition(":")
    if not sep or kind != "hmac":
        raise ValueError("%s: not an hmac key file (expected 'hmac:<base64>')" % path)
    key = base64.b64decode(b64, validate=True)
    if len(key) < MIN_KEY_LEN:
        raise ValueError("%s: an HMAC key needs at least %d bytes" % (path, MIN_KEY_LEN))
    return key


def key_id(key):
    """The 8-byte key id of an HMAC key."""
    return hashlib.sha256(KEY_ID_CONTEXT + key).digest()[:8]


def seal_record(key, epoch, seq, payload, fmt=FORMAT_PICKLE, ack=False):
    """The LWR1 envelope (without the length prefix) for one payload."""
    if len(epoch) != 16:
        raise ValueError("epoch must be 16 bytes")
    if not 1 <= seq < 2 ** 64:
        raise ValueError("seq must be in 1 .. 2**64-1")
    head = MAGIC + bytes([ALG_HMAC_SHA256, fmt, FLAG_ACK if ack else 0, 0])
    head += key_id(key) + epoch + struct.pack(">QL", seq, len(payload))
    signed = head + payload
    tag = hmac.new(key, SIGNING_CONTEXT + signed, hashlib.sha256).digest()
    return signed + tag


def record_dict(handler, record):
    """The dict CPython's SocketHandler.makePickle pickles (msg merged, args/exc_info None)."""
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


def parse_ack(body):
    """(epoch, seq) of an LWA1 ack body (without its length prefix)."""
    if len(body) != 28 or body[:4] != ACK_MAGIC:
        raise ValueError("not an LWA1 ack")
    return body[4:20], struct.unpack(">Q", body[20:28])[0]


class _Sealer:
    """Epoch, seq counter and key shared by both handlers."""

    def _init_sealer(self, key_file, ack):
        self.key = load_key(key_file)
        self.epoch = os.urandom(16)
        self.ack = bool(ack)
        self._seq = 0
        self._seq_lock = threading.Lock()
        self._ack_buf = b""
        self.acked = 0

    def next_seq(self):
        with self._seq_lock:
            self._seq += 1
            return self._seq

    def makePickle(self, record):
        payload = pickle.dumps(record_dict(self, record), 1)
        env = seal_record(self.key, self.epoch, self.next_seq(), payload, FORMAT_PICKLE, self.ack)
        return struct.pack(">L", len(env)) + env


class SignedSocketHandler(_Sealer, logging.handlers.SocketHandler):
    """SocketHandler sending LWR1-signed records (``port=None``: ``host`` is a Unix path)."""

    def __init__(self, host, port, key_file, ack=False):
        logging.handlers.SocketHandler.__init__(self, host, port)
        self._init_sealer(key_file, ack)

    def read_acks(self, timeout=0.0):
        """Reads the acks that arrived (waiting up to ``timeout`` s for the first) and
        returns the highest seq acknowledged for this handler's epoch (0 if none)."""
        sock = self.sock
        if sock is None:
            return self.acked
        old = sock.gettimeout()
        try:
            sock.settimeout(timeout if timeout > 0 else 0.0)
            while True:
                try:
                    chunk = sock.recv(65536)
                except (BlockingIOError, socket.timeout):
                    break
                if not chunk:
                    break
                self._ack_buf += chunk
                sock.settimeout(0.0)
        finally:
            sock.settimeout(old)
        while len(self._ack_buf) >= 4:
            (n,) = struct.unpack(">L", self._ack_buf[:4])
            if len(self._ack_buf) < 4 + n:
                break
            body, self._ack_buf = self._ack_buf[4 : 4 + n], self._ack_buf[4 + n :]
            try:
                epoch, seq = parse_ack(body)
            except ValueError:
                continue
            if epoch == self.epoch:
                self.acked = max(self.acked, seq)
        return self.acked


class SignedDatagramHandler(_Sealer, logging.handlers.DatagramHandler):
    """DatagramHandler sending LWR1-signed records (never acked: datagrams get no reply)."""

    def __init__(self, host, port, key_file, ack=False):
        logging.handlers.DatagramHandler.__init__(self, host, port)
        self._init_sealer(key_file, ack)
