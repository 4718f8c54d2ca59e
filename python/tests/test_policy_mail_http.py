"""logwire_helper.policy for logging.handlers.SMTPHandler and HTTPHandler: the Rust rules of
crates/handlers/src/kinds/mail_http.rs (and what SMTPHandler::new / HTTPHandler::new refuse when the
listener builds them), beyond the shared corpus (testdata/pushed-policy/): allow-listed
destinations, which `logwire check` has no flag for, and the reason each refusal gives."""

import inspect
import json
import logging.handlers
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from logwire_helper import config as lc  # noqa: E402
from logwire_helper import policy  # noqa: E402

SMTP = {"class": "logging.handlers.SMTPHandler", "mailhost": ["localhost", 25],
        "fromaddr": "app@example.org", "toaddrs": ["ops@example.org"], "subject": "alert"}
HTTP = {"class": "logging.handlers.HTTPHandler", "host": "localhost:8080", "url": "/log"}


def doc(handler):
    return json.dumps({"version": 1, "handlers": {"h": handler}})


class MailHttp(unittest.TestCase):
    def accepts(self, handler, allow=()):
        policy.check_pushed(doc(handler), None, allow)

    def refuses(self, handler, pattern, allow=()):
        with self.assertRaisesRegex(policy.PolicyError, pattern) as cm:
            policy.check_pushed(doc(handler), None, allow)
        return str(cm.exception)

    def test_parameters_are_cpythons(self):
        # Names and positions as CPython's constructors (fileConfig args= binds by position).
        for cls in (logging.handlers.SMTPHandler, logging.handlers.HTTPHandler):
            params = [p for p in inspect.signature(cls.__init__).parameters.values()][1:]
            names, required = policy.HANDLER_CLASSES["logging.handlers." + cls.__name__]
            self.assertEqual(names, [p.name for p in params])
            self.assertEqual(required, sum(p.default is inspect.Parameter.empty
                                           for p in params))
        self.assertIn("logging.handlers.SMTPHandler", lc.DEFAULT_ALLOWED_CLASSES)
        self.assertIn("logging.handlers.HTTPHandler", lc.DEFAULT_ALLOWED_CLASSES)

    def test_smtp_destination_as_socket_handler(self):
        allow = ["mail.example.org:25", "relay.example.org:*"]
        self.accepts(dict(SMTP, mailhost="mail.example.org"), allow)         # port 25
        self.accepts(dict(SMTP, mailhost=["MAIL.example.org", 25]), allow)
        self.accepts(dict(SMTP, mailhost=["mail.example.org", 0]), allow)    # 0: smtplib's 25
        self.accepts(dict(SMTP, mailhost=["mail.example.org", None]), allow)
        self.accepts(dict(SMTP, mailhost=["relay.example.org", 2525]), allow)
        self.accepts(dict(SMTP, mailhost="::1"))
        self.refuses(dict(SMTP, mailhost=["mail.example.org", 2525]),
                     r"handlers\.h\.mailhost: destination mail\.example\.org:2525 is not "
                     r"allowed", allow)
        self.refuses(dict(SMTP, mailhost="169.254.169.254"),
                     "destination 169.254.169.254:25 is not allowed", allow)
        for bad in (["localhost", 70000], ["localhost", True], ["localhost"], [1, 25]):
            self.refuses(dict(SMTP, mailhost=bad), "expected a host or \\[host, port\\] with "
                                                   "a port from 0 to 65535")
        self.refuses(dict(SMTP, mailhost=25), "expected a host or \\[host, port\\], found an "
                                              "integer")

    def test_http_destination_as_socket_handler(self):
        allow = ["logs.example.org:80", "secure.example.org:443", "[2001:db8::1]:*"]
        self.accepts(dict(HTTP, host="logs.example.org"), allow)
        self.accepts(dict(HTTP, host="logs.example.org:80"), allow)
        self.accepts(dict(HTTP, host="secure.example.org", secure=True), allow)
        self.accepts(dict(HTTP, host="[2001:db8::1]:8443", secure=True), allow)
        self.accepts(dict(HTTP, host="[::1]"))
        self.accepts(dict(HTTP, host="localhost:+80"))   # Rust's u16 parse and int() agree
        # secure: port 443 by default, which is not the allowed 80.
        self.refuses(dict(HTTP, host="logs.example.org", secure=True),
                     r"handlers\.h\.host: destination logs\.example\.org:443 is not allowed",
                     allow)
        self.refuses(dict(HTTP, host="secure.example.org:8443"),
                     "destination secure.example.org:8443 is not allowed", allow)
        # int() would read these; the Rust listener does not.
        for port in ("8_0", " 80", "\u0668\u0660", "-1", "65536"):
            self.refuses(dict(HTTP, host="localhost:" + port), "nonnumeric port")
        self.refuses(dict(HTTP, host="[]:80"), "host is empty")

    def test_refusals_and_their_reasons(self):
        for handler, pattern in [
            (dict(HTTP, context="default"), r"handlers\.h\.context: an ssl\.SSLContext is code"),
            (dict(HTTP, method="PUT"), r"handlers\.h\.method: method must be GET or POST"),
            (dict(HTTP, method="po\u017ft"), "method must be GET or POST"),  # 'poſt'.upper()
            (dict(HTTP, url="/a\r\nX: 1"), "URL .* contains a space or control character"),
            (dict(HTTP, url="/a b"), "URL .* contains a space or control character"),
            (dict(HTTP, host="localhost\nX"), "contains a space or control character"),
            (dict(HTTP, credentials=["u", "p"]), "needs a tuple"),
            (dict(HTTP, credentials="u:p"), "expected \\[username, password\\], found a string"),
            (dict(HTTP, cafile="ca.pem"), "'cafile': a logwire extension"),
            (dict(HTTP, timeout=5), "'timeout': a logwire extension"),
            (dict(SMTP, subject="a\rb"), "a header value .* contains a line break"),
            (dict(SMTP, fromaddr="a@example.org\n"), "contains a line break"),
            (dict(SMTP, toaddrs="a@example.org\nBcc: b@example.org"), "contains a line break"),
            (dict(SMTP, toaddrs=[]), "toaddrs is empty"),
            (dict(SMTP, toaddrs=["\u00e9@example.org"]), "is not ASCII"),
            (dict(SMTP, toaddrs=["Ops <a b@example.org>"]), "contains a space, control"),
            (dict(SMTP, fromaddr="\x1capp@example.org"), "contains a space, control"),
            (dict(SMTP, toaddrs=["Ops <>"]), "an empty mail address"),
            (dict(SMTP, toaddrs=[1]), "expected addresses \\(strings\\), found an integer"),
            (dict(SMTP, credentials=["u"]), "two strings"),
            (dict(SMTP, credentials=["u", "p"], secure=["k.pem", "c.pem"]),
             "client certificates"),
            (dict(SMTP, credentials=["u", "p"], secure=True), "expected \\(\\) for STARTTLS"),
            (dict(SMTP, secure=[]), "secure without credentials"),
            (dict(SMTP, timeout=0), "0 is out of range"),
            (dict(SMTP, timeout=3600.5), "out of range"),
            (dict(SMTP, timeout=True), "expected a number, found a boolean"),
            (dict(SMTP, queue_bytes=4096), "'queue_bytes': a logwire extension"),
            (dict(SMTP, context=None), "unexpected keyword argument 'context'"),
            ({k: v for k, v in SMTP.items() if k != "subject"},
             r"handlers\.h\.subject: missing required argument"),
        ]:
            with self.subTest(handler=handler):
                self.refuses(handler, pattern)

    def test_accepted_shapes(self):
        for handler in [SMTP, dict(SMTP, toaddrs="ops@example.org"),
                        dict(SMTP, fromaddr="App <app@example.org>", timeout=3600),
                        dict(SMTP, credentials=["u", "p"], secure=[], timeout=0.5),
                        dict(SMTP, subject="caf\u00e9 down"),  # subjects may be non-ASCII
                        HTTP, dict(HTTP, method="post", secure=False),
                        dict(HTTP, url="/log?app=1", method="GET", secure=True)]:
            with self.subTest(handler=handler):
                self.accepts(handler)

    def test_ini_positional_args(self):
        ini = ("[loggers]\nkeys=root\n\n[handlers]\nkeys=h\n\n[formatters]\nkeys=\n\n"
               "[handler_h]\nclass=handlers.%s\nargs=%s\n\n[logger_root]\nhandlers=h\n")
        text = ini % ("HTTPHandler", "('localhost', '/log', 'GET', False, ('u', 'p'))")
        self.assertEqual(policy.check_pushed(text), text)
        with self.assertRaisesRegex(policy.PolicyError, r"\[handler_h\]\.context: an ssl"):
            policy.check_pushed(ini % ("HTTPHandler",
                                       "('localhost', '/log', 'GET', True, None, 'ctx')"))
        with self.assertRaisesRegex(policy.PolicyError, "destination mail.example.org:587"):
            policy.check_pushed(ini % ("SMTPHandler", "(('mail.example.org', 587), 'a@b.org', "
                                                      "'c@d.org', 's')"))
        with self.assertRaisesRegex(policy.PolicyError, "takes at most 7 positional"):
            policy.check_pushed(ini % ("SMTPHandler", "('localhost', 'a@b.org', 'c@d.org', "
                                                      "'s', None, None, 5.0, 'ca.pem')"))


if __name__ == "__main__":
    unittest.main()
