//! Registry kinds for `logging.handlers.SMTPHandler` and `logging.handlers.HTTPHandler`,
//! with CPython's parameters (in CPython's positional order, so fileConfig `args=` binds the
//! same way) plus logwire's extensions as keyword arguments.
//!
//! | class | CPython parameters | logwire keyword arguments |
//! |---|---|---|
//! | `SMTPHandler` | `mailhost, fromaddr, toaddrs, subject, credentials=None, secure=None, timeout=5.0` | `cafile queue_bytes session_timeout` |
//! | `HTTPHandler` | `host, url, method='GET', secure=False, credentials=None, context=None` | `cafile timeout queue_bytes session_timeout` |
//!
//! Refused, with the reason: `context` (an `ssl.SSLContext` is code; logwire's `cafile`
//! names extra trusted CAs instead), `secure=(keyfile, certfile)` (client certificates are
//! not supported), a method other than GET/POST (CPython's own `ValueError`). Every mail or
//! HTTP host passes the same destination check as `SocketHandler`: a pushed config may only
//! name loopback and `--allow-host` destinations; `cafile` is a file under the policy's file
//! rules.
//!
//! ```
//! use logwire_config::{ContentPolicy, SourceFormat};
//! use logwire_engine::LoggerTree;
//! use logwire_handlers::configurator;
//!
//! let pushed = ContentPolicy::pushed(None, vec![]).unwrap();
//! let text = r#"{"version": 1, "handlers": {"mail": {
//!     "class": "logging.handlers.SMTPHandler", "mailhost": ["mail.example.org", 25],
//!     "fromaddr": "app@example.org", "toaddrs": ["ops@example.org"], "subject": "x"}}}"#;
//! let err = configurator(pushed)
//!     .apply_text(&LoggerTree::new(), text, SourceFormat::Json)
//!     .unwrap_err();
//! assert!(err.to_string().contains("mail.example.org:25 is not allowed"), "{err}");
//! ```

use crate::sender::{
    Credentials, HTTPHandler, HttpMethod, HttpOptions, MAX_QUEUE_BYTES, SMTP_PORT, SMTPHandler,
    SmtpOptions, TlsClientConfig, check_message_fields, check_request_target, split_host_port,
};
use logwire_config::{
    BoundArgs, BuildContext, ConfigErrors, ConfigValue, HandlerKind, HandlerPlan, HandlerRegistry,
    Param, PlanError, PrepareContext,
};
use logwire_engine::Emitter;
use std::time::Duration;

use super::{opt, req};

/// Registers `logging.handlers.SMTPHandler` and `logging.handlers.HTTPHandler`.
pub(crate) fn register_mail_http_handlers(registry: &mut HandlerRegistry) {
    registry.register("logging.handlers.SMTPHandler", SmtpKind);
    registry.register("logging.handlers.HTTPHandler", HttpKind);
}

/// `(username, password)`; CPython's SMTPHandler ignores a non-sequence, HTTPHandler needs
/// the pair, so anything else is refused here.
fn credentials(a: &BoundArgs, errs: &mut ConfigErrors) -> Option<Credentials> {
    match a.get("credentials")? {
        ConfigValue::List(v) | ConfigValue::Tuple(v) => match v.as_slice() {
            [ConfigValue::Str(u), ConfigValue::Str(p)] => Some(Credentials {
                username: u.clone(),
                password: p.clone(),
            }),
            _ => {
                errs.push(
                    a.place_of("credentials"),
                    "expected [username, password] (two strings)",
                );
                None
            }
        },
        other => {
            errs.push(
                a.place_of("credentials"),
                format!("expected [username, password], found {}", other.type_name()),
            );
            None
        }
    }
}

/// The TLS roots: Mozilla's, plus `cafile` (a file under the policy) if given.
fn tls_roots(
    a: &BoundArgs,
    ctx: &PrepareContext<'_>,
    errs: &mut ConfigErrors,
) -> Option<TlsClientConfig> {
    let r = match a.get("cafile") {
        None => TlsClientConfig::webpki_roots(),
        Some(_) => {
            let path = ctx.file(a, "cafile", errs)?;
            TlsClientConfig::with_ca_file(&path)
        }
    };
    r.map_err(|e| errs.push(a.place_of("cafile"), e.to_string()))
        .ok()
}

fn seconds(a: &BoundArgs, name: &str, default: Duration, errs: &mut ConfigErrors) -> Duration {
    match a.float(name, errs) {
        None => default,
        Some(s) if s > 0.0 && s <= 3600.0 => Duration::from_secs_f64(s),
        Some(s) => {
            errs.push(
                a.place_of(name),
                format!("{s} is out of range (more than 0 and at most 3600 seconds)"),
            );
            default
        }
    }
}

fn queue_bytes(a: &BoundArgs, default: usize, errs: &mut ConfigErrors) -> usize {
    a.int("queue_bytes", 1024, MAX_QUEUE_BYTES as i64, errs)
        .map_or(default, |n| n as usize)
}

struct SmtpKind;

struct SmtpPlan {
    host: String,
    port: u16,
    fromaddr: String,
    toaddrs: Vec<String>,
    subject: String,
    options: SmtpOptions,
}

impl HandlerKind for SmtpKind {
    fn params(&self) -> &'static [Param] {
        const P: &[Param] = &[
            req("mailhost"),
            req("fromaddr"),
            req("toaddrs"),
            req("subject"),
            opt("credentials"),
            opt("secure"),
            opt("timeout"),
            opt("cafile"),
            opt("queue_bytes"),
            opt("session_timeout"),
        ];
        P
    }

    fn prepare(
        &self,
        a: &BoundArgs,
        ctx: &PrepareContext<'_>,
        errs: &mut ConfigErrors,
    ) -> Option<Box<dyn HandlerPlan>> {
        let before = errs.0.len();
        // CPython: `mailhost, mailport = mailhost` for a list/tuple, else port None → 25.
        let (host, port) = match a.get("mailhost") {
            Some(ConfigValue::Str(h)) => (h.clone(), SMTP_PORT),
            Some(ConfigValue::List(v) | ConfigValue::Tuple(v)) => match v.as_slice() {
                [ConfigValue::Str(h), ConfigValue::Int(p)] if (0..=65_535).contains(p) => {
                    (h.clone(), if *p == 0 { SMTP_PORT } else { *p as u16 })
                }
                [ConfigValue::Str(h), ConfigValue::None] => (h.clone(), SMTP_PORT),
                _ => {
                    errs.push(
                        a.place_of("mailhost"),
                        "expected a host or [host, port] with a port from 0 to 65535",
                    );
                    return None;
                }
            },
            Some(other) => {
                errs.push(
                    a.place_of("mailhost"),
                    format!(
                        "expected a host or [host, port], found {}",
                        other.type_name()
                    ),
                );
                return None;
            }
            None => return None,
        };
        if let Err(e) = ctx.policy.check_destination(&host, port) {
            errs.push(a.place_of("mailhost"), e.to_string());
            return None;
        }
        let fromaddr = a.str("fromaddr", errs);
        let toaddrs = match a.get("toaddrs") {
            Some(ConfigValue::Str(s)) => vec![s.clone()],
            Some(ConfigValue::List(v) | ConfigValue::Tuple(v)) => {
                let mut out = Vec::new();
                for item in v {
                    match item {
                        ConfigValue::Str(s) => out.push(s.clone()),
                        other => errs.push(
                            a.place_of("toaddrs"),
                            format!("expected addresses (strings), found {}", other.type_name()),
                        ),
                    }
                }
                out
            }
            Some(other) => {
                errs.push(
                    a.place_of("toaddrs"),
                    format!(
                        "expected an address or a list of addresses, found {}",
                        other.type_name()
                    ),
                );
                vec![]
            }
            None => vec![],
        };
        let subject = a.str("subject", errs);
        let credentials = credentials(a, errs);
        let secure = match a.get("secure") {
            None => None,
            Some(ConfigValue::List(v) | ConfigValue::Tuple(v)) if v.is_empty() => {
                tls_roots(a, ctx, errs)
            }
            Some(ConfigValue::List(_) | ConfigValue::Tuple(_)) => {
                errs.push(
                    a.place_of("secure"),
                    "client certificates (secure=(keyfile, certfile)) are not supported; use () \
                     for STARTTLS",
                );
                None
            }
            Some(other) => {
                errs.push(
                    a.place_of("secure"),
                    format!(
                        "expected () for STARTTLS (CPython passes it to starttls(*secure)), found {}",
                        other.type_name()
                    ),
                );
                None
            }
        };
        if secure.is_none() && a.get("cafile").is_some() {
            errs.push(a.place_of("cafile"), "cafile needs secure=() (STARTTLS)");
        }
        if let (Some(from), Some(subject)) = (&fromaddr, &subject)
            && let Err(e) = check_message_fields(from, &toaddrs, subject)
        {
            errs.push(a.place_of("toaddrs"), e.to_string());
        }
        let d = SmtpOptions::default();
        let timeout = seconds(a, "timeout", d.timeout, errs);
        let session_timeout = seconds(a, "session_timeout", d.session_timeout, errs);
        let queue_bytes = queue_bytes(a, d.queue_bytes, errs);
        if errs.0.len() > before {
            return None;
        }
        Some(Box::new(SmtpPlan {
            host,
            port,
            fromaddr: fromaddr?,
            toaddrs,
            subject: subject?,
            options: SmtpOptions {
                credentials,
                secure,
                timeout,
                session_timeout,
                queue_bytes,
                ..d
            },
        }))
    }
}

impl HandlerPlan for SmtpPlan {
    fn build(&self, _: &BuildContext<'_>) -> Result<Box<dyn Emitter>, PlanError> {
        SMTPHandler::new(
            self.host.clone(),
            Some(self.port),
            self.fromaddr.clone(),
            self.toaddrs.clone(),
            self.subject.clone(),
            self.options.clone(),
        )
        .map(|h| Box::new(h) as Box<dyn Emitter>)
        .map_err(PlanError::kind)
    }
}

struct HttpKind;

struct HttpPlan {
    host: String,
    url: String,
    method: HttpMethod,
    options: HttpOptions,
}

impl HandlerKind for HttpKind {
    fn params(&self) -> &'static [Param] {
        const P: &[Param] = &[
            req("host"),
            req("url"),
            opt("method"),
            opt("secure"),
            opt("credentials"),
            opt("context"),
            opt("cafile"),
            opt("timeout"),
            opt("queue_bytes"),
            opt("session_timeout"),
        ];
        P
    }

    fn prepare(
        &self,
        a: &BoundArgs,
        ctx: &PrepareContext<'_>,
        errs: &mut ConfigErrors,
    ) -> Option<Box<dyn HandlerPlan>> {
        let before = errs.0.len();
        if a.get("context").is_some() {
            errs.push(
                a.place_of("context"),
                "an ssl.SSLContext is code and is refused; secure=True verifies against Mozilla's \
                 roots, and cafile names extra trusted CAs",
            );
        }
        let host = a.str("host", errs);
        let url = a.str("url", errs);
        let method = match a.str("method", errs) {
            None => HttpMethod::Get,
            Some(m) => HttpMethod::parse(&m).unwrap_or_else(|e| {
                errs.push(a.place_of("method"), e.to_string());
                HttpMethod::Get
            }),
        };
        let secure = a.bool("secure", errs).unwrap_or(false);
        let credentials = credentials(a, errs);
        let tls = if secure {
            tls_roots(a, ctx, errs)
        } else {
            if a.get("cafile").is_some() {
                errs.push(a.place_of("cafile"), "cafile needs secure=True");
            }
            None
        };
        let host = host?;
        match split_host_port(&host, secure) {
            Ok((h, port)) => {
                if let Err(e) = ctx.policy.check_destination(&h, port) {
                    errs.push(a.place_of("host"), e.to_string());
                    return None;
                }
            }
            Err(e) => errs.push(a.place_of("host"), e.to_string()),
        }
        if let Some(url) = &url
            && let Err(e) = check_request_target(&host, url)
        {
            errs.push(a.place_of("url"), e.to_string());
        }
        let d = HttpOptions::default();
        let timeout = seconds(a, "timeout", d.timeout, errs);
        let session_timeout = seconds(a, "session_timeout", d.session_timeout, errs);
        let queue_bytes = queue_bytes(a, d.queue_bytes, errs);
        if errs.0.len() > before {
            return None;
        }
        Some(Box::new(HttpPlan {
            host,
            url: url?,
            method,
            options: HttpOptions {
                secure: tls,
                credentials,
                timeout,
                session_timeout,
                queue_bytes,
                ..d
            },
        }))
    }
}

impl HandlerPlan for HttpPlan {
    fn build(&self, _: &BuildContext<'_>) -> Result<Box<dyn Emitter>, PlanError> {
        HTTPHandler::new(
            self.host.clone(),
            self.url.clone(),
            self.method,
            self.options.clone(),
        )
        .map(|h| Box::new(h) as Box<dyn Emitter>)
        .map_err(PlanError::kind)
    }
}
