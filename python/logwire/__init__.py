"""logwire: Python's remote logging made safe.

The ``logwire`` wheel carries the ``logwire`` collector binary (``logwire serve``, ``keygen``,
``send-config``, ``audit``, ``top``; run it as ``logwire`` or ``python -m logwire``) and this
stdlib-only helper: signed logging handlers for ``logwire serve --record-key`` and a safe
``logging.config.listen``.

The code lives in ``logwire_helper`` (its name before the wheel; ``import logwire_helper`` and
``class: logwire_helper.SignedSocketHandler`` in a dictConfig keep working): this package
re-exports its public API, so ``from logwire import SignedSocketHandler`` is the same class.
"""

import logwire_helper as _helper
from logwire_helper import *  # noqa: F401,F403
from logwire_helper import __all__ as _helper_all

__all__ = list(_helper_all) + ["find_logwire_bin"]


def find_logwire_bin():
    """The path of the ``logwire`` binary this package was installed with (see __main__)."""
    from logwire.__main__ import find_logwire_bin as _find

    return _find()


del _helper
