//! A per-thread cache of `asctime` texts: for each of the last few formatters used on a
//! thread, the text of the last second it rendered (without milliseconds).
//!
//! `time.strftime` has no sub-second fields, so all records of one second share that text;
//! a collector formats thousands of records per second. Per thread rather than per
//! formatter so that the hot path takes no lock and no atomic read-modify-write, and
//! threads sharing a formatter do not contend.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Formatters a thread keeps a second for at once (a collector writing one format to a
/// file and another to the console uses two).
const WAYS: usize = 4;

/// Ids start at 1: an entry with id 0 is empty.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh id for a formatter's time settings (zone, `gmtime`, `datefmt`).
pub(super) fn new_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

struct Entry {
    id: u64,
    secs: i64,
    text: String,
}

struct Cache {
    entries: [Entry; WAYS],
    /// The entry replaced next when a formatter has none.
    next: usize,
}

thread_local! {
    static CACHE: RefCell<Cache> = const {
        RefCell::new(Cache {
            entries: [const {
                Entry {
                    id: 0,
                    secs: 0,
                    text: String::new(),
                }
            }; WAYS],
            next: 0,
        })
    };
}

/// Hands `use_text` the text of second `secs` for formatter `id`, calling `render` to
/// produce it (into an empty string) when this thread does not have it.
pub(super) fn with_text<R, E>(
    id: u64,
    secs: i64,
    render: impl FnOnce(&mut String) -> Result<(), E>,
    use_text: impl FnOnce(&str) -> R,
) -> Result<R, E> {
    // Taken by whichever path runs.
    let mut render = Some(render);
    let mut use_text = Some(use_text);
    let cached = CACHE.try_with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else {
            return None;
        };
        let cache = &mut *cache;
        let slot = match cache.entries.iter().position(|e| e.id == id) {
            Some(i) if cache.entries[i].secs == secs => {
                return use_text.take().map(|f| Ok(f(&cache.entries[i].text)));
            }
            Some(i) => i,
            None => {
                let i = cache.next;
                cache.next = (i + 1) % WAYS;
                i
            }
        };
        let entry = &mut cache.entries[slot];
        // Empty until rendered: a failed render leaves no half text behind.
        entry.id = 0;
        entry.text.clear();
        if let Err(e) = render.take()?(&mut entry.text) {
            return Some(Err(e));
        }
        entry.id = id;
        entry.secs = secs;
        use_text.take().map(|f| Ok(f(&entry.text)))
    });
    if let Ok(Some(result)) = cached {
        return result;
    }
    // The thread is exiting (its cache is gone), or a render used the cache itself.
    let mut text = String::new();
    if let Some(render) = render {
        render(&mut text)?;
    }
    match use_text {
        Some(f) => Ok(f(&text)),
        None => unreachable!("use_text runs last, after every way to fail"),
    }
}
