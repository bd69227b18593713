//! Timers: per-user slots ("wake rule R at time T") and the partition's due queue.
//!
//! The queue is a binary heap with lazy deletion. A user's slot remembers the time of the heap
//! entry standing for it (`queued`): moving a timer later only updates the slot (the early entry,
//! when popped, re-queues at the slot's time), moving it earlier pushes a new entry. So a rule
//! that re-arms its timer on every event adds heap entries only when it moves the timer forward.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use serde::{Deserialize, Serialize};

use super::Slots;
use crate::tags::TagId;

/// A rule's pending wake-up for one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerSlot {
    pub due: i64,
    /// Time of the heap entry that stands for this slot (≤ `due`).
    pub queued: i64,
    pub rule: u16,
}

/// What falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DueKind {
    /// A tag's TTL.
    Expiry(TagId),
    /// A rule's timer.
    Wake(u16),
}

/// A heap entry; ordered by time, then user (first-seen order), then kind: deterministic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Due {
    pub at: i64,
    pub user: u32,
    pub kind: DueKind,
}

#[derive(Debug, Default)]
pub struct DueQueue {
    heap: BinaryHeap<Reverse<Due>>,
}

impl DueQueue {
    pub fn push(&mut self, due: Due) {
        self.heap.push(Reverse(due));
    }

    /// The next entry due at or before `upto`.
    pub fn pop_due(&mut self, upto: i64) -> Option<Due> {
        match self.heap.peek() {
            Some(Reverse(d)) if d.at <= upto => self.heap.pop().map(|Reverse(d)| d),
            _ => None,
        }
    }

    pub fn peek_at(&self) -> Option<i64> {
        self.heap.peek().map(|Reverse(d)| d.at)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    pub fn clear(&mut self) {
        self.heap.clear();
    }
}

/// Sets `rule`'s timer in `slots` to `due`; returns the time to push a heap entry at, if any.
pub fn set(slots: &mut Slots<TimerSlot>, rule: u16, due: i64) -> Option<i64> {
    match slots.iter_mut().find(|s| s.rule == rule) {
        Some(slot) => {
            slot.due = due;
            if due < slot.queued {
                slot.queued = due;
                Some(due)
            } else {
                None
            }
        }
        None => {
            slots.push(TimerSlot {
                due,
                queued: due,
                rule,
            });
            Some(due)
        }
    }
}

pub fn cancel(slots: &mut Slots<TimerSlot>, rule: u16) {
    if slots.iter().any(|s| s.rule == rule) {
        slots.retain(|s| s.rule != rule);
    }
}

/// What a popped wake entry at time `at` means for the user's slots.
#[derive(Debug, PartialEq, Eq)]
pub enum Popped {
    /// The timer is due now: the slot is removed; call the rule.
    Fire,
    /// The timer moved later: re-queue at this time.
    Requeue(i64),
    /// The entry no longer stands for any slot.
    Stale,
}

pub fn on_pop(slots: &mut Slots<TimerSlot>, rule: u16, at: i64) -> Popped {
    let Some(pos) = slots.iter().position(|s| s.rule == rule && s.queued == at) else {
        return Popped::Stale;
    };
    let slot = &mut slots[pos];
    if slot.due <= at {
        slots.remove(pos);
        Popped::Fire
    } else {
        slot.queued = slot.due;
        Popped::Requeue(slot.due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moving_later_requeues_and_moving_earlier_pushes() {
        let mut slots = Slots::default();
        assert_eq!(set(&mut slots, 1, 100), Some(100));
        assert_eq!(set(&mut slots, 1, 200), None);
        assert_eq!(on_pop(&mut slots, 1, 100), Popped::Requeue(200));
        assert_eq!(set(&mut slots, 1, 150), Some(150));
        assert_eq!(on_pop(&mut slots, 1, 150), Popped::Fire);
        assert_eq!(on_pop(&mut slots, 1, 200), Popped::Stale);
        assert!(slots.is_empty());
    }

    #[test]
    fn cancel_makes_entries_stale() {
        let mut slots = Slots::default();
        set(&mut slots, 2, 10);
        cancel(&mut slots, 2);
        assert_eq!(on_pop(&mut slots, 2, 10), Popped::Stale);
    }

    #[test]
    fn queue_pops_in_time_order() {
        let mut q = DueQueue::default();
        for (at, user) in [(30, 1), (10, 2), (20, 0), (10, 1)] {
            q.push(Due {
                at,
                user,
                kind: DueKind::Wake(0),
            });
        }
        let order: Vec<_> = std::iter::from_fn(|| q.pop_due(25))
            .map(|d| (d.at, d.user))
            .collect();
        assert_eq!(order, [(10, 1), (10, 2), (20, 0)]);
        assert_eq!(q.peek_at(), Some(30));
    }
}
