//! Where a sender sends to, and one live connection to it.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::PathBuf;
use std::time::Duration;

/// A destination, as the CPython constructors describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// TCP to `host:port` (IPv4 or IPv6, every resolved address tried in turn).
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// A Unix stream socket (`SocketHandler(path, None)`).
    UnixStream(PathBuf),
    /// UDP to `host:port`. IPv4 addresses are preferred, as CPython's `DatagramHandler`
    /// (which is `AF_INET` only) uses; IPv6 is used when the host has no IPv4 address.
    Udp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// A Unix datagram socket (`DatagramHandler(path, None)`).
    UnixDatagram(PathBuf),
    /// A Unix socket of either type: datagram first, stream if the socket is a stream one
    /// (`SysLogHandler('/dev/log')`, as CPython does when `socktype` is not given).
    UnixAny(PathBuf),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Endpoint::Udp { host, port } => write!(f, "udp://{host}:{port}"),
            Endpoint::UnixStream(p) | Endpoint::UnixDatagram(p) | Endpoint::UnixAny(p) => {
                write!(f, "unix:{}", p.display())
            }
        }
    }
}

impl Endpoint {
    /// Whether records go one per datagram.
    pub fn is_datagram(&self) -> bool {
        matches!(self, Endpoint::Udp { .. } | Endpoint::UnixDatagram(_))
    }
}

/// A connected (or, for datagrams, ready) socket.
#[derive(Debug)]
pub(crate) enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
    Udp(UdpSocket, SocketAddr),
    UnixDgram(UnixDatagram, PathBuf),
    UnixDgramConnected(UnixDatagram),
}

fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host} has no address"),
        ));
    }
    Ok(addrs)
}

impl Conn {
    /// Connects (CPython's `makeSocket`), with `connect_timeout` per address and
    /// `send_timeout` on every later write so that a peer that stops reading cannot hold the
    /// sender forever.
    pub(crate) fn open(
        endpoint: &Endpoint,
        connect_timeout: Duration,
        send_timeout: Duration,
    ) -> io::Result<Conn> {
        match endpoint {
            Endpoint::Tcp { host, port } => {
                let mut last = None;
                for addr in resolve(host, *port)? {
                    match TcpStream::connect_timeout(&addr, connect_timeout) {
                        Ok(s) => {
                            s.set_write_timeout(Some(send_timeout))?;
                            s.set_nodelay(true)?;
                            return Ok(Conn::Tcp(s));
                        }
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.unwrap_or_else(|| io::Error::other("no address to connect to")))
            }
            Endpoint::UnixStream(path) => {
                let s = UnixStream::connect(path)?;
                s.set_write_timeout(Some(send_timeout))?;
                Ok(Conn::Unix(s))
            }
            Endpoint::Udp { host, port } => {
                let addrs = resolve(host, *port)?;
                let addr = addrs
                    .iter()
                    .find(|a| a.is_ipv4())
                    .or_else(|| addrs.first())
                    .copied()
                    .ok_or_else(|| io::Error::other("no address"))?;
                let local: SocketAddr = if addr.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                };
                let s = UdpSocket::bind(local)?;
                s.set_write_timeout(Some(send_timeout))?;
                Ok(Conn::Udp(s, addr))
            }
            Endpoint::UnixDatagram(path) => {
                let s = UnixDatagram::unbound()?;
                s.set_write_timeout(Some(send_timeout))?;
                Ok(Conn::UnixDgram(s, path.clone()))
            }
            Endpoint::UnixAny(path) => {
                let d = UnixDatagram::unbound()?;
                match d.connect(path) {
                    Ok(()) => {
                        d.set_write_timeout(Some(send_timeout))?;
                        Ok(Conn::UnixDgramConnected(d))
                    }
                    Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => {
                        let s = UnixStream::connect(path)?;
                        s.set_write_timeout(Some(send_timeout))?;
                        Ok(Conn::Unix(s))
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Whether each `send` is one datagram.
    pub(crate) fn is_datagram(&self) -> bool {
        matches!(
            self,
            Conn::Udp(..) | Conn::UnixDgram(..) | Conn::UnixDgramConnected(_)
        )
    }

    /// Writes all of `bytes` (a stream: partial writes are continued) or sends them as one
    /// datagram.
    pub(crate) fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.write_all(bytes),
            Conn::Unix(s) => s.write_all(bytes),
            Conn::Udp(s, addr) => s.send_to(bytes, *addr).map(drop),
            Conn::UnixDgram(s, path) => s.send_to(bytes, path).map(drop),
            Conn::UnixDgramConnected(s) => s.send(bytes).map(drop),
        }
    }

    /// A second handle that reads what the peer sends (acks, or EOF when it goes away).
    pub(crate) fn reader(&self) -> io::Result<Option<Box<dyn Read + Send>>> {
        Ok(match self {
            Conn::Tcp(s) => {
                let r = s.try_clone()?;
                r.set_read_timeout(None)?;
                Some(Box::new(r))
            }
            Conn::Unix(s) => {
                let r = s.try_clone()?;
                r.set_read_timeout(None)?;
                Some(Box::new(r))
            }
            _ => None,
        })
    }

    /// Ends the connection; a reader blocked on it returns.
    pub(crate) fn shutdown(&self) {
        match self {
            Conn::Tcp(s) => drop(s.shutdown(Shutdown::Both)),
            Conn::Unix(s) => drop(s.shutdown(Shutdown::Both)),
            _ => {}
        }
    }
}

/// Whether a send error means "this datagram can never be sent" (so retrying is pointless).
pub(crate) fn is_message_too_long(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EMSGSIZE)
}
