//! The process environment a command starts in: what it holds besides tagstream's variables is
//! none of tagstream's business, and a `TAGSTREAM_*` variable that cannot be used is named.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use crate::support::tagstream;

/// `std::env::vars` panics on the first variable that is not UTF-8, whoever set it: every
/// command that reads the config died with a backtrace (exit 101).
#[test]
fn a_variable_that_is_not_utf8_is_no_panic() {
    let bytes = OsStr::from_bytes(b"caf\xe9");
    for command in [
        vec!["check"],
        vec!["test", "price"],
        vec![
            "run",
            "--input",
            "examples/sample.jsonl",
            "--output",
            "/dev/null",
        ],
    ] {
        let out = tagstream()
            .args(&command)
            .env("LEGACY_LATIN1_NAME", bytes)
            .env(OsStr::from_bytes(b"OTHER_\xff"), "1")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{command:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let out = tagstream()
        .arg("check")
        .env(
            "TAGSTREAM_ACTIVITY__HALF_LIFE",
            OsStr::from_bytes(b"7d\xff"),
        )
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "environment variable TAGSTREAM_ACTIVITY__HALF_LIFE: its value is not valid UTF-8"
        ),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// `TAGSTREAM_STATE=/var/lib/tagstream` names a section and no key: it was ignored without a
/// word, as `TAGSTREAM_STATE_DIR` no longer is.
#[test]
fn a_variable_naming_only_a_section_is_refused_with_its_keys() {
    for (var, says) in [
        (
            "TAGSTREAM_STATE",
            "environment variable TAGSTREAM_STATE: names the section [state] but no key; set \
             one key as TAGSTREAM_STATE__<KEY> (dir, embedded)",
        ),
        (
            "TAGSTREAM_ACTIVITY",
            "environment variable TAGSTREAM_ACTIVITY: names the section [activity] but no key; \
             set one key as TAGSTREAM_ACTIVITY__<KEY> (half_life, ",
        ),
    ] {
        let out = tagstream().arg("check").env(var, "x").output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}: {err}");
        assert!(err.contains(says), "{var}: {err}");
    }
    // Not a section: none of tagstream's business.
    let out = tagstream()
        .arg("check")
        .env("TAGSTREAM_FUZZ", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    // TAGSTREAM_LOG is the log filter, even beside parameters of a rule named `log`.
    let dir = tempfile::tempdir().unwrap();
    let params = dir.path().join("params.toml");
    let shipped = std::fs::read_to_string(crate::support::repo().join("config/params.toml"));
    std::fs::write(&params, shipped.unwrap() + "\n[log]\nlevel = 1\n").unwrap();
    let out = tagstream()
        .arg("check")
        .arg("--params")
        .arg(&params)
        .env("TAGSTREAM_LOG", "warn")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
}
