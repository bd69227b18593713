//! Per-user event counts over sliding windows.
//!
//! Two stores: an exact log of the events of the last [`EXACT_WINDOW_MS`] (timestamp and type
//! packed in a `u64`), so short windows such as "6 chats in the last 14 d" count to the
//! millisecond; and day buckets (UTC days) kept for [`RETENTION_DAYS`], for longer windows,
//! which count whole days.

use serde::{Deserialize, Serialize};

use super::compact::{Reader, Writer};
use super::Slots;
use crate::config::duration::DAY_MS;
use crate::decode::EventType;
use exact::Log;

/// Windows up to this length are counted exactly.
pub const EXACT_WINDOW_MS: i64 = 14 * DAY_MS;
/// Day buckets older than this are dropped.
pub const RETENTION_DAYS: i64 = 366;

mod exact;

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
            // Both ends by binary search. The few very active users (thousands of events in 14
            // days) are the ones counted most often, and the log mostly holds just the window
            // being counted: then the entries outside it are counted and taken from the type's
            // total, else the ones inside are.
            let kind = kind.index();
            let of_kind =
                |entries: &[u64]| entries.iter().filter(|e| **e & 3 == kind as u64).count() as i64;
            let (start, end) = self.span_bounds(lo.max(0), hi);
            let log: &[u64] = &self.recent;
            if (end - start) * 2 <= log.len() {
                return of_kind(&log[start..end]);
            }
            return i64::from(self.recent.of_kind(kind))
                - of_kind(&log[..start])
                - of_kind(&log[end..]);
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
        if n < 1 {
            // A count never falls below 0.
            return None;
        }
        // The count falls below n when its (count - n + 1)-th oldest event leaves the window:
        // its n-th newest, found from the newest end, for a count may run into thousands where
        // n is a threshold of a few.
        self.times_in(kind, now - window, now)
            .nth_back((n - 1) as usize)
            .map(|ts| ts + window + 1)
    }

    /// The times of `kind`'s events with `lo <= ts <= hi`, oldest first.
    fn times_in(
        &self,
        kind: EventType,
        lo: i64,
        hi: i64,
    ) -> impl DoubleEndedIterator<Item = i64> + '_ {
        self.span(lo, hi)
            .iter()
            .map(|e| unpack(*e))
            .filter(move |(_, k)| *k == kind.index())
            .map(|(ts, _)| ts)
    }

    /// The entries of the exact log with `lo <= ts <= hi`, found by binary search (the log is
    /// sorted by time).
    fn span(&self, lo: i64, hi: i64) -> &[u64] {
        let (start, end) = self.span_bounds(lo, hi);
        &self.recent[start..end]
    }

    /// Where [`Windows::span`] starts and ends in the log.
    fn span_bounds(&self, lo: i64, hi: i64) -> (usize, usize) {
        let start = self.recent.partition_point(|e| unpack(*e).0 < lo);
        let len = self.recent[start..].partition_point(|e| unpack(*e).0 <= hi);
        (start, start + len)
    }

    pub fn heap_bytes(&self) -> usize {
        self.recent.heap_bytes() + self.days.heap_bytes()
    }

    /// See [`super::UserState::prefetch_lists`].
    pub(super) fn prefetch(&self) {
        super::prefetch_first(&self.recent);
        super::prefetch_first(&self.days);
    }

    /// The compact form ([`super::compact`]): the exact log as [`Log::encode`] writes it, then
    /// the day buckets, each day written as its difference from the one before.
    pub(super) fn encode(&self, w: &mut Writer) {
        self.recent.encode(w);
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
        self.recent.decode_into(r);
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
        assert!(w.recent.held().0 > 0, "some entries wait to be given back");
        let live: Vec<u64> = w.recent.to_vec();
        assert_eq!(
            live.len(),
            113,
            "14 days of one event every 3 hours, both ends"
        );
        let fresh = Windows {
            recent: Log::from_entries(live.clone().into()),
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
        let capacity = w.recent.capacity();
        for _ in 0..500 {
            now += 3 * HOUR_MS;
            w.record(Chat, now, now);
            let (head, held) = w.recent.held();
            assert!(head * 8 < held);
            assert_eq!(w.recent.capacity(), capacity);
            assert_eq!(w.recent.len(), 113);
        }
    }

    /// The binary-searched counts agree with a plain scan of every event recorded, for
    /// windows inside, across and beyond the exact log, late events included, and whether the
    /// log was built event by event, read back from its compact form or from saved state
    /// (each keeps its own count of entries by type).
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
            match next(40) {
                0 => {
                    let mut bytes = Vec::new();
                    w.encode(&mut Writer(&mut bytes));
                    let mut back = Windows::default();
                    back.decode_into(&mut Reader::new(&bytes));
                    w = back;
                }
                1 => w = serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap(),
                _ => {}
            }
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
                for n in [-1, 0, 1, 3, 20] {
                    let expected = (n >= 1 && inside.len() as i64 >= n)
                        .then(|| inside[inside.len() - n as usize] + window + 1);
                    assert_eq!(w.count_below_at(kind, probe, window, n), expected);
                }
            }
        }
    }
}
