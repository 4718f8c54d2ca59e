"""The content policy for pushed configs: the Python twin of the Rust listener's
(``crates/config``: the dictConfig/fileConfig front ends, the handler registry and
``ContentPolicy::pushed``).

``check_pushed(text, file_root=None)`` returns the config text CPython should apply, or raises
``PolicyError`` naming every problem and its place (``handlers.h1.level: unknown level
'NTOSET'``). It checks the document completely -- classes by section (a formatter may only be
``logging.Formatter``), constructor arguments bound as CPython binds them (unknown or missing
arguments, wrong types, out-of-range numbers), levels, references between sections, file
names (beneath ``file_root`` only, no ``..``, no symlinks), network destinations (loopback and
``allow_destinations`` only), Unix socket paths (file rules), counts and sizes -- so that
CPython's ``dictConfig``/``fileConfig`` never sees a config that it would fail half-way
through, or that the Rust listener would refuse.

The returned text is what was checked: for dictConfig, the JSON document with ``cfg://``
references resolved and file names made absolute beneath the root; for fileConfig, the INI
document with file names made absolute.

>>> check_pushed('{"version": 1, "root": {"level": "INFO"}}')
'{"version": 1, "root": {"level": "INFO"}}'
>>> check_pushed('{"version": 1, "root": {"level": "NTOSET"}}')
Traceback (most recent call last):
...
logwire_helper.policy.PolicyError: root.level: unknown level 'NTOSET'

The conformance corpus ``testdata/pushed-policy/`` holds configs with the verdict each must
get; the Rust tests run it against ``logwire check --pushed`` and the Python tests against this
module, so the two implementations cannot drift apart.
"""

import ast
import configparser
import copy
import io
import ipaddress
import json
import logging
import os
import re
import sys
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

__all__ = ["PolicyError", "Limits", "check_pushed", "HANDLER_CLASSES"]


class PolicyError(ValueError):
    """A config the content policy refuses; the message says where and why.

    ``errors`` is the list of ``"place: message"`` strings."""

    def __init__(self, message: str, errors: Optional[List[str]] = None) -> None:
        super().__init__(message)
        self.errors = errors if errors is not None else [message]


class Limits:
    """Caps on a pushed config: the Rust ``ConfigLimits::pushed()``."""

    max_document_bytes = 1 << 20
    max_depth = 32
    max_nodes = 200_000
    max_handlers = 64
    max_loggers = 1024
    max_filters = 256
    max_formatters = 256
    max_name_len = 256
    max_format_len = 4096
    #: ``backupCount`` of a rotating handler, at most.
    max_backup_count = 100
    #: A non-zero ``maxBytes`` of a RotatingFileHandler, at least: a rollover renames up to
    #: ``backupCount`` files, so this bounds renames per byte written.
    min_rotation_bytes = 64 * 1024
    #: Bytes a formatter may render whatever the record holds (literal text, widths and
    #: precisions, each asctime at its datefmt's longest): ``RenderBound::fixed``.
    max_render_bytes = 16 * 1024
    #: Times a formatter may copy text from the record (``RenderBound::record_fields``).
    max_record_fields = 64
    max_memory_capacity = 1_000_000
    max_cfg_depth = 16


LEVELS = {"CRITICAL": 50, "FATAL": 50, "ERROR": 40, "WARN": 30, "WARNING": 30, "INFO": 20,
          "DEBUG": 10, "NOTSET": 0}


class _Stream:
    """``ext://sys.stdout`` / ``ext://sys.stderr`` (or INI ``sys.stdout``) as a value."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


STDOUT, STDERR = _Stream("sys.stdout"), _Stream("sys.stderr")
EXT_STREAMS = {"ext://sys.stdout": STDOUT, "ext://sys.stderr": STDERR}

#: The names an INI ``args``/``kwargs`` value may use besides literals, and their values.
INI_NAMES = {
    "sys.stdout": STDOUT, "sys.stderr": STDERR,
    "handlers.DEFAULT_TCP_LOGGING_PORT": 9020, "handlers.DEFAULT_UDP_LOGGING_PORT": 9021,
    "handlers.DEFAULT_HTTP_LOGGING_PORT": 9022, "handlers.DEFAULT_SOAP_LOGGING_PORT": 9023,
    "handlers.SYSLOG_UDP_PORT": 514, "handlers.SYSLOG_TCP_PORT": 514,
}

_FILE_PARAMS = ["filename", "mode", "encoding", "delay"] + (
    ["errors"] if sys.version_info >= (3, 9) else [])

#: Handler classes (dictConfig spelling) and their constructor parameters in CPython's order;
#: the first ``required`` of them have no default. ``errors=`` exists from Python 3.9.
HANDLER_CLASSES = {
    "logging.StreamHandler": (["stream"], 0),
    "logging.FileHandler": (_FILE_PARAMS, 1),
    "logging.NullHandler": ([], 0),
    "logging.handlers.WatchedFileHandler": (_FILE_PARAMS, 1),
    "logging.handlers.RotatingFileHandler": (
        ["filename", "mode", "maxBytes", "backupCount", "encoding", "delay"]
        + _FILE_PARAMS[4:], 1),
    # atTime needs a datetime.time, which no config can give CPython: not offered.
    "logging.handlers.TimedRotatingFileHandler": (
        ["filename", "when", "interval", "backupCount", "encoding", "delay", "utc"]
        + _FILE_PARAMS[4:], 1),
    "logging.handlers.MemoryHandler": (["capacity", "flushLevel", "target", "flushOnClose"], 1),
    "logging.handlers.SocketHandler": (["host", "port"], 2),
    "logging.handlers.DatagramHandler": (["host", "port"], 2),
    "logging.handlers.SysLogHandler": (["address", "facility", "socktype"], 0),
    "logging.handlers.SMTPHandler": (
        ["mailhost", "fromaddr", "toaddrs", "subject", "credentials", "secure", "timeout"], 4),
    "logging.handlers.HTTPHandler": (
        ["host", "url", "method", "secure", "credentials", "context"], 2),
}

#: Keyword arguments the Rust registry adds to CPython's classes, which CPython's constructors
#: do not take (dictConfig would fail with TypeError): refused here with that reason.
_LOGWIRE_EXTENSIONS = {
    "logging.handlers.SMTPHandler": ("cafile", "queue_bytes", "session_timeout"),
    "logging.handlers.HTTPHandler": ("cafile", "timeout", "queue_bytes", "session_timeout"),
}

#: Default ports: smtplib's, and http.client's (HTTPS when ``secure``).
_SMTP_PORT, _HTTP_PORT, _HTTPS_PORT = 25, 80, 443

#: What Rust's ``str::trim`` strips (Unicode White_Space; Python's ``str.strip`` also strips
#: U+001C..U+001F, which the Rust envelope check refuses as control characters).
_RUST_WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005" \
                   "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"

_ENCODINGS = {
    "utf_8", "utf8", "u8", "utf", "cp65001", "utf8_ucs2", "utf8_ucs4",
    "latin_1", "latin1", "latin", "l1", "iso8859_1", "iso_8859_1", "8859", "cp819",
    "iso_ir_100", "iso_8859_1_1987", "csisolatin1",
    "ascii", "us_ascii", "646", "us", "ansi_x3.4_1968", "ansi_x3_4_1968", "iso646_us", "cp367",
    "csascii",
}
_ENC_ERRORS = {"strict", "surrogateescape", "surrogatepass", "ignore", "replace",
               "backslashreplace", "xmlcharrefreplace"}
_FACILITIES = {"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp",
               "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
               "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}
_I64 = (-(2 ** 63), 2 ** 63 - 1)


# ------------------------------------------------------------------------------- the model

class _Handler:
    def __init__(self, hid, place, cls, level, formatter, filters, args, kwargs):
        self.id, self.place, self.cls = hid, place, cls
        self.level, self.formatter, self.filters = level, formatter, filters
        self.args, self.kwargs = args, kwargs     # args: list; kwargs: list of (name, value)
        self.paths = {}                           # param -> resolved path (for the rewrite)


class _Model:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.incremental = False
        self.formatters = []   # (id, place, spec dict)
        self.filters = []      # (id, place)
        self.handlers = []     # _Handler
        self.loggers = []      # (name, place, handlers, filters)
        self.root = None       # (place, handlers, filters) or None


class _Errors(list):
    def add(self, place: str, msg: str) -> None:
        self.append("%s: %s" % (place, msg) if place else msg)


def _type_name(v: Any) -> str:
    if v is None:
        return "None"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, float):
        return "a float"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, (list, tuple)):
        return "a list"
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, _Stream):
        return "a stream"
    return type(v).__name__


def _level(v: Any, place: str, errs: _Errors) -> None:
    if isinstance(v, bool):
        return
    if isinstance(v, int):
        if not -(2 ** 31) <= v < 2 ** 31:
            errs.add(place, "level %d is out of range" % v)
    elif isinstance(v, str):
        if v not in LEVELS:
            errs.add(place, "unknown level %r" % v)
    else:
        errs.add(place, "expected a level name or number, found %s" % _type_name(v))


# ------------------------------------------------------------------------------- render bound

#: The Rust ``strftime::CONVERSION_MAX``, ``num::MAX_WIDTH`` and ``DEFAULT_TIME_FORMAT``.
_CONVERSION_MAX = 64
_MAX_WIDTH = 4096
_DEFAULT_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _strftime_max_len(fmt: str) -> int:
    """An upper bound on the bytes ``time.strftime(fmt)`` renders for any time: literal text
    as it is, each conversion at ``2 * width + 64``. Mirrors the Rust
    ``logwire_engine::strftime_max_len``."""
    total = 0
    i, n = 0, len(fmt)
    while i < n:
        if fmt[i] != "%":
            total += len(fmt[i].encode("utf-8", "surrogatepass"))
            i += 1
            continue
        start = i
        i += 1
        while i < n and fmt[i] in "_-0^#":
            i += 1
        width = 0
        while i < n and "0" <= fmt[i] <= "9":
            width = width * 10 + ord(fmt[i]) - 48
            i += 1
        if i < n and fmt[i] in "EO":
            i += 1
        end = min(i + 1, n)
        text = len(fmt[start:end].encode("utf-8", "surrogatepass"))
        total += max(width * 2 + _CONVERSION_MAX, text)
        i = end
    return total


def _strftime_limit(fmt: str) -> int:
    """CPython's strftime buffer rule (256 times the format's length, at least 1024): the
    Rust ``strftime::limit``."""
    limit = 1024
    while limit < 256 * len(fmt):
        limit *= 2
    return limit


def _strftime_check(fmt: str) -> Optional[str]:
    """Why ``fmt`` cannot render for every time (CPython renders ``''`` silently), or None.
    Mirrors the Rust ``strftime::check``."""
    bound, limit = _strftime_max_len(fmt), _strftime_limit(fmt)
    if bound >= limit:
        return ("datefmt %r can render %d characters, more than the %d time.strftime allows "
                "(it would render an empty time): lower its field widths"
                % (fmt[:40], bound, limit))
    return None


def _utf8_len(s: str) -> int:
    return len(s.encode("utf-8", "surrogatepass"))


_PCT_CONVS = "diouxXeEfFgGcrsa"


def _percent_fields(fmt: str):
    """The pieces of a ``%`` format as the Rust ``percent::parse`` reads them: ``('lit',
    nbytes)`` and ``('field', key, width, prec, conv)``; None where the Rust formatter fails
    every record (a malformed or positional conversion, a ``*``)."""
    out = []
    i, n = 0, len(fmt)
    while i < n:
        if fmt[i] != "%":
            j = fmt.find("%", i)
            j = n if j < 0 else j
            out.append(("lit", _utf8_len(fmt[i:j])))
            i = j
            continue
        i += 1
        if i >= n:
            return None
        if fmt[i] == "%":
            out.append(("lit", 1))
            i += 1
            continue
        key = None
        if fmt[i] == "(":
            depth, ks = 1, i + 1
            i += 1
            while i < n and depth > 0:
                if fmt[i] == "(":
                    depth += 1
                elif fmt[i] == ")":
                    depth -= 1
                i += 1
            if depth > 0:
                return None
            key = fmt[ks:i - 1]
        while i < n and fmt[i] in "-+ #0":
            i += 1
        counts = []
        for is_prec in (False, True):
            if is_prec:
                if not (i < n and fmt[i] == "."):
                    counts.append(None)
                    break
                i += 1
            if i < n and fmt[i] == "*":
                return None
            j = i
            while j < n and "0" <= fmt[j] <= "9":
                j += 1
            counts.append(int(fmt[i:j]) if j > i else (0 if is_prec else None))
            i = j
        while i < n and fmt[i] in "hlL":
            i += 1
        if i >= n or fmt[i] not in _PCT_CONVS or key is None:
            return None
        out.append(("field", key, counts[0], counts[1], fmt[i]))
        i += 1
    return out


_BRACE_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?(\d*)[_,]?(?:\.(\d*))?.?\Z", re.S)
_DOLLAR = re.compile(r"\$(?:(\$)|([_a-z][_a-z0-9]*)|\{([_a-z][_a-z0-9]*)\}|())", re.I | re.A)


def _render_bound(fmt: Optional[str], datefmt: Optional[str], style: str) -> Tuple[int, int]:
    """``(fixed, record_fields)``: an upper bound on what formatting one record renders is
    ``fixed + record_fields * S`` (S the size of the record's longest text). Mirrors the Rust
    ``Formatter::render_bound`` (``logwire_engine::RenderBound``): literal text,
    widths and precisions, and each asctime at its datefmt's longest are fixed bytes; every
    other field is a copy of record text, a ``repr``/``ascii`` one counting 4 (escapes, plus
    2 bytes of quotes), and exc_text and stack_info are appended once each."""
    if not fmt:
        fmt = {"%": "%(message)s", "{": "{message}", "$": "${message}"}[style]
    asctime = _strftime_max_len(datefmt) if datefmt else \
        _strftime_max_len(_DEFAULT_TIME_FORMAT) + 4
    b = [0, 0]

    def field(name: str, pad: int, rep: bool) -> None:
        b[0] += pad + (2 if rep else 0)
        if name == "asctime":
            b[0] += asctime * (4 if rep else 1)
        else:
            b[1] += 4 if rep else 1

    if style == "%":
        pieces = _percent_fields(fmt)
        if pieces is None:
            return 0, 2
        for p in pieces:
            if p[0] == "lit":
                b[0] += p[1]
            else:
                _, key, width, prec, conv = p
                field(key, (width or 0) + (prec or 0), conv in "ra")
    elif style == "{":
        import string
        try:
            parsed = list(string.Formatter().parse(fmt))
        except ValueError:
            return 0, 2
        for lit, name, spec, conv in parsed:
            b[0] += _utf8_len(lit)
            if name is None:
                continue
            spec = spec or ""
            nested = 0
            if "{" in spec:
                try:
                    nested = sum(1 for x in string.Formatter().parse(spec) if x[1] is not None)
                except ValueError:
                    return 0, 2
                pad = 2 * _MAX_WIDTH
            else:
                m = _BRACE_SPEC.match(spec)
                pad = (int(m.group(1) or 0) + int(m.group(2) or 0)) if m else 0
            field(name, pad, conv in ("r", "a"))
            b[1] += nested
    else:
        i = 0
        for m in _DOLLAR.finditer(fmt):
            b[0] += _utf8_len(fmt[i:m.start()])
            i = m.end()
            if m.group(1) or m.group(4) is not None:
                b[0] += 1
            else:
                field(m.group(2) or m.group(3), 0, False)
        b[0] += _utf8_len(fmt[i:])
    # Formatter.format appends exc_text and stack_info once each.
    b[1] += 2
    return b[0], b[1]


# ------------------------------------------------------------------------------- dictConfig

def _depth_and_nodes(doc: Any, errs: _Errors) -> bool:
    stack = [(doc, 1)]
    nodes = 0
    while stack:
        v, d = stack.pop()
        nodes += 1
        if d > Limits.max_depth:
            errs.add("document", "nesting deeper than %d levels" % Limits.max_depth)
            return False
        if nodes > Limits.max_nodes:
            errs.add("document", "more than %d values" % Limits.max_nodes)
            return False
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)
    return True


_CFG_STEP = re.compile(r"^\.?([^.\[\]]+)|^\[([^\[\]]*)\]")


def _follow(doc: Any, path: str) -> Any:
    cur = doc
    rest = path
    first = True
    while rest:
        m = _CFG_STEP.match(rest if not first else rest.lstrip("."))
        if not m or (first and rest.startswith(".")):
            raise ValueError("cannot parse the reference %r" % path)
        rest = (rest if not first else rest)[m.end():]
        first = False
        key = m.group(1) if m.group(1) is not None else m.group(2)
        if isinstance(cur, dict) and key in cur:
            cur = cur[key]
        elif isinstance(cur, list) and m.group(2) is not None and key.isdigit() \
                and int(key) < len(cur):
            cur = cur[int(key)]
        else:
            raise ValueError("%r does not exist in the document" % path)
    return cur


def _resolve_cfg(doc: Any, errs: _Errors) -> Any:
    """A copy of ``doc`` with every ``cfg://`` string replaced by what it names (CPython's
    ``cfg_convert``), with a depth cap, a cycle check and a node budget."""
    budget = [Limits.max_nodes]

    def walk(v, place, chain):
        budget[0] -= 1
        if budget[0] < 0:
            raise ValueError("document: references expand to more than %d values"
                             % Limits.max_nodes)
        if isinstance(v, dict):
            return {k: walk(x, "%s.%s" % (place, k) if place else k, chain)
                    for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x, "%s[%d]" % (place, i), chain) for i, x in enumerate(v)]
        if isinstance(v, str) and v.startswith("cfg://"):
            path = v[6:]
            if path in chain:
                raise ValueError("%s: %r: reference cycle" % (place, v))
            if len(chain) >= Limits.max_cfg_depth:
                raise ValueError("%s: %r: references nest more than %d deep"
                                 % (place, v, Limits.max_cfg_depth))
            try:
                target = _follow(doc, path)
            except ValueError as e:
                raise ValueError("%s: %s" % (place, e)) from None
            return walk(copy.deepcopy(target), place, chain + (path,))
        return v

    try:
        return walk(doc, "", ())
    except ValueError as e:
        errs.add("", str(e))
        return None


def _code_keys(v: Any, place: str, errs: _Errors) -> None:
    """'()' and '.' anywhere, and ext:// other than the standard streams anywhere."""
    if isinstance(v, dict):
        for k, x in v.items():
            p = "%s.%s" % (place, k) if place else str(k)
            if k == "()":
                errs.add(p, "'()' factories are not allowed: nothing named in a pushed config "
                            "is ever run")
            elif k == ".":
                errs.add(p, "'.' attribute setting is not allowed")
            _code_keys(x, p, errs)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            _code_keys(x, "%s[%d]" % (place, i), errs)
    elif isinstance(v, str) and v.startswith("ext://") and v not in EXT_STREAMS:
        errs.add(place, "%r: only ext://sys.stdout and ext://sys.stderr are allowed" % v)


def _flag(v: Any, place: str, errs: _Errors) -> bool:
    if v is None or isinstance(v, bool) or (type(v) is int and v in (0, 1)):
        return bool(v)
    errs.add(place, "expected true or false, found %s%s" % (
        _short(v), " (strings are not booleans)" if isinstance(v, str) else ""))
    return False


def _short(v: Any) -> str:
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, (bool, int, float)):
        return repr(v)
    return _type_name(v)


def _section(doc: dict, name: str, errs: _Errors) -> List[Tuple[str, str, Any]]:
    v = doc.get(name)
    if v is None:
        return []
    if not isinstance(v, dict):
        errs.add(name, "expected a mapping of ids, found %s" % _type_name(v))
        return []
    out = []
    for k, body in v.items():
        place = "%s.%s" % (name, k)
        if not isinstance(body, dict):
            errs.add(place, "expected a mapping, found %s" % _type_name(body))
            continue
        out.append((k, place, body))
    return out


def _opt_str(body: dict, k: str, place: str, errs: _Errors) -> Optional[str]:
    v = body.get(k)
    if v is None or isinstance(v, str):
        return v
    errs.add("%s.%s" % (place, k), "expected a string, found %s" % _type_name(v))
    return None


def _ids(body: dict, k: str, place: str, errs: _Errors) -> List[str]:
    v = body.get(k)
    if v is None:
        return []
    if not isinstance(v, list):
        errs.add("%s.%s" % (place, k), "expected a list of ids, found %s" % _type_name(v))
        return []
    out = []
    for i, x in enumerate(v):
        if isinstance(x, str):
            out.append(x)
        else:
            errs.add("%s.%s[%d]" % (place, k, i),
                     "expected an id (a string), found %s" % _type_name(x))
    return out


def _dict_value(v: Any) -> Any:
    if isinstance(v, str) and v in EXT_STREAMS:
        return EXT_STREAMS[v]
    return v


def _model_from_dict(doc: dict, errs: _Errors) -> _Model:
    m = _Model("dict")
    version = doc.get("version")
    if "version" not in doc:
        errs.add("version", "dictionary doesn't specify a version")
    elif not (version == 1 and type(version) in (int, bool, float)):
        errs.add("version", "unsupported version %s (must be 1)" % _short(version))
    m.incremental = _flag(doc.get("incremental"), "incremental", errs)
    _flag(doc.get("disable_existing_loggers"), "disable_existing_loggers", errs)
    if not m.incremental:
        for fid, place, body in _section(doc, "formatters", errs):
            cls = _opt_str(body, "class", place, errs)
            if cls is not None and cls != "logging.Formatter":
                errs.add(place + ".class", "unknown formatter class %r: only logging.Formatter "
                                           "is available" % cls)
            style = _opt_str(body, "style", place, errs)
            if style not in (None, "%", "{", "$"):
                errs.add(place + ".style", "style must be one of %%, {, $ (found %r)" % style)
                style = None
            validate = _flag(body.get("validate"), place + ".validate", errs) \
                if "validate" in body and body["validate"] is not None else True
            defaults = body.get("defaults")
            if defaults is not None and not isinstance(defaults, dict):
                errs.add(place + ".defaults", "expected a mapping, found %s"
                         % _type_name(defaults))
            m.formatters.append((fid, place, {
                "format": _opt_str(body, "format", place, errs),
                "datefmt": _opt_str(body, "datefmt", place, errs),
                "style": style or "%", "validate": validate}))
        for fid, place, body in _section(doc, "filters", errs):
            _opt_str(body, "name", place, errs)
            m.filters.append((fid, place))
    for hid, place, body in _section(doc, "handlers", errs):
        level = body.get("level")
        if level is not None:
            _level(level, place + ".level", errs)
        if m.incremental:
            continue
        cls = body.get("class")
        if cls is None:
            errs.add(place + ".class", "missing: every handler needs a class")
            cls = ""
        elif not isinstance(cls, str):
            errs.add(place + ".class", "expected a class name, found %s" % _type_name(cls))
            cls = ""
        kwargs = []
        for k, v in body.items():
            if k in ("class", "level", "formatter", "filters", "()", "."):
                continue
            if not (isinstance(k, str) and k.isidentifier() and k.isascii()):
                errs.add("%s.%s" % (place, k), "not a valid Python identifier: %r" % k)
                continue
            kwargs.append((k, _dict_value(v)))
        m.handlers.append(_Handler(hid, place, cls, level,
                                   _opt_str(body, "formatter", place, errs),
                                   _ids(body, "filters", place, errs), [], kwargs))
    for name, place, body in _section(doc, "loggers", errs):
        _logger_common(body, place, errs)
        m.loggers.append((name, place, _ids(body, "handlers", place, errs),
                          _ids(body, "filters", place, errs)))
    root = doc.get("root")
    if root is not None and root != {}:
        if not isinstance(root, dict):
            errs.add("root", "expected a mapping, found %s" % _type_name(root))
        else:
            _logger_common(root, "root", errs)
            m.root = ("root", _ids(root, "handlers", "root", errs),
                      _ids(root, "filters", "root", errs))
    return m


def _logger_common(body: dict, place: str, errs: _Errors) -> None:
    if body.get("level") is not None:
        _level(body["level"], place + ".level", errs)
    p = body.get("propagate")
    if p is not None and not (isinstance(p, bool) or (type(p) is int and p in (0, 1))):
        errs.add(place + ".propagate", "expected true or false, found %s (strings are not "
                                       "booleans)" % _short(p))


# ------------------------------------------------------------------------------- fileConfig

def _ini_literal(text: str, place: str, errs: _Errors) -> Any:
    """A Python literal (plus INI_NAMES and integer arithmetic) as a value, never evaluated."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        errs.add(place, "not a Python literal: %s" % e.msg)
        return None

    def dotted(n):
        if isinstance(n, ast.Name):
            return n.id
        if isinstance(n, ast.Attribute):
            base = dotted(n.value)
            return base and base + "." + n.attr
        return None

    def val(n, depth=0):
        if depth > Limits.max_depth:
            raise ValueError("nesting deeper than %d levels" % Limits.max_depth)
        if isinstance(n, ast.Constant) and not isinstance(n.value, type(Ellipsis)):
            return n.value
        if isinstance(n, ast.Tuple):
            return tuple(val(e, depth + 1) for e in n.elts)
        if isinstance(n, ast.List):
            return [val(e, depth + 1) for e in n.elts]
        if isinstance(n, ast.Dict):
            if any(k is None for k in n.keys):
                raise ValueError("'**' is not a literal")
            return {_hashable(val(k, depth + 1)): val(v, depth + 1)
                    for k, v in zip(n.keys, n.values)}
        if isinstance(n, (ast.Name, ast.Attribute)):
            name = dotted(n)
            if name in INI_NAMES:
                return INI_NAMES[name]
            if name in ("True", "False", "None"):  # Python 3.8 parses these as Constant too
                return {"True": True, "False": False, "None": None}[name]
            raise ValueError("name %r (only literals, sys.stdout, sys.stderr and the "
                             "handlers.*_PORT constants)" % name)
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
            v = val(n.operand, depth + 1)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError("a sign on a non-number")
            return -v if isinstance(n.op, ast.USub) else v
        if isinstance(n, ast.BinOp) and isinstance(n.op, (ast.Add, ast.Sub, ast.Mult)):
            a, b = val(n.left, depth + 1), val(n.right, depth + 1)
            if type(a) is not int or type(b) is not int:
                raise ValueError("arithmetic on something other than integers")
            r = a + b if isinstance(n.op, ast.Add) else a - b if isinstance(n.op, ast.Sub) \
                else a * b
            if not _I64[0] <= r <= _I64[1]:
                raise ValueError("integer %d is out of range" % r)
            return r
        raise ValueError("%s is not a plain literal" % type(n).__name__)

    try:
        return val(tree.body)
    except (ValueError, TypeError) as e:
        errs.add(place, "%r: %s" % (text.strip()[:80], e))
        return None


def _hashable(v: Any) -> Any:
    hash(v)
    return v


def _ini_class(name: str) -> str:
    name = name.strip()
    return name if name.startswith("logging.") else "logging." + name


def _ini_keys(cp: configparser.ConfigParser, section: str) -> List[str]:
    return [k.strip() for k in cp[section].get("keys", "").split(",") if k.strip()]


def _model_from_ini(text: str, errs: _Errors) -> Tuple[Optional[_Model], Any]:
    cp = configparser.ConfigParser()
    try:
        cp.read_file(io.StringIO(text))
    except configparser.Error as e:
        errs.add("document", "not a dictConfig JSON object nor a valid INI file: %s"
                 % str(e).splitlines()[0])
        return None, None
    m = _Model("ini")
    try:
        missing = [s for s in ("formatters", "handlers", "loggers") if not cp.has_section(s)]
        for s in missing:
            errs.add("[%s]" % s, "missing section")
        if missing:
            return None, cp
        for fid in _ini_keys(cp, "formatters"):
            sec = "formatter_" + fid
            if not cp.has_section(sec):
                errs.add("[%s]" % sec, "missing section for formatter %r" % fid)
                continue
            s = cp[sec]
            cls = s.get("class", raw=True, fallback=None)
            if cls is not None and cls.strip() != "logging.Formatter":
                errs.add("[%s] class" % sec, "unknown formatter class %r: only "
                                             "logging.Formatter is available" % cls)
            style = s.get("style", "%", raw=True)
            if style not in ("%", "{", "$"):
                errs.add("[%s] style" % sec, "style must be one of %%, {, $ (found %r)" % style)
                style = "%"
            if "defaults" in s:
                d = _ini_literal(s.get("defaults", raw=True), "[%s] defaults" % sec, errs)
                if d is not None and not isinstance(d, dict):
                    errs.add("[%s] defaults" % sec, "expected a dictionary literal")
            m.formatters.append((fid, "[%s]" % sec, {
                "format": s.get("format", None, raw=True),
                "datefmt": s.get("datefmt", None, raw=True) or None,
                "style": style, "validate": True}))
        for hid in _ini_keys(cp, "handlers"):
            sec = "handler_" + hid
            if not cp.has_section(sec):
                errs.add("[%s]" % sec, "missing section for handler %r" % hid)
                continue
            s = cp[sec]
            place = "[%s]" % sec
            if "class" not in s:
                errs.add(place + " class", "missing: every handler needs a class")
                cls = ""
            else:
                cls = _ini_class(s["class"])
            level = s["level"].strip() if "level" in s else None
            if level is not None:
                _level(level, place + " level", errs)
            args = _ini_literal(s.get("args", "()"), place + " args", errs)
            if args is not None and not isinstance(args, (tuple, list)):
                errs.add(place + " args", "expected a tuple of arguments, e.g. (sys.stdout,)")
                args = None
            kw = _ini_literal(s.get("kwargs", "{}"), place + " kwargs", errs)
            kwargs = []
            if kw is not None and not isinstance(kw, dict):
                errs.add(place + " kwargs", "expected a dictionary literal")
            elif kw is not None:
                for k, v in kw.items():
                    if not isinstance(k, str):
                        errs.add(place + " kwargs", "keyword names must be strings")
                    else:
                        kwargs.append((k, v))
            target = s.get("target", "").strip()
            if target and cls == "logging.handlers.MemoryHandler":
                kwargs.append(("target", target))
            m.handlers.append(_Handler(hid, place, cls, level,
                                       s.get("formatter", "").strip() or None, [],
                                       list(args or ()), kwargs))
        lids = _ini_keys(cp, "loggers")
        if "root" not in lids:
            errs.add("[loggers] keys", "must include 'root'")
        for lid in lids:
            sec = "logger_" + lid
            if not cp.has_section(sec):
                errs.add("[%s]" % sec, "missing section for logger %r" % lid)
                continue
            s = cp[sec]
            place = "[%s]" % sec
            if "level" in s:
                _level(s["level"].strip(), place + " level", errs)
            if "handlers" not in s:
                errs.add(place + " handlers", "missing (it may be empty: handlers=)")
            hl = [h.strip() for h in s.get("handlers", "").split(",") if h.strip()]
            if lid == "root":
                m.root = (place, hl, [])
                continue
            if "qualname" not in s:
                errs.add(place + " qualname", "missing: every logger but root needs a qualname")
                continue
            p = s.get("propagate")
            if p is not None:
                try:
                    int(p.strip())
                except ValueError:
                    errs.add(place + " propagate", "expected an integer (0 or 1), found %r" % p)
            m.loggers.append((s["qualname"], place, hl, []))
    except configparser.Error as e:
        errs.add("document", "INI interpolation: %s" % str(e).splitlines()[0])
        return None, cp
    return m, cp


# ------------------------------------------------------------------------------- checks

class _Policy:
    def __init__(self, file_root: Optional[str], allow: Sequence[Tuple[str, Optional[int]]]):
        self.root = None if file_root is None else os.path.realpath(file_root)
        self.allow = list(allow)

    def resolve_file(self, raw: Any, place: str, errs: _Errors) -> Optional[str]:
        if not isinstance(raw, str):
            errs.add(place, "expected a string, found %s" % _type_name(raw))
            return None
        if "\0" in raw:
            errs.add(place, "file name contains a NUL byte")
            return None
        if not raw:
            errs.add(place, "file name is empty")
            return None
        root = self.root
        if root is None:
            errs.add(place, "file handlers are not allowed in pushed configs unless the "
                            "verifier has a file root (verifier(..., file_root=DIR), like "
                            "logwire serve --file-root DIR)")
            return None
        parts = [c for c in raw.split("/") if c not in ("", ".")]
        if ".." in parts:
            errs.add(place, "%r contains '..': files must stay beneath %s" % (raw, root))
            return None
        if raw.startswith("/"):
            rootparts = [c for c in root.split("/") if c]
            if parts[:len(rootparts)] != rootparts:
                errs.add(place, "%r is outside the file root %s" % (raw, root))
                return None
            parts = parts[len(rootparts):]
        if not parts:
            errs.add(place, "%r is the file root itself, not a file beneath it" % raw)
            return None
        cur = root
        for part in parts:
            cur = os.path.join(cur, part)
            if os.path.islink(cur):
                errs.add(place, "%r is a symlink: refusing to follow it" % cur)
                return None
        return cur

    def destination(self, host: str, port: int, place: str, errs: _Errors) -> None:
        loopback = host.lower() == "localhost"
        if not loopback:
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = False
        if loopback or any(h.lower() == host.lower() and (p is None or p == port)
                           for h, p in self.allow):
            return
        errs.add(place, "destination %s:%d is not allowed (loopback and allow-listed "
                        "destinations only)" % (host, port))


def _bind(h: _Handler, params: List[str], required: int, errs: _Errors) -> Dict[str, Any]:
    out = {}
    if len(h.args) > len(params):
        errs.add(h.place + ".args" if h.place[0] != "[" else h.place + " args",
                 "takes at most %d positional arguments but %d were given"
                 % (len(params), len(h.args)))
    for p, v in zip(params, h.args):
        out[p] = v
    for k, v in h.kwargs:
        place = _arg_place(h, k)
        if k not in params:
            if k in _LOGWIRE_EXTENSIONS.get(h.cls, ()):
                errs.add(place, "unexpected keyword argument %r: a logwire extension that "
                                "CPython's %s does not take" % (k, h.cls.rsplit(".", 1)[1]))
            else:
                errs.add(place, "unexpected keyword argument %r" % k)
        elif k in out:
            errs.add(place, "got multiple values for argument %r" % k)
        else:
            out[k] = v
    for p in params[:required]:
        if p not in out:
            errs.add(_arg_place(h, p), "missing required argument")
    return {k: v for k, v in out.items() if v is not None}


def _arg_place(h: _Handler, name: str) -> str:
    return "%s.%s" % (h.place, name)


def _int(a: dict, h: _Handler, name: str, lo: int, hi: int, errs: _Errors) -> Optional[int]:
    v = a.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        errs.add(_arg_place(h, name), "expected an integer, found %s" % _type_name(v))
        return None
    if not lo <= v <= hi:
        errs.add(_arg_place(h, name), "%d is out of range (%d to %d)" % (v, lo, hi))
        return None
    return v


def _str(a: dict, h: _Handler, name: str, errs: _Errors) -> Optional[str]:
    v = a.get(name)
    if v is None or isinstance(v, str):
        return v
    errs.add(_arg_place(h, name), "expected a string, found %s" % _type_name(v))
    return None


def _bool(a: dict, h: _Handler, name: str, errs: _Errors) -> None:
    v = a.get(name)
    if v is None or isinstance(v, bool) or (type(v) is int and v in (0, 1)):
        return
    errs.add(_arg_place(h, name), "expected True or False, found %s%s" % (
        _type_name(v), " (strings are not booleans)" if isinstance(v, str) else ""))


def _seconds(a: dict, h: _Handler, name: str, errs: _Errors) -> None:
    """A number of seconds, more than 0 and at most 3600 (the Rust ``seconds``)."""
    v = a.get(name)
    if v is None:
        return
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        errs.add(_arg_place(h, name), "expected a number, found %s" % _type_name(v))
    elif not 0 < v <= 3600:
        errs.add(_arg_place(h, name), "%r is out of range (more than 0 and at most 3600 "
                                      "seconds)" % v)


def _credentials(a: dict, h: _Handler, errs: _Errors) -> None:
    """``(username, password)``: two strings (the Rust ``credentials``)."""
    v = a.get("credentials")
    if v is None:
        return
    if not isinstance(v, (list, tuple)):
        errs.add(_arg_place(h, "credentials"), "expected [username, password], found %s"
                 % _type_name(v))
    elif len(v) != 2 or not all(isinstance(x, str) for x in v):
        errs.add(_arg_place(h, "credentials"), "expected [username, password] (two strings)")


def _envelope_address(text: str) -> str:
    """The address ``smtplib`` puts in the envelope: the part in the last ``<...>``, else the
    whole text, trimmed (the Rust ``address_of``)."""
    t = text.strip(_RUST_WHITESPACE)
    a, b = t.rfind("<"), t.rfind(">")
    if 0 <= a < b:
        return t[a + 1:b].strip(_RUST_WHITESPACE)
    return t


def _envelope_problem(addr: str) -> Optional[str]:
    """Why the Rust SMTPHandler refuses an envelope address, or None."""
    if not addr:
        return "an empty mail address"
    if any(ord(ch) > 127 for ch in addr):
        return "mail address %r is not ASCII (SMTPUTF8 is not supported)" % addr
    if any(ord(ch) < 32 or ord(ch) == 127 or ch in " <>" for ch in addr):
        return "mail address %r contains a space, control character or angle bracket" % addr
    return None


def _check_smtp(h: _Handler, a: dict, pol: _Policy, errs: _Errors) -> None:
    """CPython's ``SMTPHandler(mailhost, fromaddr, toaddrs, subject, credentials=None,
    secure=None, timeout=5.0)`` with the Rust rules: ``SmtpKind::prepare`` in
    ``crates/handlers/src/kinds/mail_http.rs`` and ``SMTPHandler::new`` in
    ``crates/handlers/src/sender/smtp.rs``."""
    mh = a.get("mailhost")
    place = _arg_place(h, "mailhost")
    if isinstance(mh, str):
        pol.destination(mh, _SMTP_PORT, place, errs)
    elif isinstance(mh, (list, tuple)):
        if len(mh) == 2 and isinstance(mh[0], str) and mh[1] is None:
            pol.destination(mh[0], _SMTP_PORT, place, errs)
        elif len(mh) == 2 and isinstance(mh[0], str) and type(mh[1]) is int \
                and 0 <= mh[1] <= 65535:
            # smtplib connects to its default port when the port is 0.
            pol.destination(mh[0], mh[1] or _SMTP_PORT, place, errs)
        else:
            errs.add(place, "expected a host or [host, port] with a port from 0 to 65535")
    elif mh is not None:
        errs.add(place, "expected a host or [host, port], found %s" % _type_name(mh))
    fromaddr = _str(a, h, "fromaddr", errs)
    toaddrs = a.get("toaddrs")
    to_list = None  # type: Optional[List[str]]
    if isinstance(toaddrs, str):
        to_list = [toaddrs]
    elif isinstance(toaddrs, (list, tuple)):
        to_list = []
        for x in toaddrs:
            if isinstance(x, str):
                to_list.append(x)
            else:
                errs.add(_arg_place(h, "toaddrs"), "expected addresses (strings), found %s"
                         % _type_name(x))
    elif toaddrs is not None:
        errs.add(_arg_place(h, "toaddrs"), "expected an address or a list of addresses, "
                                           "found %s" % _type_name(toaddrs))
    subject = _str(a, h, "subject", errs)
    _credentials(a, h, errs)
    secure = a.get("secure")
    if isinstance(secure, (list, tuple)) and secure:
        errs.add(_arg_place(h, "secure"), "client certificates (secure=(keyfile, certfile)) "
                                          "are not supported; use () for STARTTLS")
    elif isinstance(secure, (list, tuple)) and a.get("credentials") is None:
        # Stricter than the Rust listener, which starts TLS anyway.
        errs.add(_arg_place(h, "secure"), "secure without credentials: CPython's SMTPHandler "
                                          "only starts TLS when it logs in, so this mail would "
                                          "go in plain text")
    elif secure is not None and not isinstance(secure, (list, tuple)):
        errs.add(_arg_place(h, "secure"), "expected () for STARTTLS (CPython passes it to "
                                          "starttls(*secure)), found %s" % _type_name(secure))
    _seconds(a, h, "timeout", errs)
    # What SMTPHandler::new refuses when the Rust listener builds the handler.
    if fromaddr is not None and to_list is not None:
        for addr in [fromaddr] + to_list:
            why = _envelope_problem(_envelope_address(addr))
            if why is not None:
                errs.add(h.place, why)
        if not to_list:
            errs.add(_arg_place(h, "toaddrs"),
                     "toaddrs is empty: a mail needs at least one recipient")
    if any(v is not None and ("\r" in v or "\n" in v)
           for v in [subject, fromaddr] + (to_list or [])):
        errs.add(h.place, "a header value (subject, fromaddr or toaddrs) contains a line "
                          "break")


_HTTP_PORT_TEXT = re.compile(r"\+?[0-9]+\Z")


def _http_host_port(host: str, secure: bool) -> Tuple[Optional[Tuple[str, int]], Optional[str]]:
    """``http.client``'s ``host[:port]`` / ``[v6]:port`` as the Rust ``split_host_port`` reads
    it: ``((host, port), None)`` or ``(None, why)``."""
    i, j = host.rfind(":"), host.rfind("]")
    if i >= 0 and i > j:
        h, p = host[:i], host[i + 1:]
    else:
        h, p = host, None
    if p is None or p == "":
        port = _HTTPS_PORT if secure else _HTTP_PORT
    elif _HTTP_PORT_TEXT.match(p) and int(p) <= 65535:
        port = int(p)
    else:
        return None, "nonnumeric port: %r" % p
    if h.startswith("[") and h.endswith("]") and len(h) >= 2:
        h = h[1:-1]
    if not h:
        return None, "host is empty"
    return (h, port), None


def _check_http(h: _Handler, a: dict, pol: _Policy, errs: _Errors) -> None:
    """CPython's ``HTTPHandler(host, url, method='GET', secure=False, credentials=None,
    context=None)`` with the Rust rules: ``HttpKind::prepare`` in
    ``crates/handlers/src/kinds/mail_http.rs`` and ``HTTPHandler::new`` in
    ``crates/handlers/src/sender/http.rs``."""
    if a.get("context") is not None:
        errs.add(_arg_place(h, "context"), "an ssl.SSLContext is code and is refused; "
                                           "secure=True verifies against the system's CAs")
    host = _str(a, h, "host", errs)
    url = _str(a, h, "url", errs)
    method = _str(a, h, "method", errs)
    # CPython upper-cases with str.upper ('poſt' is POST); the Rust listener only ASCII.
    if method is not None and not (all(ord(ch) < 128 for ch in method)
                                   and method.upper() in ("GET", "POST")):
        errs.add(_arg_place(h, "method"), "method must be GET or POST")
    _bool(a, h, "secure", errs)
    secure = bool(a.get("secure"))
    _credentials(a, h, errs)
    cred = a.get("credentials")
    if isinstance(cred, list):
        # Stricter than the Rust listener: CPython's emit formats '%s:%s' % credentials,
        # which needs a tuple (a list fails every record with TypeError); JSON has no tuples.
        errs.add(_arg_place(h, "credentials"), "CPython's HTTPHandler needs a tuple "
                                               "(username, password): '%s:%s' % credentials "
                                               "fails on a list for every record (dictConfig "
                                               "JSON cannot give a tuple; use fileConfig args)")
    if host is not None:
        hp, why = _http_host_port(host, secure)
        if why is not None:
            errs.add(_arg_place(h, "host"), why)
        else:
            pol.destination(hp[0], hp[1], _arg_place(h, "host"), errs)
        # What HTTPHandler::new refuses (http.client refuses them too, on every record).
        if any(ord(ch) <= 32 or ord(ch) == 127 for ch in host):
            errs.add(_arg_place(h, "host"), "host %r contains a space or control character"
                     % host)
    if url is not None and any(ord(ch) <= 32 or ord(ch) == 127 for ch in url):
        errs.add(_arg_place(h, "url"), "URL %r contains a space or control character" % url)


def _check_handler(h: _Handler, m: _Model, pol: _Policy, errs: _Errors) -> None:
    spec = HANDLER_CLASSES.get(h.cls)
    if spec is None:
        if h.cls:
            errs.add(h.place + (".class" if m.dialect == "dict" else " class"),
                     "unknown handler class %r: only %s" % (
                         h.cls, ", ".join(sorted(HANDLER_CLASSES))))
        return
    a = _bind(h, spec[0], spec[1], errs)
    c = h.cls
    if c == "logging.StreamHandler":
        s = a.get("stream")
        if s is not None and not isinstance(s, _Stream):
            errs.add(_arg_place(h, "stream"), "expected ext://sys.stdout or ext://sys.stderr, "
                                              "found %s" % _type_name(s))
    elif "filename" in spec[0]:
        if "filename" in a:
            p = pol.resolve_file(a["filename"], _arg_place(h, "filename"), errs)
            if p is not None:
                h.paths["filename"] = p
        max_bytes = _int(a, h, "maxBytes", *_I64, errs=errs) if "maxBytes" in spec[0] else None
        if max_bytes is not None and 0 < max_bytes < Limits.min_rotation_bytes:
            errs.add(_arg_place(h, "maxBytes"),
                     "maxBytes %d is below the minimum of %d: a file that fills with every "
                     "record would rename up to backupCount files per record (use 0 to never "
                     "roll over)" % (max_bytes, Limits.min_rotation_bytes))
        mode = _str(a, h, "mode", errs) if not (max_bytes and max_bytes > 0) else None
        if mode is not None and mode not in ("a", "at", "ta", "w", "wt", "tw"):
            errs.add(h.place, "unsupported file mode %r: file handlers support 'a' and 'w'"
                     % mode)
        enc = _str(a, h, "encoding", errs)
        if enc is not None and enc.lower().replace("-", "_") not in _ENCODINGS:
            errs.add(h.place, "unsupported encoding %r: utf-8, latin-1 or ascii" % enc)
        e = _str(a, h, "errors", errs)
        if e is not None and e not in _ENC_ERRORS:
            errs.add(h.place, "unsupported encoding error handler %r" % e)
        _bool(a, h, "delay", errs)
        if "backupCount" in spec[0]:
            _int(a, h, "backupCount", _I64[0], Limits.max_backup_count, errs)
        if "when" in spec[0]:
            w = _str(a, h, "when", errs)
            if w is not None and not re.fullmatch(r"(?i)S|M|H|D|MIDNIGHT|W[0-6]", w):
                errs.add(h.place, "invalid rollover interval specified: %r" % w)
            _int(a, h, "interval", 1, 2 ** 32 - 1, errs)
            _bool(a, h, "utc", errs)
    elif c == "logging.handlers.MemoryHandler":
        _int(a, h, "capacity", 0, Limits.max_memory_capacity, errs)
        if a.get("flushLevel") is not None:
            _level(a["flushLevel"], _arg_place(h, "flushLevel"), errs)
        t = _str(a, h, "target", errs)
        if t is not None and not any(x.id == t for x in m.handlers):
            errs.add(h.place, "refers to unknown handler %r" % t)
        _bool(a, h, "flushOnClose", errs)
    elif c in ("logging.handlers.SocketHandler", "logging.handlers.DatagramHandler"):
        host = _str(a, h, "host", errs)
        port = _int(a, h, "port", 0, 65535, errs)
        if host is not None and "port" not in a:
            p = pol.resolve_file(host, _arg_place(h, "host"), errs)
            if p is not None:
                h.paths["host"] = p
        elif host is not None and port is not None:
            pol.destination(host, port, _arg_place(h, "host"), errs)
    elif c == "logging.handlers.SysLogHandler":
        addr = a.get("address")
        place = _arg_place(h, "address")
        if isinstance(addr, str):
            p = pol.resolve_file(addr, place, errs)
            if p is not None:
                h.paths["address"] = p
        elif isinstance(addr, (list, tuple)):
            if len(addr) == 2 and isinstance(addr[0], str) and type(addr[1]) is int \
                    and 0 <= addr[1] <= 65535:
                pol.destination(addr[0], addr[1], place, errs)
            else:
                errs.add(place, "expected [host, port] with a port from 0 to 65535")
        elif addr is not None:
            errs.add(place, "expected [host, port] or a Unix socket path, found %s"
                     % _type_name(addr))
        else:
            pol.destination("localhost", 514, place, errs)
        f = a.get("facility")
        if f is not None:
            if isinstance(f, str):
                if f not in _FACILITIES:
                    errs.add(_arg_place(h, "facility"), "unknown facility %r" % f)
            elif isinstance(f, bool) or not isinstance(f, int) or not 0 <= f <= (2 ** 32 - 1) >> 3:
                errs.add(_arg_place(h, "facility"), "expected a facility number or name")
        st = a.get("socktype")
        if st is not None and (type(st) is not int or st not in (1, 2)):
            errs.add(_arg_place(h, "socktype"), "expected socket.SOCK_STREAM (1) or "
                                                "SOCK_DGRAM (2)")
    elif c == "logging.handlers.SMTPHandler":
        _check_smtp(h, a, pol, errs)
    elif c == "logging.handlers.HTTPHandler":
        _check_http(h, a, pol, errs)


def _check_model(m: _Model, pol: _Policy, errs: _Errors) -> None:
    for what, n, cap in (("handlers", len(m.handlers), Limits.max_handlers),
                         ("loggers", len(m.loggers), Limits.max_loggers),
                         ("filters", len(m.filters), Limits.max_filters),
                         ("formatters", len(m.formatters), Limits.max_formatters)):
        if n > cap:
            errs.add(what, "%d %s is more than the limit of %d" % (n, what, cap))
    if errs:
        return
    for i in [f[0] for f in m.formatters] + [f[0] for f in m.filters] + \
            [h.id for h in m.handlers] + [lg[0] for lg in m.loggers]:
        if len(i.encode("utf-8")) > Limits.max_name_len:
            errs.add("%r" % i[:40], "name of %d bytes is longer than the limit of %d"
                     % (len(i.encode("utf-8")), Limits.max_name_len))
    fids = {f[0] for f in m.formatters}
    for fid, place, f in m.formatters:
        fmt = f["format"]
        if fmt is not None and len(fmt.encode("utf-8")) > Limits.max_format_len:
            errs.add(place + (".format" if m.dialect == "dict" else " format"),
                     "format string longer than %d bytes" % Limits.max_format_len)
            continue
        datefmt = f["datefmt"]
        if datefmt is not None and _utf8_len(datefmt) > Limits.max_format_len:
            errs.add(place + (".datefmt" if m.dialect == "dict" else " datefmt"),
                     "datefmt longer than %d bytes" % Limits.max_format_len)
            continue
        try:
            # CPython's own check (no code runs: it only parses the format string).
            logging.Formatter(fmt, datefmt, f["style"], f["validate"])
        except (ValueError, TypeError, KeyError) as e:
            errs.add(place, str(e))
            continue
        if f["style"] == "$" and fmt and any(x.group(4) is not None
                                             for x in _DOLLAR.finditer(fmt)):
            # The Rust template::parse refuses a bare '$' whatever validate says (CPython
            # with validate=False would fail on every record).
            errs.add(place, "invalid format: bare '$' not allowed")
            continue
        why = _strftime_check(datefmt) if datefmt else None
        if why is not None:
            errs.add(place, why)
            continue
        # What one record may cost to render (the Rust Configurator's check of
        # Formatter::render_bound against ConfigLimits::pushed()).
        fixed, copies = _render_bound(fmt, datefmt, f["style"])
        if fixed > Limits.max_render_bytes:
            errs.add(place, "format and datefmt can render %d bytes for every record (each "
                            "asctime at its datefmt's longest), more than the limit of %d"
                     % (fixed, Limits.max_render_bytes))
        elif copies > Limits.max_record_fields:
            errs.add(place + (".format" if m.dialect == "dict" else " format"),
                     "format copies record text %d times, more than the limit of %d"
                     % (copies, Limits.max_record_fields))
    filter_ids = {f[0] for f in m.filters}
    for h in sorted(m.handlers, key=lambda h: h.id):
        sep = "." if m.dialect == "dict" else " "
        if h.formatter is not None and h.formatter not in fids:
            errs.add(h.place + sep + "formatter", "unknown formatter %r" % h.formatter)
        for f in h.filters:
            if f not in filter_ids:
                errs.add(h.place + sep + "filters", "unknown filter %r" % f)
        if not m.incremental:
            _check_handler(h, m, pol, errs)
    if m.incremental:
        return
    hids = {h.id for h in m.handlers}
    loggers = [(p, hl, fl) for _, p, hl, fl in m.loggers] + ([m.root] if m.root else [])
    for place, hl, fl in loggers:
        sep = "." if m.dialect == "dict" else " "
        for x in hl:
            if x not in hids:
                errs.add(place + sep + "handlers", "unknown handler %r" % x)
        for x in fl:
            if x not in filter_ids:
                errs.add(place + sep + "filters", "unknown filter %r" % x)


# ------------------------------------------------------------------------------- rewrite

def _rewrite_dict(doc: dict, m: _Model) -> None:
    handlers = doc.get("handlers") or {}
    for h in m.handlers:
        for param, path in h.paths.items():
            handlers[h.id][param] = path


def _rewrite_ini(cp: configparser.ConfigParser, m: _Model) -> bool:
    """Writes the resolved paths back where they came from: a positional argument of
    ``args`` or a key of the ``kwargs`` literal."""
    changed = False
    for h in m.handlers:
        if not h.paths:
            continue
        sec = cp[h.place[1:-1]]
        params = HANDLER_CLASSES[h.cls][0]
        args = list(h.args)
        kw = None
        for param, path in h.paths.items():
            i = params.index(param)
            if i < len(args):
                args[i] = path
            else:
                if kw is None:
                    kw = _ini_literal(sec.get("kwargs", "{}"), "", _Errors())
                kw[param] = path
        sec["args"] = _ini_repr(tuple(args))
        if kw is not None:
            sec["kwargs"] = _ini_repr(kw)
        changed = True
    return changed


def _ini_repr(v: Any) -> str:
    """INI source for a checked value (a literal CPython's fileConfig eval reads back the
    same); '%' is doubled, since fileConfig reads args with interpolation."""
    def r(x):
        if isinstance(x, _Stream):
            return x.name
        if isinstance(x, tuple):
            return "(" + "".join(r(e) + ", " for e in x) + ")"
        if isinstance(x, list):
            return "[" + ", ".join(r(e) for e in x) + "]"
        if isinstance(x, dict):
            return "{" + ", ".join("%s: %s" % (r(k), r(e)) for k, e in x.items()) + "}"
        return repr(x)
    return r(v).replace("%", "%%")


# ------------------------------------------------------------------------------- entry point

def _parse_destinations(allow: Iterable[str]) -> List[Tuple[str, Optional[int]]]:
    out = []
    for s in allow:
        if s.startswith("["):
            host, _, rest = s[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else None
        elif ":" in s:
            host, _, port = s.rpartition(":")
        else:
            host, port = s, None
        if not host:
            raise ValueError("%r: no host" % s)
        out.append((host, None if port in (None, "*") else int(port)))
    return out


def check_pushed(text: Any, file_root: Optional[str] = None,
                 allow_destinations: Iterable[str] = ()) -> str:
    """Checks a pushed config (``str`` or UTF-8 ``bytes``) against the listener's content
    policy and returns the text CPython should apply; raises ``PolicyError`` otherwise.

    ``file_root``: the directory pushed file handlers (and Unix sockets) may use, as
    ``logwire serve --file-root``; ``None`` refuses every file handler.
    ``allow_destinations``: ``"HOST:PORT"`` (or ``"HOST:*"``) network handlers may reach
    besides loopback, as ``--allow-host``.

    >>> check_pushed('{"version": 1, "handlers": {"h": {"class": "logging.handlers.'
    ...              'SocketHandler", "host": "203.0.113.9", "port": 9020}}}')
    Traceback (most recent call last):
    ...
    logwire_helper.policy.PolicyError: handlers.h.host: destination 203.0.113.9:9020 is not allowed (loopback and allow-listed destinations only)
    """
    if isinstance(text, (bytes, bytearray)):
        if len(text) > Limits.max_document_bytes:
            raise PolicyError("document: %d bytes is more than the limit of %d"
                              % (len(text), Limits.max_document_bytes))
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as e:
            raise PolicyError("document: not UTF-8 text (invalid byte at offset %d)"
                              % e.start) from None
    if len(text.encode("utf-8")) > Limits.max_document_bytes:
        raise PolicyError("document: %d bytes is more than the limit of %d"
                          % (len(text.encode("utf-8")), Limits.max_document_bytes))
    pol = _Policy(file_root, _parse_destinations(allow_destinations))
    errs = _Errors()
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as e:
            raise PolicyError("document: not valid JSON: %s" % e) from None
        if not isinstance(doc, dict):
            raise PolicyError("document: expected a mapping, found %s" % _type_name(doc))
        if _depth_and_nodes(doc, errs):
            _code_keys(doc, "", errs)
        if not errs:
            doc = _resolve_cfg(doc, errs)
        if not errs:
            m = _model_from_dict(doc, errs)
            _check_model(m, pol, errs)
        if errs:
            raise PolicyError("; ".join(errs), list(errs))
        _rewrite_dict(doc, m)
        out = json.dumps(doc)
        return text if json.loads(text) == doc else out
    # Not JSON: CPython's listen() hands it to fileConfig (so does the Rust listener).
    m, cp = _model_from_ini(text, errs)
    if m is not None:
        _check_model(m, pol, errs)
    if errs:
        raise PolicyError("; ".join(errs), list(errs))
    if not _rewrite_ini(cp, m):
        return text
    buf = io.StringIO()
    cp.write(buf)
    return buf.getvalue()


def main(argv: Optional[List[str]] = None) -> int:
    """``python3 -m logwire_helper.policy FILE``: checks a config as a pushed one, as the
    verifier and ``logwire check --pushed`` do. Exit status 0 valid, 1 invalid, 2 unreadable.
    """
    import argparse
    p = argparse.ArgumentParser(
        prog="python3 -m logwire_helper.policy",
        description="Check a logging config (dictConfig JSON or fileConfig INI) against the "
                    "policy for pushed configs, as logwire_helper's verifier and "
                    "`logwire check --pushed` apply it. Nothing is imported or run.",
        epilog="examples:\n  python3 -m logwire_helper.policy logging.json\n"
               "  python3 -m logwire_helper.policy --file-root /var/log/app logging.ini",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", help="the config file")
    p.add_argument("--file-root", metavar="DIR",
                   help="pushed file handlers may write beneath DIR (none without it)")
    p.add_argument("--allow-host", metavar="HOST:PORT", action="append", default=[],
                   help="a destination network handlers may reach besides loopback")
    a = p.parse_args(argv)
    try:
        with open(a.file, "rb") as f:
            data = f.read(Limits.max_document_bytes + 1)
        if a.file_root is not None and not os.path.isdir(a.file_root):
            raise OSError("file root %s is not a directory" % a.file_root)
    except OSError as e:
        print("cannot read %s" % e, file=sys.stderr)
        return 2
    try:
        check_pushed(data, a.file_root, a.allow_host)
    except PolicyError as e:
        for err in e.errors:
            print("%s: %s" % (a.file, err))
        print("%s: invalid: %d error%s" % (a.file, len(e.errors), "" if len(e.errors) == 1
                                           else "s"), file=sys.stderr)
        return 1
    print("%s: valid as a pushed config" % a.file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
