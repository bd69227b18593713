//! `tagstream segment` and `explain` over Kafka mode's changelog and output topics, checked
//! against a fold of the output topic.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::kafka_support::*;
use crate::query::{check_explain, check_segment_jsonl, fold_adds};
use crate::support::*;

fn query(topics: &Topics) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tagstream"));
    cmd.current_dir(repo())
        .env("TAGSTREAM_KAFKA__BOOTSTRAP_SERVERS", &topics.bootstrap)
        .env("TAGSTREAM_KAFKA__OUTPUT_TOPIC", &topics.output)
        .env("TAGSTREAM_KAFKA__GROUP_ID", &topics.group)
        .env("TAGSTREAM_LOG", "warn");
    cmd
}

fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn segment_and_explain_over_the_changelog_equal_a_fold_of_the_output_topic() {
    let Some(bootstrap) = bootstrap() else { return };
    let opts = tagstream::generate::GenOptions {
        users: 300,
        events: 5_000,
        days: 130,
        seed: 5,
        late_per_mille: 0,
        personas: true,
        ..Default::default()
    };
    let lines = generated_lines(&opts);
    let topics = Topics::new(&bootstrap, 3);
    let ends = produce_lines(&bootstrap, &topics.input, 3, &lines);
    let processor = topics.spawn("query-kafka");
    wait_committed(
        &bootstrap,
        &topics.group,
        &topics.input,
        &ends,
        Duration::from_secs(120),
    );
    processor.stop();
    let output = read_topic(&bootstrap, &topics.output);
    let folded = fold_adds(&output.join("\n"));
    for (expr, pred, groups) in [
        (
            "lifecycle/* & !activity/high",
            (|h| h("lifecycle/*") && !h("activity/high")) as crate::query::Pred,
            &["lifecycle", "activity"][..],
        ),
        (
            "rfm/* | intent/price",
            |h| h("rfm/*") || h("intent/price"),
            &["rfm", "intent"],
        ),
    ] {
        let text = ok(query(&topics)
            .args(["segment", expr, "--format", "jsonl"])
            .output()
            .unwrap());
        let n = check_segment_jsonl(&text, &folded, pred, groups);
        assert!(n > 0, "{expr} selects someone");
    }
    // A user with a history, explained from the changelog and the output topic.
    let (user, held) = folded
        .iter()
        .find(|(_, tags)| tags.len() >= 3)
        .expect("a user with three tags");
    let report: Value = serde_json::from_str(&ok(query(&topics)
        .args(["explain", user, "--format", "json"])
        .output()
        .unwrap()))
    .unwrap();
    let changes = output
        .iter()
        .filter(|l| l.contains(&format!("\"user_id\":{}", Value::from(user.as_str()))))
        .count();
    check_explain(&report, user, held, changes);
    let out = query(&topics)
        .args(["explain", "nobody-at-all"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
