//! What starts a reload: SIGHUP, and changes to the files that make up the rule set.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;

use notify::{RecursiveMode, Watcher};

use super::{ReloadError, RuleSources, Trigger};

/// Installs the SIGHUP handler (SIGHUP then no longer ends the process) on its own thread.
pub(super) fn listen_for_sighup(tx: Sender<Trigger>) -> Result<(), ReloadError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ReloadError::Signal)?;
        // Registered here, before `start` returns, so no SIGHUP after it can be missed.
        let mut hup = rt
            .block_on(async { signal(SignalKind::hangup()) })
            .map_err(ReloadError::Signal)?;
        std::thread::Builder::new()
            .name("sighup".into())
            .spawn(move || {
                rt.block_on(async {
                    while hup.recv().await.is_some() {
                        tracing::info!("SIGHUP: reloading rules");
                        if tx.send(Trigger::Signal).is_err() {
                            return;
                        }
                    }
                });
            })
            .map_err(ReloadError::Thread)?;
    }
    #[cfg(not(unix))]
    drop(tx);
    Ok(())
}

/// Watches the directories holding the rule files, reporting changes to files that matter.
pub(super) fn watch_files(
    sources: &RuleSources,
    tx: Sender<Trigger>,
) -> Result<notify::RecommendedWatcher, ReloadError> {
    let dir = absolute(&sources.dir);
    let files: Vec<PathBuf> = [&sources.catalogue, &sources.params]
        .into_iter()
        .map(|f| match (f.parent(), f.file_name()) {
            // The directory resolved, the name kept: a symlinked file is still matched by name.
            (Some(parent), Some(name)) => absolute(parent).join(name),
            _ => absolute(f),
        })
        .collect();
    let (dir_c, files_c) = (dir.clone(), files.clone());
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if event.kind.is_access() {
            return;
        }
        let matters = event.paths.iter().any(|p| {
            let in_rules =
                p.parent() == Some(dir_c.as_path()) && crate::rules::check::is_rule_file(p);
            // `..data` and the like: how a Kubernetes volume swaps its files in at once.
            let swapped = p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".."));
            in_rules
                || files_c
                    .iter()
                    .any(|f| f == p || (swapped && f.parent() == p.parent()))
        });
        if matters {
            let _ = tx.send(Trigger::Files);
        }
    })
    .map_err(|source| ReloadError::Watch {
        path: dir.display().to_string(),
        source,
    })?;
    let mut dirs = vec![dir];
    for f in &files {
        if let Some(parent) = f.parent() {
            if !dirs.iter().any(|d| d == parent) {
                dirs.push(parent.to_path_buf());
            }
        }
    }
    for d in dirs {
        watcher
            .watch(&d, RecursiveMode::NonRecursive)
            .map_err(|source| ReloadError::Watch {
                path: d.display().to_string(),
                source,
            })?;
    }
    Ok(watcher)
}

/// `path` made absolute and free of symlinks where it exists, as the watcher reports paths
/// (`""`, the parent of a bare file name, is the working directory).
fn absolute(path: &Path) -> PathBuf {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    std::fs::canonicalize(path).unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    })
}
