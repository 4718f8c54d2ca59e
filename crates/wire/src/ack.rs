//! Acknowledgements: the record ack `LWA1` and the JSON config reply.
//!
//! Both travel inside the usual 4-byte length prefix. CPython senders never read them, and
//! nothing breaks.
//!
//! ```
//! use logwire_wire::{ConfigReply, RecordAck, split_datagram, Epoch};
//!
//! let ack = RecordAck { epoch: Epoch([7; 16]), seq: 42 };
//! let framed = ack.encode_frame();
//! assert_eq!(RecordAck::parse(split_datagram(&framed).unwrap()).unwrap(), ack);
//!
//! let reply = ConfigReply::rejected(7, "bad signature");
//! let framed = reply.encode_frame();
//! assert_eq!(ConfigReply::parse(&framed[4..]).unwrap(), reply);
//! ```

use crate::frame::encode_frame;
use crate::record_envelope::Epoch;

/// The record ack magic.
pub const RECORD_ACK_MAGIC: [u8; 4] = *b"LWA1";
/// Length of a record ack body: magic, epoch, seq.
pub const RECORD_ACK_LEN: usize = 4 + 16 + 8;
/// Largest config reply body accepted by [`ConfigReply::parse`].
pub const MAX_CONFIG_REPLY_BYTES: usize = 16 * 1024;
/// Longest reason (in bytes) a reply carries; longer ones are cut at a char boundary.
pub const MAX_REASON_BYTES: usize = 4096;

/// Why an ack could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AckError {
    /// A record ack that is not exactly `"LWA1" || epoch(16) || seq(8)`.
    #[error("malformed record ack ({len} bytes)")]
    BadRecordAck {
        /// Body length.
        len: usize,
    },
    /// A config reply larger than [`MAX_CONFIG_REPLY_BYTES`].
    #[error("config reply of {len} bytes exceeds the cap")]
    ReplyTooLarge {
        /// Body length.
        len: usize,
    },
    /// A config reply that is not the expected JSON object.
    #[error("malformed config reply: {0}")]
    BadReply(String),
}

/// A cumulative record ack: every record of `epoch` up to `seq` was handled and flushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordAck {
    /// The sender epoch acknowledged.
    pub epoch: Epoch,
    /// Highest seq acknowledged (cumulative).
    pub seq: u64,
}

impl RecordAck {
    /// The 28-byte ack body.
    pub fn encode(&self) -> [u8; RECORD_ACK_LEN] {
        let mut out = [0u8; RECORD_ACK_LEN];
        out[..4].copy_from_slice(&RECORD_ACK_MAGIC);
        out[4..20].copy_from_slice(&self.epoch.0);
        out[20..].copy_from_slice(&self.seq.to_be_bytes());
        out
    }

    /// The ack with its length prefix, ready to write.
    pub fn encode_frame(&self) -> Vec<u8> {
        encode_frame(&self.encode())
    }

    /// Parses an ack body (the length prefix already removed).
    pub fn parse(body: &[u8]) -> Result<Self, AckError> {
        let bad = AckError::BadRecordAck { len: body.len() };
        let body: &[u8; RECORD_ACK_LEN] = body.try_into().map_err(|_| bad.clone())?;
        if body[..4] != RECORD_ACK_MAGIC {
            return Err(bad);
        }
        let mut epoch = [0u8; 16];
        epoch.copy_from_slice(&body[4..20]);
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&body[20..]);
        Ok(Self {
            epoch: Epoch(epoch),
            seq: u64::from_be_bytes(seq),
        })
    }
}

/// The outcome reported in a config reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigStatus {
    /// The config was applied.
    Applied,
    /// The config was rejected; the reason says why.
    Rejected,
}

impl ConfigStatus {
    /// The JSON string value.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigStatus::Applied => "applied",
            ConfigStatus::Rejected => "rejected",
        }
    }
}

/// The listener's reply to a config: `{"status": …, "reason": "…", "seq": n}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigReply {
    /// Applied or rejected.
    pub status: ConfigStatus,
    /// Why (empty when applied).
    pub reason: String,
    /// The config's seq (0 for unsigned configs or when it could not be read).
    pub seq: u64,
}

impl ConfigReply {
    /// An "applied" reply.
    pub fn applied(seq: u64) -> Self {
        Self {
            status: ConfigStatus::Applied,
            reason: String::new(),
            seq,
        }
    }

    /// A "rejected" reply with a reason.
    pub fn rejected(seq: u64, reason: impl Into<String>) -> Self {
        Self {
            status: ConfigStatus::Rejected,
            reason: reason.into(),
            seq,
        }
    }

    /// The JSON text (the reason cut to [`MAX_REASON_BYTES`]).
    pub fn to_json(&self) -> String {
        let mut cut = self.reason.len().min(MAX_REASON_BYTES);
        while !self.reason.is_char_boundary(cut) {
            cut -= 1;
        }
        serde_json::json!({
            "status": self.status.as_str(),
            "reason": &self.reason[..cut],
            "seq": self.seq,
        })
        .to_string()
    }

    /// The JSON with its length prefix, ready to write.
    pub fn encode_frame(&self) -> Vec<u8> {
        encode_frame(self.to_json().as_bytes())
    }

    /// Parses a reply body (length prefix already removed). `reason` may be absent
    /// (empty) and `seq` absent or null (0); unknown keys are ignored.
    pub fn parse(body: &[u8]) -> Result<Self, AckError> {
        if body.len() > MAX_CONFIG_REPLY_BYTES {
            return Err(AckError::ReplyTooLarge { len: body.len() });
        }
        let bad = |m: &str| AckError::BadReply(m.to_owned());
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| AckError::BadReply(e.to_string()))?;
        let obj = value.as_object().ok_or_else(|| bad("not a JSON object"))?;
        let status = match obj.get("status").and_then(|s| s.as_str()) {
            Some("applied") => ConfigStatus::Applied,
            Some("rejected") => ConfigStatus::Rejected,
            _ => return Err(bad("status must be \"applied\" or \"rejected\"")),
        };
        let reason = match obj.get("reason") {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(_) => return Err(bad("reason must be a string")),
        };
        let seq = match obj.get("seq") {
            None | Some(serde_json::Value::Null) => 0,
            Some(v) => v
                .as_u64()
                .ok_or_else(|| bad("seq must be an unsigned integer"))?,
        };
        Ok(Self {
            status,
            reason,
            seq,
        })
    }
}
