//! The bounded pickle parser.
//!
//! An iterative stack machine over an opcode allow-list. Values live in a flat arena indexed by
//! `u32` so memo references are cheap shared indices (Python semantics: mutating a list after
//! `PUT` is visible through later `GET`s) and nothing is cloned while parsing. After `STOP`, the
//! arena graph is expanded into an owned [`PickleValue`] tree by an explicit-stack walk that
//! enforces the node, depth and byte budgets and detects cycles. Parsing work and memory are
//! bounded by the input length and by the number of pushed values (`max_nodes`).

use std::collections::HashMap;

use crate::error::{DecodeError, DecodeErrorKind};
use crate::stdtypes::{self, Known};
use crate::template::RecordTemplate;
use crate::text::{self, ParsedInt};
use crate::value::{FieldValue, PickleValue};

/// Depth above which [`DecodeLimits::max_depth`] is clamped, so that the recursive `Drop`,
/// `Clone`, `PartialEq` and `Display` of [`PickleValue`] stay far from the stack's end.
pub const HARD_MAX_DEPTH: usize = 1000;

/// Resource budgets for one decode. Every limit is checked before the work or allocation it
/// guards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Maximum input length in bytes. Default 16 MiB.
    pub max_input_len: usize,
    /// Maximum container nesting (the top-level container is depth 1), also the maximum number
    /// of open `MARK`s. Default 64; clamped to [`HARD_MAX_DEPTH`].
    pub max_depth: usize,
    /// Maximum number of values in the result counted after memo expansion (each scalar,
    /// string and container counts 1), and of values pushed while parsing. Default 100 000.
    pub max_nodes: usize,
    /// Maximum number of memo entries. Default 65 536.
    pub max_memo: usize,
    /// Maximum length of one str/bytes/text argument in bytes. Default 4 MiB.
    pub max_str_len: usize,
    /// Maximum total bytes of str/bytes/int text in the expanded result. Default 32 MiB.
    pub max_expanded_bytes: usize,
    /// Maximum decimal digits of an integer (CPython's `int_max_str_digits` default is 4300).
    /// Default 4300.
    pub max_long_digits: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_input_len: 16 << 20,
            max_depth: 64,
            max_nodes: 100_000,
            max_memo: 65_536,
            max_str_len: 4 << 20,
            max_expanded_bytes: 32 << 20,
            max_long_digits: 4300,
        }
    }
}

/// A value on the VM stack or inside a container: scalars inline, everything else an arena
/// index.
#[derive(Debug, Clone, Copy)]
enum Slot {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Node(u32),
}

/// Text or bytes: a range of the input (no copy) or owned data produced by unescaping.
#[derive(Debug)]
enum Blob {
    Input { start: usize, len: usize },
    Owned(Vec<u8>),
}

#[derive(Debug)]
enum Node {
    /// Validated (and allocated) once, when the opcode is read.
    Str(String),
    Bytes(Blob),
    ByteArray(Blob),
    BigInt(String),
    Opaque(String),
    /// An allow-listed standard-library value, recognised from its reduction.
    Known(Box<Known>),
    List(Vec<Slot>),
    Tuple(Vec<Slot>),
    Set(Vec<Slot>),
    FrozenSet(Vec<Slot>),
    /// Keys and values interleaved.
    Dict(Vec<Slot>),
}

/// Memo keys below this go to a dense vector (fast, bounded allocation); others to a map, so a
/// huge `PUT` index allocates nothing.
const DENSE_MEMO: u64 = 1024;

/// Entries a reused decoder keeps allocated in each of its buffers between pickles.
const KEPT_ENTRIES: usize = 4096;

/// A reusable pickle parser. Reusing one decoder across records keeps its buffers.
///
/// ```
/// use logwire_pickle::{DecodeLimits, PickleDecoder, PickleValue};
/// let mut decoder = PickleDecoder::new(DecodeLimits::default());
/// // pickle.dumps([1, 'a'], 1)
/// let v = decoder.decode(b"]q\x00(K\x01X\x01\x00\x00\x00aq\x01e.").unwrap();
/// assert_eq!(v, PickleValue::List(vec![PickleValue::Int(1), PickleValue::Str("a".into())]));
/// ```
#[derive(Debug)]
pub struct PickleDecoder {
    limits: DecodeLimits,
    stack: Vec<Slot>,
    marks: Vec<usize>,
    arena: Vec<Node>,
    /// Entries are valid only when tagged with the current `generation`, so a new decode
    /// starts with an empty memo without clearing or regrowing the vector.
    memo_dense: Vec<(u32, Slot)>,
    generation: u32,
    memo_sparse: HashMap<u64, Slot>,
    memo_len: usize,
    pushes: usize,
    /// Whether any value was pushed a second time (GET/DUP). If not, every reachable node is
    /// expanded exactly once, so its strings can be moved out instead of cloned.
    shared_refs: bool,
    on_path: Vec<bool>,
    /// The protocol the last `PROTO` named (0 until one does), as CPython's unpickler keeps
    /// it: class names are mapped from Python 2 below 3.
    proto: u8,
    /// The fast path for flat records, with its buffers and shape cache.
    flat: crate::flat::FlatParser,
}

impl Default for PickleDecoder {
    fn default() -> Self {
        PickleDecoder::new(DecodeLimits::default())
    }
}

/// Decodes one pickle with the given limits. See [`PickleDecoder`] to reuse buffers.
pub fn decode(input: &[u8], limits: &DecodeLimits) -> Result<PickleValue, DecodeError> {
    PickleDecoder::new(limits.clone()).decode(input)
}

/// Decodes a pickled log record: the top level must be a dict whose keys are distinct strs.
pub fn decode_record_dict(
    input: &[u8],
    limits: &DecodeLimits,
) -> Result<Vec<(String, PickleValue)>, DecodeError> {
    PickleDecoder::new(limits.clone()).decode_record_dict(input)
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeErrorKind> {
        let end = self.pos.checked_add(n).ok_or(DecodeErrorKind::Truncated)?;
        let s = self
            .data
            .get(self.pos..end)
            .ok_or(DecodeErrorKind::Truncated)?;
        self.pos = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeErrorKind> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, DecodeErrorKind> {
        Ok(self.array::<1>()?[0])
    }
    /// A line without its `\n`.
    fn line(&mut self) -> Result<&'a [u8], DecodeErrorKind> {
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(DecodeErrorKind::Truncated)?;
        self.pos += n + 1;
        Ok(&rest[..n])
    }
}

fn opcode_name(op: u8) -> &'static str {
    match op {
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => "?",
    }
}

/// The Python 3 name of a class a pickle names, as `pickle.loads` resolves it: protocols
/// below 3 (a pickle without `PROTO` is protocol 0) may name Python 2 modules and classes,
/// which CPython's unpickler maps through `_compat_pickle` (`fix_imports`): a
/// `(module, name)` pair first, else the module alone.
fn py3_class_name(proto: u8, module: &str, name: &str) -> String {
    use crate::compat_names::{IMPORT_MAPPING, NAME_MAPPING};
    if proto < 3 {
        if let Ok(i) = NAME_MAPPING.binary_search_by(|(k, _)| k.cmp(&(module, name))) {
            let (m3, n3) = NAME_MAPPING[i].1;
            return format!("{m3}.{n3}");
        }
        if let Ok(i) = IMPORT_MAPPING.binary_search_by(|(k, _)| k.cmp(&module)) {
            return format!("{}.{name}", IMPORT_MAPPING[i].1);
        }
    }
    format!("{module}.{name}")
}

impl PickleDecoder {
    /// A decoder with these limits.
    pub fn new(mut limits: DecodeLimits) -> Self {
        limits.max_depth = limits.max_depth.min(HARD_MAX_DEPTH);
        PickleDecoder {
            limits,
            stack: Vec::new(),
            marks: Vec::new(),
            arena: Vec::new(),
            memo_dense: Vec::new(),
            // Tag 0 marks never-written entries, so generations start at 1.
            generation: 1,
            memo_sparse: HashMap::new(),
            memo_len: 0,
            pushes: 0,
            shared_refs: false,
            on_path: Vec::new(),
            proto: 0,
            flat: crate::flat::FlatParser::default(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &DecodeLimits {
        &self.limits
    }

    /// Decodes one complete pickle (any protocol 0–5). Bytes after `STOP` are an error.
    pub fn decode(&mut self, input: &[u8]) -> Result<PickleValue, DecodeError> {
        let result = self.run(input, Mode::Value).and_then(|done| match done {
            Done::Value(v) => Ok(v),
            Done::Record(_) => Err(DecodeError::new(0, DecodeErrorKind::BadStopStack)),
        });
        self.reset();
        result
    }

    /// Decodes a pickled log record: the top level must be a dict whose keys are distinct
    /// strs. Pairs keep the pickle's order.
    pub fn decode_record_dict(
        &mut self,
        input: &[u8],
    ) -> Result<Vec<(String, PickleValue)>, DecodeError> {
        let result = self.run(input, Mode::Record).and_then(|done| match done {
            Done::Record(fields) => match first_duplicate_key(
                &fields.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            ) {
                Some(dup) => Err(DecodeError::new(
                    input.len().saturating_sub(1),
                    DecodeErrorKind::DuplicateKey(dup.to_owned()),
                )),
                None => Ok(fields),
            },
            Done::Value(_) => Err(DecodeError::new(0, DecodeErrorKind::BadStopStack)),
        });
        self.reset();
        result
    }

    /// Decodes a pickled log record and hands each top-level `(key, value)` pair, in the
    /// pickle's order, to `visit`; the same records as [`decode_record_dict`](Self::decode_record_dict)
    /// are accepted and rejected, with the same limits and errors, and `visit` is called only
    /// once the whole pickle is known to be good.
    ///
    /// Records of the usual shape (str keys to `None`, bools, ints, floats and strs, any
    /// protocol) are read without building a tree, and without allocating once a sender's
    /// key shape is cached (a new shape allocates its keys once; a larger record grows the
    /// text buffer): strs are borrowed from one buffer the decoder keeps and validates in a
    /// single pass, and keys that repeat the last record's are taken from its cache. Anything else (containers, bytes, placeholders, huge
    /// ints) goes through the general parser and arrives as [`FieldValue::Other`].
    ///
    /// ```
    /// use logwire_pickle::{DecodeError, FieldValue, PickleDecoder};
    /// let mut decoder = PickleDecoder::default();
    /// let mut seen = Vec::new();
    /// // pickle.dumps({'msg': 'hi', 'levelno': 20}, 1)
    /// let pickle = b"}q\x00(X\x03\x00\x00\x00msgq\x01X\x02\x00\x00\x00hiq\x02X\x07\x00\x00\x00levelnoq\x03K\x14u.";
    /// decoder
    ///     .decode_record_with(pickle, |k, v| {
    ///         seen.push(format!("{k}={v:?}"));
    ///         Ok::<_, DecodeError>(())
    ///     })
    ///     .unwrap();
    /// assert_eq!(seen, ["msg=Str(\"hi\")", "levelno=Int(20)"]);
    /// ```
    pub fn decode_record_with<E, F>(&mut self, input: &[u8], mut visit: F) -> Result<(), E>
    where
        E: From<DecodeError>,
        F: FnMut(&str, FieldValue<'_>) -> Result<(), E>,
    {
        if let Some(result) = self.flat.decode_with(input, &self.limits, &mut visit) {
            return result;
        }
        for (k, v) in self.decode_record_dict(input)? {
            let key = k.as_str();
            match v {
                PickleValue::None => visit(key, FieldValue::None)?,
                PickleValue::Bool(b) => visit(key, FieldValue::Bool(b))?,
                PickleValue::Int(i) => visit(key, FieldValue::Int(i))?,
                PickleValue::Float(x) => visit(key, FieldValue::Float(x))?,
                PickleValue::Str(s) => visit(key, FieldValue::Str(&s))?,
                other => visit(key, FieldValue::Other(other))?,
            }
        }
        Ok(())
    }

    /// [`decode_record_with`](Self::decode_record_with) through a [`RecordTemplate`]: a
    /// record with the layout the template learned is read by comparing bytes; any other
    /// goes through the flat path or the general parser, and (when it is accepted) may
    /// become the template. `classify` gives each key of a learned layout its tag, which
    /// `visit` receives with the key; on the other paths each key is classified as it comes.
    ///
    /// `skip` lets a caller that keeps what it was handed under the template's current
    /// [`generation`](RecordTemplate::generation) leave out pairs it already has: on a record
    /// read through the template, a pair whose value is the learned one and whose tag `skip`
    /// accepts is not visited. (Every other pair is visited.) Returns whether the record was
    /// read through the template, of the generation it had before the call.
    ///
    /// The pairs, their values and the errors are exactly those of `decode_record_with`.
    pub fn decode_record_tagged<T, E, C, S, F>(
        &mut self,
        input: &[u8],
        template: &mut RecordTemplate<T>,
        mut classify: C,
        skip: S,
        mut visit: F,
    ) -> Result<bool, E>
    where
        T: Copy,
        E: From<DecodeError>,
        C: FnMut(&str) -> T,
        S: Fn(T) -> bool,
        F: FnMut(T, &str, FieldValue<'_>) -> Result<(), E>,
    {
        if let Some(result) = template.decode(input, &self.limits, &skip, &mut visit) {
            return result.map(|()| true);
        }
        self.decode_record_with(input, |key, value| visit(classify(key), key, value))?;
        template.missed(input, &self.limits, &mut classify);
        Ok(false)
    }

    fn reset(&mut self) {
        self.stack.clear();
        self.marks.clear();
        self.arena.clear();
        self.memo_sparse.clear();
        self.on_path.clear();
        // A reused decoder (one per connection) keeps its buffers, but not the size one large
        // pickle gave them: up to `max_nodes` entries each, on every connection. (`shrink_to`
        // never goes below the length, so this comes after the clears.)
        self.stack.shrink_to(KEPT_ENTRIES);
        self.marks.shrink_to(KEPT_ENTRIES);
        self.arena.shrink_to(KEPT_ENTRIES);
        self.on_path.shrink_to(KEPT_ENTRIES);
        self.memo_sparse.shrink_to(KEPT_ENTRIES);
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            // Wrapped: stale tags could look current again.
            self.memo_dense.clear();
            self.generation = 1;
        }
        self.memo_len = 0;
        self.pushes = 0;
        self.shared_refs = false;
        self.proto = 0;
    }

    fn run(&mut self, input: &[u8], mode: Mode) -> Result<Done, DecodeError> {
        if input.len() > self.limits.max_input_len {
            return Err(DecodeError::new(
                0,
                DecodeErrorKind::InputTooLarge {
                    len: input.len(),
                    limit: self.limits.max_input_len,
                },
            ));
        }
        let mut r = Reader {
            data: input,
            pos: 0,
        };
        loop {
            let op_at = r.pos;
            let Some(&op) = input.get(op_at) else {
                return Err(DecodeError::new(op_at, DecodeErrorKind::MissingStop));
            };
            r.pos += 1;
            match self.step(op, &mut r, input) {
                Ok(false) => {}
                Ok(true) => {
                    if r.pos != input.len() {
                        return Err(DecodeError::new(
                            r.pos,
                            DecodeErrorKind::TrailingBytes {
                                count: input.len() - r.pos,
                            },
                        ));
                    }
                    return self
                        .finish(input, mode)
                        .map_err(|k| DecodeError::new(op_at, k));
                }
                Err(kind) => return Err(DecodeError::new(op_at, kind)),
            }
        }
    }

    // ---- stack helpers ----

    fn push(&mut self, slot: Slot) -> Result<(), DecodeErrorKind> {
        self.pushes += 1;
        if self.pushes > self.limits.max_nodes {
            return Err(DecodeErrorKind::NodeLimit {
                limit: self.limits.max_nodes,
            });
        }
        self.stack.push(slot);
        Ok(())
    }

    fn push_node(&mut self, node: Node) -> Result<(), DecodeErrorKind> {
        // Arena size never exceeds pushes, which push() bounds; check first so the index fits.
        let idx = u32::try_from(self.arena.len()).map_err(|_| DecodeErrorKind::NodeLimit {
            limit: self.limits.max_nodes,
        })?;
        self.push(Slot::Node(idx))?;
        self.arena.push(node);
        Ok(())
    }

    fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn pop(&mut self) -> Result<Slot, DecodeErrorKind> {
        if self.stack.len() <= self.fence() {
            return Err(DecodeErrorKind::StackUnderflow);
        }
        self.stack.pop().ok_or(DecodeErrorKind::StackUnderflow)
    }

    fn top(&self) -> Result<Slot, DecodeErrorKind> {
        if self.stack.len() <= self.fence() {
            return Err(DecodeErrorKind::StackUnderflow);
        }
        self.stack
            .last()
            .copied()
            .ok_or(DecodeErrorKind::StackUnderflow)
    }

    /// Pops the topmost mark and returns the values above it.
    fn pop_mark(&mut self) -> Result<Vec<Slot>, DecodeErrorKind> {
        let m = self.marks.pop().ok_or(DecodeErrorKind::MarkMissing)?;
        if m > self.stack.len() {
            return Err(DecodeErrorKind::StackUnderflow);
        }
        Ok(self.stack.split_off(m))
    }

    /// Pops the topmost mark for APPENDS/SETITEMS/ADDITEMS: returns where the new items start
    /// and the arena index of the container just below the mark (which must be above the
    /// next mark, as in CPython).
    fn mark_and_target(&mut self) -> Result<(usize, Option<usize>), DecodeErrorKind> {
        let m = self.marks.pop().ok_or(DecodeErrorKind::MarkMissing)?;
        if m > self.stack.len() || m <= self.fence() {
            return Err(DecodeErrorKind::StackUnderflow);
        }
        let target = match self.stack.get(m - 1) {
            Some(Slot::Node(i)) => Some(*i as usize),
            _ => None,
        };
        Ok((m, target))
    }

    fn node_mut(&mut self, slot: Slot) -> Option<&mut Node> {
        match slot {
            Slot::Node(i) => self.arena.get_mut(i as usize),
            _ => None,
        }
    }

    fn node(&self, slot: Slot) -> Option<&Node> {
        match slot {
            Slot::Node(i) => self.arena.get(i as usize),
            _ => None,
        }
    }

    fn str_arg(&self, slot: Slot) -> Option<String> {
        match self.node(slot)? {
            Node::Str(s) => Some(s.clone()),
            _ => None,
        }
    }

    // ---- memo ----

    fn memo_put(&mut self, key: u64, slot: Slot) -> Result<(), DecodeErrorKind> {
        let full = self.memo_len >= self.limits.max_memo;
        let limit = DecodeErrorKind::MemoLimit {
            limit: self.limits.max_memo,
        };
        if key < DENSE_MEMO {
            let i = key as usize;
            if self.memo_dense.len() <= i {
                self.memo_dense.resize(i + 1, (0, Slot::None));
            }
            let generation = self.generation;
            let entry = &mut self.memo_dense[i];
            if entry.0 != generation {
                if full {
                    return Err(limit);
                }
                self.memo_len += 1;
            }
            *entry = (generation, slot);
        } else {
            if !self.memo_sparse.contains_key(&key) {
                if full {
                    return Err(limit);
                }
                self.memo_len += 1;
            }
            self.memo_sparse.insert(key, slot);
        }
        Ok(())
    }

    fn memo_get(&mut self, key: u64) -> Result<(), DecodeErrorKind> {
        let slot = if key < DENSE_MEMO {
            self.memo_dense
                .get(key as usize)
                .filter(|(g, _)| *g == self.generation)
                .map(|(_, s)| *s)
        } else {
            self.memo_sparse.get(&key).copied()
        };
        let slot = slot.ok_or(DecodeErrorKind::MemoKeyMissing(key))?;
        self.shared_refs = true;
        self.push(slot)
    }

    // ---- value constructors ----

    fn check_len(&self, len: u64) -> Result<usize, DecodeErrorKind> {
        match usize::try_from(len) {
            Ok(n) if n <= self.limits.max_str_len => Ok(n),
            _ => Err(DecodeErrorKind::StringTooLong {
                len,
                limit: self.limits.max_str_len,
            }),
        }
    }

    fn push_int(&mut self, v: ParsedInt) -> Result<(), DecodeErrorKind> {
        match v {
            ParsedInt::Small(i) => self.push(Slot::Int(i)),
            ParsedInt::Big(s) => self.push_node(Node::BigInt(s)),
        }
    }

    /// A str from `len` input bytes that must be UTF-8 (surrogatepass tolerated).
    fn push_utf8(&mut self, r: &mut Reader<'_>, len: u64) -> Result<(), DecodeErrorKind> {
        let n = self.check_len(len)?;
        let bytes = r.take(n)?;
        let s = match std::str::from_utf8(bytes) {
            Ok(s) => s.to_owned(),
            Err(_) => text::utf8_surrogatepass(bytes)?,
        };
        self.push_node(Node::Str(s))
    }

    /// A protocol 0/1 py2 string: decoded as ASCII like CPython 3's default
    /// `encoding='ASCII'`; non-ASCII is an error, as it is in CPython.
    fn push_py2_string(&mut self, r: &mut Reader<'_>, len: u64) -> Result<(), DecodeErrorKind> {
        let n = self.check_len(len)?;
        let bytes = r.take(n)?;
        match std::str::from_utf8(bytes) {
            Ok(s) if s.is_ascii() => self.push_node(Node::Str(s.to_owned())),
            _ => Err(DecodeErrorKind::NonAsciiString),
        }
    }

    fn push_bytes(
        &mut self,
        r: &mut Reader<'_>,
        len: u64,
        array: bool,
    ) -> Result<(), DecodeErrorKind> {
        let n = self.check_len(len)?;
        let start = r.pos;
        r.take(n)?;
        let blob = Blob::Input { start, len: n };
        self.push_node(if array {
            Node::ByteArray(blob)
        } else {
            Node::Bytes(blob)
        })
    }

    fn text_line<'a>(&self, r: &mut Reader<'a>) -> Result<&'a [u8], DecodeErrorKind> {
        let line = r.line()?;
        self.check_len(line.len() as u64)?;
        Ok(line)
    }

    fn global_name(&self, r: &mut Reader<'_>) -> Result<String, DecodeErrorKind> {
        let module = self.text_line(r)?;
        let name = self.text_line(r)?;
        let module = std::str::from_utf8(module).map_err(|_| DecodeErrorKind::BadUtf8)?;
        let name = std::str::from_utf8(name).map_err(|_| DecodeErrorKind::BadUtf8)?;
        Ok(py3_class_name(self.proto, module, name))
    }

    fn opaque_class_of(&self, slot: Slot) -> Result<String, DecodeErrorKind> {
        match self.node(slot) {
            Some(Node::Opaque(c)) => Ok(c.clone()),
            _ => Err(DecodeErrorKind::TypeMismatch("class is not a global")),
        }
    }

    /// `REDUCE`: never calls anything. A few reductions CPython itself emits for plain data
    /// (bytes, set, frozenset and bytearray in protocols < 3/4/5) are recognised by name and
    /// rebuilt as data; anything else becomes an opaque placeholder.
    fn known_arg(&self, slot: Slot) -> Option<&Known> {
        match self.node(slot)? {
            Node::Known(k) => Some(k),
            _ => None,
        }
    }

    fn bytes_arg<'b>(&'b self, input: &'b [u8], slot: Slot) -> Option<&'b [u8]> {
        match self.node(slot)? {
            Node::Bytes(b) => Expander::blob(input, b).ok(),
            _ => None,
        }
    }

    /// The allow-listed standard-library value types (see `stdtypes`): recognised by the
    /// class name and the shape of the reduction's arguments, `None` for anything else.
    fn reduce_known(&self, input: &[u8], class: &str, args: &[Slot]) -> Option<Known> {
        let tz = |s: &Slot| match s {
            Slot::None => Some(None),
            s => self.known_arg(*s).map(Some),
        };
        match (class, args) {
            ("datetime.timedelta", [Slot::Int(d), Slot::Int(s), Slot::Int(us)]) => {
                stdtypes::timedelta(*d, *s, *us)
            }
            ("datetime.timezone", [off]) => stdtypes::timezone(self.known_arg(*off)?, None),
            ("datetime.timezone", [off, name]) => {
                stdtypes::timezone(self.known_arg(*off)?, Some(&self.str_arg(*name)?))
            }
            ("datetime.date", [b]) => stdtypes::date(self.bytes_arg(input, *b)?),
            ("datetime.time", [b]) => stdtypes::time(self.bytes_arg(input, *b)?, None),
            ("datetime.time", [b, t]) => stdtypes::time(self.bytes_arg(input, *b)?, tz(t)?),
            ("datetime.datetime", [b]) => stdtypes::datetime(self.bytes_arg(input, *b)?, None),
            ("datetime.datetime", [b, t]) => stdtypes::datetime(self.bytes_arg(input, *b)?, tz(t)?),
            ("decimal.Decimal", [s]) => stdtypes::decimal(&self.str_arg(*s)?),
            _ => None,
        }
    }

    /// `BUILD` on a `uuid.UUID` placeholder with `{'int': n, …}`: the UUID, as data.
    fn build_uuid(&self, target: Slot, state: Slot) -> Option<Known> {
        match self.node(target)? {
            Node::Opaque(c) if c == "uuid.UUID" => {}
            _ => return None,
        }
        let Some(Node::Dict(items)) = self.node(state) else {
            return None;
        };
        let mut int = None;
        for kv in items.chunks(2) {
            if let [k, v] = kv
                && self.str_arg(*k).as_deref() == Some("int")
            {
                int = match v {
                    Slot::Int(i) => u128::try_from(*i).ok(),
                    Slot::Node(_) => match self.node(*v)? {
                        Node::BigInt(s) => s.parse::<u128>().ok(),
                        _ => None,
                    },
                    _ => None,
                };
            }
        }
        int.map(stdtypes::uuid)
    }

    fn reduce(&mut self, input: &[u8], callable: Slot, args: Slot) -> Result<(), DecodeErrorKind> {
        let class = self.opaque_class_of(callable)?;
        let args: Vec<Slot> = match self.node(args) {
            Some(Node::Tuple(items)) => items.clone(),
            _ => {
                return Err(DecodeErrorKind::TypeMismatch(
                    "REDUCE arguments are not a tuple",
                ));
            }
        };
        if let Some(k) = self.reduce_known(input, &class, &args) {
            return self.push_node(Node::Known(Box::new(k)));
        }
        let data = match (class.as_str(), args.as_slice()) {
            ("_codecs.encode", [s, enc]) => {
                let enc = self.str_arg(*enc);
                match (self.str_arg(*s), enc.as_deref()) {
                    (Some(s), Some("latin1" | "latin-1")) => s
                        .chars()
                        .map(|c| u8::try_from(u32::from(c)).ok())
                        .collect::<Option<Vec<u8>>>()
                        .map(|b| Node::Bytes(Blob::Owned(b))),
                    _ => None,
                }
            }
            // Protocols 0/1 rebuild plain instances with copyreg._reconstructor(cls, base,
            // state): name the instance's class rather than the helper.
            ("copyreg._reconstructor", [cls, ..]) => match self.node(*cls) {
                Some(Node::Opaque(c)) => Some(Node::Opaque(c.clone())),
                _ => None,
            },
            ("builtins.bytes", []) => Some(Node::Bytes(Blob::Owned(Vec::new()))),
            ("builtins.bytearray", []) => Some(Node::ByteArray(Blob::Owned(Vec::new()))),
            ("builtins.bytearray", [b]) => match self.node(*b) {
                Some(Node::Bytes(Blob::Input { start, len })) => {
                    Some(Node::ByteArray(Blob::Input {
                        start: *start,
                        len: *len,
                    }))
                }
                Some(Node::Bytes(Blob::Owned(v))) => Some(Node::ByteArray(Blob::Owned(v.clone()))),
                _ => None,
            },
            ("builtins.set", []) => Some(Node::Set(Vec::new())),
            ("builtins.frozenset", []) => Some(Node::FrozenSet(Vec::new())),
            ("builtins.set" | "builtins.frozenset", [items]) => {
                let items = match self.node(*items) {
                    Some(Node::List(v) | Node::Tuple(v)) => Some(v.clone()),
                    _ => None,
                };
                items.map(|v| {
                    if class == "builtins.set" {
                        Node::Set(v)
                    } else {
                        Node::FrozenSet(v)
                    }
                })
            }
            _ => None,
        };
        self.push_node(data.unwrap_or(Node::Opaque(class)))
    }

    /// Executes one opcode; `Ok(true)` at `STOP`.
    fn step(&mut self, op: u8, r: &mut Reader<'_>, input: &[u8]) -> Result<bool, DecodeErrorKind> {
        use DecodeErrorKind as K;
        match op {
            // ---- framing / control ----
            0x80 => {
                // PROTO
                let p = r.u8()?;
                if p > 5 {
                    return Err(K::UnsupportedProtocol(p));
                }
                self.proto = p;
            }
            0x95 => {
                // FRAME: advisory only; the length must fit what is left.
                let n = u64::from_le_bytes(r.array()?);
                if n > (input.len() - r.pos) as u64 {
                    return Err(K::Truncated);
                }
            }
            b'.' => {
                // STOP
                if self.stack.len() != 1 || !self.marks.is_empty() {
                    return Err(K::BadStopStack);
                }
                return Ok(true);
            }
            b'(' => {
                // MARK
                if self.marks.len() >= self.limits.max_depth {
                    return Err(K::DepthLimit {
                        limit: self.limits.max_depth,
                    });
                }
                self.marks.push(self.stack.len());
            }
            b'0' => {
                // POP: like CPython, pops the mark itself when nothing is above it.
                if self.stack.len() > self.fence() {
                    self.stack.pop();
                } else if self.marks.pop().is_none() {
                    return Err(K::StackUnderflow);
                }
            }
            b'1' => {
                // POP_MARK
                self.pop_mark()?;
            }
            b'2' => {
                // DUP
                let t = self.top()?;
                self.shared_refs = true;
                self.push(t)?;
            }

            // ---- scalars ----
            b'N' => self.push(Slot::None)?,
            0x88 => self.push(Slot::Bool(true))?,
            0x89 => self.push(Slot::Bool(false))?,
            b'I' => {
                let line = self.text_line(r)?;
                match line {
                    b"00" => self.push(Slot::Bool(false))?,
                    b"01" => self.push(Slot::Bool(true))?,
                    _ => {
                        let v = text::parse_decimal(line, self.limits.max_long_digits, "INT")?;
                        self.push_int(v)?;
                    }
                }
            }
            b'J' => {
                let v = i32::from_le_bytes(r.array()?);
                self.push(Slot::Int(i64::from(v)))?;
            }
            b'K' => {
                let v = r.u8()?;
                self.push(Slot::Int(i64::from(v)))?;
            }
            b'M' => {
                let v = u16::from_le_bytes(r.array()?);
                self.push(Slot::Int(i64::from(v)))?;
            }
            b'L' => {
                let line = self.text_line(r)?;
                let digits = line.strip_suffix(b"L").unwrap_or(line);
                let v = text::parse_decimal(digits, self.limits.max_long_digits, "LONG")?;
                self.push_int(v)?;
            }
            0x8a | 0x8b => {
                // LONG1 / LONG4
                let n = if op == 0x8a {
                    u64::from(r.u8()?)
                } else {
                    let n = i32::from_le_bytes(r.array()?);
                    u64::try_from(n).map_err(|_| K::BadText("LONG4"))?
                };
                // Two's complement bytes: about 2.41 digits per byte.
                let max_bytes = (self.limits.max_long_digits as u64).saturating_mul(5) / 12 + 2;
                if n > max_bytes {
                    return Err(K::LongTooLong {
                        limit: self.limits.max_long_digits,
                    });
                }
                let bytes = r.take(n as usize)?;
                let v = text::from_twos_complement_le(bytes, self.limits.max_long_digits)?;
                self.push_int(v)?;
            }
            b'F' => {
                let line = self.text_line(r)?;
                let s = std::str::from_utf8(line).map_err(|_| K::BadText("FLOAT"))?;
                let v: f64 = s.parse().map_err(|_| K::BadText("FLOAT"))?;
                // Rust saturates overflow to inf where CPython raises.
                if v.is_infinite() && !s.to_ascii_lowercase().contains("inf") {
                    return Err(K::BadText("FLOAT"));
                }
                self.push(Slot::Float(v))?;
            }
            b'G' => {
                let v = f64::from_be_bytes(r.array()?);
                self.push(Slot::Float(v))?;
            }

            // ---- strings and bytes ----
            b'S' => {
                let line = self.text_line(r)?;
                let body = match line {
                    [q @ (b'\'' | b'"'), body @ .., e] if q == e => body,
                    _ => return Err(K::BadText("STRING")),
                };
                let bytes = text::unescape_bytes(body)?;
                match String::from_utf8(bytes) {
                    Ok(s) if s.is_ascii() => self.push_node(Node::Str(s))?,
                    _ => return Err(K::NonAsciiString),
                }
            }
            b'T' => {
                let n = i32::from_le_bytes(r.array()?);
                let n = u64::try_from(n).map_err(|_| K::BadText("BINSTRING"))?;
                self.push_py2_string(r, n)?;
            }
            b'U' => {
                let n = r.u8()?;
                self.push_py2_string(r, u64::from(n))?;
            }
            b'V' => {
                let line = self.text_line(r)?;
                let s = text::raw_unicode_escape(line)?;
                self.push_node(Node::Str(s))?;
            }
            b'X' => {
                let n = u32::from_le_bytes(r.array()?);
                self.push_utf8(r, u64::from(n))?;
            }
            0x8c => {
                let n = r.u8()?;
                self.push_utf8(r, u64::from(n))?;
            }
            0x8d => {
                let n = u64::from_le_bytes(r.array()?);
                self.push_utf8(r, n)?;
            }
            b'B' => {
                let n = u32::from_le_bytes(r.array()?);
                self.push_bytes(r, u64::from(n), false)?;
            }
            b'C' => {
                let n = r.u8()?;
                self.push_bytes(r, u64::from(n), false)?;
            }
            0x8e => {
                let n = u64::from_le_bytes(r.array()?);
                self.push_bytes(r, n, false)?;
            }
            0x96 => {
                let n = u64::from_le_bytes(r.array()?);
                self.push_bytes(r, n, true)?;
            }

            // ---- containers ----
            b']' => self.push_node(Node::List(Vec::new()))?,
            b')' => self.push_node(Node::Tuple(Vec::new()))?,
            b'}' => self.push_node(Node::Dict(Vec::new()))?,
            0x8f => self.push_node(Node::Set(Vec::new()))?,
            b'l' => {
                let items = self.pop_mark()?;
                self.push_node(Node::List(items))?;
            }
            b't' => {
                let items = self.pop_mark()?;
                self.push_node(Node::Tuple(items))?;
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                if self.stack.len() < self.fence() + n {
                    return Err(K::StackUnderflow);
                }
                let items = self.stack.split_off(self.stack.len() - n);
                self.push_node(Node::Tuple(items))?;
            }
            b'd' => {
                let items = self.pop_mark()?;
                if !items.len().is_multiple_of(2) {
                    return Err(K::TypeMismatch("DICT with an odd number of items"));
                }
                self.push_node(Node::Dict(items))?;
            }
            0x91 => {
                let items = self.pop_mark()?;
                self.push_node(Node::FrozenSet(items))?;
            }
            b'a' => {
                let v = self.pop()?;
                let target = self.top()?;
                match self.node_mut(target) {
                    Some(Node::List(items)) => items.push(v),
                    Some(Node::Opaque(_)) => {}
                    _ => return Err(K::TypeMismatch("APPEND target is not a list")),
                }
            }
            b'e' => {
                let (m, target) = self.mark_and_target()?;
                match target.and_then(|i| self.arena.get_mut(i)) {
                    Some(Node::List(items)) => items.extend(self.stack.drain(m..)),
                    Some(Node::Opaque(_)) => self.stack.truncate(m),
                    _ => return Err(K::TypeMismatch("APPENDS target is not a list")),
                }
            }
            b's' => {
                let v = self.pop()?;
                let k = self.pop()?;
                let target = self.top()?;
                match self.node_mut(target) {
                    Some(Node::Dict(items)) => items.extend([k, v]),
                    Some(Node::Opaque(_)) => {}
                    _ => return Err(K::TypeMismatch("SETITEM target is not a dict")),
                }
            }
            b'u' => {
                let (m, target) = self.mark_and_target()?;
                if !(self.stack.len() - m).is_multiple_of(2) {
                    return Err(K::TypeMismatch("SETITEMS with an odd number of items"));
                }
                match target.and_then(|i| self.arena.get_mut(i)) {
                    Some(Node::Dict(items)) => items.extend(self.stack.drain(m..)),
                    Some(Node::Opaque(_)) => self.stack.truncate(m),
                    _ => return Err(K::TypeMismatch("SETITEMS target is not a dict")),
                }
            }
            0x90 => {
                let (m, target) = self.mark_and_target()?;
                match target.and_then(|i| self.arena.get_mut(i)) {
                    Some(Node::Set(items)) => items.extend(self.stack.drain(m..)),
                    Some(Node::Opaque(_)) => self.stack.truncate(m),
                    _ => return Err(K::TypeMismatch("ADDITEMS target is not a set")),
                }
            }

            // ---- memo ----
            b'p' => {
                let line = self.text_line(r)?;
                let key = memo_key_text(line, "PUT")?;
                let t = self.top()?;
                self.memo_put(key, t)?;
            }
            b'q' => {
                let key = r.u8()?;
                let t = self.top()?;
                self.memo_put(u64::from(key), t)?;
            }
            b'r' => {
                let key = u32::from_le_bytes(r.array()?);
                let t = self.top()?;
                self.memo_put(u64::from(key), t)?;
            }
            0x94 => {
                let t = self.top()?;
                self.memo_put(self.memo_len as u64, t)?;
            }
            b'g' => {
                let line = self.text_line(r)?;
                let key = memo_key_text(line, "GET")?;
                self.memo_get(key)?;
            }
            b'h' => {
                let key = r.u8()?;
                self.memo_get(u64::from(key))?;
            }
            b'j' => {
                let key = u32::from_le_bytes(r.array()?);
                self.memo_get(u64::from(key))?;
            }

            // ---- objects: never resolved, only named ----
            b'c' => {
                let class = self.global_name(r)?;
                self.push_node(Node::Opaque(class))?;
            }
            0x93 => {
                // STACK_GLOBAL
                let name = self.pop()?;
                let module = self.pop()?;
                let (Some(module), Some(name)) = (self.str_arg(module), self.str_arg(name)) else {
                    return Err(K::TypeMismatch("STACK_GLOBAL operands are not strs"));
                };
                let class = py3_class_name(self.proto, &module, &name);
                self.check_len(class.len() as u64)?;
                self.push_node(Node::Opaque(class))?;
            }
            b'R' => {
                let args = self.pop()?;
                let callable = self.pop()?;
                self.reduce(input, callable, args)?;
            }
            0x81 => {
                // NEWOBJ
                let _args = self.pop()?;
                let cls = self.pop()?;
                let class = self.opaque_class_of(cls)?;
                self.push_node(Node::Opaque(class))?;
            }
            0x92 => {
                // NEWOBJ_EX
                let _kwargs = self.pop()?;
                let _args = self.pop()?;
                let cls = self.pop()?;
                let class = self.opaque_class_of(cls)?;
                self.push_node(Node::Opaque(class))?;
            }
            b'i' => {
                // INST
                let class = self.global_name(r)?;
                self.pop_mark()?;
                self.push_node(Node::Opaque(class))?;
            }
            b'o' => {
                // OBJ
                let items = self.pop_mark()?;
                let cls = *items.first().ok_or(K::StackUnderflow)?;
                let class = self.opaque_class_of(cls)?;
                self.push_node(Node::Opaque(class))?;
            }
            b'b' => {
                // BUILD: the state is discarded; the object stays opaque (or, for an
                // allow-listed value type, what it was recognised as). A `uuid.UUID`'s state
                // is its value: recognised as data.
                let state = self.pop()?;
                let t = self.top()?;
                if let Some(k) = self.build_uuid(t, state) {
                    if let Some(n) = self.node_mut(t) {
                        *n = Node::Known(Box::new(k));
                    }
                } else if !matches!(self.node(t), Some(Node::Opaque(_) | Node::Known(_))) {
                    return Err(K::TypeMismatch("BUILD target is not an object"));
                }
            }
            0x82..=0x84 => {
                // EXT1/2/4: extension registry codes are not looked up.
                let code = match op {
                    0x82 => u32::from(r.u8()?),
                    0x83 => u32::from(u16::from_le_bytes(r.array()?)),
                    _ => u32::from_le_bytes(r.array()?),
                };
                self.push_node(Node::Opaque(format!("copyreg.extension[{code}]")))?;
            }
            b'P' => {
                self.text_line(r)?;
                self.push_node(Node::Opaque("persistent_load".to_owned()))?;
            }
            b'Q' => {
                self.pop()?;
                self.push_node(Node::Opaque("persistent_load".to_owned()))?;
            }
            0x97 | 0x98 => {
                return Err(K::UnsupportedOpcode {
                    opcode: op,
                    name: opcode_name(op),
                });
            }
            other => return Err(K::UnknownOpcode(other)),
        }
        Ok(false)
    }

    // ---- expansion into owned values ----

    fn finish(&mut self, input: &[u8], mode: Mode) -> Result<Done, DecodeErrorKind> {
        let root = self.stack.pop().ok_or(DecodeErrorKind::BadStopStack)?;
        self.on_path.clear();
        self.on_path.resize(self.arena.len(), false);
        let mut ex = Expander {
            arena: &mut self.arena,
            move_strings: !self.shared_refs,
            input,
            limits: &self.limits,
            on_path: &mut self.on_path,
            nodes: 0,
            bytes: 0,
        };
        match mode {
            Mode::Value => ex.expand(root, 0).map(Done::Value),
            Mode::Record => ex.expand_record(root).map(Done::Record),
        }
    }
}

/// What `STOP` should produce.
#[derive(Clone, Copy)]
enum Mode {
    Value,
    /// A dict with str keys, expanded straight into `(String, PickleValue)` pairs.
    Record,
}

enum Done {
    Value(PickleValue),
    Record(Vec<(String, PickleValue)>),
}

fn root_node_of(slot: Slot) -> Option<u32> {
    match slot {
        Slot::Node(i) => Some(i),
        _ => None,
    }
}

fn memo_key_text(line: &[u8], what: &'static str) -> Result<u64, DecodeErrorKind> {
    if line.is_empty() || line.len() > 19 || !line.iter().all(u8::is_ascii_digit) {
        return Err(DecodeErrorKind::BadText(what));
    }
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(DecodeErrorKind::BadText(what))
}

/// The first key that appears twice, if any. Small records compare cheap fingerprints
/// pairwise (and the strings only when those match); large ones sort.
pub(crate) fn first_duplicate_key<'k>(keys: &[&'k str]) -> Option<&'k str> {
    fn fingerprint(k: &str) -> u64 {
        let b = k.as_bytes();
        let first = b.first().copied().unwrap_or(0);
        let last = b.last().copied().unwrap_or(0);
        ((b.len() as u64) << 16) | (u64::from(first) << 8) | u64::from(last)
    }
    if keys.len() <= 32 {
        let mut fps = [0u64; 32];
        for (i, &k) in keys.iter().enumerate() {
            let fp = fingerprint(k);
            for (j, &other) in fps[..i].iter().enumerate() {
                if other == fp && keys[j] == k {
                    return Some(k);
                }
            }
            fps[i] = fp;
        }
        None
    } else {
        let mut sorted = keys.to_vec();
        sorted.sort_unstable();
        sorted.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
    }
}

enum Out {
    Seq(Vec<PickleValue>),
    Map(Vec<(PickleValue, PickleValue)>, Option<PickleValue>),
}

struct Frame {
    node: u32,
    next: usize,
    out: Out,
}

struct Expander<'a> {
    arena: &'a mut [Node],
    move_strings: bool,
    input: &'a [u8],
    limits: &'a DecodeLimits,
    on_path: &'a mut [bool],
    nodes: usize,
    bytes: usize,
}

impl<'a> Expander<'a> {
    fn count(&mut self, bytes: usize) -> Result<(), DecodeErrorKind> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return Err(DecodeErrorKind::NodeLimit {
                limit: self.limits.max_nodes,
            });
        }
        self.bytes = self.bytes.saturating_add(bytes);
        if self.bytes > self.limits.max_expanded_bytes {
            return Err(DecodeErrorKind::ExpandedBytesLimit {
                limit: self.limits.max_expanded_bytes,
            });
        }
        Ok(())
    }

    fn blob<'b>(input: &'b [u8], b: &'b Blob) -> Result<&'b [u8], DecodeErrorKind> {
        match b {
            Blob::Input { start, len } => input
                .get(*start..start.saturating_add(*len))
                .ok_or(DecodeErrorKind::Truncated),
            Blob::Owned(v) => Ok(v),
        }
    }

    fn arena_node(&self, i: u32) -> Option<&Node> {
        self.arena.get(i as usize)
    }

    fn children(&self, node: u32) -> &[Slot] {
        match self.arena.get(node as usize) {
            Some(
                Node::List(v) | Node::Tuple(v) | Node::Set(v) | Node::FrozenSet(v) | Node::Dict(v),
            ) => v,
            _ => &[],
        }
    }

    /// Moves a string out when it cannot be needed again, else clones it.
    fn take_string(move_strings: bool, s: &mut String) -> String {
        if move_strings {
            std::mem::take(s)
        } else {
            s.clone()
        }
    }

    /// A leaf value, or `None` if the slot is a container (to be entered).
    fn leaf(&mut self, slot: Slot) -> Result<Option<PickleValue>, DecodeErrorKind> {
        let v = match slot {
            Slot::None => PickleValue::None,
            Slot::Bool(b) => PickleValue::Bool(b),
            Slot::Int(i) => PickleValue::Int(i),
            Slot::Float(f) => PickleValue::Float(f),
            Slot::Node(i) => {
                let move_strings = self.move_strings;
                let input = self.input;
                let (v, bytes) = match self.arena.get_mut(i as usize) {
                    Some(Node::Str(s)) => {
                        let n = s.len();
                        (PickleValue::Str(Self::take_string(move_strings, s)), n)
                    }
                    Some(Node::Bytes(b)) => {
                        let v = Self::blob(input, b)?.to_vec();
                        let n = v.len();
                        (PickleValue::Bytes(v), n)
                    }
                    Some(Node::ByteArray(b)) => {
                        let v = Self::blob(input, b)?.to_vec();
                        let n = v.len();
                        (PickleValue::ByteArray(v), n)
                    }
                    Some(Node::BigInt(s)) => {
                        let n = s.len();
                        (PickleValue::BigInt(Self::take_string(move_strings, s)), n)
                    }
                    Some(Node::Opaque(c)) => {
                        let n = c.len();
                        let class = Self::take_string(move_strings, c);
                        (PickleValue::Opaque { class }, n)
                    }
                    Some(Node::Known(k)) => {
                        let n = k.str.len() + k.repr.len();
                        let v = PickleValue::Known {
                            class: k.class.to_owned(),
                            str: k.str.clone(),
                            repr: k.repr.clone(),
                        };
                        (v, n)
                    }
                    Some(_) => return Ok(None),
                    None => return Err(DecodeErrorKind::StackUnderflow),
                };
                self.count(bytes)?;
                return Ok(Some(v));
            }
        };
        self.count(0)?;
        Ok(Some(v))
    }

    fn enter(
        &mut self,
        frames: &mut Vec<Frame>,
        node: u32,
        base_depth: usize,
    ) -> Result<(), DecodeErrorKind> {
        if base_depth + frames.len() >= self.limits.max_depth {
            return Err(DecodeErrorKind::DepthLimit {
                limit: self.limits.max_depth,
            });
        }
        let flag = self
            .on_path
            .get_mut(node as usize)
            .ok_or(DecodeErrorKind::StackUnderflow)?;
        if *flag {
            return Err(DecodeErrorKind::Cycle);
        }
        *flag = true;
        self.count(0)?;
        let n = self.children(node).len();
        let out = match self.arena.get(node as usize) {
            Some(Node::Dict(_)) => Out::Map(Vec::with_capacity(n / 2), None),
            _ => Out::Seq(Vec::with_capacity(n)),
        };
        frames.push(Frame { node, next: 0, out });
        Ok(())
    }

    /// The Python type name of a slot, without expanding it.
    fn type_name(&self, slot: Slot) -> String {
        let name = match slot {
            Slot::None => "NoneType",
            Slot::Bool(_) => "bool",
            Slot::Int(_) => "int",
            Slot::Float(_) => "float",
            Slot::Node(i) => match self.arena_node(i) {
                Some(Node::Str(_)) => "str",
                Some(Node::Bytes(_)) => "bytes",
                Some(Node::ByteArray(_)) => "bytearray",
                Some(Node::BigInt(_)) => "int",
                Some(Node::Opaque(c)) => return c.clone(),
                Some(Node::Known(k)) => k.class,
                Some(Node::List(_)) => "list",
                Some(Node::Tuple(_)) => "tuple",
                Some(Node::Set(_)) => "set",
                Some(Node::FrozenSet(_)) => "frozenset",
                Some(Node::Dict(_)) => "dict",
                None => "?",
            },
        };
        name.to_owned()
    }

    /// Expands a top-level dict whose keys must be strs into owned pairs.
    fn expand_record(&mut self, root: Slot) -> Result<Vec<(String, PickleValue)>, DecodeErrorKind> {
        let n_items = match (root, root_node_of(root).and_then(|i| self.arena_node(i))) {
            (Slot::Node(_), Some(Node::Dict(items))) => items.len(),
            _ => {
                return Err(DecodeErrorKind::NotADict {
                    found: self.type_name(root),
                });
            }
        };
        let Slot::Node(root_node) = root else {
            return Err(DecodeErrorKind::StackUnderflow);
        };
        if self.limits.max_depth == 0 {
            return Err(DecodeErrorKind::DepthLimit { limit: 0 });
        }
        self.count(0)?;
        if let Some(flag) = self.on_path.get_mut(root_node as usize) {
            *flag = true;
        }
        let mut out = Vec::with_capacity(n_items / 2);
        for i in (0..n_items).step_by(2) {
            let (Some(&k), Some(&v)) = (
                self.children(root_node).get(i),
                self.children(root_node).get(i + 1),
            ) else {
                return Err(DecodeErrorKind::StackUnderflow);
            };
            let is_str = matches!(
                root_node_of(k).and_then(|i| self.arena_node(i)),
                Some(Node::Str(_))
            );
            let key = match self.leaf(k)? {
                Some(PickleValue::Str(s)) if is_str => s,
                _ => {
                    return Err(DecodeErrorKind::NonStrKey {
                        found: if is_str {
                            "str".into()
                        } else {
                            self.type_name(k)
                        },
                    });
                }
            };
            let value = self.expand(v, 1)?;
            out.push((key, value));
        }
        Ok(out)
    }

    /// Expands one value; `base_depth` containers enclose it.
    fn expand(&mut self, root: Slot, base_depth: usize) -> Result<PickleValue, DecodeErrorKind> {
        if let Some(v) = self.leaf(root)? {
            return Ok(v);
        }
        let Slot::Node(root_node) = root else {
            return Err(DecodeErrorKind::StackUnderflow);
        };
        let mut frames: Vec<Frame> = Vec::new();
        self.enter(&mut frames, root_node, base_depth)?;
        loop {
            let Some(top) = frames.last_mut() else {
                return Err(DecodeErrorKind::StackUnderflow);
            };
            let (node, next) = (top.node, top.next);
            let child = self.children(node).get(next).copied();
            let finished = match child {
                Some(slot) => {
                    if let Some(t) = frames.last_mut() {
                        t.next += 1;
                    }
                    match self.leaf(slot)? {
                        Some(v) => v,
                        None => {
                            let Slot::Node(c) = slot else {
                                return Err(DecodeErrorKind::StackUnderflow);
                            };
                            self.enter(&mut frames, c, base_depth)?;
                            continue;
                        }
                    }
                }
                None => {
                    let Some(frame) = frames.pop() else {
                        return Err(DecodeErrorKind::StackUnderflow);
                    };
                    if let Some(flag) = self.on_path.get_mut(frame.node as usize) {
                        *flag = false;
                    }
                    let v = match (self.arena.get(frame.node as usize), frame.out) {
                        (Some(Node::List(_)), Out::Seq(v)) => PickleValue::List(v),
                        (Some(Node::Tuple(_)), Out::Seq(v)) => PickleValue::Tuple(v),
                        (Some(Node::Set(_)), Out::Seq(v)) => PickleValue::Set(v),
                        (Some(Node::FrozenSet(_)), Out::Seq(v)) => PickleValue::FrozenSet(v),
                        (Some(Node::Dict(_)), Out::Map(v, None)) => PickleValue::Dict(v),
                        _ => return Err(DecodeErrorKind::StackUnderflow),
                    };
                    if frames.is_empty() {
                        return Ok(v);
                    }
                    v
                }
            };
            // Deliver a finished child to its parent.
            let Some(parent) = frames.last_mut() else {
                return Err(DecodeErrorKind::StackUnderflow);
            };
            match &mut parent.out {
                Out::Seq(v) => v.push(finished),
                Out::Map(pairs, pending) => match pending.take() {
                    None => *pending = Some(finished),
                    Some(k) => pairs.push((k, finished)),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// After a large pickle, a reused decoder (one per connection in the receivers) gives
    /// back what that pickle made it allocate right away, keeping at most KEPT_ENTRIES of
    /// each buffer, not only once the next pickle comes.
    #[test]
    fn a_large_pickle_does_not_keep_its_buffers() {
        let limits = DecodeLimits {
            max_nodes: 200_000,
            max_memo: 100_000,
            ..DecodeLimits::default()
        };
        let kept = |d: &PickleDecoder| {
            [
                ("arena", d.arena.capacity()),
                ("stack", d.stack.capacity()),
                ("marks", d.marks.capacity()),
                ("on_path", d.on_path.capacity()),
                ("memo_sparse", d.memo_sparse.capacity()),
            ]
        };
        let check = |d: &PickleDecoder, what: &str| {
            for (buffer, capacity) in kept(d) {
                // A hash table's capacity is 7/8 of a power of two of buckets.
                let most = if buffer == "memo_sparse" {
                    2 * KEPT_ENTRIES
                } else {
                    KEPT_ENTRIES
                };
                assert!(capacity <= most, "{what}: {buffer} keeps {capacity}");
            }
        };
        // pickle.dumps([[0] * 50_000], 1) without the memo: a list of 50 000 ints in a list.
        let mut big = b"]](".to_vec();
        for _ in 0..50_000 {
            big.extend_from_slice(b"K\x00");
        }
        big.extend_from_slice(b"ea.");
        // A list of 50 000 ints each memoized with LONG_BINPUT at keys past the dense memo.
        let mut memoized = b"](".to_vec();
        for i in 0..50_000u32 {
            big_put(&mut memoized, 2_000 + i);
        }
        memoized.extend_from_slice(b"e.");
        for (what, pickle) in [("nested list", &big), ("memo-heavy list", &memoized)] {
            let mut d = PickleDecoder::new(limits.clone());
            assert!(d.decode(pickle).is_ok(), "{what}");
            check(&d, what);
        }

        fn big_put(out: &mut Vec<u8>, key: u32) {
            out.extend_from_slice(b"K\x00r");
            out.extend_from_slice(&key.to_le_bytes());
        }
    }
}
