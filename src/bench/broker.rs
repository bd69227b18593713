//! The broker for `--kafka`: a given one (`--bootstrap`), or a local tansu started through
//! `scripts/tansu.sh` and stopped by pid when dropped, also when the bench fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::BenchError;

pub struct Broker {
    pub bootstrap: String,
    /// Set when this bench started the broker: the script and the broker's pid.
    started: Option<(PathBuf, String)>,
}

impl Broker {
    /// Uses `existing`, or starts tansu on a free loopback port.
    ///
    /// # Errors
    /// `scripts/tansu.sh` is not found above the current directory, or the broker does not start.
    pub fn connect_or_start(existing: Option<&str>) -> Result<Broker, BenchError> {
        if let Some(bootstrap) = existing {
            return Ok(Broker {
                bootstrap: bootstrap.to_string(),
                started: None,
            });
        }
        let script = find_script()?;
        let port = run_script(&script, &["free-port"])?;
        let pid = run_script(&script, &["start", &port]).map_err(|e| {
            BenchError::Failed(format!(
                "{e}\n(is tansu installed? `scripts/tansu.sh install`; its log is /tmp/tansu-{port}.log)"
            ))
        })?;
        tracing::debug!(port, pid, "tansu started");
        Ok(Broker {
            bootstrap: format!("127.0.0.1:{port}"),
            started: Some((script, pid)),
        })
    }

    /// The broker's pid, when this bench started it (its CPU time can then be read).
    pub fn pid(&self) -> Option<u32> {
        self.started.as_ref().and_then(|(_, pid)| pid.parse().ok())
    }

    /// How the report names the broker.
    pub fn describe(&self) -> String {
        match &self.started {
            Some((_, pid)) => format!("local tansu at {} (pid {pid})", self.bootstrap),
            None => format!("broker at {}", self.bootstrap),
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some((script, pid)) = &self.started {
            if let Err(e) = run_script(script, &["stop", pid]) {
                crate::cli::to_stderr(format_args!(
                    "warning: could not stop tansu (pid {pid}): {e}"
                ));
            }
        }
    }
}

/// How long [`probe`] waits for a given broker to answer.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Asks the broker given by `--bootstrap` for its metadata, before any stage runs: a wrong
/// address is then said at once and in these words, rather than as an admin call's timeout
/// once the stages before Kafka's have run.
///
/// # Errors
/// No broker answers at `bootstrap` within [`PROBE_TIMEOUT`].
pub fn probe(bootstrap: &str) -> Result<(), BenchError> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    consumer
        .fetch_metadata(None, PROBE_TIMEOUT)
        .map(|_| ())
        .map_err(|e| {
            BenchError::Failed(format!(
                "--bootstrap {bootstrap}: no Kafka broker answered within {} s ({e}); start \
                 one there, or leave out --bootstrap to start a local tansu",
                PROBE_TIMEOUT.as_secs()
            ))
        })
}

/// `scripts/tansu.sh` in the current directory or the nearest parent that has one.
pub(super) fn find_script() -> Result<PathBuf, BenchError> {
    let cwd = std::env::current_dir().map_err(|source| BenchError::Io {
        what: "current directory".into(),
        source,
    })?;
    cwd.ancestors()
        .map(|dir| dir.join("scripts/tansu.sh"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            BenchError::Usage(format!(
                "--kafka needs scripts/tansu.sh: not found in {} or any parent (run from the repository, or pass --bootstrap HOST:PORT)",
                cwd.display()
            ))
        })
}

/// Runs the script with `~/.cargo/bin` on the path (where `cargo install tansu` puts it);
/// returns the last line of its stdout.
fn run_script(script: &Path, args: &[&str]) -> Result<String, BenchError> {
    let mut path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        let mut dirs = vec![PathBuf::from(home).join(".cargo/bin")];
        dirs.extend(std::env::split_paths(&path));
        if let Ok(joined) = std::env::join_paths(dirs) {
            path = joined;
        }
    }
    let out = Command::new("bash")
        .arg(script)
        .args(args)
        .env("PATH", path)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| BenchError::Io {
            what: format!("run {}", script.display()),
            source,
        })?;
    if !out.status.success() {
        return Err(BenchError::Failed(format!(
            "{} {} failed ({}): {}",
            script.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string())
}
