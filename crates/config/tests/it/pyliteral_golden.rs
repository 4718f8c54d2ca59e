//! Golden tests: texts are parsed by CPython (`ast.literal_eval` for plain literals, `eval` in
//! `vars(logging)` — the namespace fileConfig uses — for texts with the allowed names) in a
//! `python3` subprocess and by `logwire_config::pyliteral`; both render the value in the same
//! tagged JSON form and must agree, as must accept/reject.
//!
//! Set `LOGWIRE_PYTHON` to choose the interpreter (default `python3`). If it cannot be run the
//! test fails, unless `LOGWIRE_SKIP_PYTHON_GOLDEN=1` is set.

use logwire_config::pyliteral::{KnownName, PyLiteral, parse_literal};
use logwire_test_support::python;
use serde_json::{Value, json};

const PY_SCRIPT: &str = r#"
import sys, json, ast, struct, logging, logging.handlers, logging.config
def canon(v):
    if v is None: return ["none"]
    if v is sys.stdout: return ["name", "stdout"]
    if v is sys.stderr: return ["name", "stderr"]
    if isinstance(v, bool): return ["bool", v]
    if isinstance(v, int): return ["int", str(v)]
    if isinstance(v, float): return ["float", struct.unpack("<Q", struct.pack("<d", v))[0]]
    if isinstance(v, str): return ["str", v]
    if isinstance(v, bytes): return ["bytes", list(v)]
    if isinstance(v, tuple): return ["tuple", [canon(x) for x in v]]
    if isinstance(v, list): return ["list", [canon(x) for x in v]]
    if isinstance(v, dict): return ["dict", [[canon(k), canon(x)] for k, x in v.items()]]
    if isinstance(v, (set, frozenset)):
        return ["set", sorted((canon(x) for x in v), key=lambda c: json.dumps(c, separators=(",", ":"), ensure_ascii=False))]
    return ["unsupported", type(v).__name__]
cases = json.load(sys.stdin)
out = []
for mode, text in cases:
    try:
        if mode == "literal":
            v = ast.literal_eval(text)
        else:
            v = eval(text, dict(vars(logging)))
        out.append({"ok": canon(v)})
    except Exception as e:
        out.append({"error": type(e).__name__})
print(json.dumps(out))
"#;

fn canon(v: &PyLiteral) -> Value {
    match v {
        PyLiteral::None => json!(["none"]),
        PyLiteral::Bool(b) => json!(["bool", b]),
        PyLiteral::Int(i) => json!(["int", i.to_string()]),
        PyLiteral::BigInt(s) => json!(["int", s]),
        PyLiteral::Float(f) => json!(["float", f.to_bits()]),
        PyLiteral::Str(s) => json!(["str", s]),
        PyLiteral::Bytes(b) => json!(["bytes", b]),
        PyLiteral::Tuple(items) => json!(["tuple", items.iter().map(canon).collect::<Vec<_>>()]),
        PyLiteral::List(items) => json!(["list", items.iter().map(canon).collect::<Vec<_>>()]),
        PyLiteral::Dict(entries) => json!([
            "dict",
            entries
                .iter()
                .map(|(k, v)| json!([canon(k), canon(v)]))
                .collect::<Vec<_>>()
        ]),
        PyLiteral::Set(items) => {
            let mut c: Vec<Value> = items.iter().map(canon).collect();
            c.sort_by_key(|v| v.to_string());
            json!(["set", c])
        }
        PyLiteral::Name(KnownName::Stdout) => json!(["name", "stdout"]),
        PyLiteral::Name(KnownName::Stderr) => json!(["name", "stderr"]),
        PyLiteral::Name(other) => panic!("unexpected name {other:?}"),
    }
}

fn run_python(cases: &[(&str, String)]) -> Option<Vec<Value>> {
    let out = python::pipe(
        python::command().args(["-W", "ignore", "-c", PY_SCRIPT]),
        serde_json::to_vec(cases).unwrap(),
    )?;
    let v: Value = serde_json::from_slice(&out).unwrap();
    Some(v.as_array().unwrap().clone())
}

fn check(mode: &str, texts: &[String]) {
    let cases: Vec<(&str, String)> = texts.iter().map(|t| (mode, t.clone())).collect();
    let Some(expected) = run_python(&cases) else {
        return;
    };
    let mut failures = Vec::new();
    for (text, want) in texts.iter().zip(&expected) {
        let got = match parse_literal(text) {
            Ok(v) => json!({"ok": canon(&v)}),
            Err(e) => json!({"error": e.to_string()}),
        };
        let agree = match (want.get("ok"), got.get("ok")) {
            (Some(a), Some(b)) => a == b,
            (None, None) => true,
            _ => false,
        };
        if !agree {
            failures.push(format!("{text:?}\n  python: {want}\n  rust:   {got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        texts.len(),
        failures.join("\n")
    );
    eprintln!("{} {mode} golden cases agree with CPython", texts.len());
}

/// Hand-written corpus compared with `ast.literal_eval` (accept and reject).
const LITERALS: &[&str] = &[
    // Constants and numbers.
    "None",
    "True",
    "False",
    "0",
    "00",
    "0_0",
    "7",
    "-7",
    "+7",
    "- 7",
    "-(7)",
    "1_000_000",
    "0x_ff",
    "0XfF",
    "0o17",
    "0O1_7",
    "0b1011",
    "0B_1",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "123456789012345678901234567890",
    "0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
    "-0x8000000000000000",
    "0b",
    "0x",
    "0o8",
    "0b102",
    "0_7",
    "07",
    "09",
    "1__0",
    "1_",
    "0x_",
    "1a",
    "0xfg",
    "1.5",
    ".5",
    "1.",
    "1.e5",
    "1e5",
    "1E-5",
    "1e+5",
    "1_0.0_1e1_0",
    "1e400",
    "-1e400",
    "-0.0",
    "0.1",
    "0.30000000000000004",
    "5e-324",
    "2.2250738585072014e-308",
    "1.7976931348623157e308",
    "09.5",
    "0_9.5",
    "1e",
    "1e+",
    "1_.5",
    "1._5",
    "1e5_",
    "1.5.5",
    "..5",
    // Strings.
    "'a'",
    "\"a\"",
    "''",
    "\"\"",
    "'''a'''",
    "\"\"\"a\"\"\"",
    "'''a\nb'''",
    "'''a''b'''",
    "'\\''",
    "\"\\\"\"",
    "'\"'",
    "\"'\"",
    "'a\\\nb'",
    "'a\nb'",
    "'unterminated",
    "'''x''",
    r"'\n\t\r\\\a\b\f\v\0'",
    r"'\x41\x7f\xff'",
    r"'\101\0\7\77\777\1234'",
    r"'\u00e9\u20ac'",
    r"'\U0001F600\U00000041'",
    r"'\q\d\ '",
    r"'\x4'",
    r"'\xg0'",
    r"'\u12'",
    r"'\U00110000'",
    "'é😀\u{0}'",
    "'tab\there'",
    "r'\\n'",
    "r'\\''",
    "R'\\x'",
    "r'a\\\nb'",
    "r'\\'",
    "r'\\\\'",
    "u'x'",
    "U'x'",
    "ur'x'",
    "f'x'",
    "F'x'",
    "rf'x'",
    "b'abc'",
    "B'\\x00\\xff'",
    r"b'\777\400'",
    r"b'\u00e9'",
    r"b'\N{DASH}'",
    "b'é'",
    "rb'\\x'",
    "Rb'x'",
    "bR'x'",
    "BR'\\\\'",
    "'a' 'b'",
    "'a' \"b\" '''c'''",
    "u'a' r'\\b'",
    "b'a' b'b'",
    "'a' b'b'",
    "('a'\n 'b')",
    "'''\\\n'''",
    "'%(asctime)s %(message)s'",
    "'{tempfile}'",
    // Containers.
    "()",
    "( )",
    "(1)",
    "(1,)",
    "(1, 2)",
    "(1, 2,)",
    "1,",
    "1, 2",
    "1, 2,",
    "(,)",
    "(1,,)",
    "[]",
    "[1]",
    "[1,]",
    "[1, [2, [3, []]]]",
    "[,]",
    "{}",
    "{1: 2}",
    "{1: 2,}",
    "{'a': 1, 'b': [1, 2]}",
    "{1: 'a', 1: 'b'}",
    "{1: 'a', True: 'b', 1.0: 'c'}",
    "{0: 'z', False: 'f', 0.0: 'g', -0.0: 'h'}",
    "{(1, 2): 'x', (1, 2): 'y'}",
    "{'a': 1, 'a': 2, 'b': 3}",
    "{[1]: 2}",
    "{{}: 1}",
    "{1: 2, 3}",
    "{1, 2}",
    "{1, 2, 1, True}",
    "{1,}",
    "{(1,), (1,)}",
    "{[1]}",
    "{1: }",
    "{:1}",
    "((((((1,),),),),),)",
    "[1, 2",
    "(1, 2]",
    "[1 2]",
    "(1 2)",
    "(\n  1,\n  2,\n)",
    "[1, # comment\n 2]",
    "(1, 2) # trailing comment",
    "# only comment",
    "",
    "   ",
    "\n1",
    "1\n",
    "1\n2",
    " 1",
    "1 \\\n",
    "(1, \\\n 2)",
    "\t(1,)",
    "{'stream': 1,}",
    "{\"encoding\": \"utf-8\"}",
    "('python.log', 'w')",
    "('localhost', 'from@abc', ['user1@abc', 'user2@xyz'], 'Logger Subject')",
    "{'timeout': 10.0}",
    "{'secure': True}",
    "('localhost:9022', '/log', 'GET')",
    "{\"customfield\": \"defaultvalue\"}",
    // Not literals.
    "x",
    // "1 + 2" is accepted on purpose: integer arithmetic (see tests/pyliteral_arithmetic.rs).
    "-True",
    "not 1",
    "1 if 1 else 2",
    "[1][0]",
    "(1)(2)",
    "'a'.upper()",
    "set()",
    "{**{}}",
    "(*[1],)",
    "lambda: 1",
    "1 ; 2",
];

#[test]
fn literal_corpus_matches_ast_literal_eval() {
    let texts: Vec<String> = LITERALS.iter().map(|s| (*s).to_owned()).collect();
    check("literal", &texts);
}

/// fileConfig `args`/`kwargs`/`defaults` texts (CPython's tests and docs) and the allowed
/// names, compared with `eval(text, vars(logging))` as fileConfig runs it.
const EVAL_TEXTS: &[&str] = &[
    "(sys.stdout,)",
    "(sys.stderr,)",
    "(\"/tmp/logwire-test.log\",)",
    "{\"encoding\": \"utf-8\"}",
    "{'stream': sys.stdout,}",
    "tuple()",
    "list()",
    "dict()",
    "set()",
    "('localhost', handlers.DEFAULT_TCP_LOGGING_PORT)",
    "('localhost', handlers.DEFAULT_UDP_LOGGING_PORT)",
    "('localhost', handlers.DEFAULT_HTTP_LOGGING_PORT, handlers.DEFAULT_SOAP_LOGGING_PORT)",
    "(('localhost', handlers.SYSLOG_UDP_PORT), handlers.SysLogHandler.LOG_USER)",
    "(('localhost', handlers.SYSLOG_TCP_PORT), handlers.SysLogHandler.LOG_LOCAL7, handlers.socket.SOCK_STREAM)",
    "(handlers.socket.SOCK_DGRAM, handlers.SysLogHandler.LOG_AUTHPRIV, handlers.SysLogHandler.LOG_EMERG)",
    "(10, ERROR)",
    "(CRITICAL, FATAL, ERROR, WARNING, WARN, INFO, DEBUG, NOTSET)",
    "{'defaults': {'x': sys.stderr}}",
    "sys . stdout",
    "( sys.stdout , )",
    "(sys.stdout,) # a comment",
    "(sys.stdout,\n sys.stderr)",
    "--1",
    "+-1",
    "-+-1.5",
    "-(1)",
    "-(-7)",
    "-(-(9223372036854775808))",
    "-handlers.SYSLOG_UDP_PORT",
    "1, sys.stdout",
    "{sys.stdout: 1}",
    "{sys.stdout, sys.stdout}",
];

#[test]
fn file_config_texts_match_eval() {
    let texts: Vec<String> = EVAL_TEXTS.iter().map(|s| (*s).to_owned()).collect();
    check("eval", &texts);
}

/// A small deterministic generator of random literals (xorshift), to cover combinations the
/// hand-written corpus misses.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn ws(&mut self) -> &'static str {
        ["", "", " ", "  ", "\t", "\n", " # c\n"][self.below(7)]
    }

    fn number(&mut self) -> String {
        let digits = |g: &mut Gen, n: usize, radix: u32| -> String {
            let mut s = String::new();
            for i in 0..n {
                if i > 0 && g.below(5) == 0 {
                    s.push('_');
                }
                s.push(std::char::from_digit(g.below(radix as usize) as u32, radix).unwrap());
            }
            s
        };
        let sign = self.pick(&["", "", "-", "+"]);
        let n = 1 + self.below(25);
        let (a, b) = (1 + self.below(4), self.below(4));
        let body = match self.below(7) {
            0 => {
                let lead = 1 + self.below(9);
                format!("{lead}{}", digits(self, n - 1, 10))
                    .trim_end_matches('_')
                    .to_owned()
            }
            1 => {
                let p = self.pick(&["0x", "0X", "0x_"]);
                format!("{p}{}", digits(self, n, 16))
            }
            2 => {
                let p = self.pick(&["0o", "0O"]);
                format!("{p}{}", digits(self, n, 8))
            }
            3 => {
                let p = self.pick(&["0b", "0B"]);
                format!("{p}{}", digits(self, n, 2))
            }
            4 => {
                let int = digits(self, a, 10);
                format!("{int}.{}", digits(self, b, 10))
            }
            5 => {
                let mantissa = digits(self, a, 10);
                let sign = self.pick(&["", "-", "+"]);
                format!("{mantissa}e{sign}{}", digits(self, b + 1, 10))
            }
            _ => self
                .pick(&[
                    "0",
                    "00",
                    "0_0",
                    "1.5e300",
                    "1e-320",
                    ".0",
                    "0.",
                    "9007199254740993",
                ])
                .to_owned(),
        };
        format!("{sign}{body}")
    }

    fn string(&mut self) -> String {
        let bytes = self.below(3) == 0;
        let raw = self.below(4) == 0;
        let prefix = match (bytes, raw) {
            (true, true) => self.pick(&["rb", "Rb", "bR", "BR", "br"]),
            (true, false) => self.pick(&["b", "B"]),
            (false, true) => self.pick(&["r", "R"]),
            (false, false) => self.pick(&["", "", "u", "U"]),
        };
        let quote = self.pick(&["'", "\"", "'''", "\"\"\""]);
        let mut body = String::new();
        for _ in 0..self.below(8) {
            let piece = match self.below(12) {
                0 => self.pick(&["\\n", "\\t", "\\\\", "\\a", "\\v", "\\0", "\\q", "\\ "]),
                1 => self.pick(&["\\x41", "\\xff", "\\x0a", "\\101", "\\7", "\\377", "\\777"]),
                2 if !bytes => self.pick(&["\\u00e9", "\\u20AC", "\\U0001F600", "é", "😀", "日本"]),
                3 => "\\'",
                4 => "\\\"",
                5 if quote.len() == 3 => "\n",
                6 if quote.len() == 3 => "\\\n",
                7 => {
                    if quote.starts_with('\'') {
                        "\""
                    } else {
                        "'"
                    }
                }
                _ => self.pick(&["a", "abc", " ", "%(x)s", "{}", "#", "(", ",", "\t"]),
            };
            body.push_str(piece);
        }
        let single = format!("{prefix}{quote}{body}{quote}");
        if self.below(4) == 0 {
            let other = self.string();
            // Keep str/bytes matching so concatenation is valid.
            let other_bytes = other
                .trim_start_matches(['r', 'R', 'u', 'U'])
                .starts_with(['b', 'B']);
            if other_bytes == bytes {
                return format!("{single}{}{other}", self.ws().replace('\n', " "));
            }
        }
        single
    }

    fn hashable(&mut self, depth: usize) -> String {
        match self.below(6) {
            0 => self.number(),
            1 => self.pick(&["None", "True", "False"]).to_owned(),
            2 if depth < 3 => {
                let n = self.below(3);
                let items: Vec<String> = (0..n).map(|_| self.hashable(depth + 1)).collect();
                if n == 1 {
                    format!("({},)", items[0])
                } else {
                    format!("({})", items.join(", "))
                }
            }
            _ => self.string(),
        }
    }

    fn value(&mut self, depth: usize) -> String {
        if depth >= 4 {
            return self.hashable(depth);
        }
        let n = self.below(4);
        let trailing = if n > 0 && self.below(3) == 0 { "," } else { "" };
        let sep = format!(",{}", self.ws());
        match self.below(9) {
            0 => {
                let items: Vec<String> = (0..n).map(|_| self.value(depth + 1)).collect();
                let trailing = if n == 1 { "," } else { trailing };
                format!("({}{}{trailing})", self.ws(), items.join(&sep))
            }
            1 => {
                let items: Vec<String> = (0..n).map(|_| self.value(depth + 1)).collect();
                format!("[{}{}{trailing}]", self.ws(), items.join(&sep))
            }
            2 => {
                let items: Vec<String> = (0..n)
                    .map(|_| {
                        format!(
                            "{}{}:{}{}",
                            self.hashable(depth + 1),
                            self.ws(),
                            self.ws(),
                            self.value(depth + 1)
                        )
                    })
                    .collect();
                format!("{{{}{trailing}}}", items.join(&sep))
            }
            3 if n > 0 => {
                let items: Vec<String> = (0..n).map(|_| self.hashable(depth + 1)).collect();
                format!("{{{}{trailing}}}", items.join(&sep))
            }
            _ => self.hashable(depth),
        }
    }
}

#[test]
fn generated_literals_match_ast_literal_eval() {
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let count = std::env::var("LOGWIRE_GOLDEN_COUNT")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(600);
    let texts: Vec<String> = (0..count).map(|_| g.value(0)).collect();
    check("literal", &texts);
}
