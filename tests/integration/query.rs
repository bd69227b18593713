//! `tagstream segment` and `tagstream explain` over the saved state of embedded mode, checked
//! against a fold of the output stream of the same run.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::*;

/// What the output stream says about one held tag: its last `add`.
#[derive(Debug, Clone)]
pub struct Held {
    pub add: Value,
}

/// Folds tag-change lines into the tags each user holds, keeping the change that added each.
pub fn fold_adds(text: &str) -> BTreeMap<String, BTreeMap<String, Held>> {
    let mut users: BTreeMap<String, BTreeMap<String, Held>> = BTreeMap::new();
    for line in text.lines() {
        let c: Value = serde_json::from_str(line).unwrap();
        let user = users
            .entry(c["user_id"].as_str().unwrap().to_string())
            .or_default();
        let tag = c["tag"].as_str().unwrap().to_string();
        match c["op"].as_str().unwrap() {
            "add" => assert!(user.insert(tag, Held { add: c }).is_none()),
            _ => assert!(user.remove(&tag).is_some()),
        }
    }
    users
}

/// The repo's rule pack, from any working directory.
pub(crate) fn with_pack(cmd: &mut Command) -> &mut Command {
    let root = repo();
    cmd.arg("--rules")
        .arg(root.join("rules"))
        .arg("--catalogue")
        .arg(root.join("config/tags.toml"))
        .arg("--params")
        .arg(root.join("config/params.toml"))
}

pub(crate) fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A run over generated personas and random users, saved to `st`; returns its output stream.
fn saved_run(dir: &Path) -> String {
    let opts = tagstream::generate::GenOptions {
        users: 400,
        events: 8_000,
        days: 130,
        seed: 11,
        personas: true,
        ..Default::default()
    };
    let mut bytes = Vec::new();
    tagstream::generate::generate(&opts, &mut bytes).unwrap();
    std::fs::write(dir.join("in.jsonl"), bytes).unwrap();
    ok(with_pack(tagstream_in(dir).args([
        "run",
        "--input",
        "in.jsonl",
        "--output",
        "out.jsonl",
        "--dead-letter",
        "dead.jsonl",
        "--state",
        "st",
        "--workers",
        "2",
    ]))
    .output()
    .unwrap());
    std::fs::read_to_string(dir.join("out.jsonl")).unwrap()
}

pub type Pred = fn(&dyn Fn(&str) -> bool) -> bool;

/// Expressions with what they mean, written out as predicates over "holds tag".
const EXPRESSIONS: [(&str, Pred); 6] = [
    ("lifecycle/mature & value/high & !service/complaint", |h| {
        h("lifecycle/mature") && h("value/high") && !h("service/complaint")
    }),
    ("rfm/*", |h| h("rfm/*")),
    ("intent/* | service/complaint", |h| {
        h("intent/*") || h("service/complaint")
    }),
    ("!(activity/high | activity/medium) & lifecycle/*", |h| {
        !(h("activity/high") || h("activity/medium")) && h("lifecycle/*")
    }),
    ("identity/newcomer&(lifecycle/new|lifecycle/growing)", |h| {
        h("identity/newcomer") && (h("lifecycle/new") || h("lifecycle/growing"))
    }),
    ("value/low | !value/* & rfm/*", |h| {
        h("value/low") || (!h("value/*") && h("rfm/*"))
    }),
];

fn holds(tags: &BTreeMap<String, Held>) -> impl Fn(&str) -> bool + '_ {
    move |t: &str| match t.strip_suffix("/*") {
        Some(group) => tags.keys().any(|k| k.starts_with(&format!("{group}/"))),
        None => tags.contains_key(t),
    }
}

/// Checks JSON-lines segment output against the fold: the users, and for each its tags in
/// `groups` with score and since-when.
pub fn check_segment_jsonl(
    text: &str,
    folded: &BTreeMap<String, BTreeMap<String, Held>>,
    pred: Pred,
    groups: &[&str],
) -> usize {
    let mut got = BTreeMap::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        got.insert(v["user_id"].as_str().unwrap().to_string(), v);
    }
    let expected: Vec<&String> = folded
        .iter()
        .filter(|(_, tags)| pred(&holds(tags)))
        .map(|(u, _)| u)
        .collect();
    assert_eq!(got.keys().collect::<Vec<_>>(), expected);
    for (user, v) in &got {
        let tags = &folded[user];
        let listed: Vec<&str> = v["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["tag"].as_str().unwrap())
            .collect();
        let mut want: Vec<&str> = tags
            .keys()
            .map(String::as_str)
            .filter(|t| groups.iter().any(|g| t.split('/').next() == Some(g)))
            .collect();
        let mut sorted = listed.clone();
        sorted.sort_unstable();
        want.sort_unstable();
        assert_eq!(sorted, want, "{user}");
        for t in v["tags"].as_array().unwrap() {
            let add = &tags[t["tag"].as_str().unwrap()].add;
            assert_eq!(t["since"], add["ts"], "{user}");
            assert_eq!(t["score"], add["score"], "{user}");
        }
    }
    got.len()
}

fn groups_of(expr: &str) -> Vec<&str> {
    let mut groups = Vec::new();
    for word in expr.split(|c: char| "&|!() ".contains(c)) {
        if let Some(g) = word.split('/').next().filter(|g| !g.is_empty()) {
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
    }
    groups
}

#[test]
fn segments_over_saved_state_equal_a_fold_of_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let folded = fold_adds(&saved_run(d));
    let mut non_empty = 0;
    for (expr, pred) in EXPRESSIONS {
        let groups = groups_of(expr);
        let segment = |extra: &[&str]| {
            let mut cmd = tagstream_in(d);
            cmd.args(["segment", expr, "--state", "st"]).args(extra);
            ok(with_pack(&mut cmd).output().unwrap())
        };
        let n = check_segment_jsonl(&segment(&["--format", "jsonl"]), &folded, pred, &groups);
        non_empty += usize::from(n > 0);
        assert_eq!(segment(&["--count"]).trim(), n.to_string(), "{expr}");
        let csv = segment(&[]);
        let mut rows = csv.lines();
        let header: Vec<String> = std::iter::once("user_id".to_string())
            .chain(
                groups
                    .iter()
                    .flat_map(|g| [g.to_string(), format!("{g}_score"), format!("{g}_since")]),
            )
            .collect();
        assert_eq!(rows.next().unwrap(), header.join(","), "{expr}");
        let first_group: Vec<String> = rows
            .map(|r| {
                let cells: Vec<&str> = r.split(',').collect();
                let tags = &folded[cells[0]];
                let mut want: Vec<&str> = tags
                    .keys()
                    .map(String::as_str)
                    .filter(|t| t.split('/').next() == Some(groups[0]))
                    .collect();
                want.sort_unstable();
                assert_eq!(cells[1], want.join(";"), "{expr}: {r}");
                cells[0].to_string()
            })
            .collect();
        assert_eq!(first_group.len(), n, "{expr}");
    }
    assert!(non_empty >= 4, "most expressions select someone");
}

#[test]
fn bad_expressions_are_usage_errors_with_the_position() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    saved_run(d);
    let deep_not = format!("{}rfm/*", "!".repeat(30_000));
    let deep_parens = format!("{}rfm/*{}", "(".repeat(50_000), ")".repeat(50_000));
    for (expr, position, says) in [
        (
            "lifecycle/mature & valu/high",
            20,
            "\"valu/high\" is not declared in the tag catalogue; did you mean \"value/high\"?",
        ),
        ("(rfm/* | value/high", 1, "never closed"),
        ("rfm/* &", 8, "expression ends"),
        ("lifecycle", 1, "write lifecycle/*"),
        ("vip/*", 1, "no declared tag"),
        (
            "rfm/* && value/high",
            8,
            "found '&' (write & for and, | for or)",
        ),
        (
            "rfm/* || value/high",
            8,
            "found '|' (write & for and, | for or)",
        ),
        (
            "lifecycle/*/*",
            1,
            "\"lifecycle/*/*\": * stands only for a whole last segment (group/*)",
        ),
        // Deeper than the stack holds: refused at the 257th level, not a stack overflow.
        (&deep_not, 257, "nested more than 256 deep"),
        (&deep_parens, 257, "nested more than 256 deep"),
    ] {
        let mut cmd = tagstream_in(d);
        cmd.args(["segment", expr, "--state", "st"]);
        let out = with_pack(&mut cmd).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{expr}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("position {position}:")) && err.contains(says),
            "{expr}: {err}"
        );
        assert!(out.stdout.is_empty());
    }
    let mut cmd = tagstream_in(d);
    cmd.args(["segment", "rfm/*", "--state", "nowhere"]);
    let out = with_pack(&mut cmd).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such state directory"));
    assert!(out.stdout.is_empty(), "no header without a source");
    // Long flat chains are fine: they do not nest.
    let chain = vec!["rfm/*"; 20_000].join("|");
    let mut cmd = tagstream_in(d);
    cmd.args(["segment", &chain, "--count", "--state", "st"]);
    let mut once = tagstream_in(d);
    once.args(["segment", "rfm/*", "--count", "--state", "st"]);
    assert_eq!(
        ok(with_pack(&mut cmd).output().unwrap()),
        ok(with_pack(&mut once).output().unwrap())
    );
    // An empty segment still has its header.
    let mut cmd = tagstream_in(d);
    cmd.args([
        "segment",
        "lifecycle/new & lifecycle/mature",
        "--state",
        "st",
    ]);
    let text = ok(with_pack(&mut cmd).output().unwrap());
    assert_eq!(text, "user_id,lifecycle,lifecycle_score,lifecycle_since\n");
}

/// Checks an explain report against the fold and the output stream.
pub fn check_explain(report: &Value, user: &str, held: &BTreeMap<String, Held>, changes: usize) {
    assert_eq!(report["user_id"], user);
    let tags = report["tags"].as_array().unwrap();
    let names: Vec<&str> = tags.iter().map(|t| t["tag"].as_str().unwrap()).collect();
    let mut want: Vec<&str> = held.keys().map(String::as_str).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    want.sort_unstable();
    assert_eq!(sorted, want, "{user}");
    for t in tags {
        let add = &held[t["tag"].as_str().unwrap()].add;
        assert_eq!(t["since"], add["ts"], "{user} {t}");
        assert_eq!(t["rule"], add["rule"], "{user} {t}");
        assert_eq!(t["event_id"], add["event_id"], "{user} {t}");
        assert_eq!(t["reason"], add["reason"], "{user} {t}");
        assert_eq!(t["score"], add["score"], "{user} {t}");
    }
    assert_eq!(report["changes"].as_array().unwrap().len(), changes);
    assert!(report["events"].as_u64().unwrap() > 0);
    assert!(report["timers"].is_array());
    assert_eq!(report["activity"].as_array().unwrap().len(), 3);
}

#[test]
fn explain_a_user_of_each_lifecycle_stage() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let output = saved_run(d);
    let folded = fold_adds(&output);
    let stages = [
        "new",
        "growing",
        "mature",
        "dormant",
        "declining",
        "churned",
        "silent",
    ];
    for stage in stages {
        let tag = format!("lifecycle/{stage}");
        let (user, held) = folded
            .iter()
            .find(|(_, tags)| tags.contains_key(&tag))
            .unwrap_or_else(|| panic!("a user in {tag}"));
        let mut cmd = tagstream_in(d);
        cmd.args(["explain", user, "--state", "st", "--changes", "out.jsonl"])
            .args(["--format", "json"]);
        let report: Value =
            serde_json::from_str(&ok(with_pack(&mut cmd).output().unwrap())).unwrap();
        let changes = output
            .lines()
            .filter(|l| l.contains(&format!("\"user_id\":{}", Value::from(user.as_str()))))
            .count();
        check_explain(&report, user, held, changes);
        let mut cmd = tagstream_in(d);
        cmd.args(["explain", user, "--state", "st"]);
        let text = ok(with_pack(&mut cmd).output().unwrap());
        assert!(
            text.contains(&format!("  {tag}")) && text.contains("set by rule lifecycle"),
            "{text}"
        );
    }
    let mut cmd = tagstream_in(d);
    cmd.args(["explain", "no-such-user", "--state", "st"]);
    let out = with_pack(&mut cmd).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown user \"no-such-user\""));
    // The input instead of the output: the wrong file, said so.
    let someone = folded.keys().next().unwrap();
    let explain_with = |changes: &str| {
        let mut cmd = tagstream_in(d);
        cmd.args(["explain", someone, "--state", "st", "--changes", changes]);
        with_pack(&mut cmd).output().unwrap()
    };
    let out = explain_with("in.jsonl");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a tag change"));
    // A file that is not there: the flag that named it is said too.
    let out = explain_with("gone.jsonl");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("error: --changes gone.jsonl: "), "{err}");
    // Changes of other users only (another run's output): the report goes on, and says so.
    let others: String = output
        .lines()
        .filter(|l| !l.contains(&format!("\"user_id\":{}", Value::from(someone.as_str()))))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(d.join("others.jsonl"), others).unwrap();
    let out = explain_with("others.jsonl");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(&format!(
            "others.jsonl holds no tag change of user {someone:?}, who holds tags: is it the \
             --output of the run that wrote this state?"
        )),
        "{err}"
    );
}

#[test]
fn the_expressions_in_the_docs_parse() {
    let text = std::fs::read_to_string(repo().join("docs/segments.md")).unwrap();
    let pack = pack();
    let mut exprs: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("| `")?.split("` |").next())
        .map(|e| e.replace("\\|", "|"))
        .collect();
    exprs.extend(
        text.lines()
            .filter_map(|l| l.strip_prefix("tagstream segment '")?.split('\'').next())
            .map(str::to_string),
    );
    assert!(exprs.len() >= 6, "{exprs:?}");
    for expr in exprs {
        tagstream::query::Segment::parse(&expr, &pack.catalogue)
            .unwrap_or_else(|e| panic!("{expr}: {e}"));
    }
}
