//! Registry kinds for the network handlers: `logging.handlers.SocketHandler`,
//! `DatagramHandler` and `SysLogHandler`, with CPython's parameters plus logwire's
//! extensions as keyword arguments.
//!
//! Every destination passes the content policy at prepare time: a pushed configuration may
//! only send to loopback and allow-listed `host:port`s, and to Unix sockets beneath its file
//! root. Building a handler starts its sender thread but never waits for a connection.
//!
//! | class | CPython parameters | logwire keyword arguments |
//! |---|---|---|
//! | `SocketHandler` | `host, port` (port `None`: Unix stream socket) | `retryStart retryFactor retryMax buffer overflow` |
//! | `DatagramHandler` | `host, port` (port `None`: Unix datagram socket) | same |
//! | `SysLogHandler` | `address=('localhost', 514), facility=LOG_USER, socktype=None` | `buffer overflow retryStart retryFactor retryMax ident append_nul rfc5424 app_name` |
//!
//! `overflow` is `"block"` (default) or `"drop_oldest"`; `facility` is a number or a
//! CPython facility name (`"local3"`).
//!
//! ```
//! use logwire_config::{Configurator, ContentPolicy, HandlerRegistry, SourceFormat};
//! use logwire_engine::LoggerTree;
//! use logwire_handlers::register_network_handlers;
//!
//! let mut registry = HandlerRegistry::with_builtins();
//! register_network_handlers(&mut registry);
//! let pushed = ContentPolicy::pushed(None, vec![]).unwrap();
//! let text = r#"{"version": 1, "handlers": {"net": {
//!     "class": "logging.handlers.SocketHandler", "host": "203.0.113.9", "port": 9020}}}"#;
//! let err = Configurator::new(registry, pushed)
//!     .apply_text(&LoggerTree::new(), text, SourceFormat::Json)
//!     .unwrap_err();
//! assert!(err.to_string().contains("203.0.113.9:9020 is not allowed"), "{err}");
//! ```

#[cfg(feature = "smtp-http")]
mod mail_http;

use crate::sender::{
    Backoff, BufferPolicy, DatagramHandler, MAX_BUFFER_CAPACITY, SocketHandler, SocketOptions,
};
use crate::syslog::{
    LOG_USER, SocketType, SysLogHandler, SyslogAddress, SyslogMessage, SyslogOptions,
    facility_from_name,
};
use logwire_config::{
    BoundArgs, BuildContext, ConfigErrors, ConfigValue, Configurator, ContentPolicy, HandlerKind,
    HandlerPlan, HandlerRegistry, Param, PlanError, PrepareContext,
};
use logwire_engine::Emitter;
use std::path::PathBuf;

/// The registry every entry point builds its configurator from: the built-in kinds of
/// `logwire-config` plus the network handlers. `logwire check`, `serve --config`, the config
/// listener and [`configurator`] all use it, so a class is known (or unknown) the same way
/// everywhere; only the [`ContentPolicy`] differs (trusted for local files, pushed for the
/// listener).
pub fn standard_registry() -> HandlerRegistry {
    let mut registry = HandlerRegistry::with_builtins();
    register_network_handlers(&mut registry);
    registry
}

/// A configurator over [`standard_registry`] with `policy`: the library's entry point for
/// applying a configuration as `logwire serve --config` (trusted) or the listener (pushed)
/// would. `Configurator::default()` in `logwire-config` knows only the kinds of that crate.
pub fn configurator(policy: ContentPolicy) -> Configurator {
    Configurator::new(standard_registry(), policy)
}

/// Registers `logging.handlers.SocketHandler`, `DatagramHandler` and `SysLogHandler`.
pub fn register_network_handlers(registry: &mut HandlerRegistry) {
    registry.register(
        "logging.handlers.SocketHandler",
        SocketKind { datagram: false },
    );
    registry.register(
        "logging.handlers.DatagramHandler",
        SocketKind { datagram: true },
    );
    registry.register("logging.handlers.SysLogHandler", SysLogKind);
    #[cfg(feature = "smtp-http")]
    mail_http::register_mail_http_handlers(registry);
}

const fn req(name: &'static str) -> Param {
    Param::required(name)
}
const fn opt(name: &'static str) -> Param {
    Param::optional(name)
}

/// The extensions every sender shares: backoff, buffer capacity and overflow policy.
fn buffer_args(a: &BoundArgs, errs: &mut ConfigErrors) -> (Backoff, usize, BufferPolicy) {
    let d = Backoff::default();
    let start = a.float("retryStart", errs).unwrap_or(d.retry_start());
    let factor = a.float("retryFactor", errs).unwrap_or(d.retry_factor());
    let max = a.float("retryMax", errs).unwrap_or(d.retry_max());
    let backoff = Backoff::new(start, factor, max).unwrap_or_else(|e| {
        errs.push(a.place_of("retryStart"), e.to_string());
        Backoff::default()
    });
    let capacity = a
        .int("buffer", 1, MAX_BUFFER_CAPACITY as i64, errs)
        .map_or(crate::sender::DEFAULT_BUFFER_CAPACITY, |n| n as usize);
    let policy = match a.str("overflow", errs) {
        None => BufferPolicy::Block,
        Some(s) => BufferPolicy::parse(&s).unwrap_or_else(|| {
            errs.push(
                a.place_of("overflow"),
                format!("expected 'block' or 'drop_oldest', found {s:?}"),
            );
            BufferPolicy::Block
        }),
    };
    (backoff, capacity, policy)
}

fn port_arg(a: &BoundArgs, name: &str, errs: &mut ConfigErrors) -> Option<u16> {
    a.int(name, 0, 65_535, errs).map(|p| p as u16)
}

/// Where a socket or datagram handler sends, after the policy check.
#[derive(Clone, Debug)]
enum Target {
    Inet(String, u16),
    Unix(PathBuf),
}

struct SocketKind {
    datagram: bool,
}

struct SocketPlan {
    datagram: bool,
    target: Target,
    options: SocketOptions,
}

impl HandlerKind for SocketKind {
    fn params(&self) -> &'static [Param] {
        const P: &[Param] = &[
            req("host"),
            req("port"),
            opt("retryStart"),
            opt("retryFactor"),
            opt("retryMax"),
            opt("buffer"),
            opt("overflow"),
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
        let host = a.str("host", errs);
        let port = port_arg(a, "port", errs);
        let (backoff, capacity, policy) = buffer_args(a, errs);
        let host = host?;
        // CPython: `address = host if port is None else (host, port)`.
        let target = match port {
            Some(port) => match ctx.policy.check_destination(&host, port) {
                Ok(()) => Target::Inet(host, port),
                Err(e) => {
                    errs.push(a.place_of("host"), e.to_string());
                    return None;
                }
            },
            None => match ctx.policy.check_unix_socket(&host) {
                Ok(p) => Target::Unix(p),
                Err(e) => {
                    errs.push(a.place_of("host"), e.to_string());
                    return None;
                }
            },
        };
        if errs.0.len() > before {
            return None;
        }
        let options = SocketOptions {
            backoff,
            capacity,
            policy,
            ..SocketOptions::default()
        };
        Some(Box::new(SocketPlan {
            datagram: self.datagram,
            target,
            options,
        }))
    }
}

impl HandlerPlan for SocketPlan {
    fn build(&self, _: &BuildContext<'_>) -> Result<Box<dyn Emitter>, PlanError> {
        let (host, port) = match &self.target {
            Target::Inet(h, p) => (h.clone(), Some(*p)),
            Target::Unix(p) => (p.to_string_lossy().into_owned(), None),
        };
        let o = self.options.clone();
        if self.datagram {
            DatagramHandler::with_options(host, port, o).map(|h| Box::new(h) as Box<dyn Emitter>)
        } else {
            SocketHandler::with_options(host, port, o).map(|h| Box::new(h) as Box<dyn Emitter>)
        }
        .map_err(PlanError::kind)
    }
}

struct SysLogKind;

struct SysLogPlan {
    address: SyslogAddress,
    socktype: Option<SocketType>,
    options: SyslogOptions,
}

impl HandlerKind for SysLogKind {
    fn params(&self) -> &'static [Param] {
        const P: &[Param] = &[
            opt("address"),
            opt("facility"),
            opt("socktype"),
            opt("buffer"),
            opt("overflow"),
            opt("retryStart"),
            opt("retryFactor"),
            opt("retryMax"),
            opt("ident"),
            opt("append_nul"),
            opt("rfc5424"),
            opt("app_name"),
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
        let address = match a.get("address") {
            None => SyslogAddress::default(),
            Some(ConfigValue::Str(path)) => match ctx.policy.check_unix_socket(path) {
                Ok(p) => SyslogAddress::Unix(p),
                Err(e) => {
                    errs.push(a.place_of("address"), e.to_string());
                    return None;
                }
            },
            Some(ConfigValue::List(items) | ConfigValue::Tuple(items)) => match items.as_slice() {
                [ConfigValue::Str(host), ConfigValue::Int(port)] if (0..=65_535).contains(port) => {
                    let port = *port as u16;
                    if let Err(e) = ctx.policy.check_destination(host, port) {
                        errs.push(a.place_of("address"), e.to_string());
                        return None;
                    }
                    SyslogAddress::Inet(host.clone(), port)
                }
                _ => {
                    errs.push(
                        a.place_of("address"),
                        "expected [host, port] with a port from 0 to 65535",
                    );
                    return None;
                }
            },
            Some(other) => {
                errs.push(
                    a.place_of("address"),
                    format!(
                        "expected [host, port] or a Unix socket path, found {}",
                        other.type_name()
                    ),
                );
                return None;
            }
        };
        let facility = match a.get("facility") {
            None => LOG_USER,
            Some(ConfigValue::Int(i)) if (0..=i64::from(u32::MAX >> 3)).contains(i) => *i as u32,
            Some(ConfigValue::Str(name)) => facility_from_name(name).unwrap_or_else(|| {
                errs.push(
                    a.place_of("facility"),
                    format!("unknown facility {name:?} (kern, user, mail, daemon, auth, …, local0 … local7)"),
                );
                LOG_USER
            }),
            Some(other) => {
                errs.push(a.place_of("facility"), format!("expected a facility number or name, found {}", other.type_name()));
                LOG_USER
            }
        };
        let socktype = match a.get("socktype") {
            None => None,
            Some(ConfigValue::Int(i)) => SocketType::from_raw(*i).or_else(|| {
                errs.push(
                    a.place_of("socktype"),
                    format!("expected socket.SOCK_STREAM (1) or SOCK_DGRAM (2), found {i}"),
                );
                None
            }),
            Some(other) => {
                errs.push(
                    a.place_of("socktype"),
                    format!(
                        "expected socket.SOCK_STREAM or SOCK_DGRAM, found {}",
                        other.type_name()
                    ),
                );
                None
            }
        };
        let (backoff, capacity, policy) = buffer_args(a, errs);
        let ident = a.str("ident", errs).unwrap_or_default();
        let append_nul = a.bool("append_nul", errs).unwrap_or(true);
        let rfc5424 = a.bool("rfc5424", errs).unwrap_or(false);
        let app_name = a.str("app_name", errs);
        if errs.0.len() > before {
            return None;
        }
        let message = if rfc5424 {
            SyslogMessage::rfc5424(facility, app_name.as_deref())
        } else {
            SyslogMessage::cpython(facility, &ident, append_nul)
        };
        let options = SyslogOptions {
            message,
            capacity,
            policy,
            backoff,
            ..SyslogOptions::default()
        };
        Some(Box::new(SysLogPlan {
            address,
            socktype,
            options,
        }))
    }
}

impl HandlerPlan for SysLogPlan {
    fn build(&self, _: &BuildContext<'_>) -> Result<Box<dyn Emitter>, PlanError> {
        SysLogHandler::with_options(self.address.clone(), self.socktype, self.options.clone())
            .map(|h| Box::new(h) as Box<dyn Emitter>)
            .map_err(PlanError::kind)
    }
}
