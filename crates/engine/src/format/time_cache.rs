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
/// file and another to the console uses two). More formatters used in turn on one thread
/// evict each other (round robin), and then every record renders its second again: slower,
/// never wrong.
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

/// Longest text a thread keeps. A usual `asctime` is about 20 bytes; a `datefmt` from a
/// config may render far more (`%999Y` repeated), and such text is rendered every time
/// rather than kept by every thread after its formatter is gone.
const MAX_KEPT: usize = 256;

/// Appends to `out` the text of second `secs` for formatter `id`, calling `render` to
/// produce it (into an empty string) when this thread does not have it. On an error,
/// nothing is appended.
pub(super) fn append_text<E>(
    id: u64,
    secs: i64,
    render: impl FnOnce(&mut String) -> Result<(), E>,
    out: &mut String,
) -> Result<(), E> {
    // Taken by whichever path renders.
    let mut render = Some(render);
    let cached = CACHE.try_with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else {
            return None;
        };
        let cache = &mut *cache;
        let slot = match cache.entries.iter().position(|e| e.id == id) {
            Some(i) if cache.entries[i].secs == secs => {
                out.push_str(&cache.entries[i].text);
                return Some(Ok(()));
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
        out.push_str(&entry.text);
        if entry.text.len() <= MAX_KEPT {
            entry.id = id;
            entry.secs = secs;
        } else {
            entry.text = String::new();
        }
        Some(Ok(()))
    });
    if let Ok(Some(result)) = cached {
        return result;
    }
    // The thread is exiting (its cache is gone), or a render used the cache itself.
    let mut text = String::new();
    if let Some(render) = render {
        render(&mut text)?;
    }
    out.push_str(&text);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render_x(n: usize, calls: &mut usize) -> impl FnOnce(&mut String) -> Result<(), ()> + '_ {
        move |s: &mut String| {
            *calls += 1;
            s.push_str(&"x".repeat(n));
            Ok(())
        }
    }

    /// A usual text is rendered once per second; one longer than MAX_KEPT is rendered every
    /// time and not kept by the thread.
    #[test]
    fn only_short_texts_are_kept() {
        for (len, renders) in [(20, 1), (MAX_KEPT + 1, 3)] {
            let id = new_id();
            let mut calls = 0;
            for _ in 0..3 {
                let mut out = String::new();
                append_text(id, 7, render_x(len, &mut calls), &mut out).unwrap();
                assert_eq!(out.len(), len);
            }
            assert_eq!(calls, renders, "text of {len} bytes");
            let kept: usize =
                CACHE.with_borrow(|c| c.entries.iter().map(|e| e.text.capacity()).sum());
            assert!(kept <= WAYS * 2 * MAX_KEPT, "{kept}");
        }
    }

    /// A failed render appends nothing and leaves nothing cached.
    #[test]
    fn a_failed_render_appends_nothing() {
        let id = new_id();
        let mut out = String::from("a");
        assert!(
            append_text(
                id,
                7,
                |s| {
                    s.push_str("half");
                    Err(())
                },
                &mut out
            )
            .is_err()
        );
        assert_eq!(out, "a");
        let mut calls = 0;
        append_text(id, 7, render_x(2, &mut calls), &mut out).unwrap();
        assert_eq!((out.as_str(), calls), ("axx", 1));
    }
}
