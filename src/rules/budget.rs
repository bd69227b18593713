//! The time budget of one handler call.
//!
//! The operation limit bounds how many steps a handler takes, not how long: one step can copy
//! a value that holds itself, and a loop of such steps runs for seconds. The budget bounds the
//! CPU time of one call, so a hostile or careless rule cannot stall a partition.
//!
//! It is CPU time of the worker thread, not wall time, so that a busy machine (another process
//! on the core, a pause of the thread) never turns a legitimate call into a rule error. Reading
//! a thread's CPU clock is a system call, too slow to make on every call; the wall clock, read
//! every few dozen operations, is cheap. So the budget is measured in two steps: while the
//! call has run for less than the budget in wall time it has used less than that in CPU time;
//! once it has run that long, the thread's CPU clock is read, and the call ends when it has used
//! a further budget's worth of CPU time. A call is therefore stopped only after it has used at
//! least its budget of CPU time, and, on an idle core, by twice its budget in wall time.

use std::time::{Duration, Instant};

/// Operations between two looks at the clock: a look costs about as much as a few
/// operations, and even slow operations add up to well under a millisecond in this many.
pub const CLOCK_EVERY: u64 = 32;

/// One call's budget, measured from its first look at the clock.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    limit: Duration,
    /// The first look at the wall clock. Calls too short to reach one never read a clock.
    started: Option<Instant>,
    /// The thread's CPU clock when the call had run `limit` in wall time.
    cpu_mark: Option<Duration>,
}

impl Budget {
    pub fn new(limit: Duration) -> Budget {
        Budget {
            limit,
            started: None,
            cpu_mark: None,
        }
    }

    /// Whether the call has used its budget; called every [`CLOCK_EVERY`] operations.
    pub fn spent(&mut self) -> bool {
        let now = Instant::now();
        let started = *self.started.get_or_insert(now);
        if now.duration_since(started) < self.limit {
            return false;
        }
        let Some(cpu) = thread_cpu_time() else {
            // No CPU clock: wall time alone decides.
            return true;
        };
        match self.cpu_mark {
            None => {
                self.cpu_mark = Some(cpu);
                false
            }
            Some(mark) => cpu.saturating_sub(mark) >= self.limit,
        }
    }
}

/// CPU time the calling thread has used, where the platform tells it.
#[cfg(unix)]
fn thread_cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes into it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

#[cfg(not(unix))]
fn thread_cpu_time() -> Option<Duration> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_call_is_within_budget() {
        let mut budget = Budget::new(Duration::from_millis(200));
        assert!(!budget.spent());
        assert!(!budget.spent());
    }

    #[test]
    fn a_busy_call_spends_its_budget_in_cpu_time() {
        let mut budget = Budget::new(Duration::from_millis(5));
        let started = Instant::now();
        let mut x = 0u64;
        while !budget.spent() {
            for i in 0..1_000u64 {
                x = x.wrapping_mul(31).wrapping_add(i);
            }
            assert!(started.elapsed() < Duration::from_secs(5), "{x}");
        }
        // At least the budget in wall time, then a further budget of CPU time.
        assert!(started.elapsed() >= Duration::from_millis(10));
    }

    #[test]
    fn a_sleeping_call_does_not_spend_cpu_time() {
        let mut budget = Budget::new(Duration::from_millis(5));
        assert!(!budget.spent());
        std::thread::sleep(Duration::from_millis(20));
        // Wall time is over, CPU time is not: the thread was not running.
        assert!(!budget.spent());
        std::thread::sleep(Duration::from_millis(20));
        assert!(!budget.spent());
    }
}
