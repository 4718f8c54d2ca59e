# Source: github.com/myt2000/python-yield-practice, pickle_practice/only_builtins.py (whole file),
#   itself the pickle documentation's "Restricting Globals" example.
# Negative: an Unpickler subclass over bytes handed in by the caller, nothing from a socket.
import builtins
import io
import pickle


#unpickler中只允许加载builtins模块
safe_builtins = {
    'range',
    'complex',
    'set',
    'frozenset',
    'slice',
}


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        # Only allow safe classes from builtins.
        if module == "builtins" and name in safe_builtins:
            return getattr(builtins, name)
        # Forbid everything else.
        raise pickle.UnpicklingError("global '%s.%s' is forbidden" %
                                     (module, name))


def restricted_loads(s):
    """Helper function analogous to pickle.loads()."""
    return RestrictedUnpickler(io.BytesIO(s)).load()
