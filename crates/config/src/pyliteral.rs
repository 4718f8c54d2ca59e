//! A parser for the Python *literals* that fileConfig INI files hold in `args`, `kwargs` and a
//! formatter's `defaults`, and for the dotted names in `class`. CPython `eval`s these texts;
//! logwire never evaluates anything: the text must be a literal, or one of a fixed set of
//! names that map to known values.
//!
//! Accepted:
//!
//! * `None`, `True`, `False`;
//! * integers in decimal, hex (`0x`), octal (`0o`) and binary (`0b`), with `_` separators;
//!   values beyond `i64` become [`PyLiteral::BigInt`] (decimal text);
//! * floats (`1.5`, `.5`, `1e-3`, `1_000.0`; too-large values become infinity, as in Python);
//! * a `+`/`-` sign in front of a number (also `-(1)` and `--1`, as `eval` allows);
//! * strings and bytes with every prefix (`r`, `u`, `b`, `rb`, … in any case), single, double
//!   and triple quotes, Python's escape sequences, and implicit concatenation of adjacent
//!   literals. Not supported: `\N{name}` escapes (there is no Unicode name table here) and
//!   escapes of lone surrogates (a Rust `String` cannot hold them);
//! * tuples (`()`, `(x,)`, `(x, y)`, and a bare `x, y` at the top), lists, dicts and sets,
//!   with trailing commas; duplicate dict keys and set elements collapse as in Python
//!   (`{1: 'a', True: 'b'}` is `{1: 'b'}`); unhashable keys are rejected;
//! * the empty calls `tuple()`, `list()`, `dict()`, `set()` (CPython's own tests write
//!   `args=tuple()`);
//! * the names in [`known_names`]: `sys.stdout`, `sys.stderr`, the logging level names
//!   (`DEBUG`, …), the `handlers.DEFAULT_*_PORT` and `SYSLOG_*_PORT` constants,
//!   `handlers.SysLogHandler.LOG_*` facilities and priorities, and `socket.SOCK_STREAM` /
//!   `SOCK_DGRAM` (as `handlers.socket.…` or `socket.…`). Each may also be written with a
//!   `logging.` prefix. Names are matched as whole dotted paths, never looked up as attributes.
//! * Python comments (`# …`), line continuations and newlines inside brackets.
//! * integer arithmetic with `+`, `-` and `*` (real configs write sizes as `10*1024*1024`),
//!   overflow-checked; between anything but two integers it is an error.
//!
//! Anything else — another name, attribute access, a call, another operator, a subscript, a lambda,
//! a comprehension, an f-string, `**` unpacking — is rejected with a [`LiteralError`] that says
//! what was found and where.
//!
//! Parsing is bounded by [`LiteralLimits`] (input length, nesting depth, element count, length
//! of one number) and never panics; recursion depth is bounded by the nesting limit.
//!
//! ```
//! use logwire_config::pyliteral::{parse_literal, KnownName, PyLiteral};
//!
//! let args = parse_literal("('localhost', handlers.DEFAULT_TCP_LOGGING_PORT)")?;
//! assert_eq!(
//!     args,
//!     PyLiteral::Tuple(vec![PyLiteral::Str("localhost".into()), PyLiteral::Int(9020)])
//! );
//! assert_eq!(parse_literal("(sys.stdout,)")?, PyLiteral::Tuple(vec![PyLiteral::Name(KnownName::Stdout)]));
//!
//! let err = parse_literal("__import__('os').system('id')").unwrap_err();
//! assert_eq!(err.to_string(), "not a Python literal: call to '__import__' at column 1");
//! # Ok::<(), logwire_config::pyliteral::LiteralError>(())
//! ```

use std::collections::HashMap;
use std::fmt;

/// A value written as a Python literal.
#[derive(Debug, Clone, PartialEq)]
pub enum PyLiteral {
    /// `None`.
    None,
    /// `True` or `False`.
    Bool(bool),
    /// An integer that fits in `i64`.
    Int(i64),
    /// An integer outside `i64`, as canonical decimal text (`-` sign, no leading zeros).
    BigInt(String),
    /// A float.
    Float(f64),
    /// A `str`.
    Str(String),
    /// A `bytes`.
    Bytes(Vec<u8>),
    /// A tuple.
    Tuple(Vec<PyLiteral>),
    /// A list.
    List(Vec<PyLiteral>),
    /// A dict, in insertion order, keys unique under Python equality.
    Dict(Vec<(PyLiteral, PyLiteral)>),
    /// A set, in first-appearance order (Python's own order is unspecified), elements unique.
    Set(Vec<PyLiteral>),
    /// One of the known objects that are not plain values.
    Name(KnownName),
}

impl PyLiteral {
    /// The Python type name, for error messages (`'str'`, `'tuple'`, `'int'` …).
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::None => "NoneType",
            Self::Bool(_) => "bool",
            Self::Int(_) | Self::BigInt(_) => "int",
            Self::Float(_) => "float",
            Self::Str(_) => "str",
            Self::Bytes(_) => "bytes",
            Self::Tuple(_) => "tuple",
            Self::List(_) => "list",
            Self::Dict(_) => "dict",
            Self::Set(_) => "set",
            Self::Name(_) => "stream",
        }
    }

    /// The string, if this is a `str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an `int` that fits in `i64` (a `bool` is not taken as one).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            _ => None,
        }
    }
}

/// Objects a fileConfig literal may name that are not plain values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KnownName {
    /// `sys.stdout`.
    Stdout,
    /// `sys.stderr`.
    Stderr,
}

/// Bounds on what [`parse_literal_with_limits`] accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiteralLimits {
    /// Longest input, in bytes.
    pub max_input_len: usize,
    /// Deepest nesting of brackets (`((1,),)` is 2).
    pub max_depth: usize,
    /// Most values in total (every element of every container counts, dict entries count
    /// key and value).
    pub max_elements: usize,
    /// Longest single number literal, in characters (CPython refuses decimal integers of more
    /// than 4300 digits).
    pub max_number_len: usize,
}

impl Default for LiteralLimits {
    fn default() -> Self {
        Self {
            max_input_len: 64 * 1024,
            max_depth: 32,
            max_elements: 10_000,
            max_number_len: 4300,
        }
    }
}

/// Where in the text an error was found: 1-based line and column (in characters) and the
/// 0-based byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// 0-based byte offset into the text.
    pub offset: usize,
}

impl Position {
    fn of(text: &str, offset: usize) -> Self {
        let offset = offset.min(text.len());
        let before = text.get(..offset).unwrap_or(text);
        let mut line = 1;
        let mut column = 1;
        let mut prev_cr = false;
        for c in before.chars() {
            match c {
                '\n' if prev_cr => {}
                '\n' | '\r' => {
                    line += 1;
                    column = 1;
                }
                _ => column += 1,
            }
            prev_cr = c == '\r';
        }
        Self {
            line,
            column,
            offset,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 1 {
            write!(f, "column {}", self.column)
        } else {
            write!(f, "line {}, column {}", self.line, self.column)
        }
    }
}

/// Why a text is not an acceptable Python literal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LiteralError {
    /// The text is longer than [`LiteralLimits::max_input_len`].
    #[error("Python literal is {len} bytes, more than the limit of {limit}")]
    InputTooLong {
        /// Length of the text in bytes.
        len: usize,
        /// The configured limit.
        limit: usize,
    },
    /// Brackets nest deeper than [`LiteralLimits::max_depth`].
    #[error("Python literal nests deeper than {limit} levels at {at}")]
    TooDeep {
        /// The configured limit.
        limit: usize,
        /// The bracket that went too deep.
        at: Position,
    },
    /// More values than [`LiteralLimits::max_elements`].
    #[error("Python literal has more than {limit} elements at {at}")]
    TooManyElements {
        /// The configured limit.
        limit: usize,
        /// The first value over the limit.
        at: Position,
    },
    /// A number literal is longer than [`LiteralLimits::max_number_len`].
    #[error("number literal longer than {limit} characters at {at}")]
    NumberTooLong {
        /// The configured limit.
        limit: usize,
        /// Start of the number.
        at: Position,
    },
    /// Not valid Python at all (unterminated string, bad escape, bad number, stray bracket …).
    #[error("invalid Python syntax at {at}: {message}")]
    Syntax {
        /// What is wrong.
        message: String,
        /// Where.
        at: Position,
    },
    /// Valid Python, but not a literal: a name, a call, an attribute, an operator ….
    #[error("not a Python literal: {found} at {at}")]
    NotALiteral {
        /// What was found, e.g. `call to '__import__'`.
        found: String,
        /// Where it starts.
        at: Position,
    },
    /// A literal this parser does not support (complex numbers, `\N{…}`, lone surrogates).
    #[error("unsupported in a Python literal: {what} at {at}")]
    Unsupported {
        /// What is not supported.
        what: String,
        /// Where.
        at: Position,
    },
    /// A list, dict or set used as a dict key or set element (a `TypeError` in Python).
    #[error("unhashable type '{type_name}' used as a dict key or set element at {at}")]
    Unhashable {
        /// Python type name of the value.
        type_name: &'static str,
        /// Where the value starts.
        at: Position,
    },
}

impl LiteralError {
    /// Where the error was found, if it is about a place in the text.
    pub fn position(&self) -> Option<Position> {
        match self {
            Self::InputTooLong { .. } => None,
            Self::TooDeep { at, .. }
            | Self::TooManyElements { at, .. }
            | Self::NumberTooLong { at, .. }
            | Self::Syntax { at, .. }
            | Self::NotALiteral { at, .. }
            | Self::Unsupported { at, .. }
            | Self::Unhashable { at, .. } => Some(*at),
        }
    }
}

/// Parses `text` as a Python literal with [`LiteralLimits::default`].
pub fn parse_literal(text: &str) -> Result<PyLiteral, LiteralError> {
    parse_literal_with_limits(text, &LiteralLimits::default())
}

/// Parses `text` as a Python literal: one expression, where a top-level `a, b` is a tuple
/// (as `eval` reads it).
pub fn parse_literal_with_limits(
    text: &str,
    limits: &LiteralLimits,
) -> Result<PyLiteral, LiteralError> {
    if text.len() > limits.max_input_len {
        return Err(LiteralError::InputTooLong {
            len: text.len(),
            limit: limits.max_input_len,
        });
    }
    if let Some(offset) = text.find('\0') {
        return Err(LiteralError::Syntax {
            message: "source cannot contain null characters".to_owned(),
            at: Position::of(text, offset),
        });
    }
    let mut parser = Parser::new(text, limits)?;
    parser.skip_newlines()?;
    let value = parser.expression_list()?;
    parser.skip_newlines()?;
    match parser.tok.kind {
        TokKind::End => Ok(value),
        _ => Err(parser.unexpected("after the end of the literal")),
    }
}

/// Parses the `class` value of a fileConfig handler or formatter section: a dotted name such
/// as `StreamHandler`, `handlers.RotatingFileHandler` or `logging.StreamHandler`, returned
/// with the spaces Python would allow around the dots removed. Nothing is looked up.
///
/// ```
/// use logwire_config::pyliteral::parse_class_name;
/// assert_eq!(parse_class_name(" handlers . RotatingFileHandler ").unwrap(), "handlers.RotatingFileHandler");
/// assert!(parse_class_name("__import__('os')").is_err());
/// ```
pub fn parse_class_name(text: &str) -> Result<String, LiteralError> {
    let limits = LiteralLimits::default();
    if text.len() > limits.max_input_len {
        return Err(LiteralError::InputTooLong {
            len: text.len(),
            limit: limits.max_input_len,
        });
    }
    let mut parser = Parser::new(text, &limits)?;
    parser.skip_newlines()?;
    let TokKind::Name(first) = parser.tok.kind else {
        return Err(parser.unexpected("where a class name was expected"));
    };
    if is_keyword(first) {
        return Err(parser.not_literal(format!("keyword '{first}'"), parser.tok.offset));
    }
    let (name, _) = parser.dotted_name()?;
    match parser.tok.kind {
        TokKind::Op("(") => {
            return Err(parser.not_literal(format!("call to '{name}'"), parser.tok.offset));
        }
        TokKind::Op("[") => {
            return Err(parser.not_literal(format!("subscript of '{name}'"), parser.tok.offset));
        }
        _ => {}
    }
    parser.skip_newlines()?;
    match parser.tok.kind {
        TokKind::End => Ok(name),
        _ => Err(parser.unexpected("after the class name")),
    }
}

/// Every name [`parse_literal`] accepts with the value it stands for, without the optional
/// `logging.` prefix.
pub fn known_names() -> impl Iterator<Item = (&'static str, PyLiteral)> {
    NAMED_INTS
        .iter()
        .map(|&(n, v)| (n, PyLiteral::Int(v)))
        .chain([
            ("sys.stdout", PyLiteral::Name(KnownName::Stdout)),
            ("sys.stderr", PyLiteral::Name(KnownName::Stderr)),
        ])
}

/// Integer constants reachable by name. Values from CPython's `logging`, `logging.handlers`
/// and (for `SOCK_*`) Linux/macOS `socket`.
const NAMED_INTS: &[(&str, i64)] = &[
    ("CRITICAL", 50),
    ("FATAL", 50),
    ("ERROR", 40),
    ("WARNING", 30),
    ("WARN", 30),
    ("INFO", 20),
    ("DEBUG", 10),
    ("NOTSET", 0),
    ("handlers.DEFAULT_TCP_LOGGING_PORT", 9020),
    ("handlers.DEFAULT_UDP_LOGGING_PORT", 9021),
    ("handlers.DEFAULT_HTTP_LOGGING_PORT", 9022),
    ("handlers.DEFAULT_SOAP_LOGGING_PORT", 9023),
    ("handlers.SYSLOG_UDP_PORT", 514),
    ("handlers.SYSLOG_TCP_PORT", 514),
    ("handlers.socket.SOCK_STREAM", 1),
    ("handlers.socket.SOCK_DGRAM", 2),
    ("socket.SOCK_STREAM", 1),
    ("socket.SOCK_DGRAM", 2),
    ("handlers.SysLogHandler.LOG_EMERG", 0),
    ("handlers.SysLogHandler.LOG_ALERT", 1),
    ("handlers.SysLogHandler.LOG_CRIT", 2),
    ("handlers.SysLogHandler.LOG_ERR", 3),
    ("handlers.SysLogHandler.LOG_WARNING", 4),
    ("handlers.SysLogHandler.LOG_NOTICE", 5),
    ("handlers.SysLogHandler.LOG_INFO", 6),
    ("handlers.SysLogHandler.LOG_DEBUG", 7),
    ("handlers.SysLogHandler.LOG_KERN", 0),
    ("handlers.SysLogHandler.LOG_USER", 1),
    ("handlers.SysLogHandler.LOG_MAIL", 2),
    ("handlers.SysLogHandler.LOG_DAEMON", 3),
    ("handlers.SysLogHandler.LOG_AUTH", 4),
    ("handlers.SysLogHandler.LOG_SYSLOG", 5),
    ("handlers.SysLogHandler.LOG_LPR", 6),
    ("handlers.SysLogHandler.LOG_NEWS", 7),
    ("handlers.SysLogHandler.LOG_UUCP", 8),
    ("handlers.SysLogHandler.LOG_CRON", 9),
    ("handlers.SysLogHandler.LOG_AUTHPRIV", 10),
    ("handlers.SysLogHandler.LOG_FTP", 11),
    ("handlers.SysLogHandler.LOG_NTP", 12),
    ("handlers.SysLogHandler.LOG_SECURITY", 13),
    ("handlers.SysLogHandler.LOG_CONSOLE", 14),
    ("handlers.SysLogHandler.LOG_SOLCRON", 15),
    ("handlers.SysLogHandler.LOG_LOCAL0", 16),
    ("handlers.SysLogHandler.LOG_LOCAL1", 17),
    ("handlers.SysLogHandler.LOG_LOCAL2", 18),
    ("handlers.SysLogHandler.LOG_LOCAL3", 19),
    ("handlers.SysLogHandler.LOG_LOCAL4", 20),
    ("handlers.SysLogHandler.LOG_LOCAL5", 21),
    ("handlers.SysLogHandler.LOG_LOCAL6", 22),
    ("handlers.SysLogHandler.LOG_LOCAL7", 23),
];

fn resolve_name(dotted: &str) -> Option<PyLiteral> {
    let bare = dotted.strip_prefix("logging.").unwrap_or(dotted);
    match bare {
        "sys.stdout" => return Some(PyLiteral::Name(KnownName::Stdout)),
        "sys.stderr" => return Some(PyLiteral::Name(KnownName::Stderr)),
        _ => {}
    }
    NAMED_INTS
        .iter()
        .find(|(n, _)| *n == bare)
        .map(|&(_, v)| PyLiteral::Int(v))
}

const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

fn is_keyword(name: &str) -> bool {
    KEYWORDS.contains(&name)
}

/// Python operators and delimiters, longest first so the lexer takes the longest match.
const OPERATORS: &[&str] = &[
    "**=", "//=", ">>=", "<<=", "...", "!=", "%=", "&=", "**", "*=", "+=", "-=", "->", "//", "/=",
    ":=", "<<", "<=", "==", ">=", ">>", "@=", "^=", "|=", "!", "%", "&", "(", ")", "*", "+", ",",
    "-", ".", "/", ":", ";", "<", "=", ">", "@", "[", "]", "^", "{", "|", "}", "~",
];

#[derive(Debug, Clone, PartialEq)]
enum TokKind<'a> {
    /// A string or bytes literal; bytes hold only chars below U+0100.
    Str {
        bytes: bool,
        value: String,
    },
    /// An integer: digits without underscores, in `radix`.
    Int {
        cleaned: String,
        radix: u32,
    },
    Float(f64),
    Name(&'a str),
    Op(&'static str),
    /// A line end outside brackets (ends the expression).
    Newline,
    End,
}

#[derive(Debug, Clone, PartialEq)]
struct Tok<'a> {
    kind: TokKind<'a>,
    offset: usize,
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    /// Bracket depth: newlines inside brackets are not line ends.
    brackets: usize,
    max_number_len: usize,
}

fn is_id_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_id_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

impl<'a> Lexer<'a> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.text[self.pos..].chars().nth(n)
    }

    fn error(&self, message: impl Into<String>, offset: usize) -> LiteralError {
        LiteralError::Syntax {
            message: message.into(),
            at: Position::of(self.text, offset),
        }
    }

    fn next_token(&mut self) -> Result<Tok<'a>, LiteralError> {
        loop {
            let start = self.pos;
            let Some(c) = self.peek() else {
                return Ok(Tok {
                    kind: TokKind::End,
                    offset: start,
                });
            };
            match c {
                ' ' | '\t' | '\x0c' => self.pos += 1,
                '#' => {
                    let rest = &self.text[self.pos..];
                    self.pos += rest.find(['\n', '\r']).unwrap_or(rest.len());
                }
                '\n' | '\r' => {
                    self.pos += if self.text[self.pos..].starts_with("\r\n") {
                        2
                    } else {
                        1
                    };
                    if self.brackets == 0 {
                        return Ok(Tok {
                            kind: TokKind::Newline,
                            offset: start,
                        });
                    }
                }
                '\\' => match self.peek_at(1) {
                    Some('\n' | '\r') => {
                        let crlf = self.text[self.pos + 1..].starts_with("\r\n");
                        self.pos += if crlf { 3 } else { 2 };
                        if self.pos >= self.text.len() {
                            return Err(self.error(
                                "unexpected end of input after a line continuation",
                                start,
                            ));
                        }
                    }
                    _ => {
                        return Err(self.error(
                            "unexpected character '\\' (a line continuation must end the line)",
                            start,
                        ));
                    }
                },
                '\'' | '"' => return self.string("", start),
                c if c.is_ascii_digit() => return self.number(start),
                '.' if self.peek_at(1).is_some_and(|d| d.is_ascii_digit()) => {
                    return self.number(start);
                }
                c if is_id_start(c) => {
                    let rest = &self.text[self.pos..];
                    let len = rest
                        .find(|c: char| !is_id_continue(c))
                        .unwrap_or(rest.len());
                    let word = &rest[..len];
                    self.pos += len;
                    if matches!(self.peek(), Some('\'' | '"')) && is_string_prefix(word) {
                        return self.string(word, start);
                    }
                    return Ok(Tok {
                        kind: TokKind::Name(word),
                        offset: start,
                    });
                }
                _ => {
                    let rest = &self.text[self.pos..];
                    let Some(op) = OPERATORS.iter().find(|op| rest.starts_with(**op)) else {
                        return Err(self.error(format!("unexpected character {c:?}"), start));
                    };
                    self.pos += op.len();
                    match *op {
                        "(" | "[" | "{" => self.brackets += 1,
                        ")" | "]" | "}" => self.brackets = self.brackets.saturating_sub(1),
                        _ => {}
                    }
                    return Ok(Tok {
                        kind: TokKind::Op(op),
                        offset: start,
                    });
                }
            }
        }
    }

    /// Scans a string literal whose prefix (already consumed) is `prefix`; `self.pos` is at
    /// the opening quote.
    fn string(&mut self, prefix: &str, start: usize) -> Result<Tok<'a>, LiteralError> {
        let lower = prefix.to_ascii_lowercase();
        if lower.contains('f') {
            return Err(LiteralError::NotALiteral {
                found: "f-string".to_owned(),
                at: Position::of(self.text, start),
            });
        }
        let raw = lower.contains('r');
        let bytes = lower.contains('b');
        let quote = self.peek().unwrap_or('\'');
        let triple = self.text[self.pos..].starts_with(&quote.to_string().repeat(3));
        self.pos += if triple { 3 } else { 1 };
        let mut value = String::new();
        loop {
            let here = self.pos;
            let Some(c) = self.peek() else {
                let what = if triple {
                    "unterminated triple-quoted string literal"
                } else {
                    "unterminated string literal"
                };
                return Err(self.error(what, start));
            };
            self.pos += c.len_utf8();
            match c {
                c if c == quote => {
                    if !triple {
                        break;
                    }
                    if self.peek() == Some(quote) && self.peek_at(1) == Some(quote) {
                        self.pos += 2;
                        break;
                    }
                    value.push(c);
                }
                '\r' | '\n' => {
                    if !triple {
                        return Err(self.error("unterminated string literal", start));
                    }
                    // The tokenizer reads source with universal newlines.
                    if c == '\r' && self.peek() == Some('\n') {
                        self.pos += 1;
                    }
                    value.push('\n');
                }
                '\\' => {
                    let Some(next) = self.peek() else { continue };
                    if raw {
                        // Kept as written; the backslash only stops `next` from ending the string.
                        self.pos += next.len_utf8();
                        value.push('\\');
                        if next == '\r' {
                            if self.peek() == Some('\n') {
                                self.pos += 1;
                            }
                            value.push('\n');
                        } else {
                            if bytes && !next.is_ascii() {
                                return Err(self.error(
                                    "bytes can only contain ASCII literal characters",
                                    here,
                                ));
                            }
                            value.push(next);
                        }
                    } else {
                        self.escape(next, bytes, here, &mut value)?;
                    }
                }
                c => {
                    if bytes && !c.is_ascii() {
                        return Err(
                            self.error("bytes can only contain ASCII literal characters", here)
                        );
                    }
                    value.push(c);
                }
            }
        }
        Ok(Tok {
            kind: TokKind::Str { bytes, value },
            offset: start,
        })
    }

    /// Decodes the escape whose backslash is at `at`; `next` is the character after it (not
    /// yet consumed).
    fn escape(
        &mut self,
        next: char,
        bytes: bool,
        at: usize,
        out: &mut String,
    ) -> Result<(), LiteralError> {
        self.pos += next.len_utf8();
        let simple = match next {
            '\n' => return Ok(()),
            '\r' => {
                if self.peek() == Some('\n') {
                    self.pos += 1;
                }
                return Ok(());
            }
            '\\' => Some('\\'),
            '\'' => Some('\''),
            '"' => Some('"'),
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            return Ok(());
        }
        match next {
            '0'..='7' => {
                let mut value = next.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match self.peek().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            value = value * 8 + d;
                            self.pos += 1;
                        }
                        None => break,
                    }
                }
                // In bytes CPython keeps the low byte of \400..\777.
                let value = if bytes { value & 0xff } else { value };
                out.push(char::from_u32(value).unwrap_or('\u{fffd}'));
            }
            'x' => out.push(self.hex_escape(2, "\\xXX", at)?),
            'u' if !bytes => out.push(self.hex_escape(4, "\\uXXXX", at)?),
            'U' if !bytes => out.push(self.hex_escape(8, "\\UXXXXXXXX", at)?),
            'N' if !bytes => {
                return Err(LiteralError::Unsupported {
                    what: "\\N{...} escape (write the character, or \\u/\\U)".to_owned(),
                    at: Position::of(self.text, at),
                });
            }
            other => {
                // An unknown escape keeps its backslash, as in Python.
                if bytes && !other.is_ascii() {
                    return Err(self.error("bytes can only contain ASCII literal characters", at));
                }
                out.push('\\');
                out.push(other);
            }
        }
        Ok(())
    }

    fn hex_escape(&mut self, digits: usize, form: &str, at: usize) -> Result<char, LiteralError> {
        let mut value: u32 = 0;
        for _ in 0..digits {
            let Some(d) = self.peek().and_then(|d| d.to_digit(16)) else {
                return Err(self.error(format!("truncated {form} escape"), at));
            };
            value = value.wrapping_mul(16).wrapping_add(d);
            self.pos += 1;
        }
        if (0xd800..0xe000).contains(&value) {
            return Err(LiteralError::Unsupported {
                what: format!("lone surrogate escape U+{value:04X}"),
                at: Position::of(self.text, at),
            });
        }
        char::from_u32(value)
            .ok_or_else(|| self.error(format!("illegal Unicode character in {form} escape"), at))
    }

    /// Scans digits of `radix` with single `_` separators; returns how many digits.
    /// `leading_underscore` allows one `_` before the first digit (after `0x`).
    fn digits(&mut self, radix: u32, leading_underscore: bool, out: &mut String) -> usize {
        let mut count = 0;
        loop {
            let c = self.peek();
            if c == Some('_')
                && (count > 0 || leading_underscore)
                && self.peek_at(1).is_some_and(|d| d.is_digit(radix))
            {
                self.pos += 1;
                continue;
            }
            match c.filter(|d| d.is_digit(radix)) {
                Some(d) => {
                    out.push(d);
                    self.pos += 1;
                    count += 1;
                }
                None => return count,
            }
        }
    }

    fn number(&mut self, start: usize) -> Result<Tok<'a>, LiteralError> {
        let kind = self.number_kind(start)?;
        if self.peek().is_some_and(is_id_continue) {
            return Err(self.error("invalid decimal literal", start));
        }
        if self.pos - start > self.max_number_len {
            return Err(LiteralError::NumberTooLong {
                limit: self.max_number_len,
                at: Position::of(self.text, start),
            });
        }
        Ok(Tok {
            kind,
            offset: start,
        })
    }

    fn number_kind(&mut self, start: usize) -> Result<TokKind<'a>, LiteralError> {
        let rest = &self.text[start..];
        let radix = match rest.get(..2).map(str::to_ascii_lowercase).as_deref() {
            Some("0x") => Some((16, "hexadecimal")),
            Some("0o") => Some((8, "octal")),
            Some("0b") => Some((2, "binary")),
            _ => None,
        };
        let mut cleaned = String::new();
        if let Some((radix, name)) = radix {
            self.pos += 2;
            if self.digits(radix, true, &mut cleaned) == 0 {
                return Err(self.error(format!("invalid {name} literal"), start));
            }
            if let Some(d) = self.peek().filter(|d| d.is_ascii_digit() || *d == '_') {
                return Err(self.error(format!("invalid digit '{d}' in {name} literal"), start));
            }
            return Ok(TokKind::Int { cleaned, radix });
        }
        self.digits(10, false, &mut cleaned);
        let mut is_float = false;
        if self.peek() == Some('.') {
            is_float = true;
            self.pos += 1;
            cleaned.push('.');
            if self.peek() == Some('_') {
                return Err(self.error("invalid decimal literal", start));
            }
            self.digits(10, false, &mut cleaned);
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            let save = self.pos;
            self.pos += 1;
            let mut exp = String::from("e");
            if let Some(sign @ ('+' | '-')) = self.peek() {
                exp.push(sign);
                self.pos += 1;
            }
            if self.digits(10, false, &mut exp) == 0 {
                self.pos = save;
                return Err(self.error("invalid decimal literal", start));
            }
            is_float = true;
            cleaned.push_str(&exp);
        }
        if self.peek() == Some('_') {
            return Err(self.error("invalid decimal literal", start));
        }
        if matches!(self.peek(), Some('j' | 'J')) {
            return Err(LiteralError::Unsupported {
                what: "complex number".to_owned(),
                at: Position::of(self.text, start),
            });
        }
        if is_float {
            let value: f64 = cleaned
                .parse()
                .map_err(|_| self.error("invalid decimal literal", start))?;
            return Ok(TokKind::Float(value));
        }
        if cleaned.starts_with('0') && cleaned.bytes().any(|b| b != b'0') {
            return Err(self.error(
                "leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal integers",
                start,
            ));
        }
        Ok(TokKind::Int { cleaned, radix: 10 })
    }
}

fn is_string_prefix(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "r" | "u" | "b" | "br" | "rb" | "f" | "fr" | "rf"
    )
}

/// Decimal text of a non-negative integer given as digits in `radix`.
fn to_decimal(digits: &str, radix: u32) -> String {
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return "0".to_owned();
    }
    if radix == 10 {
        return digits.to_owned();
    }
    // Little-endian limbs in base 10^9; quadratic, fine for the capped literal length.
    const BASE: u64 = 1_000_000_000;
    let mut limbs: Vec<u64> = vec![0];
    for d in digits.chars() {
        let mut carry = u64::from(d.to_digit(radix).unwrap_or(0));
        for limb in &mut limbs {
            let v = *limb * u64::from(radix) + carry;
            *limb = v % BASE;
            carry = v / BASE;
        }
        if carry > 0 {
            limbs.push(carry);
        }
    }
    let mut s = String::new();
    for (i, limb) in limbs.iter().rev().enumerate() {
        if i == 0 {
            s.push_str(&limb.to_string());
        } else {
            s.push_str(&format!("{limb:09}"));
        }
    }
    s
}

/// The integer `-magnitude` or `magnitude` (decimal, no leading zeros), as `Int` if it fits.
fn make_int(negative: bool, magnitude: &str) -> PyLiteral {
    if magnitude.len() <= 20
        && let Ok(m) = magnitude.parse::<i128>()
        && let Ok(v) = i64::try_from(if negative { -m } else { m })
    {
        return PyLiteral::Int(v);
    }
    if negative && magnitude != "0" {
        PyLiteral::BigInt(format!("-{magnitude}"))
    } else {
        PyLiteral::BigInt(magnitude.to_owned())
    }
}

/// Python equality classes for dict keys and set elements: `1 == 1.0 == True`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum KeyRepr {
    None,
    /// An integral number, as canonical decimal text.
    Integral(String),
    /// A non-integral float, by bit pattern.
    Fraction(u64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<KeyRepr>),
    Name(KnownName),
}

fn key_repr(value: &PyLiteral) -> Result<KeyRepr, &'static str> {
    Ok(match value {
        PyLiteral::None => KeyRepr::None,
        PyLiteral::Bool(b) => KeyRepr::Integral(if *b { "1" } else { "0" }.to_owned()),
        PyLiteral::Int(i) => KeyRepr::Integral(i.to_string()),
        PyLiteral::BigInt(s) => KeyRepr::Integral(s.clone()),
        PyLiteral::Float(f) => {
            if *f == 0.0 {
                KeyRepr::Integral("0".to_owned())
            } else if f.is_finite() && f.fract() == 0.0 {
                // Exact decimal expansion of an integral float.
                KeyRepr::Integral(format!("{f:.0}"))
            } else {
                KeyRepr::Fraction(f.to_bits())
            }
        }
        PyLiteral::Str(s) => KeyRepr::Str(s.clone()),
        PyLiteral::Bytes(b) => KeyRepr::Bytes(b.clone()),
        PyLiteral::Tuple(items) => {
            KeyRepr::Tuple(items.iter().map(key_repr).collect::<Result<_, _>>()?)
        }
        PyLiteral::Name(n) => KeyRepr::Name(*n),
        other => return Err(other.type_name()),
    })
}

struct Parser<'a, 'l> {
    text: &'a str,
    lexer: Lexer<'a>,
    tok: Tok<'a>,
    limits: &'l LiteralLimits,
    depth: usize,
    elements: usize,
}

impl<'a, 'l> Parser<'a, 'l> {
    fn new(text: &'a str, limits: &'l LiteralLimits) -> Result<Self, LiteralError> {
        let mut lexer = Lexer {
            text,
            pos: 0,
            brackets: 0,
            max_number_len: limits.max_number_len,
        };
        let tok = lexer.next_token()?;
        Ok(Self {
            text,
            lexer,
            tok,
            limits,
            depth: 0,
            elements: 0,
        })
    }

    fn advance(&mut self) -> Result<Tok<'a>, LiteralError> {
        let next = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.tok, next))
    }

    fn skip_newlines(&mut self) -> Result<(), LiteralError> {
        while self.tok.kind == TokKind::Newline {
            self.advance()?;
        }
        Ok(())
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.tok.kind, TokKind::Op(o) if o == op)
    }

    fn pos(&self, offset: usize) -> Position {
        Position::of(self.text, offset)
    }

    fn not_literal(&self, found: String, offset: usize) -> LiteralError {
        LiteralError::NotALiteral {
            found,
            at: self.pos(offset),
        }
    }

    /// An error for the current token, which does not fit `context`.
    fn unexpected(&self, context: &str) -> LiteralError {
        let at = self.pos(self.tok.offset);
        match &self.tok.kind {
            TokKind::Op("(") => LiteralError::NotALiteral {
                found: "call".to_owned(),
                at,
            },
            TokKind::Op("[") => LiteralError::NotALiteral {
                found: "subscript".to_owned(),
                at,
            },
            TokKind::Op(".") => {
                let attr = self.text[self.tok.offset + 1..]
                    .trim_start_matches([' ', '\t'])
                    .split(|c: char| !is_id_continue(c))
                    .next()
                    .unwrap_or("");
                LiteralError::NotALiteral {
                    found: format!("attribute access '.{attr}'"),
                    at,
                }
            }
            TokKind::Op(o @ (")" | "]" | "}" | "," | ":")) => LiteralError::Syntax {
                message: format!("unexpected '{o}' {context}"),
                at,
            },
            TokKind::Op(o) => LiteralError::NotALiteral {
                found: format!("operator '{o}'"),
                at,
            },
            TokKind::Name(n) if *n == "lambda" => LiteralError::NotALiteral {
                found: "lambda expression".to_owned(),
                at,
            },
            TokKind::Name(n) if is_keyword(n) => LiteralError::NotALiteral {
                found: format!("keyword '{n}'"),
                at,
            },
            TokKind::Name(n) => LiteralError::NotALiteral {
                found: format!("name '{n}'"),
                at,
            },
            TokKind::Str { .. } => LiteralError::Syntax {
                message: format!("unexpected string {context}"),
                at,
            },
            TokKind::Int { .. } | TokKind::Float(_) => LiteralError::Syntax {
                message: format!("unexpected number {context}"),
                at,
            },
            TokKind::Newline => LiteralError::Syntax {
                message: format!("unexpected end of line {context} (only brackets may span lines)"),
                at,
            },
            TokKind::End => LiteralError::Syntax {
                message: format!("unexpected end of input {context}"),
                at,
            },
        }
    }

    fn count_element(&mut self, offset: usize) -> Result<(), LiteralError> {
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(LiteralError::TooManyElements {
                limit: self.limits.max_elements,
                at: self.pos(offset),
            });
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<(), LiteralError> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(LiteralError::TooDeep {
                limit: self.limits.max_depth,
                at: self.pos(self.tok.offset),
            });
        }
        Ok(())
    }

    /// Whether the current token can end an element list (so a trailing comma is allowed).
    fn at_list_end(&self, close: &str) -> bool {
        if close.is_empty() {
            matches!(self.tok.kind, TokKind::Newline | TokKind::End)
        } else {
            self.is_op(close)
        }
    }

    /// `expr (',' expr)* [',']` up to `close` (empty: end of the top-level expression).
    /// Returns the elements and whether there was a comma.
    fn elements_until(&mut self, close: &str) -> Result<(Vec<PyLiteral>, bool), LiteralError> {
        let mut items = Vec::new();
        let mut comma = false;
        while !self.at_list_end(close) {
            items.push(self.expression()?);
            if self.is_op(",") {
                comma = true;
                self.advance()?;
            } else if !self.at_list_end(close) {
                let context = if close.is_empty() {
                    "after a value".to_owned()
                } else {
                    format!("where ',' or '{close}' was expected")
                };
                return Err(self.unexpected(&context));
            }
        }
        Ok((items, comma))
    }

    /// The top level: a single expression, or a bare tuple `a, b`.
    fn expression_list(&mut self) -> Result<PyLiteral, LiteralError> {
        if matches!(self.tok.kind, TokKind::End | TokKind::Newline) {
            return Err(self.unexpected("(expected a Python literal)"));
        }
        let (mut items, comma) = self.elements_until("")?;
        if comma {
            Ok(PyLiteral::Tuple(items))
        } else {
            Ok(items.pop().unwrap_or(PyLiteral::None))
        }
    }

    /// An element: integer arithmetic (`+`, `-`, `*`) over signed atoms. Real configs write
    /// sizes as `10*1024*1024`; the operators work on integers only, with overflow checks, so
    /// nothing but a number can come out of them (no `**`, no string repetition).
    fn expression(&mut self) -> Result<PyLiteral, LiteralError> {
        let mut acc = self.term()?;
        while let TokKind::Op(op @ ("+" | "-")) = self.tok.kind {
            let at = self.tok.offset;
            self.advance()?;
            let rhs = self.term()?;
            acc = self.int_op(acc, op, rhs, at)?;
        }
        Ok(acc)
    }

    fn term(&mut self) -> Result<PyLiteral, LiteralError> {
        let mut acc = self.unary()?;
        while self.is_op("*") {
            let at = self.tok.offset;
            self.advance()?;
            let rhs = self.unary()?;
            acc = self.int_op(acc, "*", rhs, at)?;
        }
        Ok(acc)
    }

    fn int_op(
        &self,
        a: PyLiteral,
        op: &str,
        b: PyLiteral,
        at: usize,
    ) -> Result<PyLiteral, LiteralError> {
        let (PyLiteral::Int(x), PyLiteral::Int(y)) = (&a, &b) else {
            return Err(self.not_literal(
                format!(
                    "operator '{op}' between {} and {} (only integer arithmetic is allowed)",
                    a.type_name(),
                    b.type_name()
                ),
                at,
            ));
        };
        let r = match op {
            "+" => x.checked_add(*y),
            "-" => x.checked_sub(*y),
            _ => x.checked_mul(*y),
        };
        r.map(PyLiteral::Int)
            .ok_or_else(|| self.not_literal(format!("integer overflow in '{op}'"), at))
    }

    /// Optional signs, then an atom with no trailers.
    fn unary(&mut self) -> Result<PyLiteral, LiteralError> {
        let start = self.tok.offset;
        self.count_element(start)?;
        let mut negative = false;
        let mut signed = false;
        while let TokKind::Op(op @ ("-" | "+")) = self.tok.kind {
            signed = true;
            negative ^= op == "-";
            self.advance()?;
        }
        let value = self.atom()?;
        // Trailers and operators after a complete value are never part of a literal.
        if matches!(self.tok.kind, TokKind::Op("(" | "[" | ".")) {
            return Err(self.unexpected("after a value"));
        }
        if !signed {
            return Ok(value);
        }
        let sign = if negative { '-' } else { '+' };
        match value {
            PyLiteral::Int(i) => {
                let magnitude = i.unsigned_abs().to_string();
                Ok(make_int(negative ^ (i < 0), &magnitude))
            }
            PyLiteral::BigInt(s) => {
                let (was_negative, magnitude) = match s.strip_prefix('-') {
                    Some(m) => (true, m),
                    None => (false, s.as_str()),
                };
                Ok(make_int(negative ^ was_negative, magnitude))
            }
            PyLiteral::Float(f) => Ok(PyLiteral::Float(if negative { -f } else { f })),
            other => Err(self.not_literal(
                format!("unary '{sign}' applied to {}", other.type_name()),
                start,
            )),
        }
    }

    fn atom(&mut self) -> Result<PyLiteral, LiteralError> {
        let start = self.tok.offset;
        match self.tok.kind.clone() {
            TokKind::Op("(") => {
                self.enter()?;
                self.advance()?;
                let (mut items, comma) = self.elements_until(")")?;
                self.advance()?;
                self.depth -= 1;
                if comma || items.is_empty() {
                    Ok(PyLiteral::Tuple(items))
                } else {
                    // Parentheses around one value without a comma only group.
                    self.elements -= 1;
                    Ok(items.pop().unwrap_or(PyLiteral::None))
                }
            }
            TokKind::Op("[") => {
                self.enter()?;
                self.advance()?;
                let (items, _) = self.elements_until("]")?;
                self.advance()?;
                self.depth -= 1;
                Ok(PyLiteral::List(items))
            }
            TokKind::Op("{") => {
                self.enter()?;
                self.advance()?;
                let value = self.dict_or_set()?;
                self.depth -= 1;
                Ok(value)
            }
            TokKind::Str { bytes, value } => {
                let mut text = value;
                self.advance()?;
                // Adjacent literals concatenate.
                while let TokKind::Str { bytes: b, value } = &self.tok.kind {
                    if *b != bytes {
                        return Err(LiteralError::Syntax {
                            message: "cannot mix bytes and nonbytes literals".to_owned(),
                            at: self.pos(self.tok.offset),
                        });
                    }
                    text.push_str(value);
                    self.advance()?;
                }
                if bytes {
                    // Bytes tokens only hold chars below U+0100.
                    Ok(PyLiteral::Bytes(text.chars().map(|c| c as u8).collect()))
                } else {
                    Ok(PyLiteral::Str(text))
                }
            }
            TokKind::Int { cleaned, radix, .. } => {
                self.advance()?;
                Ok(make_int(false, &to_decimal(&cleaned, radix)))
            }
            TokKind::Float(f) => {
                self.advance()?;
                Ok(PyLiteral::Float(f))
            }
            TokKind::Name("True") => {
                self.advance()?;
                Ok(PyLiteral::Bool(true))
            }
            TokKind::Name("False") => {
                self.advance()?;
                Ok(PyLiteral::Bool(false))
            }
            TokKind::Name("None") => {
                self.advance()?;
                Ok(PyLiteral::None)
            }
            TokKind::Name(n) if is_keyword(n) => Err(self.unexpected("where a value was expected")),
            TokKind::Name(_) => self.name(start),
            _ => Err(self.unexpected("where a value was expected")),
        }
    }

    /// `name ('.' name)*`, leaving the token after it current.
    fn dotted_name(&mut self) -> Result<(String, usize), LiteralError> {
        let start = self.tok.offset;
        let mut dotted = String::new();
        loop {
            let TokKind::Name(part) = self.tok.kind else {
                return Err(self.unexpected("after '.' (expected a name)"));
            };
            dotted.push_str(part);
            self.advance()?;
            if !self.is_op(".") {
                return Ok((dotted, start));
            }
            dotted.push('.');
            self.advance()?;
        }
    }

    fn name(&mut self, start: usize) -> Result<PyLiteral, LiteralError> {
        let (dotted, _) = self.dotted_name()?;
        if self.is_op("(") {
            let paren = self.tok.offset;
            let empty = match dotted.as_str() {
                "tuple" => Some(PyLiteral::Tuple(Vec::new())),
                "list" => Some(PyLiteral::List(Vec::new())),
                "dict" => Some(PyLiteral::Dict(Vec::new())),
                "set" => Some(PyLiteral::Set(Vec::new())),
                _ => None,
            };
            if let Some(empty) = empty {
                self.advance()?;
                if self.is_op(")") {
                    self.advance()?;
                    return Ok(empty);
                }
                return Err(self.not_literal(
                    format!(
                        "call to '{dotted}' with arguments (only an empty '{dotted}()' is allowed)"
                    ),
                    paren,
                ));
            }
            return Err(self.not_literal(format!("call to '{dotted}'"), start));
        }
        if self.is_op("[") {
            return Err(self.not_literal(format!("subscript of '{dotted}'"), start));
        }
        resolve_name(&dotted).ok_or_else(|| {
            self.not_literal(
                format!(
                    "unknown name '{dotted}' (allowed: sys.stdout, sys.stderr, level names, handlers.DEFAULT_*_PORT, handlers.SYSLOG_*_PORT, handlers.SysLogHandler.LOG_*, socket.SOCK_STREAM/SOCK_DGRAM)"
                ),
                start,
            )
        })
    }

    /// After `{`: `}`, `k: v, …}` or `e, …}`.
    fn dict_or_set(&mut self) -> Result<PyLiteral, LiteralError> {
        if self.is_op("}") {
            self.advance()?;
            return Ok(PyLiteral::Dict(Vec::new()));
        }
        if self.is_op("**") {
            return Err(self.not_literal("dict unpacking '**'".to_owned(), self.tok.offset));
        }
        let first_at = self.tok.offset;
        let first = self.expression()?;
        if self.is_op(":") {
            let mut entries: Vec<(PyLiteral, PyLiteral)> = Vec::new();
            let mut index: HashMap<KeyRepr, usize> = HashMap::new();
            let (mut key, mut key_at) = (first, first_at);
            loop {
                if !self.is_op(":") {
                    return Err(self.unexpected("where ':' was expected"));
                }
                self.advance()?;
                let value = self.expression()?;
                let repr = key_repr(&key).map_err(|type_name| LiteralError::Unhashable {
                    type_name,
                    at: self.pos(key_at),
                })?;
                match index.get(&repr) {
                    // Python keeps the first key object and the last value.
                    Some(&i) => entries[i].1 = value,
                    None => {
                        index.insert(repr, entries.len());
                        entries.push((key, value));
                    }
                }
                if self.is_op(",") {
                    self.advance()?;
                } else if !self.is_op("}") {
                    return Err(self.unexpected("where ',' or '}' was expected"));
                }
                if self.is_op("}") {
                    self.advance()?;
                    return Ok(PyLiteral::Dict(entries));
                }
                if self.is_op("**") {
                    return Err(self.not_literal("dict unpacking '**'".to_owned(), self.tok.offset));
                }
                key_at = self.tok.offset;
                key = self.expression()?;
            }
        }
        let mut items = Vec::new();
        let mut seen: HashMap<KeyRepr, ()> = HashMap::new();
        let (mut item, mut item_at) = (first, first_at);
        loop {
            let repr = key_repr(&item).map_err(|type_name| LiteralError::Unhashable {
                type_name,
                at: self.pos(item_at),
            })?;
            if seen.insert(repr, ()).is_none() {
                items.push(item);
            }
            if self.is_op(",") {
                self.advance()?;
            } else if !self.is_op("}") {
                return Err(self.unexpected("where ',' or '}' was expected"));
            }
            if self.is_op("}") {
                self.advance()?;
                return Ok(PyLiteral::Set(items));
            }
            item_at = self.tok.offset;
            item = self.expression()?;
        }
    }
}
