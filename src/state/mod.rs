//! Per-user state and the partition that owns it.
//!
//! A [`UserState`] holds what rules read: first/last seen (overall and per event type), event
//! counts over sliding windows, the order ledger, current tags, script-owned variables and the
//! user's timers. A [`Partition`] owns the users of one input partition (the whole input in file
//! mode), its event-time clock and its due queue; it is plain data, serialisable per user, and
//! moves between threads with the partition.

pub mod ledger;
mod partition;
pub mod snapshot;
pub mod timers;
pub mod vars;
pub mod window;

use serde::{Deserialize, Serialize};

use crate::decode::{Body, Event, OrderStatus};
use crate::tags::TagSlot;

pub use ledger::{Ledger, OrderStats};
pub use partition::{Partition, UserIndex};
pub use timers::TimerSlot;
pub use vars::{Var, VarKey};
pub use window::Windows;

/// `first_*`/`last_*` value of something never seen.
pub const NEVER_SEEN: i64 = 0;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserState {
    pub first_seen: i64,
    pub last_seen: i64,
    pub first_by_type: [i64; 3],
    pub last_by_type: [i64; 3],
    /// Events applied to this user, all time.
    pub events: u32,
    pub windows: Windows,
    pub ledger: Ledger,
    /// Sorted by tag id.
    pub tags: Vec<TagSlot>,
    #[serde(with = "named_vars")]
    pub vars: Vec<(VarKey, Var)>,
    pub timers: Vec<TimerSlot>,
}

impl UserState {
    /// Folds an event into the aggregates. `now` is the clock after the event moved it.
    pub fn observe(&mut self, event: &Event, now: i64) {
        let ts = event.ts;
        let kind = event.event_type().index();
        if self.events == 0 {
            self.first_seen = ts;
            self.last_seen = ts;
        }
        self.first_seen = self.first_seen.min(ts);
        self.last_seen = self.last_seen.max(ts);
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

    /// Gives back spare capacity, so a user costs what it holds: a step that grew a vector by
    /// one element would otherwise leave it with room for four.
    pub fn compact(&mut self) {
        fn fit<T>(v: &mut Vec<T>) {
            if v.capacity() > v.len() {
                v.shrink_to_fit();
            }
        }
        fit(&mut self.tags);
        fit(&mut self.vars);
        fit(&mut self.timers);
        self.ledger.compact();
        self.windows.compact();
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
        m.tags += self.tags.capacity() * std::mem::size_of::<TagSlot>();
        m.vars += self.vars.capacity() * std::mem::size_of::<(VarKey, Var)>() + var_heap;
        m.timers += self.timers.capacity() * std::mem::size_of::<TimerSlot>();
    }
}

/// Approximate bytes of partition state, by part.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryUse {
    /// Per-user structs, id handles and index entries.
    pub fixed: usize,
    /// User id strings.
    pub ids: usize,
    pub windows: usize,
    pub ledger: usize,
    pub tags: usize,
    pub vars: usize,
    pub timers: usize,
    /// Due-queue entries.
    pub queue: usize,
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
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::vars::{intern, name_of};
    use super::{Var, VarKey};

    pub fn serialize<S: Serializer>(vars: &[(VarKey, Var)], s: S) -> Result<S::Ok, S::Error> {
        let named: Vec<(Box<str>, &Var)> = vars.iter().map(|(k, v)| (name_of(*k), v)).collect();
        named.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(VarKey, Var)>, D::Error> {
        let named: Vec<(String, Var)> = Vec::deserialize(d)?;
        named
            .into_iter()
            .map(|(name, v)| Ok((intern(&name).map_err(serde::de::Error::custom)?, v)))
            .collect()
    }
}
