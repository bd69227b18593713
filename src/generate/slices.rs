//! The hours too busy to hold at once: many events over a short span, or the lines still owed
//! piling up in the last hour when few users are left.
//!
//! An ordinary hour draws all its random lines, sorts them with the hour's joins, refunds and
//! persona steps, and writes them. An hour with more random lines than the generator's slice
//! size is cut into slices of time that each get about that many, drawn from the users who have
//! joined by the slice's start, sorted and written one slice after the other; the hour's other
//! lines join the slice they fall in. A slice one millisecond wide gives all its lines the same
//! time, so it is written as drawn, however many it has. Lines stay in time order (late events
//! excepted) and memory stays at about two slices of lines, whatever `--events` asks.

use std::io::{self, Write};

use super::random::Fenwick;
use super::{Gen, What};

/// An hour to write in slices.
pub(super) struct Hour<'a> {
    pub(super) t0: i64,
    pub(super) t1: i64,
    /// Random lines to draw in the hour.
    pub(super) draws: u64,
    /// The users who joined in the hour, by join time; already in the sampler.
    pub(super) joined: &'a [u32],
    /// Whether every user who joined so far was given a weight of 1 (the last hour's backlog).
    pub(super) piled: bool,
}

impl Gen<'_> {
    /// Writes an hour of `hour.draws` random lines and the lines of `others` (its joins, refunds
    /// and persona steps), in time order, holding about two slices' lines at a time. `active`
    /// ends the hour as it began it.
    ///
    /// # Errors
    /// Only those of `out`.
    pub(super) fn slices(
        &mut self,
        hour: &Hour,
        others: &mut Vec<(i64, What)>,
        active: &mut Fenwick,
        out: &mut impl Write,
    ) -> io::Result<()> {
        // The earliest a user may speak in the hour (as an ordinary hour has it), and the weight
        // the user was given in the sampler.
        let lo = |g: &Gen, u: u32| (g.users[u as usize].join_ms + 1).clamp(hour.t0, hour.t1 - 1);
        let weight =
            |g: &Gen, u: u32| u64::from(g.users[u as usize].weight) + u64::from(hour.piled);
        // The hour's joiners leave the sampler until the slice they may speak in.
        for &u in hour.joined {
            active.add(u as usize, weight(self, u).wrapping_neg());
        }
        others.sort_by_key(|s| s.0);
        let mut others = others.drain(..).peekable();
        let mut slice: Vec<(i64, What)> = Vec::new();
        let (mut s, mut draws, mut next) = (hour.t0, hour.draws, 0);
        while draws > 0 {
            while let Some(&u) = hour.joined.get(next).filter(|&&u| lo(self, u) <= s) {
                active.add(u as usize, weight(self, u));
                next += 1;
            }
            // The next joiner's time to speak, if later in the hour.
            let joins_at = hour.joined.get(next).map_or(hour.t1, |&u| lo(self, u));
            if active.total == 0 {
                // No one may speak yet, and someone will (there are lines to draw).
                s = joins_at;
                continue;
            }
            let rest = (hour.t1 - s) as u64;
            let wide = (rest * self.slice_lines as u64)
                .div_ceil(draws)
                .clamp(1, rest);
            let e = (s + wide as i64).min(joins_at);
            let n = if e == hour.t1 {
                draws
            } else {
                (u128::from(draws) * (e - s) as u128 / u128::from(rest)) as u64
            };
            draws -= n;
            while let Some(line) = others.next_if(|o| o.0 < e) {
                slice.push(line);
            }
            if e - s == 1 {
                // One millisecond: every line has the same time, none needs sorting.
                for (ts, what) in slice.drain(..) {
                    self.emit(ts, what);
                    self.write_some(out)?;
                }
                for _ in 0..n {
                    let u = active.find(self.rng.below(active.total)) as u32;
                    self.emit(s, What::Random(u));
                    self.write_some(out)?;
                }
            } else {
                for _ in 0..n {
                    let u = active.find(self.rng.below(active.total)) as u32;
                    let ts = s + self.rng.below(e.abs_diff(s)) as i64;
                    slice.push((self.rng.stamp(ts).max(s), What::Random(u)));
                }
                self.most_held = self.most_held.max(n as usize);
                slice.sort_by_key(|l| l.0);
                for (ts, what) in slice.drain(..) {
                    self.emit(ts, what);
                    self.write_some(out)?;
                }
            }
            s = e;
        }
        for (ts, what) in others {
            self.emit(ts, what);
            self.write_some(out)?;
        }
        // Joiners the draws ended before.
        for &u in &hour.joined[next..] {
            active.add(u as usize, weight(self, u));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::super::phrases::GREETINGS;
    use super::super::tests::{accept, lines, opts};
    use super::super::{Gen, GenOptions, GenStats};

    /// The stream of `o` drawn with slices of `slice_lines`, and the most random lines held.
    fn sliced(o: &GenOptions, slice_lines: usize) -> (Vec<u8>, GenStats, usize) {
        let mut out = Vec::new();
        let mut gen = Gen::new(o, slice_lines);
        let stats = gen.run(&mut out).unwrap();
        (out, stats, gen.most_held)
    }

    /// Every line in time order, and each user's first line the join that brings them in.
    fn in_order_and_joined_first(out: &[u8]) {
        let mut clock = i64::MIN;
        let mut seen: HashMap<String, ()> = HashMap::new();
        for line in lines(out) {
            let Some((user, ts)) = accept(line) else {
                continue;
            };
            assert!(ts >= clock, "{ts} after {clock}");
            clock = ts;
            if seen.insert(user.clone(), ()).is_none() {
                let v: serde_json::Value = serde_json::from_slice(line).unwrap();
                let greeting = v["text"].as_str().is_some_and(|t| GREETINGS.contains(&t));
                let welcome = ["qr_code", "moments"].contains(&v["channel"].as_str().unwrap_or(""));
                assert!(greeting || welcome, "{user} speaks before joining: {v}");
            }
        }
    }

    #[test]
    fn busy_hours_are_drawn_in_slices_in_time_order() {
        let o = GenOptions {
            late_per_mille: 0,
            ..opts(500, 60_000, 1)
        };
        let (_, _, whole) = sliced(&o, usize::MAX);
        assert!(whole > 4_000, "{whole} lines in the busiest hour");
        let (out, stats, held) = sliced(&o, 300);
        assert!(held <= 600, "{held} lines held at once");
        assert!(stats.lines.abs_diff(60_000) <= 600, "{} lines", stats.lines);
        assert_eq!(stats.users, 500);
        in_order_and_joined_first(&out);
    }

    /// A single user over one day: if they only ever speak once, every line asked piles up in
    /// the last hour, which used to be held whole (all of `--events` at once).
    #[test]
    fn a_backlog_in_the_last_hour_is_written_a_slice_at_a_time() {
        let mut piled = 0;
        for seed in 1..12 {
            let o = GenOptions {
                seed,
                late_per_mille: 0,
                ..opts(1, 20_000, 1)
            };
            let (_, _, whole) = sliced(&o, usize::MAX);
            piled += usize::from(whole > 10_000);
            let (out, stats, held) = sliced(&o, 100);
            assert!(held <= 200, "seed {seed}: {held} lines held at once");
            assert!(
                stats.lines.abs_diff(20_000) <= 2,
                "seed {seed}: {} lines",
                stats.lines
            );
            in_order_and_joined_first(&out);
        }
        assert!(piled > 0, "no seed piled the lines up in the last hour");
    }
}
