//! Python's printf-style `%` formatting (PLACEHOLDER).

use crate::record::Args;

/// `msg % args`.
pub fn format_message(msg: &str, _args: &Args) -> Result<String, String> {
    Ok(msg.to_owned())
}
