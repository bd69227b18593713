//! `tagstream explain` and the ids it is asked about: ids with control characters shown
//! escaped, and the ids near an unknown one suggested.

use serde_json::Value;

use crate::query::{ok, with_pack};
use crate::support::*;

/// An id with a control character is shown quoted and escaped in the text report (as error
/// messages show it), so each line of the report stays one line; and `--changes -` reads the
/// history from stdin.
#[test]
fn explain_quotes_ids_with_control_characters_and_reads_changes_from_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let events: String = (0..3)
        .map(|i| {
            let ts = T0 + i * HOUR;
            let id = format!("e\t{i}");
            let e = serde_json::json!({"type":"chat","user_id":"a\nb","ts":ts,"text":"这个多少钱？","event_id":id});
            format!("{e}\n")
        })
        .collect();
    std::fs::write(d.join("in.jsonl"), events).unwrap();
    let mut cmd = tagstream_in(d);
    cmd.args(["run", "--input", "in.jsonl", "--output", "out.jsonl"])
        .args(["--dead-letter", "/dev/null", "--state", "st"]);
    ok(with_pack(&mut cmd).output().unwrap());
    let changes = std::fs::read_to_string(d.join("out.jsonl")).unwrap();
    assert!(changes.lines().count() >= 2, "{changes}");
    let mut cmd = tagstream_in(d);
    cmd.args(["explain", "a\nb", "--state", "st", "--changes", "-"])
        .stdin(std::fs::File::open(d.join("out.jsonl")).unwrap());
    let text = ok(with_pack(&mut cmd).output().unwrap());
    assert!(text.starts_with("user \"a\\nb\"  (state as of "), "{text}");
    assert!(text.contains(" on event \"e\\t0\": said "), "{text}");
    assert!(
        text.contains(&format!(
            "changes ({}, newest last):",
            changes.lines().count()
        )),
        "{text}"
    );
    assert!(
        !text.contains('\t') && !text.lines().any(|l| l.starts_with('b')),
        "{text}"
    );
    // A history whose last line was cut short (a run killed mid-write) is read up to it, and
    // says so; a bad line that is not the last is still the wrong file.
    let whole = changes.len();
    let cut = &changes[..whole - 10];
    std::fs::write(d.join("cut.jsonl"), cut).unwrap();
    let mut cmd = tagstream_in(d);
    cmd.args(["explain", "a\nb", "--state", "st", "--changes", "cut.jsonl"]);
    let out = with_pack(&mut cmd).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let text = ok(out);
    let n = changes.lines().count();
    assert!(
        text.contains(&format!("changes ({}, newest last):", n - 1)),
        "{text}"
    );
    assert!(
        err.contains(&format!("cut.jsonl:{n}: the last line is cut short")),
        "{err}"
    );
    std::fs::write(d.join("cut.jsonl"), format!("{cut}\n{changes}")).unwrap();
    let mut cmd = tagstream_in(d);
    cmd.args(["explain", "a\nb", "--state", "st", "--changes", "cut.jsonl"]);
    let out = with_pack(&mut cmd).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("cut.jsonl:{n}: not a tag change"))
    );
    // JSON keeps the ids as they are.
    let mut cmd = tagstream_in(d);
    cmd.args(["explain", "a\nb", "--state", "st", "--format", "json"]);
    let report: Value = serde_json::from_str(&ok(with_pack(&mut cmd).output().unwrap())).unwrap();
    assert_eq!(report["user_id"], "a\nb");
}

/// An id with no state is an unknown user (exit 1) with the ids near it that have some: the
/// same id in other case or with a stray space first, then ids a typo away, at most three.
#[test]
fn explain_suggests_ids_near_an_unknown_one() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let users = [
        "wm_1042",
        "wm_1043",
        "wm_1049",
        "wm_1041",
        "Shop-Alice",
        "persona_new_1",
    ];
    let lines: Vec<String> = users
        .iter()
        .enumerate()
        .map(|(i, u)| chat(u, T0 + i as i64 * MINUTE, "你好"))
        .collect();
    write_lines(d, "in.jsonl", &lines);
    let mut cmd = tagstream_in(d);
    cmd.args(["run", "--input", "in.jsonl", "--output", "out.jsonl"])
        .args(["--state", "st"]);
    ok(with_pack(&mut cmd).output().unwrap());
    for (asked, hint) in [
        (
            "WM_1042 ",
            "; did you mean \"wm_1042\", \"wm_1041\" or \"wm_1043\"?",
        ),
        ("shop-alice", "; did you mean \"Shop-Alice\"?"),
        (
            "wm_1044",
            "; did you mean \"wm_1041\", \"wm_1042\" or \"wm_1043\"?",
        ),
        ("persona_new_2", "; did you mean \"persona_new_1\"?"),
        ("someone-else", ""),
    ] {
        let mut cmd = tagstream_in(d);
        cmd.args(["explain", asked, "--state", "st"]);
        let out = with_pack(&mut cmd).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{asked}: {stderr}");
        assert_eq!(
            stderr,
            format!("error: unknown user {asked:?}: no state for this id{hint}\n"),
        );
    }
}
