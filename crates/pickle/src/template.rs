//! [`RecordTemplate`]: a sender's record layout, learned once, so that the records after it
//! are read by comparing bytes instead of parsing them.
//!
//! A `SocketHandler` pickles `record.__dict__` with protocol 1, and one sender's records differ
//! only in a few values: the message, the times, an id or two. Everything else (the keys in
//! their order, the logger name, the level, the source file, the thread and process) repeats
//! byte for byte, memo indices included. A template keeps, for each key/value pair of the
//! last record that it could learn:
//!
//! * the key's exact bytes (opcode, length, text, memo `PUT`), its text, and a *tag* the
//!   caller chose for it when it was learned (the attribute it sets, say);
//! * the value's exact bytes and its decoded value.
//!
//! A record is then read by walking the template: each key must repeat its bytes; each value
//! either repeats its bytes, and the learned value is used without being parsed or validated
//! again, or it is read: a str must stay a str with the same memo `PUT` after it, a scalar
//! must stay a scalar. A value that differed once is read every time from then on (the step
//! is *volatile*: a message changes with every record, a level name almost never). Values read
//! this way are validated as UTF-8 in one call, as in the flat path. Only when the whole
//! record has matched, up to the `u.` that ends it with nothing after, are its pairs handed
//! to the visitor; anything else leaves the record to the general parser (through the flat
//! path), before any pair is visited, and the caller may then learn it as the new template.
//!
//! Why this is exact: every byte of a record that takes this path is either equal to a byte
//! of the learned record (so it decodes to what it decoded to then) or read by the same
//! functions as the flat path (`scalar`, the `BINUNICODE` reader, one UTF-8 validation). The
//! learned record passed the general parser's checks, under the limits the template is then
//! used under (and only those); what varies by record (the input's length, the read values'
//! sizes) is checked on every record; the memo layout cannot change (a str keeps its `PUT`, a scalar has none), so no key
//! can end up with a different memo index; and the keys are the learned record's, which were
//! distinct. Memo `GET`s are never learned (a `GET`'s meaning depends on other values), nor
//! anything but protocols 0-3's binary opcodes for strs and scalars.

use crate::decode::DecodeLimits;
use crate::error::DecodeError;
use crate::flat::{self, Item, MAX_ITEMS, MAX_MEMO};
use crate::value::FieldValue;
use std::sync::atomic::{AtomicU64, Ordering};

/// Generations handed out so far (see [`RecordTemplate::generation`]); 0 is never one.
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

/// After this many misses in a row, a template is learned only every [`RELEARN_EVERY`]th
/// miss: a stream whose records never repeat a layout pays the learning parse rarely.
const EAGER_RELEARNS: u32 = 4;

/// See [`EAGER_RELEARNS`].
const RELEARN_EVERY: u32 = 64;

/// Bytes of text buffer a template keeps between records. (A receiver has a template per
/// mapper, several per busy connection: what one keeps adds up.)
const TEXT_KEPT: usize = 16 * 1024;

/// Largest record a template learns (it keeps the record's bytes; a usual one is under 1 KiB,
/// one with a traceback a few KiB). Larger ones take the flat path.
const MAX_LEARNED: usize = 16 * 1024;

/// A learned value.
#[derive(Debug, Clone, PartialEq)]
enum Learned {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Box<str>),
}

impl Learned {
    fn of(item: Item, text: &str) -> Option<Learned> {
        Some(match item {
            Item::None => Learned::None,
            Item::Bool(b) => Learned::Bool(b),
            Item::Int(i) => Learned::Int(i),
            Item::Float(x) => Learned::Float(x),
            Item::Str { .. } => Learned::Str(text.into()),
            Item::Known(_) => return None,
        })
    }

    #[inline(always)]
    fn field(&self) -> FieldValue<'_> {
        match self {
            Learned::None => FieldValue::None,
            Learned::Bool(b) => FieldValue::Bool(*b),
            Learned::Int(i) => FieldValue::Int(*i),
            Learned::Float(x) => FieldValue::Float(*x),
            Learned::Str(s) => FieldValue::Str(s),
        }
    }
}

/// One key/value pair of the learned record; its bytes are ranges of
/// [`RecordTemplate::learned`].
#[derive(Debug)]
struct Step<T> {
    tag: T,
    key: Box<str>,
    /// The key's bytes: opcode, length, text and `PUT`.
    key_at: (u32, u32),
    /// The value's bytes: opcode through `PUT`.
    value_at: (u32, u32),
    /// For a str value, the length of the bytes after its text (its `PUT`, or nothing).
    put_len: u32,
    value: Learned,
    /// The value's bytes have differed once: it is read on every record.
    volatile: bool,
}

/// A part of the compiled walk over a record.
#[derive(Debug, Clone, Copy)]
enum Part {
    /// These bytes of the learned record, repeated: every key, and the values that never
    /// changed, between two volatile values.
    Same { from: u32, to: u32 },
    /// The value of this (volatile) step, read.
    Read(u32),
}

/// A learned record layout (see the module docs), with the tags a caller gave its keys.
///
/// Used through [`PickleDecoder::decode_record_tagged`](crate::PickleDecoder::decode_record_tagged),
/// which learns a template from records the general parser accepted and reads the following
/// records with it:
///
/// ```
/// use logwire_pickle::{PickleDecoder, PickleValue, RecordTemplate, encode_record_protocol1};
///
/// let record = |msg: &str| {
///     encode_record_protocol1(&[
///         ("name".to_owned(), PickleValue::Str("app.db".into())),
///         ("msg".to_owned(), PickleValue::Str(msg.into())),
///         ("levelno".to_owned(), PickleValue::Int(20)),
///     ])
///     .unwrap()
/// };
/// let mut decoder = PickleDecoder::default();
/// let mut template = RecordTemplate::default();
/// // Tags say what a key is to the caller; here, its length.
/// let mut seen = Vec::new();
/// for msg in ["connected", "query took 3 ms"] {
///     decoder
///         .decode_record_tagged(&record(msg), &mut template, str::len, |_| false, |tag, key, value| {
///             seen.push(format!("{tag} {key}={value:?}"));
///             Ok::<_, logwire_pickle::DecodeError>(())
///         })
///         .unwrap();
/// }
/// assert_eq!(seen[4], "3 msg=Str(\"query took 3 ms\")");
/// assert!(template.is_learned());
/// ```
#[derive(Debug)]
pub struct RecordTemplate<T> {
    /// The learned record's bytes (empty: nothing learned).
    learned: Vec<u8>,
    /// Bytes before the first key: `[PROTO]`, `}`, the dict's `PUT`, `(`.
    head_len: usize,
    steps: Vec<Step<T>>,
    /// The walk over a record: runs of repeated bytes and the volatile values between them.
    plan: Vec<Part>,
    /// Bytes of strs in the keys and the values that are not volatile.
    fixed_str_bytes: usize,
    /// The limits the layout was learned under, the only ones it is used under.
    limits: DecodeLimits,
    /// This record's volatile strs, each followed by `\n` (as in the flat path).
    text: Vec<u8>,
    /// This record's volatile values, in step order.
    changes: Vec<Item>,
    /// A step became volatile since the plan was compiled.
    replan: bool,
    /// Misses since the last record that matched.
    misses: u32,
    /// See [`RecordTemplate::generation`].
    generation: u64,
}

impl<T> Default for RecordTemplate<T> {
    fn default() -> Self {
        RecordTemplate {
            learned: Vec::new(),
            head_len: 0,
            steps: Vec::new(),
            plan: Vec::new(),
            fixed_str_bytes: 0,
            limits: DecodeLimits::default(),
            text: Vec::new(),
            changes: Vec::new(),
            replan: false,
            misses: 0,
            generation: 0,
        }
    }
}

/// Reads a `BINUNICODE`'s length and text at `pos` (after the opcode).
#[inline(always)]
fn str_bytes<'a>(input: &'a [u8], pos: &mut usize, max_str_len: usize) -> Option<&'a [u8]> {
    let n = u32::from_le_bytes(input.get(*pos..)?.get(..4)?.try_into().ok()?) as usize;
    if n > max_str_len {
        return None;
    }
    let bytes = input.get(*pos + 4..)?.get(..n)?;
    *pos += 4 + n;
    Some(bytes)
}

/// `bytes[at.0..at.1]`.
#[inline(always)]
fn range(bytes: &[u8], at: (u32, u32)) -> &[u8] {
    bytes.get(at.0 as usize..at.1 as usize).unwrap_or_default()
}

impl<T: Copy> RecordTemplate<T> {
    /// Whether a layout is learned (a record may match it).
    pub fn is_learned(&self) -> bool {
        !self.learned.is_empty()
    }

    /// Which learned layout this is: unique in the process for each layout learned by any
    /// template, 0 when none is. While it stays the same, the records read through the
    /// template have the same keys, and every value that is not read (see the module docs)
    /// is the learned one: a consumer that stored a record's values under this generation
    /// may keep those instead of being handed them again (see the `skip` argument of
    /// [`PickleDecoder::decode_record_tagged`](crate::PickleDecoder::decode_record_tagged)).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Forgets the learned layout.
    pub fn clear(&mut self) {
        self.generation = 0;
        self.learned.clear();
        self.steps.clear();
        self.plan.clear();
    }

    /// Reads `input` if it matches the template, handing its pairs to `visit` with their
    /// tags; `None`, before any pair is visited, if it does not (see the module docs).
    ///
    /// A pair whose value is the learned one and whose tag `skip` accepts is not visited.
    pub(crate) fn decode<E, S, F>(
        &mut self,
        input: &[u8],
        limits: &DecodeLimits,
        skip: &S,
        visit: &mut F,
    ) -> Option<Result<(), E>>
    where
        E: From<DecodeError>,
        S: Fn(T) -> bool,
        F: FnMut(T, &str, FieldValue<'_>) -> Result<(), E>,
    {
        let matched = self.is_learned()
            && self.within(input, limits)
            && (self.read_planned(input, limits).is_some() || {
                let read = self.read_steps(input, limits);
                // Values that became volatile stay so, even if the record missed later on.
                if self.replan {
                    self.compile();
                }
                read.is_some()
            });
        let result = match matched.then(|| flat::utf8(&self.text)).flatten() {
            // The volatile strs are valid UTF-8: the record is the template's.
            Some(text) => {
                self.misses = 0;
                Some(self.visit(text, skip, visit))
            }
            None => {
                self.misses = self.misses.saturating_add(1);
                None
            }
        };
        if self.text.capacity() > TEXT_KEPT {
            self.text.clear();
            self.text.shrink_to(TEXT_KEPT);
        }
        result
    }

    /// The limits that do not depend on the volatile values, for this input.
    ///
    /// A template is used only under the limits it was learned under: its learned values
    /// passed those (every str, text int and memo index, the node count), and a decoder with
    /// other limits learns its own.
    fn within(&self, input: &[u8], limits: &DecodeLimits) -> bool {
        input.len() <= limits.max_input_len
            && u32::try_from(input.len()).is_ok()
            && *limits == self.limits
    }

    /// A volatile value at `pos`, read as the step's learned kind allows: a str (with the
    /// learned `PUT` after it) into `text`, or a scalar. Adds a str's length to `expanded`.
    #[inline(always)]
    fn read_value(
        step: &Step<T>,
        learned: &[u8],
        input: &[u8],
        pos: &mut usize,
        limits: &DecodeLimits,
        text: &mut Vec<u8>,
        expanded: &mut usize,
    ) -> Option<Item> {
        let op = *input.get(*pos)?;
        *pos += 1;
        if !matches!(step.value, Learned::Str(_)) {
            return flat::scalar(op, input, pos, limits);
        }
        if op != b'X' {
            return None;
        }
        let bytes = str_bytes(input, pos, limits.max_str_len)?;
        *expanded += bytes.len();
        let item = flat::push_str(text, bytes)?;
        let put = range(learned, (step.value_at.1 - step.put_len, step.value_at.1));
        if !flat::same_bytes(input, *pos, put) {
            return None;
        }
        *pos += put.len();
        Some(item)
    }

    /// Reads `input` with the compiled plan: runs of repeated bytes, volatile values
    /// between them. `None` if any part differs (a value that changed for the first time,
    /// or another layout).
    fn read_planned(&mut self, input: &[u8], limits: &DecodeLimits) -> Option<()> {
        let RecordTemplate {
            learned,
            steps,
            plan,
            text,
            changes,
            fixed_str_bytes,
            ..
        } = self;
        text.clear();
        changes.clear();
        let mut pos = 0usize;
        let mut expanded = *fixed_str_bytes;
        for part in plan.iter() {
            match *part {
                Part::Same { from, to } => {
                    let want = range(learned, (from, to));
                    if input.get(pos..pos + want.len())? != want {
                        return None;
                    }
                    pos += want.len();
                }
                Part::Read(n) => {
                    let step = steps.get(n as usize)?;
                    let item = Self::read_value(
                        step,
                        learned,
                        input,
                        &mut pos,
                        limits,
                        text,
                        &mut expanded,
                    )?;
                    changes.push(item);
                }
            }
        }
        // The last part ends with SETITEMS and STOP: nothing may follow.
        if pos != input.len() || expanded > limits.max_expanded_bytes {
            return None;
        }
        Some(())
    }

    /// Reads `input` step by step, after the plan did not match: a value whose bytes
    /// differ from the learned ones becomes volatile (and the plan is compiled again), a
    /// key that differs or a value of another kind is a miss.
    fn read_steps(&mut self, input: &[u8], limits: &DecodeLimits) -> Option<()> {
        let RecordTemplate {
            learned,
            head_len,
            steps,
            text,
            changes,
            replan,
            ..
        } = self;
        text.clear();
        changes.clear();
        if input.get(..*head_len)? != learned.get(..*head_len)? {
            return None;
        }
        let mut pos = *head_len;
        let mut expanded = 0usize;
        for step in steps.iter_mut() {
            let key = range(learned, step.key_at);
            if !flat::same_bytes(input, pos, key) {
                return None;
            }
            pos += key.len();
            expanded += step.key.len();
            if !step.volatile && flat::same_bytes(input, pos, range(learned, step.value_at)) {
                pos += (step.value_at.1 - step.value_at.0) as usize;
                if let Learned::Str(s) = &step.value {
                    expanded += s.len();
                }
                continue;
            }
            // From now on this value is read, whatever the outcome for this record.
            *replan |= !step.volatile;
            step.volatile = true;
            let item =
                Self::read_value(step, learned, input, &mut pos, limits, text, &mut expanded)?;
            changes.push(item);
        }
        // SETITEMS, then STOP and nothing after it.
        if input.get(pos..)? != b"u." || expanded > limits.max_expanded_bytes {
            return None;
        }
        Some(())
    }

    /// The plan for the current volatile steps: the learned bytes between two volatile
    /// values are one run.
    fn compile(&mut self) {
        self.replan = false;
        self.plan.clear();
        self.fixed_str_bytes = 0;
        let mut from = 0u32;
        for (n, step) in self.steps.iter().enumerate() {
            self.fixed_str_bytes += step.key.len();
            if step.volatile {
                self.plan.push(Part::Same {
                    from,
                    to: step.value_at.0,
                });
                self.plan.push(Part::Read(n as u32));
                from = step.value_at.1;
            } else if let Learned::Str(s) = &step.value {
                self.fixed_str_bytes += s.len();
            }
        }
        self.plan.push(Part::Same {
            from,
            to: self.learned.len() as u32,
        });
    }

    /// Hands the matched record's pairs to `visit`, in order.
    fn visit<E, S, F>(&self, text: &str, skip: &S, visit: &mut F) -> Result<(), E>
    where
        E: From<DecodeError>,
        S: Fn(T) -> bool,
        F: FnMut(T, &str, FieldValue<'_>) -> Result<(), E>,
    {
        // `text` is this record's volatile strs, validated; each is followed by `\n`, so
        // every slice is whole.
        let mut changes = self.changes.iter();
        for step in &self.steps {
            let value = if step.volatile {
                match changes.next() {
                    Some(&Item::None) => FieldValue::None,
                    Some(&Item::Bool(b)) => FieldValue::Bool(b),
                    Some(&Item::Int(i)) => FieldValue::Int(i),
                    Some(&Item::Float(x)) => FieldValue::Float(x),
                    Some(&Item::Str { at, len }) => {
                        match text.get(at as usize..at as usize + len as usize) {
                            Some(s) => FieldValue::Str(s),
                            None => return Err(flat::boundary_error()),
                        }
                    }
                    Some(Item::Known(_)) | None => return Err(flat::boundary_error()),
                }
            } else if skip(step.tag) {
                continue;
            } else {
                step.value.field()
            };
            visit(step.tag, &step.key, value)?;
        }
        Ok(())
    }

    /// After a record that did not match was accepted by the general parser: learns it as
    /// the new template (eagerly after a few misses, then every [`RELEARN_EVERY`]th), if it
    /// has the layout a template can hold. `classify` gives each key its tag.
    pub(crate) fn missed<C>(&mut self, input: &[u8], limits: &DecodeLimits, classify: &mut C)
    where
        C: FnMut(&str) -> T,
    {
        // A record that cannot be learned (a memo GET, another protocol) leaves the template
        // as it was: the sender's next record may well match it again.
        if self.misses <= EAGER_RELEARNS || self.misses.is_multiple_of(RELEARN_EVERY) {
            let _ = self.learn(input, limits, classify);
        }
    }

    /// Learns `input`'s layout: `[PROTO <= 3] } [PUT] (` then key/value pairs, keys as
    /// `BINUNICODE` with or without their `PUT`, values strs like the keys or scalars, then
    /// `u .` and nothing after. The same checks and limits as the flat path.
    fn learn<C>(&mut self, input: &[u8], limits: &DecodeLimits, classify: &mut C) -> Option<()>
    where
        C: FnMut(&str) -> T,
    {
        if input.len() > limits.max_input_len.min(MAX_LEARNED) || limits.max_depth == 0 {
            return None;
        }
        let max_memo = limits.max_memo.min(MAX_MEMO);
        let max_str_len = limits.max_str_len;
        let (mut pos, mut memo) = flat::common_head(input, max_memo)?;
        let head_len = pos;
        // A str's bytes and its PUT, if any (the index due, within the memo limit).
        let put = |pos: &mut usize, memo: &mut usize| -> Option<()> {
            if let Some([b'q', k, ..]) = input.get(*pos..) {
                if usize::from(*k) != *memo || *memo >= max_memo {
                    return None;
                }
                *pos += 2;
                *memo += 1;
            }
            Some(())
        };
        let mut expanded = 0usize;
        let mut steps = Vec::new();
        loop {
            match input.get(pos) {
                Some(b'u') => break,
                Some(b'X') if 2 * (steps.len() + 1) <= MAX_ITEMS => {}
                _ => return None,
            }
            let key_start = pos;
            pos += 1;
            let key = std::str::from_utf8(str_bytes(input, &mut pos, max_str_len)?).ok()?;
            put(&mut pos, &mut memo)?;
            let value_start = pos;
            let op = *input.get(pos)?;
            pos += 1;
            let (value, put_len) = if op == b'X' {
                let s = std::str::from_utf8(str_bytes(input, &mut pos, max_str_len)?).ok()?;
                let text_end = pos;
                put(&mut pos, &mut memo)?;
                expanded += s.len();
                (Learned::Str(s.into()), pos - text_end)
            } else {
                let item = flat::scalar(op, input, &mut pos, limits)?;
                (Learned::of(item, "")?, 0)
            };
            expanded += key.len();
            steps.push(Step {
                tag: classify(key),
                key: key.into(),
                key_at: (key_start as u32, value_start as u32),
                value_at: (value_start as u32, pos as u32),
                put_len: put_len as u32,
                value,
                volatile: false,
            });
        }
        if input.get(pos..)? != b"u."
            || expanded > limits.max_expanded_bytes
            || 1 + 2 * steps.len() > limits.max_nodes
        {
            return None;
        }
        // Distinct keys: the matched records' keys are these, so this is checked once here.
        let mut keys: Vec<&str> = steps.iter().map(|s| &*s.key).collect();
        keys.sort_unstable();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return None;
        }
        self.learned.clear();
        self.learned.extend_from_slice(input);
        self.head_len = head_len;
        self.steps = steps;
        self.compile();
        self.generation = GENERATIONS.fetch_add(1, Ordering::Relaxed);
        self.limits = limits.clone();
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PickleValue;
    use crate::flat::tests::record;

    fn access(i: i64, level: &str) -> Vec<u8> {
        record(&[
            ("name", PickleValue::Str("app.http".into())),
            ("msg", PickleValue::Str(format!("request {i} é"))),
            ("levelname", PickleValue::Str(level.into())),
            ("created", PickleValue::Float(1.7e9 + i as f64)),
            ("exc_text", PickleValue::None),
            ("user_id", PickleValue::Int(i)),
        ])
    }

    /// The pairs by the template alone, or `None` when the record does not match.
    fn matched(t: &mut RecordTemplate<usize>, input: &[u8]) -> Option<Vec<String>> {
        let mut out = Vec::new();
        t.decode(
            input,
            &DecodeLimits::default(),
            &|_| false,
            &mut |tag, k: &str, v| {
                out.push(format!("{tag}:{k}={v:?}"));
                Ok::<_, DecodeError>(())
            },
        )?
        .unwrap();
        Some(out)
    }

    fn learned(input: &[u8]) -> RecordTemplate<usize> {
        let mut t = RecordTemplate::default();
        t.learn(input, &DecodeLimits::default(), &mut str::len)
            .expect("learnable");
        t
    }

    #[test]
    fn a_record_of_the_learned_layout_matches_and_its_changed_values_become_volatile() {
        let mut t = learned(&access(1, "INFO"));
        let got = matched(&mut t, &access(2, "INFO")).expect("same layout");
        assert_eq!(got[1], "3:msg=Str(\"request 2 é\")");
        assert_eq!(got[2], "9:levelname=Str(\"INFO\")");
        assert_eq!(got[5], "7:user_id=Int(2)");
        let volatile: Vec<&str> = t
            .steps
            .iter()
            .filter(|s| s.volatile)
            .map(|s| &*s.key)
            .collect();
        assert_eq!(volatile, ["msg", "created", "user_id"]);
        // A learned value that changes later is read from then on.
        let got = matched(&mut t, &access(3, "WARN")).expect("same layout");
        assert_eq!(got[2], "9:levelname=Str(\"WARN\")");
        assert!(t.steps[2].volatile);
    }

    #[test]
    fn a_change_of_kind_key_or_memo_layout_does_not_match() {
        let base = access(1, "INFO");
        let mut t = learned(&base);
        // exc_text None -> str: one more PUT, so every later memo index moves.
        let mut other = record(&[
            ("name", PickleValue::Str("app.http".into())),
            ("msg", PickleValue::Str("request 2 é".into())),
            ("levelname", PickleValue::Str("INFO".into())),
            ("created", PickleValue::Float(1.7e9)),
            ("exc_text", PickleValue::Str("Traceback".into())),
            ("user_id", PickleValue::Int(2)),
        ]);
        assert_eq!(matched(&mut t, &other), None);
        // user_id int -> str.
        other = record(&[
            ("name", PickleValue::Str("app.http".into())),
            ("msg", PickleValue::Str("request 2 é".into())),
            ("levelname", PickleValue::Str("INFO".into())),
            ("created", PickleValue::Float(1.7e9)),
            ("exc_text", PickleValue::None),
            ("user_id", PickleValue::Str("2".into())),
        ]);
        assert_eq!(matched(&mut t, &other), None);
        // Another key, a missing key, bytes after STOP.
        let renamed = record(&[
            ("name", PickleValue::Str("app.http".into())),
            ("msg", PickleValue::Str("x".into())),
            ("levelname", PickleValue::Str("INFO".into())),
            ("created", PickleValue::Float(1.7e9)),
            ("exc_text", PickleValue::None),
            ("user_Id", PickleValue::Int(2)),
        ]);
        assert_eq!(matched(&mut t, &renamed), None);
        assert_eq!(matched(&mut t, &base[..base.len() - 2]), None);
        let mut trailing = base.clone();
        trailing.push(b'.');
        assert_eq!(matched(&mut t, &trailing), None);
        // The template still reads its own layout.
        assert!(matched(&mut t, &base).is_some());
    }

    #[test]
    fn invalid_utf8_in_a_volatile_str_does_not_match() {
        let mut t = learned(&access(1, "INFO"));
        let mut bad = access(2, "INFO");
        let at = bad.windows(7).position(|w| w == b"request").unwrap();
        bad[at] = 0xff;
        assert_eq!(matched(&mut t, &bad), None);
        assert!(matched(&mut t, &access(3, "INFO")).is_some());
    }

    #[test]
    fn limits_are_checked_on_every_record() {
        let mut t = learned(&access(1, "INFO"));
        let rec = access(22, "INFO");
        let mut visit = |_: usize, _: &str, _: FieldValue<'_>| Ok::<_, DecodeError>(());
        let tight = [
            DecodeLimits {
                max_str_len: 8,
                ..DecodeLimits::default()
            },
            DecodeLimits {
                max_memo: 3,
                ..DecodeLimits::default()
            },
            DecodeLimits {
                max_nodes: 12,
                ..DecodeLimits::default()
            },
            DecodeLimits {
                max_expanded_bytes: 40,
                ..DecodeLimits::default()
            },
            DecodeLimits {
                max_input_len: rec.len() - 1,
                ..DecodeLimits::default()
            },
            DecodeLimits {
                max_depth: 0,
                ..DecodeLimits::default()
            },
        ];
        for limits in &tight {
            assert!(
                t.decode(&rec, limits, &|_| false, &mut visit).is_none(),
                "{limits:?}"
            );
        }
        assert!(
            t.decode(&rec, &DecodeLimits::default(), &|_| false, &mut visit)
                .is_some()
        );
    }

    #[test]
    fn duplicate_keys_memo_gets_and_protocol_4_are_not_learned() {
        let limits = DecodeLimits::default();
        let dup = b"}q\x00(X\x01\x00\x00\x00aq\x01K\x01X\x01\x00\x00\x00aq\x02K\x02u.";
        let get = b"}q\x00(X\x01\x00\x00\x00aq\x01h\x01u.";
        let p4 = b"\x80\x04\x95\x0f\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01a\x94K\x01u.";
        for input in [&dup[..], &get[..], &p4[..]] {
            let mut t = RecordTemplate::<usize>::default();
            assert!(t.learn(input, &limits, &mut str::len).is_none());
        }
        // A PUT that is not the index due.
        let skip = b"}q\x00(X\x01\x00\x00\x00aq\x05K\x01u.";
        let mut t = RecordTemplate::<usize>::default();
        assert!(t.learn(skip, &limits, &mut str::len).is_none());
    }

    /// A template keeps at most MAX_LEARNED bytes of a learned record and TEXT_KEPT of text
    /// after a record with a large changed value.
    #[test]
    fn a_template_keeps_no_large_buffers() {
        let limits = DecodeLimits::default();
        let big = |msg: String| {
            record(&[
                ("name", PickleValue::Str("app".into())),
                ("msg", PickleValue::Str(msg)),
            ])
        };
        let mut t = RecordTemplate::<usize>::default();
        assert!(
            t.learn(&big("x".repeat(MAX_LEARNED)), &limits, &mut str::len)
                .is_none()
        );
        let mut t = learned(&big("small".into()));
        let got = matched(&mut t, &big("y".repeat(1 << 20))).expect("same layout");
        assert_eq!(got.len(), 2);
        assert!(t.text.capacity() <= TEXT_KEPT, "{}", t.text.capacity());
        assert!(t.learned.capacity() <= MAX_LEARNED);
    }

    /// A record the template cannot hold (here a memo GET, as CPython writes when two values
    /// are one str object) does not cost the sender's usual layout its template.
    #[test]
    fn a_record_that_cannot_be_learned_keeps_the_template() {
        let limits = DecodeLimits::default();
        let mut t = learned(&access(1, "INFO"));
        let generation = t.generation();
        let get = b"}q\x00(X\x01\x00\x00\x00aq\x01h\x01u.";
        let mut visit = |_: usize, _: &str, _: FieldValue<'_>| Ok::<_, DecodeError>(());
        assert!(t.decode(get, &limits, &|_| false, &mut visit).is_none());
        t.missed(get, &limits, &mut str::len);
        assert_eq!(t.generation(), generation);
        assert!(matched(&mut t, &access(2, "INFO")).is_some());
    }

    #[test]
    fn relearning_backs_off_when_records_keep_missing() {
        let limits = DecodeLimits::default();
        let a = access(1, "INFO");
        let mut t = RecordTemplate::<usize>::default();
        let mut learns = 0;
        for _ in 0..200 {
            // Every record misses (the template is cleared); count how often it is learned.
            t.clear();
            let mut visit = |_: usize, _: &str, _: FieldValue<'_>| Ok::<_, DecodeError>(());
            assert!(t.decode(&a, &limits, &|_| false, &mut visit).is_none());
            t.missed(&a, &limits, &mut str::len);
            learns += usize::from(t.is_learned());
        }
        assert_eq!(learns, 4 + 200 / 64);
        // One match resets the backoff.
        t.learn(&a, &limits, &mut str::len).unwrap();
        let mut visit = |_: usize, _: &str, _: FieldValue<'_>| Ok::<_, DecodeError>(());
        assert!(t.decode(&a, &limits, &|_| false, &mut visit).is_some());
        assert_eq!(t.misses, 0);
    }
}
