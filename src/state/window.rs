//! Per-user event counts over sliding windows.
//!
//! Two stores: an exact log of the events of the last [`EXACT_WINDOW_MS`] (timestamp and type
//! packed in a `u64`), so short windows such as "6 chats in the last 14 d" count to the
//! millisecond; and day buckets (UTC days) kept for [`RETENTION_DAYS`], for longer windows,
//! which count whole days.

use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::compact::{Reader, Writer};
use super::Slots;
use crate::config::duration::DAY_MS;
use crate::decode::EventType;

/// Windows up to this length are counted exactly.
pub const EXACT_WINDOW_MS: i64 = 14 * DAY_MS;
/// Day buckets older than this are dropped.
pub const RETENTION_DAYS: i64 = 366;

/// Events of one UTC day, per type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayBucket {
    /// Days since the Unix epoch.
    pub day: u16,
    pub counts: [u16; 3],
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Windows {
    /// `ts_ms << 2 | type`, sorted; entries older than the exact window are pruned.
    recent: Log,
    /// Sorted by day.
    days: Slots<DayBucket>,
}

/// The exact log. Pruning moves a head past what has left the window and gives the memory back
/// only once that is an eighth of the list, or before the list would grow its allocation: a
/// very active user drops an entry at nearly every event, and dropping each at once moved the
/// whole log (thousands of entries) every time.
/// Everything outside — counts, the compact form, saved state, equality — sees only the entries
/// from the head on.
#[derive(Debug, Clone, Default)]
struct Log {
    entries: Slots<u64>,
    head: usize,
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

impl Log {
    fn insert(&mut self, at: usize, entry: u64) {
        // Give the dead entries back rather than grow the allocation past what the live ones
        // need.
        if self.head > 0 && self.entries.len() == self.entries.capacity() {
            self.give_back();
        }
        self.entries.insert(self.head + at, entry);
    }

    /// Drops the first `n` live entries.
    fn drop_front(&mut self, n: usize) {
        if n == 0 {
            return;
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

    fn refill_with_room(&mut self, items: impl ExactSizeIterator<Item = u64>, room: usize) {
        self.head = 0;
        self.entries.refill_with_room(items, room);
    }

    fn heap_bytes(&self) -> usize {
        self.entries.heap_bytes()
    }
}

impl Serialize for Log {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Log {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Slots::deserialize(d).map(|entries| Log { entries, head: 0 })
    }
}

fn pack(ts: i64, kind: EventType) -> u64 {
    ((ts.max(0) as u64) << 2) | kind.index() as u64
}

fn unpack(entry: u64) -> (i64, usize) {
    ((entry >> 2) as i64, (entry & 3) as usize)
}

fn day_of(ts: i64) -> i64 {
    ts.div_euclid(DAY_MS)
}

impl Windows {
    /// Records an event at `ts`; `now` (the clock) decides what has aged out.
    pub fn record(&mut self, kind: EventType, ts: i64, now: i64) {
        self.prune(now);
        if ts >= now - EXACT_WINDOW_MS {
            let entry = pack(ts, kind);
            // Events mostly come in time order: the common case appends.
            let at = match self.recent.last() {
                Some(last) if *last > entry => self.recent.partition_point(|e| *e <= entry),
                _ => self.recent.len(),
            };
            self.recent.insert(at, entry);
        }
        let day = day_of(ts);
        if day < day_of(now) - RETENTION_DAYS {
            return;
        }
        let day = day.clamp(0, i64::from(u16::MAX)) as u16;
        let at = self.days.partition_point(|b| b.day < day);
        if self.days.get(at).map(|b| b.day) != Some(day) {
            self.days.insert(
                at,
                DayBucket {
                    day,
                    counts: [0; 3],
                },
            );
        }
        let count = &mut self.days[at].counts[kind.index()];
        *count = count.saturating_add(1);
    }

    /// Drops what no window can see any more.
    pub fn prune(&mut self, now: i64) {
        let oldest = pack(now - EXACT_WINDOW_MS, EventType::Chat);
        let stale = self.recent.partition_point(|e| *e < oldest);
        self.recent.drop_front(stale);
        let first_day = day_of(now) - RETENTION_DAYS;
        let stale = self.days.partition_point(|b| i64::from(b.day) < first_day);
        self.days.drop_front(stale);
    }

    /// Events of `kind` with `now - from_ago <= ts <= now - to_ago` (`to_ago` = 0 for "the last
    /// `from_ago`"). Exact when `from_ago <= EXACT_WINDOW_MS`; otherwise whole UTC days.
    pub fn count_between(&self, kind: EventType, now: i64, from_ago: i64, to_ago: i64) -> i64 {
        let (lo, hi) = (now - from_ago, now - to_ago);
        if lo > hi {
            return 0;
        }
        if from_ago <= EXACT_WINDOW_MS {
            // Both ends by binary search, then a count over the entries between that the
            // compiler turns into vector instructions: the few very active users (thousands of
            // events in 14 days) are the ones counted most often.
            let kind = kind.index() as u64;
            return self
                .span(lo.max(0), hi)
                .iter()
                .filter(|e| **e & 3 == kind)
                .count() as i64;
        }
        let (lo_day, hi_day) = (day_of(lo), day_of(hi));
        self.days
            .iter()
            .filter(|b| (lo_day..=hi_day).contains(&i64::from(b.day)))
            .map(|b| i64::from(b.counts[kind.index()]))
            .sum()
    }

    /// The first time after `now` at which `count_between(kind, t, window, 0)` drops because an
    /// event leaves the window; `None` when nothing in the window will leave it (exact windows).
    pub fn next_exit(&self, kind: EventType, now: i64, window: i64) -> Option<i64> {
        self.times_in(kind, now - window, now)
            .next()
            .map(|ts| ts + window + 1)
    }

    /// The first time after `now` at which `count_between(kind, t, window, 0)` falls below `n`,
    /// with no new events; `None` when it already is below `n`. For windows longer than the
    /// exact log this is the next UTC midnight, the earliest a day bucket can leave.
    pub fn count_below_at(&self, kind: EventType, now: i64, window: i64, n: i64) -> Option<i64> {
        let count = self.count_between(kind, now, window, 0);
        if count < n.max(1) {
            return None;
        }
        if window > EXACT_WINDOW_MS {
            return Some((day_of(now) + 1) * DAY_MS);
        }
        // The count falls below n when its (count - n + 1)-th oldest event leaves the window.
        self.times_in(kind, now - window, now)
            .nth((count - n) as usize)
            .map(|ts| ts + window + 1)
    }

    /// The times of `kind`'s events with `lo <= ts <= hi`, oldest first.
    fn times_in(&self, kind: EventType, lo: i64, hi: i64) -> impl Iterator<Item = i64> + '_ {
        self.span(lo, hi)
            .iter()
            .map(|e| unpack(*e))
            .filter(move |(_, k)| *k == kind.index())
            .map(|(ts, _)| ts)
    }

    /// The entries of the exact log with `lo <= ts <= hi`, found by binary search (the log is
    /// sorted by time).
    fn span(&self, lo: i64, hi: i64) -> &[u64] {
        let start = self.recent.partition_point(|e| unpack(*e).0 < lo);
        let len = self.recent[start..].partition_point(|e| unpack(*e).0 <= hi);
        &self.recent[start..start + len]
    }

    pub fn heap_bytes(&self) -> usize {
        self.recent.heap_bytes() + self.days.heap_bytes()
    }

    /// See [`super::UserState::prefetch_lists`].
    pub(super) fn prefetch(&self) {
        super::prefetch_first(&self.recent);
        super::prefetch_first(&self.days);
    }

    /// The compact form ([`super::compact`]): both lists sorted, so each entry is written as its
    /// difference from the one before; the exact log as [`encode_log`] writes it.
    pub(super) fn encode(&self, w: &mut Writer) {
        encode_log(&self.recent, w);
        w.uint(self.days.len() as u64);
        let mut prev = 0_u16;
        for b in self.days.iter() {
            w.uint(u64::from(b.day.wrapping_sub(prev)));
            prev = b.day;
            for c in b.counts {
                w.uint(u64::from(c));
            }
        }
    }

    /// Reads what [`Windows::encode`] wrote into `self`, keeping its allocations.
    pub(super) fn decode_into(&mut self, r: &mut Reader) {
        let head = r.uint();
        let n = r.bounded(head >> 1);
        // Room for the event the user was decoded for, and a few more.
        let room = 4;
        if head & 1 == LOG_VARINTS {
            let mut prev = 0_u64;
            self.recent.refill_with_room(
                (0..n).map(|_| {
                    prev = prev.wrapping_add(r.uint());
                    prev
                }),
                room,
            );
        } else {
            let first = if n > 0 { r.uint() } else { 0 };
            let mut ts = first >> 2;
            let (mut lens, mut kinds) = (0_u8, 0_u8);
            self.recent.refill_with_room(
                (0..n).map(|i| {
                    if i == 0 {
                        return first;
                    }
                    let shift = 2 * ((i - 1) % 4);
                    if shift == 0 {
                        (lens, kinds) = (r.byte(), r.byte());
                    }
                    ts =
                        ts.wrapping_add(u64::from(r.low_bytes(usize::from(lens >> shift & 3) + 1)));
                    ts << 2 | u64::from(kinds >> shift & 3)
                }),
                room,
            );
        }
        let n = r.len();
        let mut prev = 0_u16;
        self.days.refill_with_room(
            (0..n).map(|_| {
                prev = prev.wrapping_add(r.uint() as u16);
                DayBucket {
                    day: prev,
                    counts: [r.uint() as u16, r.uint() as u16, r.uint() as u16],
                }
            }),
            1,
        );
    }
}

/// The exact log written as varints: each entry's difference from the one before.
const LOG_VARINTS: u64 = 0;
/// The exact log written in groups (see [`encode_log`]).
const LOG_GROUPED: u64 = 1;

/// Writes the exact log: its length and form (`len << 1 | form`), its first entry as a varint,
/// then the rest in groups of four: a byte of their lengths (2 bits each), a byte of their
/// types (2 bits each), and for each the milliseconds since the entry before in 1–4 bytes.
/// That takes about the room of one varint per difference of the packed entries (no
/// continuation bits, but the two bytes a group), and reading an entry is one fixed-size load
/// instead of a loop over its bytes: a very active user has hundreds of entries, read at each
/// of its steps while compact. A log with two entries 2^32 ms (49 days) or more apart (the
/// window is 14 days: only state from elsewhere could) is written as varints instead.
fn encode_log(log: &[u64], w: &mut Writer) {
    let start = w.0.len();
    w.uint((log.len() as u64) << 1 | LOG_GROUPED);
    let Some((first, rest)) = log.split_first() else {
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
                return encode_log_varints(log, w);
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

fn encode_log_varints(log: &[u64], w: &mut Writer) {
    w.uint((log.len() as u64) << 1 | LOG_VARINTS);
    let mut prev = 0_u64;
    for e in log {
        w.uint(e.wrapping_sub(prev));
        prev = *e;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::duration::HOUR_MS;
    use EventType::*;

    #[test]
    fn exact_windows_count_to_the_millisecond() {
        let mut w = Windows::default();
        let now = 100 * DAY_MS;
        for ts in [now - 14 * DAY_MS, now - 8 * DAY_MS, now - DAY_MS, now] {
            w.record(Chat, ts, now);
        }
        w.record(Click, now, now);
        assert_eq!(w.count_between(Chat, now, 14 * DAY_MS, 0), 4);
        assert_eq!(w.count_between(Chat, now + 1, 14 * DAY_MS, 0), 3);
        assert_eq!(w.count_between(Chat, now, 7 * DAY_MS, 0), 2);
        assert_eq!(w.count_between(Chat, now, 14 * DAY_MS, 7 * DAY_MS + 1), 2);
        assert_eq!(w.count_between(Click, now, DAY_MS, 0), 1);
        assert_eq!(w.next_exit(Chat, now, 14 * DAY_MS), Some(now + 1));
        assert_eq!(
            w.next_exit(Chat, now, 7 * DAY_MS),
            Some(now - DAY_MS + 7 * DAY_MS + 1)
        );
    }

    #[test]
    fn counts_fall_below_a_threshold_when_enough_events_leave() {
        let mut w = Windows::default();
        let now = 100 * DAY_MS;
        let window = 14 * DAY_MS;
        for ts in [now - 10 * DAY_MS, now - 5 * DAY_MS, now - DAY_MS, now] {
            w.record(Chat, ts, now);
        }
        w.record(Click, now - 9 * DAY_MS, now);
        assert_eq!(w.count_below_at(Chat, now, window, 5), None);
        let at = w.count_below_at(Chat, now, window, 3).unwrap();
        assert_eq!(at, now - 5 * DAY_MS + window + 1);
        assert_eq!(w.count_between(Chat, at - 1, window, 0), 3);
        assert_eq!(w.count_between(Chat, at, window, 0), 2);
        assert_eq!(
            w.count_below_at(Chat, now, window, 4),
            Some(now - 10 * DAY_MS + window + 1)
        );
        assert_eq!(
            w.count_below_at(Chat, now, 30 * DAY_MS, 1),
            Some(101 * DAY_MS),
            "long windows: the next midnight"
        );
    }

    #[test]
    fn long_windows_use_day_buckets() {
        let mut w = Windows::default();
        let now = 400 * DAY_MS;
        for d in [1, 40, 200, 365] {
            w.record(Order, now - d * DAY_MS, now - d * DAY_MS);
        }
        assert_eq!(w.count_between(Order, now, 365 * DAY_MS, 0), 4);
        assert_eq!(w.count_between(Order, now, 100 * DAY_MS, 0), 2);
        w.prune(now + 10 * DAY_MS);
        assert_eq!(
            w.count_between(Order, now + 10 * DAY_MS, 365 * DAY_MS, 0),
            3
        );
        assert_eq!(
            w.recent.len(),
            1,
            "only the event of 1 d ago is still in the exact window"
        );
    }

    #[test]
    fn late_events_are_inserted_in_order() {
        let mut w = Windows::default();
        let now = 50 * DAY_MS;
        w.record(Chat, now, now);
        w.record(Chat, now - 1000, now);
        assert!(w.recent.windows(2).all(|p| p[0] <= p[1]));
        assert_eq!(w.count_between(Chat, now, 500, 0), 1);
    }

    /// Entries past the head are given back in bulk, yet nothing outside sees them: a log
    /// pruned event by event equals, encodes and serialises as one holding only what is live.
    #[test]
    fn a_lazily_pruned_log_shows_only_its_live_entries() {
        let mut w = Windows::default();
        let mut now = 30 * DAY_MS;
        for _ in 0..200 {
            now += 3 * HOUR_MS;
            w.record(Chat, now, now);
        }
        assert!(w.recent.head > 0, "some entries wait to be given back");
        let live: Vec<u64> = w.recent.to_vec();
        assert_eq!(
            live.len(),
            113,
            "14 days of one event every 3 hours, both ends"
        );
        let fresh = Windows {
            recent: Log {
                entries: live.clone().into(),
                head: 0,
            },
            days: w.days.clone(),
        };
        assert_eq!(w, fresh);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        w.encode(&mut Writer(&mut a));
        fresh.encode(&mut Writer(&mut b));
        assert_eq!(a, b);
        assert_eq!(
            serde_json::to_string(&w).unwrap(),
            serde_json::to_string(&fresh).unwrap()
        );
        // Given back once the dead part is an eighth of the list, never more than that, and
        // never by growing the allocation.
        let capacity = w.recent.entries.capacity();
        for _ in 0..500 {
            now += 3 * HOUR_MS;
            w.record(Chat, now, now);
            assert!(w.recent.head * 8 < w.recent.entries.len());
            assert_eq!(w.recent.entries.capacity(), capacity);
            assert_eq!(w.recent.len(), 113);
        }
    }

    fn log_of(entries: Vec<u64>) -> Windows {
        Windows {
            recent: Log {
                entries: entries.into(),
                head: 0,
            },
            days: vec![DayBucket {
                day: 7,
                counts: [1, 2, 3],
            }]
            .into(),
        }
    }

    /// Reads back `w`'s compact form (followed by `tail`), checking where the reader stops.
    fn read_back(w: &Windows, tail: &[u8]) -> (Windows, Vec<u8>) {
        let mut bytes = Vec::new();
        w.encode(&mut Writer(&mut bytes));
        let len = bytes.len();
        bytes.extend_from_slice(tail);
        let mut back = log_of(vec![1, 2, 3]);
        let mut r = Reader::new(&bytes);
        back.decode_into(&mut r);
        assert_eq!(r.pos(), len);
        bytes.truncate(len);
        (back, bytes)
    }

    /// The exact log in groups of four: every difference length (0 to 2^32 - 1 ms), every type,
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
            let w = log_of(entries);
            for tail in [&[][..], &[0xff; 8][..]] {
                let (back, bytes) = read_back(&w, tail);
                assert_eq!(back, w, "{n} entries");
                assert_eq!(bytes[0] & 1, LOG_GROUPED as u8);
            }
        }
        let far = log_of(vec![5 << 2, (5 + (1 << 32)) << 2 | 1, (6 + (1 << 32)) << 2]);
        let (back, bytes) = read_back(&far, &[]);
        assert_eq!(back, far);
        assert_eq!(bytes[0], 3 << 1 | LOG_VARINTS as u8);
    }

    /// The groups take no more room than a varint per difference, for differences spread from
    /// a second to a day (the day buckets that follow the groups take 5 bytes).
    #[test]
    fn grouped_logs_take_no_more_room_than_varints() {
        let mut ts = 40 * DAY_MS as u64;
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let entries: Vec<u64> = (0..300)
            .map(|i| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // Seconds to a day apart, spread over the orders of magnitude.
                ts += 1000 << (seed % 17);
                ts << 2 | (i % 3)
            })
            .collect();
        let w = log_of(entries.clone());
        let (_, grouped) = read_back(&w, &[]);
        let mut varints = Vec::new();
        encode_log_varints(&entries, &mut Writer(&mut varints));
        let grouped = grouped.len() - 5;
        assert!(
            grouped <= varints.len(),
            "grouped {grouped} B, varints {} B",
            varints.len()
        );
    }

    /// The binary-searched counts agree with a plain scan of every event recorded, for
    /// windows inside, across and beyond the exact log, late events included.
    #[test]
    fn counts_agree_with_a_scan_of_every_event() {
        let mut w = Windows::default();
        let mut all: Vec<(i64, EventType)> = Vec::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |bound: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % bound
        };
        let mut now = 30 * DAY_MS;
        for _ in 0..3000 {
            now += next(2 * HOUR_MS as u64) as i64;
            let late = next(10) == 0;
            let ts = if late {
                now - next(3 * DAY_MS as u64) as i64
            } else {
                now
            };
            let kind = EventType::ALL[next(3) as usize];
            w.record(kind, ts, now);
            all.push((ts, kind));
            let probe = now + next(DAY_MS as u64) as i64;
            let kept = |ts: i64| ts >= now - EXACT_WINDOW_MS;
            for kind in EventType::ALL {
                for (from, to) in [
                    (EXACT_WINDOW_MS, 0),
                    (7 * DAY_MS, 0),
                    (EXACT_WINDOW_MS, 7 * DAY_MS + 1),
                    (HOUR_MS, 0),
                ] {
                    let scan = all
                        .iter()
                        .filter(|(ts, k)| {
                            *k == kind && kept(*ts) && *ts >= probe - from && *ts <= probe - to
                        })
                        .count() as i64;
                    assert_eq!(w.count_between(kind, probe, from, to), scan);
                }
                let window = 7 * DAY_MS;
                let mut inside: Vec<i64> = all
                    .iter()
                    .filter(|(ts, k)| {
                        *k == kind && kept(*ts) && *ts >= probe - window && *ts <= probe
                    })
                    .map(|(ts, _)| *ts)
                    .collect();
                inside.sort_unstable();
                assert_eq!(
                    w.next_exit(kind, probe, window),
                    inside.first().map(|ts| ts + window + 1)
                );
                for n in [1, 3, 20] {
                    let expected = (inside.len() as i64 >= n)
                        .then(|| inside[inside.len() - n as usize] + window + 1);
                    assert_eq!(w.count_below_at(kind, probe, window, n), expected);
                }
            }
        }
    }
}
