//! Each rule on small programs: every import spelling the issue lists, the data-flow paths of
//! pickle-receiver, and the non-findings (dumps, local files, json, comments, strings, other
//! modules' listen).

use logwire_audit::{Rule, audit_source};

/// (rule id, line) of every finding in `src`.
fn found(src: &str) -> Vec<(&'static str, usize)> {
    audit_source("t.py", src.as_bytes())
        .into_iter()
        .map(|f| (f.rule.id(), f.line))
        .collect()
}

fn one(src: &str, rule: Rule, line: usize) {
    assert_eq!(found(src), vec![(rule.id(), line)], "in:\n{src}");
}

#[test]
fn listen_through_every_import_spelling() {
    one(
        "import logging.config\nlogging.config.listen(9999)\n",
        Rule::ListenNoVerify,
        2,
    );
    one(
        "from logging import config\nconfig.listen(9999)\n",
        Rule::ListenNoVerify,
        2,
    );
    one(
        "from logging.config import listen\nt = listen(9999)\n",
        Rule::ListenNoVerify,
        2,
    );
    one(
        "import logging.config as lc\nlc.listen()\n",
        Rule::ListenNoVerify,
        2,
    );
    one(
        "from logging.config import listen as l\nl(1)\n",
        Rule::ListenNoVerify,
        2,
    );
    one(
        "from logging.config import *\nlisten(1)\n",
        Rule::ListenNoVerify,
        2,
    );
    // A module or a function assigned to a variable, at module level and inside a function.
    one(
        "import logging.config\ncfg = logging.config\ncfg.listen(1)\n",
        Rule::ListenNoVerify,
        3,
    );
    one(
        "import logging.config\nf = logging.config.listen\ndef go():\n    f(1)\n",
        Rule::ListenNoVerify,
        4,
    );
    one(
        "import logging\nimport logging.config\nclass A:\n    def go(self):\n        self.t = logging.config.listen(self.port)\n",
        Rule::ListenNoVerify,
        5,
    );
}

#[test]
fn listen_verify_none_positional_and_variable() {
    one(
        "import logging.config\nlogging.config.listen(9999, verify=None)\n",
        Rule::ListenNoVerify,
        2,
    );
    one(
        "import logging.config\nlogging.config.listen(9999, None)\n",
        Rule::ListenNoVerify,
        2,
    );
    one(
        "import logging.config\nV = None\nlogging.config.listen(9999, verify=V)\n",
        Rule::ListenNoVerify,
        3,
    );
    // A wrapper whose verify defaults to None, called once without one (CPython's own
    // test_logging does this): the None path is unsafe whatever the other callers pass.
    let wrapper = "import logging.config\ndef good(b):\n    raise ValueError\n\
                   def serve(port, verify=None):\n    return logging.config.listen(port, verify)\n\
                   serve(1, good)\nserve(2)\n";
    one(wrapper, Rule::ListenNoVerify, 5);
    // ... and with only real verifiers passed and no None default, it is listen-verified.
    let passed = "import logging.config\ndef good(b):\n    raise ValueError\n\
                  def serve(port, verify):\n    return logging.config.listen(port, verify)\nserve(1, good)\n";
    one(passed, Rule::ListenVerified, 5);
}

#[test]
fn weak_verify_is_identity_after_printing_or_logging() {
    one(
        "import logging.config\nlogging.config.listen(1, verify=lambda b: b)\n",
        Rule::ListenWeakVerify,
        2,
    );
    one(
        "import logging.config\nlogging.config.listen(1, lambda b: (b))\n",
        Rule::ListenWeakVerify,
        2,
    );
    let logged = "import logging, logging.config\n\
                  def v(data):\n    print(data)\n    logging.info('got %r', data)\n    return data\n\
                  logging.config.listen(1, v)\n";
    one(logged, Rule::ListenWeakVerify, 6);
    let copy = "import logging.config\ndef v(data):\n    return bytes(data)\nlogging.config.listen(1, verify=v)\n";
    one(copy, Rule::ListenWeakVerify, 4);
    let method = "import logging.config\nclass S:\n    def v(self, raw):\n        return raw[:]\n    \
                  def go(self):\n        logging.config.listen(1, verify=self.v)\n";
    one(method, Rule::ListenWeakVerify, 6);
}

#[test]
fn a_verify_that_can_reject_is_listen_verified() {
    let checks = "import logging.config, hmac\n\
                  def v(data):\n    if not hmac.compare_digest(data[:32], KEY):\n        return None\n    return data[32:]\n\
                  logging.config.listen(1, verify=v)\n";
    one(checks, Rule::ListenVerified, 6);
    let raises = "import logging.config\ndef v(data):\n    if data[:1] != b'{':\n        raise ValueError\n    return data\nlogging.config.listen(1, v)\n";
    one(raises, Rule::ListenVerified, 6);
    // Unknown (imported) verifiers are taken at their word, as informational.
    let imported = "import logging.config\nfrom logwire_helper.config import verifier\n\
                    logging.config.listen(1, verify=verifier(keys=['k.pub']))\n";
    one(imported, Rule::ListenVerified, 3);
    // A function returning None for everything makes listen() apply nothing: not weak.
    one(
        "import logging.config\ndef v(d):\n    print(d)\nlogging.config.listen(1, v)\n",
        Rule::ListenVerified,
        4,
    );
}

#[test]
fn listen_non_findings() {
    assert!(found("# logging.config.listen(9999)\nx = 'logging.config.listen(9999)'\n").is_empty());
    assert!(found("import socket\ns = socket.socket()\ns.listen(5)\n").is_empty());
    assert!(found("import asyncio\nlisten = asyncio.sleep\nlisten(1)\n").is_empty());
    assert!(found("def listen(port):\n    pass\nlisten(9999)\n").is_empty());
    assert!(found("import logwire_helper\nt = logwire_helper.listen(9030, keys=['k.pub'], state_file='s')\n").is_empty());
    // logging imported, but `config` here is another module.
    assert!(found("import logging\nimport myapp.config as config\nconfig.listen(1)\n").is_empty());
}

#[test]
fn pickle_spellings_and_modules() {
    for (import, call) in [
        ("import pickle", "pickle.loads"),
        ("import cPickle", "cPickle.loads"),
        ("import cPickle as pickle", "pickle.loads"),
        ("import _pickle", "_pickle.loads"),
        ("import dill", "dill.loads"),
        ("import cloudpickle", "cloudpickle.loads"),
        ("from pickle import loads", "loads"),
        ("from six.moves import cPickle", "cPickle.loads"),
    ] {
        let src =
            format!("{import}\nimport socket\ns = socket.socket()\nobj = {call}(s.recv(100))\n");
        one(&src, Rule::PickleReceiver, 4);
    }
}

#[test]
fn pickle_data_flow_through_assignments_slices_and_functions() {
    // Slices, concatenation, augmented assignment, list accumulation and join.
    let src = "import pickle\ndef serve(conn):\n    head = conn.recv(4)\n    body = b''\n    \
               body += conn.recv(10)\n    parts = []\n    parts.append(body[4:])\n    blob = b''.join(parts)\n    \
               return pickle.loads(blob)\n";
    one(src, Rule::PickleReceiver, 9);
    // A helper that receives exactly n bytes, and its caller.
    let helper = "import pickle, struct\ndef recv_all(sock, n):\n    data = bytearray()\n    \
                  while len(data) < n:\n        data.extend(sock.recv(n - len(data)))\n    return bytes(data)\n\
                  def handle(sock):\n    n = struct.unpack('>L', recv_all(sock, 4))[0]\n    \
                  return pickle.loads(recv_all(sock, n))\n";
    one(helper, Rule::PickleReceiver, 9);
    // makefile() streams, pickle.load and Unpickler.
    let stream = "import pickle, socket\ns = socket.create_connection(('h', 1))\nf = s.makefile('rb')\n\
                  a = pickle.load(f)\nb = pickle.Unpickler(f).load()\n";
    assert_eq!(
        found(stream),
        vec![("pickle-receiver", 4), ("pickle-receiver", 5)]
    );
    // io.BytesIO over received bytes.
    let bio = "import io, pickle\ndef h(sock):\n    buf = io.BytesIO(sock.recv(99))\n    return pickle.load(buf)\n";
    one(bio, Rule::PickleReceiver, 4);
    // A socketserver datagram handler: request is (data, socket).
    let dgram = "import pickle, socketserver\nclass H(socketserver.DatagramRequestHandler):\n    \
                 def handle(self):\n        data = self.request[0]\n        return pickle.loads(data[4:])\n";
    one(dgram, Rule::PickleReceiver, 5);
    // StreamRequestHandler.rfile, even when the base class comes from elsewhere.
    let rfile = "import pickle\nfrom .base import Handler\nclass H(Handler):\n    def handle(self):\n        \
                 return pickle.load(self.rfile)\n";
    one(rfile, Rule::PickleReceiver, 5);
    // A handler passed to a callback: socketserver's `packet` on the request parameter.
    let callback = "import pickle, struct\nclass T:\n    def handle_datagram(self, request):\n        \
                    packet = request.packet[4:]\n        return pickle.loads(packet)\n";
    one(callback, Rule::PickleReceiver, 5);
    // A socket kept on self in __init__, read in another method.
    let attr = "import pickle, socket\nclass C:\n    def __init__(self):\n        self.sock = socket.socket()\n    \
                def get(self):\n        raw = self.sock.recv(100)\n        return pickle.loads(raw)\n";
    one(attr, Rule::PickleReceiver, 7);
    // asyncio.open_connection and the walrus operator.
    let aio = "import asyncio, pickle\nasync def f():\n    r, w = await asyncio.open_connection('h', 1)\n    \
               if (d := await r.read(100)):\n        return pickle.loads(d)\n";
    one(aio, Rule::PickleReceiver, 5);
}

#[test]
fn pickle_non_findings() {
    assert!(found("import pickle\nb = pickle.dumps({'a': 1})\nobj = pickle.loads(b)\n").is_empty());
    assert!(
        found("import pickle\nwith open('m.pkl', 'rb') as f:\n    m = pickle.load(f)\n").is_empty()
    );
    assert!(found("import pickle\nm = pickle.load(open('m.pkl', 'rb'))\n").is_empty());
    assert!(
        found("import json, socket\ns = socket.socket()\nd = json.loads(s.recv(10))\n").is_empty()
    );
    // read() of a file is not a socket's read().
    assert!(
        found("import pickle\nf = open('x')\nd = f.read()\nobj = pickle.loads(d)\n").is_empty()
    );
    // A restricted Unpickler (find_class overridden, the pickle docs' mitigation) is not reported.
    let restricted = "import io, pickle\nclass R(pickle.Unpickler):\n    def find_class(self, m, n):\n        \
                      raise pickle.UnpicklingError(m)\ndef h(sock):\n    return R(io.BytesIO(sock.recv(9))).load()\n";
    assert!(found(restricted).is_empty());
    // A pickle-looking name from another module.
    assert!(
        found("import mylib as pickle, socket\ns = socket.socket()\npickle.loads(s.recv(1))\n")
            .is_empty()
    );
}

#[test]
fn cleartext_sender_hosts() {
    one(
        "import logging.handlers\nh = logging.handlers.SocketHandler('logs.example.com', 9020)\n",
        Rule::CleartextRecordSender,
        2,
    );
    one(
        "from logging.handlers import DatagramHandler\nh = DatagramHandler('10.1.2.3', 9021)\n",
        Rule::CleartextRecordSender,
        2,
    );
    one(
        "import logging.handlers\ndef f(host):\n    return logging.handlers.SocketHandler(host, 1)\n",
        Rule::CleartextRecordSender,
        3,
    );
    one(
        "import logging.handlers\nclass H(logging.handlers.SocketHandler):\n    pass\nh = H('db', 1)\n",
        Rule::CleartextRecordSender,
        4,
    );
    for local in ["localhost", "127.0.0.1", "127.1.2.3", "::1", ""] {
        let src = format!(
            "import logging.handlers\nh = logging.handlers.SocketHandler({local:?}, 9020)\n"
        );
        assert!(found(&src).is_empty(), "{local} is loopback");
    }
    // A Unix domain socket (port None) stays on the machine.
    assert!(
        found(
            "import logging.handlers\nh = logging.handlers.SocketHandler('/run/log.sock', None)\n"
        )
        .is_empty()
    );
    // A subclass that frames records itself is not a plain pickle sender.
    let signed = "import logging.handlers\nclass S(logging.handlers.SocketHandler):\n    \
                  def makePickle(self, r):\n        return sign(r)\nh = S('logs', 1)\n";
    assert!(found(signed).is_empty());
}

#[test]
fn python2_syntax_is_parsed() {
    let src = "import cPickle, SocketServer\nclass H(SocketServer.StreamRequestHandler):\n    \
               def handle(self):\n        chunk = self.connection.recv(4)\n        print 'got', len(chunk)\n        \
               try:\n            obj = cPickle.loads(chunk)\n        except Exception, e:\n            print e\n";
    one(src, Rule::PickleReceiver, 7);
}

#[test]
fn finding_fields_are_filled() {
    let f = &audit_source(
        "a/b.py",
        "import logging.config\nx = 1; t = logging.config.listen(9)\n".as_bytes(),
    )[0];
    assert_eq!(
        (f.path.as_str(), f.line, f.column, f.end_line, f.end_column),
        ("a/b.py", 2, 12, 2, 36)
    );
    assert_eq!(f.source, "x = 1; t = logging.config.listen(9)");
    assert!(f.fix.contains("logwire_helper.listen"));
    assert_eq!(f.severity, Rule::ListenNoVerify.severity());
}
