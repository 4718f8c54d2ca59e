//! Connection slots of the config listener: who gets served when connections outnumber them.
//!
//! A connection that has sent nothing yet costs an attacker nothing to hold open, and 300 of
//! them used to hold all 64 slots for the whole header deadline, so a real push was closed
//! unanswered. Now, when every slot is taken:
//!
//! 1. a newcomer **sheds the oldest connection that has sent nothing** (no byte of its
//!    length prefix yet; for TLS, no finished handshake) whose peer is not known, and takes
//!    its slot: an idle connection loses nothing it had sent, where refusing one that is
//!    sending would lose a push;
//! 2. only when every slot holds a connection that is sending (or a known peer) is the
//!    newcomer refused (counted `refused_over_cap`);
//! 3. **peers whose credentials are known** get [`Slots::reserved`] more slots beyond the
//!    cap, which unknown peers can never take: a Unix peer (its uid comes from the kernel,
//!    `SO_PEERCRED`, and was checked against the allowed uids) from its accept, and a TLS
//!    peer once its client certificate has been verified (it was admitted as unknown to do
//!    its handshake, then cannot be shed by unknown newcomers). A known newcomer may shed the
//!    oldest idle known connection when even the reserve is full.
//!
//! A shed connection is closed at once, without a reply (it sent nothing to reply to), and
//! counted `shed_idle`. Marking a connection as sending and shedding it take the same lock,
//! so a connection is never shed after its first byte was read.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

struct Entry {
    sending: bool,
    known: bool,
    shed: Arc<Notify>,
}

#[derive(Default)]
struct Table {
    next: u64,
    /// By admission order: the first idle entry is the oldest.
    entries: BTreeMap<u64, Entry>,
    /// Entries of unknown peers (they alone are bound by the cap).
    unknown: usize,
}

/// The slot table (see the module docs).
pub(crate) struct Slots {
    table: Mutex<Table>,
    capacity: usize,
    reserved: usize,
}

/// What [`Slots::admit`] decided.
pub(crate) enum Admission {
    /// Served (perhaps in the slot of an idle connection, which was shed).
    Admitted { slot: Slot },
    /// Every slot is held by a connection that is sending or by a known peer.
    Refused,
}

impl Slots {
    /// `capacity` slots for any peer, plus [`Slots::reserved`] only known peers may use.
    pub(crate) fn new(capacity: usize) -> Arc<Slots> {
        let capacity = capacity.max(1);
        Arc::new(Slots {
            table: Mutex::new(Table::default()),
            capacity,
            reserved: Self::reserved_for(capacity),
        })
    }

    /// The slots kept for known peers: an eighth of the cap, at least one.
    pub(crate) fn reserved_for(capacity: usize) -> usize {
        (capacity / 8).max(1)
    }

    /// Slots kept for known peers.
    #[cfg(test)]
    pub(crate) fn reserved(&self) -> usize {
        self.reserved
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a newcomer would find no free slot (and would shed or be refused).
    pub(crate) fn full(&self, known: bool) -> bool {
        !self.room(&self.lock(), known)
    }

    fn room(&self, t: &Table, known: bool) -> bool {
        let total = t.entries.len();
        if known {
            total < self.capacity + self.reserved
        } else {
            t.unknown < self.capacity && total < self.capacity + self.reserved
        }
    }

    /// Admits a new connection (`known`: its peer's credentials are known now). The caller
    /// lets admitted connections read what already arrived first (see [`admit_fairly`]), so
    /// "sent nothing" means nothing had reached this host.
    pub(crate) fn admit(self: &Arc<Self>, known: bool) -> Admission {
        let mut t = self.lock();
        let room = self.room(&t, known);
        if !room {
            // The oldest idle unknown connection; for a known newcomer, else the oldest
            // idle known one.
            let victim = t
                .entries
                .iter()
                .find(|(_, e)| !e.sending && !e.known)
                .or_else(|| {
                    if known {
                        t.entries.iter().find(|(_, e)| !e.sending)
                    } else {
                        None
                    }
                })
                .map(|(&id, _)| id);
            let Some(id) = victim else {
                return Admission::Refused;
            };
            let e = t.entries.remove(&id).expect("found above");
            if !e.known {
                t.unknown -= 1;
            }
            e.shed.notify_one();
        }
        let id = t.next;
        t.next += 1;
        let notify = Arc::new(Notify::new());
        t.entries.insert(
            id,
            Entry {
                sending: false,
                known,
                shed: Arc::clone(&notify),
            },
        );
        if !known {
            t.unknown += 1;
        }
        Admission::Admitted {
            slot: Slot {
                slots: Arc::clone(self),
                id,
                shed: notify,
            },
        }
    }
}

/// [`Slots::admit`], after letting the connections already admitted read what has arrived
/// for them when the slots are full: the listener runs on one thread, so a yield runs every
/// connection task that is ready, and those with bytes waiting mark themselves sending. A
/// connection is then shed only if nothing of it had reached this host.
pub(crate) async fn admit_fairly(slots: &Arc<Slots>, known: bool) -> Admission {
    if slots.full(known) {
        tokio::task::yield_now().await;
    }
    slots.admit(known)
}

/// A connection's slot; freed when dropped.
pub(crate) struct Slot {
    slots: Arc<Slots>,
    id: u64,
    shed: Arc<Notify>,
}

impl Slot {
    /// Resolves when the slot was given to a newcomer: the connection must close.
    pub(crate) async fn shed(&self) {
        self.shed.notified().await;
    }

    /// The connection has sent its first byte: it can no longer be shed. `false` if it was
    /// shed already (it must close).
    pub(crate) fn sending(&self) -> bool {
        let mut t = self.slots.lock();
        match t.entries.get_mut(&self.id) {
            Some(e) => {
                e.sending = true;
                true
            }
            None => false,
        }
    }

    /// The peer's credentials are now known (a verified TLS client certificate): unknown
    /// newcomers can no longer shed it. `false` if it was shed already.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))] // only a TLS handshake asks
    pub(crate) fn known(&self) -> bool {
        let mut t = self.slots.lock();
        let was_unknown = match t.entries.get_mut(&self.id) {
            Some(e) => !std::mem::replace(&mut e.known, true),
            None => return false,
        };
        if was_unknown {
            t.unknown -= 1;
        }
        true
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut t = self.slots.lock();
        if let Some(e) = t.entries.remove(&self.id)
            && !e.known
        {
            t.unknown -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admitted(a: Admission) -> Slot {
        match a {
            Admission::Admitted { slot } => slot,
            Admission::Refused => panic!("refused"),
        }
    }

    #[test]
    fn idle_connections_are_shed_oldest_first_before_a_sender_is_refused() {
        let s = Slots::new(4);
        let idle: Vec<Slot> = (0..4).map(|_| admitted(s.admit(false))).collect();
        // Full of idle connections: a newcomer sheds the oldest.
        let a = admitted(s.admit(false));
        assert!(!idle[0].sending(), "the oldest was shed");
        assert!(idle[1].sending() && idle[2].sending() && idle[3].sending());
        assert!(a.sending());
        // Now every slot is sending: an unknown newcomer is refused.
        assert!(matches!(s.admit(false), Admission::Refused));
        // A known peer still gets one of the reserved slots, and so on up to the reserve.
        let known: Vec<Slot> = (0..s.reserved()).map(|_| admitted(s.admit(true))).collect();
        // Nobody was shed for them: the reserve was free.
        assert!(idle[1..].iter().all(|i| i.sending()) && a.sending());
        // An idle known connection is not shed by an unknown newcomer.
        assert!(matches!(s.admit(false), Admission::Refused));
        // A known newcomer sheds the oldest idle known one.
        let _k = admitted(s.admit(true));
        assert!(
            !known[0].sending(),
            "the oldest idle known connection was shed"
        );
    }

    #[test]
    fn a_slot_freed_by_a_closed_connection_is_reused_and_known_peers_leave_the_cap() {
        let s = Slots::new(2);
        let a = admitted(s.admit(false));
        let b = admitted(s.admit(false));
        assert!(a.sending() && b.sending());
        assert!(matches!(s.admit(false), Admission::Refused));
        // b's certificate is verified: it no longer counts against the cap of unknown peers.
        assert!(b.known());
        let c = admitted(s.admit(false));
        assert!(c.sending());
        drop(a);
        drop(c);
        let _d = admitted(s.admit(false));
        assert!(b.sending(), "a free slot was used, nobody shed");
    }
}
