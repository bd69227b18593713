//! One run at a time per state directory. Two runs that both restore a state and both save
//! it would each write back only their own events, the later save silently dropping the
//! other's; the second run is refused instead.
//!
//! The lock is an advisory `flock` on `tagstream.lock` in the directory, held from before the
//! state is read until after it is saved. The kernel drops it when the process ends however it
//! ends (a crash, `kill -9`), so a stale lock file never blocks the next run; the file only
//! holds the process id of the run that holds it, for the message.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::io::AsRawFd;
use std::path::Path;

use super::store::StoreError;

/// The lock file inside a state directory.
pub const LOCK_NAME: &str = "tagstream.lock";

/// A held lock on a state directory; dropping it releases the lock.
#[derive(Debug)]
pub struct StateLock {
    file: File,
}

impl Drop for StateLock {
    /// Unlocks before the file is closed. Closing alone releases a `flock` only once every
    /// descriptor of the open file is closed, and a child process forked by another thread
    /// holds a copy until it execs: the next run on the directory (a test's second run in the
    /// same process) would be refused as if the directory were in use.
    fn drop(&mut self) {
        // SAFETY: `self.file` owns an open descriptor until after this call.
        unsafe {
            libc::flock(self.file.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

/// Takes the lock on `dir` (which must exist) without waiting.
///
/// # Errors
/// [`StoreError::InUse`] when another process holds it; [`StoreError::Io`] when the lock file
/// cannot be opened or locked.
pub fn lock(dir: &Path) -> Result<StateLock, StoreError> {
    let path = dir.join(LOCK_NAME);
    // The lock file is the first thing a run writes in the directory: a directory it cannot
    // write in is said as the save would say it.
    let io_err = |source: io::Error| StoreError::Io {
        path: format!("cannot save state in {}", dir.display()),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_err)?;
    // SAFETY: `file` owns an open descriptor for the whole call; flock does not touch memory.
    let taken = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
    if !taken {
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(io_err(err));
        }
        let mut holder = String::new();
        // The holder wrote its id once it had the lock; a run that just took it may not yet
        // have, so the id is best effort.
        let pid = file
            .read_to_string(&mut holder)
            .ok()
            .and_then(|_| holder.trim().parse::<u32>().ok());
        return Err(StoreError::InUse {
            path: dir.display().to_string(),
            pid,
        });
    }
    file.set_len(0).map_err(io_err)?;
    file.rewind().map_err(io_err)?;
    writeln!(file, "{}", std::process::id()).map_err(io_err)?;
    Ok(StateLock { file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_taken_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock(dir.path()).unwrap();
        // flock locks belong to the open file description: a second open in the same
        // process conflicts as another process would.
        let err = lock(dir.path()).unwrap_err();
        let StoreError::InUse { pid, .. } = &err else {
            panic!("{err}");
        };
        assert_eq!(*pid, Some(std::process::id()));
        assert!(err.is_usage());
        assert!(
            err.to_string().contains(&format!(
                "in use by another tagstream run (pid {})",
                std::process::id()
            )),
            "{err}"
        );
        drop(held);
        lock(dir.path()).unwrap();
    }

    /// A process forked while the lock is held keeps a copy of its descriptor until it execs
    /// or exits; the lock must still be free as soon as it is dropped.
    #[test]
    fn a_dropped_lock_is_free_while_a_forked_child_holds_its_descriptor() {
        let dir = tempfile::tempdir().unwrap();
        let held = lock(dir.path()).unwrap();
        // SAFETY: the child calls only async-signal-safe functions (sleep, _exit).
        let child = unsafe { libc::fork() };
        assert!(child >= 0, "fork failed");
        if child == 0 {
            unsafe {
                libc::sleep(1);
                libc::_exit(0);
            }
        }
        drop(held);
        let again = lock(dir.path());
        let mut status = 0;
        // SAFETY: `child` is this process's child; `status` outlives the call.
        unsafe { libc::waitpid(child, &mut status, 0) };
        again.unwrap();
    }
}
