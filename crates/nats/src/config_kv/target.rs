//! [`KvTarget`]: `nats://[USER:PASS@|TOKEN@]HOST[:PORT]/BUCKET/KEY`.

use super::ConfigKvError;

/// Where a config lives: a NATS server, a key-value bucket and a key in it.
#[derive(Clone, PartialEq, Eq)]
pub struct KvTarget {
    /// `HOST:PORT` (port 4222 when the URL has none).
    pub server: String,
    /// The bucket name (`[A-Za-z0-9_-]+`).
    pub bucket: String,
    /// The key (`[-/_=.A-Za-z0-9]+`, no leading or trailing `.`, no empty token).
    pub key: String,
    /// `USER:PASS` or a token from the URL, if any (never displayed).
    pub userinfo: Option<String>,
    /// `tls://` was used: the connection must be TLS.
    pub require_tls: bool,
}

impl std::fmt::Debug for KvTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_string())
    }
}

impl std::fmt::Display for KvTarget {
    /// The URL without its credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.require_tls { "tls" } else { "nats" };
        write!(f, "{scheme}://{}/{}/{}", self.server, self.bucket, self.key)
    }
}

impl std::str::FromStr for KvTarget {
    type Err = ConfigKvError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| {
            ConfigKvError::Target(format!(
                "'{}' is not nats://HOST:PORT/BUCKET/KEY: {why}",
                redact(s)
            ))
        };
        let (rest, require_tls) = if let Some(r) = s.strip_prefix("nats://") {
            (r, false)
        } else if let Some(r) = s.strip_prefix("tls://") {
            (r, true)
        } else {
            return Err(bad("it must start with nats:// or tls://"));
        };
        let (authority, path) = rest.split_once('/').ok_or_else(|| bad("no /BUCKET/KEY"))?;
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) if !u.is_empty() => (Some(u.to_owned()), h),
            Some(_) => return Err(bad("empty credentials before @")),
            None => (None, authority),
        };
        if hostport.is_empty() {
            return Err(bad("no host"));
        }
        let has_port = match hostport.rsplit_once(':') {
            // An IPv6 literal without a port ends with ']'.
            Some((_, p)) if !p.ends_with(']') => {
                p.parse::<u16>()
                    .map_err(|_| bad("the port is not a number"))?;
                true
            }
            _ => false,
        };
        let server = if has_port {
            hostport.to_owned()
        } else {
            format!("{hostport}:4222")
        };
        let (bucket, key) = path
            .split_once('/')
            .ok_or_else(|| bad("no /KEY after the bucket"))?;
        if bucket.is_empty()
            || !bucket
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(bad(
                "the bucket name may only hold letters, digits, '_' and '-'",
            ));
        }
        let key_ok = !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-/_=.".contains(&b))
            && !key.starts_with('.')
            && !key.ends_with('.')
            && !key.contains("..");
        if !key_ok {
            return Err(bad(
                "the key may only hold letters, digits and - / _ = . (no leading, trailing or double '.')",
            ));
        }
        Ok(KvTarget {
            server,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            userinfo,
            require_tls,
        })
    }
}

/// The URL with anything before an `@` hidden, for error messages.
fn redact(s: &str) -> String {
    match (s.find("://"), s.rfind('@')) {
        (Some(i), Some(j)) if j > i => format!("{}***{}", &s[..i + 3], &s[j..]),
        _ => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_bucket_key_and_hides_credentials() {
        let t: KvTarget = "nats://ops:s3cret@127.0.0.1:4333/logconf/fleet.payments"
            .parse()
            .unwrap();
        assert_eq!(
            (t.server.as_str(), t.bucket.as_str(), t.key.as_str()),
            ("127.0.0.1:4333", "logconf", "fleet.payments")
        );
        assert_eq!(t.userinfo.as_deref(), Some("ops:s3cret"));
        assert_eq!(
            t.to_string(),
            "nats://127.0.0.1:4333/logconf/fleet.payments"
        );
        let t: KvTarget = "tls://nats.example.net/b/k".parse().unwrap();
        assert_eq!(
            (t.server.as_str(), t.require_tls),
            ("nats.example.net:4222", true)
        );
    }

    #[test]
    fn refuses_what_is_not_a_bucket_and_key() {
        for bad in [
            "127.0.0.1:4222/b/k",
            "nats://127.0.0.1:4222",
            "nats://127.0.0.1:4222/b",
            "nats://127.0.0.1:4222/b/",
            "nats://127.0.0.1:x/b/k",
            "nats://h/b.c/k",
            "nats://h/b/k*",
            "nats://h/b/.k",
            "nats://h/b/a..k",
            "nats://h/b/k>",
        ] {
            assert!(bad.parse::<KvTarget>().is_err(), "{bad}");
        }
        let e = "nats://u:pw@h/b.c/k".parse::<KvTarget>().unwrap_err();
        assert!(!e.to_string().contains("pw"), "{e}");
    }
}
