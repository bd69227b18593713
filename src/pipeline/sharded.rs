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

use std::collections::VecDeque;
use std::path::Path;
use std::sync::mpsc::{channel, sync_channel, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::Arc;
use std::time::Duration;

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

/// Events are handed to a shard this many at a time: one channel message, one wake-up and one
/// reply per batch rather than per event. A batch also goes out when the input keeps the run
/// waiting, before a rule set is swapped in, and at the end.
const BATCH: usize = 128;

/// Batches a shard may hold queued before the reader waits for it.
const QUEUED_BATCHES: usize = 4;

/// How long the reader waits for an answer before it looks whether a shard has ended early (on
/// an error, which joining it reports): its batches will never be answered.
const SHARD_CHECK: Duration = Duration::from_millis(100);

/// Emptied batches the reader keeps for refilling, at most (a batch in flight per shard and
/// queue place needs one; past this, batches are allocated).
const FREE_BATCHES: usize = 64;

/// One event for a shard, with the clock of the whole input when it was read.
struct Queued {
    clock: i64,
    event: Event,
    line: u64,
    /// End of its raw bytes in [`Batch::raw`] (the start is the previous event's end).
    end: usize,
}

#[derive(Default)]
struct Batch {
    events: Vec<Queued>,
    raw: Vec<u8>,
    /// Events processed, on the way back to the reader.
    spent: Vec<Event>,
}

enum Work {
    Events(Batch),
    /// The input is quiet: publish the counters now rather than at the next
    /// [`PUBLISH_EVERY`] events, which may be long in coming.
    Publish,
    /// Run every later event on this rule set.
    Rules(RulePack),
    Finish {
        clock: Option<i64>,
    },
}

/// A shard's outputs for one batch: `counts[i]` outputs for its `i`-th event, in order.
///
/// It also brings back what the reader allocated for the batch, the events and their buffers,
/// for the reader to free or fill again: memory is freed by the thread that allocated it.
/// (Freed by the shard, glibc's allocator made a two-shard run cost a fifth more CPU.)
struct Done {
    shard: usize,
    outputs: Vec<Output>,
    counts: Vec<u32>,
    batch: Batch,
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
    shard: usize,
    name: Arc<str>,
    mut part: Partition,
    work: Receiver<Work>,
    results: Sender<Done>,
) -> Result<ShardEnd, FileRunError> {
    let mut processor = Processor::new(pack)?;
    let mut metrics = Exporter::for_core(&mut processor, pack);
    let mut out = Vec::new();
    let mut published = 0;
    for item in work {
        match item {
            Work::Events(mut batch) => {
                let mut outputs = Vec::new();
                let mut counts = Vec::with_capacity(batch.events.len());
                let mut start = 0;
                for q in batch.events.drain(..) {
                    let before = outputs.len();
                    processor.advance(&mut part, q.clock, &mut outputs);
                    let source = Source::File {
                        name: name.clone(),
                        line: q.line,
                    };
                    let raw = &batch.raw[start..q.end];
                    start = q.end;
                    let event =
                        processor.process_event(&mut part, q.event, raw, &source, &mut outputs);
                    batch.spent.push(event);
                    counts.push((outputs.len() - before) as u32);
                }
                let done = Done {
                    shard,
                    outputs,
                    counts,
                    batch,
                };
                if results.send(done).is_err() {
                    break;
                }
                if processor.stats.events - published >= PUBLISH_EVERY {
                    published = processor.stats.events;
                    metrics.core(&mut processor);
                }
            }
            Work::Publish => {
                published = processor.stats.events;
                metrics.core(&mut processor);
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

/// Where the outputs of a line come from, in input order.
enum Slot {
    /// The next event of this shard.
    Shard(usize),
    /// A line the reader turned into a dead letter.
    Dead(Output),
}

/// A shard's answered batches, consumed event by event.
#[derive(Default)]
struct Answers {
    batches: VecDeque<(std::vec::IntoIter<Output>, std::vec::IntoIter<u32>)>,
}

impl Answers {
    /// Moves the outputs of the shard's next answered event into `into`; false if the shard
    /// has not answered it yet.
    fn next_event(&mut self, into: &mut Vec<Output>) -> bool {
        loop {
            let Some((outputs, counts)) = self.batches.front_mut() else {
                return false;
            };
            match counts.next() {
                Some(n) => {
                    into.extend(outputs.by_ref().take(n as usize));
                    return true;
                }
                None => {
                    self.batches.pop_front();
                }
            }
        }
    }
}

/// Puts the shards' answers back in input order: `order` holds one slot per line read and not
/// yet emitted; the shards answer their own events in the order they were sent.
struct Merge {
    order: VecDeque<Slot>,
    answers: Vec<Answers>,
    ready: Vec<Output>,
    /// Batches back from the shards, emptied, to be filled again.
    free: Vec<Batch>,
    /// Batches sent to the shards and not yet answered.
    in_flight: usize,
}

impl Merge {
    fn take(&mut self, done: Done) {
        self.in_flight -= 1;
        self.answers[done.shard]
            .batches
            .push_back((done.outputs.into_iter(), done.counts.into_iter()));
        let mut batch = done.batch;
        batch.spent.clear();
        batch.raw.clear();
        debug_assert!(batch.events.is_empty());
        if self.free.len() < FREE_BATCHES {
            self.free.push(batch);
        }
    }

    /// Emits every line whose outputs are all in hand, in input order.
    fn emit_ready(&mut self, driver: &mut impl Driver) -> Result<(), FileRunError> {
        while let Some(slot) = self.order.front_mut() {
            match slot {
                Slot::Shard(shard) => {
                    if !self.answers[*shard].next_event(&mut self.ready) {
                        break;
                    }
                    self.order.pop_front();
                }
                Slot::Dead(_) => {
                    if let Some(Slot::Dead(dead)) = self.order.pop_front() {
                        self.ready.push(dead);
                    }
                }
            }
        }
        if !self.ready.is_empty() {
            driver.emit(&mut self.ready)?;
            self.ready.clear();
        }
        Ok(())
    }
}

/// The reader's side of the shards: their work queues and the batches being filled.
struct Shards {
    senders: Vec<SyncSender<Work>>,
    filling: Vec<Batch>,
}

impl Shards {
    /// Sends shard `shard` its batch being filled, if any, and starts the next batch from
    /// `merge`'s free ones; false if the shard is gone.
    fn send(&mut self, shard: usize, merge: &mut Merge) -> bool {
        if self.filling[shard].events.is_empty() {
            return true;
        }
        let next = merge.free.pop().unwrap_or_default();
        let batch = std::mem::replace(&mut self.filling[shard], next);
        merge.in_flight += 1;
        self.senders[shard].send(Work::Events(batch)).is_ok()
    }

    fn send_all(&mut self, merge: &mut Merge) -> bool {
        (0..self.senders.len()).all(|shard| self.send(shard, merge))
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
    let count = parts.len();
    let mut version = pack.version.to_string();
    std::thread::scope(|scope| {
        let (results_tx, results) = channel();
        let mut shards = Shards {
            senders: Vec::with_capacity(count),
            filling: (0..count).map(|_| Batch::default()).collect(),
        };
        let mut handles = Vec::with_capacity(count);
        for (shard, part) in parts.into_iter().enumerate() {
            let (tx, rx) = sync_channel(QUEUED_BATCHES);
            let (results_tx, name) = (results_tx.clone(), name.clone());
            shards.senders.push(tx);
            handles.push(scope.spawn(move || run_shard(pack, shard, name, part, rx, results_tx)));
        }
        drop(results_tx);
        // Before the end of the input, a shard ends only on an error.
        let shard_ended = || {
            handles
                .iter()
                .any(std::thread::ScopedJoinHandle::is_finished)
        };
        let mut merge = Merge {
            order: VecDeque::new(),
            answers: (0..count).map(|_| Answers::default()).collect(),
            ready: Vec::new(),
            free: Vec::new(),
            in_flight: 0,
        };
        let mut future = FutureLimit {
            max_ms: max_future_ms,
            wall_ms: None,
        };
        let (mut seq, mut clock, mut decode_errors) = (0_u64, clock, 0_u64);
        let mut interrupted = None;
        // Whether the shards have published their counters since the last line read.
        let mut published = false;
        let read = loop {
            if let Some(signal) = driver.stop() {
                interrupted = Some(signal);
                break Ok(());
            }
            let (line, bytes) = match input.next_line(IDLE_FLUSH) {
                Ok(Next::Line(line, bytes)) => (line, bytes),
                Ok(Next::Waiting) => {
                    // A quiet input: every line read so far is answered and written out, the
                    // dead letters after the last event included.
                    if !shards.send_all(&mut merge)
                        || !take_answers(&results, &mut merge, 0, &shard_ended, driver)?
                    {
                        break Ok(());
                    }
                    merge.emit_ready(driver)?;
                    // The metrics catch up while the run waits, as with one worker.
                    if !published {
                        for tx in &shards.senders {
                            let _ = tx.send(Work::Publish);
                        }
                        published = true;
                    }
                    driver.idle()?;
                    continue;
                }
                Ok(Next::End) => break Ok(()),
                Err(e) => break Err(io_err(Path::new(&*name))(e)),
            };
            seq += 1;
            published = false;
            if let Some(new) = watch.as_mut().and_then(RulesWatch::take_new) {
                // Each shard takes the set after every event sent to it before: a cut between
                // two lines of the input.
                if !shards.send_all(&mut merge) {
                    break Ok(());
                }
                for tx in &shards.senders {
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
                    let shard = shard_of(&event.user_id, count);
                    let batch = &mut shards.filling[shard];
                    batch.raw.extend_from_slice(bytes);
                    batch.events.push(Queued {
                        clock: now,
                        event,
                        line,
                        end: batch.raw.len(),
                    });
                    merge.order.push_back(Slot::Shard(shard));
                    if batch.events.len() >= BATCH {
                        if !shards.send(shard, &mut merge) {
                            break Ok(());
                        }
                        while let Ok(done) = results.try_recv() {
                            merge.take(done);
                        }
                        merge.emit_ready(driver)?;
                    }
                }
                Err(e) => {
                    decode_errors += 1;
                    let mut dead = invalid_input(&e, bytes, &source);
                    dead.rules_version = version.clone();
                    merge.order.push_back(Slot::Dead(Output::Dead(dead)));
                }
            }
        };
        // After a signal the shards stop where they are: nothing more fires (the events read
        // before it are still processed, as a single partition would have).
        let last = if interrupted.is_some() { None } else { clock };
        shards.send_all(&mut merge);
        for tx in &shards.senders {
            let _ = tx.send(Work::Finish { clock: last });
        }
        drop(shards);
        for done in results.iter() {
            merge.take(done);
            merge.emit_ready(driver)?;
        }
        merge.emit_ready(driver)?;
        read?;
        let mut summary = Summary {
            lines: seq,
            blank_lines: input.blank_lines(),
            interrupted,
            ..Summary::default()
        };
        summary.stats.decode_errors = decode_errors;
        let mut parts = Vec::with_capacity(count);
        for handle in handles {
            let end = handle.join().expect("a shard thread does not panic")?;
            let mut outputs = end.outputs;
            driver.emit(&mut outputs)?;
            merge_stats(&mut summary.stats, &end.stats);
            summary.users += end.users;
            summary.state_bytes += end.state_bytes;
            parts.push(end.part);
        }
        Ok((summary, parts))
    })
}

/// Takes the shards' answers, writing out what they complete, until at most `max` batches are
/// out. Returns false if a shard ended before answering (`shard_ended`).
fn take_answers(
    results: &Receiver<Done>,
    merge: &mut Merge,
    max: usize,
    shard_ended: &impl Fn() -> bool,
    driver: &mut impl Driver,
) -> Result<bool, FileRunError> {
    while merge.in_flight > max {
        match results.recv_timeout(SHARD_CHECK) {
            Ok(done) => {
                merge.take(done);
                merge.emit_ready(driver)?;
            }
            Err(RecvTimeoutError::Timeout) if !shard_ended() => {}
            Err(_) => return Ok(false),
        }
    }
    Ok(true)
}

fn merge_stats(into: &mut Stats, from: &Stats) {
    into.add(from);
}
