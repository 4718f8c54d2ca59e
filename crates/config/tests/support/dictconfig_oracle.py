# The CPython side of differential_dictconfig.rs: one JSON request per stdin line,
# {"doc": <dictConfig document>, "dir": <an empty directory for this case>}, answered by one
# JSON line {"ok": true} or {"ok": false, "error": "..."} after running the real
# logging.config.dictConfig on it in a fresh logging state.
#
# Sandboxing: every case runs in its own directory; documents that could make CPython import
# or call something other than logging's own classes ('()' factories, '.' attributes, any
# ext:// but sys.stdout/sys.stderr, classes outside logging) are refused here without being
# applied, as a second guard behind the generator; network handlers only ever name 127.0.0.1.
import json, logging, logging.config, logging.handlers, os, queue, sys

ALLOWED_EXT = ('ext://sys.stdout', 'ext://sys.stderr')


def unsafe(v, key=None):
    if isinstance(v, dict):
        for k, x in v.items():
            if k in ('()', '.'):
                return 'key %r' % k
            if k == 'class' and not (isinstance(x, str) and x.startswith('logging.')):
                return 'class %r' % (x,)
            if k in ('host', 'address') and x not in ('127.0.0.1', 'localhost'):
                return 'host %r' % (x,)
            r = unsafe(x, k)
            if r:
                return r
    elif isinstance(v, list):
        for x in v:
            r = unsafe(x, key)
            if r:
                return r
    elif isinstance(v, str) and v.startswith('ext://') and v not in ALLOWED_EXT:
        return v
    return None


def backport(doc):
    """CPython 3.12+ creates the queue of a QueueHandler configured without one (logwire
    follows 3.12+); 3.11 requires the argument: give it the queue 3.12 would make."""
    if sys.version_info >= (3, 12) or not isinstance(doc, dict):
        return
    handlers = doc.get('handlers')
    if isinstance(handlers, dict):
        for h in handlers.values():
            if (isinstance(h, dict) and h.get('class') == 'logging.handlers.QueueHandler'
                    and 'queue' not in h):
                h['queue'] = queue.Queue()


def reset():
    """A fresh logging state: no handlers, no loggers, the root as at start-up."""
    for h in list(logging._handlerList):
        h = h()
        if h is not None:
            try:
                h.close()
            except Exception:
                pass
    logging._handlers.clear()
    del logging._handlerList[:]
    root = logging.root
    for h in list(root.handlers):
        root.removeHandler(h)
    for f in list(root.filters):
        root.removeFilter(f)
    root.setLevel(logging.WARNING)
    root.disabled = False
    root.propagate = True
    logging.Logger.manager.loggerDict.clear()
    logging.disable(logging.NOTSET)


start = os.getcwd()
for line in sys.stdin:
    req = json.loads(line)
    why = unsafe(req['doc'])
    if why:
        print(json.dumps({'ok': False, 'refused': why}))
        continue
    backport(req['doc'])
    reset()
    os.chdir(req['dir'])
    try:
        logging.config.dictConfig(req['doc'])
        out = {'ok': True}
    except Exception as e:
        out = {'ok': False, 'error': '%s: %s' % (type(e).__name__, e)}
    reset()
    os.chdir(start)
    print(json.dumps(out), flush=True)
