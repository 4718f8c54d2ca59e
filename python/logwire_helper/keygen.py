"""``python3 -m logwire_helper.keygen FILE``: writes a new 32-byte HMAC key file (mode 0600)."""

import base64
import os
import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python3 -m logwire_helper.keygen FILE", file=sys.stderr)
        return 2
    line = "hmac:" + base64.b64encode(os.urandom(32)).decode("ascii") + "\n"
    fd = os.open(argv[0], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
