//! Embedded mode: JSON lines from a file or stdin, tag changes to a file or stdout.
//!
//! The whole input is one partition with one event-time clock. Memory is bounded by the user
//! state, not by the input: lines are streamed and outputs written as they are made. Outputs
//! are written in whole lines and flushed whenever the input keeps the run waiting
//! ([`IDLE_FLUSH`]), so a run can sit in a live pipe. SIGINT and SIGTERM stop the run after the
//! record in hand ([`Summary::interrupted`]). With saved state ([`super::saved`]) the users,
//! clock and timers are restored before the first line and written back after the last, or
//! after the record in hand when a signal stops the run.

use std::fs::File;
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::paths::{self, Stream};
use super::reload::RulesWatch;
use super::signals::Stop;
use crate::core::{Processor, Stats};
use crate::decode::Source;
use crate::metrics::export::Exporter;
use crate::rules::{RulePack, RulesError};
use crate::sink::file::{FileSink, WriteError};
use crate::source::file::{Feed, LineReader, LineSource, Next};
use crate::state::Partition;
use crate::tags::Output;

/// The core's counters reach the metrics every this many records.
pub const PUBLISH_EVERY: u64 = 1024;

/// How long a run waits for input before it writes out what it holds.
pub const IDLE_FLUSH: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
pub struct FileJob {
    pub input: PathBuf,
    pub output: PathBuf,
    /// `None` writes dead letters to stderr.
    pub dead_letter: Option<PathBuf>,
    /// Shards (threads) the users are split over; 1 runs on the calling thread.
    pub workers: usize,
    /// `clock.max_future` in ms (`None`: off), measured from the wall time of each record.
    pub max_future_ms: Option<i64>,
    /// Saved state to restore before and write back after the run ([`super::saved`]).
    pub state: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum FileRunError {
    #[error(transparent)]
    Rules(#[from] RulesError),
    /// Streams that would overwrite the input or each other; nothing was opened.
    #[error("{0}")]
    SameFile(String),
    #[error("{0}: closed when tagstream started, so nothing can be written to it")]
    Closed(String),
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error(transparent)]
    State(#[from] crate::state::store::StoreError),
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Records read (blank lines not included).
    pub lines: u64,
    /// Blank lines skipped.
    pub blank_lines: u64,
    pub users: usize,
    pub changes: u64,
    pub dead_letters: u64,
    pub stats: Stats,
    pub state_bytes: usize,
    /// The signal that stopped the run before the end of its input.
    pub interrupted: Option<i32>,
    /// Users restored from saved state before the run, and saved after it.
    pub restored_users: u64,
    pub saved_users: u64,
}

/// What the processing loop asks of whoever runs it besides taking its outputs.
pub trait Driver {
    /// Takes the outputs made so far (in order).
    ///
    /// # Errors
    /// Writing them failed; the run stops.
    fn emit(&mut self, outputs: &mut Vec<Output>) -> Result<(), FileRunError>;

    /// The input keeps the run waiting: a moment to write out what is held.
    ///
    /// # Errors
    /// As [`Driver::emit`].
    fn idle(&mut self) -> Result<(), FileRunError> {
        Ok(())
    }

    /// A signal asking to stop before the next record.
    fn stop(&self) -> Option<i32> {
        None
    }

    /// A new rule set is in force from the next record on (hot reload).
    fn rules_changed(&mut self, _pack: &RulePack) {}
}

impl<F: FnMut(&mut Vec<Output>) -> Result<(), FileRunError>> Driver for F {
    fn emit(&mut self, outputs: &mut Vec<Output>) -> Result<(), FileRunError> {
        self(outputs)
    }
}

/// The driver of a real run: a sink, the signals, and the metrics of the outputs as they are
/// written (the core's counters are exported by the loop or the shards).
struct SinkDriver {
    sink: FileSink,
    stop: Stop,
    exporter: Exporter,
}

impl Driver for SinkDriver {
    fn emit(&mut self, outputs: &mut Vec<Output>) -> Result<(), FileRunError> {
        self.exporter.outputs(outputs);
        for o in outputs.drain(..) {
            self.sink.write(&o)?;
        }
        Ok(())
    }

    fn idle(&mut self) -> Result<(), FileRunError> {
        Ok(self.sink.flush()?)
    }

    fn stop(&self) -> Option<i32> {
        self.stop.signal()
    }

    fn rules_changed(&mut self, pack: &RulePack) {
        self.exporter.rules_changed(pack);
    }
}

pub(super) fn io_err(path: &Path) -> impl Fn(io::Error) -> FileRunError + '_ {
    move |source| FileRunError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// An output opened but not yet emptied: every output is opened before any is truncated, so
/// one that cannot be created (a typo in its directory) leaves the others' old content as it
/// was.
enum Opened {
    Inherited(Stream),
    /// `created`: the file did not exist before, so a refused run removes it again.
    File {
        file: File,
        path: PathBuf,
        created: bool,
    },
}

impl Opened {
    /// Opens `stream` for writing without truncating it; `what` names it in an error
    /// ("output", "dead-letter output").
    fn open(stream: &Stream, what: &str) -> Result<Opened, FileRunError> {
        let Stream::Path(path) = stream else {
            return Ok(Opened::Inherited(stream.clone()));
        };
        let created = std::fs::symlink_metadata(path).is_err();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|source| {
                // Both outputs (--output, --dead-letter) are named here: the words fit either.
                let why = crate::sink::file::why_not_created(
                    path,
                    "name the file to write in it, or - for stdout",
                );
                let path = format!("cannot create {what} {}{why}", path.display());
                FileRunError::Io { path, source }
            })?;
        Ok(Opened::File {
            file,
            path: path.clone(),
            created,
        })
    }

    /// Removes a file this run created; the run was refused before writing to it.
    fn abandon(self) {
        if let Opened::File {
            path,
            created: true,
            ..
        } = self
        {
            let _ = std::fs::remove_file(path);
        }
    }

    /// The writer, a regular file emptied first (a pipe or a device has nothing to empty).
    fn into_writer(self) -> Result<Writer, FileRunError> {
        Ok(match self {
            Opened::Inherited(Stream::Stderr) => Box::new(io::stderr()),
            Opened::Inherited(_) => Box::new(io::stdout()),
            Opened::File { file, path, .. } => {
                let regular = file.metadata().is_ok_and(|m| m.is_file());
                if regular {
                    file.set_len(0).map_err(|source| FileRunError::Io {
                        path: format!("cannot empty {}", path.display()),
                        source,
                    })?;
                }
                Box::new(file)
            }
        })
    }
}

/// Where a run writes one of its streams.
type Writer = Box<dyn Write + Send>;

/// Opens both outputs, then empties them: nothing is truncated unless both can be written.
fn open_outputs(output: &Stream, dead: &Stream) -> Result<(Writer, Writer), FileRunError> {
    let out = Opened::open(output, "output")?;
    let dead = match Opened::open(dead, "dead-letter output") {
        Ok(dead) => dead,
        Err(e) => {
            out.abandon();
            return Err(e);
        }
    };
    Ok((out.into_writer()?, dead.into_writer()?))
}

/// Runs the job to the end of its input (or a signal), then fires what is due up to the final
/// clock (not after a signal). With `state`, restores it first and saves it after the outputs
/// are flushed, also when a signal stopped the run.
///
/// # Errors
/// Rules that do not compile, streams that are one file, unreadable input, unwritable output,
/// saved state that cannot be read or written.
pub fn run(pack: &RulePack, job: &FileJob) -> Result<Summary, FileRunError> {
    run_watched(pack, job, None, || {})
}

/// The input file, refused before any output is opened (and truncated) when it cannot be read:
/// a directory opens, and fails only at the first read.
fn open_input(path: &Path) -> Result<File, FileRunError> {
    let refused = |source| FileRunError::Io {
        path: format!("cannot read input {}", path.display()),
        source,
    };
    if let Some(missing) = paths::missing_file(path) {
        return Err(refused(missing));
    }
    let file = File::open(path).map_err(refused)?;
    if file.metadata().map_err(refused)?.is_dir() {
        return Err(refused(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is a directory, not a file of events",
        )));
    }
    Ok(file)
}

/// As [`run`], taking each new rule set `watch` reports between two records (hot reload), and
/// calling `ready` once everything that could refuse the run (paths, state) has accepted it,
/// before the first record.
///
/// # Errors
/// As [`run`].
pub fn run_watched(
    pack: &RulePack,
    job: &FileJob,
    watch: Option<RulesWatch>,
    ready: impl FnOnce(),
) -> Result<Summary, FileRunError> {
    let input = Stream::input(&job.input);
    let output = Stream::output(&job.output);
    let dead = job
        .dead_letter
        .as_deref()
        .map_or(Stream::Stderr, Stream::output);
    paths::check(&input, &[&output, &dead]).map_err(FileRunError::SameFile)?;
    for stream in [&output, &dead] {
        if paths::was_closed(stream) {
            return Err(FileRunError::Closed(stream.name()));
        }
    }
    // Before any output is opened (and truncated): a refused state leaves everything as it was.
    // The lock is held until the state is saved at the end of the run.
    let _lock = job.state.as_deref().map(super::saved::take).transpose()?;
    if let Some(dir) = &job.state {
        paths::check_state(&[&output, &dead], dir).map_err(FileRunError::SameFile)?;
    }
    let restored = match &job.state {
        Some(dir) => super::saved::restore(dir, pack, job.workers)?,
        None => super::saved::Restored::fresh(job.workers),
    };
    let restored_users = restored.users;
    if let Some(dir) = &job.state {
        crate::state::store::check_writable(dir)?;
    }
    let reader: Box<dyn Read + Send> = match &input {
        Stream::Path(path) => Box::new(open_input(path)?),
        _ => Box::new(io::stdin()),
    };
    let feed = Feed::spawn(reader).map_err(io_err(&job.input))?;
    let (out_writer, dead_writer) = open_outputs(&output, &dead)?;
    let sink = FileSink::new(out_writer, &output.name(), dead_writer, &dead.name());
    let stop = Stop::on_signals(watch.is_none()).map_err(io_err(Path::new("signal handlers")))?;
    // Every stream is open and the state restored: what could refuse the run has not.
    ready();
    let exporter = Exporter::new(crate::metrics::global(), pack);
    let mut driver = SinkDriver {
        sink,
        stop,
        exporter,
    };
    let name: Arc<str> = job.input.display().to_string().into();
    let result = if restored.parts.len() > 1 {
        super::sharded::run_sharded(
            pack,
            feed,
            name,
            restored,
            job.max_future_ms,
            watch,
            &mut driver,
        )
    } else {
        let part = restored.parts.into_iter().next().unwrap_or_default();
        run_source(
            pack,
            part,
            feed,
            name,
            job.max_future_ms,
            watch,
            &mut driver,
        )
        .map(|(summary, part)| (summary, vec![part]))
    };
    let flushed = driver.sink.flush();
    let (summary, parts) = result?;
    flushed?;
    driver.exporter.end_of_input(summary.lines, summary.users);
    // Also after a signal: the run stopped between two records, so the state is whole.
    let saved_users = match &job.state {
        Some(dir) => super::saved::save_state(dir, pack, &parts)?,
        None => 0,
    };
    Ok(Summary {
        changes: driver.sink.changes_written(),
        dead_letters: driver.sink.dead_written(),
        restored_users,
        saved_users,
        ..summary
    })
}

/// Streams `input` through a processor, handing outputs to `emit` after each record; no wall
/// clock, no signals (tests and library callers).
///
/// # Errors
/// Rules that do not compile, unreadable input, and whatever `emit` returns.
pub fn run_stream(
    pack: &RulePack,
    input: impl BufRead,
    name: Arc<str>,
    mut emit: impl FnMut(&mut Vec<Output>) -> Result<(), FileRunError>,
) -> Result<Summary, FileRunError> {
    let part = Partition::new();
    run_source(
        pack,
        part,
        LineReader::new(input),
        name,
        None,
        None,
        &mut emit,
    )
    .map(|(s, _)| s)
}

/// Streams the lines of `source` through one processor, carrying on from `part` (fresh, or
/// restored state) and handing outputs to `driver` after each record; returns `part` at the
/// end. With `max_future_ms`, events too far ahead of the wall clock are dead letters. Each
/// new rule set `watch` reports is swapped in before the next record.
///
/// # Errors
/// Rules that do not compile, unreadable input, and whatever `driver` returns.
pub fn run_source(
    pack: &RulePack,
    mut part: Partition,
    mut source: impl LineSource,
    name: Arc<str>,
    max_future_ms: Option<i64>,
    mut watch: Option<RulesWatch>,
    driver: &mut impl Driver,
) -> Result<(Summary, Partition), FileRunError> {
    let mut processor = Processor::new(pack)?;
    let mut metrics = Exporter::for_core(&mut processor, pack);
    processor.future.max_ms = max_future_ms;
    let mut outputs = Vec::new();
    let mut lines = 0;
    let interrupted = loop {
        if let Some(signal) = driver.stop() {
            break Some(signal);
        }
        let next = source
            .next_line(IDLE_FLUSH)
            .map_err(io_err(Path::new(&*name)))?;
        let (line, bytes) = match next {
            Next::Line(line, bytes) => (line, bytes),
            Next::Waiting => {
                // Quiet input: the metrics catch up while the run waits.
                metrics.core(&mut processor);
                driver.idle()?;
                continue;
            }
            Next::End => break None,
        };
        lines += 1;
        if let Some(new) = watch.as_mut().and_then(RulesWatch::take_new) {
            processor.swap_rules(&new)?.apply(&mut part);
            metrics.rules_changed(&new);
            driver.rules_changed(&new);
            tracing::info!(version = %new.version, line, "rule set swapped in");
        }
        let record = Source::File {
            name: name.clone(),
            line,
        };
        if max_future_ms.is_some() {
            processor.set_wall_clock(wall_clock_ms());
        }
        processor.process_record(&mut part, bytes, &record, &mut outputs);
        driver.emit(&mut outputs)?;
        if lines % PUBLISH_EVERY == 0 {
            metrics.core(&mut processor);
        }
    };
    if interrupted.is_none() {
        processor.finish(&mut part, &mut outputs);
        driver.emit(&mut outputs)?;
    }
    metrics.core(&mut processor);
    let summary = Summary {
        lines,
        blank_lines: source.blank_lines(),
        users: part.user_count(),
        stats: processor.stats.clone(),
        state_bytes: part.memory_bytes(),
        interrupted,
        ..Summary::default()
    };
    Ok((summary, part))
}

/// The wall clock in epoch ms, read by the pipeline (never by the core).
pub(super) fn wall_clock_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
