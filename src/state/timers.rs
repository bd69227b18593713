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

/// A [`Due`] packed into 16 bytes (time, user, kind from the high bits down), so that its
/// integer order is the order of the `Due` it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Packed(u128);

/// Bytes of one due-queue entry.
pub const QUEUE_ENTRY_BYTES: usize = std::mem::size_of::<Packed>();

const WAKE_BIT: u32 = 1 << 16;
const SIGN: u64 = 1 << 63;

impl Packed {
    fn pack(d: Due) -> Packed {
        let kind = match d.kind {
            DueKind::Expiry(tag) => u32::from(tag),
            DueKind::Wake(rule) => WAKE_BIT | u32::from(rule),
        };
        let at = (d.at as u64) ^ SIGN;
        Packed((u128::from(at) << 64) | (u128::from(d.user) << 32) | u128::from(kind))
    }

    fn at(self) -> i64 {
        ((self.0 >> 64) as u64 ^ SIGN) as i64
    }

    fn unpack(self) -> Due {
        let kind = self.0 as u32;
        Due {
            at: self.at(),
            user: (self.0 >> 32) as u32,
            kind: if kind & WAKE_BIT != 0 {
                DueKind::Wake(kind as u16)
            } else {
                DueKind::Expiry(kind as TagId)
            },
        }
    }
}

#[derive(Debug, Default)]
pub struct DueQueue {
    heap: BinaryHeap<Reverse<Packed>>,
}

impl DueQueue {
    pub fn push(&mut self, due: Due) {
        self.heap.push(Reverse(Packed::pack(due)));
    }

    /// The next entry due at or before `upto`.
    pub fn pop_due(&mut self, upto: i64) -> Option<Due> {
        match self.heap.peek() {
            Some(Reverse(d)) if d.at() <= upto => self.heap.pop().map(|Reverse(d)| d.unpack()),
            _ => None,
        }
    }

    pub fn peek_at(&self) -> Option<i64> {
        self.heap.peek().map(|Reverse(d)| d.at())
    }

    /// Heap bytes held.
    pub fn memory_bytes(&self) -> usize {
        self.heap.capacity() * QUEUE_ENTRY_BYTES
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
    fn packed_entries_order_as_their_dues() {
        let dues = [
            Due {
                at: -5,
                user: 9,
                kind: DueKind::Wake(3),
            },
            Due {
                at: 0,
                user: 0,
                kind: DueKind::Expiry(0),
            },
            Due {
                at: 7,
                user: 1,
                kind: DueKind::Expiry(u16::MAX as TagId),
            },
            Due {
                at: 7,
                user: 1,
                kind: DueKind::Wake(0),
            },
            Due {
                at: 7,
                user: 2,
                kind: DueKind::Expiry(1),
            },
            Due {
                at: i64::MAX,
                user: u32::MAX,
                kind: DueKind::Wake(u16::MAX),
            },
        ];
        for pair in dues.windows(2) {
            assert!(pair[0] < pair[1]);
            assert!(Packed::pack(pair[0]) < Packed::pack(pair[1]));
        }
        for d in dues {
            assert_eq!(Packed::pack(d).unpack(), d);
        }
        assert_eq!(std::mem::size_of::<Packed>(), 16);
    }

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
