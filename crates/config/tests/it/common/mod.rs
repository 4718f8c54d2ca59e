//! Shared harness of the configuration tests: runs one scenario (apply configs, log, look at
//! logger state, read files) both in CPython (`python3` subprocess, the real `logging.config`)
//! and in logwire, and returns both outcomes in the same shape so tests can compare them.
//!
//! Set `LOGWIRE_PYTHON` to choose the interpreter (default `python3`). Python not being
//! runnable is a test failure: the comparison is the point of these tests.

#![allow(dead_code, unreachable_pub)] // shared by several test binaries, each using a part

use logwire_config::{
    Configurator, ContentPolicy, HandlerRegistry, SourceFormat, StdStream, StreamFactory,
};
use logwire_engine::LoggerTree;
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

/// One step of a scenario.
#[derive(Clone, Debug)]
pub enum Step {
    /// Apply a configuration. `disable_existing`/`defaults` are fileConfig's keyword
    /// arguments (INI only).
    Apply {
        format: Fmt,
        text: String,
        disable_existing: Option<bool>,
        defaults: Vec<(String, String)>,
    },
    /// `getLogger(name).log(level, msg)`.
    Log {
        logger: String,
        level: i32,
        msg: String,
    },
    /// `getLogger(name)` (creates it, so it counts as existing for the next apply).
    Touch(String),
    /// Records whether the logger is disabled, its level and propagate ("absent" if it does
    /// not exist as a real logger).
    State(String),
    /// Records the contents of a file beneath the scenario's directory.
    File(String),
}

/// The syntax of a configuration in a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fmt {
    Json,
    Yaml,
    Toml,
    Ini,
}

impl Fmt {
    pub fn from_ext(ext: &str) -> Option<Fmt> {
        match ext {
            "json" => Some(Fmt::Json),
            "yaml" | "yml" => Some(Fmt::Yaml),
            "toml" => Some(Fmt::Toml),
            "ini" => Some(Fmt::Ini),
            _ => None,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Fmt::Json => "json",
            Fmt::Yaml => "yaml",
            Fmt::Toml => "toml",
            Fmt::Ini => "ini",
        }
    }
    fn source(self) -> SourceFormat {
        match self {
            Fmt::Json => SourceFormat::Json,
            Fmt::Yaml => SourceFormat::Yaml,
            Fmt::Toml => SourceFormat::Toml,
            Fmt::Ini => SourceFormat::Ini,
        }
    }
}

/// Scenario builder.
#[derive(Clone, Debug, Default)]
pub struct Scenario {
    pub steps: Vec<Step>,
}

impl Scenario {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn apply(mut self, format: Fmt, text: &str) -> Self {
        self.steps.push(Step::Apply {
            format,
            text: text.to_owned(),
            disable_existing: None,
            defaults: Vec::new(),
        });
        self
    }
    pub fn apply_json(self, text: &str) -> Self {
        self.apply(Fmt::Json, text)
    }
    pub fn apply_ini(self, text: &str) -> Self {
        self.apply(Fmt::Ini, text)
    }
    pub fn apply_ini_with(
        mut self,
        text: &str,
        disable_existing: Option<bool>,
        defaults: &[(&str, &str)],
    ) -> Self {
        self.steps.push(Step::Apply {
            format: Fmt::Ini,
            text: text.to_owned(),
            disable_existing,
            defaults: defaults
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        });
        self
    }
    pub fn log(mut self, logger: &str, level: i32, msg: &str) -> Self {
        self.steps.push(Step::Log {
            logger: logger.to_owned(),
            level,
            msg: msg.to_owned(),
        });
        self
    }
    pub fn touch(mut self, logger: &str) -> Self {
        self.steps.push(Step::Touch(logger.to_owned()));
        self
    }
    pub fn state(mut self, logger: &str) -> Self {
        self.steps.push(Step::State(logger.to_owned()));
        self
    }
    pub fn file(mut self, rel: &str) -> Self {
        self.steps.push(Step::File(rel.to_owned()));
        self
    }
}

/// What one run produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Per `Apply`: `Ok(())` or the error text.
    pub applies: Vec<Result<(), String>>,
    /// Per `State`/`File`, in order: a short description.
    pub observations: Vec<String>,
    /// Everything the configured handlers wrote to `sys.stdout`.
    pub stdout: String,
}

impl Outcome {
    pub fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
    pub fn accepted(&self) -> Vec<bool> {
        self.applies.iter().map(Result::is_ok).collect()
    }
}

pub const DEBUG: i32 = 10;
pub const INFO: i32 = 20;
pub const WARNING: i32 = 30;
pub const ERROR: i32 = 40;
pub const CRITICAL: i32 = 50;

const TMP_MARK: &str = "@TMP@";

/// The Python side: interprets the scenario with the real `logging` module. `sys.stdout` is
/// a StringIO while it runs, so `ext://sys.stdout` and INI `sys.stdout` write there.
const PY_DRIVER: &str = r#"
import sys, json, io, logging, logging.config, logging.handlers, os
scenario = json.load(sys.stdin)
real_stdout = sys.stdout
cap = io.StringIO()
sys.stdout = cap
applies, obs = [], []
for step in scenario['steps']:
    k = step['kind']
    if k == 'apply':
        try:
            text, fmt = step['text'], step['format']
            if fmt == 'ini':
                kw = {}
                if step.get('disable_existing') is not None:
                    kw['disable_existing_loggers'] = step['disable_existing']
                if step.get('defaults'):
                    kw['defaults'] = dict(step['defaults'])
                logging.config.fileConfig(io.StringIO(text), **kw)
            elif fmt == 'json':
                logging.config.dictConfig(json.loads(text))
            elif fmt == 'yaml':
                import yaml
                logging.config.dictConfig(yaml.safe_load(text))
            elif fmt == 'toml':
                import tomllib
                logging.config.dictConfig(tomllib.loads(text))
            applies.append(None)
        except Exception as e:
            applies.append('%s: %s (cause: %r)' % (type(e).__name__, e, e.__cause__))
    elif k == 'log':
        logging.getLogger(step['logger']).log(step['level'], step['msg'])
    elif k == 'touch':
        logging.getLogger(step['logger'])
    elif k == 'state':
        name = step['logger']
        lg = logging.root if name in ('', 'root') else logging.root.manager.loggerDict.get(name)
        if not isinstance(lg, logging.Logger):
            obs.append('%s: absent' % name)
        else:
            obs.append('%s: disabled=%s level=%d propagate=%s handlers=%d' % (
                name, bool(lg.disabled), lg.level, bool(lg.propagate), len(lg.handlers)))
    elif k == 'file':
        p = os.path.join(scenario['dir'], step['path'])
        if os.path.exists(p):
            with open(p, encoding='utf-8') as f:
                obs.append('%s: %r' % (step['path'], f.read()))
        else:
            obs.append('%s: missing' % step['path'])
sys.stdout = real_stdout
print(json.dumps({'applies': applies, 'obs': obs, 'stdout': cap.getvalue()}))
"#;

fn python() -> String {
    std::env::var("LOGWIRE_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn subst(text: &str, dir: &Path) -> String {
    text.replace(TMP_MARK, &dir.to_string_lossy())
}

/// Runs the scenario in CPython. Files go to a fresh directory (`@TMP@` in config text).
pub fn run_python(scenario: &Scenario) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let steps: Vec<Value> = scenario
        .steps
        .iter()
        .map(|s| match s {
            Step::Apply {
                format,
                text,
                disable_existing,
                defaults,
            } => json!({
                "kind": "apply", "format": format.name(), "text": subst(text, dir.path()),
                "disable_existing": disable_existing, "defaults": defaults,
            }),
            Step::Log { logger, level, msg } => {
                json!({"kind": "log", "logger": logger, "level": level, "msg": msg})
            }
            Step::Touch(l) => json!({"kind": "touch", "logger": l}),
            Step::State(l) => json!({"kind": "state", "logger": l}),
            Step::File(p) => json!({"kind": "file", "path": p}),
        })
        .collect();
    let input = json!({"steps": steps, "dir": dir.path()}).to_string();
    let mut child = Command::new(python())
        .args(["-c", PY_DRIVER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {} (set LOGWIRE_PYTHON): {e}", python()));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python driver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "python output is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    Outcome {
        applies: v["applies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| match a.as_str() {
                None => Ok(()),
                Some(e) => Err(e.to_owned()),
            })
            .collect(),
        observations: v["obs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_str().unwrap().to_owned())
            .collect(),
        stdout: v["stdout"].as_str().unwrap().to_owned(),
    }
}

/// A shared in-memory buffer standing in for the process's stdout or stderr.
#[derive(Clone, Default)]
pub struct SharedBuf(pub Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuf {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Captures `ext://sys.stdout` and `ext://sys.stderr`.
#[derive(Clone, Default)]
pub struct Capture {
    pub stdout: SharedBuf,
    pub stderr: SharedBuf,
}

impl StreamFactory for Capture {
    fn open(&self, stream: StdStream) -> Box<dyn Write + Send> {
        match stream {
            StdStream::Stdout => Box::new(self.stdout.clone()),
            StdStream::Stderr => Box::new(self.stderr.clone()),
        }
    }
}

/// A configurator with the built-in registry, `policy`, and captured streams.
pub fn configurator(policy: ContentPolicy, capture: &Capture) -> Configurator {
    Configurator::new(HandlerRegistry::with_builtins(), policy)
        .with_streams(Arc::new(capture.clone()))
}

/// Applies one configuration text to `tree` as the scenario runner does.
pub fn apply_step(
    cfg: &Configurator,
    tree: &LoggerTree,
    format: Fmt,
    text: &str,
    disable_existing: Option<bool>,
    defaults: &[(String, String)],
) -> Result<(), String> {
    let result = if format == Fmt::Ini && (disable_existing.is_some() || !defaults.is_empty()) {
        logwire_config::model_from_ini(text, defaults, disable_existing.unwrap_or(true))
            .and_then(|model| cfg.apply_model(tree, model))
    } else {
        cfg.apply_text(tree, text, format.source())
    };
    result.map(|_| ()).map_err(|e| e.to_string())
}

/// Runs the scenario in logwire (trusted policy, captured streams, a fresh tree).
pub fn run_logwire(scenario: &Scenario) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let capture = Capture::default();
    let cfg = configurator(ContentPolicy::trusted(), &capture);
    let tree = LoggerTree::new();
    let mut applies = Vec::new();
    let mut observations = Vec::new();
    for step in &scenario.steps {
        match step {
            Step::Apply {
                format,
                text,
                disable_existing,
                defaults,
            } => {
                applies.push(apply_step(
                    &cfg,
                    &tree,
                    *format,
                    &subst(text, dir.path()),
                    *disable_existing,
                    defaults,
                ));
            }
            Step::Log { logger, level, msg } => tree.get_logger(logger).log(*level, msg.clone()),
            Step::Touch(l) => {
                tree.get_logger(l);
            }
            Step::State(name) => {
                let snap = tree.snapshot();
                let node = if name.is_empty() || name == "root" {
                    Some(snap.root())
                } else {
                    snap.get(name)
                };
                observations.push(match node {
                    Some(n) if !n.is_placeholder() => format!(
                        "{name}: disabled={} level={} propagate={} handlers={}",
                        py_bool(n.disabled()),
                        n.level(),
                        py_bool(n.propagate()),
                        n.handlers().len()
                    ),
                    _ => format!("{name}: absent"),
                });
            }
            Step::File(rel) => {
                let p = dir.path().join(rel);
                observations.push(match std::fs::read_to_string(&p) {
                    Ok(s) => format!("{rel}: {}", py_repr(&s)),
                    Err(_) => format!("{rel}: missing"),
                });
            }
        }
    }
    Outcome {
        applies,
        observations,
        stdout: capture.stdout.text(),
    }
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// Python's `repr` of a str, for the simple ASCII contents the tests write.
pub fn py_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(quote);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Runs both and asserts they agree on accept/reject, stdout and observations.
pub fn assert_same(name: &str, scenario: &Scenario) -> Outcome {
    let py = run_python(scenario);
    let lw = run_logwire(scenario);
    assert_eq!(
        lw.accepted(),
        py.accepted(),
        "{name}: accept/reject differs\nlogwire: {:?}\ncpython: {:?}",
        lw.applies,
        py.applies
    );
    assert_eq!(lw.stdout, py.stdout, "{name}: output differs");
    assert_eq!(lw.observations, py.observations, "{name}: state differs");
    lw
}

/// Asserts that CPython accepts every apply of the scenario but logwire rejects apply
/// number `index` with a message containing `why` (a deliberate rejection).
pub fn assert_deliberately_rejected(name: &str, scenario: &Scenario, index: usize, why: &str) {
    let py = run_python(scenario);
    let lw = run_logwire(scenario);
    assert!(
        py.applies[index].is_ok(),
        "{name}: CPython was expected to accept it: {:?}",
        py.applies[index]
    );
    match &lw.applies[index] {
        Ok(()) => panic!("{name}: logwire accepted a config it must reject ({why})"),
        Err(e) => assert!(
            e.contains(why),
            "{name}: error should say '{why}', got:\n{e}"
        ),
    }
}

/// Reads a file of the test corpus.
pub fn corpus(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}
