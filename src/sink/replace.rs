//! An output file replaced whole or not at all: written beside its path under a temporary
//! name and renamed over it once complete. A command that fails halfway (a damaged state, a
//! write error) leaves the file it was asked to write as it was, so yesterday's export
//! survives a failed one.
//!
//! `-` is stdout, and a path that is not a regular file (a pipe, `/dev/null`, a terminal) is
//! written in place: there is nothing to keep, and a pipe cannot be renamed over.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Where the lines go until [`Replacement::finish`].
pub struct Replacement {
    out: BufWriter<Box<dyn Write + Send>>,
    /// `(temporary, final)` paths when the output is a regular file to be replaced.
    rename: Option<(PathBuf, PathBuf)>,
}

impl Replacement {
    /// Opens `path` (`-` for stdout) for replacement.
    ///
    /// # Errors
    /// The temporary file cannot be created (a missing directory, no permission).
    pub fn open(path: &Path) -> io::Result<Replacement> {
        let direct = |out: Box<dyn Write + Send>| Replacement {
            out: BufWriter::with_capacity(1 << 16, out),
            rename: None,
        };
        // `/dev/stdout` is the stream the shell set up (perhaps `>> report.csv`): reopening it
        // by name would truncate or overwrite what the shell meant to append to.
        if path == Path::new("-") || path == Path::new("/dev/stdout") {
            return Ok(direct(Box::new(io::stdout())));
        }
        // Other device and process paths (`/dev/fd/3`, `/proc/self/fd/1`) name a stream, not a
        // file to replace beside its name; so does anything that is not a regular file.
        let in_place = path.starts_with("/dev")
            || path.starts_with("/proc")
            || match std::fs::metadata(path) {
                Ok(meta) => !meta.is_file(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => false,
                Err(e) => return Err(e),
            };
        if in_place {
            return Ok(direct(Box::new(File::create(path)?)));
        }
        // Beside the final path (one file system, so the rename is atomic), following a
        // symlink to where its target lives.
        let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let name = target
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".{}.tmp", std::process::id()));
        let temp = target.with_file_name(temp_name);
        let file = File::create(&temp)?;
        Ok(Replacement {
            out: BufWriter::with_capacity(1 << 16, Box::new(file)),
            rename: Some((temp, target)),
        })
    }

    /// Flushes the lines and puts the file in place.
    ///
    /// # Errors
    /// Writing, flushing or renaming failed; the old file is then untouched.
    pub fn finish(mut self) -> io::Result<()> {
        self.out.flush()?;
        if let Some((temp, target)) = self.rename.take() {
            let renamed = std::fs::rename(&temp, &target);
            if renamed.is_err() {
                let _ = std::fs::remove_file(&temp);
            }
            renamed?;
        }
        Ok(())
    }
}

impl Write for Replacement {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl Drop for Replacement {
    /// Not finished: the temporary file goes, the old file stays.
    fn drop(&mut self) {
        if let Some((temp, _)) = self.rename.take() {
            let _ = std::fs::remove_file(temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_old_file_stays_until_the_new_one_is_finished() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        std::fs::write(&path, "old\n").unwrap();
        let mut out = Replacement::open(&path).unwrap();
        out.write_all(b"new\n").unwrap();
        out.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
        drop(out);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
        let mut out = Replacement::open(&path).unwrap();
        out.write_all(b"new\n").unwrap();
        out.finish().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_symlink_is_followed_and_a_device_written_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.csv");
        std::fs::write(&target, "old\n").unwrap();
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let mut out = Replacement::open(&link).unwrap();
        out.write_all(b"new\n").unwrap();
        out.finish().unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new\n");
        let mut out = Replacement::open(Path::new("/dev/null")).unwrap();
        assert!(out.rename.is_none());
        out.write_all(b"x\n").unwrap();
        out.finish().unwrap();
    }
}
