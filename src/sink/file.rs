//! Tag changes and dead letters as JSON lines.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::tags::Output;

/// Writes tag changes to one stream and dead letters to another.
pub struct FileSink {
    changes: Box<dyn Write + Send>,
    dead: Box<dyn Write + Send>,
    buf: Vec<u8>,
    pub changes_written: u64,
    pub dead_written: u64,
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

impl FileSink {
    pub fn new(changes: Box<dyn Write + Send>, dead: Box<dyn Write + Send>) -> FileSink {
        FileSink {
            changes,
            dead,
            buf: Vec::with_capacity(512),
            changes_written: 0,
            dead_written: 0,
        }
    }

    /// # Errors
    /// Write errors of either stream.
    pub fn write(&mut self, output: &Output) -> io::Result<()> {
        self.buf.clear();
        match output {
            Output::Change(change) => {
                change.write_json(&mut self.buf);
                self.buf.push(b'\n');
                self.changes_written += 1;
                self.changes.write_all(&self.buf)
            }
            Output::Dead(dead) => {
                dead.write_json(&mut self.buf);
                self.buf.push(b'\n');
                self.dead_written += 1;
                self.dead.write_all(&self.buf)
            }
        }
    }

    /// # Errors
    /// Flush errors of either stream.
    pub fn flush(&mut self) -> io::Result<()> {
        self.changes.flush()?;
        self.dead.flush()
    }
}
