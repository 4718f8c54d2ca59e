//! Reuse of [`MappedRecord`]s. Records the dispatcher is done with go back to the mappers
//! to be refilled, so a warm receiver maps a record without allocating (its strings keep
//! their buffers).
//!
//! The pool keeps records apart by the template generation they were last filled under, and
//! a mapper takes those of its own template's generation first: they already hold the
//! template's learned values, which the mapper then does not store again (see
//! [`MappedRecord`]). A connection's frames are decoded by several mappers in turn (one per
//! batch in flight), so without this a mapper would mostly get records another one filled.
//! Bounded: [`POOL_RECORDS`] records over at most [`POOL_GENERATIONS`] generations, plus up
//! to [`SPARE_RECORDS`] taken aside by each mapper; records that hold much memory or nested
//! extras are freed instead of kept.

use super::{MappedRecord, Present};
use logwire_engine::{Args, LogRecord, Value};
use std::sync::Mutex;

/// Most records kept in the pool (about 1 KiB each for a usual record).
const POOL_RECORDS: usize = 4096;

/// Most generations the pool keeps apart; the records of the oldest go when a new one comes.
const POOL_GENERATIONS: usize = 32;

/// Most bytes of string buffers a kept record may hold.
const POOL_RECORD_BYTES: usize = 16 * 1024;

/// Most records a mapper takes aside from the pool at a time.
pub(super) const SPARE_RECORDS: usize = 32;

/// Spent records by the generation they were filled under (0: not through a template),
/// oldest generation first.
// Boxed: the boxes travel through the receiver's channels and are what gets reused.
#[allow(clippy::vec_box)]
struct Pool {
    lists: Vec<(u64, Vec<Box<MappedRecord>>)>,
    count: usize,
}

static SPENT: Mutex<Pool> = Mutex::new(Pool {
    lists: Vec::new(),
    count: 0,
});

#[allow(clippy::vec_box)] // the boxes are what gets reused
impl Pool {
    /// Keeps `rec`, or hands it to `freed` when the pool is full; a new generation's list
    /// may push the oldest one's records into `freed`.
    fn put(
        &mut self,
        rec: Box<MappedRecord>,
        last: &mut usize,
        freed: &mut Vec<Box<MappedRecord>>,
    ) {
        if self.count >= POOL_RECORDS || !poolable(&rec) {
            freed.push(rec);
            return;
        }
        let generation = rec.filled_by;
        if self.lists.get(*last).is_none_or(|(g, _)| *g != generation) {
            *last = match self.lists.iter().position(|(g, _)| *g == generation) {
                Some(i) => i,
                None => {
                    if self.lists.len() >= POOL_GENERATIONS {
                        let (_, old) = self.lists.remove(0);
                        self.count -= old.len();
                        freed.extend(old);
                    }
                    self.lists.push((generation, Vec::new()));
                    self.lists.len() - 1
                }
            };
        }
        if let Some((_, list)) = self.lists.get_mut(*last) {
            list.push(rec);
            self.count += 1;
        }
    }

    /// Moves up to [`SPARE_RECORDS`] records into the empty `mine`: those of `generation`
    /// (the last popped first), topped up from the other generations, oldest first.
    fn take(&mut self, generation: u64, mine: &mut Vec<Box<MappedRecord>>) {
        let own = self.lists.iter().position(|(g, _)| *g == generation);
        let own_count = own.map_or(0, |i| self.lists[i].1.len().min(SPARE_RECORDS));
        // Popped last, so taken first: the records of other generations.
        for (g, list) in &mut self.lists {
            let want = SPARE_RECORDS - own_count - mine.len();
            if want == 0 {
                break;
            }
            if *g != generation {
                let from = list.len().saturating_sub(want);
                mine.extend(list.drain(from..));
            }
        }
        if let Some((_, list)) = own.and_then(|i| self.lists.get_mut(i)) {
            let from = list.len() - own_count;
            mine.extend(list.drain(from..));
        }
        self.lists
            .retain(|(g, list)| *g == generation || !list.is_empty());
        self.count -= mine.len();
    }
}

fn poolable(rec: &LogRecord) -> bool {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::capacity);
    let mut bytes = rec.name.capacity()
        + rec.msg.capacity()
        + rec.levelname.capacity()
        + rec.pathname.capacity()
        + rec.filename.capacity()
        + rec.module.capacity()
        + opt(&rec.exc_text)
        + opt(&rec.stack_info)
        + opt(&rec.func_name)
        + opt(&rec.thread_name)
        + opt(&rec.process_name)
        + opt(&rec.task_name)
        + rec.extra.capacity() * std::mem::size_of::<(String, Value)>();
    for (k, v) in &rec.extra {
        bytes += k.capacity();
        match v {
            Value::Str(s) | Value::BigInt(s) => bytes += s.capacity(),
            Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {}
            _ => return false,
        }
    }
    bytes <= POOL_RECORD_BYTES
}

/// The process-wide pool of spent [`MappedRecord`]s that [`RecordMapper::map_reusable`]
/// refills (see the module docs of `pool`). The only public handle on the pool: a collector
/// hands records back with [`RecordPool::recycle`]; taking from the pool is the mappers' own
/// business.
///
/// [`RecordMapper::map_reusable`]: super::RecordMapper::map_reusable
#[derive(Debug)]
pub struct RecordPool(());

impl RecordPool {
    /// Hands records whose handlers have run back for reuse (the collector's dispatcher calls
    /// it once per drain, so the lock is taken once per burst). `spent` is left empty.
    #[allow(clippy::vec_box)] // the boxes are what gets reused
    pub fn recycle(spent: &mut Vec<Box<MappedRecord>>) {
        recycle(spent)
    }
}

#[allow(clippy::vec_box)] // the boxes are what gets reused
fn recycle(spent: &mut Vec<Box<MappedRecord>>) {
    let mut freed = Vec::new();
    if let Ok(mut pool) = SPENT.lock() {
        let mut last = usize::MAX;
        for rec in spent.drain(..) {
            pool.put(rec, &mut last, &mut freed);
        }
    }
    // Whatever was not kept is freed outside the lock.
    spent.clear();
    drop(freed);
}

/// A mapper's records taken aside from the pool, [`SPARE_RECORDS`] at a time, so that the
/// pool's lock (which the dispatcher takes too) is taken once per batch, not per record.
/// Given back to the pool when the mapper goes.
#[allow(clippy::vec_box)] // the boxes are what gets reused
#[derive(Debug, Default)]
pub(super) struct Spare(Vec<Box<MappedRecord>>);

impl Spare {
    /// A spent record to refill, or a new blank one: one last filled under `generation`
    /// if there is one (its unchanged values need not be stored again).
    pub(super) fn take(&mut self, generation: u64) -> Box<MappedRecord> {
        if self.0.is_empty()
            && let Ok(mut pool) = SPENT.lock()
        {
            pool.take(generation, &mut self.0);
        }
        self.0.pop().unwrap_or_else(blank_record)
    }

    /// Keeps a spent record to be taken next (the pool gets it when the stash is full, and
    /// frees it if its last fill was large: a stash of records that once held megabytes
    /// would keep them outside every budget). What the fill counted is the O(1) check (this
    /// is the dispatcher's path, once per record); a record only grows by a fill, and one
    /// that a large fill grew goes to the pool, which frees it.
    pub(super) fn give_back(&mut self, rec: Box<MappedRecord>) {
        if self.0.len() < SPARE_RECORDS && rec.counted <= POOL_RECORD_BYTES {
            self.0.push(rec);
        } else {
            recycle(&mut vec![rec]);
        }
    }
}

impl Drop for Spare {
    fn drop(&mut self) {
        recycle(&mut self.0);
    }
}

fn blank_record() -> Box<MappedRecord> {
    Box::new(MappedRecord {
        counted: 0,
        filled_by: 0,
        filled_present: Present::default(),
        record: LogRecord {
            name: String::new(),
            msg: String::new(),
            args: Args::None,
            levelname: String::new(),
            levelno: 0,
            pathname: String::new(),
            filename: String::new(),
            module: String::new(),
            exc_text: None,
            stack_info: None,
            lineno: 0,
            func_name: None,
            created: 0.0,
            msecs: 0.0,
            relative_created: 0.0,
            thread: None,
            thread_name: None,
            process_name: None,
            process: None,
            task_name: None,
            extra: Vec::new(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(generation: u64) -> Box<MappedRecord> {
        let mut r = blank_record();
        r.filled_by = generation;
        r
    }

    fn pool_of(records: impl IntoIterator<Item = Box<MappedRecord>>) -> Pool {
        let mut pool = Pool {
            lists: Vec::new(),
            count: 0,
        };
        let (mut last, mut freed) = (usize::MAX, Vec::new());
        for r in records {
            pool.put(r, &mut last, &mut freed);
        }
        pool
    }

    /// A mapper gets its own generation's records first (popped first), topped up with
    /// others; the pool's count follows.
    #[test]
    fn a_mapper_gets_its_own_generations_records_first() {
        let mut pool = pool_of((0..40).map(|i| filled(1 + i % 2)));
        let mut mine = Vec::new();
        pool.take(2, &mut mine);
        assert_eq!(mine.len(), SPARE_RECORDS);
        let popped: Vec<u64> = mine.iter().rev().map(|r| r.filled_by).collect();
        assert!(popped[..20].iter().all(|&g| g == 2), "{popped:?}");
        assert!(popped[20..].iter().all(|&g| g == 1), "{popped:?}");
        assert_eq!(pool.count, 40 - SPARE_RECORDS);
        assert_eq!(
            pool.lists.iter().map(|(_, l)| l.len()).sum::<usize>(),
            pool.count
        );
    }

    /// At most POOL_RECORDS records over POOL_GENERATIONS generations; the oldest
    /// generation's records go first when a new one comes.
    #[test]
    fn the_pool_is_bounded_in_records_and_generations() {
        let mut pool = pool_of((0..POOL_RECORDS as u64 + 10).map(|i| filled(i % 3)));
        assert_eq!(pool.count, POOL_RECORDS);
        pool = pool_of((0..POOL_GENERATIONS as u64 + 5).map(filled));
        assert_eq!(pool.lists.len(), POOL_GENERATIONS);
        assert_eq!(pool.lists[0].0, 5);
        assert_eq!(pool.count, POOL_GENERATIONS);
    }
}
