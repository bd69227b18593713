//! `scripts/deps.sh`, the first half of the README's first command: on a machine without what a
//! build needs it says what is missing and how to get it, instead of leaving cargo or the C
//! build to fail later with a message about something else.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::repo;

/// A directory holding the tools `deps.sh` itself uses, taken from this machine, and `extra`
/// small scripts (name, body): a PATH with nothing else on it.
fn bare_path(extra: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for tool in ["bash", "sed", "sort", "head", "dirname"] {
        let real = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{tool} not found in /usr/bin or /bin"));
        std::os::unix::fs::symlink(real, dir.path().join(tool)).unwrap();
    }
    for (name, body) in extra {
        let path: PathBuf = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        let mut perms = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&path, perms).unwrap();
    }
    dir
}

/// Runs `scripts/deps.sh` with only `path` on PATH: exit code and stderr.
fn deps_with(path: &Path) -> (Option<i32>, String) {
    let out = Command::new(path.join("bash"))
        .arg(repo().join("scripts/deps.sh"))
        .env_clear()
        .env("PATH", path)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn deps_says_how_to_install_rust_when_cargo_is_missing() {
    let bin = bare_path(&[]);
    let (code, err) = deps_with(bin.path());
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("error: cargo (the Rust toolchain) was not found on PATH.")
            && err.contains("Install Rust 1.82 or newer with rustup"),
        "{err}"
    );
}

#[test]
fn deps_refuses_a_rust_older_than_the_crate_needs() {
    let bin = bare_path(&[
        ("cargo", "exit 0"),
        ("rustc", "echo 'rustc 1.70.0 (90c541806 2023-05-31)'"),
    ]);
    let (code, err) = deps_with(bin.path());
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("error: rustc 1.70.0 is older than the 1.82 this crate needs.")
            && err.contains("rustup update stable"),
        "{err}"
    );
}

/// With Rust in place, a machine without a C compiler (and no apt-get to install one) is told
/// what to install, by system.
#[test]
fn deps_names_the_c_toolchain_when_it_cannot_install_it() {
    let bin = bare_path(&[
        ("cargo", "exit 0"),
        ("rustc", "echo 'rustc 1.95.0 (59807616e 2026-03-26)'"),
    ]);
    let (code, err) = deps_with(bin.path());
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("error: a C compiler (cc) and make were not found")
            && err.contains("Debian/Ubuntu:"),
        "{err}"
    );
}
