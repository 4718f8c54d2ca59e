//! The per-file analysis: a tree-sitter-python syntax tree, a small abstract interpreter over
//! its names, and the five rules.
//!
//! # Contract
//!
//! * Input is the bytes of one Python 2 or 3 file. Syntax errors do not stop the analysis:
//!   tree-sitter recovers, and whatever parsed is analysed (the error subtrees too).
//! * Names are resolved through imports (every spelling: `import a.b`, `import a.b as c`,
//!   `from a import b`, `from a.b import c as d`, `from a.b import *` for the modules the rules
//!   know), plain assignments, tuple unpacking, `for` targets, `with ... as`, walrus, function
//!   parameters (a local function called with network bytes receives them), function returns,
//!   `self.attr` across the methods of a class, and local base classes.
//! * The interpretation is flow-insensitive: every value a name is ever bound to in a scope is
//!   a value it may have anywhere in that scope. That over-approximates, which is the safe
//!   direction for a security finding, and is why `x = None; x = verify_fn` is judged by
//!   `verify_fn`.
//! * Network bytes ("tainted") come from `recv`, `recvfrom`, `recv_bytes`, `recvmsg` on any
//!   object, `read*` on a socket, a `makefile()` stream, a socketserver handler's `rfile` or
//!   `request`/`packet`, an asyncio `StreamReader`, and the data parameter of asyncio or
//!   Twisted protocol callbacks (`data_received`, `datagram_received`, `dataReceived`,
//!   `datagramReceived`, `stringReceived`, `rawDataReceived`). They flow through assignments,
//!   slices and subscripts, `+`, calls (`bytes(data)`, `data.strip()`, `io.BytesIO(data)`),
//!   `append`/`extend`/`write` into a container, and local function parameters and returns.
//! * Nothing in comments or strings is ever a finding: only call nodes are judged.

use std::collections::{BTreeSet, HashMap};

use tree_sitter::{Node, Parser, Tree};

use crate::{Finding, Rule};

/// The grammar's field ids, looked up once. `child_by_field_name` compares the name with the
/// grammar's field names on every call: that was a quarter of the analysis time.
struct Fields {
    alias: u16,
    arguments: u16,
    attribute: u16,
    body: u16,
    function: u16,
    left: u16,
    module_name: u16,
    name: u16,
    object: u16,
    parameters: u16,
    right: u16,
    subscript: u16,
    superclasses: u16,
    value: u16,
}

static F: std::sync::LazyLock<Fields> = std::sync::LazyLock::new(|| {
    let language: tree_sitter::Language = tree_sitter_python::LANGUAGE.into();
    // 0 is no field: a lookup with it finds nothing, which a grammar change would show in
    // every test at once.
    let id = |name: &str| language.field_id_for_name(name).map_or(0, |f| f.get());
    Fields {
        alias: id("alias"),
        arguments: id("arguments"),
        attribute: id("attribute"),
        body: id("body"),
        function: id("function"),
        left: id("left"),
        module_name: id("module_name"),
        name: id("name"),
        object: id("object"),
        parameters: id("parameters"),
        right: id("right"),
        subscript: id("subscript"),
        superclasses: id("superclasses"),
        value: id("value"),
    }
});

fn nz(id: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(id).unwrap_or(std::num::NonZeroU16::MIN)
}

/// A map keyed by tree-sitter node ids (addresses: distinct, so one multiply spreads them);
/// SipHash was a visible share of the analysis time.
type IdMap<V> = HashMap<usize, V, std::hash::BuildHasherDefault<IdHasher>>;

#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// An abstract value a Python expression may have.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Val {
    /// A module or a module-level object, by its dotted name (`logging.config.listen`).
    Qual(String),
    /// A string literal.
    Str(String),
    /// The literal `None`.
    None,
    /// A function or lambda of this file (index into `Analysis::funcs`).
    Func(usize),
    /// A class of this file (index into `Analysis::classes`).
    Class(usize),
    /// An instance of a class of this file.
    Instance(usize),
    /// A socket (a connection or a listening socket).
    Socket,
    /// A readable stream whose bytes come from the network.
    Stream,
    /// Bytes (or anything built from them) that came from the network.
    Tainted,
}

type Vals = BTreeSet<Val>;

fn tainted(v: &Vals) -> bool {
    v.contains(&Val::Tainted) || v.contains(&Val::Stream)
}

struct Func<'t> {
    node: Node<'t>,
    params: Vec<String>,
    /// A method (defined directly in a class body, not a staticmethod): the first parameter
    /// is the instance, so call arguments start at the second.
    is_method: bool,
    scope: usize,
    returns: Vals,
}

struct Class<'t> {
    name: String,
    bases: Vec<Node<'t>>,
    /// The scope the class statement is in (bases are evaluated there).
    outer: usize,
    methods: HashMap<String, usize>,
    /// Values assigned to `self.NAME` in any method.
    attrs: HashMap<String, Vals>,
}

#[derive(Default)]
struct Scope {
    parent: Option<usize>,
    names: HashMap<String, Vals>,
    /// Modules star-imported here (`from socket import *`).
    star: Vec<String>,
}

enum Fact<'t> {
    /// `target = value` (or `+=`, or a `for`/`with`/walrus binding).
    Bind {
        scope: usize,
        target: Node<'t>,
        value: Node<'t>,
    },
    /// A parameter's default value, evaluated in the scope around the def.
    Default {
        outer: usize,
        body: usize,
        name: String,
        value: Node<'t>,
    },
    /// `return value` in function `func`.
    Return {
        func: usize,
        scope: usize,
        value: Node<'t>,
    },
}

/// Modules star-imported names are looked up in: only those the rules know about.
const STAR_MODULES: &[&str] = &[
    "socket",
    "socketserver",
    "pickle",
    "cPickle",
    "_pickle",
    "logging.config",
    "logging.handlers",
    "asyncio",
];

const PICKLE_MODULES: &[&str] = &[
    "pickle",
    "cPickle",
    "_pickle",
    "dill",
    "cloudpickle",
    "pickle5",
];

/// Twisted and asyncio protocol callbacks whose first argument is the bytes received.
const DATA_CALLBACKS: &[&str] = &[
    "data_received",
    "datagram_received",
    "dataReceived",
    "datagramReceived",
    "stringReceived",
    "rawDataReceived",
];

/// Python 2 and `six` spellings mapped to the Python 3 module name the rules use.
fn canonical(q: &str) -> String {
    for (old, new) in [
        ("SocketServer", "socketserver"),
        ("six.moves.socketserver", "socketserver"),
        ("six.moves.cPickle", "cPickle"),
        ("trollius", "asyncio"),
    ] {
        if q == old {
            return new.to_string();
        }
        if let Some(rest) = q.strip_prefix(old).and_then(|r| r.strip_prefix('.')) {
            return format!("{new}.{rest}");
        }
    }
    q.to_string()
}

fn is_pickle_sink(q: &str) -> bool {
    let Some((module, name)) = q.rsplit_once('.') else {
        return false;
    };
    PICKLE_MODULES.contains(&module)
        && matches!(
            name,
            "loads" | "load" | "Unpickler" | "_loads" | "_load" | "_Unpickler"
        )
}

fn is_unpickler_class(q: &str) -> bool {
    q.rsplit_once('.')
        .is_some_and(|(m, n)| PICKLE_MODULES.contains(&m) && n.ends_with("Unpickler"))
}

fn is_sender_class(q: &str) -> bool {
    matches!(
        q,
        "logging.handlers.SocketHandler" | "logging.handlers.DatagramHandler"
    )
}

#[derive(Clone, Copy, PartialEq)]
enum HandlerKind {
    Stream,
    Datagram,
    Base,
}

fn handler_kind(q: &str) -> Option<HandlerKind> {
    match q {
        "socketserver.StreamRequestHandler" => Some(HandlerKind::Stream),
        "socketserver.DatagramRequestHandler" => Some(HandlerKind::Datagram),
        "socketserver.BaseRequestHandler" => Some(HandlerKind::Base),
        _ => None,
    }
}

/// The analysis of one file.
pub(crate) struct Analysis<'t> {
    src: &'t [u8],
    scopes: Vec<Scope>,
    funcs: Vec<Func<'t>>,
    classes: Vec<Class<'t>>,
    facts: Vec<Fact<'t>>,
    calls: Vec<(Node<'t>, usize)>,
    /// Parameters bound from call sites, kept apart so that a function's own assignments
    /// and its callers' arguments both count.
    changed: bool,
    /// Nodes still to visit in pass 1, with their scope, function and class.
    work: Vec<(Node<'t>, usize, Option<usize>, Option<usize>)>,
    /// How deep `eval` is nested: past [`MAX_EVAL_DEPTH`] an expression is unknown.
    depth: std::cell::Cell<usize>,
    /// `eval` results by node id, valid for one round of the fixpoint (values only grow, so
    /// a stale entry only delays convergence by a round; the last round, in which nothing
    /// changes, sees exact values). Without it a chain of calls is evaluated exponentially.
    cache: std::cell::RefCell<IdMap<Vals>>,
    /// Each call's arguments, split once (they were re-split on every round).
    args: IdMap<std::rc::Rc<Args<'t>>>,
    /// Whether the file imports a module a finding needs (logging, a pickle module, six).
    /// Every name the rules resolve to starts at such an import, so without one there is
    /// nothing to solve.
    relevant: bool,
}

/// Deeper expressions than this (a 300-term `+` chain) evaluate to "unknown" rather than
/// overflow the stack; no real data flow needs more.
const MAX_EVAL_DEPTH: usize = 200;

/// At most this many values per name before further string and dotted-name values are
/// dropped.
const MAX_STRINGS: usize = 16;

/// Dotted names longer than this are not built (`logging.handlers.SocketHandler` has 2 dots).
const MAX_QUAL_DOTS: usize = 4;

/// Parses `src` as Python. `None` only if tree-sitter itself fails (no language, cancelled),
/// never for a syntax error.
pub(crate) fn parse(src: &[u8]) -> Option<Tree> {
    let mut parser = Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .ok()?;
    parser.parse(src, None)
}

/// Runs every rule on one parsed file.
pub(crate) fn findings(tree: &Tree, src: &[u8], path: &str) -> Vec<Finding> {
    let mut a = Analysis {
        src,
        scopes: vec![Scope::default()],
        funcs: Vec::new(),
        classes: Vec::new(),
        facts: Vec::new(),
        calls: Vec::new(),
        changed: false,
        work: Vec::new(),
        depth: std::cell::Cell::new(0),
        cache: Default::default(),
        args: IdMap::default(),
        relevant: false,
    };
    a.collect(tree.root_node());
    if !a.relevant {
        return Vec::new();
    }
    a.solve();
    a.cache.borrow_mut().clear();
    let mut out = a.judge(path);
    out.sort_by_key(|f| (f.line, f.column, f.rule));
    out.dedup_by(|x, y| x.line == y.line && x.column == y.column && x.rule == y.rule);
    out
}

impl<'t> Analysis<'t> {
    fn text(&self, n: Node<'_>) -> &'t str {
        std::str::from_utf8(&self.src[n.byte_range()]).unwrap_or("")
    }

    fn args(&self, call: Node<'t>) -> std::rc::Rc<Args<'t>> {
        match self.args.get(&call.id()) {
            Some(a) => a.clone(),
            None => std::rc::Rc::new(call_args(call, self.src)),
        }
    }

    fn new_scope(&mut self, parent: usize) -> usize {
        self.scopes.push(Scope {
            parent: Some(parent),
            ..Scope::default()
        });
        self.scopes.len() - 1
    }

    fn bind(&mut self, scope: usize, name: &str, vals: Vals) {
        if vals.is_empty() {
            return;
        }
        let slot = self.scopes[scope]
            .names
            .entry(name.to_string())
            .or_default();
        let before = slot.len();
        for v in vals {
            // A name assigned hundreds of strings (tables, test data) would make every
            // lookup copy them all; strings only matter as a sender's host, where a handful
            // is plenty.
            if slot.len() >= MAX_STRINGS && matches!(v, Val::Str(_) | Val::Qual(_)) {
                continue;
            }
            slot.insert(v);
        }
        if slot.len() != before {
            self.changed = true;
        }
    }

    // ---- pass 1: scopes, imports, definitions and the facts to solve -------------------

    /// `func`: the function whose body this is (for returns); `class`: the class whose body
    /// this node is directly in (for methods).
    /// Walks the whole tree with an explicit stack: real files nest deeply enough (long
    /// operator chains, generated code) to overflow a walker thread's stack by recursion.
    fn collect(&mut self, root: Node<'t>) {
        self.work.push((root, 0, None, None));
        while let Some((node, scope, func, class)) = self.work.pop() {
            self.visit(node, scope, func, class);
        }
    }

    fn visit(&mut self, node: Node<'t>, scope: usize, func: Option<usize>, class: Option<usize>) {
        match node.kind() {
            "import_statement" => return self.import(node, scope),
            "import_from_statement" => return self.import_from(node, scope),
            "function_definition" => return self.function(node, scope, class),
            "lambda" => {
                let f = self.define_func(node, scope, false);
                let body_scope = self.funcs[f].scope;
                if let Some(body) = node.child_by_field_id(F.body) {
                    self.facts.push(Fact::Return {
                        func: f,
                        scope: body_scope,
                        value: body,
                    });
                    self.work.push((body, body_scope, Some(f), None));
                }
                return;
            }
            "class_definition" => return self.class(node, scope),
            "assignment" | "augmented_assignment" | "for_statement" | "for_in_clause" => {
                self.bind_fields(node, scope, F.left, F.right)
            }
            "named_expression" => self.bind_fields(node, scope, F.name, F.value),
            "as_pattern" => {
                // `with EXPR as NAME` (and `except E as e`, harmless: a class is no taint).
                let value = node.named_child(0);
                let alias = node
                    .child_by_field_id(F.alias)
                    .and_then(|a| a.named_child(0));
                if let (Some(v), Some(t)) = (value, alias) {
                    self.facts.push(Fact::Bind {
                        scope,
                        target: t,
                        value: v,
                    });
                }
            }
            "return_statement" => {
                if let (Some(f), Some(v)) = (func, node.named_child(0)) {
                    self.facts.push(Fact::Return {
                        func: f,
                        scope,
                        value: v,
                    });
                }
            }
            "call" => {
                self.calls.push((node, scope));
                let args = std::rc::Rc::new(call_args(node, self.src));
                self.args.insert(node.id(), args);
            }
            _ => {}
        }
        let mut cursor = node.walk();
        let children: Vec<_> = node.children(&mut cursor).collect();
        for child in children {
            self.work.push((child, scope, func, class));
        }
    }

    fn note_module(&mut self, module: &str) {
        let root = module.split('.').next().unwrap_or(module).trim();
        if matches!(root, "logging" | "six") || PICKLE_MODULES.contains(&root) {
            self.relevant = true;
        }
    }

    fn import(&mut self, node: Node<'t>, scope: usize) {
        let mut cursor = node.walk();
        let names: Vec<_> = node.children_by_field_id(nz(F.name), &mut cursor).collect();
        for n in names {
            match n.kind() {
                "dotted_name" => {
                    let full = self.text(n);
                    self.note_module(full);
                    let first = full.split('.').next().unwrap_or(full).trim();
                    self.bind(scope, first, Vals::from([Val::Qual(canonical(first))]));
                }
                "aliased_import" => {
                    if let (Some(m), Some(a)) =
                        (n.child_by_field_id(F.name), n.child_by_field_id(F.alias))
                    {
                        let q = canonical(&dotted(self.text(m)));
                        self.note_module(&q);
                        self.bind(scope, self.text(a), Vals::from([Val::Qual(q)]));
                    }
                }
                _ => {}
            }
        }
    }

    fn import_from(&mut self, node: Node<'t>, scope: usize) {
        let Some(module) = node.child_by_field_id(F.module_name) else {
            return;
        };
        if module.kind() != "dotted_name" {
            return; // relative imports name this project's modules, none the rules know
        }
        let module = dotted(self.text(module));
        self.note_module(&module);
        let mut cursor = node.walk();
        let children: Vec<_> = node.children(&mut cursor).collect();
        for n in children {
            if n.kind() == "wildcard_import" {
                let m = canonical(&module);
                if STAR_MODULES.contains(&m.as_str()) {
                    self.scopes[scope].star.push(m);
                }
            }
        }
        let names: Vec<_> = node.children_by_field_id(nz(F.name), &mut cursor).collect();
        for n in names {
            let (name, alias) = match n.kind() {
                "dotted_name" => (self.text(n), self.text(n)),
                "aliased_import" => {
                    match (n.child_by_field_id(F.name), n.child_by_field_id(F.alias)) {
                        (Some(m), Some(a)) => (self.text(m), self.text(a)),
                        _ => continue,
                    }
                }
                _ => continue,
            };
            let q = canonical(&format!("{module}.{}", dotted(name)));
            self.bind(scope, alias, Vals::from([Val::Qual(q)]));
        }
    }

    fn define_func(&mut self, node: Node<'t>, scope: usize, is_method: bool) -> usize {
        let body_scope = self.new_scope(scope);
        let mut params = Vec::new();
        if let Some(ps) = node.child_by_field_id(F.parameters) {
            let mut cursor = ps.walk();
            for p in ps.named_children(&mut cursor) {
                let name_node = match p.kind() {
                    "identifier" => Some(p),
                    "default_parameter" | "typed_default_parameter" => p.child_by_field_id(F.name),
                    "typed_parameter" => p.named_child(0),
                    _ => None, // *args, **kwargs, tuple parameters (Python 2), `/`, `*`
                };
                match name_node.filter(|n| n.kind() == "identifier") {
                    Some(n) => {
                        params.push(self.text(n).to_string());
                        // The default is one more value the parameter may have (evaluated
                        // where the def is: `verify=None` makes a wrapper's listen() unsafe
                        // for the callers that pass nothing).
                        if let Some(value) = p.child_by_field_id(F.value) {
                            self.facts.push(Fact::Default {
                                outer: scope,
                                body: body_scope,
                                name: self.text(n).to_string(),
                                value,
                            });
                        }
                    }
                    None => params.push(String::new()),
                }
            }
        }
        self.funcs.push(Func {
            node,
            params,
            is_method,
            scope: body_scope,
            returns: Vals::new(),
        });
        self.funcs.len() - 1
    }

    fn function(&mut self, node: Node<'t>, scope: usize, class: Option<usize>) {
        let static_method = node.parent().is_some_and(|p| {
            p.kind() == "decorated_definition" && {
                let mut c = p.walk();
                p.named_children(&mut c)
                    .any(|d| d.kind() == "decorator" && self.text(d).contains("staticmethod"))
            }
        });
        let is_method = class.is_some() && !static_method;
        // A method's body does not see the class body's names: its scope hangs off the
        // scope around the class.
        let outer = match class {
            Some(c) => self.classes[c].outer,
            None => scope,
        };
        let f = self.define_func(node, outer, is_method);
        let name = node
            .child_by_field_id(F.name)
            .map(|n| self.text(n))
            .unwrap_or("");
        self.bind(scope, name, Vals::from([Val::Func(f)]));
        let body_scope = self.funcs[f].scope;
        if let Some(c) = class {
            self.classes[c].methods.insert(name.to_string(), f);
            if is_method {
                if let Some(first) = self.funcs[f].params.first().cloned() {
                    self.bind(body_scope, &first, Vals::from([Val::Instance(c)]));
                }
                if DATA_CALLBACKS.contains(&name)
                    && let Some(data) = self.funcs[f].params.get(1).cloned()
                {
                    self.bind(body_scope, &data, Vals::from([Val::Tainted]));
                }
            }
        }
        if let Some(body) = node.child_by_field_id(F.body) {
            self.work.push((body, body_scope, Some(f), None));
        }
    }

    /// `target = value` in any of its spellings (`=`, `+=`, `for … in`, `:=`): the fact that
    /// the target holds what the value holds, where both fields are present.
    fn bind_fields(&mut self, node: Node<'t>, scope: usize, target: u16, value: u16) {
        if let (Some(target), Some(value)) = (
            node.child_by_field_id(target),
            node.child_by_field_id(value),
        ) {
            self.facts.push(Fact::Bind {
                scope,
                target,
                value,
            });
        }
    }

    fn class(&mut self, node: Node<'t>, scope: usize) {
        let name = node
            .child_by_field_id(F.name)
            .map(|n| self.text(n))
            .unwrap_or("");
        let mut bases = Vec::new();
        if let Some(sup) = node.child_by_field_id(F.superclasses) {
            let mut c = sup.walk();
            bases.extend(
                sup.named_children(&mut c)
                    .filter(|b| b.kind() != "keyword_argument"),
            );
        }
        self.classes.push(Class {
            name: name.to_string(),
            bases,
            outer: scope,
            methods: HashMap::new(),
            attrs: HashMap::new(),
        });
        let c = self.classes.len() - 1;
        self.bind(scope, name, Vals::from([Val::Class(c)]));
        let body_scope = self.new_scope(scope);
        if let Some(body) = node.child_by_field_id(F.body) {
            let mut cursor = body.walk();
            let children: Vec<_> = body.children(&mut cursor).collect();
            for child in children {
                self.work.push((child, body_scope, None, Some(c)));
            }
        }
    }

    // ---- pass 2: propagate values to a fixpoint ----------------------------------------

    fn solve(&mut self) {
        // Each round can only add values; the lattice is finite per file. The bound is a
        // guard against a pathological file, far above what real code needs (3-4 rounds).
        for _ in 0..32 {
            self.changed = false;
            self.cache.borrow_mut().clear();
            for i in 0..self.facts.len() {
                match self.facts[i] {
                    Fact::Bind {
                        scope,
                        target,
                        value,
                    } => {
                        let v = self.eval(value, scope);
                        self.bind_target(target, v, scope);
                    }
                    Fact::Default {
                        outer,
                        body,
                        ref name,
                        value,
                    } => {
                        let v = self.eval(value, outer);
                        let name = name.clone();
                        self.bind(body, &name, v);
                    }
                    Fact::Return { func, scope, value } => {
                        let v = self.eval(value, scope);
                        let r = &mut self.funcs[func].returns;
                        let before = r.len();
                        r.extend(v);
                        if r.len() != before {
                            self.changed = true;
                        }
                    }
                }
            }
            for i in 0..self.calls.len() {
                let (call, scope) = self.calls[i];
                self.propagate_call(call, scope);
            }
            if !self.changed {
                break;
            }
        }
    }

    fn bind_target(&mut self, target: Node<'t>, vals: Vals, scope: usize) {
        let d = self.depth.get();
        if d >= MAX_EVAL_DEPTH {
            return;
        }
        self.depth.set(d + 1);
        self.bind_target_node(target, vals, scope);
        self.depth.set(d);
    }

    fn bind_target_node(&mut self, target: Node<'t>, vals: Vals, scope: usize) {
        match target.kind() {
            "identifier" => self.bind(scope, self.text(target), vals),
            "attribute" => {
                let (Some(obj), Some(attr)) = (
                    target.child_by_field_id(F.object),
                    target.child_by_field_id(F.attribute),
                ) else {
                    return;
                };
                let objs = self.eval(obj, scope);
                let name = self.text(attr).to_string();
                for o in objs {
                    if let Val::Instance(c) = o {
                        let slot = self.classes[c].attrs.entry(name.clone()).or_default();
                        let before = slot.len();
                        slot.extend(vals.iter().cloned());
                        if slot.len() != before {
                            self.changed = true;
                        }
                    }
                }
            }
            "subscript" => {
                // `buf[n:] = data` makes `buf` hold network bytes.
                if tainted(&vals)
                    && let Some(v) = target.child_by_field_id(F.value)
                {
                    self.bind_target(v, Vals::from([Val::Tainted]), scope);
                }
            }
            "pattern_list"
            | "tuple_pattern"
            | "list_pattern"
            | "tuple"
            | "list"
            | "expression_list"
            | "parenthesized_expression"
            | "list_splat_pattern"
            | "list_splat" => {
                let mut c = target.walk();
                let parts: Vec<_> = target.named_children(&mut c).collect();
                for p in parts {
                    self.bind_target(p, vals.clone(), scope);
                }
            }
            _ => {}
        }
    }

    /// What a call teaches about other names: arguments flow into a local function's
    /// parameters, and `x.append(data)` / `x.write(data)` / `sock.recv_into(buf)` make the
    /// container hold network bytes.
    fn propagate_call(&mut self, call: Node<'t>, scope: usize) {
        let args = self.args(call);
        let Some(callee) = args.callee else {
            return;
        };
        if let Some((obj, attr)) = args.method {
            match self.text(attr) {
                "append" | "extend" | "write" | "insert" | "appendleft" | "put" | "put_nowait"
                | "feed"
                    if args
                        .positional
                        .iter()
                        .any(|a| tainted(&self.eval(*a, scope))) =>
                {
                    self.bind_target(obj, Vals::from([Val::Tainted]), scope);
                }
                "recv_into" | "recvfrom_into" | "readinto" | "recvmsg_into" => {
                    let from_net = self.text(attr).starts_with("recv")
                        || self.eval(obj, scope).iter().any(is_net);
                    if from_net && let Some(buf) = args.positional.first() {
                        self.bind_target(*buf, Vals::from([Val::Tainted]), scope);
                    }
                }
                _ => {}
            }
        }
        let callees = self.eval(callee, scope);
        for cv in &callees {
            match cv {
                Val::Func(f) => self.pass_args(*f, &args, scope, callee.kind() == "attribute"),
                Val::Class(c) => {
                    if let Some(&init) = self.classes[*c].methods.get("__init__") {
                        self.pass_args(init, &args, scope, true);
                    }
                }
                Val::Qual(q)
                    if matches!(
                        q.as_str(),
                        "asyncio.start_server" | "asyncio.start_unix_server"
                    ) =>
                {
                    // The client callback gets (reader, writer).
                    let cb = args
                        .positional
                        .first()
                        .copied()
                        .or_else(|| args.keyword("client_connected_cb"));
                    if let Some(cb) = cb {
                        for v in self.eval(cb, scope) {
                            if let Val::Func(f) = v {
                                let skip = usize::from(self.funcs[f].is_method);
                                let body = self.funcs[f].scope;
                                if let Some(p) = self.funcs[f].params.get(skip).cloned() {
                                    self.bind(body, &p, Vals::from([Val::Stream]));
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Binds the network values among `args` to the parameters of local function `f`.
    /// `bound`: called through an attribute (`self.f(x)`, `obj.f(x)`), so a method's first
    /// parameter is already taken by the instance.
    fn pass_args(&mut self, f: usize, args: &Args<'t>, scope: usize, bound: bool) {
        let skip = usize::from(self.funcs[f].is_method && bound);
        let body = self.funcs[f].scope;
        for (i, a) in args.positional.iter().enumerate() {
            let v = self.eval(*a, scope);
            if let Some(p) = self.funcs[f].params.get(i + skip).cloned()
                && !p.is_empty()
            {
                self.bind(body, &p, v);
            }
        }
        for (name, a) in &args.keywords {
            let v = self.eval(*a, scope);
            if self.funcs[f].params.iter().any(|p| p == name) {
                self.bind(body, name, v);
            }
        }
    }

    // ---- evaluation ----------------------------------------------------------------------

    fn lookup(&self, scope: usize, name: &str) -> Vals {
        let mut s = Some(scope);
        while let Some(i) = s {
            if let Some(v) = self.scopes[i].names.get(name) {
                return v.clone();
            }
            if let Some(m) = self.scopes[i].star.first() {
                // A star import could bind any name; only the names of the modules the rules
                // care about matter, so pretend each star module has the name.
                let mut out = Vals::new();
                for m in &self.scopes[i].star {
                    out.insert(Val::Qual(format!("{m}.{name}")));
                }
                let _ = m;
                return out;
            }
            s = self.scopes[i].parent;
        }
        Vals::new()
    }

    /// The classes `c` inherits from, itself first, local ones followed through their bases.
    fn mro(&self, c: usize) -> (Vec<usize>, Vec<String>) {
        let mut local = vec![c];
        let mut foreign = Vec::new();
        let mut i = 0;
        while i < local.len() && local.len() < 64 {
            let cls = &self.classes[local[i]];
            for b in &cls.bases {
                for v in self.eval(*b, cls.outer) {
                    match v {
                        Val::Class(d) if !local.contains(&d) => local.push(d),
                        Val::Qual(q) => foreign.push(q),
                        _ => {}
                    }
                }
            }
            i += 1;
        }
        (local, foreign)
    }

    fn instance_attr(&self, c: usize, attr: &str) -> Vals {
        let (local, foreign) = self.mro(c);
        let mut out = Vals::new();
        for &d in &local {
            if let Some(&m) = self.classes[d].methods.get(attr) {
                out.insert(Val::Func(m));
            }
            if let Some(v) = self.classes[d].attrs.get(attr) {
                out.extend(v.iter().cloned());
            }
        }
        let kind = foreign.iter().find_map(|q| handler_kind(q));
        match (attr, kind) {
            // socketserver: a stream handler's request is its socket, a datagram handler's
            // is (data, socket); rfile reads the request's bytes.
            ("request", Some(HandlerKind::Stream)) | ("connection", Some(_)) => {
                out.insert(Val::Socket);
            }
            ("request", Some(HandlerKind::Datagram)) | ("packet", Some(_)) => {
                out.insert(Val::Tainted);
            }
            ("request", Some(HandlerKind::Base)) => {
                out.insert(Val::Socket);
                out.insert(Val::Tainted);
            }
            // `rfile` is socketserver's name for the request stream, even where the base class
            // is not visible (imported from elsewhere in a project).
            ("rfile", _) => {
                out.insert(Val::Stream);
            }
            _ => {}
        }
        out
    }

    fn eval(&self, n: Node<'t>, scope: usize) -> Vals {
        let d = self.depth.get();
        if d >= MAX_EVAL_DEPTH {
            return Vals::new();
        }
        if let Some(v) = self.cache.borrow().get(&n.id()) {
            return v.clone();
        }
        self.depth.set(d + 1);
        let out = self.eval_node(n, scope);
        self.depth.set(d);
        self.cache.borrow_mut().insert(n.id(), out.clone());
        out
    }

    fn eval_node(&self, n: Node<'t>, scope: usize) -> Vals {
        match n.kind() {
            "identifier" => self.lookup(scope, self.text(n)),
            "none" => Vals::from([Val::None]),
            "string" => string_literal(n, self.src)
                .map(Val::Str)
                .into_iter()
                .collect(),
            "lambda" => self
                .funcs
                .iter()
                .position(|f| f.node.id() == n.id())
                .map(Val::Func)
                .into_iter()
                .collect(),
            "parenthesized_expression" | "await" | "named_expression" => {
                let inner = n
                    .child_by_field_id(F.value)
                    .or_else(|| n.named_child(n.named_child_count().saturating_sub(1) as u32));
                inner.map(|i| self.eval(i, scope)).unwrap_or_default()
            }
            "assignment" => n
                .child_by_field_id(F.right)
                .map(|r| self.eval(r, scope))
                .unwrap_or_default(),
            "conditional_expression" | "boolean_operator" => {
                let mut out = Vals::new();
                let mut c = n.walk();
                for (i, part) in n.named_children(&mut c).enumerate() {
                    // `a if cond else b`: the condition (index 1) is not a result.
                    if n.kind() == "conditional_expression" && i == 1 {
                        continue;
                    }
                    out.extend(self.eval(part, scope));
                }
                out
            }
            "attribute" => {
                let (Some(obj), Some(attr)) = (
                    n.child_by_field_id(F.object),
                    n.child_by_field_id(F.attribute),
                ) else {
                    return Vals::new();
                };
                let attr = self.text(attr);
                let mut out = Vals::new();
                // socketserver's names for a request's bytes, on whatever object holds the
                // request: handlers are often handed to callbacks (`def handle(self,
                // request): request.packet`, as in CPython's test_logging).
                match attr {
                    "rfile" => {
                        out.insert(Val::Stream);
                    }
                    "packet" => {
                        out.insert(Val::Tainted);
                    }
                    _ => {}
                }
                for v in self.eval(obj, scope) {
                    match v {
                        // `x = x.parent` in a loop would otherwise grow names without end
                        // (and the fixpoint with them); every name the rules know is short.
                        Val::Qual(q) if q.matches('.').count() < MAX_QUAL_DOTS => {
                            out.insert(Val::Qual(canonical(&format!("{q}.{attr}"))));
                        }
                        Val::Instance(c) => out.extend(self.instance_attr(c, attr)),
                        Val::Class(c) => {
                            if let Some(&m) = self.classes[c].methods.get(attr) {
                                out.insert(Val::Func(m));
                            }
                        }
                        _ => {}
                    }
                }
                out
            }
            "subscript" | "slice" => {
                let base = n.child_by_field_id(F.value).or_else(|| n.named_child(0));
                match base {
                    Some(b) if tainted(&self.eval(b, scope)) => Vals::from([Val::Tainted]),
                    _ => Vals::new(),
                }
            }
            "binary_operator"
            | "list"
            | "tuple"
            | "expression_list"
            | "concatenated_string"
            | "list_comprehension"
            | "generator_expression"
            | "yield"
            | "unary_operator"
            | "list_splat"
            | "starred_expression" => {
                let mut c = n.walk();
                let any = n
                    .named_children(&mut c)
                    .any(|p| tainted(&self.eval(p, scope)));
                if any {
                    Vals::from([Val::Tainted])
                } else {
                    Vals::new()
                }
            }
            "call" => self.eval_call(n, scope),
            _ => Vals::new(),
        }
    }

    fn eval_call(&self, n: Node<'t>, scope: usize) -> Vals {
        let args = self.args(n);
        let Some(callee) = args.callee else {
            return Vals::new();
        };
        let mut out = Vals::new();
        let mut receiver = Vals::new();
        if let Some((obj, attr)) = args.method {
            receiver = self.eval(obj, scope);
            match self.text(attr) {
                // Socket receives: whatever the object, these names mean bytes from a peer.
                "recv" | "recvfrom" | "recv_bytes" | "recvmsg" => {
                    out.insert(Val::Tainted);
                }
                "accept" => {
                    out.insert(Val::Socket);
                }
                "makefile" => {
                    out.insert(Val::Stream);
                }
                "wrap_socket"
                    if args
                        .all()
                        .any(|a| self.eval(a, scope).contains(&Val::Socket)) =>
                {
                    out.insert(Val::Socket);
                }
                "read" | "readline" | "readlines" | "read1" | "readall" | "readexactly"
                | "readuntil" | "getvalue" | "getbuffer"
                    if receiver.iter().any(is_net) =>
                {
                    out.insert(Val::Tainted);
                }
                _ => {}
            }
        }
        let mut opaque = true;
        for cv in self.eval(callee, scope) {
            match cv {
                Val::Func(f) => {
                    out.extend(self.funcs[f].returns.iter().cloned());
                    opaque = false;
                }
                Val::Class(c) => {
                    out.insert(Val::Instance(c));
                    opaque = false;
                }
                Val::Qual(q) => match q.as_str() {
                    "socket.socket"
                    | "socket.create_connection"
                    | "socket.fromfd"
                    | "socket.socketpair"
                    | "socket.create_server"
                    | "ssl.wrap_socket"
                    | "socket.SocketType" => {
                        out.insert(Val::Socket);
                    }
                    "asyncio.open_connection" | "asyncio.open_unix_connection" => {
                        out.insert(Val::Stream);
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        // Any other call with network bytes in or on it (`bytes(d)`, `d.strip()`,
        // `io.BytesIO(d)`, `zlib.decompress(d)`, `b"".join(parts)`) yields network bytes.
        if opaque && (tainted(&receiver) || args.all().any(|a| tainted(&self.eval(a, scope)))) {
            out.insert(Val::Tainted);
        }
        out
    }

    // ---- pass 3: the rules ---------------------------------------------------------------

    fn judge(&self, path: &str) -> Vec<Finding> {
        let mut out = Vec::new();
        for &(call, scope) in &self.calls {
            let Some(callee) = self.args(call).callee else {
                continue;
            };
            let callees = self.eval(callee, scope);
            for cv in &callees {
                let q = match cv {
                    Val::Qual(q) => q.clone(),
                    Val::Class(c) => {
                        let (local, foreign) = self.mro(*c);
                        let overrides = local.iter().any(|d| {
                            ["makePickle", "makeSocket", "send"]
                                .iter()
                                .any(|m| self.classes[*d].methods.contains_key(*m))
                        });
                        let restricted = local
                            .iter()
                            .any(|d| self.classes[*d].methods.contains_key("find_class"));
                        match foreign
                            .iter()
                            .find(|q| is_unpickler_class(q) || is_sender_class(q))
                        {
                            // A subclass that frames or signs records itself is not plain pickle.
                            Some(q) if is_sender_class(q) && overrides => continue,
                            // An Unpickler whose find_class decides what may be loaded is the
                            // pickle documentation's "restricting globals": not reported.
                            Some(q) if is_unpickler_class(q) && restricted => continue,
                            Some(q) => format!("{q} ({})", self.classes[*c].name),
                            None => continue,
                        }
                    }
                    _ => continue,
                };
                let base = q.split(' ').next().unwrap_or("").to_string();
                if base == "logging.config.listen" {
                    out.push(self.listen(call, scope, path));
                } else if is_pickle_sink(&base) || is_unpickler_class(&base) {
                    if let Some(f) = self.pickle(call, scope, path, &q) {
                        out.push(f);
                    }
                } else if is_sender_class(&base)
                    && let Some(f) = self.sender(call, scope, path, &q)
                {
                    out.push(f);
                }
            }
        }
        out
    }

    fn finding(&self, rule: Rule, node: Node<'_>, path: &str, message: String) -> Finding {
        Finding::new(
            rule,
            path,
            self.src,
            node.start_byte(),
            node.end_byte(),
            message,
        )
    }

    fn listen(&self, call: Node<'t>, scope: usize, path: &str) -> Finding {
        let args = self.args(call);
        let verify = args
            .keyword("verify")
            .or_else(|| args.positional.get(1).copied());
        let Some(verify) = verify else {
            if args.has_double_splat {
                return self.finding(
                    Rule::ListenVerified,
                    call,
                    path,
                    "logging.config.listen() with verify possibly passed through **kwargs: the config \
                     still reaches dictConfig, which imports whatever it names"
                        .into(),
                );
            }
            return self.finding(
                Rule::ListenNoVerify,
                call,
                path,
                "logging.config.listen() without verify: anyone who can connect to the port runs \
                 code in this process (a config naming any callable is applied)"
                    .into(),
            );
        };
        let vals = self.eval(verify, scope);
        if vals.contains(&Val::None) {
            let message = if vals.len() == 1 {
                "logging.config.listen() with verify=None: anyone who can connect to the port runs \
                 code in this process"
                    .to_string()
            } else {
                format!(
                    "logging.config.listen() with verify={} that may be None (a default, an \
                     initial value or a caller passes None): then anyone who can connect to the \
                     port runs code in this process",
                    self.text(verify)
                )
            };
            return self.finding(Rule::ListenNoVerify, call, path, message);
        }
        let funcs: Vec<usize> = vals
            .iter()
            .filter_map(|v| if let Val::Func(f) = v { Some(*f) } else { None })
            .collect();
        let only_funcs =
            !vals.is_empty() && funcs.len() == vals.iter().filter(|v| **v != Val::None).count();
        if only_funcs && !funcs.is_empty() && funcs.iter().all(|&f| self.accepts_everything(f)) {
            return self.finding(
                Rule::ListenWeakVerify,
                call,
                path,
                format!(
                    "logging.config.listen() with a verify that returns its input unchanged ({}): \
                     every config is accepted, as without verify",
                    self.text(verify)
                ),
            );
        }
        self.finding(
            Rule::ListenVerified,
            call,
            path,
            format!(
                "logging.config.listen() with verify={}: whatever it lets through still reaches \
                 dictConfig/fileConfig, which import and call what the config names",
                self.text(verify)
            ),
        )
    }

    /// A verify function that visibly accepts everything: it never raises, and every return
    /// gives back its data parameter unchanged (`data`, `bytes(data)`, `data[:]`), perhaps
    /// after printing or logging it. A function with no return at all returns None, which
    /// makes listen() drop every config: that is not weak.
    fn accepts_everything(&self, f: usize) -> bool {
        let func = &self.funcs[f];
        let Some(param) = func.params.get(usize::from(func.is_method)) else {
            return false;
        };
        if param.is_empty() {
            return false;
        }
        if func.node.kind() == "lambda" {
            return func
                .node
                .child_by_field_id(F.body)
                .is_some_and(|b| self.is_identity(b, param));
        }
        let Some(body) = func.node.child_by_field_id(F.body) else {
            return false;
        };
        let mut returns = Vec::new();
        let mut raises = false;
        gather_returns(body, &mut returns, &mut raises);
        !raises
            && !returns.is_empty()
            && returns
                .iter()
                .all(|r| r.named_child(0).is_some_and(|v| self.is_identity(v, param)))
    }

    fn is_identity(&self, n: Node<'_>, param: &str) -> bool {
        match n.kind() {
            "identifier" => self.text(n) == param,
            "parenthesized_expression" => {
                n.named_child(0).is_some_and(|i| self.is_identity(i, param))
            }
            "subscript" => {
                // data[:]
                let whole = n
                    .child_by_field_id(F.subscript)
                    .is_some_and(|s| s.kind() == "slice" && s.named_child_count() == 0);
                whole
                    && n.child_by_field_id(F.value)
                        .is_some_and(|v| self.is_identity(v, param))
            }
            "call" => {
                let f = n.child_by_field_id(F.function).map(|f| self.text(f));
                let args = call_args(n, self.src);
                matches!(f, Some("bytes"))
                    && args.positional.len() == 1
                    && args.keywords.is_empty()
                    && self.is_identity(args.positional[0], param)
            }
            _ => false,
        }
    }

    fn pickle(&self, call: Node<'t>, scope: usize, path: &str, q: &str) -> Option<Finding> {
        let args = self.args(call);
        let data = args
            .positional
            .first()
            .copied()
            .or_else(|| args.keyword("data"))
            .or_else(|| args.keyword("file"))
            .or_else(|| args.keyword("str"))?;
        if !tainted(&self.eval(data, scope)) {
            return None;
        }
        Some(self.finding(
            Rule::PickleReceiver,
            call,
            path,
            format!(
                "{q}() on bytes received from the network: unpickling runs whatever code the peer \
                 chose (any sender can connect)"
            ),
        ))
    }

    fn sender(&self, call: Node<'t>, scope: usize, path: &str, q: &str) -> Option<Finding> {
        let args = self.args(call);
        let host = args
            .positional
            .first()
            .copied()
            .or_else(|| args.keyword("host"))?;
        let port = args
            .positional
            .get(1)
            .copied()
            .or_else(|| args.keyword("port"));
        // SocketHandler(path, None) is a Unix domain socket: it stays on this machine.
        if port.is_some_and(|p| p.kind() == "none") {
            return None;
        }
        let vals = self.eval(host, scope);
        let strs: Vec<&str> = vals
            .iter()
            .filter_map(|v| {
                if let Val::Str(s) = v {
                    Some(s.as_str())
                } else {
                    None
                }
            })
            .collect();
        // A parameter of the enclosing function takes whatever its callers pass, and they
        // may live in other files: its default says nothing about where records go.
        let parameter = host.kind() == "identifier" && self.is_parameter(call, self.text(host));
        let known = !parameter && !vals.is_empty() && strs.len() == vals.len();
        if known && strs.iter().all(|h| is_loopback(h)) {
            return None;
        }
        let what = if known {
            format!(
                "to {}",
                strs.iter()
                    .map(|s| format!("{s:?}"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
        } else {
            format!("to host {} (not known to be loopback)", self.text(host))
        };
        let short = q.rsplit('.').next().unwrap_or(q);
        Some(self.finding(
            Rule::CleartextRecordSender,
            call,
            path,
            format!(
                "{short} {what}: log records travel as unauthenticated pickles that the receiver \
                 unpickles"
            ),
        ))
    }
}

impl Analysis<'_> {
    /// Whether `name` is a parameter of the function `node` is in.
    fn is_parameter(&self, node: Node<'_>, name: &str) -> bool {
        let mut n = node.parent();
        while let Some(p) = n {
            if p.kind() == "function_definition" {
                return self
                    .funcs
                    .iter()
                    .any(|f| f.node.id() == p.id() && f.params.iter().any(|x| x == name));
            }
            n = p.parent();
        }
        false
    }
}

fn is_net(v: &Val) -> bool {
    matches!(v, Val::Tainted | Val::Stream | Val::Socket)
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if matches!(
        h,
        "" | "localhost" | "localhost.localdomain" | "ip6-localhost" | "ip6-loopback" | "::1"
    ) {
        return true;
    }
    h.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
}

fn dotted(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The text of a plain string literal (no f-string interpolation), without quotes or prefix.
fn string_literal(n: Node<'_>, src: &[u8]) -> Option<String> {
    let mut c = n.walk();
    let mut out = String::new();
    for part in n.named_children(&mut c) {
        match part.kind() {
            "string_start" | "string_end" => {}
            "string_content" => out.push_str(std::str::from_utf8(&src[part.byte_range()]).ok()?),
            _ => return None, // interpolation or escape sequence: not a constant we can read
        }
    }
    Some(out)
}

/// Return statements of a function body, not of functions or classes nested in it.
fn gather_returns<'t>(body: Node<'t>, out: &mut Vec<Node<'t>>, raises: &mut bool) {
    let mut stack = vec![body];
    while let Some(n) = stack.pop() {
        match n.kind() {
            "function_definition" | "class_definition" | "lambda" => continue,
            "return_statement" => out.push(n),
            "raise_statement" => *raises = true,
            _ => {}
        }
        let mut c = n.walk();
        stack.extend(n.children(&mut c));
    }
}

struct Args<'t> {
    /// The called expression.
    callee: Option<Node<'t>>,
    /// For a method call `obj.name(...)`: `obj` and `name`.
    method: Option<(Node<'t>, Node<'t>)>,
    positional: Vec<Node<'t>>,
    keywords: Vec<(String, Node<'t>)>,
    has_double_splat: bool,
}

impl<'t> Args<'t> {
    fn keyword(&self, name: &str) -> Option<Node<'t>> {
        self.keywords
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| *v)
    }
    fn all(&self) -> impl Iterator<Item = Node<'t>> + '_ {
        self.positional
            .iter()
            .copied()
            .chain(self.keywords.iter().map(|(_, v)| *v))
    }
}

fn call_args<'t>(call: Node<'t>, src: &[u8]) -> Args<'t> {
    let callee = call.child_by_field_id(F.function);
    let method = callee.filter(|c| c.kind() == "attribute").and_then(|c| {
        Some((
            c.child_by_field_id(F.object)?,
            c.child_by_field_id(F.attribute)?,
        ))
    });
    let mut args = Args {
        callee,
        method,
        positional: Vec::new(),
        keywords: Vec::new(),
        has_double_splat: false,
    };
    let Some(list) = call.child_by_field_id(F.arguments) else {
        return args;
    };
    if list.kind() == "generator_expression" {
        args.positional.push(list);
        return args;
    }
    let mut c = list.walk();
    for a in list.named_children(&mut c) {
        match a.kind() {
            "keyword_argument" => {
                if let (Some(k), Some(v)) =
                    (a.child_by_field_id(F.name), a.child_by_field_id(F.value))
                {
                    let name = std::str::from_utf8(&src[k.byte_range()]).unwrap_or("");
                    args.keywords.push((name.to_string(), v));
                }
            }
            "dictionary_splat" => args.has_double_splat = true,
            "comment" => {}
            _ => args.positional.push(a),
        }
    }
    args
}
