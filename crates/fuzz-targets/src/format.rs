//! The format-string parsers (`%`, `{`, `$` styles and `msg % args`) and the strftime front end.

use logwire_engine::{
    Args, Formatter, LogRecord, MAX_WIDTH, Style, Value, format_message, gmtime, localtime,
    strftime_max_len,
};

use crate::{split_ff, take_u64};

fn args_of(flags: u8) -> Args {
    if flags & 0x10 != 0 {
        Args::Mapping(vec![
            ("a".into(), Value::Int(-7)),
            ("name".into(), Value::Str("ünï".into())),
            ("f".into(), Value::Float(1.5e300)),
        ])
    } else {
        Args::Tuple(vec![
            Value::Int(42),
            Value::Str("x\u{2028}y".into()),
            Value::Float(-1e-300),
            Value::BigInt("-123456789012345678901234567890".into()),
            Value::Bytes(b"\x00\xffz".to_vec()),
            Value::List(vec![Value::None, Value::Bool(true)]),
        ])
    }
}

/// Longest text one argument above can produce (repr of the bytes, floats' 300-odd digits).
const MAX_ARG_TEXT: usize = 512;

/// Bound on `msg % args`: every conversion is at least two bytes of `msg` and renders at most
/// a width/precision's worth of padding or digits plus the argument's own text.
fn message_bound(msg: &str) -> usize {
    msg.len() + (msg.len() / 2 + 1) * (2 * MAX_WIDTH + MAX_ARG_TEXT)
}

/// The formatter's three styles ([`Formatter::new`], [`Formatter::try_format`]) and Python's
/// `%` operator on messages ([`format_message`]).
///
/// Byte 0: style, `validate`, which args. The rest, split at `0xFF`: format string, datefmt,
/// message. Widths and precisions above [`MAX_WIDTH`] are refused, so every output is bounded
/// by the format string's length times what one field can render — no width bomb like
/// CPython's `'%0100000000d' % 1`.
pub fn format_string(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (fmt, rest) = split_ff(rest);
    let (datefmt, msg) = split_ff(rest);
    let fmt = String::from_utf8_lossy(fmt);
    let datefmt = String::from_utf8_lossy(datefmt);
    let msg = String::from_utf8_lossy(msg);
    let args = args_of(flags);

    match format_message(&msg, &args) {
        Ok(out) => assert!(
            out.len() <= message_bound(&msg),
            "msg % args gave {} bytes from {} bytes",
            out.len(),
            msg.len()
        ),
        Err(e) => assert!(e.to_string().len() <= msg.len() + 1024, "error text: {e}"),
    }

    let style = match flags % 3 {
        0 => Style::Percent,
        1 => Style::Brace,
        _ => Style::Dollar,
    };
    let validate = flags & 4 != 0;
    let datefmt = (flags & 8 != 0).then_some(&*datefmt);
    let defaults = vec![("custom".to_owned(), Value::Str("dflt".into()))];
    let Ok(formatter) = Formatter::new(Some(&fmt), datefmt, style, validate, defaults) else {
        return;
    };
    let formatter = formatter.with_utc(true);
    let mut record = LogRecord::new("app.db", 30, "/src/app/db.py", 7, msg.to_string());
    record.args = args;
    record.set_created(1_700_000_000.25);
    let message = record.get_message();
    let time_text = 4 * (1024usize).max(256 * datefmt.map_or(0, str::len)) + 16;
    let field = 2 * MAX_WIDTH + message.len() + time_text + 4096;
    let bound = fmt.len().max(16) * field;
    // The bound a content policy caps (issue 13, item 10): fixed bytes plus the record's
    // longest text (its message, `msg`, `args` shown as text, a float's ~330 digits) per copy.
    let rb = formatter.render_bound();
    let longest = message.len().max(msg.len()).max(1024);
    let policy_bound = rb.fixed + rb.record_fields * longest;
    match formatter.try_format(&record) {
        Ok(out) => {
            assert!(
                out.len() <= bound,
                "formatted {} bytes, bound {bound}",
                out.len()
            );
            assert!(
                out.len() <= policy_bound,
                "formatted {} bytes, render bound {rb:?} with record text of {longest}",
                out.len()
            );
        }
        Err(e) => assert!(
            e.to_string().len() <= fmt.len() + msg.len() + 1024,
            "error text: {e}"
        ),
    }
    let out = formatter.format(&record);
    assert!(out.len() <= bound + fmt.len() + 1024);
}

/// `time.strftime` as the formatter's `datefmt` uses it ([`strftime`](logwire_engine::strftime) on
/// [`gmtime`]/[`localtime`] tm values, and [`Formatter::format_time`]).
///
/// Bytes 0–7: the time (seconds, any i64); the rest is the format. The output follows
/// CPython's rule: at most 256 characters per format character (at least 1024), else `''`.
pub fn strftime(data: &[u8]) {
    let (secs, fmt) = take_u64(data);
    let secs = secs as i64;
    let fmt = String::from_utf8_lossy(fmt);
    let chars = fmt.chars().count();
    let mut limit = 1024usize;
    while limit < 256 * chars {
        limit *= 2;
    }
    let tz = jiff::tz::TimeZone::fixed(jiff::tz::offset(-5));
    for tm in [gmtime(secs, &tz), localtime(secs, &tz)]
        .into_iter()
        .flatten()
    {
        let out = logwire_engine::strftime(&fmt, &tm);
        assert!(
            out.chars().count() < limit,
            "strftime gave {} chars, limit {limit}",
            out.chars().count()
        );
        // The bound the content policy caps, and the refusal of what cannot render: a format
        // `check` accepts never renders empty for lack of room.
        assert!(
            out.len() <= strftime_max_len(&fmt),
            "strftime gave {} bytes, max_len {}",
            out.len(),
            strftime_max_len(&fmt)
        );
    }
    // The same through a formatter, with a timestamp that may be out of range or not finite.
    let created = f64::from_bits(secs as u64);
    if let Ok(f) = Formatter::new(
        Some("%(asctime)s"),
        Some(&fmt),
        Style::Percent,
        true,
        vec![],
    ) {
        let mut record = LogRecord::new("t", 20, "t.py", 1, "m");
        record.set_created(created);
        let text = f.format_time(&record, Some(&fmt));
        assert!(
            text.chars().count() < limit.max(64),
            "format_time gave {} chars",
            text.chars().count()
        );
        let _ = f.format(&record);
    }
    let _ = logwire_engine::DEFAULT_TIME_FORMAT;
}
