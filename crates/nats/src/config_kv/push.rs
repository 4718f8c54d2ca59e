//! [`push_config`]: put one frame body into the bucket and collect the listeners' replies.

use super::{
    BUCKET_HISTORY, ConfigKvError, KvTarget, ListenerReply, MAX_REPLIES, NatsConnect, reply_subject,
};
use futures_util::StreamExt;
use logwire_listener::DEFAULT_MAX_CONFIG_BYTES;
use std::time::Duration;

/// Past this backoff a failed put is reported (20 ms doubling: about 1.3 s of tries).
const PUT_RETRY_LIMIT: Duration = Duration::from_millis(700);

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
    if let Ok(kv) = js.get_key_value(&target.bucket).await {
        return Ok(kv);
    }
    create_bucket_stream(js, target)
        .await
        .map_err(|why| err(format!("not found, and creating it failed: {why}")))?;
    js.get_key_value(&target.bucket)
        .await
        .map_err(|e| err(e.to_string()))
}

/// Creates the bucket's stream with the key-value conventions (`KV_<bucket>` on
/// `$KV.<bucket>.>`, one subject per key, rollups allowed, deletes denied, direct gets) by a
/// plain JetStream API request. `create_key_value` of async-nats 0.46 sends fields that
/// nats-server 2.9 (Debian's) answers in a form the client cannot read; this request is
/// understood by 2.9 and every later server. "Already exists" with the same settings is
/// success, so racing creators agree.
async fn create_bucket_stream(
    js: &async_nats::jetstream::Context,
    target: &KvTarget,
) -> Result<(), String> {
    let b = &target.bucket;
    let config = serde_json::json!({
        "name": format!("KV_{b}"),
        "description": "logwire signed config pushes (LWC1)",
        "subjects": [format!("$KV.{b}.>")],
        "retention": "limits",
        "max_msgs_per_subject": BUCKET_HISTORY,
        "max_msg_size": i32::try_from(DEFAULT_MAX_CONFIG_BYTES).unwrap_or(i32::MAX),
        "discard": "new",
        "storage": "file",
        "num_replicas": 1,
        "allow_rollup_hdrs": true,
        "deny_delete": true,
        "allow_direct": true,
    });
    let subject = format!("STREAM.CREATE.KV_{b}");
    let answer: serde_json::Value = js
        .request(subject, &config)
        .await
        .map_err(|e| e.to_string())?;
    match answer.get("error") {
        None => Ok(()),
        Some(e) => Err(e
            .get("description")
            .and_then(|d| d.as_str())
            .unwrap_or("the server refused")
            .to_owned()),
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
    let client = super::connect::connect(connect, target, "logwire send-config").await?;
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
    let body = bytes::Bytes::from(body);
    let mut retry = Duration::from_millis(20);
    let revision = loop {
        match kv.put(&target.key, body.clone()).await {
            Ok(r) => break r,
            // A stream that another client is creating at this moment can already be
            // visible while its subjects are not yet bound (nats-server answers "no stream
            // found"); nothing was stored, so putting again is safe. A few short tries.
            Err(e) if e.to_string().contains("no stream found") && retry < PUT_RETRY_LIMIT => {
                tokio::time::sleep(retry).await;
                retry *= 2;
            }
            Err(e) => return Err(push_err(e.to_string())),
        }
    };
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
