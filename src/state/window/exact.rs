//! The exact log of a user's recent events (`ts << 2 | type`, sorted) and its compact form.

use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::state::compact::{Reader, Writer};
use crate::state::Slots;

/// The exact log. Pruning moves a head past what has left the window and gives the memory back
/// only once that is an eighth of the list, or before the list would grow its allocation: a
/// very active user drops an entry at nearly every event, and dropping each at once moved the
/// whole log (thousands of entries) every time.
/// Everything outside — counts, the compact form, saved state, equality — sees only the entries
/// from the head on.
///
/// The live entries of each type are counted as they come and go, so that a count over most of
/// the log (the common case: the log holds the window it is counted over) looks only at the
/// entries outside what is counted.
#[derive(Debug, Clone, Default)]
pub(super) struct Log {
    entries: Slots<u64>,
    head: usize,
    /// Live entries by type (`entry & 3`).
    kinds: [u32; 4],
}

impl Deref for Log {
    type Target = [u64];

    fn deref(&self) -> &[u64] {
        &self.entries[self.head..]
    }
}

impl PartialEq for Log {
    fn eq(&self, other: &Log) -> bool {
        **self == **other
    }
}

/// The log written as varints: each entry's difference from the one before.
const VARINTS: u64 = 0;
/// The log written in groups (see [`Log::encode`]).
const GROUPED: u64 = 1;

/// Entries a decoded log has room for beyond its own: the event the user was decoded for, and
/// a few more.
const ROOM: usize = 4;

/// Entries by type (`entry & 3`).
fn kinds_of(entries: &[u64]) -> [u32; 4] {
    let mut kinds = [0_u32; 4];
    for e in entries {
        kinds[(e & 3) as usize] += 1;
    }
    kinds
}

impl Log {
    /// A log holding `entries` (sorted).
    pub(super) fn from_entries(entries: Slots<u64>) -> Log {
        Log {
            kinds: kinds_of(&entries),
            entries,
            head: 0,
        }
    }

    pub(super) fn insert(&mut self, at: usize, entry: u64) {
        // Give the dead entries back rather than grow the allocation past what the live ones
        // need.
        if self.head > 0 && self.entries.len() == self.entries.capacity() {
            self.give_back();
        }
        self.entries.insert(self.head + at, entry);
        self.kinds[(entry & 3) as usize] += 1;
    }

    /// Live entries of type `kind` (`entry & 3`).
    pub(super) fn of_kind(&self, kind: usize) -> u32 {
        self.kinds[kind]
    }

    /// Drops the first `n` live entries.
    pub(super) fn drop_front(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        for (k, dropped) in kinds_of(&self[..n]).into_iter().enumerate() {
            self.kinds[k] -= dropped;
        }
        self.head += n;
        if self.head * 8 >= self.entries.len() {
            self.give_back();
        }
    }

    /// Removes the dead entries before the head.
    fn give_back(&mut self) {
        self.entries.drop_front(self.head);
        self.head = 0;
    }

    fn refill(&mut self, items: impl ExactSizeIterator<Item = u64>) {
        self.head = 0;
        self.entries.refill_with_room(items, ROOM);
        self.kinds = kinds_of(&self.entries);
    }

    /// The allocation's room, in entries (for tests of when it grows).
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.entries.capacity()
    }

    /// Dead entries and all, for tests of when they are given back.
    #[cfg(test)]
    pub(super) fn held(&self) -> (usize, usize) {
        (self.head, self.entries.len())
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.entries.heap_bytes()
    }

    /// Writes the live entries: their count and form (`len << 1 | form`), the first entry as a
    /// varint, then the rest in groups of four: a byte of their lengths (2 bits each), a byte of
    /// their types (2 bits each), and for each the milliseconds since the entry before in 1–4
    /// bytes. That takes about the room of one varint per difference of the packed entries (no
    /// continuation bits, but the two bytes a group), and reading an entry is one fixed-size
    /// load instead of a loop over its bytes: a very active user has hundreds of entries, read
    /// at each of its steps while compact. A log with two entries 2^32 ms (49 days) or more
    /// apart (the window is 14 days: only state from elsewhere could) is written as varints
    /// instead.
    pub(super) fn encode(&self, w: &mut Writer) {
        let start = w.0.len();
        w.uint((self.len() as u64) << 1 | GROUPED);
        let Some((first, rest)) = self.split_first() else {
            return;
        };
        w.uint(*first);
        let mut prev = first >> 2;
        for group in rest.chunks(4) {
            let at = w.0.len();
            w.0.extend_from_slice(&[0, 0]);
            let (mut lens, mut kinds) = (0_u8, 0_u8);
            for (i, e) in group.iter().enumerate() {
                let ts = e >> 2;
                let Ok(gap) = u32::try_from(ts.wrapping_sub(prev)) else {
                    w.0.truncate(start);
                    return self.encode_varints(w);
                };
                prev = ts;
                let len = (39 - (gap | 1).leading_zeros() as usize) / 8;
                lens |= ((len - 1) as u8) << (2 * i);
                kinds |= ((e & 3) as u8) << (2 * i);
                w.low_bytes(gap, len);
            }
            w.0[at] = lens;
            w.0[at + 1] = kinds;
        }
    }

    fn encode_varints(&self, w: &mut Writer) {
        w.uint((self.len() as u64) << 1 | VARINTS);
        let mut prev = 0_u64;
        for e in self.iter() {
            w.uint(e.wrapping_sub(prev));
            prev = *e;
        }
    }

    /// Reads what [`Log::encode`] wrote into `self`, keeping its allocation.
    pub(super) fn decode_into(&mut self, r: &mut Reader) {
        let head = r.uint();
        let n = r.bounded(head >> 1);
        if head & 1 == VARINTS {
            let mut prev = 0_u64;
            self.refill((0..n).map(|_| {
                prev = prev.wrapping_add(r.uint());
                prev
            }));
            return;
        }
        let first = if n > 0 { r.uint() } else { 0 };
        let mut ts = first >> 2;
        let (mut lens, mut kinds) = (0_u8, 0_u8);
        self.refill((0..n).map(|i| {
            if i == 0 {
                return first;
            }
            let shift = 2 * ((i - 1) % 4);
            if shift == 0 {
                (lens, kinds) = (r.byte(), r.byte());
            }
            ts = ts.wrapping_add(u64::from(r.low_bytes(usize::from(lens >> shift & 3) + 1)));
            ts << 2 | u64::from(kinds >> shift & 3)
        }));
    }
}

impl Serialize for Log {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Log {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Slots::deserialize(d).map(Log::from_entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::duration::DAY_MS;

    fn log_of(entries: Vec<u64>) -> Log {
        Log::from_entries(entries.into())
    }

    /// Reads back `log`'s compact form (followed by `tail`), checking where the reader stops.
    fn read_back(log: &Log, tail: &[u8]) -> (Log, Vec<u8>) {
        let mut bytes = Vec::new();
        log.encode(&mut Writer(&mut bytes));
        let len = bytes.len();
        bytes.extend_from_slice(tail);
        let mut back = log_of(vec![1, 2, 3]);
        let mut r = Reader::new(&bytes);
        back.decode_into(&mut r);
        assert_eq!(r.pos(), len);
        bytes.truncate(len);
        (back, bytes)
    }

    /// The log in groups of four: every difference length (0 to 2^32 - 1 ms), every type,
    /// every length of the last group, with and without bytes after it; and a log whose
    /// entries lie more than 2^32 ms apart written as varints, which read back as well.
    #[test]
    fn logs_read_back_in_groups_and_as_varints() {
        let gaps: Vec<u64> = vec![
            0,
            1,
            0xff,
            0x100,
            0xffff,
            0x1_0000,
            0xff_ffff,
            0x100_0000,
            0xffff_ffff,
            3,
            0,
            60_000,
            3_600_000,
            86_400_000,
        ];
        for n in 0..=gaps.len() + 1 {
            let mut ts = 40 * DAY_MS as u64;
            let entries: Vec<u64> = (0..n)
                .map(|i| {
                    ts += gaps[i % gaps.len()];
                    ts << 2 | (i as u64 * 7 % 3)
                })
                .collect();
            let log = log_of(entries);
            for tail in [&[][..], &[0xff; 8][..]] {
                let (back, bytes) = read_back(&log, tail);
                assert_eq!(back, log, "{n} entries");
                assert_eq!(bytes[0] & 1, GROUPED as u8);
            }
        }
        let far = log_of(vec![5 << 2, (5 + (1 << 32)) << 2 | 1, (6 + (1 << 32)) << 2]);
        let (back, bytes) = read_back(&far, &[]);
        assert_eq!(back, far);
        assert_eq!(bytes[0], 3 << 1 | VARINTS as u8);
    }

    /// The groups take no more room than a varint per difference, for differences spread from
    /// a second to a day.
    #[test]
    fn grouped_logs_take_no_more_room_than_varints() {
        let mut ts = 40 * DAY_MS as u64;
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let log = log_of(
            (0..300)
                .map(|i| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    // Seconds to a day apart, spread over the orders of magnitude.
                    ts += 1000 << (seed % 17);
                    ts << 2 | (i % 3)
                })
                .collect(),
        );
        let (_, grouped) = read_back(&log, &[]);
        let mut varints = Vec::new();
        log.encode_varints(&mut Writer(&mut varints));
        assert!(
            grouped.len() <= varints.len(),
            "grouped {} B, varints {} B",
            grouped.len(),
            varints.len()
        );
    }
}
