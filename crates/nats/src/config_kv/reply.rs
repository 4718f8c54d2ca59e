//! [`ListenerReply`]: what each listener says about one revision, and where.

use super::KvTarget;
use logwire_wire::{ConfigReply, ConfigStatus};
use serde::{Deserialize, Serialize};

/// Largest reply a sender reads (a listener's reply is a few hundred bytes).
pub const MAX_REPLY_BYTES: usize = 16 * 1024;
/// Most listeners a sender tracks for one push (more are counted, not kept).
pub const MAX_REPLIES: usize = 10_000;

/// The core NATS subject listeners of `target` reply on:
/// `logwire.config.reply.<BUCKET>.<KEY>`.
pub fn reply_subject(target: &KvTarget) -> String {
    format!("logwire.config.reply.{}.{}", target.bucket, target.key)
}

/// Why a message on the reply subject is not a listener's reply ([`ListenerReply::parse`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// Larger than [`MAX_REPLY_BYTES`] (not parsed).
    #[error("a reply of {len} bytes is too large")]
    TooLarge {
        /// The payload's size.
        len: usize,
    },
    /// Not the JSON of a [`ListenerReply`].
    #[error("not a listener reply: {0}")]
    NotAReply(#[source] serde_json::Error),
}

/// One listener's answer to one revision (JSON on the reply subject).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerReply {
    /// The listener's name: its audience (or `listener`), `@`, host and process id.
    pub listener: String,
    /// The listener's audience name, if it has one.
    pub audience: Option<String>,
    /// `applied` or `rejected`.
    pub status: String,
    /// Why (empty when applied).
    pub reason: String,
    /// The config's seq (0 when it could not be read).
    pub seq: u64,
    /// The bucket revision answered.
    pub revision: u64,
}

impl ListenerReply {
    pub(crate) fn new(
        listener: &str,
        audience: Option<&str>,
        revision: u64,
        r: &ConfigReply,
    ) -> Self {
        ListenerReply {
            listener: listener.to_owned(),
            audience: audience.map(str::to_owned),
            status: r.status.as_str().to_owned(),
            reason: r.reason.clone(),
            seq: r.seq,
            revision,
        }
    }

    /// Whether the listener applied the config.
    pub fn applied(&self) -> bool {
        self.status == ConfigStatus::Applied.as_str()
    }

    /// Parses a reply read from the subject (bounded: larger payloads are refused).
    pub fn parse(payload: &[u8]) -> Result<Self, ReplyError> {
        if payload.len() > MAX_REPLY_BYTES {
            return Err(ReplyError::TooLarge { len: payload.len() });
        }
        serde_json::from_slice(payload).map_err(ReplyError::NotAReply)
    }

    /// One line for a terminal: control characters in the listener's words are escaped.
    pub fn line(&self) -> String {
        let clean = |s: &str| s.chars().flat_map(char::escape_debug).collect::<String>();
        let mut line = format!(
            "{}: {} (seq {}, revision {})",
            clean(&self.listener),
            clean(&self.status),
            self.seq,
            self.revision
        );
        if !self.reason.is_empty() {
            line.push_str(": ");
            line.push_str(&clean(&self.reason));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_escapes_what_a_listener_could_use_to_drive_a_terminal() {
        let r = ListenerReply {
            listener: "a\u{1b}[2Jb".into(),
            audience: None,
            status: "rejected".into(),
            reason: "bad\nforged line".into(),
            seq: 3,
            revision: 9,
        };
        assert_eq!(
            r.line(),
            "a\\u{1b}[2Jb: rejected (seq 3, revision 9): bad\\nforged line"
        );
    }

    #[test]
    fn oversized_and_foreign_replies_are_refused() {
        let too_large = ListenerReply::parse(&vec![b' '; MAX_REPLY_BYTES + 1]).unwrap_err();
        assert_eq!(
            too_large.to_string(),
            format!("a reply of {} bytes is too large", MAX_REPLY_BYTES + 1)
        );
        let foreign = ListenerReply::parse(br#"{"status": "applied"}"#).unwrap_err();
        assert!(matches!(foreign, ReplyError::NotAReply(_)), "{foreign}");
        assert!(
            foreign
                .to_string()
                .starts_with("not a listener reply: missing field"),
            "{foreign}"
        );
    }
}
