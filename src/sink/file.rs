//! Tag changes and dead letters as JSON lines.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::tags::Output;

/// A write that failed, with the stream it failed on (`stdout`, `stderr` or a path).
#[derive(Debug, thiserror::Error)]
#[error("writing to {name}: {source}")]
pub struct WriteError {
    pub name: String,
    pub source: io::Error,
}

impl WriteError {
    /// The reader at the other end went away (`… | head`): not worth an error line.
    pub fn is_broken_pipe(&self) -> bool {
        self.source.kind() == io::ErrorKind::BrokenPipe
    }
}

/// Opens `-` as stdout, anything else as a new file.
///
/// # Errors
/// The file cannot be created.
pub fn open_output(path: &Path) -> io::Result<Box<dyn Write + Send>> {
    Ok(if path == Path::new("-") {
        Box::new(BufWriter::with_capacity(1 << 16, io::stdout()))
    } else {
        Box::new(BufWriter::with_capacity(1 << 16, File::create(path)?))
    })
}

/// What `--output` takes, said when it names a directory.
pub const OUTPUT_TAKES: &str = "--output names the file to write, or - for stdout";

/// Why an output at `path` could not be created, as the words after its path in the error:
/// its directory does not exist, or it is a directory itself (`takes` then says what the flag
/// takes). Empty when it is neither (the OS error that follows says why).
pub fn why_not_created(path: &Path, takes: &str) -> String {
    let missing_dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty() && !dir.is_dir());
    match missing_dir {
        Some(dir) => format!(" (directory {} does not exist)", dir.display()),
        None if path.is_dir() => format!(" (a directory: {takes})"),
        None => String::new(),
    }
}

/// A stream of whole lines: lines are gathered and written in batches that end on a line
/// boundary, so a stream shared with another writer (stdout and stderr on one file) never holds
/// a torn line, and what is flushed is always complete.
struct Lines {
    name: String,
    out: Box<dyn Write + Send>,
    buf: Vec<u8>,
    written: u64,
}

/// Lines are written out once this many bytes are gathered.
const BATCH_BYTES: usize = 64 * 1024;

impl Lines {
    fn push(&mut self, line: impl FnOnce(&mut Vec<u8>)) -> Result<(), WriteError> {
        line(&mut self.buf);
        self.buf.push(b'\n');
        self.written += 1;
        if self.buf.len() >= BATCH_BYTES {
            self.write_out()?;
        }
        Ok(())
    }

    fn write_out(&mut self) -> Result<(), WriteError> {
        let result = self.out.write_all(&self.buf);
        self.buf.clear();
        result.map_err(|source| WriteError {
            name: self.name.clone(),
            source,
        })
    }

    fn flush(&mut self) -> Result<(), WriteError> {
        self.write_out()?;
        self.out.flush().map_err(|source| WriteError {
            name: self.name.clone(),
            source,
        })
    }
}

/// Writes tag changes to one stream and dead letters to another, each named for its errors.
pub struct FileSink {
    changes: Lines,
    dead: Lines,
}

impl FileSink {
    /// `changes_name` and `dead_name` name the streams in errors (`stdout`, a path, ...).
    pub fn new(
        changes: Box<dyn Write + Send>,
        changes_name: &str,
        dead: Box<dyn Write + Send>,
        dead_name: &str,
    ) -> FileSink {
        let lines = |out, name: &str| Lines {
            name: name.to_string(),
            out,
            buf: Vec::with_capacity(BATCH_BYTES + 4096),
            written: 0,
        };
        FileSink {
            changes: lines(changes, changes_name),
            dead: lines(dead, dead_name),
        }
    }

    pub fn changes_written(&self) -> u64 {
        self.changes.written
    }

    pub fn dead_written(&self) -> u64 {
        self.dead.written
    }

    /// # Errors
    /// Write errors of either stream, naming it.
    pub fn write(&mut self, output: &Output) -> Result<(), WriteError> {
        match output {
            Output::Change(change) => self.changes.push(|buf| change.write_json(buf)),
            Output::Dead(dead) => self.dead.push(|buf| dead.write_json(buf)),
        }
    }

    /// Writes out every gathered line.
    ///
    /// # Errors
    /// Write or flush errors of either stream, naming it.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        self.changes.flush()?;
        self.dead.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tags::DeadLetter;

    /// A writer that takes `room` bytes, then fails.
    struct Full(usize);

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            let n = buf.len().min(self.0);
            self.0 -= n;
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_write_error_names_the_stream_it_happened_on() {
        let mut sink = FileSink::new(
            Box::new(io::sink()),
            "out.jsonl",
            Box::new(Full(10)),
            "dead.jsonl",
        );
        let dead = Output::Dead(DeadLetter::of_record(
            "not_json",
            "bad".into(),
            None,
            "f:1".into(),
            b"x",
        ));
        sink.write(&dead).unwrap();
        let err = sink.flush().unwrap_err();
        assert_eq!(err.name, "dead.jsonl");
        assert!(
            err.to_string()
                .starts_with("writing to dead.jsonl: disk full"),
            "{err}"
        );
        assert!(!err.is_broken_pipe());
    }
}
