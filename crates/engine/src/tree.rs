//! The logger tree: dotted names with placeholders, effective levels, propagation, `disabled`,
//! filters and handlers, with CPython's `Logger` semantics.
//!
//! Reads never take a lock. The tree's state is an immutable [`Snapshot`] behind an
//! [`ArcSwap`]; every change (one `set_level`, or a whole new configuration through
//! [`LoggerTree::apply`]) builds a new snapshot and swaps it in, so logging threads never wait
//! on reconfiguration and never see half of a change. Each logger also keeps its effective
//! threshold in an atomic, so a call that the level filters out costs one atomic load.
//!
//! **Cost of making a logger.** Names can come from the network (a collector calls
//! `getLogger(record.name)`), so making a logger must not cost more than its name: it costs
//! time and memory linear in the name, never in the size of the tree. Three things make that
//! hold: the snapshot is built of persistent structures (`imbl`), so the copy a change starts
//! from shares every node instead of copying them; names are found through the tree's edges
//! (one hash per dotted part, not one per dotted prefix); and a placeholder's name is a slice
//! of the string of the logger that made it. Making a logger keeps parents and effective
//! levels right incrementally (CPython's `_fixupParents`/`_fixupChildren`), with no pass over
//! the tree; a configuration change still recomputes the whole tree once (one linear pass).
//! [`LoggerTree::get_logger_within`] lets a caller bound how many nodes (placeholders
//! included) names may make, and [`LoggerTree::nearest_logger`] says where a record enters
//! beyond that bound.
//!
//! ```
//! use logwire_engine::{level, Emitter, Formatter, Handler, HandlerError, LogRecord, LoggerTree};
//! use std::sync::{Arc, Mutex};
//!
//! struct Collect(Mutex<Vec<String>>);
//! impl Emitter for Collect {
//!     fn emit(&self, r: &LogRecord, f: &Formatter) -> Result<(), HandlerError> {
//!         self.0.lock().unwrap().push(f.format(r));
//!         Ok(())
//!     }
//!     fn kind(&self) -> &'static str { "Collect" }
//! }
//!
//! let tree = LoggerTree::new();
//! tree.root().add_handler(Arc::new(Handler::new(Collect(Mutex::new(Vec::new())))));
//! tree.root().set_level(level::INFO);
//! let log = tree.get_logger("app.db");
//! log.info("connected");          // goes to the root's handler: app.db propagates
//! log.debug("not shown");         // below INFO: filtered out
//! ```

use crate::filter::Filter;
use crate::handler::Handler;
use crate::level;
use crate::record::{Args, LogRecord};
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Index of the root logger in every snapshot.
const ROOT: usize = 0;

/// A threshold no level reaches: the value cached for disabled loggers.
const OFF: i32 = i32::MAX;

/// A node's dotted name. A placeholder's name is a prefix of the name of the logger that made
/// it, so it shares that logger's string instead of holding a copy: the placeholders of a
/// name of `L` bytes and `D` parts cost `O(D)` memory, not the `O(L·D)` of one string each.
#[derive(Clone)]
struct Name {
    full: Arc<str>,
    len: usize,
}

impl Name {
    fn as_str(&self) -> &str {
        &self.full[..self.len]
    }
}

/// One logger's state inside a [`Snapshot`].
#[derive(Clone)]
pub struct LoggerNode {
    name: Name,
    placeholder: bool,
    level: i32,
    /// The nearest ancestor that is a logger, not a placeholder (CPython's `Logger.parent`);
    /// kept for placeholders too, so that a logger made beneath one finds its parent in O(1).
    parent: usize,
    /// The node of the name's dotted prefix one part shorter (a placeholder or a logger;
    /// the root for a one-part name). Every prefix of a node's name is itself a node, and it
    /// was made before it: `up < index`.
    up: usize,
    /// Nodes whose `up` is this one (the tree's edges, walked downwards only when a
    /// placeholder becomes a logger). Persistent, so that adding one copies nothing.
    kids: imbl::Vector<usize>,
    propagate: bool,
    disabled: bool,
    handlers: Vec<Arc<Handler>>,
    filters: Vec<Arc<dyn Filter>>,
    effective_level: i32,
}

impl fmt::Debug for LoggerNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoggerNode")
            .field("name", &self.name())
            .field("placeholder", &self.placeholder)
            .field("level", &self.level)
            .field("propagate", &self.propagate)
            .field("disabled", &self.disabled)
            .field("handlers", &self.handlers.len())
            .field("filters", &self.filters.len())
            .finish()
    }
}

impl LoggerNode {
    fn new(name: Name, placeholder: bool, up: usize, parent: usize) -> Self {
        LoggerNode {
            name,
            placeholder,
            level: level::NOTSET,
            parent,
            up,
            kids: imbl::Vector::new(),
            propagate: true,
            disabled: false,
            handlers: Vec::new(),
            filters: Vec::new(),
            effective_level: level::NOTSET,
        }
    }

    /// The logger's dotted name (`root` for the root logger).
    pub fn name(&self) -> &str {
        self.name.as_str()
    }
    /// Whether this name exists only as the ancestor of a logger (CPython's `PlaceHolder`).
    pub fn is_placeholder(&self) -> bool {
        self.placeholder
    }
    /// The level set on this logger (`NOTSET` defers to the parent).
    pub fn level(&self) -> i32 {
        self.level
    }
    /// The level in force: the first non-`NOTSET` level up the tree.
    pub fn effective_level(&self) -> i32 {
        self.effective_level
    }
    /// Whether records are passed to the parent's handlers.
    pub fn propagate(&self) -> bool {
        self.propagate
    }
    /// Whether the logger ignores every record.
    pub fn disabled(&self) -> bool {
        self.disabled
    }
    /// The handlers attached to this logger.
    pub fn handlers(&self) -> &[Arc<Handler>] {
        &self.handlers
    }
    /// The filters attached to this logger.
    pub fn filters(&self) -> &[Arc<dyn Filter>] {
        &self.filters
    }

    /// Sets the level.
    pub fn set_level(&mut self, level: i32) {
        self.level = level;
    }
    /// Sets `propagate`.
    pub fn set_propagate(&mut self, propagate: bool) {
        self.propagate = propagate;
    }
    /// Sets `disabled`.
    pub fn set_disabled(&mut self, disabled: bool) {
        self.disabled = disabled;
    }
    /// Replaces the handlers.
    pub fn set_handlers(&mut self, handlers: Vec<Arc<Handler>>) {
        self.handlers = handlers;
    }
    /// Replaces the filters.
    pub fn set_filters(&mut self, filters: Vec<Arc<dyn Filter>>) {
        self.filters = filters;
    }
    /// Adds a handler unless the same one is attached already.
    pub fn add_handler(&mut self, handler: Arc<Handler>) {
        if !self.handlers.iter().any(|h| Arc::ptr_eq(h, &handler)) {
            self.handlers.push(handler);
        }
    }
}

/// The cached, lock-free part of a logger: its effective threshold.
#[derive(Debug)]
struct LoggerSlot {
    /// Effective level, or [`OFF`] when the logger is disabled.
    threshold: AtomicI32,
}

/// The dotted parts of a name, as CPython's `Manager` splits it: at every `.` except one at
/// offset 0 (`_fixupParents` stops at `i > 0`), so `.a` is one part and `a..b` is `a`, ``, `b`.
/// Yields `(part, end)`: the part, and the byte length of the prefix it ends.
fn parts(name: &str) -> impl Iterator<Item = (&str, usize)> {
    let bytes = name.as_bytes();
    let mut start = 0;
    let mut done = name.is_empty();
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let from = if start == 0 {
            1.min(bytes.len())
        } else {
            start
        };
        let end = match bytes[from..].iter().position(|&b| b == b'.') {
            Some(off) => from + off,
            None => {
                done = true;
                bytes.len()
            }
        };
        let part = &name[start..end];
        start = end + 1;
        Some((part, end))
    })
}

/// The key of the edge from node `up` to its child part `part`: `up` (8 bytes) then the part.
/// One small key per node: looking a name up hashes each part once, so it costs linear time
/// in the name, where hashing every dotted prefix (a map keyed by full names) is quadratic.
fn edge_key(buf: &mut Vec<u8>, up: usize, part: &str) {
    buf.clear();
    buf.extend_from_slice(&(up as u64).to_le_bytes());
    buf.extend_from_slice(part.as_bytes());
}

/// An immutable view of the whole tree. Obtained from [`LoggerTree::snapshot`].
///
/// Its parts are persistent structures (`imbl`): cloning a snapshot to change it copies no
/// node, so creating a logger costs time and memory linear in its name (plus a logarithmic
/// path copy), not in the size of the tree.
#[derive(Clone, Debug)]
pub struct Snapshot {
    nodes: imbl::Vector<LoggerNode>,
    slots: imbl::Vector<Arc<LoggerSlot>>,
    /// The tree's edges: `edge_key(up, part)` → node.
    edges: imbl::HashMap<Box<[u8]>, usize>,
    named_handlers: Arc<HashMap<String, Arc<Handler>>>,
    /// Every distinct handler attached or registered by name, worked out when handlers change
    /// (flushing walks this, not every node of a tree that may hold thousands of loggers).
    all_handlers: Arc<Vec<Arc<Handler>>>,
    disable: i32,
    min_threshold: i32,
    /// Which tree this is a snapshot of (see [`Logger::handle_in`]).
    tree_id: u64,
}

impl Snapshot {
    fn new() -> Self {
        static NEXT_TREE: AtomicU64 = AtomicU64::new(0);
        let mut root = LoggerNode::new(
            Name {
                full: Arc::from("root"),
                len: 4,
            },
            false,
            ROOT,
            ROOT,
        );
        root.level = level::WARNING;
        root.effective_level = level::WARNING;
        Snapshot {
            nodes: imbl::Vector::unit(root),
            slots: imbl::Vector::unit(Arc::new(LoggerSlot {
                threshold: AtomicI32::new(level::WARNING),
            })),
            edges: imbl::HashMap::new(),
            named_handlers: Arc::new(HashMap::new()),
            all_handlers: Arc::new(Vec::new()),
            disable: level::NOTSET,
            min_threshold: level::WARNING,
            tree_id: NEXT_TREE.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The root logger.
    pub fn root(&self) -> &LoggerNode {
        &self.nodes[ROOT]
    }

    /// A logger or placeholder by name (`root` is not looked up by name, as in CPython's
    /// `loggerDict`).
    pub fn get(&self, name: &str) -> Option<&LoggerNode> {
        if name.is_empty() {
            return None;
        }
        self.walk(name).0.map(|i| &self.nodes[i])
    }

    /// Number of nodes (loggers and placeholders, the root included).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the tree holds only the root (never: the root is always there).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Every named logger and placeholder, in creation order (the root excluded).
    pub fn loggers(&self) -> impl Iterator<Item = &LoggerNode> {
        self.nodes.iter().skip(1)
    }

    /// The parent of a logger (the root's parent is `None`).
    pub fn parent(&self, node: &LoggerNode) -> Option<&LoggerNode> {
        if std::ptr::eq(node, &self.nodes[ROOT]) {
            None
        } else {
            Some(&self.nodes[node.parent])
        }
    }

    /// A handler registered by name (CPython's `getHandlerByName`).
    pub fn handler_by_name(&self, name: &str) -> Option<&Arc<Handler>> {
        self.named_handlers.get(name)
    }

    /// Every handler registered by name, sorted by name (CPython's `getHandlerNames`).
    pub fn handler_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.named_handlers.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// The level given to CPython's `logging.disable(level)`: records at or below it are
    /// dropped everywhere.
    pub fn disable_level(&self) -> i32 {
        self.disable
    }

    /// The lowest level any logger would accept: what the `log` facade's max level follows.
    pub fn min_threshold(&self) -> i32 {
        self.min_threshold
    }

    /// Every distinct handler attached to a logger or registered by name.
    pub fn all_handlers(&self) -> Vec<Arc<Handler>> {
        self.all_handlers.to_vec()
    }

    /// Walks `name`'s parts from the root as far as nodes exist. Returns the node of the
    /// whole name (if it exists), the deepest node found on the way with the number of parts
    /// that led to it (`(ROOT, 0)` if none), and the nearest logger (not placeholder) among
    /// them. Costs one hash of each part: linear in the name.
    fn walk(&self, name: &str) -> (Option<usize>, (usize, usize), usize) {
        let (mut cur, mut depth, mut logger) = (ROOT, 0, ROOT);
        for (part, _) in parts(name) {
            match self.edge(cur, part) {
                Some(next) => {
                    cur = next;
                    depth += 1;
                    if !self.nodes[next].placeholder {
                        logger = next;
                    }
                }
                None => return (None, (cur, depth), logger),
            }
        }
        (Some(cur), (cur, depth), logger)
    }

    /// The child `part` of node `up`. The key is built on the stack for the usual short part:
    /// a lookup on the record path allocates nothing.
    fn edge(&self, up: usize, part: &str) -> Option<usize> {
        let mut stack = [0u8; 64];
        let n = 8 + part.len();
        if n <= stack.len() {
            stack[..8].copy_from_slice(&(up as u64).to_le_bytes());
            stack[8..n].copy_from_slice(part.as_bytes());
            self.edges.get(&stack[..n]).copied()
        } else {
            let mut buf = Vec::with_capacity(n);
            edge_key(&mut buf, up, part);
            self.edges.get(buf.as_slice()).copied()
        }
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        if name == "root" || name.is_empty() {
            Some(ROOT)
        } else {
            self.walk(name).0
        }
    }

    /// The threshold cached for node `i`, from its state and the tree's disable level.
    fn threshold_of(&self, node: &LoggerNode) -> i32 {
        if node.disabled || node.placeholder {
            OFF
        } else {
            node.effective_level.max(self.disable.saturating_add(1))
        }
    }

    /// Recomputes parents, effective levels, the handler list and the minimum threshold after
    /// a change: one pass in index order (every node's `up` and parent come before it), so
    /// linear in the tree.
    fn recompute(&mut self) {
        let root_level = self.nodes[ROOT].level;
        self.nodes[ROOT].effective_level = root_level;
        for i in 1..self.nodes.len() {
            let up = self.nodes[i].up;
            let parent = if self.nodes[up].placeholder {
                self.nodes[up].parent
            } else {
                up
            };
            let eff = match self.nodes[i].level {
                level::NOTSET => self.nodes[parent].effective_level,
                l => l,
            };
            let node = &self.nodes[i];
            if node.parent != parent || node.effective_level != eff {
                let node = &mut self.nodes[i];
                node.parent = parent;
                node.effective_level = eff;
            }
        }
        let mut min = OFF;
        let mut all: Vec<Arc<Handler>> = Vec::new();
        for (node, slot) in self.nodes.iter().zip(self.slots.iter()) {
            // `logging.disable(level)` is folded into every threshold so that
            // `is_enabled_for` stays one atomic load.
            let threshold = self.threshold_of(node);
            slot.threshold.store(threshold, Ordering::Relaxed);
            min = min.min(threshold);
            for h in &node.handlers {
                if !all.iter().any(|o| Arc::ptr_eq(o, h)) {
                    all.push(Arc::clone(h));
                }
            }
        }
        for h in self.named_handlers.values() {
            if !all.iter().any(|o| Arc::ptr_eq(o, h)) {
                all.push(Arc::clone(h));
            }
        }
        self.all_handlers = Arc::new(all);
        self.min_threshold = min;
    }
}

/// A mutable copy of the tree handed to [`LoggerTree::apply`]; swapped in whole at the end.
#[derive(Debug)]
pub struct TreeDraft {
    snap: Snapshot,
}

impl TreeDraft {
    /// The root logger.
    pub fn root_mut(&mut self) -> &mut LoggerNode {
        &mut self.snap.nodes[ROOT]
    }

    /// A logger by name, created (with its placeholder ancestors) if it does not exist, and
    /// turned from a placeholder into a logger if it was one. `root` (or `""`) is the root.
    pub fn logger_mut(&mut self, name: &str) -> &mut LoggerNode {
        let i = ensure_logger(&mut self.snap, name);
        &mut self.snap.nodes[i]
    }

    /// A logger by name if it exists (placeholders included).
    pub fn get_mut(&mut self, name: &str) -> Option<&mut LoggerNode> {
        let i = self.snap.index_of(name)?;
        Some(&mut self.snap.nodes[i])
    }

    /// The current state, for reading while changing.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snap
    }

    /// Names of every existing logger and placeholder (CPython's `loggerDict` keys).
    pub fn existing_names(&self) -> Vec<String> {
        self.snap.loggers().map(|n| n.name().to_owned()).collect()
    }

    /// Replaces the registry of handlers by name.
    pub fn set_named_handlers(&mut self, handlers: HashMap<String, Arc<Handler>>) {
        self.snap.named_handlers = Arc::new(handlers);
    }

    /// Sets CPython's `logging.disable(level)`.
    pub fn set_disable_level(&mut self, level: i32) {
        self.snap.disable = level;
    }
}

/// How many nodes [`ensure_logger`] would add or change for `name`: one per missing part,
/// or one if the name exists as a placeholder; 0 if the logger exists.
fn creation_cost(snap: &Snapshot, name: &str) -> usize {
    if name == "root" || name.is_empty() {
        return 0;
    }
    match snap.walk(name) {
        (Some(i), _, _) => usize::from(snap.nodes[i].placeholder),
        (None, (_, depth), _) => parts(name).count() - depth,
    }
}

/// Creates `name` (and placeholders for its missing prefixes) and returns its index, keeping
/// parents, effective levels and thresholds right as it goes (CPython's `_fixupParents` and
/// `_fixupChildren`), so that no whole-tree recompute is needed. Costs time linear in the
/// name, plus, when a placeholder becomes a logger, one step per placeholder beneath it down
/// to the first loggers (whose parent it becomes).
fn ensure_logger(snap: &mut Snapshot, name: &str) -> usize {
    if name == "root" || name.is_empty() {
        return ROOT;
    }
    let (found, (mut cur, depth), _) = snap.walk(name);
    let index = match found {
        Some(i) => i,
        None => {
            let full: Arc<str> = Arc::from(name);
            let mut buf = Vec::with_capacity(64);
            // Prefixes are made before the names they prefix, so `up < index` holds.
            for (part, end) in parts(name).skip(depth) {
                let parent = if snap.nodes[cur].placeholder {
                    snap.nodes[cur].parent
                } else {
                    cur
                };
                let placeholder = end != name.len();
                let mut node = LoggerNode::new(
                    Name {
                        full: Arc::clone(&full),
                        len: end,
                    },
                    placeholder,
                    cur,
                    parent,
                );
                node.effective_level = snap.nodes[parent].effective_level;
                let threshold = snap.threshold_of(&node);
                let i = snap.nodes.len();
                snap.nodes.push_back(node);
                snap.slots.push_back(Arc::new(LoggerSlot {
                    threshold: AtomicI32::new(threshold),
                }));
                edge_key(&mut buf, cur, part);
                snap.edges.insert(buf.as_slice().into(), i);
                snap.nodes[cur].kids.push_back(i);
                cur = i;
            }
            return cur;
        }
    };
    if snap.nodes[index].placeholder {
        // `_fixupChildren`: every node beneath it reached through placeholders only had the
        // logger above it as parent; now this one is nearer. Their effective levels do not
        // change: this logger is NOTSET, so its effective level is that same parent's.
        let parent = snap.nodes[index].parent;
        let eff = snap.nodes[parent].effective_level;
        {
            let node = &mut snap.nodes[index];
            node.placeholder = false;
            node.effective_level = eff;
        }
        let threshold = snap.threshold_of(&snap.nodes[index]);
        snap.slots[index]
            .threshold
            .store(threshold, Ordering::Relaxed);
        let mut stack: Vec<usize> = snap.nodes[index].kids.iter().copied().collect();
        while let Some(k) = stack.pop() {
            let node = &mut snap.nodes[k];
            node.parent = index;
            if node.placeholder {
                stack.extend(node.kids.iter().copied());
            }
        }
    }
    index
}

/// CPython's `lastResort`: records that find no handler at all still reach stderr (WARNING
/// and above), formatted as `%(message)s`.
struct LastResortEmitter;

impl crate::handler::Emitter for LastResortEmitter {
    fn emit(
        &self,
        record: &LogRecord,
        formatter: &crate::format::Formatter,
    ) -> Result<(), crate::handler::HandlerError> {
        use std::io::Write;
        let mut line = formatter.try_format(record)?;
        line.push('\n');
        std::io::stderr()
            .write_all(line.as_bytes())
            .map_err(|e| crate::handler::HandlerError::io("writing to stderr", e))
    }

    fn kind(&self) -> &'static str {
        "logging._StderrHandler"
    }
}

type ChangeHook = Box<dyn Fn(&Snapshot) + Send + Sync>;

struct TreeInner {
    snapshot: ArcSwap<Snapshot>,
    /// Counts the snapshots swapped in, bumped after each swap: a [`SnapshotCache`] reloads
    /// only when it moved.
    generation: AtomicU64,
    /// Serializes writers; readers never take it.
    write: Mutex<()>,
    hooks: Mutex<Vec<ChangeHook>>,
    /// CPython's `logging.lastResort`: used when a record finds no handler at all.
    last_resort: arc_swap::ArcSwapOption<Handler>,
}

/// A logger tree (CPython's `Manager` plus the root logger).
///
/// Most programs use the process-wide [`LoggerTree::global`]; a collector or a test can own
/// separate trees. Cloning a `LoggerTree` gives another handle to the same tree.
#[derive(Clone)]
pub struct LoggerTree {
    inner: Arc<TreeInner>,
}

impl fmt::Debug for LoggerTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoggerTree")
            .field("loggers", &self.snapshot().nodes.len())
            .finish()
    }
}

impl Default for LoggerTree {
    fn default() -> Self {
        Self::new()
    }
}

impl LoggerTree {
    /// A new tree with only the root logger, at WARNING with no handlers (CPython's start).
    pub fn new() -> Self {
        LoggerTree {
            inner: Arc::new(TreeInner {
                snapshot: ArcSwap::from_pointee(Snapshot::new()),
                generation: AtomicU64::new(0),
                write: Mutex::new(()),
                hooks: Mutex::new(Vec::new()),
                last_resort: arc_swap::ArcSwapOption::from_pointee(
                    Handler::new(LastResortEmitter).with_level(level::WARNING),
                ),
            }),
        }
    }

    /// The process-wide tree that the `log` and `tracing` bridges use.
    pub fn global() -> &'static LoggerTree {
        static GLOBAL: OnceLock<LoggerTree> = OnceLock::new();
        GLOBAL.get_or_init(LoggerTree::new)
    }

    /// The current state of the whole tree.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.snapshot.load_full()
    }

    /// A snapshot of this tree kept by one thread, refreshed only when the tree changes (see
    /// [`SnapshotCache`]).
    pub fn snapshot_cache(&self) -> SnapshotCache {
        let generation = self.inner.generation.load(Ordering::Acquire);
        SnapshotCache {
            tree: self.clone(),
            generation,
            snap: self.snapshot(),
        }
    }

    /// The root logger.
    pub fn root(&self) -> Logger {
        self.logger_at(&self.snapshot(), ROOT)
    }

    /// CPython's `getLogger(name)`: the logger called `name`, created if needed. `root` and
    /// `""` give the root logger.
    pub fn get_logger(&self, name: &str) -> Logger {
        let mut unbounded = usize::MAX;
        self.get_logger_within(name, &mut unbounded)
            .unwrap_or_else(|| self.root())
    }

    /// [`LoggerTree::get_logger`] with a budget of nodes it may add: if the logger exists,
    /// or making it (with its missing placeholders, or from a placeholder) adds or changes at
    /// most `*budget` nodes, it is returned and `*budget` goes down by that number; otherwise
    /// nothing changes and `None` is returned (see [`LoggerTree::nearest_logger`]). This is
    /// how a collector bounds the loggers that names from the network make, placeholders
    /// included: a name of `D` parts may make `D` nodes.
    ///
    /// Making a logger costs time and memory linear in its name (plus a logarithmic path copy
    /// of the persistent tree), never in the size of the tree.
    pub fn get_logger_within(&self, name: &str, budget: &mut usize) -> Option<Logger> {
        let snap = self.snapshot();
        if let Some(i) = snap.index_of(name)
            && !snap.nodes[i].placeholder
        {
            return Some(self.logger_at(&snap, i));
        }
        drop(snap);
        let _guard = self.inner.write.lock().unwrap_or_else(|e| e.into_inner());
        // Under the writers' lock: another writer may have made it meanwhile.
        let mut snap = Snapshot::clone(&self.snapshot());
        let cost = creation_cost(&snap, name);
        if cost > *budget {
            return None;
        }
        *budget -= cost;
        let index = ensure_logger(&mut snap, name);
        if cost == 0 {
            return Some(self.logger_at(&snap, index));
        }
        // No recompute and no change hooks: `ensure_logger` kept every invariant, and a new
        // logger is NOTSET with no handlers, so no effective level, threshold minimum or
        // handler list changed.
        let snap = Arc::new(snap);
        self.inner.snapshot.store(Arc::clone(&snap));
        self.inner.generation.fetch_add(1, Ordering::Release);
        Some(self.logger_at(&snap, index))
    }

    /// The logger a record named `name` enters at when `name` has no logger of its own: the
    /// logger of its longest dotted prefix that has one, or the root. Creates nothing; costs
    /// one hash of each part of `name` that exists in the tree.
    pub fn nearest_logger(&self, name: &str) -> Logger {
        let snap = self.snapshot();
        let (found, _, logger) = snap.walk(name);
        match found {
            Some(i) if !snap.nodes[i].placeholder => self.logger_at(&snap, i),
            _ => self.logger_at(&snap, logger),
        }
    }

    fn logger_at(&self, snap: &Snapshot, index: usize) -> Logger {
        Logger {
            tree: self.clone(),
            tree_id: snap.tree_id,
            index,
            slot: Arc::clone(&snap.slots[index]),
            name: Arc::from(snap.nodes[index].name()),
        }
    }

    /// Applies a change to a copy of the tree and swaps it in. Infallible changes only; see
    /// [`LoggerTree::apply`] for changes that can fail.
    pub fn update(&self, change: impl FnOnce(&mut TreeDraft)) {
        let _ = self.apply(|d| {
            change(d);
            Ok::<(), std::convert::Infallible>(())
        });
    }

    /// Builds a new tree from a copy of the current one and swaps it in atomically. If
    /// `change` fails, nothing changes. Logging threads see either the old tree or the new
    /// one, never a mix. Change hooks (e.g. the `log` bridge's max level) run after the swap.
    pub fn apply<T, E>(&self, change: impl FnOnce(&mut TreeDraft) -> Result<T, E>) -> Result<T, E> {
        let _guard = self.inner.write.lock().unwrap_or_else(|e| e.into_inner());
        let mut draft = TreeDraft {
            snap: Snapshot::clone(&self.snapshot()),
        };
        let out = change(&mut draft)?;
        let mut snap = draft.snap;
        snap.recompute();
        let snap = Arc::new(snap);
        self.inner.snapshot.store(Arc::clone(&snap));
        // After the store (Release): a reader that sees the new count loads this snapshot.
        self.inner.generation.fetch_add(1, Ordering::Release);
        for hook in self
            .inner
            .hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            hook(&snap);
        }
        Ok(out)
    }

    /// Registers a function called with the new snapshot after every change (and once now).
    pub fn on_change(&self, hook: impl Fn(&Snapshot) + Send + Sync + 'static) {
        let _guard = self.inner.write.lock().unwrap_or_else(|e| e.into_inner());
        hook(&self.snapshot());
        self.inner
            .hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(hook));
    }

    /// Replaces CPython's `logging.lastResort`, the handler for records that find no handler
    /// anywhere (stderr at WARNING by default); `None` drops them, as CPython does then.
    pub fn set_last_resort(&self, handler: Option<Arc<Handler>>) {
        self.inner.last_resort.store(handler);
    }

    /// CPython's `logging.disable(level)`.
    pub fn disable(&self, level: i32) {
        self.update(|d| d.set_disable_level(level));
    }

    /// CPython's `flush()` on every handler (a `MemoryHandler` empties its buffer).
    pub fn flush(&self) {
        for h in self.snapshot().all_handlers() {
            h.flush();
        }
    }

    /// Makes what every handler has written durable ([`Handler::sync`]) without logging's
    /// `flush()`: what a collector does before acknowledging records, so a `MemoryHandler`
    /// keeps its `capacity`/`flushLevel` behaviour however records arrive. False if any
    /// handler's sync failed (every handler is still synced): nothing written since the last
    /// sync may then be acknowledged.
    pub fn sync(&self) -> bool {
        let mut all = true;
        for h in self.snapshot().all_handlers() {
            all &= h.sync();
        }
        all
    }

    /// Passes on every handler's held-back output without waiting for remote confirmation
    /// ([`Handler::hand_off`]): what a collector calls after a
    /// drain with nothing to acknowledge.
    pub fn hand_off(&self) {
        for h in self.snapshot().all_handlers() {
            h.hand_off();
        }
    }

    /// CPython's `logging.shutdown()`: flushes and closes every handler. Call it (or hold a
    /// [`ShutdownGuard`]) before the process exits so that nothing buffered is lost.
    pub fn shutdown(&self) {
        for h in self.snapshot().all_handlers() {
            h.flush();
            h.close();
        }
    }

    /// Tells every handler to stop waiting for remote confirmations
    /// ([`Emitter::stop_waiting`](crate::Emitter::stop_waiting)), so that a [`shutdown`]
    /// in progress on another thread, or the next one, ends without waiting for them: what a
    /// second signal asks.
    ///
    /// [`shutdown`]: LoggerTree::shutdown
    pub fn stop_waiting(&self) {
        for h in self.snapshot().all_handlers() {
            h.stop_waiting();
        }
    }

    /// A guard that shuts the tree down when dropped: keep it alive in `main`.
    #[must_use = "the tree is shut down when the guard is dropped"]
    pub fn shutdown_guard(&self) -> ShutdownGuard {
        ShutdownGuard { tree: self.clone() }
    }

    /// Installs a panic hook that flushes and closes every handler of this tree before the
    /// previous hook runs, so records logged up to a panic reach their files.
    pub fn install_panic_hook(&self) {
        let tree = self.clone();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            tree.shutdown();
            previous(info);
        }));
    }

    /// Calls the handlers from `node` (at index `start`, which the caller has looked up
    /// already: one lookup less on the record path) up the propagation chain.
    fn call_handlers(&self, snap: &Snapshot, start: usize, node: &LoggerNode, record: &LogRecord) {
        let mut found = 0usize;
        let mut c = start;
        let mut node = node;
        // A chain longer than the tree would be a bug; the bound keeps it from looping.
        for step in 0..=snap.nodes.len() {
            if step > 0 {
                node = &snap.nodes[c];
            }
            for h in &node.handlers {
                found += 1;
                if record.levelno >= h.level() {
                    h.handle(record);
                }
            }
            if !node.propagate || c == ROOT {
                break;
            }
            c = node.parent;
        }
        if found == 0
            && let Some(last) = self.inner.last_resort.load().as_ref()
            && record.levelno >= last.level()
        {
            last.handle(record);
        }
    }
}

/// Shuts its tree down when dropped. See [`LoggerTree::shutdown_guard`].
#[derive(Debug)]
pub struct ShutdownGuard {
    tree: LoggerTree,
}

impl Drop for ShutdownGuard {
    fn drop(&mut self) {
        self.tree.shutdown();
    }
}

/// A handle to one logger of a tree (CPython's `Logger`). Cheap to clone and to keep.
#[derive(Clone)]
pub struct Logger {
    tree: LoggerTree,
    tree_id: u64,
    index: usize,
    slot: Arc<LoggerSlot>,
    name: Arc<str>,
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger").field("name", &self.name).finish()
    }
}

impl Logger {
    /// The logger's name (`root` for the root logger).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tree this logger belongs to.
    pub fn tree(&self) -> &LoggerTree {
        &self.tree
    }

    /// CPython's `isEnabledFor`: one atomic load on the hot path.
    #[inline]
    pub fn is_enabled_for(&self, level: i32) -> bool {
        level >= self.slot.threshold.load(Ordering::Relaxed)
    }

    /// CPython's `getEffectiveLevel`.
    pub fn effective_level(&self) -> i32 {
        self.tree.snapshot().nodes[self.index].effective_level
    }

    /// Reads this logger's current state.
    pub fn with_node<T>(&self, f: impl FnOnce(&LoggerNode) -> T) -> T {
        f(&self.tree.snapshot().nodes[self.index])
    }

    fn modify(&self, f: impl FnOnce(&mut LoggerNode)) {
        let index = self.index;
        self.tree.update(|d| f(&mut d.snap.nodes[index]));
    }

    /// Sets the level.
    pub fn set_level(&self, level: i32) {
        self.modify(|n| n.level = level);
    }
    /// Sets `propagate`.
    pub fn set_propagate(&self, propagate: bool) {
        self.modify(|n| n.propagate = propagate);
    }
    /// Sets `disabled`.
    pub fn set_disabled(&self, disabled: bool) {
        self.modify(|n| n.disabled = disabled);
    }
    /// Adds a handler (once).
    pub fn add_handler(&self, handler: Arc<Handler>) {
        self.modify(|n| n.add_handler(handler));
    }
    /// Removes a handler.
    pub fn remove_handler(&self, handler: &Arc<Handler>) {
        self.modify(|n| n.handlers.retain(|h| !Arc::ptr_eq(h, handler)));
    }
    /// Adds a filter.
    pub fn add_filter(&self, filter: Arc<dyn Filter>) {
        self.modify(|n| n.filters.push(filter));
    }

    /// Logs `msg` at `level`, with the caller's file and line.
    #[track_caller]
    #[inline]
    pub fn log(&self, level: i32, msg: impl Into<String>) {
        if self.is_enabled_for(level) {
            self.emit_new(level, msg.into(), std::panic::Location::caller(), |_| {});
        }
    }

    /// Logs `msg % args` at `level` (CPython's `logger.log(level, msg, *args)`).
    #[track_caller]
    #[inline]
    pub fn log_args(&self, level: i32, msg: impl Into<String>, args: Args) {
        if self.is_enabled_for(level) {
            self.emit_new(level, msg.into(), std::panic::Location::caller(), |r| {
                r.args = args
            });
        }
    }

    /// Logs at `level` with a record that `fill` may complete (extra fields, exc_text …)
    /// before it is handled. `fill` runs only if the level is enabled.
    #[track_caller]
    #[inline]
    pub fn log_with(&self, level: i32, msg: impl Into<String>, fill: impl FnOnce(&mut LogRecord)) {
        if self.is_enabled_for(level) {
            self.emit_new(level, msg.into(), std::panic::Location::caller(), fill);
        }
    }

    /// Makes a record and handles it. The record comes from a per-thread scratch slot whose
    /// buffers are reused, so a warm logging call allocates nothing for the record itself; a
    /// handler that logs while handling (re-entrancy) gets a fresh record instead.
    fn emit_new(
        &self,
        level: i32,
        msg: String,
        loc: &'static std::panic::Location<'static>,
        fill: impl FnOnce(&mut LogRecord),
    ) {
        thread_local! {
            static SCRATCH: std::cell::RefCell<Option<LogRecord>> = const { std::cell::RefCell::new(None) };
        }
        let reused = SCRATCH.with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.take()));
        let mut record = match reused {
            Some(mut r) => {
                r.refill(&self.name, level, loc.file(), loc.line().into(), msg);
                r
            }
            None => self.make_record(level, msg, loc.file(), loc.line().into()),
        };
        fill(&mut record);
        self.handle(&record);
        // If the slot is busy (we are inside a handler's own logging), just drop the record.
        let _ = SCRATCH.try_with(|s| {
            if let Ok(mut slot) = s.try_borrow_mut() {
                *slot = Some(record);
            }
        });
    }

    /// `log(DEBUG, msg)`.
    #[track_caller]
    pub fn debug(&self, msg: impl Into<String>) {
        self.log(level::DEBUG, msg);
    }
    /// `log(INFO, msg)`.
    #[track_caller]
    pub fn info(&self, msg: impl Into<String>) {
        self.log(level::INFO, msg);
    }
    /// `log(WARNING, msg)`.
    #[track_caller]
    pub fn warning(&self, msg: impl Into<String>) {
        self.log(level::WARNING, msg);
    }
    /// `log(ERROR, msg)`.
    #[track_caller]
    pub fn error(&self, msg: impl Into<String>) {
        self.log(level::ERROR, msg);
    }
    /// `log(CRITICAL, msg)`.
    #[track_caller]
    pub fn critical(&self, msg: impl Into<String>) {
        self.log(level::CRITICAL, msg);
    }

    /// CPython's `makeRecord`: a record from this logger, at this source location.
    pub fn make_record(&self, level: i32, msg: String, pathname: &str, lineno: i64) -> LogRecord {
        LogRecord::new(&self.name, level, pathname, lineno, msg)
    }

    /// CPython's `Logger.handle`: for records made elsewhere (a network receiver, a bridge).
    /// The logger's own level is not checked; `disabled`, the logger's filters, the handlers'
    /// levels and filters and propagation are.
    pub fn handle(&self, record: &LogRecord) {
        self.handle_at(&self.tree.inner.snapshot.load(), record);
    }

    /// [`Logger::handle`] with a snapshot of the tree the caller already holds (from a
    /// [`SnapshotCache`]), for a thread that hands many records to the tree: it saves
    /// loading the tree's current state for each one. A snapshot of another tree, or one
    /// older than this logger, is not used (the record is handled as by `handle`).
    pub fn handle_in(&self, snap: &Snapshot, record: &LogRecord) {
        // Indices are never reused within a tree, so a snapshot of this tree that is long
        // enough holds this logger (cheaper than looking its slot up to compare).
        if snap.tree_id == self.tree_id && self.index < snap.nodes.len() {
            self.handle_at(snap, record)
        } else {
            self.handle(record)
        }
    }

    /// `Logger.handle` against `snap`, which holds this logger.
    fn handle_at(&self, snap: &Snapshot, record: &LogRecord) {
        let node = &snap.nodes[self.index];
        if node.disabled || !node.filters.iter().all(|f| f.filter(record)) {
            return;
        }
        self.tree.call_handlers(snap, self.index, node, record);
    }
}

/// One thread's copy of a tree's current [`Snapshot`]: [`SnapshotCache::current`] costs one
/// atomic load while the tree is unchanged, where [`LoggerTree::snapshot`] and
/// [`Logger::handle`] take a reference on the shared state each time. A change made before
/// `current` is called is seen by it, as `Logger::handle` would see it.
pub struct SnapshotCache {
    tree: LoggerTree,
    generation: u64,
    snap: Arc<Snapshot>,
}

impl fmt::Debug for SnapshotCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotCache")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl SnapshotCache {
    /// The tree's current snapshot.
    #[inline]
    pub fn current(&mut self) -> &Arc<Snapshot> {
        let generation = self.tree.inner.generation.load(Ordering::Acquire);
        if generation != self.generation {
            self.refresh(generation);
        }
        &self.snap
    }

    #[cold]
    fn refresh(&mut self, generation: u64) {
        self.snap = self.tree.snapshot();
        self.generation = generation;
    }
}

/// Loggers by Rust target (`my_app::db` → logger `my_app.db`), cached: what the `log` and
/// `tracing` bridges look up on every event. The cache is bounded — targets can be dynamic
/// strings — and past its size a lookup simply goes to the tree.
pub struct TargetLoggers {
    tree: LoggerTree,
    cache: std::sync::RwLock<HashMap<Box<str>, Logger>>,
}

impl fmt::Debug for TargetLoggers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetLoggers")
            .field("tree", &self.tree)
            .finish_non_exhaustive()
    }
}

impl TargetLoggers {
    /// Most targets remembered.
    pub const CAPACITY: usize = 4096;

    /// An empty cache over `tree`.
    pub fn new(tree: LoggerTree) -> Self {
        TargetLoggers {
            tree,
            cache: std::sync::RwLock::new(HashMap::new()),
        }
    }

    /// The tree the loggers belong to.
    pub fn tree(&self) -> &LoggerTree {
        &self.tree
    }

    /// The logger name for a Rust target: `::` becomes `.`.
    pub fn logger_name(target: &str) -> String {
        target.replace("::", ".")
    }

    /// The logger for `target`.
    pub fn get(&self, target: &str) -> Logger {
        if let Some(l) = self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(target)
        {
            return l.clone();
        }
        let logger = self.tree.get_logger(&Self::logger_name(target));
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        if cache.len() < Self::CAPACITY {
            cache.insert(target.into(), logger.clone());
        }
        logger
    }
}
