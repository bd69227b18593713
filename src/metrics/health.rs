//! What `/livez` and `/readyz` answer.
//!
//! Live: the processing loop went round within [`LIVE_WINDOW`] (or has not started yet, is
//! restoring partitions, rebalancing or draining). Ready, in Kafka mode: rules loaded, a partition assignment received, every
//! assigned partition restored, no rebalance in progress, not draining. In embedded mode:
//! rules loaded and the input being read.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `/livez` fails when the processing loop has not gone round for this long.
pub const LIVE_WINDOW: Duration = Duration::from_secs(60);

/// No beat yet.
const NEVER: u64 = u64::MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Kafka,
    Embedded,
}

#[derive(Debug)]
struct State {
    mode: Option<Mode>,
    rules: bool,
    /// `None` before the first assignment and during a rebalance.
    assignment: Option<BTreeSet<i32>>,
    restoring: BTreeSet<i32>,
    rebalances: u64,
    draining: bool,
    /// What Kafka mode waits for before it can join its group (the cluster to answer, an
    /// input topic to exist), while it waits.
    waiting: Option<String>,
}

/// One named check of `/readyz?verbose`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub ready: bool,
    pub checks: Vec<Check>,
}

#[derive(Debug)]
pub struct Health {
    started: Instant,
    /// Milliseconds after `started` of the last loop beat, or [`NEVER`].
    beat_ms: AtomicU64,
    state: Mutex<State>,
}

impl Default for Health {
    fn default() -> Self {
        Health::new()
    }
}

impl Health {
    pub fn new() -> Health {
        Health {
            started: Instant::now(),
            beat_ms: AtomicU64::new(NEVER),
            state: Mutex::new(State {
                mode: None,
                rules: false,
                assignment: None,
                restoring: BTreeSet::new(),
                rebalances: 0,
                draining: false,
                waiting: None,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state().mode = Some(mode);
    }

    pub fn rules_loaded(&self) {
        self.state().rules = true;
    }

    /// Kafka mode waits (`what`: why, and for what) before it joins its group; `None` once it
    /// no longer does. `/readyz` says so beside the assignment it lacks.
    pub fn waiting_for(&self, what: Option<String>) {
        self.state().waiting = what;
    }

    pub fn assigned(&self, partitions: &BTreeSet<i32>) {
        let mut s = self.state();
        s.rebalances += 1;
        s.restoring = partitions.clone();
        s.assignment = Some(partitions.clone());
    }

    pub fn revoking(&self, partitions: &BTreeSet<i32>) {
        let mut s = self.state();
        if let Some(assigned) = &mut s.assignment {
            assigned.retain(|p| !partitions.contains(p));
        }
        // Eager rebalancing revokes everything before the new assignment arrives.
        if s.assignment.as_ref().is_none_or(BTreeSet::is_empty) {
            s.assignment = None;
        }
        s.restoring.retain(|p| !partitions.contains(p));
    }

    /// Partition `p`'s state is restored and its records are being processed.
    pub fn restored(&self, p: i32) {
        self.state().restoring.remove(&p);
    }

    pub fn draining(&self) {
        self.state().draining = true;
    }

    pub fn beat(&self) {
        let ms = self
            .started
            .elapsed()
            .as_millis()
            .min(u128::from(NEVER - 1)) as u64;
        self.beat_ms.store(ms, Ordering::Relaxed);
    }

    /// Whether the processing loop is making progress, and why not.
    pub fn liveness(&self) -> (bool, String) {
        let beat = self.beat_ms.load(Ordering::Relaxed);
        if beat == NEVER {
            return (true, "starting".into());
        }
        {
            let s = self.state();
            if s.draining {
                return (true, "draining".into());
            }
            // Restoring a large changelog, or checkpointing on revoke, holds the loop up for
            // as long as it takes: that is progress, not a hang to restart for.
            if !s.restoring.is_empty() {
                return (true, format!("restoring partitions {:?}", s.restoring));
            }
            if s.rebalances > 0 && s.assignment.is_none() {
                return (true, "rebalance in progress".into());
            }
        }
        let now = self.started.elapsed().as_millis() as u64;
        let idle = Duration::from_millis(now.saturating_sub(beat));
        if idle <= LIVE_WINDOW {
            (true, "processing loop running".into())
        } else {
            (
                false,
                format!("processing loop stuck for {}s", idle.as_secs()),
            )
        }
    }

    pub fn readiness(&self) -> Readiness {
        let s = self.state();
        let mut checks = vec![Check {
            name: "rules",
            ok: s.rules,
            detail: if s.rules { "loaded" } else { "not loaded" }.into(),
        }];
        match s.mode {
            None => checks.push(Check {
                name: "pipeline",
                ok: false,
                detail: "not started".into(),
            }),
            Some(Mode::Embedded) => checks.push(Check {
                name: "input",
                ok: !s.draining,
                detail: if s.draining { "finished" } else { "reading" }.into(),
            }),
            Some(Mode::Kafka) => {
                checks.push(match &s.assignment {
                    Some(a) => Check {
                        name: "assignment",
                        ok: true,
                        detail: format!("{} partitions {a:?}", a.len()),
                    },
                    None if s.rebalances == 0 => Check {
                        name: "assignment",
                        ok: false,
                        detail: match &s.waiting {
                            Some(what) => format!("no partition assignment yet: {what}"),
                            None => "no partition assignment yet".into(),
                        },
                    },
                    None => Check {
                        name: "assignment",
                        ok: false,
                        detail: "rebalance in progress".into(),
                    },
                });
                checks.push(Check {
                    name: "restore",
                    ok: s.restoring.is_empty(),
                    detail: if s.restoring.is_empty() {
                        "every assigned partition restored".into()
                    } else {
                        format!("restoring partitions {:?}", s.restoring)
                    },
                });
                checks.push(Check {
                    name: "shutdown",
                    ok: !s.draining,
                    detail: if s.draining { "draining" } else { "running" }.into(),
                });
            }
        }
        Readiness {
            ready: checks.iter().all(|c| c.ok),
            checks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ps: &[i32]) -> BTreeSet<i32> {
        ps.iter().copied().collect()
    }

    #[test]
    fn kafka_readiness_follows_assignment_restore_rebalance_and_drain() {
        let h = Health::new();
        h.set_mode(Mode::Kafka);
        assert!(!h.readiness().ready, "rules not loaded");
        h.rules_loaded();
        let r = h.readiness();
        assert!(!r.ready);
        assert!(r
            .checks
            .iter()
            .any(|c| c.detail == "no partition assignment yet"));
        h.assigned(&set(&[0, 1]));
        assert!(!h.readiness().ready, "partitions still restoring");
        h.restored(0);
        assert!(!h.readiness().ready);
        h.restored(1);
        assert!(h.readiness().ready);
        h.revoking(&set(&[0, 1]));
        let r = h.readiness();
        assert!(!r.ready);
        assert!(r.checks.iter().any(|c| c.detail == "rebalance in progress"));
        h.assigned(&set(&[]));
        assert!(h.readiness().ready, "an empty assignment is an assignment");
        h.draining();
        assert!(!h.readiness().ready);
    }

    #[test]
    fn kafka_readiness_names_what_the_start_waits_for() {
        let h = Health::new();
        h.set_mode(Mode::Kafka);
        h.rules_loaded();
        h.waiting_for(Some("cluster at 127.0.0.1:1 not reachable".into()));
        let r = h.readiness();
        assert!(!r.ready);
        assert!(
            r.checks
                .iter()
                .any(|c| c.detail
                    == "no partition assignment yet: cluster at 127.0.0.1:1 not reachable"),
            "{r:?}"
        );
        h.waiting_for(None);
        assert!(h
            .readiness()
            .checks
            .iter()
            .any(|c| c.detail == "no partition assignment yet"));
    }

    #[test]
    fn embedded_is_ready_while_reading() {
        let h = Health::new();
        h.set_mode(Mode::Embedded);
        h.rules_loaded();
        assert!(h.readiness().ready);
        h.draining();
        assert!(!h.readiness().ready);
    }

    #[test]
    fn live_until_the_loop_stops_going_round() {
        let h = Health::new();
        assert!(h.liveness().0, "live while starting");
        h.beat();
        assert!(h.liveness().0);
        // A beat older than the window.
        h.beat_ms.store(0, Ordering::Relaxed);
        let h = Health {
            started: Instant::now() - LIVE_WINDOW - Duration::from_secs(1),
            ..h
        };
        let (live, why) = h.liveness();
        assert!(!live);
        assert!(why.contains("stuck"), "{why}");
        h.assigned(&set(&[3]));
        assert!(h.liveness().0, "restoring is progress");
        h.restored(3);
        assert!(!h.liveness().0);
    }
}
