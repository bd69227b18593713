//! The benchmark's input: one generated stream, written once to a temporary file (file mode
//! reads it from there) and held in memory, indexed by line, so that every stage reads exactly
//! the same records.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::decode::{decode, Source, MAX_EVENT_BYTES};
use crate::generate::{generate, GenOptions, GenStats};

use super::BenchError;

/// A file removed when dropped (also on error paths).
pub struct TempFile(pub PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// One input record: where it sits in [`Stream::bytes`] and its 1-based line number.
#[derive(Debug, Clone, Copy)]
pub struct Line {
    start: usize,
    end: usize,
    pub number: u64,
}

pub struct Stream {
    pub file: TempFile,
    /// Name used in [`Source::File`], as file mode names the input.
    pub name: Arc<str>,
    pub bytes: Vec<u8>,
    pub lines: Vec<Line>,
    pub stats: GenStats,
    pub gen_secs: f64,
}

impl Stream {
    /// Generates the stream into a temporary file and reads it back.
    ///
    /// # Errors
    /// The temporary file cannot be written or read.
    pub fn generate(opts: &GenOptions) -> Result<Stream, BenchError> {
        let path =
            std::env::temp_dir().join(format!("tagstream-bench-{}.jsonl", std::process::id()));
        let file = TempFile(path);
        let io = |what: &str| {
            let what = format!("{what} {}", file.0.display());
            move |source| BenchError::Io { what, source }
        };
        let started = Instant::now();
        let mut out =
            BufWriter::with_capacity(1 << 20, File::create(&file.0).map_err(io("create"))?);
        let stats = generate(opts, &mut out).map_err(io("write"))?;
        out.flush().map_err(io("write"))?;
        drop(out);
        let gen_secs = started.elapsed().as_secs_f64();
        let bytes = std::fs::read(&file.0).map_err(io("read"))?;
        let lines = index_lines(&bytes);
        Ok(Stream {
            name: file.0.display().to_string().into(),
            file,
            bytes,
            lines,
            stats,
            gen_secs,
        })
    }

    /// The stream's first `n` lines in a file of their own (removed when dropped): the small
    /// run that RSS growth is measured against.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn head_file(&self, n: usize) -> Result<TempFile, BenchError> {
        let path =
            std::env::temp_dir().join(format!("tagstream-bench-{}-head.jsonl", std::process::id()));
        let file = TempFile(path);
        let end = self.lines.get(n).map_or(self.bytes.len(), |l| l.start);
        std::fs::write(&file.0, &self.bytes[..end]).map_err(|source| BenchError::Io {
            what: format!("write {}", file.0.display()),
            source,
        })?;
        Ok(file)
    }

    pub fn path(&self) -> &Path {
        &self.file.0
    }

    pub fn len(&self) -> u64 {
        self.lines.len() as u64
    }

    pub fn line(&self, line: &Line) -> &[u8] {
        &self.bytes[line.start..line.end]
    }

    pub fn source(&self, line: &Line) -> Source {
        Source::File {
            name: self.name.clone(),
            line: line.number,
        }
    }

    /// The `user_id` of every record, `None` for records that do not decode. Not timed: the
    /// sharded and Kafka stages use it to route records the way a keyed topic would.
    pub fn user_ids(&self) -> Vec<Option<Box<str>>> {
        self.lines
            .iter()
            .map(|l| {
                decode(self.line(l), &self.source(l))
                    .ok()
                    .map(|e| Box::<str>::from(&*e.user_id))
            })
            .collect()
    }
}

/// Splits like [`crate::source::file::LineReader`]: a trailing `\r` is dropped, blank lines are
/// skipped but counted, and a line is cut after `MAX_EVENT_BYTES + 1` bytes (still oversize).
fn index_lines(bytes: &[u8]) -> Vec<Line> {
    let mut lines = Vec::with_capacity(bytes.len() / 150);
    let mut start = 0;
    let mut number = 0;
    while start < bytes.len() {
        let end = bytes[start..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(bytes.len(), |i| start + i);
        number += 1;
        let mut stop = end;
        if stop > start && bytes[stop - 1] == b'\r' {
            stop -= 1;
        }
        stop = stop.min(start + MAX_EVENT_BYTES + 1);
        if !bytes[start..stop].iter().all(u8::is_ascii_whitespace) {
            lines.push(Line {
                start,
                end: stop,
                number,
            });
        }
        start = end + 1;
    }
    lines
}

/// 32-bit FNV-1a of a key: stable, so the bench routes a user to the same shard or partition
/// on every run (the integration tests partition the same way).
pub fn key_hash(key: &[u8]) -> u32 {
    let mut h: u32 = 2_166_136_261;
    for b in key {
        h = (h ^ u32::from(*b)).wrapping_mul(16_777_619);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_like_the_file_reader() {
        let bytes = b"a\n\n  \r\nb\r\nc";
        let lines = index_lines(bytes);
        let seen: Vec<(u64, &[u8])> = lines
            .iter()
            .map(|l| (l.number, &bytes[l.start..l.end]))
            .collect();
        assert_eq!(seen, [(1, &b"a"[..]), (4, &b"b"[..]), (5, &b"c"[..])]);
    }
}
