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
        vec!["run", "--input", "examples/sample.jsonl", "--output", "/dev/null"],
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
        .env("TAGSTREAM_ACTIVITY__HALF_LIFE", OsStr::from_bytes(b"7d\xff"))
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
