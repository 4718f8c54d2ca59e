//! Levels: CPython's names and numbers, the `WARN`/`FATAL` aliases, custom names, and
//! `Level N` for numbers that have no name.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

/// `CRITICAL` (also `FATAL`).
pub const CRITICAL: i32 = 50;
/// `FATAL`, an alias of `CRITICAL`.
pub const FATAL: i32 = CRITICAL;
/// `ERROR`.
pub const ERROR: i32 = 40;
/// `WARNING` (also `WARN`).
pub const WARNING: i32 = 30;
/// `WARN`, an alias of `WARNING`.
pub const WARN: i32 = WARNING;
/// `INFO`.
pub const INFO: i32 = 20;
/// `DEBUG`.
pub const DEBUG: i32 = 10;
/// `TRACE`: the level the `log` and `tracing` bridges give Rust's TRACE (not a CPython level).
pub const TRACE: i32 = 5;
/// `NOTSET`.
pub const NOTSET: i32 = 0;

struct LevelNames {
    to_name: HashMap<i32, String>,
    to_level: HashMap<String, i32>,
}

fn names() -> &'static RwLock<LevelNames> {
    static NAMES: OnceLock<RwLock<LevelNames>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let canonical = [
            (CRITICAL, "CRITICAL"),
            (ERROR, "ERROR"),
            (WARNING, "WARNING"),
            (INFO, "INFO"),
            (DEBUG, "DEBUG"),
            (NOTSET, "NOTSET"),
        ];
        let mut to_name = HashMap::new();
        let mut to_level = HashMap::new();
        for (n, s) in canonical {
            to_name.insert(n, s.to_owned());
            to_level.insert(s.to_owned(), n);
        }
        to_level.insert("WARN".to_owned(), WARNING);
        to_level.insert("FATAL".to_owned(), CRITICAL);
        RwLock::new(LevelNames { to_name, to_level })
    })
}

/// CPython's `addLevelName(level, name)`: associates `name` with `level` both ways.
pub fn add_level_name(level: i32, name: &str) {
    if matches!(level, CRITICAL | ERROR | WARNING | INFO | DEBUG | NOTSET) {
        STANDARD_RENAMED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let mut n = names().write().unwrap_or_else(|e| e.into_inner());
    n.to_name.insert(level, name.to_owned());
    n.to_level.insert(name.to_owned(), level);
}

/// Whether any standard level has been renamed with [`add_level_name`] (then the fast path in
/// [`write_level_name`] is off).
static STANDARD_RENAMED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes the name of `level` into `out` (replacing its contents) without allocating for the
/// standard levels; the hot path of record creation.
pub fn write_level_name(level: i32, out: &mut String) {
    out.clear();
    if !STANDARD_RENAMED.load(std::sync::atomic::Ordering::Relaxed) {
        let fast = match level {
            CRITICAL => Some("CRITICAL"),
            ERROR => Some("ERROR"),
            WARNING => Some("WARNING"),
            INFO => Some("INFO"),
            DEBUG => Some("DEBUG"),
            NOTSET => Some("NOTSET"),
            _ => None,
        };
        if let Some(name) = fast {
            out.push_str(name);
            return;
        }
    }
    let n = names().read().unwrap_or_else(|e| e.into_inner());
    match n.to_name.get(&level) {
        Some(s) => out.push_str(s),
        None => {
            use std::fmt::Write;
            let _ = write!(out, "Level {level}");
        }
    }
}

/// The name of a level number: its registered name, or `Level N` (CPython's `getLevelName`).
pub fn level_name(level: i32) -> String {
    let n = names().read().unwrap_or_else(|e| e.into_inner());
    match n.to_name.get(&level) {
        Some(s) => s.clone(),
        None => format!("Level {level}"),
    }
}

/// The number of a level name, if the name is registered (`WARN` and `FATAL` included).
/// Names are case-sensitive, as in CPython.
pub fn level_from_name(name: &str) -> Option<i32> {
    let n = names().read().unwrap_or_else(|e| e.into_inner());
    n.to_level.get(name).copied()
}

/// Registers `TRACE` (5), the level the bridges map Rust's TRACE to. Idempotent.
pub fn register_trace_level() {
    if level_from_name("TRACE").is_none() {
        add_level_name(TRACE, "TRACE");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_names_and_aliases() {
        assert_eq!(level_name(WARNING), "WARNING");
        assert_eq!(level_from_name("WARN"), Some(30));
        assert_eq!(level_from_name("FATAL"), Some(50));
        assert_eq!(level_from_name("warning"), None);
        assert_eq!(level_name(15), "Level 15");
    }

    #[test]
    fn custom_names_work_both_ways() {
        add_level_name(25, "NOTICE");
        assert_eq!(level_name(25), "NOTICE");
        assert_eq!(level_from_name("NOTICE"), Some(25));
    }
}
