//! Hot reload: a new rule set on SIGHUP, or when the rules directory, the catalogue or the
//! parameters change on disk.
//!
//! A reloader thread loads, compiles and checks the new set — off the processing path — and
//! publishes it only when it is clean (it loads, and `tagstream check` finds no error in it);
//! otherwise the running set stays and the errors are logged with their `file:line`. The
//! pipeline asks its [`RulesWatch`] between two events and swaps the set in there, keeping all state. From the moment a reload starts (the signal, or
//! the end of a burst of file changes) until it is decided, the pipeline waits before its next
//! event: events read before the signal run on the old set, events after it on the new one.
//!
//! File changes are debounced ([`DEBOUNCE`]): an editor's save, or a deployment copying several
//! files, is one reload. Only `*.rhai` files of the rules directory and the catalogue and
//! parameter files themselves count; the directories holding them are watched rather than the
//! files, so a file replaced by a rename (how most editors and deploy tools save) is seen.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::rules::check;
use crate::rules::RulePack;
use triggers::{listen_for_sighup, watch_files};

mod triggers;

/// Quiet time after the last file change before a reload starts.
pub const DEBOUNCE: Duration = Duration::from_millis(300);

/// The longest the pipeline waits for a reload to be decided before it goes on with the old set.
const DECISION_WAIT: Duration = Duration::from_secs(30);

/// Reloads that published a new set, and reloads that failed (what the metrics report).
static RELOADS_OK: AtomicU64 = AtomicU64::new(0);
static RELOADS_FAILED: AtomicU64 = AtomicU64::new(0);

/// Counts a reload's outcome: the one place a reload is counted (the metrics of
/// `tagstream_rules_reloads_total{result="ok"|"error"}`, fed from here).
pub fn reload_outcome(ok: bool) {
    crate::metrics::rules_reloaded(ok);
    if ok {
        RELOADS_OK.fetch_add(1, Ordering::Relaxed);
    } else {
        RELOADS_FAILED.fetch_add(1, Ordering::Relaxed);
    }
}

/// `(ok, failed)` reloads since the process started.
pub fn reloads() -> (u64, u64) {
    (
        RELOADS_OK.load(Ordering::Relaxed),
        RELOADS_FAILED.load(Ordering::Relaxed),
    )
}

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("cannot watch {path} for changes: {source}")]
    Watch { path: String, source: notify::Error },
    #[error("cannot listen for SIGHUP: {0}")]
    Signal(std::io::Error),
    #[error("cannot start the reloader thread: {0}")]
    Thread(std::io::Error),
}

/// Where a rule set is loaded from: what `tagstream run` was started with.
#[derive(Debug, Clone)]
pub struct RuleSources {
    pub dir: PathBuf,
    pub catalogue: PathBuf,
    pub params: PathBuf,
    /// `TAGSTREAM_*` variables (parameter overrides).
    pub vars: Vec<(String, String)>,
    /// The limits the running set was given (`rules.time_budget`); a new set runs under them.
    pub limits: crate::rules::Limits,
    /// How the running set's handlers run (`rules.execution`); a new set's run the same way.
    pub execution: crate::rules::Execution,
}

impl RuleSources {
    /// Loads and compiles the set, with the validation that stops a set from loading (what else
    /// `tagstream check` reports is logged by [`crate::rules::check::warn_findings`]).
    ///
    /// # Errors
    /// Whatever makes the set unusable, with its `file:line`.
    pub fn load(&self) -> Result<RulePack, crate::rules::RulesError> {
        let mut pack = RulePack::load(&self.dir, &self.catalogue, &self.params, &self.vars)?;
        pack.limits = self.limits;
        pack.execution = self.execution;
        Ok(pack)
    }

    /// Logs what `tagstream check` reports for the set live at `version`
    /// ([`crate::rules::check::warn_findings`]).
    pub fn warn_findings(&self, version: &str) {
        crate::rules::check::warn_findings(&self.check_sources(), &self.vars, version);
    }

    /// What `tagstream check` reports for a set that loads ([`crate::rules::check::findings`]).
    pub fn findings(&self) -> Vec<crate::rules::check::Diagnostic> {
        crate::rules::check::findings(&self.check_sources(), &self.vars)
    }

    fn check_sources(&self) -> crate::rules::check::Sources {
        crate::rules::check::Sources {
            rules_dir: self.dir.clone(),
            catalogue: self.catalogue.clone(),
            params: self.params.clone(),
        }
    }
}

struct Published {
    /// Bumped for every new set; the pipeline remembers the last it took.
    generation: u64,
    pack: RulePack,
    /// A reload has started and is not decided yet.
    deciding: bool,
}

struct Shared {
    /// `generation * 2 + deciding`, read on every event without taking the lock.
    hint: AtomicU64,
    state: Mutex<Published>,
    decided: Condvar,
}

impl Shared {
    fn update(&self, f: impl FnOnce(&mut Published)) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut state);
        self.hint.store(
            state.generation * 2 + u64::from(state.deciding),
            Ordering::Release,
        );
        self.decided.notify_all();
    }
}

/// The pipeline's view of the reloader: asked between two events for a new set.
#[derive(Clone)]
pub struct RulesWatch {
    shared: Arc<Shared>,
    seen: u64,
}

impl std::fmt::Debug for RulesWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RulesWatch")
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl RulesWatch {
    /// A watch that never reports a new set (no reloader behind it).
    pub fn fixed(pack: &RulePack) -> RulesWatch {
        RulesWatch {
            shared: Arc::new(Shared {
                hint: AtomicU64::new(0),
                state: Mutex::new(Published {
                    generation: 0,
                    pack: pack.clone(),
                    deciding: false,
                }),
                decided: Condvar::new(),
            }),
            seen: 0,
        }
    }

    /// The set to run from the next event on, when it differs from the last one taken. Waits
    /// while a reload is being decided.
    pub fn take_new(&mut self) -> Option<RulePack> {
        if self.shared.hint.load(Ordering::Acquire) == self.seen * 2 {
            return None;
        }
        let state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        let (state, timeout) = self
            .shared
            .decided
            .wait_timeout_while(state, DECISION_WAIT, |s| s.deciding)
            .unwrap_or_else(|e| e.into_inner());
        if timeout.timed_out() {
            tracing::warn!("rules reload still undecided; going on with the running set");
        }
        if state.generation == self.seen {
            return None;
        }
        self.seen = state.generation;
        Some(state.pack.clone())
    }
}

/// What starts a reload.
enum Trigger {
    Signal,
    Files,
}

/// Starts watching for SIGHUP and for changes to the rule files; `running` is the set the
/// pipeline starts with.
///
/// # Errors
/// SIGHUP cannot be caught, or no thread can be started. (Files that cannot be watched are
/// logged: SIGHUP still reloads.)
pub fn start(sources: RuleSources, running: &RulePack) -> Result<RulesWatch, ReloadError> {
    let watch = RulesWatch::fixed(running);
    let (tx, rx) = channel();
    listen_for_sighup(tx.clone())?;
    // Without a watcher (inotify limits, an unwatchable file system) SIGHUP still reloads.
    let watcher = match watch_files(&sources, tx) {
        Ok(watcher) => Some(watcher),
        Err(e) => {
            tracing::warn!("{e}; rules reload on SIGHUP only");
            None
        }
    };
    let target = watch_target(&sources);
    let files = watcher.is_some();
    let shared = watch.shared.clone();
    let version = running.version.clone();
    std::thread::Builder::new()
        .name("rules-reload".into())
        .spawn(move || {
            // Dropping the watcher would stop the notifications.
            let _watcher = watcher;
            reload_loop(&sources, &shared, version, &rx);
        })
        .map_err(ReloadError::Thread)?;
    if files {
        tracing::info!(rules = %target, "hot reload on SIGHUP and on file changes");
    } else {
        tracing::info!(rules = %target, "hot reload on SIGHUP");
    }
    Ok(watch)
}

fn watch_target(sources: &RuleSources) -> String {
    format!(
        "{}, {}, {}",
        sources.dir.display(),
        sources.catalogue.display(),
        sources.params.display()
    )
}

fn reload_loop(
    sources: &RuleSources,
    shared: &Shared,
    mut running: Arc<str>,
    rx: &Receiver<Trigger>,
) {
    while let Ok(first) = rx.recv() {
        let mut signalled = matches!(first, Trigger::Signal);
        if !signalled {
            // Wait until the files have been quiet for DEBOUNCE; a signal cuts the wait short.
            loop {
                match rx.recv_timeout(DEBOUNCE) {
                    Ok(Trigger::Files) => continue,
                    Ok(Trigger::Signal) => {
                        signalled = true;
                        break;
                    }
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        }
        shared.update(|s| s.deciding = true);
        // Triggers that arrived meanwhile are covered by this reload.
        while rx.try_recv().is_ok() {}
        let cause = if signalled { "SIGHUP" } else { "file change" };
        match sources.load() {
            Ok(pack) if pack.version == running => {
                tracing::info!(cause, version = %pack.version, "rules reloaded: unchanged");
                reload_outcome(true);
                shared.update(|s| s.deciding = false);
            }
            Ok(pack) => {
                // A set `check` finds errors in (a parameter of the wrong type, one a rule
                // reads and the file lacks) would fail call after call: the running set,
                // which works, stays. At start there is no set to keep, and it runs anyway.
                let findings = sources.findings();
                let errors: Vec<_> = findings.iter().filter(|d| d.is_error()).collect();
                if let Some(first) = errors.first() {
                    tracing::error!(cause, version = %running, refused = %pack.version, errors = errors.len(),
                        "rules reload refused, the running set stays: `tagstream check` reports errors in the new set: {first}");
                    for d in errors.iter().skip(1).take(check::LOGGED_FINDINGS - 1) {
                        tracing::error!(version = %running, "rules check: {d}");
                    }
                    reload_outcome(false);
                    shared.update(|s| s.deciding = false);
                    continue;
                }
                tracing::info!(cause, version = %pack.version, previous = %running, rules = pack.rules.len(), "rules reloaded");
                reload_outcome(true);
                crate::metrics::set_rules(&pack);
                running = pack.version.clone();
                shared.update(|s| {
                    s.pack = pack;
                    s.generation += 1;
                    s.deciding = false;
                });
                // Its warnings, once the set is live.
                check::log_findings(findings, &running);
            }
            Err(e) => {
                tracing::error!(cause, version = %running, "rules reload failed, the running set stays: {e}");
                reload_outcome(false);
                shared.update(|s| s.deciding = false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Instant;

    use super::*;

    fn shipped() -> RulePack {
        RulePack::load(
            Path::new("rules"),
            Path::new("config/tags.toml"),
            Path::new("config/params.toml"),
            &[],
        )
        .unwrap()
    }

    #[test]
    fn a_watch_waits_while_a_reload_is_decided_then_takes_the_new_set_once() {
        let running = shipped();
        let mut watch = RulesWatch::fixed(&running);
        assert!(watch.take_new().is_none(), "nothing new at the start");
        let shared = watch.shared.clone();
        shared.update(|s| s.deciding = true);
        let mut next = running.clone();
        next.version = "next".into();
        let publisher = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            shared.update(|s| {
                s.pack = next;
                s.generation += 1;
                s.deciding = false;
            });
        });
        let asked = Instant::now();
        let taken = watch.take_new().expect("the new set");
        assert!(
            asked.elapsed() >= Duration::from_millis(100),
            "it waited for the decision"
        );
        assert_eq!(&*taken.version, "next");
        assert!(watch.take_new().is_none(), "a set is taken once");
        publisher.join().unwrap();
    }

    /// `rules.execution` is read once, at start: a reloaded set runs its handlers the way the
    /// running one does, as it keeps its limits.
    #[test]
    fn a_reloaded_set_runs_as_the_running_one() {
        let mut running = shipped();
        running.execution = crate::rules::Execution::Interpreted;
        running.limits.time_budget_ms = 7;
        let sources = RuleSources {
            dir: "rules".into(),
            catalogue: "config/tags.toml".into(),
            params: "config/params.toml".into(),
            vars: Vec::new(),
            limits: running.limits,
            execution: running.execution,
        };
        let reloaded = sources.load().unwrap();
        assert_eq!(reloaded.execution, crate::rules::Execution::Interpreted);
        assert_eq!(reloaded.limits.time_budget_ms, 7);
        let set = crate::rules::RuleSet::compile(&reloaded).unwrap();
        for (i, rule) in reloaded.rules.iter().enumerate() {
            assert_eq!(
                set.interpreted_because(i),
                Some("rules.execution = \"interpreted\""),
                "{}",
                rule.name
            );
        }
    }

    #[test]
    fn a_failed_reload_leaves_the_running_set() {
        let running = shipped();
        let mut watch = RulesWatch::fixed(&running);
        let shared = watch.shared.clone();
        shared.update(|s| s.deciding = true);
        shared.update(|s| s.deciding = false);
        assert!(watch.take_new().is_none());
    }
}
