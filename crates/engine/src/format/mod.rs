//! Formatters: CPython's `%`, `{` and `$` styles, `datefmt`, `defaults` and `validate`.
//!
//! PLACEHOLDER: the full implementation is being written; this only formats `%(message)s`.

use crate::record::LogRecord;

pub mod percent;

/// A formatter (CPython's `logging.Formatter`).
#[derive(Debug, Default)]
pub struct Formatter {}

impl Formatter {
    /// Formats a record into one string.
    pub fn format(&self, record: &LogRecord) -> String {
        record.get_message()
    }
}
