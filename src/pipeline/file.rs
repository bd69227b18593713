//! Embedded mode: JSON lines from a file or stdin, tag changes to a file or stdout.
//!
//! The whole input is one partition with one event-time clock. Memory is bounded by the user
//! state, not by the input: lines are streamed and outputs written as they are made.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::core::{Processor, Stats};
use crate::decode::Source;
use crate::pipeline::reload::RulesWatch;
use crate::rules::{RulePack, RulesError};
use crate::sink::file::{open_output, FileSink};
use crate::source::file::LineReader;
use crate::state::Partition;
use crate::tags::Output;

#[derive(Debug, Clone)]
pub struct FileJob {
    pub input: PathBuf,
    pub output: PathBuf,
    /// `None` writes dead letters to stderr.
    pub dead_letter: Option<PathBuf>,
    /// Shards (threads) the users are split over; 1 runs on the calling thread.
    pub workers: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum FileRunError {
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub lines: u64,
    pub users: usize,
    pub changes: u64,
    pub dead_letters: u64,
    pub stats: Stats,
    pub state_bytes: usize,
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> FileRunError + '_ {
    move |source| FileRunError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Runs the job to the end of its input, then fires what is due up to the final clock.
///
/// # Errors
/// Rules that do not compile, unreadable input, unwritable output.
pub fn run(pack: &RulePack, job: &FileJob) -> Result<Summary, FileRunError> {
    run_watched(pack, job, None)
}

/// As [`run`], taking each new rule set `watch` reports between two records (hot reload).
///
/// # Errors
/// As [`run`].
pub fn run_watched(
    pack: &RulePack,
    job: &FileJob,
    watch: Option<RulesWatch>,
) -> Result<Summary, FileRunError> {
    let input: Box<dyn BufRead> = if job.input == Path::new("-") {
        Box::new(BufReader::with_capacity(1 << 16, io::stdin().lock()))
    } else {
        Box::new(BufReader::with_capacity(
            1 << 16,
            File::open(&job.input).map_err(io_err(&job.input))?,
        ))
    };
    let changes = open_output(&job.output).map_err(io_err(&job.output))?;
    let dead = match &job.dead_letter {
        Some(path) => open_output(path).map_err(io_err(path))?,
        None => Box::new(io::stderr()),
    };
    let name: Arc<str> = job.input.display().to_string().into();
    let mut sink = FileSink::new(changes, dead);
    let out_path = job.output.clone();
    let write = |outputs: &mut Vec<Output>| {
        for o in outputs.drain(..) {
            sink.write(&o).map_err(io_err(&out_path))?;
        }
        Ok(())
    };
    let summary = if job.workers > 1 {
        crate::pipeline::sharded::run_sharded(pack, input, name, job.workers, watch, write)?
    } else {
        run_stream_watched(pack, input, name, watch, write)?
    };
    sink.flush().map_err(io_err(&job.output))?;
    Ok(Summary {
        changes: sink.changes_written,
        dead_letters: sink.dead_written,
        ..summary
    })
}

/// Streams `input` through a processor, handing outputs to `emit` after each record.
///
/// # Errors
/// As [`run`], and whatever `emit` returns.
pub fn run_stream(
    pack: &RulePack,
    input: impl BufRead,
    name: Arc<str>,
    emit: impl FnMut(&mut Vec<Output>) -> Result<(), FileRunError>,
) -> Result<Summary, FileRunError> {
    run_stream_watched(pack, input, name, None, emit)
}

/// As [`run_stream`], swapping in each new rule set `watch` reports before the next record.
///
/// # Errors
/// As [`run_stream`].
pub fn run_stream_watched(
    pack: &RulePack,
    input: impl BufRead,
    name: Arc<str>,
    mut watch: Option<RulesWatch>,
    mut emit: impl FnMut(&mut Vec<Output>) -> Result<(), FileRunError>,
) -> Result<Summary, FileRunError> {
    let mut processor = Processor::new(pack)?;
    let mut part = Partition::new();
    let mut reader = LineReader::new(input);
    let mut outputs = Vec::new();
    let mut lines = 0;
    loop {
        let next = reader.next_line().map_err(|source| FileRunError::Io {
            path: name.to_string(),
            source,
        })?;
        let Some((line, bytes)) = next else { break };
        lines += 1;
        if let Some(new) = watch.as_mut().and_then(RulesWatch::take_new) {
            processor.swap_rules(&new)?.apply(&mut part);
            tracing::info!(version = %new.version, line, "rule set swapped in");
        }
        let source = Source::File {
            name: name.clone(),
            line,
        };
        processor.process_record(&mut part, bytes, &source, &mut outputs);
        emit(&mut outputs)?;
    }
    processor.finish(&mut part, &mut outputs);
    emit(&mut outputs)?;
    Ok(Summary {
        lines,
        users: part.user_count(),
        stats: processor.stats.clone(),
        state_bytes: part.memory_bytes(),
        ..Summary::default()
    })
}
