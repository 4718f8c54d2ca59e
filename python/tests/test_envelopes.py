"""LWR1 frames from logwire_helper against the independent vectors in testdata/vectors."""

import base64
import json
import logging
import os
import pickle
import struct
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import logwire_helper as lh  # noqa: E402

VECTORS = Path(__file__).resolve().parents[2] / "testdata" / "vectors" / "envelopes.json"


class EnvelopeVectors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.v = json.loads(VECTORS.read_text())
        cls.key = base64.b64decode(cls.v["keys"]["hmac_key"])

    def test_key_id(self):
        self.assertEqual(lh.key_id(self.key).hex(), self.v["keys"]["hmac_key_id_hex"])

    def test_record_frames_byte_identical(self):
        for vec in self.v["record_frames"]:
            with self.subTest(vec["name"]):
                payload = base64.b64decode(vec["payload"])
                env = lh.seal_record(self.key, bytes.fromhex(vec["epoch_hex"]), vec["seq"], payload,
                                     vec["format"], vec["ack_requested"])
                frame = struct.pack(">L", len(env)) + env
                self.assertEqual(frame, base64.b64decode(vec["frame"]))

    def test_tampered_vector_differs(self):
        for vec in self.v["must_reject"]:
            frame = base64.b64decode(vec["frame"])
            env = frame[4:]
            if env[:4] != b"LWR1":
                continue
            (n,) = struct.unpack(">L", env[40:44])
            resealed = lh.seal_record(self.key, env[16:32], struct.unpack(">Q", env[32:40])[0],
                                      env[44:44 + n], env[5], bool(env[6] & 1))
            self.assertNotEqual(resealed, env, vec["name"])


class HandlerFrames(unittest.TestCase):
    def setUp(self):
        fd, self.key_file = tempfile.mkstemp()
        os.write(fd, b"hmac:" + base64.b64encode(bytes(range(32))) + b"\n")
        os.close(fd)

    def tearDown(self):
        os.unlink(self.key_file)

    def test_make_pickle_layout_and_seq(self):
        h = lh.SignedDatagramHandler("127.0.0.1", 9, self.key_file, ack=True)
        rec = logging.LogRecord("app", logging.INFO, __file__, 1, "n=%d", (5,), None)
        frames = [h.makePickle(rec), h.makePickle(rec)]
        key = bytes(range(32))
        for seq, frame in enumerate(frames, 1):
            (total,) = struct.unpack(">L", frame[:4])
            env = frame[4:]
            self.assertEqual(total, len(env))
            self.assertEqual(env[:8], b"LWR1\x02\x01\x01\x00")
            self.assertEqual(env[8:16], lh.key_id(key))
            self.assertEqual(env[16:32], h.epoch)
            self.assertEqual(struct.unpack(">Q", env[32:40])[0], seq)
            (n,) = struct.unpack(">L", env[40:44])
            d = pickle.loads(env[44:44 + n])
            self.assertEqual(d["msg"], "n=5")
            self.assertIsNone(d["args"])
            self.assertEqual(env, lh.seal_record(key, h.epoch, seq, env[44:44 + n], 1, True))
        h.close()

    def test_epoch_per_instance(self):
        a = lh.SignedDatagramHandler("127.0.0.1", 9, self.key_file)
        b = lh.SignedDatagramHandler("127.0.0.1", 9, self.key_file)
        self.assertNotEqual(a.epoch, b.epoch)

    def test_bad_key_file(self):
        with open(self.key_file, "w") as f:
            f.write("ed25519-public:" + base64.b64encode(bytes(32)).decode())
        with self.assertRaises(ValueError):
            lh.load_key(self.key_file)


if __name__ == "__main__":
    unittest.main()
