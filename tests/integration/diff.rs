//! `tagstream diff`: a threshold change gives the gains and losses worked out here from the
//! change itself, identical sets report nothing, a failing new rule is reported (its messages
//! and bad arguments: diff_usage.rs).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use tagstream::diff::{Replay, Report};

use crate::docs_support::{assert_valid, schemas};
use crate::support::*;

fn tagstream(args: &[&str]) -> Output {
    crate::support::tagstream().args(args).output().unwrap()
}

/// The shipped parameters with `intent/purchase` needing one hit instead of two.
fn one_hit_params(dir: &Path) -> PathBuf {
    let shipped = std::fs::read_to_string(repo().join("config/params.toml")).unwrap();
    let old = "words = [\"购买\", \"下单\", \"怎么买\", \"报名\", \"付款\", \"buy\"]\nhits = 2\n";
    assert!(
        shipped.contains(old),
        "the shipped purchase keywords changed"
    );
    let changed = shipped.replace(
        old,
        "words = [\"购买\", \"下单\", \"怎么买\", \"报名\", \"付款\", \"buy\"]\nhits = 1\n",
    );
    let path = dir.join("params.toml");
    std::fs::write(&path, changed).unwrap();
    path
}

/// Users who say a purchase word 0 to 3 times, at random moments of 20 days, between chats
/// and clicks without one; plus an invalid line.
fn purchase_stream(users: usize) -> (Vec<String>, Vec<Vec<i64>>) {
    let mut rng = Lcg(7);
    let mut events: Vec<(i64, String)> = Vec::new();
    let mut hits = Vec::new();
    for u in 0..users {
        let user = format!("p{u:03}");
        let mut times: Vec<i64> = (0..rng.below(4))
            .map(|_| T0 + rng.below(20 * 24) as i64 * HOUR + u as i64)
            .collect();
        times.sort_unstable();
        for t in &times {
            events.push((*t, chat(&user, *t, "请问怎么买？")));
        }
        for _ in 0..rng.below(5) {
            let t = T0 + rng.below(20 * 24) as i64 * HOUR + 30 * MINUTE;
            events.push((t, chat(&user, t, "今天天气不错")));
            events.push((t + MINUTE, click(&user, t + MINUTE)));
        }
        hits.push(times);
    }
    events.sort_by_key(|(t, _)| *t);
    let mut lines: Vec<String> = events.into_iter().map(|(_, l)| l).collect();
    lines.insert(lines.len() / 2, "{\"type\":\"chat\"".to_string());
    (lines, hits)
}

#[test]
fn a_changed_threshold_gives_the_gains_worked_out_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let params = one_hit_params(dir.path());
    let (lines, hits) = purchase_stream(120);
    let input = write_lines(dir.path(), "events.jsonl", &lines);

    // Base: tagged at the first hit that has another within 7 days before it (the window
    // includes its edge); new: at the first hit. Nothing expires within 20 days.
    let base_holds = |times: &[i64]| times.windows(2).any(|w| w[1] - w[0] <= 7 * DAY);
    let with_hits = hits.iter().filter(|t| !t.is_empty()).count() as u64;
    let base = hits.iter().filter(|t| base_holds(t)).count() as u64;
    let gained: BTreeSet<String> = hits
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.is_empty() && !base_holds(t))
        .map(|(u, _)| format!("p{u:03}"))
        .collect();
    assert!(
        base > 5 && gained.len() > 5,
        "the stream exercises both: {base} {gained:?}"
    );

    let out = tagstream(&[
        "diff",
        "--rules",
        "rules",
        "--params",
        params.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--format",
        "json",
        "--samples",
        "200",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid(&schemas(), "diff-report", &report, "diff --format json");

    assert_eq!(report["lines"], lines.len() as u64);
    assert_eq!(report["invalid_lines"], 1);
    assert_eq!(report["users_differing"], gained.len() as u64);
    assert_eq!(report["changes_differing"], base + with_hits);
    let tags = report["tags"].as_array().unwrap();
    assert_eq!(tags.len(), 1, "only intent/purchase differs: {tags:?}");
    let t = &tags[0];
    assert_eq!(t["tag"], "intent/purchase");
    assert_eq!(t["gained"], gained.len() as u64);
    assert_eq!(t["lost"], 0);
    assert_eq!(t["held_base"], base);
    assert_eq!(t["held_new"], with_hits);
    // Every holder's add moves: base adds at the second hit, new at the first.
    assert_eq!(t["changes_only_base"], base);
    assert_eq!(t["changes_only_new"], with_hits);
    let sampled: BTreeSet<String> = t["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            assert_eq!(s["kind"], "gained");
            assert!(s["base"]["change"].is_null(), "{s}");
            assert_eq!(s["new"]["change"]["rule"], "keywords");
            assert_eq!(s["new"]["change"]["reason"], "said \"怎么买\"");
            s["user_id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(sampled, gained);
    for side in ["base", "new"] {
        assert!(report[side]["rule_errors"].as_object().unwrap().is_empty());
    }
}

#[test]
fn identical_sets_report_no_difference() {
    let out = tagstream(&[
        "diff",
        "--rules",
        "rules",
        "--input",
        "examples/sample.jsonl",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("no difference: both rule sets make the same tag changes for every record"),
        "{text}"
    );
    // A clean set has nothing for check to say; the one line is that both sides are one set
    // (rules edited in place and diffed against themselves would show no change).
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(
            "warning: the base and the new rule set are the same files (rules_version "
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "the base is rules (rules.dir of the config); pass the changed set with --rules DIR"
        ),
        "{stderr}"
    );

    let (lines, _) = purchase_stream(40);
    let pack = pack();
    let replay = Replay {
        base: &pack,
        new: &pack,
        samples: 3,
    };
    let report: Report = replay
        .run(
            lines.join("\n").as_bytes(),
            "events.jsonl",
            ["a".into(), "b".into()],
        )
        .unwrap();
    assert!(report.tags.is_empty() && report.is_empty(), "{report:?}");
    assert_eq!((report.users_differing, report.changes_differing), (0, 0));
    assert!(report.base.changes > 0);
    assert_eq!(report.base.changes, report.new.changes);
    assert_eq!(report.base.held, report.new.held);
}

#[test]
fn a_new_rule_that_fails_is_reported_with_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    for entry in std::fs::read_dir(repo().join("rules")).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue; // rules/tests/
        }
        std::fs::copy(&path, rules.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        rules.join("broken.rhai"),
        "fn on_click(event, user) {\n    tag(\"vip/\" + event.target);\n}\n",
    )
    .unwrap();
    let lines = [
        chat("a", T0, "多少钱"),
        click("a", T0 + HOUR),
        click("b", T0 + 2 * HOUR),
    ];
    let input = write_lines(dir.path(), "events.jsonl", &lines);
    let out = tagstream(&[
        "diff",
        "--rules",
        rules.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["new"]["rule_errors"]["broken"], 2);
    assert!(report["base"]["rule_errors"]
        .as_object()
        .unwrap()
        .is_empty());
    let first = &report["new"]["first_rule_error"];
    assert_eq!(first["rule"], "broken");
    assert!(
        first["source"]
            .as_str()
            .unwrap()
            .ends_with("events.jsonl:2"),
        "{first}"
    );
    assert!(
        first["error"].as_str().unwrap().contains("vip/item:1"),
        "{first}"
    );
    // The failing rule's step is undone, the others are untouched: no tag differs.
    assert_eq!(report["tags"], Value::Array(vec![]));

    let out = tagstream(&[
        "diff",
        "--rules",
        rules.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("first rule error (new): broken at"), "{text}");
    assert!(
        text.contains("(but their rule errors differ, see above)"),
        "{text}"
    );
}

#[test]
fn text_report_names_the_tag_and_sample_users() {
    let dir = tempfile::tempdir().unwrap();
    let params = one_hit_params(dir.path());
    let lines = [
        chat("solo", T0, "怎么买"),
        chat("pair", T0, "下单"),
        chat("pair", T0 + DAY, "付款"),
    ];
    let input = write_lines(dir.path(), "events.jsonl", &lines);
    let out = tagstream(&[
        "diff",
        "--rules",
        "rules",
        "--params",
        params.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("1 user with different tags at the end; 3 differing tag changes"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.starts_with("intent/purchase "))
        .expect(&text);
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        ["intent/purchase", "1", "0", "1", "→", "2", "1", "/", "2"],
        "{text}"
    );
    assert!(text.contains("  + solo (gained)"), "{text}");
    assert!(
        text.contains("      base: no change; holds none of its group"),
        "{text}"
    );
}

#[test]
fn samples_of_a_lost_exclusive_member_show_what_replaced_it() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(repo().join("config/params.toml")).unwrap();
    assert!(shipped.contains("high_enter = 10.0 "));
    let params = dir.path().join("params.toml");
    std::fs::write(
        &params,
        shipped.replace("high_enter = 10.0 ", "high_enter = 5.0 "),
    )
    .unwrap();
    // Six chats in an hour: S ≈ 6, high with the new threshold, medium with the old.
    let lines: Vec<String> = (0..6)
        .map(|i| chat("busy", T0 + i * MINUTE, "hi"))
        .collect();
    let input = write_lines(dir.path(), "events.jsonl", &lines);
    let base_params = repo().join("config/params.toml");
    let args = [
        "diff",
        "--rules",
        "rules",
        "--base",
        "rules",
        "--base-params",
        base_params.to_str().unwrap(),
        "--params",
        params.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--format",
        "json",
    ];
    let out = tagstream(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tag = |name: &str| {
        report["tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["tag"] == name)
            .cloned()
    };
    let medium = tag("activity/medium").expect("medium differs");
    assert_eq!(
        (medium["gained"].as_u64(), medium["lost"].as_u64()),
        (Some(0), Some(1))
    );
    let sample = &medium["samples"][0];
    assert_eq!(sample["kind"], "lost");
    assert_eq!(sample["new"]["holds"][0]["tag"], "activity/high");
    assert_eq!(sample["base"]["holds"][0]["tag"], "activity/medium");
    let high = tag("activity/high").expect("high differs");
    assert_eq!(high["gained"], 1);
}

/// A longer TTL ends with the same tags (nothing expires within the stream) but every addition
/// differs in its expiry: the tag shows no gain or loss, its changes differ, and the samples
/// show each side's change with its expiry.
#[test]
fn a_change_that_only_moves_expiries_shows_as_changed() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(repo().join("config/params.toml")).unwrap();
    let old = "\"便宜\", \"price\"]\nttl = \"30d\"\n";
    assert!(shipped.contains(old), "the shipped price keywords changed");
    let params = dir.path().join("params.toml");
    std::fs::write(
        &params,
        shipped.replace(old, "\"便宜\", \"price\"]\nttl = \"31d\"\n"),
    )
    .unwrap();
    let lines = [
        chat("a", T0, "多少钱"),
        chat("b", T0 + HOUR, "price?"),
        chat("c", T0 + 2 * HOUR, "你好"),
    ];
    let input = write_lines(dir.path(), "events.jsonl", &lines);
    let out = tagstream(&[
        "diff",
        "--rules",
        "rules",
        "--params",
        params.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid(&schemas(), "diff-report", &report, "diff --format json");
    assert_eq!(report["users_differing"], 0);
    assert_eq!(report["changes_differing"], 4);
    let tags = report["tags"].as_array().unwrap();
    assert_eq!(tags.len(), 1, "{tags:?}");
    let t = &tags[0];
    assert_eq!(t["tag"], "intent/price");
    assert_eq!(
        (t["gained"].as_u64(), t["lost"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(
        (t["held_base"].as_u64(), t["held_new"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(t["changes_only_base"], 2);
    assert_eq!(t["changes_only_new"], 2);
    let samples = t["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 2);
    let a = &samples[0];
    assert_eq!(
        (a["user_id"].as_str(), a["kind"].as_str()),
        (Some("a"), Some("changed"))
    );
    assert_eq!(a["base"]["change"]["expires_at"], "2026-10-01T00:00:00Z");
    assert_eq!(a["new"]["change"]["expires_at"], "2026-10-02T00:00:00Z");
    assert_eq!(a["new"]["holds"][0]["tag"], "intent/price");
}
