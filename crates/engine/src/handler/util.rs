//! Pieces the handler kinds share: text encodings, `os.path.abspath`, the queue worker's
//! batching flag, and `Emitter` for `Arc<E>`.

use super::{Emitter, HandlerError};
use crate::format::Formatter;
use crate::record::LogRecord;
use std::cell::Cell;
use std::path::{Component, Path, PathBuf};

/// A shared emitter is an emitter: a caller keeps an `Arc` to read counters
/// ([`QueueHandler::dropped`](super::QueueHandler::dropped)) or call `set_target`, while a
/// [`Handler`](super::Handler) owns a clone.
impl<E: Emitter + ?Sized> Emitter for std::sync::Arc<E> {
    fn emit(&self, record: &LogRecord, formatter: &Formatter) -> Result<(), HandlerError> {
        (**self).emit(record, formatter)
    }
    fn flush(&self) -> Result<(), HandlerError> {
        (**self).flush()
    }
    fn sync(&self) -> Result<(), HandlerError> {
        (**self).sync()
    }
    fn hand_off(&self) -> Result<(), HandlerError> {
        (**self).hand_off()
    }
    fn close(&self) {
        (**self).close()
    }
    fn stop_waiting(&self) {
        (**self).stop_waiting()
    }
    fn bytes_emitted(&self) -> Option<u64> {
        (**self).bytes_emitted()
    }
    fn kind(&self) -> &'static str {
        (**self).kind()
    }
}

thread_local! {
    static BATCHING: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread is a queue worker draining a batch: stream and file emitters
/// may then keep output in memory until the worker flushes them (when the queue runs empty).
pub(crate) fn batching() -> bool {
    BATCHING.with(Cell::get)
}

/// Marks the current thread as a batching queue worker.
pub(crate) fn set_batching(on: bool) {
    BATCHING.with(|b| b.set(on));
}

/// Appends `formatter`'s output for `record` to `out`; on a formatting error `out` is left
/// as it was and the error is returned, so the handler writes nothing for the record and
/// reports it (CPython's `Handler.emit` → `handleError`).
pub(crate) fn format_into(
    formatter: &Formatter,
    record: &LogRecord,
    out: &mut String,
) -> Result<(), HandlerError> {
    let start = out.len();
    formatter.try_format_into(record, out).map_err(|e| {
        out.truncate(start);
        HandlerError::Format(e)
    })
}

/// CPython's `os.path.abspath`: joins a relative path to the current directory and
/// normalises it lexically (`.` dropped, `..` pops a component, repeated `/` collapsed),
/// without touching the file system (symlinks are not resolved).
pub fn abspath(path: &Path) -> Result<PathBuf, HandlerError> {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        let cwd = std::env::current_dir()
            .map_err(|e| HandlerError::io("cannot resolve the current directory", e))?;
        cwd.join(path)
    };
    let mut out = PathBuf::from("/");
    for c in joined.components() {
        match c {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(s) => out.push(s),
        }
    }
    Ok(out)
}

/// A text encoding a file handler writes in (CPython's `encoding=`).
///
/// Rust strings are UTF-8, so UTF-8 is written as it is; Latin-1 and ASCII are encoded with
/// the chosen [`EncodeErrors`] policy. Other codecs are rejected when the handler is built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Encoding {
    /// `utf-8` (the default: CPython's `io.text_encoding(None)` on a UTF-8 locale).
    #[default]
    Utf8,
    /// `latin-1` / `iso-8859-1`.
    Latin1,
    /// `ascii`.
    Ascii,
}

impl Encoding {
    /// Parses a Python codec name, normalised as `codecs.lookup` does (case, `-`, ` `, `_`).
    pub fn parse(name: &str) -> Result<Self, HandlerError> {
        let norm: String = name
            .trim()
            .chars()
            .map(|c| {
                if c == '-' || c == ' ' {
                    '_'
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect();
        match norm.as_str() {
            "utf_8" | "utf8" | "u8" | "utf" | "cp65001" | "utf8_ucs2" | "utf8_ucs4" => {
                Ok(Encoding::Utf8)
            }
            "latin_1" | "latin1" | "latin" | "l1" | "iso8859_1" | "iso_8859_1" | "8859"
            | "cp819" | "iso_ir_100" | "iso_8859_1_1987" | "csisolatin1" => Ok(Encoding::Latin1),
            "ascii" | "us_ascii" | "646" | "us" | "ansi_x3.4_1968" | "ansi_x3_4_1968"
            | "iso646_us" | "cp367" | "csascii" => Ok(Encoding::Ascii),
            _ => Err(HandlerError::Invalid(format!(
                "unsupported encoding '{name}': logwire writes utf-8, latin-1 or ascii"
            ))),
        }
    }

    /// The codec's Python name.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Latin1 => "latin-1",
            Encoding::Ascii => "ascii",
        }
    }

    fn limit(self) -> u32 {
        match self {
            Encoding::Utf8 => u32::MAX,
            Encoding::Latin1 => 0xFF,
            Encoding::Ascii => 0x7F,
        }
    }

    /// Encodes `text` into `out` (cleared first). UTF-8 never fails; the others follow
    /// `errors` for characters they cannot represent, as CPython's codecs do.
    pub(crate) fn encode(
        self,
        text: &str,
        errors: EncodeErrors,
        out: &mut Vec<u8>,
    ) -> Result<(), HandlerError> {
        out.clear();
        let limit = self.limit();
        for (pos, ch) in text.chars().enumerate() {
            let c = ch as u32;
            if c <= limit {
                // Below the limit Latin-1 and ASCII are one byte per code point.
                out.push(c as u8);
                continue;
            }
            match errors {
                EncodeErrors::Strict => {
                    return Err(HandlerError::Invalid(format!(
                        "'{}' codec can't encode character '\\u{{{c:04x}}}' in position {pos}: \
                         ordinal not in range({})",
                        self.name(),
                        limit + 1
                    )));
                }
                EncodeErrors::Ignore => {}
                EncodeErrors::Replace => out.push(b'?'),
                EncodeErrors::BackslashReplace => {
                    let esc = if c <= 0xFF {
                        format!("\\x{c:02x}")
                    } else if c <= 0xFFFF {
                        format!("\\u{c:04x}")
                    } else {
                        format!("\\U{c:08x}")
                    };
                    out.extend_from_slice(esc.as_bytes());
                }
                EncodeErrors::XmlCharRefReplace => {
                    out.extend_from_slice(format!("&#{c};").as_bytes());
                }
            }
        }
        Ok(())
    }
}

/// What to do with characters the encoding cannot represent (CPython's `errors=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeErrors {
    /// Fail the write (`strict`, the default; also `surrogateescape` and `surrogatepass`,
    /// which behave the same for Rust strings as they hold no lone surrogates).
    #[default]
    Strict,
    /// Leave the character out.
    Ignore,
    /// Write `?`.
    Replace,
    /// Write `\xNN`, `\uNNNN` or `\UNNNNNNNN`.
    BackslashReplace,
    /// Write `&#N;`.
    XmlCharRefReplace,
}

impl EncodeErrors {
    /// Parses a Python error-handler name.
    pub fn parse(name: &str) -> Result<Self, HandlerError> {
        match name {
            "strict" | "surrogateescape" | "surrogatepass" => Ok(EncodeErrors::Strict),
            "ignore" => Ok(EncodeErrors::Ignore),
            "replace" => Ok(EncodeErrors::Replace),
            "backslashreplace" => Ok(EncodeErrors::BackslashReplace),
            "xmlcharrefreplace" => Ok(EncodeErrors::XmlCharRefReplace),
            _ => Err(HandlerError::Invalid(format!(
                "unsupported encoding error handler '{name}' (strict, ignore, replace, \
                 backslashreplace, xmlcharrefreplace)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abspath_normalises_like_python() {
        assert_eq!(
            abspath(Path::new("/a/./b/../c//d")).unwrap(),
            PathBuf::from("/a/c/d")
        );
        assert_eq!(abspath(Path::new("/../x")).unwrap(), PathBuf::from("/x"));
        let rel = abspath(Path::new("x.log")).unwrap();
        assert_eq!(rel, std::env::current_dir().unwrap().join("x.log"));
    }

    #[test]
    fn latin1_encoding_follows_errors() {
        let mut out = Vec::new();
        Encoding::Latin1
            .encode("é€", EncodeErrors::Replace, &mut out)
            .unwrap();
        assert_eq!(out, b"\xe9?");
        Encoding::Latin1
            .encode("é€", EncodeErrors::BackslashReplace, &mut out)
            .unwrap();
        assert_eq!(out, b"\xe9\\u20ac");
        Encoding::Ascii
            .encode("é", EncodeErrors::XmlCharRefReplace, &mut out)
            .unwrap();
        assert_eq!(out, b"&#233;");
        assert!(
            Encoding::Latin1
                .encode("€", EncodeErrors::Strict, &mut out)
                .is_err()
        );
        assert_eq!(Encoding::parse("UTF-8").unwrap(), Encoding::Utf8);
        assert_eq!(Encoding::parse("ISO-8859-1").unwrap(), Encoding::Latin1);
        assert!(Encoding::parse("utf-16").is_err());
    }

    /// Every method of an `Arc`'d emitter reaches the emitter: a method the forwarding impl
    /// forgets falls back to the trait's default (a `stop_waiting` lost this way left a
    /// shared NATSHandler waiting out its close timeout).
    #[test]
    fn an_arc_forwards_every_method() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        #[derive(Default)]
        struct Calls(AtomicUsize);
        impl Emitter for Calls {
            fn emit(&self, _: &LogRecord, _: &Formatter) -> Result<(), HandlerError> {
                self.0.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            fn flush(&self) -> Result<(), HandlerError> {
                self.0.fetch_add(10, Ordering::Relaxed);
                Ok(())
            }
            fn sync(&self) -> Result<(), HandlerError> {
                self.0.fetch_add(100, Ordering::Relaxed);
                Ok(())
            }
            fn hand_off(&self) -> Result<(), HandlerError> {
                self.0.fetch_add(1_000, Ordering::Relaxed);
                Ok(())
            }
            fn close(&self) {
                self.0.fetch_add(10_000, Ordering::Relaxed);
            }
            fn stop_waiting(&self) {
                self.0.fetch_add(100_000, Ordering::Relaxed);
            }
            fn bytes_emitted(&self) -> Option<u64> {
                Some(7)
            }
            fn kind(&self) -> &'static str {
                "calls"
            }
        }
        let inner = std::sync::Arc::new(Calls::default());
        let outer: &dyn Emitter = &inner;
        let r = LogRecord::new("a", 20, "/a.py", 1, "m");
        outer.emit(&r, &Formatter::default()).unwrap();
        outer.flush().unwrap();
        outer.sync().unwrap();
        outer.hand_off().unwrap();
        outer.close();
        outer.stop_waiting();
        assert_eq!(inner.0.load(Ordering::Relaxed), 111_111);
        assert_eq!((outer.bytes_emitted(), outer.kind()), (Some(7), "calls"));
    }
}
