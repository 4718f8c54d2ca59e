#!/usr/bin/env python3
"""Writes the seed corpora of the cargo-fuzz targets into fuzz/corpus/<target>/.

Run from anywhere: python3 fuzz/seeds/make_seeds.py. Deterministic: the same CPython gives
the same files, so re-running shows up in git only when something really changed.

Sources: CPython's own pickler (protocols 0-5, SocketHandler-style record dicts and data
values), CPython logging's dictConfig/fileConfig corpus already checked in under
crates/config/tests/corpus, the envelope test vectors in testdata/vectors/envelopes.json, and the
hostile cases the crates' tests use (pickle bombs, truncated frames, code-bearing configs).
Each target's byte layout (selector bytes, 0xFF separators) is documented on its function in
crates/fuzz-targets/src/.
"""

import base64
import hashlib
import json
import logging
import pathlib
import pickle
import struct
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "fuzz" / "corpus"
VECTORS = ROOT / "testdata" / "vectors" / "envelopes.json"
CONFIG_CORPUS = ROOT / "crates" / "config" / "tests" / "corpus"


def put(target, data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / ("seed-" + hashlib.sha1(data).hexdigest()[:16])).write_bytes(data)


def frame(b):
    return struct.pack(">L", len(b)) + b


def record_dict(**extra):
    r = logging.LogRecord("app.db", logging.WARNING, "/src/app/db.py", 42,
                          "disk %d%% full", (93,), None, func="check")
    r.created, r.msecs, r.relativeCreated = 1700000000.25, 250.0, 12.5
    r.thread, r.process = 140234567890123, 4242
    r.__dict__.update(extra)
    d = dict(r.__dict__)
    d["msg"] = r.getMessage()
    d["args"] = None
    d["exc_info"] = None
    d.pop("message", None)
    return d


def pickles():
    values = [
        record_dict(),
        record_dict(request_id=7, tags=["a", "b"], ratio=0.5, big=2**80, neg=-2**70),
        record_dict(when=__import__("datetime").datetime(2024, 1, 2, 3, 4, 5)),
        [1, "a", b"b", bytearray(b"c"), (1,), (1, 2), (1, 2, 3), {1, 2}, frozenset({3}), None, True, False],
        {"nested": [[[[{"deep": ("x",)}]]]], "f": 1.5e300, "i": -1, "u": "\u00e9\u2028\U0001f600"},
        "x" * 300,
        b"\x00" * 300,
        2**64,
        -(2**200),
    ]
    out = []
    for v in values:
        for proto in range(0, 6):
            out.append(pickle.dumps(v, proto))
    # Shared references (memo GET) and a self-referencing list.
    s = ["shared"]
    out.append(pickle.dumps([s, s, s], 2))
    loop = []
    loop.append(loop)
    out.append(pickle.dumps(loop, 2))
    # Hostile cases from crates/pickle/tests/it/hostile.rs and the security notes.
    out += [
        b"cos\nsystem\n(S'id'\ntR.",          # GLOBAL + REDUCE (must stay inert)
        b"\x80\x04\x8c\x02os\x8c\x06system\x93.",  # STACK_GLOBAL
        b"(" * 200 + b".",                    # MARK flood
        b"]" * 200 + b".",                    # nested lists
        b"]q\x00" + b"h\x00h\x00\x86q\x00" * 30 + b".",  # memo doubling bomb
        b"\x80\x02J\xff\xff\xff\xffr\xff\xff\xff\xff.",   # LONG_BINPUT huge index
        b"X\xff\xff\xff\x7f",                 # huge announced length
        b"L" + b"9" * 5000 + b"L\n.",          # long integer digits
        b"",
        b".",
    ]
    return out


def hostile_record_shapes():
    """Issue 13's classes, small: many keys (JSON and pickle), one key repeated, keys named
    remote_args/args, a memoized str re-used by many keys, and lone surrogates in JSON."""
    many = {"k%d" % i: 0 for i in range(400)}
    out = [
        json.dumps(dict(many, msg="x")),
        "{" + ",".join('"k": %d' % i for i in range(400)) + "}",
        json.dumps({"remote_args": 1, "args": [2], "x": 0}),
        json.dumps({"msg": "caf\udce9 \ud800x \ud83d\ude00"}),
        '{"msg": "\\udcff \\\udcff"}',
        pickle.dumps(dict(many, msg="x"), 1),
    ]
    shared = "s" * 2000
    out.append(pickle.dumps({"exc_text": shared, **{"copy%d" % i: shared for i in range(30)}}, 1))
    return out


def main():
    for p in pickles():
        put("pickle_decoder", p)
        put("record_map", p)
    put("record_map", json.dumps(record_dict(), default=str))
    put("record_map", '{"name": "a", "levelno": "INFO"}')
    put("record_map", '{"msg": "%0100000000d", "args": [1]}')
    put("record_map", "[" * 100)
    for p in hostile_record_shapes():
        put("record_map", p)

    # Frames: byte 0 = cap/4, byte 1 = chunking, then the stream.
    rec = pickle.dumps(record_dict(), 1)
    for cap in (0, 1, 64, 255):
        put("frame_decoder", bytes([cap, 0x2A]) + frame(b"hello") + frame(b"") + frame(b"world"))
    put("frame_decoder", bytes([255, 1]) + frame(rec[:900]))
    put("frame_decoder", bytes([10, 3]) + b"\x00\x00\x00\x05ab")      # truncated body
    put("frame_decoder", bytes([10, 3]) + b"\x00\x00")                # truncated prefix
    put("frame_decoder", bytes([10, 3]) + b"\x7f\xff\xff\xff")        # 2 GiB announcement
    put("frame_decoder", bytes([10, 3]) + b"\x00\x00\x00\x01")        # CPython's spin
    put("frame_decoder", bytes([0, 0]))

    # Envelopes: byte 0 = mode (bit 0 clear: raw bytes; set: build and sign from fields).
    # The vectors are in the repo: a missing file is an error, not a smaller corpus.
    vec = json.loads(VECTORS.read_text())
    for f in vec["config_frames"]:
        put("config_envelope", b"\x00" + base64.b64decode(f["frame"]))
        put("config_json" if f["payload"] and base64.b64decode(f["payload"]).lstrip()[:1] == b"{" else "config_ini",
            base64.b64decode(f["payload"]))
    for f in vec["record_frames"]:
        put("record_envelope", b"\x00" + base64.b64decode(f["frame"]))
        put("record_map", base64.b64decode(f["payload"]))
    for f in vec.get("must_reject", []):
        if "frame" in f:
            put("config_envelope", b"\x00" + base64.b64decode(f["frame"]))
    for mode in (1, 3, 0x21, 0x29, 0x31):
        fields = struct.pack(">QqqQ", 7, 0, 3_600_000, 0x0102030405060708)
        put("config_envelope", bytes([mode]) + fields + b'{"version": 1}')
    for mode in (1, 3, 5):
        head = struct.pack(">QQ", 1, 0x0102030405060708) + b"payload"
        seqs = b"".join(struct.pack(">Bh", e, s) for e, s in
                        [(0, 1), (0, 1), (0, -1), (1, 5), (2, 100), (3, -32768), (4, 1), (0, 2)])
        put("record_envelope", bytes([mode]) + head + b"\xff" + seqs)

    # Configs: CPython's corpus plus hostile ones.
    for f in sorted(CONFIG_CORPUS.rglob("*")):
        if not f.is_file():
            continue
        target = {".json": "config_json", ".ini": "config_ini", ".toml": "config_toml",
                  ".yaml": "config_yaml", ".yml": "config_yaml"}.get(f.suffix)
        if target:
            put(target, f.read_bytes())
    put("config_json", '{"version": 1, "handlers": {"h": {"()": "os.system", "command": "id"}}}')
    put("config_json", '{"version": 1, "handlers": {"h": {"class": "logging.FileHandler", "filename": "../../etc/passwd"}}}')
    put("config_json", "[" * 200)
    put("config_ini", "[loggers]\nkeys=root\n[handlers]\nkeys=h\n[formatters]\nkeys=\n[logger_root]\nhandlers=h\n"
                      "[handler_h]\nclass=StreamHandler\nargs=(__import__('os').system('id'),)\n")
    put("config_yaml", "version: 1\nroot: {level: WARNING}\n")
    put("config_yaml", "a: &a [1, 2]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\nversion: 1\n")
    put("config_yaml", "version: 1\nhandlers:\n  h: {class: logging.StreamHandler, stream: ext://sys.stdout}\n")
    put("config_toml", 'version = 1\n[root]\nlevel = "INFO"\n')
    put("config_toml", 'version = 1\n[handlers.h]\nclass = "logging.StreamHandler"\n[root]\nhandlers = ["h"]\n')

    for lit in ["('localhost', handlers.DEFAULT_TCP_LOGGING_PORT)", "(sys.stdout,)",
                "10*1024*1024", "{'a': [1, 2.5, -3e-2], b'k': (), 0x_ff: None}",
                "r'\\d' 'x' u\"y\" b'\\x00'", "__import__('os').system('id')",
                "(" * 40, "0b" + "1" * 70, "'''tri\nple'''", "{1: 'a', True: 'b'}",
                "lambda: 0", "[x for x in ()]", "tuple()"]:
        put("py_literal", lit)

    # Formats: byte 0 = style (mod 3) | 4 validate | 8 datefmt | 0x10 mapping args;
    # then fmt 0xFF datefmt 0xFF msg.
    for flags, fmt, datefmt, msg in [
        (4, "%(asctime)s %(levelname)-8s %(name)s: %(message)s", "%Y", "disk %d%% full"),
        (5, "{asctime} {levelname:>8} {name!r} {message}", "", "x"),
        (6, "${asctime} $levelname ${message}", "", "x"),
        (0, "%(message)0100000000d", "", "%0100000000d"),
        (1, "{message:>99999999}", "", "%s %r %a %c"),
        (0x14, "%(custom)s %(message)s", "%H:%M", "%(a)05d %(name)s %(f).4096f"),
        (5, "{name.__class__.__mro__}", "", ""),
        (12, "%(asctime)s", "%c %x %X %-d %_H %^a %#Z %10Y %s %%", "m"),
    ]:
        put("format_string", bytes([flags]) + fmt.encode() + b"\xff" + datefmt.encode() + b"\xff" + msg.encode())
    for secs, fmt in [(1_700_000_000, "%Y-%m-%d %H:%M:%S"), (0, "%a %A %b %B %c %C %d %D %e %F %g %G %h"),
                      (-1, "%I %j %k %l %m %M %n %p %P %r %R %s %S %t %T %u %U %V %w %W %x %X %y %Y %z %Z %%"),
                      (2**62, "%_10Y %-m %010d %^B %#p %Ey %Od %"), (253402300800, "%099999Y")]:
        put("strftime", struct.pack(">q", secs) + fmt.encode())


if __name__ == "__main__":
    sys.exit(main())
