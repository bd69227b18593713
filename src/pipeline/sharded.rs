//! File mode over several cores. Users are split into shards by a hash of their id; each shard
//! is a [`Partition`] with its own [`Processor`] on its own thread.
//!
//! The result is the one a single partition gives, user by user. The reader decodes each line
//! and keeps the clock of the whole input (the largest `ts` so far), and every event reaches its
//! shard with that clock: the shard first fires what the clock passes, then applies the event
//! at that clock, exactly as a single partition would. Outputs are merged back in input order (a
//! shard's timer outputs come with the event that moved its clock), so a run is deterministic
//! for a given number of shards; at the end each shard fires what is due up to the final clock,
//! shard by shard.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc::{channel, sync_channel, Receiver};
use std::sync::Arc;

use super::file::{
    io_err, wall_clock_ms, Driver, FileRunError, Summary, IDLE_FLUSH, PUBLISH_EVERY,
};
use crate::core::{invalid_input, Processor, Stats};
use crate::decode::{decode, Event, FutureLimit, Source};
use crate::metrics::export::Exporter;
use crate::pipeline::reload::RulesWatch;
use crate::rules::RulePack;
use crate::source::file::{LineSource, Next};
use crate::state::Partition;
use crate::tags::Output;

enum Work {
    Event {
        seq: u64,
        clock: i64,
        event: Event,
        raw: Vec<u8>,
        line: u64,
    },
    /// Run every later event on this rule set.
    Rules(RulePack),
    Finish {
        clock: Option<i64>,
    },
}

/// What a shard hands back when it finishes.
struct ShardEnd {
    outputs: Vec<Output>,
    stats: Stats,
    users: usize,
    state_bytes: usize,
    part: Partition,
}

/// The shard of a user among `shards` (stable: saved state is split the same way).
pub(crate) fn shard_of(user: &str, shards: usize) -> usize {
    (crate::hash::fnv1a(user.as_bytes()) % shards as u64) as usize
}

fn run_shard(
    pack: &RulePack,
    name: Arc<str>,
    mut part: Partition,
    work: Receiver<Work>,
    results: std::sync::mpsc::Sender<(u64, Vec<Output>)>,
) -> Result<ShardEnd, FileRunError> {
    let mut processor = Processor::new(pack)?;
    let mut metrics = Exporter::for_core(&mut processor, pack);
    let mut out = Vec::new();
    for item in work {
        match item {
            Work::Event {
                seq,
                clock,
                event,
                raw,
                line,
            } => {
                processor.advance(&mut part, clock, &mut out);
                let source = Source::File {
                    name: name.clone(),
                    line,
                };
                processor.process_event(&mut part, event, &raw, &source, &mut out);
                if results.send((seq, std::mem::take(&mut out))).is_err() {
                    break;
                }
                if processor.stats.events % PUBLISH_EVERY == 0 {
                    metrics.core(&mut processor);
                }
            }
            Work::Rules(new) => {
                processor.swap_rules(&new)?.apply(&mut part);
                metrics.rules_changed(&new);
            }
            Work::Finish { clock } => {
                if let Some(clock) = clock {
                    processor.advance(&mut part, clock, &mut out);
                }
                break;
            }
        }
    }
    metrics.core(&mut processor);
    Ok(ShardEnd {
        outputs: out,
        stats: processor.stats.clone(),
        users: part.user_count(),
        state_bytes: part.memory_bytes(),
        part,
    })
}

/// Outputs waiting for the ones before them.
struct Reorder {
    next: u64,
    waiting: BTreeMap<u64, Vec<Output>>,
}

impl Reorder {
    fn put(
        &mut self,
        seq: u64,
        outputs: Vec<Output>,
        driver: &mut impl Driver,
    ) -> Result<(), FileRunError> {
        self.waiting.insert(seq, outputs);
        while let Some(mut ready) = self.waiting.remove(&self.next) {
            driver.emit(&mut ready)?;
            self.next += 1;
        }
        Ok(())
    }
}

/// Streams the lines of `input` through one shard per partition of `start` (≥ 2; fresh, or
/// restored with each user in its [`shard_of`] and every clock at its clock), handing outputs to
/// `driver` in input order. With `max_future_ms`, events too far ahead of the wall clock are
/// dead letters (checked here, before they move the clock). Returns the shards' partitions, in
/// the same order.
///
/// # Errors
/// Rules that do not compile, unreadable input, and whatever `driver` returns.
pub fn run_sharded(
    pack: &RulePack,
    mut input: impl LineSource,
    name: Arc<str>,
    start: super::saved::Restored,
    max_future_ms: Option<i64>,
    mut watch: Option<RulesWatch>,
    driver: &mut impl Driver,
) -> Result<(Summary, Vec<Partition>), FileRunError> {
    let super::saved::Restored { parts, clock, .. } = start;
    let shards = parts.len();
    let mut version = pack.version.to_string();
    std::thread::scope(|scope| {
        let (results_tx, results) = channel();
        let mut senders = Vec::with_capacity(shards);
        let mut handles = Vec::with_capacity(shards);
        for part in parts {
            let (tx, rx) = sync_channel(1024);
            let (results_tx, name) = (results_tx.clone(), name.clone());
            senders.push(tx);
            handles.push(scope.spawn(move || run_shard(pack, name, part, rx, results_tx)));
        }
        drop(results_tx);
        let mut reorder = Reorder {
            next: 1,
            waiting: BTreeMap::new(),
        };
        let mut future = FutureLimit {
            max_ms: max_future_ms,
            wall_ms: None,
        };
        let (mut seq, mut clock, mut decode_errors) = (0_u64, clock, 0_u64);
        let mut interrupted = None;
        let read = loop {
            if let Some(signal) = driver.stop() {
                interrupted = Some(signal);
                break Ok(());
            }
            let (line, bytes) = match input.next_line(IDLE_FLUSH) {
                Ok(Next::Line(line, bytes)) => (line, bytes),
                Ok(Next::Waiting) => {
                    while let Ok((s, outputs)) = results.try_recv() {
                        reorder.put(s, outputs, driver)?;
                    }
                    driver.idle()?;
                    continue;
                }
                Ok(Next::End) => break Ok(()),
                Err(e) => break Err(io_err(Path::new(&*name))(e)),
            };
            seq += 1;
            if let Some(new) = watch.as_mut().and_then(RulesWatch::take_new) {
                // Each shard takes the set after every event sent to it before: a cut between
                // two lines of the input.
                for tx in &senders {
                    let _ = tx.send(Work::Rules(new.clone()));
                }
                driver.rules_changed(&new);
                tracing::info!(version = %new.version, line, "rule set swapped in");
                version = new.version.to_string();
            }
            let source = Source::File {
                name: name.clone(),
                line,
            };
            if future.max_ms.is_some() {
                future.wall_ms = Some(wall_clock_ms());
            }
            match decode(bytes, &source).and_then(|e| future.check(e.ts).map(|()| e)) {
                Ok(event) => {
                    let now = clock.map_or(event.ts, |c: i64| c.max(event.ts));
                    clock = Some(now);
                    let shard = shard_of(&event.user_id, shards);
                    let work = Work::Event {
                        seq,
                        clock: now,
                        event,
                        raw: bytes.to_vec(),
                        line,
                    };
                    if senders[shard].send(work).is_err() {
                        break Ok(());
                    }
                }
                Err(e) => {
                    decode_errors += 1;
                    let mut dead = invalid_input(&e, bytes, &source);
                    dead.rules_version = version.clone();
                    reorder.put(seq, vec![Output::Dead(dead)], driver)?;
                }
            }
            while let Ok((s, outputs)) = results.try_recv() {
                reorder.put(s, outputs, driver)?;
            }
        };
        // After a signal the shards stop where they are: nothing more fires.
        let last = if interrupted.is_some() { None } else { clock };
        for tx in &senders {
            let _ = tx.send(Work::Finish { clock: last });
        }
        drop(senders);
        for (s, outputs) in results.iter() {
            reorder.put(s, outputs, driver)?;
        }
        read?;
        let mut summary = Summary {
            lines: seq,
            blank_lines: input.blank_lines(),
            interrupted,
            ..Summary::default()
        };
        summary.stats.decode_errors = decode_errors;
        let mut parts = Vec::with_capacity(shards);
        for handle in handles {
            let end = handle.join().expect("a shard thread does not panic")?;
            let mut outputs = end.outputs;
            driver.emit(&mut outputs)?;
            merge(&mut summary.stats, &end.stats);
            summary.users += end.users;
            summary.state_bytes += end.state_bytes;
            parts.push(end.part);
        }
        Ok((summary, parts))
    })
}

fn merge(into: &mut Stats, from: &Stats) {
    into.add(from);
}
