//! One input partition's task: its users' state, the offsets applied to it, and restoring it
//! from its changelog records.

use std::collections::HashMap;
use std::sync::Arc;

use crate::core::Processor;
use crate::decode::{decode, Source};
use crate::state::snapshot::{Applied, Meta, UserRecord, META_KEY};
use crate::state::{Partition, UserState};
use crate::tags::Output;

/// A changelog record: key and value bytes.
pub type KeyValue = (Vec<u8>, Vec<u8>);

pub struct Task {
    pub partition: i32,
    pub part: Partition,
    /// Last input offset applied to the state, per topic.
    pub applied: Applied,
    /// Offsets at or below these (per topic) are in the restored state already.
    restored: Applied,
    /// Users restored ahead of the meta record, with the offsets their state includes.
    ahead: HashMap<String, Applied>,
    /// Whether anything changed since the last checkpoint.
    pub changed: bool,
}

impl Task {
    pub fn new(partition: i32) -> Task {
        Task {
            partition,
            part: Partition::new(),
            applied: Applied::new(),
            restored: Applied::new(),
            ahead: HashMap::new(),
            changed: false,
        }
    }

    /// Rebuilds a task from the latest value of each changelog key.
    pub fn restore(partition: i32, records: HashMap<Vec<u8>, Vec<u8>>) -> Task {
        let mut task = Task::new(partition);
        let meta = records.get(META_KEY).and_then(|bytes| match Meta::decode(bytes) {
            Ok(meta) => Some(meta),
            Err(e) => {
                tracing::error!(partition, error = %e, "unreadable checkpoint meta; starting from the user records");
                None
            }
        });
        if let Some(meta) = &meta {
            task.part.restore_clock(meta.clock);
            task.applied = meta.applied.clone();
            task.restored = meta.applied.clone();
            // The group's committed offsets may lag the restored state (a commit lost with the
            // broker, or a crash between checkpoint and commit): the first checkpoint commits
            // the restored position even when every replayed record is skipped.
            task.changed = true;
        }
        let mut keys: Vec<&Vec<u8>> = records
            .keys()
            .filter(|k| k.as_slice() != META_KEY)
            .collect();
        keys.sort();
        for key in keys {
            let Ok(user) = std::str::from_utf8(key) else {
                continue;
            };
            match UserRecord::decode(&records[key]) {
                Ok(record) => {
                    let ahead = record
                        .applied
                        .iter()
                        .any(|(t, o)| task.restored.get(t).is_none_or(|r| o > r));
                    if ahead {
                        task.ahead.insert(user.to_string(), record.applied);
                    }
                    task.part.restore_user(user, record.state);
                }
                Err(e) => tracing::error!(partition, error = %e, "unreadable user record skipped"),
            }
        }
        tracing::info!(partition, users = task.part.user_count(), clock = ?task.part.clock(), applied = ?task.applied, ahead = task.ahead.len(), "partition restored");
        task
    }

    /// Applies one input record, unless the restored state already holds it; says whether it
    /// did.
    pub fn apply(
        &mut self,
        processor: &mut Processor,
        topic: &Arc<str>,
        offset: i64,
        payload: &[u8],
        out: &mut Vec<Output>,
    ) -> bool {
        if self.restored.get(&**topic).is_some_and(|r| offset <= *r) {
            return false;
        }
        if self.applied.get(&**topic).is_some_and(|a| offset <= *a) {
            tracing::warn!(
                partition = self.partition,
                offset,
                applied = self.applied[&**topic],
                "record at or before the last applied offset skipped"
            );
            return false;
        }
        self.changed = true;
        // The topic's name is allocated once, on its first record, not on every record.
        match self.applied.get_mut(&**topic) {
            Some(applied) => *applied = offset,
            None => {
                self.applied.insert(topic.to_string(), offset);
            }
        }
        let source = Source::Kafka {
            topic: topic.clone(),
            partition: self.partition,
            offset,
        };
        if !self.ahead.is_empty() {
            if let Ok(event) = decode(payload, &source) {
                let holds = self
                    .ahead
                    .get(&*event.user_id)
                    .and_then(|a| a.get(&**topic))
                    .is_some_and(|o| offset <= *o);
                if holds {
                    // This user's state already includes the event; only the clock moves.
                    processor.advance(&mut self.part, event.ts, out);
                    return true;
                }
                processor.process_event(&mut self.part, event, payload, &source, out);
                return true;
            }
        }
        processor.process_record(&mut self.part, payload, &source, out);
        true
    }

    /// Moves an idle partition's clock to wall time.
    pub fn follow_wall_clock(
        &mut self,
        processor: &mut Processor,
        wall_ms: i64,
        out: &mut Vec<Output>,
    ) {
        if self.part.clock().is_some_and(|c| c < wall_ms) {
            processor.advance(&mut self.part, wall_ms, out);
            self.changed = true;
        }
    }

    /// Serialises what changed since the last checkpoint: `(user id, record)` pairs and the meta.
    pub fn checkpoint(&mut self) -> (Vec<KeyValue>, Vec<u8>) {
        self.changed = false;
        // Most users changed since the last checkpoint have gone compact meanwhile: each is
        // decoded into one reused state and encoded into one reused buffer, so a record costs
        // its two exact-size allocations (key and value) and nothing else.
        let (mut scratch, mut buf) = (UserState::default(), Vec::new());
        let users = self
            .part
            .take_dirty()
            .into_iter()
            .map(|u| {
                self.part.with_user(u, &mut scratch, |state| {
                    UserRecord::encode_into(&self.applied, state, &mut buf);
                });
                (self.part.id(u).as_bytes().to_vec(), buf.as_slice().to_vec())
            })
            .collect();
        let meta = Meta {
            clock: self.part.clock(),
            applied: self.applied.clone(),
        };
        (users, meta.encode())
    }
}
