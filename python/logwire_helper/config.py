"""Signed configs for logging.config.listen(), in both directions (stdlib only).

* ``sign_config`` / ``send_config`` build and push ``LWC1`` envelopes (design.md, "Signed
  config frame"), byte for byte what ``logwire send-config`` produces, to a logwire config
  listener (which answers with a status dict) or to CPython's own ``listen()`` (which never
  answers: ``send_config`` then returns ``None``).
* ``verifier(...)`` makes the ``verify=`` callable for CPython's ``logging.config.listen``::

      import logging.config
      from logwire_helper.config import verifier

      t = logging.config.listen(9030, verify=verifier(keys=["ops.pub"],
                                                       state_file="/var/lib/app/seq.json"))
      t.start()

  It checks the envelope (key, exact length, signature, time window, audience, seq
  ratchet persisted in ``state_file``) and then a content policy, *before* CPython parses
  anything: ``'()'`` factories, ``'.'`` attributes, classes outside an allow-list,
  ``ext://`` other than ``sys.stdout``/``sys.stderr``, and INI ``args``/``kwargs``/
  ``defaults`` that are not plain literals are all refused, and file handlers may only
  write beneath ``file_root`` (relative names are resolved there; ``..``, outside paths
  and symlinks are refused; no file handlers at all without a root). It returns the inner
  config bytes (file names made absolute), or ``None`` to reject (CPython's verify
  protocol). The seq is burned only once every check has passed.

Envelope layout::

    0   4  magic "LWC1"          4  1  alg: 1 = Ed25519, 2 = HMAC-SHA256
    5   3  reserved, zero        8  8  key_id
    16  8  seq (u64 BE)          24 8  issued_at_ms (i64 BE)
    32  8  expires_at_ms         40 16 audience = SHA-256(name)[:16], zero = any listener
    56  4  N (u32 BE)            60 N  payload, then the signature (64 or 32 bytes) over
                                       b"logwire/config/v1\\0" + bytes[0:60+N]

Ed25519 uses the ``cryptography`` package when it is installed; HMAC keys need nothing but
the standard library.
"""

import ast
import base64
import configparser
import hashlib
import hmac
import io
import json
import os
import socket
import struct
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, Iterable, Optional, Union

KeyLike = Union[str, "os.PathLike[str]", "Key"]

__all__ = [
    "Key",
    "load_key_file",
    "audience_bytes",
    "sign_config",
    "sign_config_frame",
    "send_config",
    "verifier",
    "ConfigVerifier",
    "check_config_policy",
    "confine_files",
    "PolicyError",
    "DEFAULT_ALLOWED_CLASSES",
]

MAGIC = b"LWC1"
ALG_ED25519 = 1
ALG_HMAC_SHA256 = 2
HEADER_LEN = 60
SIGNING_CONTEXT = b"logwire/config/v1\0"
HMAC_KEY_ID_CONTEXT = b"logwire/hmac-key-id\0"
MAX_FUTURE_SKEW_MS = 300_000
MAX_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000
MAX_KEY_FILE_BYTES = 4096
MAX_REPLY_BYTES = 16 * 1024
SIG_LEN = {ALG_ED25519: 64, ALG_HMAC_SHA256: 32}

#: Handler and formatter classes a pushed config may name (dictConfig spelling). INI
#: spellings (``StreamHandler``, ``handlers.RotatingFileHandler``) map onto these.
DEFAULT_ALLOWED_CLASSES = frozenset([
    "logging.Formatter",
    "logging.StreamHandler",
    "logging.FileHandler",
    "logging.NullHandler",
    "logging.handlers.WatchedFileHandler",
    "logging.handlers.RotatingFileHandler",
    "logging.handlers.TimedRotatingFileHandler",
    "logging.handlers.MemoryHandler",
    "logging.handlers.SocketHandler",
    "logging.handlers.DatagramHandler",
    "logging.handlers.SysLogHandler",
    "logging.handlers.SMTPHandler",
    "logging.handlers.HTTPHandler",
])

#: The only names an INI ``args``/``kwargs`` value may use besides literals.
INI_ALLOWED_NAMES = {
    "sys.stdout", "sys.stderr",
    "handlers.DEFAULT_TCP_LOGGING_PORT", "handlers.DEFAULT_UDP_LOGGING_PORT",
    "handlers.DEFAULT_HTTP_LOGGING_PORT", "handlers.DEFAULT_SOAP_LOGGING_PORT",
    "handlers.SYSLOG_UDP_PORT", "handlers.SYSLOG_TCP_PORT",
}
ALLOWED_EXT = {"ext://sys.stdout", "ext://sys.stderr"}

#: Handler classes that open a file named by their first argument / ``filename``.
FILE_HANDLER_CLASSES = frozenset([
    "logging.FileHandler",
    "logging.handlers.WatchedFileHandler",
    "logging.handlers.RotatingFileHandler",
    "logging.handlers.TimedRotatingFileHandler",
])


# --------------------------------------------------------------------------- keys

class Key:
    """A key from a ``<kind>:<base64>`` key file: ``hmac``, ``ed25519-private`` (signs and
    verifies) or ``ed25519-public`` (verifies only). Ed25519 keys need the ``cryptography``
    package (``pip install cryptography``, or ``pip install ./python[ed25519]``); without it
    they raise a ``ValueError`` that says so. HMAC keys need only the standard library.

    >>> k = Key("hmac", bytes(32))
    >>> k.verify(b"m", k.sign(b"m")), k.key_id.hex()
    (True, 'a8da08b92da19cd7')
    """

    def __init__(self, kind: str, material: bytes) -> None:
        self.kind = kind
        self._private = None
        if kind == "hmac":
            if len(material) < 16:
                raise ValueError("an HMAC key needs at least 16 bytes")
            self.alg = ALG_HMAC_SHA256
            self.secret = bytes(material)
            self.key_id = hashlib.sha256(HMAC_KEY_ID_CONTEXT + self.secret).digest()[:8]
            return
        if len(material) != 32:
            raise ValueError("%s key must be 32 bytes, got %d" % (kind, len(material)))
        ed = _ed25519()
        self.alg = ALG_ED25519
        if kind == "ed25519-private":
            self._private = ed.Ed25519PrivateKey.from_private_bytes(bytes(material))
            self._public = self._private.public_key()
        elif kind == "ed25519-public":
            self._public = ed.Ed25519PublicKey.from_public_bytes(bytes(material))
        else:
            raise ValueError("unknown key kind %r (expected hmac, ed25519-private or "
                             "ed25519-public)" % kind)
        from cryptography.hazmat.primitives import serialization
        raw = self._public.public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
        self.key_id = hashlib.sha256(raw).digest()[:8]

    def sign(self, message: bytes) -> bytes:
        if self.alg == ALG_HMAC_SHA256:
            return hmac.new(self.secret, message, hashlib.sha256).digest()
        if self._private is None:
            raise ValueError("this is an ed25519-public key; signing needs the private key")
        return self._private.sign(message)

    def verify(self, message: bytes, signature: bytes) -> bool:
        if self.alg == ALG_HMAC_SHA256:
            expected = hmac.new(self.secret, message, hashlib.sha256).digest()
            return hmac.compare_digest(expected, signature)
        try:
            self._public.verify(signature, message)
            return True
        except Exception:
            return False

    def __repr__(self):
        return "Key(kind=%r, key_id=%s)" % (self.kind, self.key_id.hex())


def _ed25519():
    try:
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise ValueError("Ed25519 keys need the 'cryptography' package "
                         "(pip install cryptography), or use an HMAC key") from None
    return ed25519


def load_key_file(path: str) -> Key:
    """Reads a logwire key file (at most 4 KiB) into a ``Key``.

    >>> load_key_file("ops.pub")   # doctest: +SKIP
    Key(kind='ed25519-public', key_id=...)
    """
    with open(path, "rb") as f:
        data = f.read(MAX_KEY_FILE_BYTES + 1)
    if len(data) > MAX_KEY_FILE_BYTES:
        raise ValueError("%s: key file is larger than %d bytes" % (path, MAX_KEY_FILE_BYTES))
    kind, sep, b64 = data.decode("ascii").strip().partition(":")
    if not sep:
        raise ValueError("%s: not a key file of the form '<kind>:<base64>'" % path)
    return Key(kind, base64.b64decode(b64, validate=True))


def _key(k):
    return k if isinstance(k, Key) else load_key_file(k)


def audience_bytes(name: Optional[str]) -> bytes:
    """The 16 audience bytes for a listener group name (``None``: any listener).

    >>> audience_bytes(None) == bytes(16), len(audience_bytes("payments-prod"))
    (True, 16)
    """
    if name is None:
        return bytes(16)
    return hashlib.sha256(name.encode("utf-8")).digest()[:16]


# --------------------------------------------------------------------------- signing

def sign_config(payload: Union[str, bytes], key_file: KeyLike, seq: int, ttl: float = 300,
                audience: Optional[str] = None, issued_at_ms: Optional[int] = None,
                expires_at_ms: Optional[int] = None) -> bytes:
    """The ``LWC1`` envelope (without the 4-byte length prefix) for ``payload``.

    >>> env = sign_config('{"version": 1}', Key("hmac", bytes(32)), 7, issued_at_ms=0)
    >>> env[:4], len(env)
    (b'LWC1', 106)

    ``key_file`` is a path or a ``Key``; ``ttl`` is in seconds; ``issued_at_ms`` defaults to
    now. ``expires_at_ms`` overrides ``ttl`` (to reproduce a frame exactly)."""
    key = _key(key_file)
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    if issued_at_ms is None:
        issued_at_ms = int(time.time() * 1000)
    if expires_at_ms is None:
        expires_at_ms = issued_at_ms + int(round(ttl * 1000))
    if not 0 <= seq < 2 ** 64:
        raise ValueError("seq must be in 0 .. 2**64-1")
    head = MAGIC + bytes([key.alg, 0, 0, 0]) + key.key_id
    head += struct.pack(">Qqq", seq, issued_at_ms, expires_at_ms)
    head += audience_bytes(audience) + struct.pack(">L", len(payload))
    signed = head + payload
    return signed + key.sign(SIGNING_CONTEXT + signed)


def sign_config_frame(payload: Union[str, bytes], key_file: KeyLike, seq: int,
                      **kw: Any) -> bytes:
    """``sign_config`` with the length prefix in front: ready for ``sendall``.

    >>> len(sign_config_frame("{}", Key("hmac", bytes(32)), 1))
    98
    """
    env = sign_config(payload, key_file, seq, **kw)
    return struct.pack(">L", len(env)) + env


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None if not buf else buf
        buf += chunk
    return buf


def send_config(payload: Union[str, bytes], address: Any, key_file: Optional[KeyLike] = None,
                seq: Optional[int] = None, ttl: float = 300, audience: Optional[str] = None,
                timeout: float = 10.0, ssl_context: Any = None,
                server_hostname: Optional[str] = None) -> Optional[Dict[str, Any]]:
    """Sends a config and returns the listener's reply as a dict, or ``None`` if the
    listener closed without replying (CPython's ``listen()`` never replies).

    >>> send_config(open("logging.json").read(), ("127.0.0.1", 9030),
    ...             "ops.key")                                   # doctest: +SKIP
    {'status': 'applied', 'seq': 1765100000000}

    ``address`` is ``(host, port)`` or a Unix socket path. Without ``key_file`` the frame is
    sent unsigned (as CPython's cookbook does). ``seq`` defaults to the Unix time in ms.

    ``ssl_context`` (an ``ssl.SSLContext``) sends over TLS, for a listener started with
    ``--listen-tls-cert``: load the listener's CA with ``cafile=`` and this client's
    certificate with ``load_cert_chain``. The listener's certificate is checked against
    ``server_hostname`` (default: the host of ``address``). A refused client certificate
    raises ``ssl.SSLError`` (with TLS 1.3, while the reply is read)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    if key_file is None:
        frame = struct.pack(">L", len(payload)) + payload
    else:
        now = int(time.time() * 1000)
        frame = sign_config_frame(payload, key_file, now if seq is None else seq, ttl=ttl,
                                  audience=audience, issued_at_ms=now)
    if isinstance(address, (str, bytes, os.PathLike)):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        sock = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET,
                             socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
        if ssl_context is not None:
            sock = ssl_context.wrap_socket(
                sock, server_hostname=server_hostname or address[0])
        try:
            sock.sendall(frame)
        except OSError:
            pass  # a listener rejecting on the length prefix closes early; read its reply
        try:
            header = _recv_exact(sock, 4)
        except ConnectionResetError:
            return None
        if header is None:
            return None
        if len(header) < 4:
            raise OSError("the reply was cut short")
        (n,) = struct.unpack(">L", header)
        if n > MAX_REPLY_BYTES:
            raise OSError("a reply of %d bytes is not a logwire reply" % n)
        body = _recv_exact(sock, n) or b""
        if len(body) < n:
            raise OSError("the reply was cut short")
        return json.loads(body.decode("utf-8"))
    finally:
        sock.close()


# --------------------------------------------------------------------------- policy

from .policy import PolicyError, check_pushed  # noqa: E402  (one PolicyError for both)


def _check_dict_node(node, where, allowed, errors):
    if isinstance(node, dict):
        for k, v in node.items():
            place = "%s.%s" % (where, k) if where else str(k)
            if k == "()":
                errors.append("%s: '()' factories are not allowed" % place)
            elif k == ".":
                errors.append("%s: '.' attribute setting is not allowed" % place)
            elif k == "class":
                if not isinstance(v, str) or v not in allowed:
                    errors.append("%s: class %r is not allowed" % (place, v))
            _check_dict_node(v, place, allowed, errors)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _check_dict_node(v, "%s[%d]" % (where, i), allowed, errors)
    elif isinstance(node, str):
        if node.startswith("ext://") and node not in ALLOWED_EXT:
            errors.append("%s: %r: only ext://sys.stdout and ext://sys.stderr are allowed"
                          % (where, node))


def _check_dict_config(d, allowed, errors):
    _check_dict_node(d, "", allowed, errors)
    handlers = d.get("handlers") or {}
    if isinstance(handlers, dict) and d.get("incremental") is not True:
        for hid, h in handlers.items():
            # A cfg:// string here would let the class come from elsewhere in the document.
            if not isinstance(h, dict):
                errors.append("handlers.%s: must be a mapping" % hid)
            elif "class" not in h and "()" not in h:
                errors.append("handlers.%s: no class" % hid)


def _ini_class(name):
    name = name.strip()
    if name.startswith("logging."):
        return name
    if name.startswith("handlers."):
        return "logging." + name
    return "logging." + name


def _int_expr(n):
    if isinstance(n, ast.Constant):
        return type(n.value) is int
    if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
        return _int_expr(n.operand)
    if isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Add, ast.Sub, ast.Mult)):
        return _int_expr(n.left) and _int_expr(n.right)
    return False


def _literal(text, place, errors):
    """True if ``text`` is a Python literal, allowing only the names in INI_ALLOWED_NAMES."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        errors.append("%s: not a Python literal: %s" % (place, e.msg))
        return

    def dotted(n):
        if isinstance(n, ast.Name):
            return n.id
        if isinstance(n, ast.Attribute):
            base = dotted(n.value)
            return base and base + "." + n.attr
        return None

    def ok(n):
        if isinstance(n, ast.Constant):
            return True
        if isinstance(n, (ast.Tuple, ast.List, ast.Set)):
            return all(ok(e) for e in n.elts)
        if isinstance(n, ast.Dict):
            return all(k is not None and ok(k) for k in n.keys) and all(ok(v) for v in n.values)
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
            return isinstance(n.operand, ast.Constant) and isinstance(
                n.operand.value, (int, float, complex)) and not isinstance(n.operand.value, bool)
        if isinstance(n, (ast.Name, ast.Attribute)):
            return dotted(n) in INI_ALLOWED_NAMES
        # Integer arithmetic, as real configs write maxBytes=10*1024*1024 (logwire's INI
        # reader accepts the same); the operands must be plain integers themselves.
        if isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Add, ast.Sub, ast.Mult)):
            return all(_int_expr(x) for x in (n.left, n.right))
        return False

    if not ok(tree.body):
        errors.append("%s: %r is not a plain literal (only literals, sys.stdout, sys.stderr "
                      "and the handlers.*_PORT constants)" % (place, text.strip()))


def _check_ini_config(text, allowed, errors):
    cp = configparser.ConfigParser()
    try:
        cp.read_file(io.StringIO(text))
    except configparser.Error as e:
        errors.append("not a dictConfig JSON object nor a valid INI file: %s" % e)
        return
    try:
        for section in cp.sections():
            s = cp[section]
            if section.startswith("handler_"):
                klass = s.get("class", "")
                if _ini_class(klass) not in allowed:
                    errors.append("[%s] class: %r is not allowed" % (section, klass))
                _literal(s.get("args", "()"), "[%s] args" % section, errors)
                _literal(s.get("kwargs", "{}"), "[%s] kwargs" % section, errors)
            elif section.startswith("formatter_"):
                klass = s.get("class", raw=True, fallback=None)
                if klass is not None and _ini_class(klass) not in allowed:
                    errors.append("[%s] class: %r is not allowed" % (section, klass))
                if "defaults" in s:
                    _literal(s.get("defaults", raw=True), "[%s] defaults" % section, errors)
    except configparser.Error as e:
        errors.append("INI interpolation: %s" % e)


def check_config_policy(payload: Union[str, bytes],
                        allowed_classes: Iterable[str] = DEFAULT_ALLOWED_CLASSES) -> None:
    """Raises ``PolicyError`` listing every problem if CPython's listen() would run code
    (or touch something outside the policy) when applying ``payload`` (bytes or str).
    The verifier runs this after ``logwire_helper.policy.check_pushed`` (the complete
    policy), to apply its own class allow-list.

    >>> check_config_policy('{"version": 1, "handlers": {"h": {"()": "os.system"}}}')
    Traceback (most recent call last):
    ...
    logwire_helper.policy.PolicyError: handlers.h.(): '()' factories are not allowed
    """
    if isinstance(payload, bytes):
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as e:
            raise PolicyError("config is not valid UTF-8: %s" % e) from None
    else:
        text = payload
    errors = []
    # CPython's order: json.loads and a dict → dictConfig; anything else → fileConfig.
    try:
        d = json.loads(text)
    except ValueError:
        d = None
    if isinstance(d, dict):
        _check_dict_config(d, allowed_classes, errors)
    else:
        _check_ini_config(text, allowed_classes, errors)
    if errors:
        raise PolicyError("; ".join(errors))


# --------------------------------------------------------------------------- file root

def _resolve_beneath(raw, root, place):
    """The absolute path ``raw`` names beneath ``root`` (canonical), the Rust listener's
    rules: relative names resolve beneath the root, absolute ones must already be there,
    ``..``, NUL and symlinks anywhere beneath the root are refused."""
    if not isinstance(raw, str):
        raise PolicyError("%s: file name must be a plain string, not %r" % (place, raw))
    if root is None:
        raise PolicyError("%s: file handlers are not allowed in pushed configs unless the "
                          "verifier has a file root (verifier(..., file_root=DIR))" % place)
    if "\0" in raw:
        raise PolicyError("%s: file name contains a NUL byte" % place)
    if not raw:
        raise PolicyError("%s: file name is empty" % place)
    if raw.startswith(("cfg://", "ext://")):
        raise PolicyError("%s: %r: file names must be plain paths" % (place, raw))
    parts = [c for c in raw.split("/") if c not in ("", ".")]
    if ".." in parts:
        raise PolicyError("%s: %r contains '..': files must stay beneath %s"
                          % (place, raw, root))
    if raw.startswith("/"):
        rootparts = [c for c in root.split("/") if c]
        if parts[:len(rootparts)] != rootparts:
            raise PolicyError("%s: %r is outside the file root %s" % (place, raw, root))
        parts = parts[len(rootparts):]
    if not parts:
        raise PolicyError("%s: %r is the file root itself, not a file beneath it"
                          % (place, raw))
    cur = root
    for part in parts:
        cur = os.path.join(cur, part)
        if os.path.islink(cur):
            raise PolicyError("%s: %r is a symlink: refusing to follow it" % (place, cur))
    return cur


def _confine_dict(d, root):
    handlers = d.get("handlers") or {}
    if not isinstance(handlers, dict):
        return
    for hid, h in handlers.items():
        if not isinstance(h, dict):
            continue
        if h.get("class") in FILE_HANDLER_CLASSES or "filename" in h:
            place = "handlers.%s.filename" % hid
            if "filename" not in h:
                raise PolicyError("%s: missing" % place)
            h["filename"] = _resolve_beneath(h["filename"], root, place)


def _int_value(n):
    """The value of integer arithmetic that ``_int_expr`` accepted (``10*1024*1024``),
    bounded so that a hostile product cannot grow without limit."""
    if isinstance(n, ast.Constant):
        v = n.value
    elif isinstance(n, ast.UnaryOp):
        v = _int_value(n.operand)
        v = -v if isinstance(n.op, ast.USub) else v
    elif isinstance(n, ast.BinOp):
        a, b = _int_value(n.left), _int_value(n.right)
        v = a + b if isinstance(n.op, ast.Add) else a - b if isinstance(n.op, ast.Sub) else a * b
    else:
        raise PolicyError("not integer arithmetic: %s" % type(n).__name__)
    if type(v) is not int and not isinstance(v, (float, complex)):
        raise PolicyError("not integer arithmetic")
    if isinstance(v, int) and abs(v) >= 2 ** 64:
        raise PolicyError("integer %s is out of range" % v)
    return v


def _unparse_literal(n):
    """Source text for a literal expression tree that ``_literal`` accepted (``ast.unparse``
    only exists from Python 3.9; the helper supports 3.8)."""
    if isinstance(n, ast.Constant):
        return repr(n.value)
    if isinstance(n, ast.Tuple):
        inner = ", ".join(_unparse_literal(e) for e in n.elts)
        return "(" + inner + ("," if len(n.elts) == 1 else "") + ")"
    if isinstance(n, ast.List):
        return "[" + ", ".join(_unparse_literal(e) for e in n.elts) + "]"
    if isinstance(n, ast.Set):
        return "{" + ", ".join(_unparse_literal(e) for e in n.elts) + "}"
    if isinstance(n, ast.Dict):
        return "{" + ", ".join("%s: %s" % (_unparse_literal(k), _unparse_literal(v))
                               for k, v in zip(n.keys, n.values)) + "}"
    if isinstance(n, ast.Name):
        return n.id
    if isinstance(n, ast.Attribute):
        return _unparse_literal(n.value) + "." + n.attr
    if isinstance(n, (ast.UnaryOp, ast.BinOp)):
        return repr(_int_value(n))
    raise PolicyError("not a plain literal: %s" % type(n).__name__)


def _confine_ini(text, root):
    cp = configparser.ConfigParser()
    cp.read_file(io.StringIO(text))
    changed = False
    for section in cp.sections():
        if not section.startswith("handler_"):
            continue
        s = cp[section]
        if _ini_class(s.get("class", raw=True, fallback="")) not in FILE_HANDLER_CLASSES:
            continue
        args = ast.parse(s.get("args", "()", raw=True).strip(), mode="eval")
        kwargs = ast.parse(s.get("kwargs", "{}", raw=True).strip(), mode="eval")
        place = "[%s]" % section
        if isinstance(args.body, ast.Tuple) and args.body.elts:
            node, key = args.body, None
        elif isinstance(kwargs.body, ast.Dict):
            node = kwargs.body
            keys = [k.value if isinstance(k, ast.Constant) else None for k in node.keys]
            if "filename" not in keys:
                raise PolicyError("%s: no file name in args or kwargs" % place)
            key = keys.index("filename")
        else:
            raise PolicyError("%s: args must be a tuple starting with the file name" % place)
        target = node.elts[0] if key is None else node.values[key]
        if not isinstance(target, ast.Constant):
            raise PolicyError("%s: the file name must be a string literal" % place)
        full = ast.Constant(_resolve_beneath(target.value, root, place + " file name"))
        if key is None:
            node.elts[0] = full
            s["args"] = _unparse_literal(args.body)
        else:
            node.values[key] = full
            s["kwargs"] = _unparse_literal(kwargs.body)
        changed = True
    if not changed:
        return text
    out = io.StringIO()
    cp.write(out)
    return out.getvalue()


def confine_files(payload: Union[str, bytes], file_root: Optional[str]) -> Union[str, bytes]:
    """``payload`` with every file handler's file name resolved beneath ``file_root``
    (relative names are made absolute there, so CPython opens the same file whatever its
    working directory). Raises ``PolicyError`` for a name outside the root, with ``..``,
    through a symlink, or for any file handler at all when ``file_root`` is ``None``.

    Run it after ``check_config_policy`` (which guarantees the INI values are literals).
    CPython opens files following symlinks, so a link created beneath the root after this
    check would still be followed: keep the root writable only by the listening process."""
    root = None if file_root is None else os.path.realpath(file_root)
    text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    try:
        d = json.loads(text)
    except ValueError:
        d = None
    if isinstance(d, dict):
        before = json.dumps(d)
        _confine_dict(d, root)
        after = json.dumps(d)
        out = text if after == before else after
    else:
        try:
            out = _confine_ini(text, root)
        except (configparser.Error, ValueError, SyntaxError) as e:
            if isinstance(e, PolicyError):
                raise
            raise PolicyError("INI file handler: %s" % e) from None
    return out.encode("utf-8") if isinstance(payload, bytes) else out


# --------------------------------------------------------------------------- verifying

class ConfigVerifier:
    """The ``verify=`` callable for ``logging.config.listen`` (see ``verifier``).

    ``last_reason`` holds why the last config was rejected (``None`` after an accept);
    ``on_reject(reason)`` is called for every rejection (default: a line on stderr)."""

    def __init__(self, keys: Iterable[KeyLike], audience: Optional[str] = None,
                 state_file: Optional[str] = None,
                 allowed_classes: Iterable[str] = DEFAULT_ALLOWED_CLASSES,
                 clock: Callable[[], float] = time.time,
                 on_reject: Optional[Callable[[str], None]] = None,
                 max_bytes: int = 1 << 20, file_root: Optional[str] = None,
                 allow_destinations: Iterable[str] = ()) -> None:
        self.keys = {}
        for k in keys:
            k = _key(k)
            if k.kind == "ed25519-private":
                raise ValueError("a verifier takes the public key (.pub), not the private one")
            self.keys[k.key_id] = k
        if not self.keys:
            raise ValueError("a verifier needs at least one key")
        self.audience = None if audience is None else audience_bytes(audience)
        self.state_file = state_file
        self.allowed_classes = frozenset(allowed_classes)
        self.clock = clock
        self.on_reject = on_reject or (
            lambda reason: sys.stderr.write("logwire verifier: rejected: %s\n" % reason))
        self.max_bytes = max_bytes
        if file_root is not None and not os.path.isdir(file_root):
            raise ValueError("file root %r is not a directory" % (file_root,))
        self.file_root = None if file_root is None else os.path.realpath(file_root)
        self.allow_destinations = list(allow_destinations)
        from .policy import _parse_destinations
        _parse_destinations(self.allow_destinations)  # a bad entry fails here, not per config
        self.last_reason = None
        # CPython serves each connection on its own thread.
        self._lock = threading.Lock()
        self._seqs = self._load_state()

    def _load_state(self):
        if not self.state_file or not os.path.exists(self.state_file):
            return {}
        with open(self.state_file, "r", encoding="utf-8") as f:
            data = json.load(f)  # a corrupt file raises: fail closed
        return {bytes.fromhex(k): int(v) for k, v in data.items()}

    def _save_state(self):
        if not self.state_file:
            return
        d = os.path.dirname(os.path.abspath(self.state_file))
        fd, tmp = tempfile.mkstemp(prefix=".seq-", dir=d)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({k.hex(): v for k, v in self._seqs.items()}, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.state_file)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def __call__(self, data: bytes) -> Optional[bytes]:
        with self._lock:
            try:
                payload = self._verify(bytes(data))
            except PolicyError as e:
                self.last_reason = str(e)
                self.on_reject(self.last_reason)
                return None
            self.last_reason = None
            return payload

    def _verify(self, b):
        if len(b) > self.max_bytes:
            raise PolicyError("config of %d bytes is larger than %d" % (len(b), self.max_bytes))
        if len(b) < 4 or b[:4] != MAGIC:
            raise PolicyError("not a signed LWC1 config")
        if len(b) < 8:
            raise PolicyError("truncated envelope")
        alg = b[4]
        if alg not in SIG_LEN:
            raise PolicyError("unknown signature algorithm %d" % alg)
        if b[5:8] != b"\0\0\0":
            raise PolicyError("reserved header bytes are not zero")
        if len(b) < HEADER_LEN:
            raise PolicyError("truncated envelope")
        key_id = b[8:16]
        key = self.keys.get(key_id)
        if key is None:
            raise PolicyError("unknown key id %s" % key_id.hex())
        if key.alg != alg:
            raise PolicyError("key %s is for another algorithm" % key_id.hex())
        seq, issued, expires = struct.unpack(">Qqq", b[16:40])
        audience = b[40:56]
        (n,) = struct.unpack(">L", b[56:60])
        if len(b) != HEADER_LEN + n + SIG_LEN[alg]:
            raise PolicyError("envelope length %d does not match the expected %d"
                              % (len(b), HEADER_LEN + n + SIG_LEN[alg]))
        signed, signature = b[:HEADER_LEN + n], b[HEADER_LEN + n:]
        if not key.verify(SIGNING_CONTEXT + signed, signature):
            raise PolicyError("bad signature")
        now = int(self.clock() * 1000)
        if expires <= issued:
            raise PolicyError("expires_at is not after issued_at")
        if expires - issued > MAX_LIFETIME_MS:
            raise PolicyError("lifetime exceeds the maximum of 7 days")
        if issued > now + MAX_FUTURE_SKEW_MS:
            raise PolicyError("issued_at is more than 300 s ahead of this clock")
        if now > expires:
            raise PolicyError("expired")
        if audience != bytes(16) and audience != self.audience:
            raise PolicyError("addressed to another audience")
        last = self._seqs.get(key_id)
        if last is not None and seq <= last:
            raise PolicyError("seq %d is not greater than the last applied seq %d for key %s"
                              % (seq, last, key_id.hex()))
        payload = signed[HEADER_LEN:]
        # The listener's whole content policy (logwire_helper.policy, the twin of the Rust
        # listener's, held to the same corpus testdata/pushed-policy), then this verifier's
        # own class allow-list: a config CPython would fail half-way through is refused here,
        # before the seq is burned.
        payload = check_pushed(payload, self.file_root,
                               self.allow_destinations).encode("utf-8")
        check_config_policy(payload, self.allowed_classes)
        # Only now, with every check passed, is the seq burned: a config any check refused
        # leaves the ratchet where it was (as the Rust listener does). CPython applies after
        # verify returns and cannot tell us whether that worked, so the seq is persisted
        # here, before the config is handed over: a replay fails after a restart too. If the
        # state cannot be written, the config is refused.
        previous = self._seqs.get(key_id)
        self._seqs[key_id] = seq
        try:
            self._save_state()
        except OSError as e:
            if previous is None:
                del self._seqs[key_id]
            else:
                self._seqs[key_id] = previous
            raise PolicyError("the seq state could not be saved: %s" % e) from None
        return payload


def verifier(keys: Iterable[KeyLike], audience: Optional[str] = None,
             state_file: Optional[str] = None,
             allowed_classes: Iterable[str] = DEFAULT_ALLOWED_CLASSES,
             clock: Callable[[], float] = time.time,
             on_reject: Optional[Callable[[str], None]] = None,
             file_root: Optional[str] = None,
             allow_destinations: Iterable[str] = ()) -> ConfigVerifier:
    """A ``verify=`` callable for CPython's ``logging.config.listen``: checks the ``LWC1``
    envelope and the content policy, returns the inner config bytes or ``None``.

    ``keys``: key file paths (``ed25519-public`` or ``hmac``) or ``Key`` objects.
    ``audience``: this listener's audience name. ``state_file``: where the per-key seq
    ratchet is kept (JSON; written atomically before the config is handed to CPython).
    ``clock``: seconds since the epoch, like ``time.time``. ``file_root``: the directory
    pushed file handlers may write beneath (see ``confine_files``); without it, configs
    with file handlers are refused, like ``logwire serve --listen`` without ``--file-root``.
    ``allow_destinations``: ``"HOST:PORT"`` network handlers may reach besides loopback
    (``--allow-host``). ``.pub`` (Ed25519) keys need the ``cryptography`` package.

    >>> import logging.config                                         # doctest: +SKIP
    >>> v = verifier(["ops.pub"], state_file="/var/lib/app/seq.json",
    ...              file_root="/var/log/app")                        # doctest: +SKIP
    >>> logging.config.listen(9030, verify=v).start()                 # doctest: +SKIP
    """
    return ConfigVerifier(keys, audience=audience, state_file=state_file,
                          allowed_classes=allowed_classes, clock=clock, on_reject=on_reject,
                          file_root=file_root, allow_destinations=allow_destinations)
