//! Embedded mode's streams by identity: an output that is the input, or two outputs that are
//! one file, are refused before anything is opened, so a typo cannot empty the input or
//! interleave two streams in one file.
//!
//! Files are compared by device and inode, so a hard link, a symlink or another spelling of a
//! path is the same file; a path that does not exist yet is compared by where it would be
//! created. Character devices (`/dev/null`, a terminal) may be shared freely, and so may stdout
//! and stderr with each other (`2>&1`): both are written in whole lines.
//!
//! A path given on the command line that does not exist gets the near name beside it, when
//! there is one ([`missing_file`]).

use std::fs::Metadata;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// One of the streams of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stream {
    Stdin,
    Stdout,
    Stderr,
    Path(PathBuf),
}

impl Stream {
    /// `-` is stdin for an input and stdout for an output.
    pub fn input(path: &Path) -> Stream {
        if path == Path::new("-") {
            Stream::Stdin
        } else {
            Stream::Path(path.to_path_buf())
        }
    }

    pub fn output(path: &Path) -> Stream {
        if path == Path::new("-") {
            Stream::Stdout
        } else {
            Stream::Path(path.to_path_buf())
        }
    }

    /// How errors name it.
    pub fn name(&self) -> String {
        match self {
            Stream::Stdin => "stdin".into(),
            Stream::Stdout => "stdout".into(),
            Stream::Stderr => "stderr".into(),
            Stream::Path(p) => p.display().to_string(),
        }
    }

    fn inherited(&self) -> bool {
        !matches!(self, Stream::Path(_))
    }

    fn identity(&self) -> io::Result<Identity> {
        let fd = match self {
            Stream::Stdin => 0,
            Stream::Stdout => 1,
            Stream::Stderr => 2,
            Stream::Path(p) => return path_identity(p),
        };
        Ok(Identity::of(&std::fs::metadata(format!("/dev/fd/{fd}"))?))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Identity {
    File {
        dev: u64,
        ino: u64,
        shareable: bool,
    },
    /// A file that does not exist yet: its directory's identity and its name.
    Planned {
        dir: (u64, u64),
        name: std::ffi::OsString,
    },
}

impl Identity {
    fn of(meta: &Metadata) -> Identity {
        Identity::File {
            dev: meta.dev(),
            ino: meta.ino(),
            shareable: meta.file_type().is_char_device(),
        }
    }

    fn shareable(&self) -> bool {
        matches!(
            self,
            Identity::File {
                shareable: true,
                ..
            }
        )
    }
}

/// The identity of `path`, following symlinks, also dangling ones.
fn path_identity(path: &Path) -> io::Result<Identity> {
    let mut path = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&path)?;
                let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
                path = dir.join(target);
            }
            Ok(meta) => return Ok(Identity::of(&meta)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let dir = match path.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d,
                    _ => Path::new("."),
                };
                let Some(name) = path.file_name() else {
                    return Err(e);
                };
                let meta = std::fs::metadata(dir)?;
                return Ok(Identity::Planned {
                    dir: (meta.dev(), meta.ino()),
                    name: name.to_os_string(),
                });
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

/// Whether an inherited output was closed when the process started (`>&-`). The Rust runtime
/// puts `/dev/null` on a closed standard stream, opened read-write, where a shell's
/// `>/dev/null` opens it write-only: that difference is the only trace left (Linux reports it in
/// `/proc/self/fdinfo`; elsewhere this says no).
pub fn was_closed(stream: &Stream) -> bool {
    let fd = match stream {
        Stream::Stdout => 1,
        Stream::Stderr => 2,
        _ => return false,
    };
    let null = std::fs::metadata("/dev/null")
        .ok()
        .map(|m| Identity::of(&m));
    if null.is_none() || stream.identity().ok() != null {
        return false;
    }
    let Ok(info) = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")) else {
        return false;
    };
    info.lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        .is_some_and(|flags| flags & 0o3 == 0o2)
}

/// Refuses streams that would clobber the input or each other.
///
/// # Errors
/// A message naming both streams. Streams whose identity cannot be read are left for opening
/// them to report.
pub fn check(input: &Stream, outputs: &[&Stream]) -> Result<(), String> {
    let id = |s: &Stream| s.identity().ok();
    if let Some(input_id) = id(input).filter(|i| !i.shareable()) {
        for out in outputs {
            if id(out).as_ref() == Some(&input_id) {
                return Err(format!(
                    "output {} is the input {}: it would be overwritten while it is read",
                    out.name(),
                    input.name()
                ));
            }
        }
    }
    for (i, a) in outputs.iter().enumerate() {
        for b in &outputs[i + 1..] {
            if a.inherited() && b.inherited() {
                continue;
            }
            let same = match (id(a), id(b)) {
                (Some(x), Some(y)) => x == y && !x.shareable(),
                _ => false,
            };
            if same {
                return Err(format!(
                    "{} and {} are the same file: their lines would overwrite each other",
                    a.name(),
                    b.name()
                ));
            }
        }
    }
    Ok(())
}

/// Refuses outputs that are one of the files of the state directory `dir` (which exists):
/// the state saved at the end would replace what the run wrote there, or the run would write
/// over the state it is about to save.
///
/// # Errors
/// A message naming the output and the directory.
pub fn check_state(outputs: &[&Stream], dir: &Path) -> Result<(), String> {
    use crate::state::{lock::LOCK_NAME, store};
    for name in [store::FILE_NAME, store::TEMP_NAME, LOCK_NAME] {
        let Ok(state_file) = path_identity(&dir.join(name)) else {
            continue;
        };
        for out in outputs {
            if out.identity().ok().as_ref() == Some(&state_file) {
                return Err(format!(
                    "output {} is {name} of the state directory {}: it would overwrite the \
                     saved state or be overwritten by it; write the output elsewhere",
                    out.name(),
                    dir.display()
                ));
            }
        }
    }
    Ok(())
}

/// A name like `path`'s next to it, of the same kind (a directory when `dir`, else a file) and
/// with the same first letter: a hint that `fuzz/` was meant for `--rules zzzz` helps no one.
pub fn near_name(path: &Path, dir: bool) -> Option<PathBuf> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    let folder = parent.unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let first = name.chars().next()?;
    let names: Vec<String> = std::fs::read_dir(folder)
        .ok()?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir() == dir))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(first))
        .collect();
    let near = crate::rules::check::nearest(name, names.iter().map(String::as_str))?;
    Some(parent.map_or_else(|| near.into(), |p| p.join(near)))
}

/// Why a file named on the command line cannot be opened, when it does not exist and a file
/// of a near name does: `no such file; did you mean config/tagstream.toml?`. `None` otherwise,
/// for opening the file to report.
pub fn missing_file(path: &Path) -> Option<io::Error> {
    if path.exists() {
        return None;
    }
    let near = near_name(path, false)?;
    Some(io::Error::new(
        io::ErrorKind::NotFound,
        format!("no such file; did you mean {}?", near.display()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &Path) -> Stream {
        Stream::Path(p.to_path_buf())
    }

    #[test]
    fn an_output_that_is_the_input_is_refused_by_any_name() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.jsonl");
        std::fs::write(&input, "{}\n").unwrap();
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink(&input, &link).unwrap();
        let hard = dir.path().join("hard.jsonl");
        std::fs::hard_link(&input, &hard).unwrap();
        let dotted = dir.path().join(".").join("in.jsonl");
        for out in [&input, &link, &hard, &dotted] {
            let err = check(&path(&input), &[&path(out)]).unwrap_err();
            assert!(err.contains("is the input"), "{err}");
        }
        let other = dir.path().join("out.jsonl");
        assert_eq!(check(&path(&input), &[&path(&other)]), Ok(()));
    }

    #[test]
    fn two_outputs_that_are_one_file_are_refused_even_before_they_exist() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in.jsonl");
        std::fs::write(&input, "{}\n").unwrap();
        let out = dir.path().join("out.jsonl");
        let same = dir.path().join("sub/../out.jsonl");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let dangling = dir.path().join("dangling.jsonl");
        std::os::unix::fs::symlink("out.jsonl", &dangling).unwrap();
        for other in [&out, &same, &dangling] {
            let err = check(&path(&input), &[&path(&out), &path(other)]).unwrap_err();
            assert!(err.contains("are the same file"), "{err}");
        }
        let dead = dir.path().join("dead.jsonl");
        assert_eq!(check(&path(&input), &[&path(&out), &path(&dead)]), Ok(()));
    }

    #[test]
    fn dev_null_and_the_inherited_streams_may_be_shared() {
        let null = Path::new("/dev/null");
        assert_eq!(check(&path(null), &[&path(null), &path(null)]), Ok(()));
        assert_eq!(
            check(&Stream::Stdin, &[&Stream::Stdout, &Stream::Stderr]),
            Ok(())
        );
    }
}
