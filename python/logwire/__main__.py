"""``python -m logwire ARGS``: runs the ``logwire`` binary the wheel installed, with ARGS.

The wheel puts the binary in the environment's scripts directory (``bin/`` of a venv, or the
user scheme's with ``pip install --user``): look there first, so that ``python -m logwire``
runs the binary of *this* installation even when another ``logwire`` comes first on PATH, and
fall back to PATH. Its exit status (or the signal that ended it) is ours.
"""

import os
import shutil
import subprocess
import sys
import sysconfig

_EXE = "logwire" + (sysconfig.get_config_var("EXE") or "")


def _scripts_dirs():
    yield sysconfig.get_path("scripts")
    # pip install --user puts scripts under the user scheme.
    user_scheme = {"nt": "nt_user", "posix": "posix_user"}.get(os.name)
    if sys.version_info >= (3, 10):
        user_scheme = sysconfig.get_preferred_scheme("user")
    if user_scheme in sysconfig.get_scheme_names():
        yield sysconfig.get_path("scripts", scheme=user_scheme)
    # Next to the interpreter (a venv's bin/ when sysconfig points elsewhere).
    yield os.path.dirname(sys.executable)


def find_logwire_bin():
    for d in _scripts_dirs():
        if not d:
            continue
        path = os.path.join(d, _EXE)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    path = shutil.which(_EXE)
    if path:
        return path
    raise FileNotFoundError(
        "the logwire binary is not installed next to this Python (pip install logwire "
        "installs it; the logwire-helper distribution carries only the Python helper)"
    )


def main(argv=None):
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        path = find_logwire_bin()
    except FileNotFoundError as e:
        print("python -m logwire: %s" % e, file=sys.stderr)
        return 127
    if os.name == "posix":
        # Become the binary: signals (Ctrl-C, SIGTERM to serve) reach it directly and its
        # exit status is ours.
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(path, [path] + args)
    try:
        return subprocess.call([path] + args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
