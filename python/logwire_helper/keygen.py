"""``python3 -m logwire_helper.keygen FILE``: writes a new 32-byte HMAC key file (mode 0600).

Example::

    $ python3 -m logwire_helper.keygen sender.key
    wrote sender.key: hmac key, key id 3f2a...; give the same file to logwire serve --record-key
    $ python3 -m logwire_helper.keygen --ed25519 ops      # needs the 'cryptography' package
    wrote ops.key (private, 0600) and ops.pub (public)

An existing file is never replaced unless ``--force`` is given. Exit status: 0 written,
1 not written (the reason is printed), 2 bad usage.
"""

import argparse
import base64
import hashlib
import os
import sys
from typing import List, Optional

__all__ = ["main", "write_hmac_key", "write_ed25519_pair"]

_EPILOG = """\
examples:
  python3 -m logwire_helper.keygen sender.key          # HMAC key for SignedSocketHandler
  logwire serve --record-key sender.key                # the collector takes the same file
  python3 -m logwire_helper.keygen --ed25519 ops       # ops.key + ops.pub (needs cryptography)

Key files are one line, <kind>:<base64> (hmac, ed25519-private, ed25519-public), as
`logwire keygen` writes them."""


def _write_new(path: str, line: str, mode: int, force: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    fd = os.open(path, flags, mode)
    try:
        if force:
            os.fchmod(fd, mode)
        os.write(fd, line.encode("ascii"))
    finally:
        os.close(fd)


def write_hmac_key(path: str, force: bool = False) -> bytes:
    """Writes a fresh 32-byte ``hmac:<base64>`` key file (0600) and returns its 8-byte key id.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> len(write_hmac_key(os.path.join(d, "k")))
    8
    """
    key = os.urandom(32)
    _write_new(path, "hmac:" + base64.b64encode(key).decode("ascii") + "\n", 0o600, force)
    return hashlib.sha256(b"logwire/hmac-key-id\0" + key).digest()[:8]


def write_ed25519_pair(prefix: str, force: bool = False) -> bytes:
    """Writes ``PREFIX.key`` (ed25519-private, 0600) and ``PREFIX.pub`` (ed25519-public);
    returns the key id. Needs the ``cryptography`` package (``pip install cryptography``)."""
    from .config import _ed25519  # the error that names 'cryptography'
    ed = _ed25519()
    from cryptography.hazmat.primitives import serialization
    priv = ed.Ed25519PrivateKey.generate()
    seed = priv.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                              serialization.NoEncryption())
    pub = priv.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)
    for path in (prefix + ".key", prefix + ".pub"):
        if not force and os.path.lexists(path):
            raise FileExistsError(17, "File exists", path)
    _write_new(prefix + ".key", "ed25519-private:" + base64.b64encode(seed).decode() + "\n",
               0o600, force)
    _write_new(prefix + ".pub", "ed25519-public:" + base64.b64encode(pub).decode() + "\n",
               0o644, force)
    return hashlib.sha256(pub).digest()[:8]


def main(argv: Optional[List[str]] = None) -> int:
    """The command line; returns the exit status.

    >>> main(["--help"])  # doctest: +SKIP
    """
    p = argparse.ArgumentParser(
        prog="python3 -m logwire_helper.keygen",
        description="Make a logwire key file: a 32-byte HMAC key (default; for "
                    "SignedSocketHandler/SignedDatagramHandler and stdlib-only config "
                    "signing) or an Ed25519 pair.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", nargs="?", metavar="FILE", help="the HMAC key file to create (0600)")
    p.add_argument("--ed25519", metavar="PREFIX",
                   help="make PREFIX.key and PREFIX.pub instead (needs 'cryptography')")
    p.add_argument("--force", action="store_true", help="replace existing key files")
    a = p.parse_args(argv)
    if (a.file is None) == (a.ed25519 is None):
        p.error("give either FILE or --ed25519 PREFIX")
    try:
        if a.ed25519 is not None:
            kid = write_ed25519_pair(a.ed25519, a.force)
            print("wrote %s.key (ed25519-private, 0600) and %s.pub (ed25519-public), key id %s"
                  % (a.ed25519, a.ed25519, kid.hex()))
        else:
            kid = write_hmac_key(a.file, a.force)
            print("wrote %s: hmac key (0600), key id %s; the same file goes to "
                  "`logwire serve --record-key`" % (a.file, kid.hex()))
    except FileExistsError as e:
        print("keygen: %s already exists; not replacing it (--force replaces it)"
              % (e.filename or a.file), file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:
        print("keygen: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
