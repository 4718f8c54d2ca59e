"""CPython's logging.config.listen() push latency: last byte sent (unsigned frame, as the
cookbook sends) -> the new level visible through Logger.isEnabledFor, polled from the
sending thread with time.sleep(0) so the listener thread can take the GIL.

python3 listen_latency_cpython.py [ITERATIONS] prints one JSON line, like the Rust example.
"""

import json
import logging
import logging.config
import socket
import struct
import sys
import time


def config(level):
    return json.dumps({"version": 1, "disable_existing_loggers": False,
                       "loggers": {"bench": {"level": level}}})


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    t = logging.config.listen(0)
    t.start()
    t.ready.wait(10)
    logger = logging.getLogger("bench")
    samples = []
    for i in range(n + 10):
        name, level = ("ERROR", 40) if i % 2 == 0 else ("WARNING", 30)
        data = config(name).encode("utf-8")
        s = socket.create_connection(("127.0.0.1", t.port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(struct.pack(">L", len(data)) + data)
        sent = time.perf_counter()
        deadline = sent + 10
        want = level == 30
        while logger.isEnabledFor(30) != want:
            if time.perf_counter() > deadline:
                raise SystemExit("config %d never went live" % i)
            time.sleep(0)
        took = time.perf_counter() - sent
        s.close()
        if i >= 10:
            samples.append(took * 1e3)
    logging.config.stopListening()
    t.join(10)
    samples.sort()
    q = lambda p: samples[round((len(samples) - 1) * p)]  # noqa: E731
    print(json.dumps({"impl": "CPython listen() (unsigned)", "n": len(samples),
                      "median_ms": round(q(0.5), 4), "p90_ms": round(q(0.9), 4),
                      "max_ms": round(samples[-1], 4)}))


if __name__ == "__main__":
    main()
