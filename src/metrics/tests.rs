//! The exported figures against what the core did, and label values against input data.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use super::export::Exporter;
use super::Metrics;
use crate::core::Processor;
use crate::decode::Source;
use crate::rules::RulePack;
use crate::state::Partition;
use crate::tags::Output;

/// The shipped rule pack plus `extra` rules.
fn pack_with(extra: &[(&str, &str)]) -> RulePack {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir("rules").unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue; // rules/tests/: rule tests, not rules
        }
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    for (name, text) in extra {
        std::fs::write(dir.path().join(format!("{name}.rhai")), text).unwrap();
    }
    RulePack::load(
        dir.path(),
        Path::new("config/tags.toml"),
        Path::new("config/params.toml"),
        &[],
    )
    .unwrap()
}

/// Input whose every user-controlled string carries `MARK`: user ids, texts, order ids, event
/// ids, unknown types and statuses, invalid lines. A rule throws a message quoting the text.
const MARK: &str = "zqxmark";

fn marked_stream() -> Vec<String> {
    let mut lines = Vec::new();
    let day = 86_400_000_i64;
    for u in 0..40 {
        let user = format!("{MARK}-user-{u}");
        for i in 0..30_i64 {
            let ts = 1_700_000_000_000 + i * day / 3 + u;
            let line = match i % 3 {
                0 => serde_json::json!({"type": "chat", "user_id": user, "ts": ts,
                    "text": format!("{MARK} 退款 refund boom {i}"), "event_id": format!("{MARK}-c-{u}-{i}")}),
                1 => serde_json::json!({"type": "click", "user_id": user, "ts": ts,
                    "target": format!("{MARK}-item"), "channel": MARK, "event_id": format!("{MARK}-k-{u}-{i}")}),
                _ => serde_json::json!({"type": "order", "user_id": user, "ts": ts,
                    "order_id": format!("{MARK}-o-{u}-{i}"), "amount": 120.0 * (u as f64 + 1.0),
                    "event_id": format!("{MARK}-o-{u}-{i}")}),
            };
            lines.push(line.to_string());
        }
    }
    lines.push(format!(
        "{{\"type\":\"{MARK}\",\"user_id\":\"u\",\"ts\":1}}"
    ));
    lines.push(format!("not json {MARK}"));
    lines.push(format!(
        "{{\"type\":\"order\",\"user_id\":\"u\",\"ts\":1,\"order_id\":\"o\",\"amount\":1,\"status\":\"{MARK}\"}}"
    ));
    lines.push(format!("{{\"user_id\":\"{MARK}\"}}"));
    lines
}

/// Every `name{labels} value` sample of a text exposition: name → label sets.
fn samples(text: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').unwrap();
                let labels = body
                    .split("\",")
                    .filter(|kv| !kv.is_empty())
                    .map(|kv| {
                        let (k, v) = kv.split_once("=\"").unwrap();
                        (k.to_string(), v.trim_end_matches('"').to_string())
                    })
                    .collect();
                (name.to_string(), labels)
            }
            None => (series.to_string(), BTreeMap::new()),
        };
        out.push((name, labels, value.parse().unwrap()));
    }
    out
}

fn sum(
    samples: &[(String, BTreeMap<String, String>, f64)],
    name: &str,
    filter: &[(&str, &str)],
) -> f64 {
    samples
        .iter()
        .filter(|(n, labels, _)| {
            n == name
                && filter
                    .iter()
                    .all(|(k, v)| labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| v)
        .sum()
}

#[test]
fn figures_match_the_run_and_no_label_value_comes_from_input() {
    let pack = pack_with(&[(
        "zz_thrower",
        "fn on_chat(event, user) {\n    if event.text.contains(\"boom\") { throw \"bad \" + event.text; }\n}\n",
    )]);
    let m: &'static Metrics = Box::leak(Box::new(Metrics::new()));
    m.set_rules(&pack);
    let mut exporter = Exporter::new(m, &pack);
    let mut processor = Processor::new(&pack).unwrap();
    processor.sample_rule_time(1);
    let mut part = Partition::new();
    let lines = marked_stream();
    let name: Arc<str> = Arc::from("input");
    let (mut changes, mut dead, mut rule_dead) = (0_u64, 0_u64, 0_u64);
    let mut held: BTreeMap<(String, String), bool> = BTreeMap::new();
    let mut outputs = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let source = Source::File {
            name: name.clone(),
            line: i as u64 + 1,
        };
        processor.process_record(&mut part, line.as_bytes(), &source, &mut outputs);
        exporter.records(1);
        exporter.outputs(&outputs);
        for o in outputs.drain(..) {
            match o {
                Output::Change(c) => {
                    changes += 1;
                    held.insert(
                        (c.user_id.to_string(), c.tag.to_string()),
                        c.op == crate::tags::Op::Add,
                    );
                }
                Output::Dead(d) => {
                    dead += 1;
                    rule_dead += u64::from(d.rule.is_some());
                }
            }
        }
        if i % 50 == 0 {
            let names = processor.rules().names().clone();
            exporter.stats(&mut processor.stats, &names);
        }
    }
    let names = processor.rules().names().clone();
    exporter.stats(&mut processor.stats, &names);
    exporter.partitions([(0, &part)], 1_700_000_000_000 + 20 * 86_400_000);
    let text = m.render();
    assert!(!text.contains(MARK), "input data in the metrics:\n{text}");
    let s = samples(&text);

    // The figures agree with the run.
    let events = sum(&s, "tagstream_events_total", &[]);
    let dead_total = sum(&s, "tagstream_dead_letters_total", &[]);
    let rule_errors = sum(
        &s,
        "tagstream_dead_letters_total",
        &[("reason", "rule_error")],
    );
    assert_eq!(events as u64, processor.stats.events);
    assert_eq!(dead_total as u64, dead);
    assert_eq!(rule_errors as u64, rule_dead);
    assert!(
        rule_dead > 0 && dead > rule_dead,
        "the stream has both kinds of dead letter"
    );
    assert_eq!(
        events + dead_total - rule_errors,
        sum(&s, "tagstream_records_total", &[]),
        "every record is an event or bad input"
    );
    assert_eq!(
        sum(&s, "tagstream_rule_errors_total", &[("kind", "throw")]),
        rule_errors
    );
    assert_eq!(sum(&s, "tagstream_tag_changes_total", &[]) as u64, changes);
    let mut folded: BTreeMap<String, f64> = BTreeMap::new();
    for ((_, tag), holds) in &held {
        if *holds {
            *folded.entry(tag.clone()).or_default() += 1.0;
        }
    }
    for (_, labels, v) in s.iter().filter(|(n, _, _)| n == "tagstream_tags_held") {
        let tag = &labels["tag"];
        assert_eq!(
            *v,
            folded.get(tag).copied().unwrap_or(0.0),
            "tags_held{{tag={tag}}}"
        );
    }
    assert!(!folded.is_empty());
    assert_eq!(sum(&s, "tagstream_users", &[]) as usize, part.user_count());
    assert!(sum(&s, "tagstream_rule_duration_seconds_count", &[]) > 0.0);
    assert!(
        sum(
            &s,
            "tagstream_rule_invocations_total",
            &[("handler", "on_chat")]
        ) > 0.0
    );

    // Every label value is from a fixed set, the rule pack or a partition number.
    let rules: BTreeSet<String> = pack.rules.iter().map(|r| r.name.clone()).collect();
    let tags: BTreeSet<String> = (0..pack.catalogue.len())
        .map(|id| pack.catalogue.name(id as crate::tags::TagId).to_string())
        .collect();
    for (name, labels, _) in &s {
        for (k, v) in labels {
            let ok = match k.as_str() {
                "type" => ["chat", "click", "order"].contains(&v.as_str()),
                "reason" => v.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "tag" => tags.contains(v),
                "op" => v == "add" || v == "remove",
                "rule" => rules.contains(v),
                "handler" => v.starts_with("on_"),
                "kind" => ["throw", "limit", "runtime"].contains(&v.as_str()),
                "partition" => v.parse::<u32>().is_ok(),
                "result" => v == "ok" || v == "error",
                "le" | "quantile" => true,
                "version" => v == env!("CARGO_PKG_VERSION"),
                "rules_version" => v.len() == 12 && v.bytes().all(|b| b.is_ascii_hexdigit()),
                _ => false,
            };
            assert!(ok, "{name}: label {k}={v:?} is not from a bounded set");
        }
    }
}

#[test]
fn rules_version_is_stable_and_follows_the_rules() {
    let a = super::rules_version(&pack_with(&[]));
    assert_eq!(a, super::rules_version(&pack_with(&[])));
    let b = super::rules_version(&pack_with(&[("zz_extra", "fn on_click(event, user) {}\n")]));
    assert_ne!(a, b);
}

#[test]
fn reloads_are_counted_by_result() {
    let before = super::global()
        .rules_reloads
        .with_label_values(&["error"])
        .get();
    super::rules_reloaded(false);
    assert_eq!(
        super::global()
            .rules_reloads
            .with_label_values(&["error"])
            .get(),
        before + 1
    );
}

/// Metric names a query uses (`tagstream_…`, histogram suffixes removed).
fn names_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("tagstream_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let name = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        out.insert(name.to_string());
        rest = &tail[end..];
    }
    out
}

#[test]
fn dashboard_and_alerts_use_only_exported_metrics() {
    let m = Metrics::new();
    m.set_rules(&pack_with(&[]));
    m.processing_latency.observe(0.1);
    m.rule_duration
        .with_label_values(&["activity"])
        .observe(0.1);
    m.event_time_lag.with_label_values(&["0"]).set(1.0);
    m.consumer_lag.with_label_values(&["t", "0"]).set(1);
    m.rule_invocations
        .with_label_values(&["activity", "on_event"])
        .inc();
    let exported: BTreeSet<String> = m
        .registry
        .gather()
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("dashboards/tagstream.json").unwrap())
            .expect("the dashboard is JSON");
    let vars = dashboard["templating"]["list"].as_array().unwrap();
    assert!(vars
        .iter()
        .any(|v| v["name"] == "datasource" && v["type"] == "datasource"));
    let mut used = names_in(&dashboard.to_string());
    let titles: Vec<&str> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] == "row")
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["Throughput", "Health", "Latency", "Rules", "State"]
    );
    used.extend(names_in(
        &std::fs::read_to_string("dashboards/alerts.yml").unwrap(),
    ));
    for name in &used {
        assert!(exported.contains(name), "{name} is used but not exported");
    }
    assert!(used.len() > 15, "{used:?}");
}

#[test]
fn rule_errors_are_counted_by_kind() {
    let pack = pack_with(&[
        ("zz_limit", "fn on_click(event, user) {\n    loop { }\n}\n"),
        (
            "zz_runtime",
            "fn on_order(event, user) {\n    let a = [1];\n    let b = a[7];\n}\n",
        ),
    ]);
    let m: &'static Metrics = Box::leak(Box::new(Metrics::new()));
    let mut exporter = Exporter::new(m, &pack);
    let mut processor = Processor::new(&pack).unwrap();
    let mut part = Partition::new();
    let mut out = Vec::new();
    let source = Source::Timer;
    for line in [
        r#"{"type":"click","user_id":"a","ts":1700000000000,"target":"x"}"#,
        r#"{"type":"order","user_id":"a","ts":1700000001000,"order_id":"o1","amount":5}"#,
    ] {
        processor.process_record(&mut part, line.as_bytes(), &source, &mut out);
    }
    exporter.core(&mut processor);
    let s = samples(&m.render());
    let count = |rule: &str, kind: &str| {
        sum(
            &s,
            "tagstream_rule_errors_total",
            &[("rule", rule), ("kind", kind)],
        )
    };
    assert_eq!(count("zz_limit", "limit"), 1.0);
    assert_eq!(count("zz_runtime", "runtime"), 1.0);
    assert_eq!(sum(&s, "tagstream_rule_errors_total", &[]), 2.0);
}

/// `tagstream_rule_compiled` says which rules the interpreter runs: one with a construct the
/// compiled form lacks (a closure), or every rule under `rules.execution = "interpreted"`.
#[test]
fn each_rule_says_whether_it_runs_compiled() {
    let gauge = |m: &Metrics, rule: &str| m.rule_compiled.with_label_values(&[rule]).get();
    let m = Metrics::new();
    let mut pack = pack_with(&[(
        "closure",
        "fn on_click(event, user) { let f = |x| x + 1; f.call(1); }",
    )]);
    m.set_rules(&pack);
    assert_eq!(gauge(&m, "activity"), 1);
    assert_eq!(gauge(&m, "closure"), 0);
    pack.execution = crate::rules::Execution::Interpreted;
    m.set_rules(&pack);
    for rule in ["activity", "keywords", "lifecycle", "rfm", "closure"] {
        assert_eq!(gauge(&m, rule), 0, "{rule}");
    }
    // A reload that drops a rule drops its series.
    let mut pack = pack_with(&[]);
    pack.execution = crate::rules::Execution::Compiled;
    m.set_rules(&pack);
    assert!(!m
        .render()
        .contains("tagstream_rule_compiled{rule=\"power\"}"));
    assert_eq!(gauge(&m, "rfm"), 1);
}
