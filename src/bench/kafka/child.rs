//! `tagstream run` as a child of the drain phase: its log read on a thread (milestones timed,
//! the last lines kept for errors), its CPU time from `/proc`, and its stop on SIGTERM.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::INPUT_PARTITIONS;
use crate::bench::BenchError;

/// Lines of the child's log that mark where its start-up goes: the text, how many of them
/// make the milestone, and how the report names it.
pub(super) const MILESTONES: [(&str, usize, &str); 5] = [
    ("starting Kafka mode", 1, "config and rules loaded"),
    ("partitions assigned", 1, "partitions assigned"),
    ("partition restored", 1, "first partition restored"),
    (
        "partition restored",
        INPUT_PARTITIONS as usize,
        "every partition restored",
    ),
    (
        "first record after assignment",
        1,
        "first input record applied",
    ),
];

/// How long the child may take to drain and exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// Log lines of the child kept for an error message.
const TAIL_LINES: usize = 30;

/// How the child ended after SIGTERM.
pub struct Exit {
    /// Exit status as the OS words it, or why there is none.
    pub status: String,
    /// Exited by itself with status 0.
    pub clean: bool,
    /// SIGTERM → exit.
    pub after: Duration,
}

/// User + system CPU seconds of a live process (all its threads), from `/proc/<pid>/stat`.
pub(super) fn cpu_secs_of(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks <= 0 {
        return None;
    }
    Some(stat_cpu_ticks(&stat)? as f64 / ticks as f64)
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line, in clock ticks. The command
/// name (field 2) is in parentheses and may hold spaces and parentheses itself.
fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The child, killed if still running when dropped (also on error paths), with a thread that
/// reads its log.
pub(super) struct Running {
    child: std::process::Child,
    log: Option<JoinHandle<Log>>,
}

/// What the child logged: when each of [`MILESTONES`] was reached, and the last lines.
#[derive(Default)]
pub(super) struct Log {
    pub(super) milestones: Vec<Option<Duration>>,
    /// Lines seen so far of each milestone's text.
    seen: Vec<usize>,
    tail: VecDeque<String>,
}

impl Log {
    fn new() -> Log {
        Log {
            milestones: vec![None; MILESTONES.len()],
            seen: vec![0; MILESTONES.len()],
            tail: VecDeque::new(),
        }
    }

    pub(super) fn tail(&self) -> String {
        let lines: Vec<&str> = self.tail.iter().map(String::as_str).collect();
        lines.join("\n")
    }

    /// Notes one line read at `at` after the spawn.
    fn line(&mut self, line: String, at: Duration) {
        let milestones = self.milestones.iter_mut().zip(&mut self.seen);
        for ((slot, seen), (needle, count, _)) in milestones.zip(MILESTONES) {
            if line.contains(needle) {
                *seen += 1;
                if *seen == count && slot.is_none() {
                    *slot = Some(at);
                }
            }
        }
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line);
    }
}

impl Running {
    pub(super) fn new(mut child: std::process::Child, t0: Instant) -> Running {
        let log = child.stderr.take().map(|stderr| {
            std::thread::spawn(move || {
                let mut log = Log::new();
                let mut reader = BufReader::new(stderr);
                let mut line = Vec::new();
                // Read to the end even past a bad line: a full pipe would stall the child.
                while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                    let text = String::from_utf8_lossy(&line).trim_end().to_string();
                    log.line(text, t0.elapsed());
                    line.clear();
                }
                let _ = reader.read_to_end(&mut line);
                log
            })
        });
        Running { child, log }
    }

    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(super) fn exited(&mut self) -> Result<Option<std::process::ExitStatus>, BenchError> {
        self.child.try_wait().map_err(|source| BenchError::Io {
            what: "wait for tagstream run".into(),
            source,
        })
    }

    /// What the child logged, whole: kills the child first if it still runs.
    pub(super) fn log(&mut self) -> Log {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.log
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }

    /// SIGTERM, then waits [`STOP_TIMEOUT`] for the child to drain and exit; kills it after.
    pub(super) fn terminate(&mut self) -> Result<Exit, BenchError> {
        let pid = libc::pid_t::try_from(self.pid())
            .map_err(|_| BenchError::Failed("child pid out of range".into()))?;
        // SAFETY: kill has no memory preconditions; the pid is our own unreaped child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let asked = Instant::now();
        while asked.elapsed() < STOP_TIMEOUT {
            if let Some(status) = self.exited()? {
                return Ok(Exit {
                    status: status.to_string(),
                    clean: status.success(),
                    after: asked.elapsed(),
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Ok(Exit {
            status: format!(
                "killed: still running {} s after SIGTERM",
                STOP_TIMEOUT.as_secs()
            ),
            clean: false,
            after: asked.elapsed(),
        })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(h) = self.log.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_read_after_the_command_name() {
        // A command name with spaces and a parenthesis; utime 1234, stime 56.
        let stat = "4242 (tag (stream) x) S 1 4242 4242 0 -1 4194560 9630 0 0 0 1234 56 0 0 20 0 \
                    9 0 123456 100000000 2000 18446744073709551615";
        assert_eq!(stat_cpu_ticks(stat), Some(1290));
        assert_eq!(stat_cpu_ticks("4242 (x) S 1"), None);
        assert_eq!(stat_cpu_ticks("no parenthesis"), None);
    }

    #[test]
    fn own_process_has_cpu_time() {
        assert!(cpu_secs_of(std::process::id()).is_some());
    }

    #[test]
    fn milestones_are_timed_at_their_first_line() {
        let mut log = Log::new();
        let ms = Duration::from_millis;
        log.line("INFO starting Kafka mode group=g".into(), ms(5));
        log.line("INFO partitions assigned".into(), ms(900));
        log.line("INFO partitions assigned".into(), ms(950));
        for (i, p) in (0..INPUT_PARTITIONS).enumerate() {
            log.line(
                format!("INFO partition restored partition={p}"),
                ms(1000 + i as u64),
            );
        }
        for i in 0..TAIL_LINES {
            log.line(format!("line {i}"), Duration::from_secs(2));
        }
        let last_restore = ms(1000 + INPUT_PARTITIONS as u64 - 1);
        assert_eq!(
            log.milestones,
            [
                Some(ms(5)),
                Some(ms(900)),
                Some(ms(1000)),
                Some(last_restore),
                None
            ]
        );
        assert_eq!(log.tail.len(), TAIL_LINES);
        assert!(log.tail().starts_with("line 0\n"));
    }
}
