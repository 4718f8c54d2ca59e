//! The config channel's connection policy over the crate's one [`NatsConnect`]: one server
//! (the target's), one bounded attempt per call (the watcher's own loop backs off and
//! retries), user/password or a token from the target URL's userinfo unless the
//! [`NatsConnect`] names its own. Its `servers` are not used: the target names the server.

use super::{ConfigKvError, KvTarget};
use crate::NatsConnect;
use std::time::Duration;

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The client options for `target` (`name` is shown in the server's connz).
pub(crate) fn options(
    connect: &NatsConnect,
    target: &KvTarget,
    name: &str,
) -> Result<async_nats::ConnectOptions, ConfigKvError> {
    let mut o = connect
        .credential_options()
        .map_err(|e| ConfigKvError::Credentials(e.to_string()))?
        .name(name)
        .connection_timeout(CONNECT_TIMEOUT);
    if let (Some(info), None, None) = (&target.userinfo, &connect.user_password, &connect.token) {
        o = match info.split_once(':') {
            Some((u, p)) => o.user_and_password(u.to_owned(), p.to_owned()),
            None => o.token(info.clone()),
        };
    }
    if target.require_tls {
        o = o.require_tls(true);
    }
    Ok(o)
}

/// Connects to `target`'s server (one attempt, bounded by a timeout).
pub(crate) async fn connect(
    connect: &NatsConnect,
    target: &KvTarget,
    name: &str,
) -> Result<async_nats::Client, ConfigKvError> {
    options(connect, target, name)?
        .connect(target.server.as_str())
        .await
        .map_err(|e| ConfigKvError::Connect {
            server: target.server.clone(),
            why: e.to_string(),
        })
}
