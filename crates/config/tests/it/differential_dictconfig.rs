//! Randomized differential test of the accept/reject decision: seeded random dictConfig
//! documents (versions, formatters with format/datefmt/style/validate, filters, handlers of
//! the built-in classes with valid and invalid arguments and levels, references to missing
//! ids, loggers, root, `incremental`, `disable_existing_loggers`, `cfg://` references, values of
//! the wrong type) are applied by CPython's `logging.config.dictConfig` (one sandboxed
//! `python3` for the batch, see `tests/support/dictconfig_oracle.py`) and by logwire's trusted
//! path (`Configurator::apply_text` on a fresh `LoggerTree`, with the network kinds registered
//! as `logwire serve` does). Both must accept or both reject.
//!
//! The exceptions are logwire's deliberate rejections, listed in [`Deliberate`] with the
//! reason each. A document that would make CPython run code is never given to CPython: it
//! gets the document's [`sanitized`] twin instead. When CPython accepts the document (or its
//! twin), logwire must reject the document with an error saying why, and accept the twin; when
//! CPython rejects it for another reason, logwire must reject it too.
//!
//! Version note: logwire follows CPython 3.12+ in creating the queue of a `QueueHandler`
//! configured without one; on 3.11 the oracle gives such handlers that queue itself.
//!
//! Python being absent is a failure unless `LOGWIRE_SKIP_PYTHON_GOLDEN=1`.

use std::io::Write;
use std::sync::Arc;

use logwire_config::{Configurator, ContentPolicy, HandlerRegistry, StdStream, StreamFactory};
use logwire_engine::LoggerTree;
use logwire_test_support::python;
use proptest::prelude::RngExt;
use proptest::test_runner::{RngAlgorithm, TestRng};
use serde_json::{Map, Value, json};

const ORACLE: &str = include_str!("../support/dictconfig_oracle.py");

/// Replaced by each side's own directory for the case.
const DIR: &str = "@DIR@";

/// logwire's deliberate differences from CPython's `dictConfig`, each with the text its error
/// must contain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Deliberate {
    /// `'()'` makes CPython import and call any callable: logwire never runs code named in a
    /// configuration. (Not given to CPython.)
    Factory,
    /// `'.'` makes CPython set arbitrary attributes on the object. (Not given to CPython.)
    DotAttributes,
    /// `ext://` other than the standard streams makes CPython import a module. (Not given to
    /// CPython.)
    ExtImport,
    /// A handler class outside logwire's registry: CPython imports it. (Not given to CPython.)
    UnregisteredClass,
    /// A formatter `class` other than `logging.Formatter`: CPython imports it. (Not given to
    /// CPython.)
    FormatterClass,
    /// A formatter `format`/`datefmt` that is not a string (with validation off): CPython
    /// stores it unchecked and then fails on every record it formats.
    NotAString,
    /// A `{0}` positional field in a `{`-style format: CPython's validation lets it through,
    /// then `'{0}'.format(**record.__dict__)` fails on every record.
    PositionalField,
    /// An unparsable `{`-style format with `validate: false`: CPython stores it unchecked,
    /// then fails on every record; logwire compiles formats when it applies them.
    UnparsableFormat,
}

impl Deliberate {
    /// Text logwire's error must contain.
    fn why(self) -> &'static str {
        match self {
            Deliberate::Factory => "'()' factories are not allowed",
            Deliberate::DotAttributes => "'.' attribute setting is not allowed",
            Deliberate::ExtImport => "only ext://sys.stdout and ext://sys.stderr",
            Deliberate::UnregisteredClass => "classes are looked up in logwire's registry",
            Deliberate::FormatterClass => "only logging.Formatter is available",
            Deliberate::NotAString => "expected a string",
            Deliberate::PositionalField => "positional fields are not supported",
            Deliberate::UnparsableFormat => "invalid format",
        }
    }

    /// Whether the document may be given to CPython as it is (it runs no code there);
    /// otherwise CPython gets its [`sanitized`] twin.
    fn safe_for_cpython(self) -> bool {
        matches!(
            self,
            Deliberate::NotAString | Deliberate::PositionalField | Deliberate::UnparsableFormat
        )
    }
}

struct Gen {
    rng: TestRng,
    /// The deliberate difference this document has, if any (at most one per document).
    deliberate: Option<Deliberate>,
    /// How many more mistakes this document may get (0–2 per document), so that the decision
    /// turns on one element rather than on a pile of them.
    mistakes_left: u32,
    /// Whether the document is incremental (CPython then never reads formatters).
    incremental: bool,
}

impl Gen {
    fn pct(&mut self, p: u32) -> bool {
        self.rng.random_range(0..100) < p
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())].clone()
    }

    /// Whether to make a mistake here.
    fn mistake(&mut self) -> bool {
        if self.mistakes_left > 0 && self.pct(12) {
            self.mistakes_left -= 1;
            return true;
        }
        false
    }

    /// Valid here, or (a mistake) invalid.
    fn either(&mut self, valid: &[Value], invalid: &[Value]) -> Value {
        if self.mistake() {
            self.pick(invalid)
        } else {
            self.pick(valid)
        }
    }

    /// Sometimes (rarely) a deliberate difference in place of a regular value.
    fn deliberately(&mut self, d: Deliberate) -> bool {
        if self.deliberate.is_none() && self.pct(4) {
            self.deliberate = Some(d);
            return true;
        }
        false
    }

    fn level(&mut self) -> Value {
        self.either(
            &[
                json!("DEBUG"),
                json!("INFO"),
                json!("WARNING"),
                json!("ERROR"),
                json!("CRITICAL"),
                json!("NOTSET"),
                json!("WARN"),
                json!("FATAL"),
                json!(0),
                json!(5),
                json!(25),
                json!(99),
                json!(-1),
                json!(true),
                json!("cfg://levels.low"),
            ],
            &[
                json!("LOUD"),
                json!("info"),
                json!("15"),
                json!(""),
                json!(10.5),
                json!(["INFO"]),
                json!({"name": "INFO"}),
                json!("cfg://levels.bad"),
                json!("cfg://levels.missing"),
            ],
        )
    }

    /// A flag: a bool, 0/1, or sometimes a string (both read it by its truth: `"false"` is
    /// true, `""` is false).
    fn boolish(&mut self) -> Value {
        if self.pct(10) {
            return json!(self.pick(&["true", "false", "yes", "no", ""]));
        }
        match self.rng.random_range(0..8) {
            0 => json!(self.pick(&[0, 1])),
            _ => json!(self.pick(&[true, false])),
        }
    }

    fn formatter(&mut self) -> Value {
        let mut f = Map::new();
        let style = if self.mistake() {
            json!(self.pick(&[json!("#"), json!(1), json!("%%")]))
        } else {
            json!(self.pick(&["%", "%", "{", "$"]))
        };
        if self.pct(50) || !style.is_string() || style == "#" || style == "%%" {
            f.insert("style".into(), style.clone());
        }
        if self.pct(30) {
            let v = self.boolish();
            f.insert("validate".into(), v);
        }
        let style = f.get("style").and_then(Value::as_str).unwrap_or("%");
        if self.pct(85) {
            let mixed = json!("%(message)s {message} $message");
            let valid = match style {
                "{" => vec![
                    json!("{message}"),
                    json!("{levelname:>8} {name!r} {message}"),
                    mixed,
                ],
                "$" => vec![json!("$message"), json!("${name} $message"), mixed],
                _ => vec![
                    json!("%(message)s"),
                    json!("%(levelname)s:%(name)s:%(message)s"),
                    json!("%(asctime)s %(msecs)03d %(message)s"),
                    json!("%(message)-10s|%(lineno)5d"),
                    json!("cfg://formats.plain"),
                    json!(""),
                    mixed,
                ],
            };
            let mut format = self.either(
                &valid,
                &[
                    json!("no fields at all"),
                    json!("%(message)"),
                    json!("{"),
                    json!("$"),
                ],
            );
            let unchecked = matches!(f.get("validate"), Some(v) if *v == false || *v == 0);
            if style == "{"
                && unchecked
                && format == "{"
                && !self.deliberately(Deliberate::UnparsableFormat)
            {
                format = json!("{message}");
            }
            if style == "{" && self.pct(10) && self.deliberately(Deliberate::PositionalField) {
                format = json!("{0}");
            } else if self.pct(5) && self.deliberately(Deliberate::NotAString) {
                format = json!(5);
            }
            f.insert("format".into(), format);
        }
        if self.pct(30) {
            let d = if self.pct(20) && self.deliberately(Deliberate::NotAString) {
                json!(7)
            } else {
                json!(self.pick(&["%Y-%m-%d", "%H:%M:%S", ""]))
            };
            f.insert("datefmt".into(), d);
        }
        if self.pct(10) {
            f.insert("class".into(), json!("logging.Formatter"));
        } else if !self.incremental && self.deliberately(Deliberate::FormatterClass) {
            f.insert("class".into(), json!("myapp.JsonFormatter"));
        } else if self.deliberately(Deliberate::Factory) {
            f.insert("()".into(), json!("myapp.make_formatter"));
        }
        Value::Object(f)
    }

    fn filter(&mut self) -> Value {
        let mut f = Map::new();
        if self.pct(80) {
            let n = self.either(&[json!(""), json!("app"), json!("app.db")], &[json!(5)]);
            f.insert("name".into(), n);
        }
        if self.deliberately(Deliberate::Factory) {
            f.insert("()".into(), json!("myapp.RedactFilter"));
        }
        Value::Object(f)
    }

    fn file_name(&mut self, n: usize) -> Value {
        self.either(
            &[
                json!(format!("{DIR}/h{n}.log")),
                json!(format!("{DIR}/h{n}.log")),
                json!("cfg://paths.log"),
            ],
            &[
                json!(format!("{DIR}/missing/h{n}.log")),
                json!(5),
                json!(DIR),
            ],
        )
    }

    /// A handler of a built-in class with random (mostly valid) arguments.
    fn handler(&mut self, n: usize, ids: &[String], filters: &[String], fmts: &[String]) -> Value {
        let mut h = Map::new();
        let mut class = self.pick(&[
            "logging.StreamHandler",
            "logging.FileHandler",
            "logging.NullHandler",
            "logging.handlers.RotatingFileHandler",
            "logging.handlers.TimedRotatingFileHandler",
            "logging.handlers.WatchedFileHandler",
            "logging.handlers.MemoryHandler",
            "logging.handlers.QueueHandler",
            "logging.handlers.SocketHandler",
            "logging.handlers.DatagramHandler",
        ]);
        if self.mistake() {
            class = self.pick(&[
                "logging.handlers.NoSuchHandler",
                "logging.NoSuchHandler",
                "",
            ]);
        }
        let file = |g: &mut Gen, h: &mut Map<String, Value>| {
            if !g.mistake() {
                let f = g.file_name(n);
                h.insert("filename".into(), f);
            }
            if g.pct(30) {
                let m = g.either(&[json!("a"), json!("w")], &[json!(3)]);
                h.insert("mode".into(), m);
            }
            if g.pct(25) {
                let e = g.either(
                    &[json!("utf-8"), json!("latin-1")],
                    &[json!("no-such-codec")],
                );
                h.insert("encoding".into(), e);
            }
            if g.pct(25) {
                let d = g.boolish();
                h.insert("delay".into(), d);
            }
        };
        match class {
            "logging.StreamHandler" => {
                if self.pct(60) {
                    let s = self.pick(&[json!("ext://sys.stdout"), json!("ext://sys.stderr")]);
                    h.insert("stream".into(), s);
                } else if self.deliberately(Deliberate::ExtImport) {
                    h.insert("stream".into(), json!("ext://os.environ"));
                }
            }
            "logging.FileHandler" | "logging.handlers.WatchedFileHandler" => file(self, &mut h),
            "logging.handlers.RotatingFileHandler" => {
                file(self, &mut h);
                if self.pct(50) {
                    let m = self.either(&[json!(0), json!(1024), json!(-1)], &[json!("10")]);
                    h.insert("maxBytes".into(), m);
                }
                if self.pct(50) {
                    let b = self.pick(&[json!(0), json!(3)]);
                    h.insert("backupCount".into(), b);
                }
            }
            "logging.handlers.TimedRotatingFileHandler" => {
                file(self, &mut h);
                if self.pct(60) {
                    let w = self.either(
                        &[
                            json!("h"),
                            json!("midnight"),
                            json!("W0"),
                            json!("W6"),
                            json!("S"),
                            json!("D"),
                        ],
                        &[json!("W7"), json!("bogus")],
                    );
                    h.insert("when".into(), w);
                }
                if self.pct(30) {
                    let i = self.pick(&[json!(1), json!(7)]);
                    h.insert("interval".into(), i);
                }
                if self.pct(30) {
                    let u = self.boolish();
                    h.insert("utc".into(), u);
                }
            }
            "logging.handlers.MemoryHandler" => {
                if !self.mistake() {
                    let c = self.pick(&[json!(10), json!(1), json!(0)]);
                    h.insert("capacity".into(), c);
                }
                if self.pct(30) {
                    let l = self.pick(&[json!("ERROR"), json!(40)]);
                    h.insert("flushLevel".into(), l);
                }
                if self.pct(60) {
                    // Any handler of the document (earlier, later, itself), or a missing one.
                    let t = if self.mistake() {
                        "nosuch".to_owned()
                    } else {
                        self.pick(ids)
                    };
                    h.insert("target".into(), json!(t));
                }
                if self.pct(20) {
                    let f = self.boolish();
                    h.insert("flushOnClose".into(), f);
                }
            }
            "logging.handlers.SocketHandler" | "logging.handlers.DatagramHandler" => {
                if !self.mistake() {
                    h.insert("host".into(), json!("127.0.0.1"));
                }
                if !self.mistake() {
                    let p = self.pick(&[json!(9), json!(1), json!(65535)]);
                    h.insert("port".into(), p);
                }
            }
            _ => {}
        }
        if class == "logging.StreamHandler" && self.deliberately(Deliberate::UnregisteredClass) {
            h.insert("class".into(), json!("myapp.handlers.AuditHandler"));
        } else if !class.is_empty() {
            h.insert("class".into(), json!(class));
        }
        if self.pct(40) {
            let l = self.level();
            h.insert("level".into(), l);
        }
        if self.pct(35) && !fmts.is_empty() {
            let valid: Vec<Value> = fmts.iter().map(|f| json!(f)).collect();
            let f = self.either(&valid, &[json!("nosuch"), json!(3)]);
            h.insert("formatter".into(), f);
        }
        if self.pct(25) && !filters.is_empty() {
            let f = self.id_list(filters);
            h.insert("filters".into(), f);
        }
        if self.mistake() {
            h.insert("bogus".into(), json!(1));
        }
        if self.deliberately(Deliberate::DotAttributes) {
            h.insert(".".into(), json!({"name": "x"}));
        }
        if self.deliberately(Deliberate::Factory) {
            h.insert("()".into(), json!("os.system"));
        }
        Value::Object(h)
    }

    /// Ids that exist, or (a mistake) a missing one or a wrong type.
    fn id_list(&mut self, ids: &[String]) -> Value {
        if self.mistake() {
            return self.pick(&[json!("h0"), json!(["nosuch"]), json!([7]), json!(7)]);
        }
        let n = self.rng.random_range(0..=ids.len().min(3));
        let mut out: Vec<String> = (0..n).map(|_| self.pick(ids)).collect();
        out.sort();
        out.dedup();
        json!(out)
    }

    fn logger(&mut self, handlers: &[String], filters: &[String]) -> Value {
        let mut l = Map::new();
        if self.pct(60) {
            let v = self.level();
            l.insert("level".into(), v);
        }
        if self.pct(40) {
            let p = self.boolish();
            l.insert("propagate".into(), p);
        }
        if self.pct(60) && !handlers.is_empty() {
            let h = self.id_list(handlers);
            l.insert("handlers".into(), h);
        }
        if self.pct(20) && !filters.is_empty() {
            let f = self.id_list(filters);
            l.insert("filters".into(), f);
        }
        Value::Object(l)
    }

    fn ids(&mut self, prefix: &str, max: usize) -> Vec<String> {
        (0..self.rng.random_range(0..=max))
            .map(|i| format!("{prefix}{i}"))
            .collect()
    }

    /// A section of the wrong type (a mistake), or `None`.
    fn bad_section(&mut self) -> Option<Value> {
        self.mistake()
            .then(|| self.pick(&[json!("h0"), json!(5), json!(["h0"])]))
    }

    fn document(&mut self) -> Value {
        self.deliberate = None;
        self.mistakes_left = self.pick(&[0, 0, 1, 1, 1, 2]);
        let mut d = Map::new();
        let version = self.either(
            &[json!(1), json!(1), json!(1), json!(1.0), json!(true)],
            &[
                json!("1"),
                json!(2),
                json!(0),
                json!(null),
                json!("missing"),
            ],
        );
        if version != "missing" {
            d.insert("version".into(), version);
        }
        self.incremental = false;
        if self.pct(6) {
            let i = self.boolish();
            self.incremental = i == true || i == 1;
            d.insert("incremental".into(), i);
        }
        if self.pct(30) {
            let v = self.boolish();
            d.insert("disable_existing_loggers".into(), v);
        }
        // What the cfg:// references point at.
        d.insert("levels".into(), json!({"low": "DEBUG", "bad": "LOUD"}));
        d.insert("paths".into(), json!({"log": format!("{DIR}/cfg.log")}));
        d.insert("formats".into(), json!({"plain": "%(message)s"}));

        let fmts = self.ids("f", 3);
        let filters = self.ids("x", 2);
        let handlers = self.ids("h", 4);
        if let Some(b) = self.bad_section() {
            d.insert("formatters".into(), b);
        } else if !fmts.is_empty() {
            let m: Map<String, Value> = fmts
                .iter()
                .map(|id| (id.clone(), self.formatter()))
                .collect();
            d.insert("formatters".into(), Value::Object(m));
        }
        if let Some(b) = self.bad_section() {
            d.insert("filters".into(), b);
        } else if !filters.is_empty() {
            let m: Map<String, Value> = filters
                .iter()
                .map(|id| (id.clone(), self.filter()))
                .collect();
            d.insert("filters".into(), Value::Object(m));
        }
        if let Some(b) = self.bad_section() {
            d.insert("handlers".into(), b);
        } else if !handlers.is_empty() {
            let mut m = Map::new();
            for (n, id) in handlers.iter().enumerate() {
                let h = if self.mistake() {
                    json!("not a mapping")
                } else {
                    self.handler(n, &handlers, &filters, &fmts)
                };
                m.insert(id.clone(), h);
            }
            d.insert("handlers".into(), Value::Object(m));
        }
        let names = ["app", "app.db", "lib", "a.b.c", "root"];
        let n_loggers = self.rng.random_range(0..3);
        if n_loggers > 0 || self.pct(5) {
            let mut m = Map::new();
            for _ in 0..n_loggers {
                let name = self.pick(&names);
                let l = self.logger(&handlers, &filters);
                m.insert(name.to_owned(), l);
            }
            let loggers = self.bad_section().unwrap_or(Value::Object(m));
            d.insert("loggers".into(), loggers);
        }
        if self.pct(60) {
            let r = if self.mistake() {
                json!("INFO")
            } else if self.pct(5) {
                self.pick(&[json!({}), json!(null)])
            } else {
                self.logger(&handlers, &filters)
            };
            d.insert("root".into(), r);
        }
        Value::Object(d)
    }
}

/// The document without the elements that would make CPython run code (the unsafe
/// deliberate differences), each replaced by what a safe document would say. Documents
/// without such elements are unchanged.
fn sanitized(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| *k != "()" && *k != ".")
                .filter(|(k, v)| !(*k == "class" && *v == "myapp.JsonFormatter"))
                .map(|(k, v)| {
                    let v = match v.as_str() {
                        Some("ext://os.environ") => json!("ext://sys.stderr"),
                        Some("myapp.handlers.AuditHandler") => json!("logging.StreamHandler"),
                        _ => sanitized(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(sanitized).collect()),
        other => other.clone(),
    }
}

/// Asks CPython about every document in one `python3` process. `None` when Python is absent
/// and `LOGWIRE_SKIP_PYTHON_GOLDEN=1`.
fn ask_cpython(requests: Vec<String>) -> Option<Vec<Value>> {
    let answers = python::ask_lines(python::command().args(["-I", "-c", ORACLE]), requests)?;
    Some(
        answers
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
    )
}

/// Streams go nowhere: nothing is logged, only the decision matters.
struct Discard;

impl StreamFactory for Discard {
    fn open(&self, _: StdStream) -> Box<dyn Write + Send> {
        Box::new(std::io::sink())
    }
}

/// The registry `logwire serve` uses: the built-in kinds plus the network senders.
fn configurator() -> Configurator {
    let mut registry = HandlerRegistry::with_builtins();
    logwire_handlers::register_network_handlers(&mut registry);
    Configurator::new(registry, ContentPolicy::trusted()).with_streams(Arc::new(Discard))
}

const CASES: usize = 600;

#[test]
fn random_dictconfig_documents_get_cpythons_decision() {
    let mut g = Gen {
        rng: TestRng::from_seed(RngAlgorithm::ChaCha, &[11; 32]),
        deliberate: None,
        mistakes_left: 0,
        incremental: false,
    };
    let base = tempfile::tempdir().unwrap();
    let dir = |side: &str, i: usize| {
        let d = base.path().join(side).join(i.to_string());
        std::fs::create_dir_all(&d).unwrap();
        d.to_string_lossy().into_owned()
    };
    let mut docs = Vec::new();
    let mut requests = Vec::new();
    for i in 0..CASES {
        let doc = g.document();
        let text = doc.to_string();
        // CPython gets the document, or for an unsafe deliberate difference its sanitized
        // twin: what the document would be without it.
        let py_dir = dir("py", i);
        let py_doc: Value = serde_json::from_str(&text.replace(DIR, &py_dir)).unwrap();
        requests.push(json!({"doc": sanitized(&py_doc), "dir": py_dir}).to_string());
        docs.push((i, text, g.deliberate));
    }
    let Some(answers) = ask_cpython(requests) else {
        return;
    };
    let cfg = configurator();
    let apply = |text: &str| {
        cfg.apply_text(&LoggerTree::new(), text, logwire_config::SourceFormat::Json)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let (mut accepted, mut rejected, mut deliberate, mut mismatches) = (0, 0, 0, Vec::new());
    for ((i, text, why), answer) in docs.into_iter().zip(answers) {
        assert!(
            answer.get("refused").is_none(),
            "case {i}: the generator made an unsafe document: {answer}"
        );
        let lw_text = text.replace(DIR, &dir("lw", i));
        let logwire = apply(&lw_text);
        let py_ok = answer["ok"] == true;
        match why {
            Some(d) if py_ok => {
                deliberate += 1;
                match &logwire {
                    Ok(()) => {
                        panic!("case {i}: logwire accepted a deliberate rejection ({d:?})\n{text}")
                    }
                    Err(e) => assert!(
                        e.contains(d.why()),
                        "case {i}: error should say '{}':\n{e}\n{text}",
                        d.why()
                    ),
                }
                if !d.safe_for_cpython() {
                    // Only the deliberate element is refused: the twin CPython accepted is
                    // accepted by logwire too.
                    let twin = sanitized(&serde_json::from_str(&lw_text).unwrap());
                    if let Err(e) = apply(&twin.to_string()) {
                        mismatches.push(format!(
                            "case {i}: CPython accepts the twin without {d:?}, logwire: {e}\n  {twin}"
                        ));
                    }
                }
            }
            // Decisions must match; so they must when CPython rejects a document (or its
            // twin) for another reason than the deliberate difference.
            _ => {
                if py_ok != logwire.is_ok() {
                    mismatches.push(format!(
                        "case {i}: CPython {}, logwire {:?}\n  {text}",
                        if py_ok {
                            "accepts".to_owned()
                        } else {
                            format!("rejects ({})", answer["error"])
                        },
                        logwire
                    ));
                } else if py_ok {
                    accepted += 1;
                } else {
                    rejected += 1;
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} documents decided differently:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    eprintln!("{accepted} accepted by both, {rejected} rejected by both, {deliberate} deliberate");
    assert!(
        accepted > 100 && rejected > 100,
        "{accepted} accepted, {rejected} rejected"
    );
    assert!(
        deliberate > 20,
        "only {deliberate} deliberate differences were exercised"
    );
}
