//! The in-process stages (floor, core on one core, core sharded across cores) and file mode end
//! to end as a child process, each timed over the same records.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use crate::cli::CommonArgs;
use crate::core::Processor;
use crate::decode::decode;
use crate::metrics::status_kb;
use crate::rules::{Execution, RulePack};
use crate::state::{MemoryUse, Partition};
use crate::tags::{change_id, DeadLetter, Op, Output, TagChange, Trigger};

use super::stream::{key_hash, Stream};
use super::BenchError;

/// One timed stage.
#[derive(Debug, Clone)]
pub struct Measured {
    pub stage: String,
    pub events: u64,
    pub secs: f64,
    /// CPU time of the stage (all its threads), where it was measured.
    pub cpu_secs: Option<f64>,
}

impl Measured {
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.secs.max(1e-9)
    }

    /// Events per CPU-second, where the CPU time was measured.
    pub fn cpu_rate(&self) -> Option<f64> {
        self.cpu_secs.map(|cpu| self.events as f64 / cpu.max(1e-9))
    }
}

/// CPU time of the calling thread, in seconds.
fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill in.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// User + system CPU time of the waited-for children of this process, in seconds.
pub fn children_cpu_secs() -> f64 {
    // SAFETY: an all-zero rusage is a valid value for getrusage to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid rusage for the call to fill in.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// What the core-only stage leaves behind besides its time.
#[derive(Debug, Clone)]
pub struct CoreRun {
    pub measured: Measured,
    pub users: usize,
    /// Of them, held in the compact form at the end.
    pub compact_users: usize,
    pub state: MemoryUse,
    /// VmRSS after the run minus before it, while the partition is still alive.
    pub rss_growth: Option<u64>,
    pub changes: u64,
    pub dead_letters: u64,
    /// Compiled handler calls the interpreter ran instead.
    pub fallbacks: u64,
}

/// Encodes outputs as the file sink does, into a reused buffer; returns the bytes encoded.
fn encode(outputs: &mut Vec<Output>, buf: &mut Vec<u8>, changes: &mut u64, dead: &mut u64) -> u64 {
    let mut bytes = 0;
    for o in outputs.drain(..) {
        buf.clear();
        match o {
            Output::Change(c) => {
                c.write_json(buf);
                *changes += 1;
            }
            Output::Dead(d) => {
                d.write_json(buf);
                *dead += 1;
            }
        }
        bytes += buf.len() as u64 + 1;
    }
    bytes
}

/// The floor: decode every record and encode one representative output for it (a tag change
/// for the event's user, with a real change id, or the dead letter), with no state and no rules.
pub fn floor(stream: &Stream) -> Measured {
    let tag: Arc<str> = "bench/floor".into();
    let rule: Arc<str> = "floor".into();
    // As long as a real rule set's version.
    let version: Arc<str> = "0123456789ab".into();
    let mut buf = Vec::with_capacity(1024);
    let mut bytes = 0u64;
    let cpu_started = thread_cpu_secs();
    let started = Instant::now();
    for line in &stream.lines {
        let raw = stream.line(line);
        let source = stream.source(line);
        buf.clear();
        match decode(raw, &source) {
            Ok(event) => {
                let event_id = event.event_id.clone();
                let trigger = Trigger::Event(event_id.clone());
                let change = TagChange {
                    id: change_id(&trigger, &event.user_id, &tag, Op::Add, event.ts, 0),
                    user_id: event.user_id.clone(),
                    tag: tag.clone(),
                    op: Op::Add,
                    score: Some(0.5),
                    rule: rule.clone(),
                    reason: "floor".to_string(),
                    event_id: Some(event_id),
                    ts: event.ts,
                    expires_at: None,
                    rules_version: version.clone(),
                };
                change.write_json(&mut buf);
            }
            Err(e) => {
                let mut dead =
                    DeadLetter::of_record(e.kind(), e.to_string(), None, source.to_string(), raw);
                dead.rules_version = version.to_string();
                dead.write_json(&mut buf)
            }
        }
        bytes += buf.len() as u64 + 1;
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu_secs = thread_cpu_secs() - cpu_started;
    std::hint::black_box(bytes);
    Measured {
        stage: "floor: decode + encode".into(),
        events: stream.len(),
        secs,
        cpu_secs: Some(cpu_secs),
    }
}

/// Core only on one thread: one processor, one partition holding every user, outputs encoded
/// to a reused buffer and dropped. `execution` chooses compiled handlers (what runs in
/// production) or Rhai's interpreter alone (for comparison).
///
/// # Errors
/// A rule that does not compile.
pub fn core_single(
    stream: &Stream,
    pack: &RulePack,
    execution: Execution,
) -> Result<CoreRun, BenchError> {
    let mut processor = Processor::with_execution(pack, execution)?;
    let mut part = Partition::new();
    let mut outputs = Vec::new();
    let mut buf = Vec::with_capacity(1024);
    let (mut changes, mut dead, mut bytes) = (0, 0, 0);
    let rss_before = status_kb("self", "VmRSS");
    let cpu_started = thread_cpu_secs();
    let started = Instant::now();
    for line in &stream.lines {
        processor.process_record(
            &mut part,
            stream.line(line),
            &stream.source(line),
            &mut outputs,
        );
        bytes += encode(&mut outputs, &mut buf, &mut changes, &mut dead);
    }
    processor.finish(&mut part, &mut outputs);
    bytes += encode(&mut outputs, &mut buf, &mut changes, &mut dead);
    let secs = started.elapsed().as_secs_f64();
    let cpu_secs = thread_cpu_secs() - cpu_started;
    std::hint::black_box(bytes);
    let rss_after = status_kb("self", "VmRSS");
    let rss_growth = rss_before
        .zip(rss_after)
        .map(|(before, after)| after.saturating_sub(before) * 1024);
    Ok(CoreRun {
        measured: Measured {
            stage: match execution {
                Execution::Compiled => "core only, 1 core".into(),
                Execution::Interpreted => "core only, 1 core, interpreter only".into(),
            },
            events: stream.len(),
            secs,
            cpu_secs: Some(cpu_secs),
        },
        users: part.user_count(),
        compact_users: part.compact_users(),
        state: part.memory(),
        rss_growth,
        changes,
        dead_letters: dead,
        fallbacks: processor.rules().fallbacks(),
    })
}

/// Core only, sharded: users split by a hash of `user_id` into `shards` partitions, one thread
/// and one processor each (as Kafka mode's workers are). Each shard's clock is its own, so
/// timers fire at slightly different times than on one partition: a throughput figure only.
/// The time is from a common start (after every shard compiled its rules) to the last finish.
/// Also returns the largest shard's share of the records: skewed activity limits the scaling.
///
/// # Errors
/// A rule that does not compile.
pub fn core_sharded(
    stream: &Stream,
    user_ids: &[Option<Box<str>>],
    pack: &RulePack,
    shards: usize,
) -> Result<(Measured, f64), BenchError> {
    let mut routed: Vec<Vec<u32>> = vec![Vec::new(); shards];
    for (i, user) in user_ids.iter().enumerate() {
        let shard = match user {
            Some(u) => key_hash(u.as_bytes()) as usize % shards,
            None => i % shards,
        };
        routed[shard].push(i as u32);
    }
    let barrier = Barrier::new(shards);
    let results: Vec<Result<Duration, BenchError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = routed
            .iter()
            .map(|lines| {
                let (pack, barrier) = (pack.clone(), &barrier);
                scope.spawn(move || {
                    let processor = Processor::new(&pack);
                    barrier.wait();
                    let mut processor = processor?;
                    let mut part = Partition::new();
                    let (mut outputs, mut buf) = (Vec::new(), Vec::with_capacity(1024));
                    let (mut changes, mut dead, mut bytes) = (0, 0, 0);
                    let started = Instant::now();
                    for i in lines {
                        let line = &stream.lines[*i as usize];
                        let source = stream.source(line);
                        processor.process_record(
                            &mut part,
                            stream.line(line),
                            &source,
                            &mut outputs,
                        );
                        bytes += encode(&mut outputs, &mut buf, &mut changes, &mut dead);
                    }
                    processor.finish(&mut part, &mut outputs);
                    bytes += encode(&mut outputs, &mut buf, &mut changes, &mut dead);
                    std::hint::black_box(bytes);
                    let elapsed = started.elapsed();
                    tracing::debug!(
                        records = lines.len(),
                        users = part.user_count(),
                        ?elapsed,
                        "shard done"
                    );
                    Ok(elapsed)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(BenchError::Failed("a shard thread panicked".into())))
            })
            .collect()
    });
    let mut slowest = Duration::ZERO;
    for r in results {
        slowest = slowest.max(r?);
    }
    let largest = routed.iter().map(Vec::len).max().unwrap_or(0);
    Ok((
        Measured {
            stage: format!("core only, {shards} shards on {shards} cores"),
            events: stream.len(),
            secs: slowest.as_secs_f64(),
            cpu_secs: None,
        },
        largest as f64 / stream.len().max(1) as f64,
    ))
}

/// `tagstream run` of this very binary with the bench's `--config`, `--rules`, `--catalogue`
/// and `--params`; the caller adds the mode. Returns the command and the binary's path.
///
/// # Errors
/// The running binary cannot be located.
pub fn tagstream_run(common: &CommonArgs) -> Result<(Command, std::path::PathBuf), BenchError> {
    let exe = std::env::current_exe().map_err(|source| BenchError::Io {
        what: "locate the tagstream binary".into(),
        source,
    })?;
    let mut cmd = Command::new(&exe);
    cmd.arg("run");
    for (flag, value) in [
        ("--config", &common.config),
        ("--rules", &common.rules),
        ("--catalogue", &common.catalogue),
        ("--params", &common.params),
    ] {
        if let Some(v) = value {
            cmd.arg(flag).arg(v);
        }
    }
    Ok((cmd, exe))
}

/// File mode end to end: `tagstream run --input FILE --output /dev/null --dead-letter
/// /dev/null` as a child process of this binary, with the same config and rules flags and
/// `--workers` when given (else the default). Returns the stage, with the child's CPU time
/// (user + system, all its threads), and the child's peak RSS in bytes: the one it reports in
/// its closing summary (read from `VmHWM` after its last output is written), or, from a child
/// that reports none, the highest `VmHWM` sampled every 10 ms while it runs (which misses a
/// peak reached in the last moments, as in a short run).
///
/// # Errors
/// The binary cannot be started or the run fails (its stderr is quoted).
pub fn file_mode(
    input: &Path,
    events: u64,
    common: &CommonArgs,
    workers: Option<usize>,
) -> Result<(Measured, Option<u64>), BenchError> {
    let (mut cmd, exe) = tagstream_run(common)?;
    cmd.arg("--input")
        .arg(input)
        .args(["--output", "/dev/null", "--dead-letter", "/dev/null"])
        // Warnings, and the closing summary, which reports the child's own peak.
        .env("TAGSTREAM_LOG", SUMMARY_LOG)
        .env("TAGSTREAM_LOG_FORMAT", "text")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(n) = workers {
        cmd.arg("--workers").arg(n.to_string());
    }
    tracing::debug!(command = ?cmd, "file mode stage");
    // This bench waits for no other child meanwhile: the growth is this child's.
    let cpu_before = children_cpu_secs();
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|source| BenchError::Io {
        what: format!("start {}", exe.display()),
        source,
    })?;
    // Drained on a thread so a chatty child never blocks on a full pipe; keeps the tail.
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let drain = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        let reported = reported_peak(&String::from_utf8_lossy(&text));
        let tail = text.len().saturating_sub(4096);
        (
            String::from_utf8_lossy(&text[tail..]).into_owned(),
            reported,
        )
    });
    let pid = child.id().to_string();
    let mut peak_kb = None;
    let status = loop {
        if let Some(kb) = status_kb(&pid, "VmHWM") {
            peak_kb = Some(peak_kb.unwrap_or(0).max(kb));
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(source) => {
                return Err(BenchError::Io {
                    what: "wait for tagstream run".into(),
                    source,
                })
            }
        }
    };
    let secs = started.elapsed().as_secs_f64();
    let cpu_secs = children_cpu_secs() - cpu_before;
    let (stderr, reported) = drain.join().unwrap_or_default();
    if !status.success() {
        return Err(BenchError::Failed(format!(
            "tagstream run (file mode) exited with {status}:\n{stderr}"
        )));
    }
    Ok((
        Measured {
            stage: match workers {
                Some(1) => "file mode end to end, 1 worker".into(),
                Some(n) => format!("file mode end to end, {n} workers"),
                None => "file mode end to end, default workers".into(),
            },
            events,
            secs,
            cpu_secs: Some(cpu_secs),
        },
        // The child's own reading is exact; the sampled one may miss the last moments.
        reported.max(peak_kb.map(|kb| kb * 1024)),
    ))
}

/// What a file-mode child logs: warnings, and the closing summary with its peak RSS.
const SUMMARY_LOG: &str = "warn,tagstream::metrics::export=info";

/// The `peak_rss_bytes` of a child's closing summary (`input processed`), if it logged one.
fn reported_peak(log: &str) -> Option<u64> {
    log.lines()
        .filter(|l| l.contains("input processed"))
        .find_map(|l| {
            let rest = &l[l.find(" peak_rss_bytes=")? + " peak_rss_bytes=".len()..];
            let digits = rest.split(|c: char| !c.is_ascii_digit()).next()?;
            digits.parse().ok().filter(|b| *b > 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_is_read_from_the_closing_summary_only() {
        let log = "2026-12-03T22:35:41Z  WARN tagstream::metrics::log: dead letters written peak_rss_bytes=7\n\
                   2026-12-03T22:35:41Z  INFO tagstream::metrics::export: input processed lines=4300 users=75 saved_users=0 peak_rss_bytes=19841024\n\
                   2026-12-03T22:35:41Z  INFO tagstream::metrics::export: tag total tag=activity/low added=1 removed=0 holders=1\n";
        assert_eq!(reported_peak(log), Some(19_841_024));
        let unknown = "INFO tagstream::metrics::export: input processed lines=1 peak_rss_bytes=0\n";
        assert_eq!(reported_peak(unknown), None, "0 means not known");
        assert_eq!(reported_peak("WARN something else\n"), None);
    }
}
