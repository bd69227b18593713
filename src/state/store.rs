//! Saved state of embedded mode: every user, the clock and (inside each user) the timers, in
//! one file per state directory, so that a later run carries on where this one stopped.
//!
//! The file is written beside the old one and renamed over it only once complete and synced,
//! so a crash mid-write leaves the previous state readable. It is versioned, names the rule set
//! it was made with (a hash of the rule scripts and the tag catalogue), and ends with a checksum
//! of everything before it: a reader checks all three before it hands out a single user, so a
//! state is used whole or not at all.
//!
//! Layout: magic, file format, record format, rules hash, clock, user count, the writer's
//! version; then per user its id and its record ([`super::snapshot`]'s encoding, as in the
//! Kafka changelog); then the checksum (FNV-1a of every byte before it).

use std::borrow::Cow;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::snapshot::{self, SnapshotError};
use super::UserState;
use crate::hash::{fnv1a_extend, FNV_OFFSET};

/// The state file inside a state directory.
pub const FILE_NAME: &str = "tagstream.state";
/// Where a save writes before it renames over [`FILE_NAME`].
pub const TEMP_NAME: &str = "tagstream.state.tmp";
const MAGIC: &[u8; 16] = b"tagstream-state\n";
/// Version of the file layout around the records.
pub const FILE_FORMAT: u32 = 1;
/// Longest id or record a reader accepts: bounds what a corrupt length can make it allocate.
const MAX_FIELD: u32 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{path}: not a directory (--state names a directory)")]
    NotDir { path: String },
    #[error("{path}: not a tagstream state file")]
    NotState { path: String },
    #[error(
        "{path}: state format {found} (written by tagstream {writer}), this tagstream {ours} reads \
         format {expected}; replay the input into a fresh --state directory"
    )]
    Format {
        path: String,
        found: String,
        expected: String,
        writer: String,
        ours: &'static str,
    },
    #[error(
        "{path}: state saved for a different rule set (the rule scripts or the tag catalogue \
         changed since); use the rules it was saved with, or replay the input into a fresh \
         --state directory"
    )]
    Rules { path: String },
    #[error(
        "{path}: state file is damaged ({what}); nothing was read from it. Restore it from a \
         copy, or move it aside and replay the input into the directory to build it again"
    )]
    Corrupt { path: String, what: String },
    #[error(
        "state directory {path} is in use by another tagstream run{}; one run at a time may use \
         a state directory (wait for it to finish, or give this run its own --state)",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    InUse { path: String, pid: Option<u32> },
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl StoreError {
    /// A state the user pointed at wrongly (exit code 2), rather than a failure while reading
    /// or writing one.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            StoreError::NotDir { .. }
                | StoreError::NotState { .. }
                | StoreError::Format { .. }
                | StoreError::Rules { .. }
                | StoreError::InUse { .. }
        )
    }
}

/// What a state file says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub clock: Option<i64>,
    pub users: u64,
    pub rules: u64,
    /// Version of the tagstream that wrote it.
    pub writer: String,
}

/// Makes sure state can be saved in `dir` (creating it if need be) by creating and removing
/// the file [`save`] writes first, so that a run learns before it starts, not after its last
/// event, that its state would be lost.
///
/// # Errors
/// `dir` cannot be created or written.
pub fn check_writable(dir: &Path) -> Result<(), StoreError> {
    let refused = |source: io::Error| StoreError::Io {
        path: format!("cannot save state in {}", dir.display()),
        source,
    };
    fs::create_dir_all(dir).map_err(refused)?;
    let temp = dir.join(TEMP_NAME);
    File::create(&temp).map_err(refused)?;
    fs::remove_file(&temp).map_err(refused)
}

/// Writes `users` (exactly `count` of them) and `clock` as the state of `dir`, atomically.
///
/// # Errors
/// The directory or file cannot be created, written, synced or renamed; the old state is then
/// untouched.
pub fn save<'a>(
    dir: &Path,
    rules: u64,
    clock: Option<i64>,
    count: u64,
    users: impl Iterator<Item = (&'a str, Cow<'a, UserState>)>,
) -> Result<(), StoreError> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let temp = dir.join(TEMP_NAME);
    let file = File::create(&temp).map_err(io_err(&temp))?;
    let mut out = Summed::new(BufWriter::with_capacity(1 << 16, file));
    let header = Header {
        clock,
        users: count,
        rules,
        writer: env!("CARGO_PKG_VERSION").to_string(),
    };
    write_header(&mut out, &header).map_err(io_err(&temp))?;
    let (mut written, mut record) = (0_u64, Vec::new());
    for (id, state) in users {
        snapshot::encode_state_into(&state, &mut record);
        write_field(&mut out, id.as_bytes()).map_err(io_err(&temp))?;
        write_field(&mut out, &record).map_err(io_err(&temp))?;
        written += 1;
    }
    assert_eq!(
        written, count,
        "save: the user count matches the users given"
    );
    let sum = out.sum;
    let mut inner = out.inner;
    inner.write_all(&sum.to_le_bytes()).map_err(io_err(&temp))?;
    let file = inner
        .into_inner()
        .map_err(|e| io_err(&temp)(e.into_error()))?;
    file.sync_all().map_err(io_err(&temp))?;
    drop(file);
    let target = dir.join(FILE_NAME);
    fs::rename(&temp, &target).map_err(io_err(&target))?;
    // The rename is durable once the directory is synced (not possible on every platform).
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads the users of a state file, after checking its header and checksum.
pub struct StateReader {
    path: PathBuf,
    header: Header,
    input: BufReader<File>,
    left: u64,
}

impl StateReader {
    /// Opens the state of `dir` made for the rule set `rules`; `None` when `dir` holds none.
    ///
    /// # Errors
    /// Unreadable file, another format, another rule set, a damaged or truncated file.
    pub fn open(dir: &Path, rules: u64) -> Result<Option<StateReader>, StoreError> {
        let path = dir.join(FILE_NAME);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&path)(e)),
        };
        let shown = path.display().to_string();
        let mut input = BufReader::with_capacity(1 << 16, file);
        let header = read_header(&mut input, &shown)?;
        // The checksum first: a damaged header is damage, not another rule set.
        verify(&path)?;
        if header.rules != rules {
            return Err(StoreError::Rules { path: shown });
        }
        Ok(Some(StateReader {
            path,
            left: header.users,
            header,
            input,
        }))
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The next user, `None` after the last.
    ///
    /// # Errors
    /// Unreadable file, or a record that does not decode (which a verified file cannot hold
    /// unless it changed while being read).
    pub fn next_user(&mut self) -> Result<Option<(String, UserState)>, StoreError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let corrupt = |what: String| StoreError::Corrupt {
            path: self.path.display().to_string(),
            what,
        };
        let id = read_field(&mut self.input).map_err(io_err(&self.path))?;
        let id = String::from_utf8(id).map_err(|_| corrupt("a user id is not UTF-8".into()))?;
        let record = read_field(&mut self.input).map_err(io_err(&self.path))?;
        let state = snapshot::decode_state(&record)
            .map_err(|e: SnapshotError| corrupt(format!("user {id:?}: {e}")))?;
        Ok(Some((id, state)))
    }
}

fn write_header(out: &mut impl Write, h: &Header) -> io::Result<()> {
    out.write_all(MAGIC)?;
    out.write_all(&FILE_FORMAT.to_le_bytes())?;
    out.write_all(&[snapshot::FORMAT])?;
    out.write_all(&h.rules.to_le_bytes())?;
    out.write_all(&[u8::from(h.clock.is_some())])?;
    out.write_all(&h.clock.unwrap_or(0).to_le_bytes())?;
    out.write_all(&h.users.to_le_bytes())?;
    write_field(out, h.writer.as_bytes())
}

fn read_header(input: &mut impl Read, path: &str) -> Result<Header, StoreError> {
    let not_state = || StoreError::NotState {
        path: path.to_string(),
    };
    // A file that stops inside the header, or is empty, is a state file cut short (saves are
    // atomic, so something else wrote it): damaged, not foreign.
    let truncated = || StoreError::Corrupt {
        path: path.to_string(),
        what: "truncated inside its header".into(),
    };
    let mut magic = Vec::with_capacity(MAGIC.len());
    input
        .take(MAGIC.len() as u64)
        .read_to_end(&mut magic)
        .map_err(|_| not_state())?;
    if magic.len() < MAGIC.len() && MAGIC.starts_with(&magic) {
        return Err(truncated());
    }
    if magic != MAGIC {
        return Err(not_state());
    }
    let mut fixed = [0; 4 + 1 + 8 + 1 + 8 + 8];
    input.read_exact(&mut fixed).map_err(|_| truncated())?;
    let file_format = u32::from_le_bytes(fixed[0..4].try_into().expect("4 bytes"));
    let record_format = fixed[4];
    let writer = read_field(input)
        .ok()
        .and_then(|w| String::from_utf8(w).ok())
        .unwrap_or_else(|| "unknown".into());
    if file_format != FILE_FORMAT || record_format != snapshot::FORMAT {
        return Err(StoreError::Format {
            path: path.to_string(),
            found: format!("{file_format}.{record_format}"),
            expected: format!("{FILE_FORMAT}.{}", snapshot::FORMAT),
            writer,
            ours: env!("CARGO_PKG_VERSION"),
        });
    }
    let u64_at = |at: usize| u64::from_le_bytes(fixed[at..at + 8].try_into().expect("8 bytes"));
    Ok(Header {
        rules: u64_at(5),
        clock: (fixed[13] != 0).then(|| u64_at(14) as i64),
        users: u64_at(22),
        writer,
    })
}

/// Checks the file's trailing checksum against its content.
fn verify(path: &Path) -> Result<(), StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt {
        path: path.display().to_string(),
        what: what.to_string(),
    };
    let file = File::open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    if len < 8 {
        return Err(corrupt("truncated"));
    }
    let mut input = BufReader::with_capacity(1 << 16, file);
    let mut body = (&mut input).take(len - 8);
    let mut sum = FNV_OFFSET;
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = body.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        sum = fnv1a_extend(sum, &buf[..n]);
    }
    let mut stored = [0; 8];
    input.read_exact(&mut stored).map_err(io_err(path))?;
    if u64::from_le_bytes(stored) != sum {
        return Err(corrupt("checksum mismatch: truncated or overwritten"));
    }
    Ok(())
}

fn write_field(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|l| *l <= MAX_FIELD)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "state record too large"))?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(bytes)
}

fn read_field(input: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut len = [0; 4];
    input.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len);
    if len > MAX_FIELD {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "state field length out of range",
        ));
    }
    let mut bytes = vec![0; len as usize];
    input.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// A writer that keeps the FNV-1a of what passes through it.
struct Summed<W> {
    inner: W,
    sum: u64,
}

impl<W: Write> Summed<W> {
    fn new(inner: W) -> Summed<W> {
        Summed {
            inner,
            sum: FNV_OFFSET,
        }
    }
}

impl<W: Write> Write for Summed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sum = fnv1a_extend(self.sum, &buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Var, VarKey};

    fn user(events: u32) -> UserState {
        let mut state = UserState {
            first_by_type: [1_000, 0, 0],
            last_by_type: [2_000, 0, 0],
            events,
            ..UserState::default()
        };
        let key: VarKey = crate::state::vars::intern("store.test").unwrap();
        state.set_var(key, Var::Int(i64::from(events)));
        state
    }

    fn save_two(dir: &Path, rules: u64) {
        let (a, b) = (user(1), user(2));
        let users = [("a", Cow::Borrowed(&a)), ("b", Cow::Borrowed(&b))];
        save(dir, rules, Some(5_000), 2, users.into_iter()).unwrap();
    }

    #[test]
    fn round_trips_users_clock_and_order() {
        let dir = tempfile::tempdir().unwrap();
        assert!(StateReader::open(dir.path(), 7).unwrap().is_none());
        save_two(dir.path(), 7);
        let mut reader = StateReader::open(dir.path(), 7).unwrap().unwrap();
        assert_eq!(reader.header().clock, Some(5_000));
        assert_eq!(reader.header().users, 2);
        let (id, state) = reader.next_user().unwrap().unwrap();
        assert_eq!((id.as_str(), state), ("a", user(1)));
        let (id, state) = reader.next_user().unwrap().unwrap();
        assert_eq!((id.as_str(), state), ("b", user(2)));
        assert!(reader.next_user().unwrap().is_none());
        assert!(!dir.path().join(TEMP_NAME).exists());
    }

    #[test]
    fn another_rule_set_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        save_two(dir.path(), 7);
        let err = StateReader::open(dir.path(), 8).err().unwrap();
        assert!(matches!(err, StoreError::Rules { .. }), "{err}");
        assert!(err.to_string().contains("different rule set"), "{err}");
    }

    #[test]
    fn another_format_is_refused_naming_both_versions() {
        let dir = tempfile::tempdir().unwrap();
        save_two(dir.path(), 7);
        let path = dir.path().join(FILE_NAME);
        let mut bytes = fs::read(&path).unwrap();
        bytes[16] = 9;
        fs::write(&path, bytes).unwrap();
        let err = StateReader::open(dir.path(), 7).err().unwrap().to_string();
        assert!(
            err.contains("format 9.") && err.contains("reads format 1."),
            "{err}"
        );
        fs::write(&path, b"hello").unwrap();
        let err = StateReader::open(dir.path(), 7).err().unwrap();
        assert!(matches!(err, StoreError::NotState { .. }), "{err}");
    }

    #[test]
    fn damaged_or_truncated_files_are_refused_before_any_user() {
        let dir = tempfile::tempdir().unwrap();
        save_two(dir.path(), 7);
        let path = dir.path().join(FILE_NAME);
        let good = fs::read(&path).unwrap();
        let mut flipped = good.clone();
        let at = flipped.len() - 20;
        flipped[at] ^= 1;
        fs::write(&path, &flipped).unwrap();
        let err = StateReader::open(dir.path(), 7).err().unwrap();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        // Cut anywhere, even inside the magic or the header, or emptied: damaged (exit 1),
        // not a foreign file (exit 2).
        for cut in [good.len() - 1, good.len() - 9, 60, 32, 16, 10, 0] {
            fs::write(&path, &good[..cut]).unwrap();
            let err = StateReader::open(dir.path(), 7).err().unwrap();
            assert!(
                matches!(err, StoreError::Corrupt { .. }),
                "cut {cut}: {err}"
            );
        }
        // A flipped bit in the header's rule-set hash is damage too, not another rule set.
        let mut flipped = good.clone();
        flipped[22] ^= 1;
        fs::write(&path, &flipped).unwrap();
        let err = StateReader::open(dir.path(), 7).err().unwrap();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn an_unfinished_write_leaves_the_old_state_readable() {
        let dir = tempfile::tempdir().unwrap();
        save_two(dir.path(), 7);
        // A crash mid-write leaves a partial temporary file beside the state.
        fs::write(dir.path().join(TEMP_NAME), b"tagstream-state\n\x01").unwrap();
        let mut reader = StateReader::open(dir.path(), 7).unwrap().unwrap();
        assert_eq!(reader.header().users, 2);
        assert!(reader.next_user().unwrap().is_some());
        // The next save replaces both.
        let c = user(3);
        save(
            dir.path(),
            7,
            None,
            1,
            [("c", Cow::Borrowed(&c))].into_iter(),
        )
        .unwrap();
        let reader = StateReader::open(dir.path(), 7).unwrap().unwrap();
        assert_eq!((reader.header().users, reader.header().clock), (1, None));
    }
}
