//! Saved state in embedded mode (`tagstream run --input … --state DIR`): the users, the clock
//! and the timers are restored from DIR before the first line and written back after the last,
//! so consecutive runs over consecutive pieces of a stream end as one run over all of it.
//!
//! State is used only when asked for (`--state DIR`, or `state.embedded = true` for
//! `state.dir`): a run without it keeps nothing, as before.

use std::path::Path;

use super::sharded::shard_of;
use crate::rules::RulePack;
use crate::state::lock::{self, StateLock};
use crate::state::store::{self, StateReader, StoreError};
use crate::state::Partition;

/// Partitions to start a run with: one per shard, each user in its shard.
#[derive(Debug)]
pub struct Restored {
    pub parts: Vec<Partition>,
    pub clock: Option<i64>,
    /// Users read from the saved state.
    pub users: u64,
}

impl Restored {
    /// Empty partitions: a run without saved state.
    pub fn fresh(shards: usize) -> Restored {
        Restored {
            parts: (0..shards.max(1)).map(|_| Partition::new()).collect(),
            clock: None,
            users: 0,
        }
    }
}

/// Takes `dir` for this run: creates it when missing and locks it ([`lock`]), so that a
/// second run on the same directory is refused before either reads the state. Hold the lock
/// until the state is saved.
///
/// # Errors
/// An unusable directory, or one another run holds.
pub fn take(dir: &Path) -> Result<StateLock, StoreError> {
    if dir.exists() && !dir.is_dir() {
        return Err(StoreError::NotDir {
            path: dir.display().to_string(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| {
        // A file where a directory of the path should be: the path is wrong, not the disk.
        if source.raw_os_error() == Some(libc::ENOTDIR) {
            StoreError::NotDir {
                path: dir.display().to_string(),
            }
        } else {
            // Said as the lock and the save say a directory they cannot write in.
            StoreError::Io {
                path: format!("cannot create the state directory {}", dir.display()),
                source,
            }
        }
    })?;
    lock::lock(dir)
}

/// Reads the state of `dir` (nothing when it holds none yet) into `shards` partitions; `dir`
/// is one this run has [`take`]n.
///
/// # Errors
/// A state of another format or rule set; a damaged state file. In every case no user has
/// been used.
pub fn restore(dir: &Path, pack: &RulePack, shards: usize) -> Result<Restored, StoreError> {
    let mut restored = Restored::fresh(shards);
    let Some(mut reader) = StateReader::open(dir, pack.fingerprint())? else {
        return Ok(restored);
    };
    let shards = restored.parts.len();
    restored.clock = reader.header().clock;
    for part in &mut restored.parts {
        part.restore_clock(restored.clock);
    }
    while let Some((id, state)) = reader.next_user()? {
        restored.parts[shard_of(&id, shards)].restore_user(&id, state);
        restored.users += 1;
    }
    Ok(restored)
}

/// Writes the users, clock and timers of `parts` as the state of `dir`, atomically (the old
/// state stays readable until the new one is complete). Users are written partition by
/// partition in first-seen order, so the same number of shards restores the same order.
///
/// Callable at any point between two events, e.g. by a signal handler once the input loop has
/// stopped.
///
/// # Errors
/// The state cannot be written; the previous state is then untouched.
pub fn save_state(dir: &Path, pack: &RulePack, parts: &[Partition]) -> Result<u64, StoreError> {
    let clock = parts.iter().filter_map(Partition::clock).max();
    let count: usize = parts.iter().map(Partition::user_count).sum();
    let users = parts
        .iter()
        .flat_map(|part| (0..part.user_count() as u32).map(move |i| (part.id(i), part.user(i))));
    // Compact users are decoded one at a time as they are written.
    store::save(dir, pack.fingerprint(), clock, count as u64, users)?;
    Ok(count as u64)
}
