//! A path the config file sets and a command-line flag overrides: the flag's value is the one
//! checked, so an empty path in the file does not stop a run that names the path another way;
//! an empty path still in effect is refused at the file's line.

use std::process::Stdio;

use crate::support::{check_config, repo, tagstream};

/// `rules.dir = ""` (and the catalogue and parameters) in the file was refused even with
/// `--rules DIR` given: the file was checked before the flags were applied.
#[test]
fn a_flag_stands_in_for_an_empty_rules_path_in_the_file() {
    let root = repo();
    let cases = [
        ("dir", "--rules", root.join("rules")),
        ("catalogue", "--catalogue", root.join("config/tags.toml")),
        ("params", "--params", root.join("config/params.toml")),
    ];
    for (key, flag, path) in cases {
        let path = path.to_str().unwrap();
        let (code, err, _) = check_config(&format!("[rules]\n{key} = \"\"\n"), &[flag, path], &[]);
        assert_eq!(code, Some(0), "{key}: {err}");
        // The environment's empty value is overridden too.
        let var = format!("TAGSTREAM_RULES__{}", key.to_uppercase());
        let (code, err, _) = check_config("", &[flag, path], &[(&var, "")]);
        assert_eq!(code, Some(0), "{var}: {err}");
    }
}

/// A flag for another path leaves the empty one in effect: still refused at its line.
#[test]
fn an_empty_rules_path_no_flag_overrides_is_still_refused_at_its_line() {
    let catalogue = repo().join("config/tags.toml");
    let (code, err, _) = check_config(
        "[rules]\ndir = \"\"\n",
        &["--catalogue", catalogue.to_str().unwrap()],
        &[],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("CONFIG:2: rules.dir must not be empty"),
        "{err}"
    );
}

/// `state.dir = ""` with `state.embedded` and `run --state DIR`: the run keeps its state in
/// DIR; without `--state`, the empty directory is refused at its line.
#[test]
fn state_flag_stands_in_for_an_empty_state_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("tagstream.toml");
    std::fs::write(&config, "[state]\ndir = \"\"\nembedded = true\n").unwrap();
    let state = tmp.path().join("st");
    let run = |with_state: bool| {
        let mut cmd = tagstream();
        cmd.args(["run", "--input", "-", "--output", "/dev/null", "--config"])
            .arg(&config);
        if with_state {
            cmd.arg("--state").arg(&state);
        }
        cmd.stdin(Stdio::null()).output().unwrap()
    };
    let out = run(true);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(state.join("tagstream.state").exists(), "{err}");
    let out = run(false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "{}:2: state.dir must not be empty",
            config.display()
        )),
        "{err}"
    );
}

/// A rules path that does not exist, set by an override, is named with its variable: the
/// file and the command line do not hold it, so the operator would not find it there.
#[test]
fn a_missing_rules_path_set_by_an_override_names_the_variable() {
    let (code, err, _) = check_config("", &[], &[("TAGSTREAM_RULES__DIR", "rulez")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("rulez (set by TAGSTREAM_RULES__DIR)"), "{err}");
    let (code, err, _) = check_config(
        "",
        &[],
        &[("TAGSTREAM_RULES__CATALOGUE", "/nowhere/tags.toml")],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("hint: /nowhere/tags.toml (set by TAGSTREAM_RULES__CATALOGUE) does not exist"),
        "{err}"
    );
}
