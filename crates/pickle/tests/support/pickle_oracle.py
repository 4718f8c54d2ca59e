# The CPython side of differential_cpython.rs. Run as `python3 -c` with `canon` (common::PY_CANON)
# prepended. One request per stdin line, one answer per stdout line, in order:
#
#   V <proto> <tokens>   build the value, pickle.dumps(v, proto) -> "<hex> <canon(pickle.loads(hex))>"
#   R <tokens>           build a record spec dict, make a LogRecord, SocketHandler.makePickle it
#                        -> "<frame hex> <canon(dict)> <hex of pickle.dumps(dict, p) for p in 0..5>"
#   E <hex>              pickle.loads logwire's encoder output (data only)
#                        -> "<canon(dict)> <same: re-dumped at protocol 1 byte-identical 0/1>
#                            <makeLogRecord(dict).getMessage() == dict['msg'] 0/1>"
#
# Tokens (prefix notation, space separated): N, B0/B1, I<int>, F<16 hex digits of the big-endian
# double>, S<hex utf-8>, Y<hex>, A<hex> (bytearray), L<n>/T<n>/E<n>/Z<n> then n items (list,
# tuple, set, frozenset), D<n> then n key/value pairs, O<kind>:<n> (an object only code can
# rebuild), H<id> then an item (remember it), R<id> (the remembered object itself: a memo reference).
import collections, datetime, decimal, enum, fractions, ipaddress, logging, logging.handlers
import pathlib, pickle, struct, sys, uuid


class Plain:
    def __init__(self, n):
        self.n = n


class Color(enum.Enum):
    RED = 0
    GREEN = 1


def opaque(kind, n):
    if kind == 'dt':
        return datetime.datetime(2000 + n % 100, 1 + n % 12, 1 + n % 28, n % 24, n % 60, n % 60, n)
    if kind == 'dtz':
        return datetime.datetime(2024, 5, 6, tzinfo=datetime.timezone(datetime.timedelta(minutes=n % 600)))
    if kind == 'date':
        return datetime.date(1 + n, 1 + n % 12, 1 + n % 28)
    if kind == 'td':
        return datetime.timedelta(days=n, seconds=n % 86400, microseconds=n)
    if kind == 'time':
        return datetime.time(n % 24, n % 60)
    if kind == 'dec':
        return decimal.Decimal(n) / 7
    if kind == 'cx':
        return complex(n, -n)
    if kind == 'od':
        return collections.OrderedDict((str(i), i) for i in range(n % 4))
    if kind == 'dd':
        return collections.defaultdict(list, {'k': [n]})
    if kind == 'fr':
        return fractions.Fraction(n, 7)
    if kind == 'uuid':
        return uuid.UUID(int=n)
    if kind == 'path':
        return pathlib.PurePosixPath('/var/log/app%d.log' % n)
    if kind == 'plain':
        return Plain(n)
    if kind == 'enum':
        return Color(n % 2)
    if kind == 'ip':
        return ipaddress.ip_address(n)
    if kind == 'range':
        return range(n)
    if kind == 'exc':
        return ValueError('bad %d' % n)
    if kind == 'deque':
        return collections.deque([n, str(n)])
    raise ValueError('unknown opaque kind ' + kind)


def build(toks, shared):
    t = next(toks)
    tag, arg = t[0], t[1:]
    if tag == 'N':
        return None
    if tag == 'B':
        return arg == '1'
    if tag == 'I':
        return int(arg)
    if tag == 'F':
        return struct.unpack('>d', bytes.fromhex(arg))[0]
    if tag == 'S':
        return bytes.fromhex(arg).decode('utf-8')
    if tag == 'Y':
        return bytes.fromhex(arg)
    if tag == 'A':
        return bytearray.fromhex(arg)
    if tag in 'LTEZ':
        items = [build(toks, shared) for _ in range(int(arg))]
        return {'L': list, 'T': tuple, 'E': set, 'Z': frozenset}[tag](items)
    if tag == 'D':
        d = {}
        for _ in range(int(arg)):
            k = build(toks, shared)
            d[k] = build(toks, shared)
        return d
    if tag == 'O':
        kind, n = arg.split(':')
        return opaque(kind, int(n))
    if tag == 'H':
        v = build(toks, shared)
        shared[int(arg)] = v
        return v
    if tag == 'R':
        return shared[int(arg)]
    raise ValueError('bad token ' + t)


def parse(text):
    toks = iter(text.split())
    v = build(toks, {})
    if next(toks, None) is not None:
        raise ValueError('trailing tokens')
    return v


handler = logging.handlers.SocketHandler('127.0.0.1', None)
logger = logging.getLogger('differential')


def record(spec):
    exc_info = None
    if spec['exc'] is not None:
        try:
            raise ValueError(spec['exc'])
        except ValueError:
            exc_info = sys.exc_info()
    rec = logger.makeRecord(spec['name'], spec['level'], spec['pathname'], spec['lineno'],
                            spec['msg'], spec['args'], exc_info, spec['func'], spec['extra'],
                            spec['sinfo'])
    frame = handler.makePickle(rec)
    d = pickle.loads(frame[4:])
    return ' '.join([frame.hex(), canon(d)] + [pickle.dumps(d, p).hex() for p in range(6)])


def loads_encoded(data):
    d = pickle.loads(data)
    same = pickle.dumps(d, 1) == data
    try:
        ok = logging.makeLogRecord(d).getMessage() == d['msg']
    except Exception:
        ok = False
    return '%s %d %d' % (canon(d), same, ok)


for line in sys.stdin:
    cmd, rest = line.rstrip('\n').split(' ', 1)
    if cmd == 'V':
        proto, tokens = rest.split(' ', 1)
        data = pickle.dumps(parse(tokens), int(proto))
        print(data.hex(), canon(pickle.loads(data)))
    elif cmd == 'R':
        print(record(parse(rest)))
    elif cmd == 'E':
        print(loads_encoded(bytes.fromhex(rest)))
    else:
        raise ValueError('bad request ' + cmd)
sys.stdout.flush()
