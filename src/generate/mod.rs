//! Synthetic behaviour-event streams: realistic, deterministic from a seed, written in event-time order.
//!
//! Used to make `examples/sample.jsonl`, by tests, and by the benchmark. The generator walks the span one
//! hour at a time. Each hour gets its share of the events following the day rhythm of a Chinese community
//! (quiet at night, busy mid-morning and in the evening, UTC+8); the senders are drawn by weight from a
//! Fenwick tree of the users who have joined and not left (a few heavy chatters, many occasional users,
//! a tail seen exactly once); the hour's events are sorted and written. An hour with more than
//! [`SLICE_LINES`] random lines is drawn and written a slice of the hour at a time instead
//! ([`slices`]). Memory is O(users) plus at most about two slices of lines: nothing is kept per
//! event except pending refunds.
//!
//! With [`GenOptions::personas`] the scripted [`PERSONAS`] are mixed in: users whose timelines make
//! every tag of the default rule pack (RULEPACK.md) happen, so a sample run shows the whole pack.
//!
//! # Layout
//! - `mod.rs` (here): the options, and the hour-by-hour walk that decides which line comes when.
//! - `population`: the random users' fixed traits and the day rhythm they follow.
//! - `personas`: the scripted users, their timelines and intended final tags.
//! - `lines`: what each kind of line looks like, late and broken lines included.
//! - `slices`: the hours too busy to hold at once.
//! - `phrases`: chat texts and the other vocabulary lines are made of.
//! - `json`: JSON strings, ids, amounts and timestamps, written byte by byte.
//! - `random`: the seeded random source and the weighted sampler of users.

mod json;
mod lines;
mod personas;
mod phrases;
mod population;
mod random;
mod slices;

pub use personas::{Persona, PERSONAS};

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::io::{self, Write};

use personas::{persona_events, PersonaEvent};
use population::{make_user, rhythm, User};
use random::{Fenwick, Rng};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;
const CHINA_MS: i64 = 8 * HOUR_MS;

/// The most `--users` a stream may have: each costs about 65 bytes while generating (650 MB at this bound).
pub const MAX_USERS: u64 = 10_000_000;
/// The most `--events` a stream may have: about 150 GB of JSON lines. Memory does not grow with
/// it, except for the refunds pending (a few in a thousand events, for up to ten days).
pub const MAX_EVENTS: u64 = 1_000_000_000;
/// An hour with more random lines than this is drawn a slice of the hour at a time.
const SLICE_LINES: usize = 65_536;
/// Written lines are handed to the writer whenever this many bytes are waiting.
const WRITE_BYTES: usize = 1 << 20;

/// What to generate. Every stream with the same options is byte-for-byte the same.
#[derive(Debug, Clone)]
pub struct GenOptions {
    /// Population size of random users; each appears at least once (at most `events` of them).
    pub users: u64,
    /// Lines of the random part (joins, ordinary events, refunds, invalid lines); personas come on top.
    pub events: u64,
    /// Span of event time in days, from `start_ms`.
    pub days: u32,
    /// Event time of the start, epoch ms (default 2026-09-01T00:00:00Z).
    pub start_ms: i64,
    pub seed: u64,
    /// Share of invalid lines (not JSON, missing or ill-typed field, unknown type, ...), per mille.
    pub invalid_per_mille: u32,
    /// Also emit the scripted [`PERSONAS`]. Their scripts span the last 120 days of the stream; with
    /// fewer `days` the part before the start is left out and their intended tags no longer hold.
    pub personas: bool,
    /// Share of late events: `ts` a few minutes to hours older than the largest `ts` so far, per mille.
    pub late_per_mille: u32,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            users: 1_000,
            events: 20_000,
            days: 30,
            start_ms: 1_788_220_800_000,
            seed: 1,
            invalid_per_mille: 5,
            personas: false,
            late_per_mille: 10,
        }
    }
}

/// Counts of what [`generate`] wrote; `users` counts distinct users with at least one valid line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenStats {
    pub lines: u64,
    pub valid: u64,
    pub invalid: u64,
    pub users: u64,
}

/// Writes the stream as JSON lines in (roughly) event-time order: only late events go back in time.
///
/// Writes at most one hour of events, and about [`WRITE_BYTES`], per `write_all`; wrap `out` in
/// a `BufWriter` for files. `opts.users` and `opts.events` are expected within [`MAX_USERS`] and
/// [`MAX_EVENTS`] (the CLI refuses more): the users are held in memory, and user numbers are `u32`.
///
/// # Errors
/// Only those of `out`.
pub fn generate(opts: &GenOptions, out: &mut impl Write) -> io::Result<GenStats> {
    Gen::new(opts, SLICE_LINES).run(out)
}

/// A refund scheduled when its order was written; the heap orders them by `due`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Refund {
    due: i64,
    user: u32,
    order_ts: i64,
    order_seq: u64,
    cents: u64,
}

/// One line of the current hour, before it is sorted and written.
enum What {
    Join(u32),
    Random(u32),
    Refund(Refund),
    Persona(usize),
}

struct Gen<'o> {
    o: &'o GenOptions,
    rng: Rng,
    salt: u64,
    end_ms: i64,
    hour_end: i64,
    users: Vec<User>,
    /// Largest `ts` written so far (late events do not move it).
    clock: i64,
    /// Lines written: makes event ids unique.
    seq: u64,
    order_seq: u64,
    /// Invalid and late lines still owed to reach their per-mille shares.
    invalid_debt: f64,
    late_debt: f64,
    refunds: BinaryHeap<Reverse<Refund>>,
    personas: Vec<PersonaEvent>,
    /// Per persona: (ts, sequence, cents) of its orders so far, for its refunds.
    persona_orders: Vec<Vec<(i64, u64, u64)>>,
    buf: Vec<u8>,
    stats: GenStats,
    /// Random lines in an hour above which the hour is drawn in slices ([`SLICE_LINES`]).
    slice_lines: usize,
    /// The most random lines held at once to be sorted: what slicing keeps small.
    most_held: usize,
}

impl<'o> Gen<'o> {
    fn new(o: &'o GenOptions, slice_lines: usize) -> Self {
        let mut rng = Rng::new(o.seed);
        let salt = rng.next_u64();
        let span = i64::from(o.days) * DAY_MS;
        let end_ms = o.start_ms + span;
        let n = if span > 0 { o.users.min(o.events) } else { 0 };
        let rooms = (n / 40 + 1).min(5_000) as u32;
        let users = (0..n)
            .map(|_| make_user(&mut rng, o.start_ms, span, rooms))
            .collect();
        let personas = if o.personas {
            persona_events(o.start_ms, end_ms)
        } else {
            Vec::new()
        };
        Gen {
            o,
            rng,
            salt,
            end_ms,
            hour_end: o.start_ms,
            users,
            clock: o.start_ms,
            seq: 0,
            order_seq: 0,
            invalid_debt: 0.0,
            late_debt: 0.0,
            refunds: BinaryHeap::new(),
            personas,
            persona_orders: vec![Vec::new(); PERSONAS.len()],
            buf: Vec::with_capacity(1 << 16),
            stats: GenStats::default(),
            slice_lines,
            most_held: 0,
        }
    }

    fn run(&mut self, out: &mut impl Write) -> io::Result<GenStats> {
        let (start, hours) = (self.o.start_ms, self.o.days as usize * 24);
        let total_rhythm: f64 = (0..hours).map(|h| rhythm(start + h as i64 * HOUR_MS)).sum();
        let by = |key: fn(&User) -> i64, users: &[User]| {
            let mut order: Vec<u32> = (0..users.len() as u32).collect();
            order.sort_by_key(|&u| key(&users[u as usize]));
            order
        };
        let joins = by(|u| u.join_ms, &self.users);
        let leaves = by(|u| u.leave_ms, &self.users);
        let mut active = Fenwick::new(self.users.len());
        let (mut next_join, mut next_leave, mut next_persona) = (0, 0, 0);
        let (mut cum_rhythm, mut planned_before, mut owed) = (0.0, 0i64, 0i64);
        let mut batch: Vec<(i64, What)> = Vec::new();
        for h in 0..hours {
            let t0 = start + h as i64 * HOUR_MS;
            let t1 = t0 + HOUR_MS;
            self.hour_end = t1;
            // This hour's share of the events, rounded so that the shares add up to `events`.
            cum_rhythm += rhythm(t0);
            let planned = (cum_rhythm / total_rhythm * self.o.events as f64).round() as i64;
            let quota = planned - planned_before;
            planned_before = planned;
            owed += quota;
            let first_join = next_join;
            while let Some(&u) = leaves
                .get(next_leave)
                .filter(|&&u| self.users[u as usize].leave_ms < t0)
            {
                active.add(
                    u as usize,
                    u64::from(self.users[u as usize].weight).wrapping_neg(),
                );
                next_leave += 1;
            }
            while let Some(&u) = joins
                .get(next_join)
                .filter(|&&u| self.users[u as usize].join_ms < t1)
            {
                active.add(u as usize, u64::from(self.users[u as usize].weight));
                batch.push((self.users[u as usize].join_ms, What::Join(u)));
                owed -= 1;
                next_join += 1;
            }
            while let Some(Reverse(r)) =
                self.refunds.peek().copied().filter(|Reverse(r)| r.due < t1)
            {
                self.refunds.pop();
                batch.push((r.due, What::Refund(r)));
                owed -= 1;
            }
            while let Some(e) = self.personas.get(next_persona).filter(|e| e.ts < t1) {
                batch.push((e.ts, What::Persona(next_persona)));
                next_persona += 1;
            }
            let piled = h + 1 == hours && owed > 0 && active.total == 0;
            if piled {
                // No one is left to draw from (a few users, each seen once or gone): the lines
                // still owed go to those who joined, alike, so the stream has its --events lines.
                for &u in &joins[..next_join] {
                    active.add(u as usize, 1);
                }
            }
            // A backlog (no one active yet) is paid off gradually rather than in one burst.
            let cap = if h + 1 == hours { owed } else { 2 * quota + 2 };
            let draws = if active.total > 0 {
                owed.min(cap).max(0)
            } else {
                0
            };
            owed -= draws;
            if draws as usize > self.slice_lines {
                let hour = slices::Hour {
                    t0,
                    t1,
                    draws: draws as u64,
                    joined: &joins[first_join..next_join],
                    piled,
                };
                self.slices(&hour, &mut batch, &mut active, out)?;
            } else {
                for _ in 0..draws {
                    let u = active.find(self.rng.below(active.total));
                    let lo = (self.users[u].join_ms + 1).clamp(t0, t1 - 1);
                    let ts = lo + self.rng.below((t1 - lo) as u64) as i64;
                    batch.push((self.rng.stamp(ts).max(t0), What::Random(u as u32)));
                }
                self.most_held = self.most_held.max(draws as usize);
                batch.sort_by_key(|s| s.0);
                for (ts, what) in batch.drain(..) {
                    self.emit(ts, what);
                    self.write_some(out)?;
                }
            }
            out.write_all(&self.buf)?;
            self.buf.clear();
        }
        let personas: HashSet<usize> = self.personas.iter().map(|e| e.persona).collect();
        self.stats.users = (self.users.len() + personas.len()) as u64;
        Ok(self.stats)
    }

    /// Hands the written lines to `out` once [`WRITE_BYTES`] are waiting.
    fn write_some(&mut self, out: &mut impl Write) -> io::Result<()> {
        if self.buf.len() >= WRITE_BYTES {
            out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Refunds come minutes to days after the order, never inside the hour being written.
    fn schedule_refund(&mut self, user: u32, order_ts: i64, cents: u64) {
        let delay = self
            .rng
            .log_uniform(10.0 * MINUTE_MS as f64, 10.0 * DAY_MS as f64) as i64;
        let next_hour = self.hour_end + self.rng.below(HOUR_MS as u64) as i64;
        let due = self
            .rng
            .stamp((order_ts + delay).max(next_hour))
            .max(self.hour_end);
        if due < self.end_ms {
            let order_seq = self.order_seq;
            self.refunds.push(Reverse(Refund {
                due,
                user,
                order_ts,
                order_seq,
                cents,
            }));
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::{HashMap, HashSet};

    pub(super) fn run(o: &GenOptions) -> (Vec<u8>, GenStats) {
        let mut out = Vec::new();
        let stats = generate(o, &mut out).unwrap();
        (out, stats)
    }

    pub(super) fn opts(users: u64, events: u64, days: u32) -> GenOptions {
        GenOptions {
            users,
            events,
            days,
            seed: 42,
            ..GenOptions::default()
        }
    }

    /// SPEC.md's input rules: `Some((user_id, ts))` for a line the decoder must accept.
    pub(super) fn accept(line: &[u8]) -> Option<(String, i64)> {
        let v: Value = serde_json::from_slice(line).ok()?;
        let user = v
            .get("user_id")?
            .as_str()
            .filter(|u| (1..=128).contains(&u.len()))?;
        let ts = match v.get("ts")? {
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .ok()?
                .timestamp_millis(),
            n => n.as_i64()?,
        };
        let text = |k: &str| v.get(k).is_some_and(Value::is_string);
        let ok = v.get("event_id").is_none_or(Value::is_string)
            && match v.get("type")?.as_str()? {
                "chat" => text("text"),
                "click" => text("target"),
                "order" => {
                    text("order_id")
                        && v.get("amount")?.as_f64()? >= 0.0
                        && v.get("status")
                            .is_none_or(|s| s == "paid" || s == "refunded")
                        && v.get("promo").is_none_or(Value::is_boolean)
                }
                _ => false,
            };
        ok.then(|| (user.to_owned(), ts))
    }

    pub(super) fn lines(out: &[u8]) -> impl Iterator<Item = &[u8]> {
        out.split(|&b| b == b'\n').filter(|l| !l.is_empty())
    }

    #[test]
    fn same_seed_same_bytes() {
        let o = GenOptions {
            personas: true,
            ..opts(300, 6_000, 120)
        };
        assert_eq!(run(&o).0, run(&o).0);
        assert_ne!(run(&o).0, run(&GenOptions { seed: 43, ..o }).0);
    }

    #[test]
    fn invalid_lines_come_at_the_asked_share() {
        let o = GenOptions {
            invalid_per_mille: 20,
            ..opts(2_000, 40_000, 20)
        };
        let (out, stats) = run(&o);
        let all: Vec<&[u8]> = lines(&out).collect();
        let invalid = all.iter().filter(|l| accept(l).is_none()).count() as u64;
        assert_eq!(all.len() as u64, stats.lines);
        assert_eq!(invalid, stats.invalid);
        assert_eq!(stats.valid + stats.invalid, stats.lines);
        let per_mille = invalid * 1000 / stats.lines;
        assert!(
            (18..=22).contains(&per_mille),
            "{per_mille} per mille invalid"
        );
    }

    #[test]
    fn only_late_events_go_back_in_time() {
        for late_per_mille in [0, 10] {
            let (out, stats) = run(&GenOptions {
                late_per_mille,
                ..opts(1_000, 30_000, 10)
            });
            let (mut clock, mut back) = (i64::MIN, 0u64);
            for (_, ts) in lines(&out).filter_map(accept) {
                back += u64::from(ts < clock);
                clock = clock.max(ts);
            }
            let expected = stats.valid * u64::from(late_per_mille) / 1000;
            assert!(
                back.abs_diff(expected) <= expected / 5,
                "{back} late, expected about {expected}"
            );
        }
    }

    /// A few users over a short span may all have left before the end: the lines still owed
    /// go to them all the same (2 lines came out of 50 asked before).
    #[test]
    fn a_few_users_still_get_every_line_asked() {
        for (users, days) in [(1, 1), (2, 2), (2, 4), (1, 7), (2, 7), (3, 60)] {
            for seed in 1..20 {
                let (_, stats) = run(&GenOptions {
                    seed,
                    ..opts(users, 50, days)
                });
                assert!(
                    stats.lines.abs_diff(50) <= 2,
                    "{users} users over {days} days, seed {seed}: {} lines",
                    stats.lines
                );
            }
        }
    }

    #[test]
    fn users_and_events_are_as_asked() {
        let (out, stats) = run(&opts(3_000, 30_000, 14));
        let mut per_user: HashMap<String, u64> = HashMap::new();
        for (user, _) in lines(&out).filter_map(accept) {
            *per_user.entry(user).or_default() += 1;
        }
        assert_eq!(per_user.len(), 3_000);
        assert_eq!(stats.users, 3_000);
        assert!(stats.lines.abs_diff(30_000) <= 300, "{} lines", stats.lines);
        // Skewed: a tail seen once, a few heavy chatters.
        let mut counts: Vec<u64> = per_user.into_values().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let once = counts.iter().filter(|&&c| c == 1).count();
        let top: u64 = counts[..30].iter().sum();
        assert!(once > 600, "{once} users seen once");
        assert!(
            top * 100 > stats.valid * 15,
            "top 1% wrote {top} of {}",
            stats.valid
        );
    }

    #[test]
    fn personas_appear_only_when_asked() {
        let with = GenOptions {
            personas: true,
            ..opts(50, 1_000, 120)
        };
        let (out, stats) = run(&with);
        let users: HashSet<String> = lines(&out).filter_map(accept).map(|(u, _)| u).collect();
        for p in PERSONAS {
            assert!(users.contains(p.id), "{} missing", p.id);
        }
        assert_eq!(stats.users, 50 + PERSONAS.len() as u64);
        let (out, _) = run(&GenOptions {
            personas: false,
            ..with
        });
        assert!(!String::from_utf8(out).unwrap().contains("persona_"));
    }
}
