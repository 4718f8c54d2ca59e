//! [`push_config`]: put one frame body into the bucket and collect the listeners' replies.

use super::{
    BUCKET_HISTORY, ConfigKvError, KvTarget, ListenerReply, MAX_REPLIES, NatsConnect,
    reply_subject,
};
use futures_util::StreamExt;
use logwire_net::listener::DEFAULT_MAX_CONFIG_BYTES;
use std::time::Duration;

/// What a push produced.
#[derive(Debug, Clone)]
pub struct PushReport {
    /// The revision the frame was stored as.
    pub revision: u64,
    /// One reply per listener, in the order they came.
    pub replies: Vec<ListenerReply>,
    /// Replies that were not for this revision or could not be read (ignored).
    pub ignored: usize,
}

impl PushReport {
    /// Whether every reply says applied (false with no reply at all).
    pub fn all_applied(&self) -> bool {
        !self.replies.is_empty() && self.replies.iter().all(ListenerReply::applied)
    }
}

/// Opens `target`'s bucket, creating it when missing (file storage, [`BUCKET_HISTORY`]
/// revisions, values capped at the listener's default config cap).
pub(crate) async fn open_bucket(
    js: &async_nats::jetstream::Context,
    target: &KvTarget,
) -> Result<async_nats::jetstream::kv::Store, ConfigKvError> {
    let err = |why: String| ConfigKvError::Bucket {
        bucket: target.bucket.clone(),
        why,
    };
    match js.get_key_value(&target.bucket).await {
        Ok(kv) => Ok(kv),
        Err(e)
            if e.kind()
                == async_nats::jetstream::context::KeyValueErrorKind::GetBucket =>
        {
            js.create_key_value(async_nats::jetstream::kv::Config {
                bucket: target.bucket.clone(),
                description: "logwire signed config pushes (LWC1)".into(),
                history: BUCKET_HISTORY,
                max_value_size: i32::try_from(DEFAULT_MAX_CONFIG_BYTES).unwrap_or(i32::MAX),
                storage: async_nats::jetstream::stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|create_err| err(format!("not found, and creating it failed: {create_err}")))
        }
        Err(e) => Err(err(e.to_string())),
    }
}

/// Puts `body` (an `LWC1` envelope, or a plain config for listeners that allow them) as
/// `target`'s next revision and collects replies until `expect` listeners have answered or
/// `timeout` passed (without `expect`: for the whole `timeout`). The subscription is made
/// before the put, so no reply is missed.
pub async fn push_config(
    target: &KvTarget,
    connect: &NatsConnect,
    body: Vec<u8>,
    expect: Option<usize>,
    timeout: Duration,
) -> Result<PushReport, ConfigKvError> {
    let push_err = |why: String| ConfigKvError::Push {
        target: target.to_string(),
        why,
    };
    let client = connect.connect(target, "logwire send-config").await?;
    let js = async_nats::jetstream::new(client.clone());
    let kv = match open_bucket(&js, target).await {
        Ok(kv) => kv,
        // Lost a creation race: the bucket exists now.
        Err(first) => js.get_key_value(&target.bucket).await.map_err(|_| first)?,
    };
    let mut replies = client
        .subscribe(reply_subject(target))
        .await
        .map_err(|e| push_err(format!("cannot subscribe to the reply subject: {e}")))?;
    client
        .flush()
        .await
        .map_err(|e| push_err(format!("flush: {e}")))?;
    let revision = kv
        .put(&target.key, body.into())
        .await
        .map_err(|e| push_err(e.to_string()))?;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut report = PushReport {
        revision,
        replies: Vec::new(),
        ignored: 0,
    };
    while expect.is_none_or(|n| report.replies.len() < n) {
        let msg = match tokio::time::timeout_at(deadline, replies.next()).await {
            Ok(Some(m)) => m,
            Ok(None) | Err(_) => break,
        };
        match ListenerReply::parse(&msg.payload) {
            Ok(r) if r.revision == revision => {
                let seen = report.replies.iter().any(|x| x.listener == r.listener);
                if !seen && report.replies.len() < MAX_REPLIES {
                    report.replies.push(r);
                } else {
                    report.ignored += 1;
                }
            }
            _ => report.ignored += 1,
        }
    }
    Ok(report)
}
