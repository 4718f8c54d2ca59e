#!/usr/bin/env python3
"""Writes the pushed-policy conformance corpus: one config per file (NAME.pushed, read as the
config listener reads a payload: JSON if it starts with '{', else INI) and cases.json, the
verdict each must get.

    python3 testdata/pushed-policy/generate.py     # rewrites the files next to this script

Both implementations run the corpus: crates/cli/tests/it/pushed_policy_corpus.rs against
`logwire check --pushed` / `--policy-file-root DIR`, python/tests/test_policy_corpus.py against
logwire_helper.policy.check_pushed and the verifier. "root": true means a file root is given
(an empty temporary directory); otherwise file handlers have no root. A case may carry
"python": "reject" with "python_why" where CPython itself cannot apply what the Rust listener
accepts (the verifier must then be stricter, never looser). A case may carry "check": "accept"
with "check_why" where `logwire check` is known to accept what the listener refuses (a
handler's constructor refuses it, and check does not build handlers): the Rust runner then
expects "accept" from check and "reject" from the listener's path (prepare and build).
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
cases = []


def case(name, verdict, why, doc, root=False, **extra):
    text = doc if isinstance(doc, str) else json.dumps(doc, indent=1)
    with open(os.path.join(HERE, name + ".pushed"), "w") as f:
        f.write(text)
    c = {"file": name + ".pushed", "root": root, "verdict": verdict, "why": why}
    c.update(extra)
    cases.append(c)


def d(handlers=None, root_handlers=None, **kw):
    doc = {"version": 1}
    if handlers is not None:
        doc["handlers"] = handlers
    if root_handlers is not None:
        doc["root"] = {"handlers": root_handlers}
    doc.update(kw)
    return doc


def ini(handlers="", handler_sections="", formatters="", formatter_sections="",
        loggers="root", logger_sections="[logger_root]\nhandlers={h}\n"):
    return ("[loggers]\nkeys=%s\n\n[handlers]\nkeys=%s\n\n[formatters]\nkeys=%s\n\n%s\n%s\n%s"
            % (loggers, handlers, formatters, formatter_sections, handler_sections,
               logger_sections.format(h=handlers)))


STREAM = {"class": "logging.StreamHandler", "stream": "ext://sys.stdout"}

# ---- accepted --------------------------------------------------------------------------
case("accept-minimal", "accept", "the smallest dictConfig", {"version": 1})
case("accept-stream-formatter-loggers", "accept", "stream handler, formatter, levels",
     d({"out": dict(STREAM, formatter="f", level="INFO")}, ["out"],
       formatters={"f": {"format": "%(asctime)s %(levelname)s %(message)s",
                         "datefmt": "%H:%M:%S"}},
       loggers={"app": {"level": "DEBUG", "propagate": False, "handlers": ["out"]}}))
case("accept-file-beneath-root", "accept", "relative file name resolves beneath the root",
     d({"f": {"class": "logging.FileHandler", "filename": "app.log", "delay": True}}, ["f"]),
     root=True)
case("accept-rotating-caps", "accept", "backupCount at the cap (100)",
     d({"f": {"class": "logging.handlers.RotatingFileHandler", "filename": "r.log",
              "maxBytes": 1048576, "backupCount": 100, "delay": True}}), root=True)
for mb, why in ((0, "maxBytes 0: never rolls over"),
                (65536, "maxBytes at the minimum (64 KiB)")):
    case("accept-rotating-maxbytes-%d" % mb, "accept", why,
         d({"f": {"class": "logging.handlers.RotatingFileHandler", "filename": "r.log",
                  "maxBytes": mb, "backupCount": 100, "delay": True}}), root=True)
case("accept-timed", "accept", "timed rotation at midnight",
     d({"f": {"class": "logging.handlers.TimedRotatingFileHandler", "filename": "t.log",
              "when": "midnight", "interval": 1, "backupCount": 7, "delay": True}}), root=True)
case("accept-memory-target", "accept", "MemoryHandler at the capacity cap, target known",
     d({"out": STREAM, "mem": {"class": "logging.handlers.MemoryHandler",
                               "capacity": 1000000, "flushLevel": "ERROR", "target": "out"}},
       ["mem"]))
case("accept-socket-loopback", "accept", "SocketHandler to loopback",
     d({"s": {"class": "logging.handlers.SocketHandler", "host": "127.0.0.1", "port": 9020}}))
case("accept-datagram-localhost", "accept", "DatagramHandler to localhost",
     d({"s": {"class": "logging.handlers.DatagramHandler", "host": "localhost", "port": 9021}}))
case("accept-syslog-default", "accept", "SysLogHandler's default address is localhost:514",
     d({"s": {"class": "logging.handlers.SysLogHandler", "facility": "local3"}}))
case("accept-cfg-reference", "accept", "cfg:// resolves inside the document",
     d({"out": dict(STREAM, level="cfg://levels.app")}, ["out"], levels={"app": "WARNING"}))
case("accept-incremental", "accept", "incremental: only handler and logger levels",
     {"version": 1, "incremental": True, "handlers": {"h": {"level": "ERROR"}},
      "loggers": {"app": {"level": "INFO"}}})
case("accept-filters", "accept", "a name filter used by a handler and a logger",
     d({"out": dict(STREAM, filters=["f"])}, ["out"], filters={"f": {"name": "app"}},
       loggers={"app": {"filters": ["f"]}}))
case("accept-64-handlers", "accept", "64 handlers: the cap",
     d({"h%d" % i: {"class": "logging.NullHandler"} for i in range(64)}))
case("accept-format-4096", "accept", "a format of 4096 bytes: the cap",
     d(formatters={"f": {"format": "%(message)s" + "x" * (4096 - 11)}}))
case("accept-ini-stream", "accept", "INI stream handler with a formatter",
     ini("h", "[handler_h]\nclass=StreamHandler\nlevel=INFO\nformatter=f\nargs=(sys.stdout,)\n",
         "f", "[formatter_f]\nformat=%(levelname)s %(message)s\ndatefmt=\n"))
case("accept-ini-rotating", "accept", "INI rotating file beneath the root, arithmetic in args",
     ini("h", "[handler_h]\nclass=handlers.RotatingFileHandler\n"
              "args=('app.log', 'a', 10*1024*1024, 5)\n"), root=True)
case("accept-ini-socket-constant", "accept", "INI SocketHandler to localhost on the default port",
     ini("h", "[handler_h]\nclass=handlers.SocketHandler\n"
              "args=('localhost', handlers.DEFAULT_TCP_LOGGING_PORT)\n"))
case("accept-ini-logger", "accept", "INI logger with qualname and propagate",
     ini("h", "[handler_h]\nclass=StreamHandler\nargs=(sys.stderr,)\n",
         loggers="root,app",
         logger_sections="[logger_root]\nhandlers={h}\n\n[logger_app]\nqualname=app\n"
                         "level=DEBUG\npropagate=0\nhandlers={h}\n"))

# ---- rejected: bug 1 (a formatter class that truncates a file) --------------------------
case("reject-formatter-class-filehandler", "reject",
     "issue 14 bug 1: a formatter whose class is logging.FileHandler would truncate a file",
     d(formatters={"f": {"class": "logging.FileHandler", "format": "/tmp/logwire-victim",
                         "datefmt": "w"}}), root=True)
case("reject-ini-formatter-class-filehandler", "reject",
     "issue 14 bug 1, INI: [formatter_f] class=logging.FileHandler",
     ini("", "", "f", "[formatter_f]\nclass=logging.FileHandler\nformat=/tmp/logwire-victim\n"
                      "datefmt=w\n"), root=True)
# ---- rejected: bug 6 ----------------------------------------------------------------
case("reject-socket-remote", "reject", "a remote SocketHandler destination",
     d({"s": {"class": "logging.handlers.SocketHandler", "host": "10.1.1.1", "port": 9020}}))
case("reject-datagram-remote", "reject", "a remote DatagramHandler destination",
     d({"s": {"class": "logging.handlers.DatagramHandler", "host": "203.0.113.9",
              "port": 9021}}))
case("reject-syslog-remote", "reject", "a remote SysLogHandler address",
     d({"s": {"class": "logging.handlers.SysLogHandler", "address": ["198.51.100.7", 514]}}))
case("reject-socket-unix-no-root", "reject", "a Unix socket path without a file root",
     d({"s": {"class": "logging.handlers.SocketHandler", "host": "/tmp/x.sock",
              "port": None}}))
case("reject-syslog-devlog-no-root", "reject", "/dev/log is a Unix path: no root, refused",
     d({"s": {"class": "logging.handlers.SysLogHandler", "address": "/dev/log"}}))
case("reject-syslog-unix-outside-root", "reject", "a Unix path outside the root",
     d({"s": {"class": "logging.handlers.SysLogHandler", "address": "/dev/log"}}), root=True)
case("reject-ini-socket-remote", "reject", "INI SocketHandler to a remote host",
     ini("h", "[handler_h]\nclass=handlers.SocketHandler\nargs=('10.0.0.1', 9020)\n"))
case("reject-65-handlers", "reject", "65 handlers: one over the cap (the issue had 3 000)",
     d({"h%d" % i: {"class": "logging.NullHandler"} for i in range(65)}))
case("reject-format-4097", "reject", "a format one byte over 4096 (the issue had 500 KB)",
     d(formatters={"f": {"format": "%(message)s" + "x" * (4097 - 11)}}))
case("reject-memory-capacity", "reject", "MemoryHandler capacity 1e12",
     d({"m": {"class": "logging.handlers.MemoryHandler", "capacity": 10 ** 12}}))
case("reject-memory-capacity-1000001", "reject", "MemoryHandler capacity one over the cap",
     d({"m": {"class": "logging.handlers.MemoryHandler", "capacity": 1000001}}))
case("reject-backupcount-1e6", "reject", "backupCount 1e6",
     d({"f": {"class": "logging.handlers.RotatingFileHandler", "filename": "r.log",
              "backupCount": 1000000}}), root=True)
case("reject-backupcount-101", "reject", "backupCount one over the cap (100)",
     d({"f": {"class": "logging.handlers.RotatingFileHandler", "filename": "r.log",
              "backupCount": 101}}), root=True)
for mb, why in ((1, "maxBytes 1 (the issue: 1 000 renames at every record)"),
                (65535, "maxBytes one below the minimum (64 KiB)")):
    case("reject-rotating-maxbytes-%d" % mb, "reject", why,
         d({"f": {"class": "logging.handlers.RotatingFileHandler", "filename": "r.log",
                  "maxBytes": mb, "backupCount": 5, "delay": True}}), root=True)


def fmt_doc(fmt, datefmt=None):
    f = {"format": fmt}
    if datefmt is not None:
        f["datefmt"] = datefmt
    return d({"h": dict(STREAM, formatter="f")}, ["h"], formatters={"f": f})


case("reject-dollar-bare-unvalidated", "reject",
     "a bare '$' with validate false (CPython would fail on every record)",
     d(formatters={"f": {"format": "$message costs 5$", "style": "$", "validate": False}}))
# Each %c renders at most 64 bytes (strftime::max_len): 256 of them are the 16 KiB cap.
case("accept-datefmt-c-256", "accept", "datefmt %c x 256: at the render cap (16 KiB)",
     fmt_doc("%(asctime)s", "%c" * 256))
case("reject-datefmt-c-257", "reject", "datefmt %c x 257: over the render cap (16 KiB)",
     fmt_doc("%(asctime)s", "%c" * 257))
case("reject-datefmt-c-32000", "reject", "datefmt %c x 32 000 (the issue: x1751 the bytes)",
     fmt_doc("%(asctime)s %(message)s", "%c" * 32000))
case("reject-datefmt-empty-time", "reject",
     "datefmt %999999999Y can only render an empty time",
     fmt_doc("%(asctime)s %(message)s", "%999999999Y"))
# Record text copies: each field 1, plus exc_text and stack_info: 62 fields are the cap (64).
case("accept-message-x62", "accept", "62 message fields: record text copied 64 times (the cap)",
     fmt_doc("%(message)s" * 62))
case("reject-message-x63", "reject", "63 message fields: record text copied 65 times",
     fmt_doc("%(message)s" * 63))
case("accept-message-repr-at-cap", "accept", "58 fields and one %(message)r (counts 4): 64",
     fmt_doc("%(message)s" * 58 + "%(message)r"))
case("reject-message-repr-over-cap", "reject",
     "59 fields and one %(message)r (counts 4): 65 (with %s it would be 62)",
     fmt_doc("%(message)s" * 59 + "%(message)r"))
case("reject-version-2", "reject", "version 2", {"version": 2})
case("reject-no-version", "reject", "no version", {"root": {"level": "INFO"}})
case("reject-unknown-handler-ref", "reject", "root names a handler that does not exist",
     d(root_handlers=["nope"]))
case("reject-level-ntoset", "reject", "a misspelt level on a handler",
     d({"h": dict(STREAM, level="NTOSET")}))
case("reject-logger-level-ntoset", "reject", "a misspelt level on a logger",
     d(loggers={"app": {"level": "NTOSET"}}))
case("reject-level-numeric-string", "reject", "'10' is not a level name",
     d(root_handlers=[], **{"loggers": {"app": {"level": "10"}}}))
case("reject-memory-unknown-target", "reject", "MemoryHandler target does not exist",
     d({"m": {"class": "logging.handlers.MemoryHandler", "capacity": 10, "target": "nope"}}))
case("reject-unknown-formatter-ref", "reject", "a handler names an unknown formatter",
     d({"h": dict(STREAM, formatter="nope")}))
case("reject-unknown-filter-ref", "reject", "a logger names an unknown filter",
     d(loggers={"app": {"filters": ["nope"]}}))
case("reject-ini-level-ntoset", "reject", "INI level NTOSET",
     ini("h", "[handler_h]\nclass=StreamHandler\nlevel=NTOSET\nargs=(sys.stdout,)\n"))
case("reject-ini-unknown-handler", "reject", "INI root names a handler not in [handlers]",
     ini("h", "[handler_h]\nclass=StreamHandler\nargs=(sys.stdout,)\n",
         logger_sections="[logger_root]\nhandlers=h,ghost\n"))
case("reject-ini-no-qualname", "reject", "INI logger without qualname",
     ini("", "", loggers="root,app",
         logger_sections="[logger_root]\nhandlers=\n\n[logger_app]\nhandlers=\n"))
case("reject-ini-call-in-args", "reject", "INI args that call a function",
     ini("h", "[handler_h]\nclass=StreamHandler\nargs=(__import__('os').system('id'),)\n"))
case("reject-ini-unknown-class", "reject", "INI class outside the registry",
     ini("h", "[handler_h]\nclass=handlers.NTEventLogHandler\nargs=('app',)\n"))
case("reject-ini-missing-sections", "reject", "INI without [handlers]/[formatters]",
     "[loggers]\nkeys=root\n\n[logger_root]\nhandlers=\n")
# ---- rejected: code, classes, files ---------------------------------------------------
case("reject-factory", "reject", "'()' factory",
     d({"h": {"()": "os.system", "command": "id"}}))
case("reject-dot-attributes", "reject", "'.' attribute setting",
     d({"h": dict(STREAM, **{".": {"terminator": "x"}})}))
case("reject-ext-other", "reject", "ext:// other than the standard streams",
     d({"h": {"class": "logging.StreamHandler", "stream": "ext://os.system"}}))
# Issue 16: accepted as CPython accepts them (a str stream fails on every record; strings
# are flags by their truth), with a check warning. The helper's verifier stays stricter.
STRICTER = "the helper's verifier still refuses this (stricter than the listener, which follows CPython)"
case("accept-stream-string", "accept", "a stream that is a plain string (CPython fails on every record)",
     d({"h": {"class": "logging.StreamHandler", "stream": "hello"}}),
     python="reject", python_why=STRICTER)
case("reject-unknown-class", "reject", "a class outside the registry",
     d({"h": {"class": "logging.handlers.NTEventLogHandler", "appname": "app"}}))
case("reject-no-class", "reject", "a handler without a class", d({"h": {"level": "INFO"}}))
case("reject-file-no-root", "reject", "a file handler without a file root",
     d({"f": {"class": "logging.FileHandler", "filename": "app.log"}}))
case("reject-file-dotdot", "reject", "'..' in a file name",
     d({"f": {"class": "logging.FileHandler", "filename": "../app.log"}}), root=True)
case("reject-file-outside", "reject", "an absolute file name outside the root",
     d({"f": {"class": "logging.FileHandler", "filename": "/tmp/logwire-outside.log"}}),
     root=True)
case("reject-ini-file-outside", "reject", "INI file handler outside the root",
     ini("h", "[handler_h]\nclass=FileHandler\nargs=('/etc/passwd', 'w')\n"), root=True)
case("reject-file-mode-x", "reject", "a file mode other than 'a' or 'w'",
     d({"f": {"class": "logging.FileHandler", "filename": "a.log", "mode": "r+"}}), root=True)
case("reject-unexpected-kwarg", "reject", "an argument the class does not take",
     d({"f": {"class": "logging.FileHandler", "filename": "a.log", "bogus": 1}}), root=True)
case("reject-missing-filename", "reject", "a file handler without a filename",
     d({"f": {"class": "logging.FileHandler"}}), root=True)
case("reject-bad-when", "reject", "an unknown rollover interval",
     d({"f": {"class": "logging.handlers.TimedRotatingFileHandler", "filename": "t.log",
              "when": "Q"}}), root=True)
case("accept-propagate-string", "accept", "propagate as a string ('false' is true in Python, as in CPython)",
     d(loggers={"app": {"propagate": "false"}}), python="reject", python_why=STRICTER)
case("accept-disable-existing-string", "accept", "disable_existing_loggers as a string (true, as in CPython)",
     {"version": 1, "disable_existing_loggers": "no"}, python="reject", python_why=STRICTER)
case("reject-port-out-of-range", "reject", "a port above 65535",
     d({"s": {"class": "logging.handlers.SocketHandler", "host": "127.0.0.1", "port": 70000}}))
case("reject-cfg-cycle", "reject", "a cfg:// cycle", d(a={"b": "cfg://a.b"},
                                                        root={"level": "cfg://a.b"}))
case("reject-cfg-missing", "reject", "a cfg:// reference to nothing",
     d(root={"level": "cfg://nope.x"}))
case("reject-deep", "reject", "nesting deeper than 32 levels",
     d(deep=json.loads("[" * 40 + "]" * 40)))
case("reject-not-json", "reject", "starts with '{' but is not JSON", '{"version": 1,')
case("reject-not-ini", "reject", "neither JSON nor INI", "hello world\n")
case("reject-json-list", "reject", "a JSON document that is not a mapping", "[1, 2]")
case("reject-level-out-of-range", "reject", "a level beyond 32 bits",
     d(loggers={"app": {"level": 10 ** 10}}))
# ---- SMTPHandler and HTTPHandler (docs/operations.md section 7) -----------------------
# Their hosts pass SocketHandler's destination check (loopback here: `check` has no
# --allow-host; the allow list is Destinations in python/tests/test_policy_corpus.py).
SMTP = {"class": "logging.handlers.SMTPHandler", "mailhost": ["localhost", 25],
        "fromaddr": "app@example.org", "toaddrs": ["ops@example.org"], "subject": "alert"}
HTTP = {"class": "logging.handlers.HTTPHandler", "host": "127.0.0.1:8080", "url": "/log",
        "method": "POST"}
case("accept-smtp-loopback", "accept", "SMTPHandler to [localhost, 25]", d({"m": SMTP}, ["m"]))
case("accept-smtp-host-default-port", "accept", "SMTPHandler mailhost 127.0.0.1 (port 25)",
     d({"m": dict(SMTP, mailhost="127.0.0.1", toaddrs="ops@example.org")}))
case("accept-smtp-starttls-credentials", "accept", "SMTPHandler with STARTTLS and a login",
     d({"m": dict(SMTP, credentials=["app", "secret"], secure=[], timeout=2.5)}))
case("accept-http-loopback", "accept", "HTTPHandler POST to 127.0.0.1:8080",
     d({"h": HTTP}, ["h"]))
case("accept-http-get-lowercase", "accept", "HTTPHandler method 'get' (CPython upper-cases it)",
     d({"h": dict(HTTP, host="localhost", method="get")}))
case("accept-ini-smtp", "accept", "INI SMTPHandler with positional args",
     ini("h", "[handler_h]\nclass=handlers.SMTPHandler\n"
              "args=(('localhost', 2525), 'app@example.org', ['ops@example.org'], 'alert')\n"))
case("accept-ini-http-https-credentials", "accept",
     "INI HTTPHandler over HTTPS with a (user, password) tuple",
     ini("h", "[handler_h]\nclass=handlers.HTTPHandler\n"
              "args=('[::1]:8443', '/log', 'POST', True, ('app', 'secret'))\n"))
case("reject-smtp-remote", "reject", "SMTPHandler to a host that is not allowed",
     d({"m": dict(SMTP, mailhost=["mail.example.org", 25])}))
case("reject-smtp-remote-default-port", "reject",
     "SMTPHandler mailhost string: a remote host on port 25",
     d({"m": dict(SMTP, mailhost="203.0.113.25")}))
case("reject-ini-smtp-remote", "reject", "INI SMTPHandler to a remote host",
     ini("h", "[handler_h]\nclass=handlers.SMTPHandler\n"
              "args=(('198.51.100.25', 25), 'app@example.org', 'ops@example.org', 'x')\n"))
case("reject-http-remote", "reject", "HTTPHandler to a host that is not allowed",
     d({"h": dict(HTTP, host="collector.example.org")}))
case("reject-http-remote-https", "reject", "HTTPHandler over HTTPS to a remote host (port 443)",
     d({"h": dict(HTTP, host="203.0.113.80", secure=True)}))
case("reject-ini-http-remote", "reject", "INI HTTPHandler to a remote host",
     ini("h", "[handler_h]\nclass=handlers.HTTPHandler\nargs=('10.0.0.8:80', '/log')\n"))
case("reject-http-context", "reject", "HTTPHandler context (an ssl.SSLContext is code)",
     d({"h": dict(HTTP, secure=True, context="default")}))
case("reject-ini-http-context", "reject", "INI HTTPHandler with a context argument",
     ini("h", "[handler_h]\nclass=handlers.HTTPHandler\n"
              "args=('localhost', '/log', 'GET', True, None, 'ctx')\n"))
case("reject-http-method-put", "reject", "HTTPHandler method PUT (GET and POST only)",
     d({"h": dict(HTTP, method="PUT")}))
# Header injection: refused when the config is prepared (so by `logwire check` too) and again
# by the handlers' constructors.
case("reject-smtp-subject-line-break", "reject",
     "a line break in the Subject would inject a header",
     d({"m": dict(SMTP, subject="alert\r\nBcc: victim@example.net")}))
case("reject-smtp-toaddrs-line-break", "reject",
     "a line break in toaddrs would inject a header",
     d({"m": dict(SMTP, toaddrs=["ops@example.org\nBcc: victim@example.net"])}))
case("reject-http-url-line-break", "reject",
     "a line break in the URL would inject a request header",
     d({"h": dict(HTTP, url="/log HTTP/1.1\r\nX-Injected: 1\r\nX-Pad:")}))
case("reject-http-host-line-break", "reject",
     "a line break in the host would inject a request header",
     d({"h": dict(HTTP, host="localhost\r\nX-Injected: 1")}))
case("reject-smtp-client-certificate", "reject",
     "SMTPHandler secure=(keyfile, certfile): client certificates are not supported",
     d({"m": dict(SMTP, credentials=["app", "secret"], secure=["key.pem", "cert.pem"])}))
case("reject-smtp-cafile-outside-root", "reject",
     "SMTPHandler cafile outside the file root (the helper: CPython takes no cafile)",
     d({"m": dict(SMTP, credentials=["app", "secret"], secure=[],
                  cafile="/etc/ssl/certs/ca-certificates.crt")}), root=True)
case("reject-smtp-timeout-0", "reject", "SMTPHandler timeout 0 (more than 0, at most 3600)",
     d({"m": dict(SMTP, timeout=0)}))
# ---- where CPython cannot follow the Rust listener ------------------------------------
case("smtp-starttls-without-credentials", "accept",
     "SMTPHandler secure=() without credentials (logwire starts TLS anyway)",
     d({"m": dict(SMTP, secure=[])}), python="reject",
     python_why="CPython's SMTPHandler only starts TLS when it logs in: the mail would go "
                "in plain text")
case("http-credentials-list", "accept", "HTTPHandler credentials as a JSON list",
     d({"h": dict(HTTP, credentials=["app", "secret"])}), python="reject",
     python_why="CPython's HTTPHandler.emit formats '%s:%s' % credentials, which fails with "
                "TypeError on a list for every record (JSON has no tuples)")
case("smtp-logwire-extension", "accept", "queue_bytes/session_timeout are logwire's extensions",
     d({"m": dict(SMTP, queue_bytes=65536, session_timeout=10)}), python="reject",
     python_why="CPython's SMTPHandler takes no queue_bytes/session_timeout: dictConfig "
                "would fail with TypeError after the seq was burned")
case("socket-logwire-extension", "accept",
     "retryStart/buffer/overflow are logwire's SocketHandler extensions",
     d({"s": {"class": "logging.handlers.SocketHandler", "host": "127.0.0.1", "port": 9020,
              "buffer": 1000, "overflow": "drop_oldest"}}),
     python="reject",
     python_why="CPython's SocketHandler takes no buffer/overflow: dictConfig would fail "
                "with TypeError after the seq was burned")

with open(os.path.join(HERE, "cases.json"), "w") as f:
    json.dump({"cases": cases}, f, indent=1)
    f.write("\n")
print("wrote %d cases" % len(cases))
