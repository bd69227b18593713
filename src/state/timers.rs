//! Timers: per-user slots ("wake rule R at time T") and the partition's due queue.
//!
//! The queue has lazy deletion. A user's slot remembers the time of the queue entry standing for
//! it (`queued`): moving a timer later only updates the slot (the early entry, when popped,
//! re-queues at the slot's time), moving it earlier pushes a new entry. So a rule that re-arms
//! its timer on every event adds entries only when it moves the timer forward.
//!
//! Entries are kept by time span ([`SPAN_BITS`]): the span the clock is in is a binary heap,
//! later spans are unordered lists, each heaped when the clock reaches it. Most timers are days
//! away (a lifecycle stage's next change, a tag's TTL), so a push is an append and a pop sifts
//! through a heap of one span's entries, which stays in cache, where one heap of every user's
//! entries cost a cache miss at each of its levels.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

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

/// Width of a span of the due queue: 2^24 ms, about 4.7 hours.
const SPAN_BITS: u32 = 24;

fn span(at: i64) -> i64 {
    at >> SPAN_BITS
}

/// Entries of a later span are kept in chunks of this many, all of one size, so that the
/// room given back by a span heaped is taken again whole by the next ones to grow.
const CHUNK: usize = 128;

type Chunk = Box<[Packed; CHUNK]>;

/// The entries of one later span, in no order; all but the last chunk are full.
#[derive(Debug, Default)]
struct Span {
    chunks: Vec<Chunk>,
    last_len: usize,
}

#[derive(Debug)]
pub struct DueQueue {
    /// Every entry of a span up to `near_span`.
    near: BinaryHeap<Reverse<Packed>>,
    near_span: i64,
    far: BTreeMap<i64, Span>,
    /// Chunks of spans since heaped, for the next ones.
    spare: Vec<Chunk>,
    len: usize,
}

impl Default for DueQueue {
    fn default() -> DueQueue {
        DueQueue {
            near: BinaryHeap::new(),
            // Below every span: the first pop heaps the earliest one.
            near_span: i64::MIN,
            far: BTreeMap::new(),
            spare: Vec::new(),
            len: 0,
        }
    }
}

impl Span {
    fn entries(&self) -> impl Iterator<Item = &Packed> {
        let full = self.chunks.len().saturating_sub(1);
        self.chunks.iter().enumerate().flat_map(move |(i, chunk)| {
            let len = if i < full { CHUNK } else { self.last_len };
            &chunk[..len]
        })
    }
}

impl DueQueue {
    pub fn push(&mut self, due: Due) {
        let packed = Packed::pack(due);
        let at = span(due.at);
        self.len += 1;
        if at <= self.near_span {
            self.near.push(Reverse(packed));
            return;
        }
        let span = self.far.entry(at).or_default();
        if span.chunks.is_empty() || span.last_len == CHUNK {
            let chunk = self
                .spare
                .pop()
                .unwrap_or_else(|| Box::new([Packed(0); CHUNK]));
            span.chunks.push(chunk);
            span.last_len = 0;
        }
        let last = span.chunks.last_mut().expect("a chunk was just ensured");
        last[span.last_len] = packed;
        span.last_len += 1;
    }

    /// The next entry due at or before `upto`.
    pub fn pop_due(&mut self, upto: i64) -> Option<Due> {
        loop {
            // Every entry in `near` is earlier than every entry in `far`.
            if let Some(Reverse(first)) = self.near.peek() {
                if first.at() > upto {
                    return None;
                }
                self.len -= 1;
                return self.near.pop().map(|Reverse(d)| d.unpack());
            }
            let next = self.far.first_entry()?;
            if *next.key() > span(upto) {
                return None;
            }
            self.near_span = *next.key();
            let span = next.remove();
            let mut heap = std::mem::take(&mut self.near).into_vec();
            heap.extend(span.entries().copied().map(Reverse));
            self.near = BinaryHeap::from(heap);
            self.spare.extend(span.chunks);
        }
    }

    pub fn peek_at(&self) -> Option<i64> {
        match self.near.peek() {
            Some(Reverse(first)) => Some(first.at()),
            None => self
                .far
                .first_key_value()
                .and_then(|(_, span)| span.entries().min())
                .map(|d| d.at()),
        }
    }

    /// Heap bytes held: the heaped entries' room, the chunks (spare ones too), and each later
    /// span's list of chunks.
    pub fn memory_bytes(&self) -> usize {
        const SPAN_BYTES: usize = std::mem::size_of::<i64>() + std::mem::size_of::<Span>();
        let chunks: usize =
            self.spare.len() + self.far.values().map(|s| s.chunks.len()).sum::<usize>();
        let lists: usize = self
            .far
            .values()
            .map(|s| SPAN_BYTES + s.chunks.capacity() * std::mem::size_of::<Chunk>())
            .sum();
        (self.near.capacity() + chunks * CHUNK) * QUEUE_ENTRY_BYTES
            + self.spare.capacity() * std::mem::size_of::<Chunk>()
            + lists
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn clear(&mut self) {
        *self = DueQueue::default();
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

    /// Pushes and pops interleaved over many spans, late pushes into spans already heaped,
    /// and the ends of time, against a sorted list of the entries.
    #[test]
    fn queue_pops_what_a_sorted_list_would() {
        let mut q = DueQueue::default();
        let mut reference: Vec<Due> = Vec::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let span_ms = 1_i64 << SPAN_BITS;
        let mut clock = 0_i64;
        for step in 0..20_000 {
            let r = next();
            let at = match r % 8 {
                // Already due, or due within the span the clock is in.
                0 => clock - (r >> 8) as i64 % span_ms,
                1 => clock + (r >> 8) as i64 % 1000,
                // The ends of time, kept to the few that fit the reference's order.
                2 if step % 1000 == 0 => [i64::MIN, i64::MAX][(r >> 8) as usize % 2],
                _ => clock + (r >> 8) as i64 % (200 * span_ms),
            };
            let due = Due {
                at,
                user: (r >> 40) as u32 % 50,
                kind: if r & 16 == 0 {
                    DueKind::Wake((r >> 20) as u16 % 3)
                } else {
                    DueKind::Expiry((r >> 20) as TagId % 3)
                },
            };
            q.push(due);
            reference.push(due);
            assert_eq!(q.len(), reference.len());
            if next() % 3 == 0 {
                clock += (next() % (3 * span_ms as u64)) as i64;
                reference.sort_unstable_by(|a, b| b.cmp(a));
                while reference.last().is_some_and(|d| d.at <= clock) {
                    assert_eq!(q.pop_due(clock), reference.pop());
                }
                assert_eq!(q.pop_due(clock), None);
                assert_eq!(q.peek_at(), reference.last().map(|d| d.at));
            }
        }
        reference.sort_unstable_by(|a, b| b.cmp(a));
        while let Some(d) = reference.pop() {
            assert_eq!(q.pop_due(i64::MAX), Some(d));
        }
        assert!(q.is_empty());
        assert_eq!(q.pop_due(i64::MAX), None);
    }

    #[test]
    fn a_span_of_many_chunks_pops_in_order_and_gives_its_chunks_back() {
        let mut q = DueQueue::default();
        let later = 5 << SPAN_BITS;
        let n = 3 * CHUNK as i64 + 7;
        for i in (0..n).rev() {
            q.push(Due {
                at: later + i,
                user: 0,
                kind: DueKind::Wake(0),
            });
        }
        assert_eq!(q.peek_at(), Some(later));
        assert_eq!(q.pop_due(later - 1), None);
        for i in 0..n {
            assert_eq!(q.pop_due(later + n).map(|d| d.at), Some(later + i));
        }
        assert_eq!(q.spare.len(), 4);
        assert!(q.is_empty());
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
