//! The atomic path: parse → validate everything → build the complete new tree → swap →
//! flush and close the old handlers.
//!
//! Validation ([`Configurator::prepare`]) has no side effects: a document with any error is
//! rejected before a file is created or a socket is made. Building opens files; if that fails
//! half-way, what was built is closed, files this attempt created are removed, and the tree is
//! untouched. The swap itself cannot fail. This is the opposite of CPython, which closes the
//! old handlers first and can fail half-way.

use crate::error::{ConfigError, ConfigErrors};
use crate::model::{ConfigModel, Dialect, LoggerSpec};
use crate::policy::ContentPolicy;
use crate::registry::{
    BuildContext, HandlerPlan, HandlerRegistry, PrepareContext, ProcessStreams, StreamFactory, bind,
};
use logwire_engine::{Filter, Formatter, Handler, LoggerTree, NameFilter, TreeDraft, level};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

/// Validates and applies configurations to logger trees.
#[derive(Clone)]
pub struct Configurator {
    registry: Arc<HandlerRegistry>,
    policy: ContentPolicy,
    streams: Arc<dyn StreamFactory>,
    keep_existing_loggers: bool,
}

impl std::fmt::Debug for Configurator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Configurator")
            .field("registry", &self.registry)
            .field("policy", &self.policy)
            .finish()
    }
}

/// The built-in kinds of this crate with the trusted policy. The network handlers
/// (`SocketHandler`, `DatagramHandler`, `SysLogHandler`) live in `logwire-collector`, which
/// depends on this crate: programs that want every kind, as `logwire check`, `serve` and the
/// listener do, use `logwire_handlers::configurator(policy)`.
impl Default for Configurator {
    fn default() -> Self {
        Self::new(HandlerRegistry::with_builtins(), ContentPolicy::trusted())
    }
}

struct HandlerEntry {
    id: String,
    level: Option<i32>,
    formatter: Option<String>,
    filters: Vec<String>,
    plan: Box<dyn HandlerPlan>,
}

/// A configuration that passed validation: everything but the side effects is done.
pub struct PreparedConfig {
    model: ConfigModel,
    formatters: HashMap<String, Arc<Formatter>>,
    filters: HashMap<String, Arc<dyn Filter>>,
    /// In build order: every handler after the handlers it sends to.
    handlers: Vec<HandlerEntry>,
}

impl std::fmt::Debug for PreparedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedConfig")
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl PreparedConfig {
    /// The validated model.
    pub fn model(&self) -> &ConfigModel {
        &self.model
    }
    /// Accepted values whose Python meaning may surprise (`"propagate": "False"` is true,
    /// `"backupCount": "31"` fails at rollover in CPython), with their places.
    pub fn warnings(&self) -> &[crate::error::ConfigError] {
        &self.model.warnings
    }
    /// Files the handlers will write.
    pub fn files(&self) -> Vec<PathBuf> {
        self.handlers.iter().flat_map(|h| h.plan.files()).collect()
    }
}

/// What an apply did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Handlers built.
    pub handlers_built: usize,
    /// Old handlers flushed and closed after the swap.
    pub handlers_closed: usize,
    /// Loggers configured (root included).
    pub loggers_configured: usize,
}

impl Configurator {
    /// A configurator with a registry and a policy, writing `ext://sys.stdout`/`stderr` to the
    /// process's streams.
    pub fn new(registry: HandlerRegistry, policy: ContentPolicy) -> Self {
        Configurator {
            registry: Arc::new(registry),
            policy,
            streams: Arc::new(ProcessStreams),
            keep_existing_loggers: false,
        }
    }

    /// Never disables loggers the config does not name, whatever its
    /// `disable_existing_loggers` says. For a collector: its "existing loggers" are the ones
    /// remote record names created, and disabling them would silently drop every record
    /// from those senders from then on.
    pub fn keep_existing_loggers(mut self, keep: bool) -> Self {
        self.keep_existing_loggers = keep;
        self
    }

    /// Sends `ext://sys.stdout`/`ext://sys.stderr` handlers to other writers (tests capture).
    pub fn with_streams(mut self, streams: Arc<dyn StreamFactory>) -> Self {
        self.streams = streams;
        self
    }

    /// The policy configs are checked against.
    pub fn policy(&self) -> &ContentPolicy {
        &self.policy
    }

    /// The registry of handler classes.
    pub fn registry(&self) -> &HandlerRegistry {
        &self.registry
    }

    /// Validates a model completely, without side effects. Reports every error.
    pub fn prepare(&self, mut model: ConfigModel) -> Result<PreparedConfig, ConfigErrors> {
        let mut errs = ConfigErrors::default();
        let mut arg_warnings = Vec::new();
        let dict = model.dialect == Dialect::Dict;
        let lim = self.policy.limits;
        let place_h = |id: &str| {
            if dict {
                format!("handlers.{id}")
            } else {
                format!("[handler_{id}]")
            }
        };
        let place_f = |id: &str| {
            if dict {
                format!("formatters.{id}")
            } else {
                format!("[formatter_{id}]")
            }
        };
        let place_l = |id: &str| {
            if dict {
                format!("loggers.{id}")
            } else {
                format!("[logger {id}]")
            }
        };

        for (what, n, max) in [
            ("handlers", model.handlers.len(), lim.max_handlers),
            ("loggers", model.loggers.len(), lim.max_loggers),
            ("filters", model.filters.len(), lim.max_filters),
            ("formatters", model.formatters.len(), lim.max_formatters),
        ] {
            if n > max {
                errs.push(what, format!("{n} {what} is more than the limit of {max}"));
            }
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        let ids = model
            .handlers
            .iter()
            .map(|(i, _)| i)
            .chain(model.formatters.iter().map(|(i, _)| i))
            .chain(model.filters.iter().map(|(i, _)| i))
            .chain(model.loggers.iter().map(|(i, _)| i));
        for id in ids {
            if id.len() > lim.max_name_len {
                let shown: String = id.chars().take(40).collect();
                errs.push(
                    format!("'{shown}…'"),
                    format!(
                        "name of {} bytes is longer than the limit of {}",
                        id.len(),
                        lim.max_name_len
                    ),
                );
            }
        }

        let mut formatters = HashMap::new();
        if !model.incremental {
            for (id, f) in &model.formatters {
                if f.format
                    .as_ref()
                    .is_some_and(|s| s.len() > lim.max_format_len)
                {
                    errs.push(
                        format!("{}.format", place_f(id)),
                        format!("format string longer than {} bytes", lim.max_format_len),
                    );
                    continue;
                }
                if f.datefmt
                    .as_ref()
                    .is_some_and(|s| s.len() > lim.max_format_len)
                {
                    errs.push(
                        format!("{}.datefmt", place_f(id)),
                        format!("datefmt longer than {} bytes", lim.max_format_len),
                    );
                    continue;
                }
                let built = match &f.json {
                    Some(options) => Formatter::json(
                        f.format.as_deref(),
                        f.datefmt.as_deref(),
                        f.style,
                        f.validate,
                        options.clone(),
                    ),
                    None => Formatter::new(
                        f.format.as_deref(),
                        f.datefmt.as_deref(),
                        f.style,
                        f.validate,
                        f.defaults.clone(),
                    ),
                };
                match built {
                    Ok(fm) => {
                        // What one record may cost to render (see `ConfigLimits`).
                        let b = fm.render_bound();
                        if b.fixed > lim.max_render_bytes {
                            errs.push(
                                place_f(id),
                                format!(
                                    "format and datefmt can render {} bytes for every record \
                                     (each asctime at its datefmt's longest), more than the \
                                     limit of {}",
                                    b.fixed, lim.max_render_bytes
                                ),
                            );
                        } else if b.record_fields > lim.max_record_fields {
                            errs.push(
                                format!("{}.format", place_f(id)),
                                format!(
                                    "format copies record text {} times, more than the limit \
                                     of {}",
                                    b.record_fields, lim.max_record_fields
                                ),
                            );
                        } else {
                            formatters.insert(id.clone(), Arc::new(fm));
                        }
                    }
                    Err(e) => errs.push(place_f(id), e.to_string()),
                }
            }
        }
        let mut filters: HashMap<String, Arc<dyn Filter>> = HashMap::new();
        for (id, f) in &model.filters {
            filters.insert(id.clone(), Arc::new(NameFilter::new(f.name.clone())));
        }

        let mut handlers = Vec::new();
        if !model.incremental {
            let pctx = PrepareContext {
                policy: &self.policy,
            };
            // CPython configures handlers in sorted order.
            let mut sorted: Vec<&(String, crate::model::HandlerSpec)> =
                model.handlers.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            for (id, spec) in sorted {
                let place = place_h(id);
                if let Some(f) = &spec.formatter
                    && !model.formatters.iter().any(|(fid, _)| fid == f)
                {
                    errs.push(
                        format!("{place}.formatter"),
                        format!("unknown formatter '{f}'"),
                    );
                }
                for f in &spec.filters {
                    if !filters.contains_key(f) {
                        errs.push(format!("{place}.filters"), format!("unknown filter '{f}'"));
                    }
                }
                let Some((_, kind)) = self.registry.lookup(&spec.class, dict) else {
                    if !spec.class.is_empty() {
                        errs.push(
                            format!("{place}.class"),
                            format!(
                                "unknown handler class '{}': classes are looked up in logwire's registry, never imported (known: {})",
                                spec.class,
                                self.registry.names().join(", ")
                            ),
                        );
                    }
                    continue;
                };
                let bound = bind(kind.params(), &spec.args, &spec.kwargs, &place, &mut errs);
                let plan = kind.prepare(&bound, &pctx, &mut errs);
                arg_warnings.extend(bound.warnings());
                if let Some(plan) = plan {
                    for r in plan.handler_refs() {
                        if !model.handlers.iter().any(|(hid, _)| *hid == r) {
                            errs.push(place.clone(), format!("refers to unknown handler '{r}'"));
                        }
                    }
                    handlers.push(HandlerEntry {
                        id: id.clone(),
                        level: spec.level,
                        formatter: spec.formatter.clone(),
                        filters: spec.filters.clone(),
                        plan,
                    });
                }
            }
        }
        let known_handler = |h: &String| model.handlers.iter().any(|(id, _)| id == h);
        let mut check_logger = |place: String, l: &LoggerSpec| {
            if model.incremental {
                return;
            }
            for h in &l.handlers {
                if !known_handler(h) {
                    errs.push(
                        format!("{place}.handlers"),
                        format!("unknown handler '{h}'"),
                    );
                }
            }
            for f in &l.filters {
                if !filters.contains_key(f) {
                    errs.push(format!("{place}.filters"), format!("unknown filter '{f}'"));
                }
            }
        };
        for (name, l) in &model.loggers {
            check_logger(place_l(name), l);
        }
        if let Some(r) = &model.root {
            check_logger(
                if dict {
                    "root".into()
                } else {
                    "[logger_root]".into()
                },
                r,
            );
        }
        let handlers = if errs.is_empty() {
            order_handlers(handlers, dict, &mut errs)
        } else {
            Vec::new()
        };
        model.warnings.extend(arg_warnings);
        errs.into_result(PreparedConfig {
            model,
            formatters,
            filters,
            handlers,
        })
    }

    /// Builds and swaps in a prepared configuration. On any error the tree is unchanged.
    pub fn apply(
        &self,
        tree: &LoggerTree,
        prepared: PreparedConfig,
    ) -> Result<ApplyReport, ConfigErrors> {
        if prepared.model.incremental {
            return apply_incremental(tree, &prepared.model);
        }
        let dict = prepared.model.dialect == Dialect::Dict;
        let mut built: HashMap<String, Arc<Handler>> = HashMap::new();
        let mut created_files: Vec<PathBuf> = Vec::new();
        for entry in &prepared.handlers {
            for f in entry.plan.files() {
                if !f.exists() {
                    created_files.push(f);
                }
            }
            let ctx = BuildContext {
                handlers: &built,
                streams: self.streams.as_ref(),
            };
            match entry.plan.build(&ctx) {
                Ok(emitter) => {
                    let mut h = Handler::from_boxed(emitter).with_name(entry.id.clone());
                    if let Some(l) = entry.level {
                        h = h.with_level(l);
                    }
                    if let Some(f) = &entry.formatter {
                        h = h.with_formatter(Arc::clone(&prepared.formatters[f]));
                    }
                    for f in &entry.filters {
                        h = h.with_filter(Arc::clone(&prepared.filters[f]));
                    }
                    built.insert(entry.id.clone(), Arc::new(h));
                }
                Err(e) => {
                    // Undo: close what was built, remove files this attempt created.
                    for h in built.values() {
                        h.close();
                    }
                    for f in &created_files {
                        if std::fs::metadata(f).is_ok_and(|m| m.len() == 0) {
                            let _ = std::fs::remove_file(f);
                        }
                    }
                    let place = if dict {
                        format!("handlers.{}", entry.id)
                    } else {
                        format!("[handler_{}]", entry.id)
                    };
                    return Err(ConfigErrors::one(place, e.to_string()));
                }
            }
        }

        // Every handler exists: now the destructive steps (mode 'w' truncation), then the swap.
        for entry in &prepared.handlers {
            if let Err(e) = entry.plan.commit() {
                for h in built.values() {
                    h.close();
                }
                let place = if dict {
                    format!("handlers.{}", entry.id)
                } else {
                    format!("[handler_{}]", entry.id)
                };
                return Err(ConfigErrors::one(place, e.to_string()));
            }
        }
        let old = tree.snapshot();
        let model = &prepared.model;
        let mut configured = 0;
        let disable_existing = model.disable_existing_loggers && !self.keep_existing_loggers;
        tree.update(|d| {
            configured = configure_tree(d, model, disable_existing, &built, &prepared.filters);
            d.set_named_handlers(built.clone());
        });
        // Close old handlers that the new tree no longer reaches (CPython closes them all,
        // even those still attached; we never leave a closed handler attached).
        let new = tree.snapshot();
        let reachable = new.all_handlers();
        let mut closed = 0;
        for h in old.all_handlers() {
            if !reachable.iter().any(|n| Arc::ptr_eq(n, &h)) {
                h.flush();
                h.close();
                closed += 1;
            }
        }
        Ok(ApplyReport {
            handlers_built: built.len(),
            handlers_closed: closed,
            loggers_configured: configured,
        })
    }

    /// Validates and applies a model.
    pub fn apply_model(
        &self,
        tree: &LoggerTree,
        model: ConfigModel,
    ) -> Result<ApplyReport, ConfigErrors> {
        let prepared = self.prepare(model)?;
        self.apply(tree, prepared)
    }
}

/// Orders handlers so that each comes after the handlers it refers to; a cycle is an error.
fn order_handlers(
    entries: Vec<HandlerEntry>,
    dict: bool,
    errs: &mut ConfigErrors,
) -> Vec<HandlerEntry> {
    let mut pending: Vec<HandlerEntry> = entries;
    let mut done: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    loop {
        let before = out.len();
        let mut rest = Vec::new();
        for e in pending {
            if e.plan.handler_refs().iter().all(|r| done.contains(r)) {
                done.insert(e.id.clone());
                out.push(e);
            } else {
                rest.push(e);
            }
        }
        pending = rest;
        if pending.is_empty() {
            return out;
        }
        if out.len() == before {
            for e in &pending {
                let place = if dict {
                    format!("handlers.{}", e.id)
                } else {
                    format!("[handler_{}]", e.id)
                };
                errs.0.push(ConfigError::new(
                    place,
                    "handlers refer to each other in a cycle",
                ));
            }
            return out;
        }
    }
}

/// CPython's non-incremental logger configuration, on a draft of the tree.
fn configure_tree(
    d: &mut TreeDraft,
    model: &ConfigModel,
    disable_existing: bool,
    built: &HashMap<String, Arc<Handler>>,
    filters: &HashMap<String, Arc<dyn Filter>>,
) -> usize {
    let mut existing = d.existing_names();
    existing.sort();
    let mut child_loggers: HashSet<String> = HashSet::new();
    let mut configured = 0;
    for (name, spec) in &model.loggers {
        if let Ok(pos) = existing.binary_search(name) {
            // bpo-11424: scan the whole tail, `compiler-hyphenated` sorts between children.
            let prefix = format!("{name}.");
            for e in &existing[pos + 1..] {
                if e.starts_with(&prefix) {
                    child_loggers.insert(e.clone());
                }
            }
            existing.remove(pos);
        }
        let node = d.logger_mut(name);
        configure_logger(node, spec, built, filters);
        node.set_disabled(false);
        if let Some(p) = spec.propagate {
            node.set_propagate(p);
        }
        configured += 1;
    }
    for name in existing {
        let Some(node) = d.get_mut(&name) else {
            continue;
        };
        if child_loggers.contains(&name) {
            if !node.is_placeholder() {
                node.set_level(level::NOTSET);
                node.set_handlers(Vec::new());
                node.set_propagate(true);
            }
        } else if !node.is_placeholder() {
            node.set_disabled(disable_existing);
        }
    }
    if let Some(root) = &model.root {
        configure_logger(d.root_mut(), root, built, filters);
        configured += 1;
    }
    configured
}

fn configure_logger(
    node: &mut logwire_engine::LoggerNode,
    spec: &LoggerSpec,
    built: &HashMap<String, Arc<Handler>>,
    filters: &HashMap<String, Arc<dyn Filter>>,
) {
    if let Some(l) = spec.level {
        node.set_level(l);
    }
    // CPython's addHandler/addFilter ignore one already attached: an id listed twice counts once.
    let mut handlers: Vec<Arc<Handler>> = Vec::new();
    for h in spec.handlers.iter().filter_map(|h| built.get(h)) {
        if !handlers.iter().any(|x| Arc::ptr_eq(x, h)) {
            handlers.push(Arc::clone(h));
        }
    }
    node.set_handlers(handlers);
    let mut attached: Vec<Arc<dyn Filter>> = Vec::new();
    for f in spec.filters.iter().filter_map(|f| filters.get(f)) {
        if !attached.iter().any(|x| Arc::ptr_eq(x, f)) {
            attached.push(Arc::clone(f));
        }
    }
    node.set_filters(attached);
}

/// `incremental: true`: only handler levels, logger levels and `propagate` change. Every
/// name is checked before anything changes.
fn apply_incremental(tree: &LoggerTree, model: &ConfigModel) -> Result<ApplyReport, ConfigErrors> {
    let snap = tree.snapshot();
    let mut errs = ConfigErrors::default();
    let mut handler_levels = Vec::new();
    for (id, spec) in &model.handlers {
        match snap.handler_by_name(id) {
            None => errs.push(
                format!("handlers.{id}"),
                format!("no handler found with name '{id}'"),
            ),
            Some(h) => {
                // CPython: `if level:` — level 0 / absent leaves the handler alone.
                if let Some(l) = spec.level.filter(|l| *l != 0) {
                    handler_levels.push((Arc::clone(h), l));
                }
            }
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let mut configured = 0;
    tree.update(|d| {
        for (h, l) in &handler_levels {
            h.set_level(*l);
        }
        for (name, spec) in &model.loggers {
            let node = d.logger_mut(name);
            if let Some(l) = spec.level {
                node.set_level(l);
            }
            node.set_disabled(false);
            if let Some(p) = spec.propagate {
                node.set_propagate(p);
            }
            configured += 1;
        }
        if let Some(root) = &model.root {
            if let Some(l) = root.level {
                d.root_mut().set_level(l);
            }
            configured += 1;
        }
    });
    Ok(ApplyReport {
        handlers_built: 0,
        handlers_closed: 0,
        loggers_configured: configured,
    })
}
