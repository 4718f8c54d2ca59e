//! logwire's SocketHandler → CPython's cookbook receiver (`pickle.loads` + `makeLogRecord`)
//! run by this machine's python3: every field of every record arrives equal, with the key
//! order of that Python's own `LogRecord`.

use logwire_engine::{Args, Handler, LogRecord, Value};
use logwire_handlers::{RecordLayout, SocketHandler, SocketOptions, record_dict};
use logwire_pickle::PickleValue;
use serde_json::{Value as Json, json};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// The cookbook's `LogRecordStreamHandler.handle`, printing what it got as JSON.
const RECEIVER: &str = r#"
import json, logging, pickle, socket, struct, sys
srv = socket.socket()
srv.bind(('127.0.0.1', 0))
srv.listen(1)
srv.settimeout(30)
print(json.dumps({'port': srv.getsockname()[1],
                  'version': list(sys.version_info[:2]),
                  'order': list(logging.makeLogRecord({}).__dict__)}), flush=True)
conn, _ = srv.accept()
conn.settimeout(30)
def recv(n):
    chunk = b''
    while len(chunk) < n:
        more = conn.recv(n - len(chunk))
        if not more:
            return None
        chunk += more
    return chunk
while True:
    head = recv(4)
    if head is None:
        break
    slen = struct.unpack('>L', head)[0]
    obj = pickle.loads(recv(slen))
    record = logging.makeLogRecord(obj)
    print(json.dumps({'keys': list(obj),
                      'attrs': {k: getattr(record, k) for k in obj},
                      'message': record.getMessage()}), flush=True)
"#;

fn to_json(v: &PickleValue) -> Json {
    match v {
        PickleValue::None => Json::Null,
        PickleValue::Bool(b) => json!(b),
        PickleValue::Int(i) => json!(i),
        PickleValue::BigInt(s) => serde_json::from_str(s).unwrap(),
        PickleValue::Float(f) => json!(f),
        PickleValue::Str(s) => json!(s),
        PickleValue::List(items) | PickleValue::Tuple(items) => {
            Json::Array(items.iter().map(to_json).collect())
        }
        PickleValue::Dict(pairs) => Json::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.as_str().expect("str keys").to_owned(), to_json(v)))
                .collect(),
        ),
        other => panic!("not used here: {other:?}"),
    }
}

fn records() -> Vec<LogRecord> {
    let mut a = LogRecord::new("app.db", 40, "/srv/app/db.py", 42, "query %s took %.2f s");
    a.args = Args::Tuple(vec!["SELECT 1".into(), Value::Float(0.125)]);
    a.func_name = Some("run_query".into());
    let mut b = LogRecord::new("app", 30, "rel/mod.py", 7, "%(user)s logged in");
    b.args = Args::Mapping(vec![("user".into(), "zoë".into())]);
    b.exc_text = Some("Traceback (most recent call last):\n  ...\nValueError: x".into());
    b.stack_info = Some("Stack (most recent call last):\n  File \"x\"".into());
    b.set_extra("request_id", "r-1");
    b.set_extra("attempt", Value::Int(3));
    b.set_extra("ratio", Value::Float(1e-7));
    b.set_extra("tags", Value::List(vec!["a".into(), Value::Int(-70000)]));
    b.set_extra(
        "ctx",
        Value::Dict(vec![
            ("k".into(), Value::Bool(true)),
            ("n".into(), Value::None),
        ]),
    );
    let mut c = LogRecord::new("", 5, "", 0, "emoji 🦀 and\nnewline");
    c.thread = Some(u64::MAX - 5);
    c.thread_name = None;
    c.process = None;
    vec![a, b, c]
}

#[test]
fn cpython_cookbook_receiver_reads_every_field() {
    let mut child = match Command::new("python3")
        .args(["-c", RECEIVER])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!("python3 is needed for this test (it is the reference receiver): {e}"),
    };
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let hello: Json = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    let port = hello["port"].as_u64().unwrap() as u16;
    let v = hello["version"].as_array().unwrap();
    let layout =
        RecordLayout::for_python(v[0].as_u64().unwrap() as u32, v[1].as_u64().unwrap() as u32);
    let order: Vec<String> = serde_json::from_value(hello["order"].clone()).unwrap();

    let sh = SocketHandler::with_options(
        "127.0.0.1",
        Some(port),
        SocketOptions {
            layout,
            ..Default::default()
        },
    )
    .unwrap();
    let h = Handler::new(sh);
    let recs = records();
    for r in &recs {
        h.handle(r);
    }
    h.flush();
    h.close(); // EOF ends the receiver's loop

    for r in &recs {
        let line = lines.next().expect("a record line").unwrap();
        let got: Json = serde_json::from_str(&line).unwrap();
        let want = record_dict(r, layout);
        let keys: Vec<String> = serde_json::from_value(got["keys"].clone()).unwrap();
        let want_keys: Vec<&str> = want.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, want_keys);
        // The standard attributes in exactly the order this Python's LogRecord has them.
        assert_eq!(keys[..order.len()], order[..], "python {v:?}");
        for (k, value) in &want {
            assert_eq!(got["attrs"][k], to_json(value), "field {k} of {:?}", r.msg);
        }
        assert_eq!(got["message"], json!(r.get_message()));
    }
    assert!(lines.next().is_none());
    let status = child.wait().unwrap();
    assert!(status.success());
}
