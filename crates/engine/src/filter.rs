//! Filters: CPython's `logging.Filter(name)` and the [`Filter`] trait for Rust-defined ones.

use crate::record::LogRecord;

/// Decides whether a record passes a logger or handler.
pub trait Filter: Send + Sync {
    /// `true` lets the record through.
    fn filter(&self, record: &LogRecord) -> bool;
}

/// CPython's `logging.Filter(name)`: passes records of logger `name` and its descendants;
/// an empty name passes everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameFilter {
    name: String,
}

impl NameFilter {
    /// A filter for logger `name` and its children.
    pub fn new(name: impl Into<String>) -> Self {
        NameFilter { name: name.into() }
    }

    /// The logger name this filter passes.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Filter for NameFilter {
    fn filter(&self, record: &LogRecord) -> bool {
        let n = &self.name;
        if n.is_empty() || record.name == *n {
            return true;
        }
        record.name.starts_with(n.as_str()) && record.name.as_bytes().get(n.len()) == Some(&b'.')
    }
}

impl<F> Filter for F
where
    F: Fn(&LogRecord) -> bool + Send + Sync,
{
    fn filter(&self, record: &LogRecord) -> bool {
        self(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str) -> LogRecord {
        let mut r = LogRecord::empty();
        r.name = name.to_owned();
        r
    }

    #[test]
    fn name_filter_matches_cpython() {
        let f = NameFilter::new("a.b");
        assert!(f.filter(&rec("a.b")));
        assert!(f.filter(&rec("a.b.c")));
        assert!(!f.filter(&rec("a.bc")));
        assert!(!f.filter(&rec("a")));
        assert!(NameFilter::new("").filter(&rec("anything")));
    }
}
