//! Resuming an input partition at its committed offset, and catching a broker that skips
//! records when asked to.
//!
//! On assignment each partition is fetched from the group's committed offset, as every Kafka
//! consumer does: the cost of an assignment does not grow with the retained log. A broker may
//! serve that fetch wrongly, though: tansu 0.6 answers a fetch from an offset inside a record
//! batch with the *next* batch, and with nothing at all when that batch is the last one. Both
//! would lose records silently, so [`Resume`] checks the start of every resumed partition:
//!
//! - the first record fetched is the one asked for → the broker is honest, nothing more to do;
//! - the first record lies beyond it → records were skipped: seek back (1 Ki records, then 16×
//!   further each time, finally to the beginning) until a fetch starts at or before the offset
//!   asked for; records before it are already in the state and are dropped here, unread;
//! - nothing arrives for [`QUIET`] → the same seek back, which also tells an idle partition
//!   from a swallowed last batch.
//!
//! Only the start of a partition is checked: past it, a broker's fetch continues from where
//! the previous one ended, at a batch boundary.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::Offset;

/// How long a resumed partition may stay silent before its start is checked by a seek back.
pub const QUIET: Duration = Duration::from_secs(1);

/// The first seek back goes this many records before the offset asked for.
const FIRST_STEP: i64 = 1024;
/// Each further seek goes this many times further back.
const STEP_FACTOR: i64 = 16;

/// What the consumer thread does with a fetched record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Hand it to the partition's worker.
    Deliver,
    /// Drop it: the committed offset says the state holds it already.
    Skip,
    /// Drop it and seek the partition here: the broker started beyond the offset asked for.
    SeekBack(Offset),
}

/// A partition whose start is not confirmed yet.
#[derive(Debug)]
struct Pending {
    /// The committed offset: the first record not yet in the state.
    asked: i64,
    /// Where the last seek back went (`Some(0)` = the beginning); `None` before any.
    seeked: Option<i64>,
    /// A record before `asked` was fetched: the fetch is contiguous from there on.
    below: bool,
    /// When the partition was assigned or last sought.
    since: Instant,
}

impl Pending {
    /// The next place to seek to, further back than the last.
    fn next_seek(&mut self, now: Instant) -> Option<i64> {
        let target = match self.seeked {
            Some(0) => return None,
            None => self.asked - FIRST_STEP,
            Some(at) => self.asked - (self.asked - at) * STEP_FACTOR,
        }
        .max(0);
        self.seeked = Some(target);
        self.since = now;
        Some(target)
    }
}

fn offset(at: i64) -> Offset {
    if at == 0 {
        Offset::Beginning
    } else {
        Offset::Offset(at)
    }
}

/// The partitions of this member whose resume is not yet confirmed, keyed by topic and partition.
#[derive(Debug, Default)]
pub struct Resume {
    pending: HashMap<(String, i32), Pending>,
}

impl Resume {
    /// A partition was assigned at its committed offset `asked` (`None`: nothing committed, read
    /// from the beginning, which no broker gets wrong).
    pub fn expect(&mut self, topic: &str, partition: i32, asked: Option<i64>, now: Instant) {
        let key = (topic.to_string(), partition);
        match asked {
            Some(asked) if asked > 0 => {
                self.pending.insert(
                    key,
                    Pending {
                        asked,
                        seeked: None,
                        below: false,
                        since: now,
                    },
                );
            }
            _ => {
                self.pending.remove(&key);
            }
        }
    }

    /// The partition left this member.
    pub fn forget(&mut self, topic: &str, partition: i32) {
        self.pending.remove(&(topic.to_string(), partition));
    }

    /// Whether any partition's start is still being checked (the per-record fast path).
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Judges a fetched record of a partition.
    pub fn check(&mut self, topic: &str, partition: i32, at: i64, now: Instant) -> Verdict {
        let key = (topic.to_string(), partition);
        let Some(p) = self.pending.get_mut(&key) else {
            return Verdict::Deliver;
        };
        if at < p.asked {
            p.below = true;
            return Verdict::Skip;
        }
        if at == p.asked || p.below || p.seeked == Some(0) {
            // Honest, contiguous from before the offset asked for, or a log that starts beyond
            // it (retention deleted the rest): nothing was skipped.
            if p.seeked.is_some() {
                tracing::info!(
                    topic,
                    partition,
                    committed = p.asked,
                    first = at,
                    "resume confirmed after seeking back"
                );
            }
            self.pending.remove(&key);
            return Verdict::Deliver;
        }
        let asked = p.asked;
        match p.next_seek(now) {
            Some(target) => {
                tracing::warn!(
                    topic,
                    partition,
                    committed = asked,
                    first = at,
                    seek_to = target,
                    "broker skipped records on resume; seeking back and skipping what the state holds"
                );
                Verdict::SeekBack(offset(target))
            }
            None => Verdict::Deliver,
        }
    }

    /// Partitions silent for [`QUIET`] since assignment or their last seek, with where to seek:
    /// the broker may have swallowed the batch holding the committed offset.
    pub fn quiet(&mut self, now: Instant) -> Vec<(String, i32, Offset)> {
        let mut seeks = Vec::new();
        for ((topic, partition), p) in &mut self.pending {
            if p.below || now.duration_since(p.since) < QUIET {
                continue;
            }
            let asked = p.asked;
            if let Some(target) = p.next_seek(now) {
                tracing::info!(
                    topic = topic.as_str(),
                    partition,
                    committed = asked,
                    seek_to = target,
                    "no record since resuming; seeking back to check that the broker skipped none"
                );
                seeks.push((topic.clone(), *partition, offset(target)));
            }
        }
        seeks
    }
}

#[cfg(test)]
mod tests;
