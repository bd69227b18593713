//! Per-user state and the partition that owns it.
//!
//! A [`UserState`] holds what rules read: first/last seen (overall and per event type), event
//! counts over sliding windows, the order ledger, current tags, script-owned variables and the
//! user's timers. A [`Partition`] owns the users of one input partition (the whole input in file
//! mode), its event-time clock and its due queue; it is plain data, serialisable per user, and
//! moves between threads with the partition.

pub mod compact;
pub mod ledger;
pub mod lock;
pub mod origins;
mod partition;
mod prefetch;
pub mod slots;
pub mod snapshot;
pub mod store;
pub mod timers;
mod user_ids;
pub mod vars;
pub mod window;

use serde::{Deserialize, Serialize};

use crate::decode::{Body, Event, OrderStatus};
use crate::tags::TagSlot;
use prefetch::prefetch;

pub use ledger::{Ledger, OrderStats};
pub use origins::Origins;
pub use partition::{Partition, UserIndex, HOT_SHARE, MIN_HOT_USERS};
pub use slots::Slots;
pub use timers::TimerSlot;
pub use vars::{Var, VarKey};
pub use window::Windows;

/// `first_*`/`last_*` value of something never seen.
pub const NEVER_SEEN: i64 = 0;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserState {
    /// First and last event time per event type ([`NEVER_SEEN`] for a type never seen); the
    /// overall first and last seen are derived from them.
    pub first_by_type: [i64; 3],
    pub last_by_type: [i64; 3],
    /// Events applied to this user, all time.
    pub events: u32,
    pub windows: Windows,
    pub ledger: Ledger,
    /// Sorted by tag id.
    pub tags: Slots<TagSlot>,
    /// The events that set the held tags.
    pub origins: Origins,
    #[serde(with = "named_vars")]
    pub vars: Slots<(VarKey, Var)>,
    pub timers: Slots<TimerSlot>,
}

impl UserState {
    /// Folds an event into the aggregates. `now` is the clock after the event moved it.
    pub fn observe(&mut self, event: &Event, now: i64) {
        let ts = event.ts;
        let kind = event.event_type().index();
        let first = &mut self.first_by_type[kind];
        *first = if *first == NEVER_SEEN {
            ts
        } else {
            (*first).min(ts)
        };
        self.last_by_type[kind] = self.last_by_type[kind].max(ts);
        self.events = self.events.saturating_add(1);
        self.windows.record(event.event_type(), ts, now);
        if let Body::Order {
            order_id,
            amount,
            status,
            promo,
            ..
        } = &event.body
        {
            self.ledger.prune(now);
            self.ledger
                .apply(order_id, ts, *amount, *status == OrderStatus::Paid, *promo);
        }
    }

    /// Time of the user's first event ([`NEVER_SEEN`] before any).
    pub fn first_seen(&self) -> i64 {
        self.first_by_type
            .iter()
            .copied()
            .filter(|t| *t != NEVER_SEEN)
            .min()
            .unwrap_or(NEVER_SEEN)
    }

    /// Time of the user's latest event ([`NEVER_SEEN`] before any).
    pub fn last_seen(&self) -> i64 {
        self.last_by_type
            .iter()
            .copied()
            .max()
            .unwrap_or(NEVER_SEEN)
    }

    pub fn var(&self, key: VarKey) -> Option<&Var> {
        self.vars.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    pub fn set_var(&mut self, key: VarKey, value: Var) {
        match self.vars.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.vars.push((key, value)),
        }
    }

    pub fn remove_var(&mut self, key: VarKey) {
        self.vars.retain(|(k, _)| *k != key);
    }

    /// Asks for the struct's cache lines ahead of use ([`prefetch`]).
    pub fn prefetch_struct(&self) {
        let start = (self as *const UserState).cast::<u8>();
        for line in (0..std::mem::size_of::<UserState>()).step_by(64) {
            prefetch(start.wrapping_add(line));
        }
    }

    /// Asks for the first cache line of each non-empty list ahead of use ([`prefetch`]).
    pub fn prefetch_lists(&self) {
        self.windows.prefetch();
        self.ledger.prefetch();
        prefetch_first(&self.tags);
        self.origins.prefetch();
        prefetch_first(&self.vars);
        prefetch_first(&self.timers);
    }

    /// The bytes this user holds on the heap (not the struct itself), spare capacity included.
    pub fn heap_bytes(&self) -> usize {
        let mut m = MemoryUse::default();
        self.add_heap_bytes(&mut m);
        m.total()
    }

    /// Adds the bytes this user holds on the heap (not the struct itself) to `m`.
    pub fn add_heap_bytes(&self, m: &mut MemoryUse) {
        let var_heap: usize = self
            .vars
            .iter()
            .map(|(_, v)| match v {
                Var::Str(s) => s.len(),
                Var::Hits(h) => h.len() * 8,
                _ => 0,
            })
            .sum();
        m.windows += self.windows.heap_bytes();
        m.ledger += self.ledger.heap_bytes();
        m.tags += self.tags.heap_bytes() + self.origins.heap_bytes();
        m.vars += self.vars.heap_bytes() + var_heap;
        m.timers += self.timers.heap_bytes();
    }
}

/// Asks for the first cache line of a non-empty list.
pub(crate) fn prefetch_first<T>(list: &[T]) {
    if let Some(first) = list.first() {
        prefetch(first);
    }
}

/// Approximate bytes of partition state, by part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryUse {
    /// Per-user structs.
    pub fixed: usize,
    /// User ids: their text and their index.
    pub ids: usize,
    pub windows: usize,
    pub ledger: usize,
    pub tags: usize,
    pub vars: usize,
    pub timers: usize,
    /// Due-queue entries.
    pub queue: usize,
    /// All of the above for the median user alone (not part of the total): the typical user,
    /// where the mean is pulled up by the few very active ones.
    pub median_user: usize,
}

impl std::ops::AddAssign for MemoryUse {
    fn add_assign(&mut self, o: MemoryUse) {
        self.fixed += o.fixed;
        self.ids += o.ids;
        self.windows += o.windows;
        self.ledger += o.ledger;
        self.tags += o.tags;
        self.vars += o.vars;
        self.timers += o.timers;
        self.queue += o.queue;
    }
}

impl MemoryUse {
    pub fn total(&self) -> usize {
        self.fixed
            + self.ids
            + self.windows
            + self.ledger
            + self.tags
            + self.vars
            + self.timers
            + self.queue
    }

    /// `(part, bytes)` in display order.
    pub fn parts(&self) -> [(&'static str, usize); 8] {
        [
            ("fixed", self.fixed),
            ("ids", self.ids),
            ("windows", self.windows),
            ("ledger", self.ledger),
            ("tags", self.tags),
            ("vars", self.vars),
            ("timers", self.timers),
            ("queue", self.queue),
        ]
    }
}

/// Serialises variables by name, since keys are only meaningful inside one process.
mod named_vars {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::vars::{intern, with_names};
    use super::{Slots, Var, VarKey};

    /// A sequence of `(name, value)` pairs, the names read in place.
    pub fn serialize<S: Serializer>(vars: &[(VarKey, Var)], s: S) -> Result<S::Ok, S::Error> {
        with_names(|names| s.collect_seq(vars.iter().map(|(k, v)| (&*names[usize::from(*k)], v))))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Slots<(VarKey, Var)>, D::Error> {
        let named: Vec<(String, Var)> = Vec::deserialize(d)?;
        named
            .into_iter()
            .map(|(name, v)| Ok((intern(&name).map_err(serde::de::Error::custom)?, v)))
            .collect::<Result<Vec<_>, _>>()
            .map(Slots::from)
    }
}
