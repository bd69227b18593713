//! The JSON Schemas of `docs/schema/` against the engine: every JSON example of the docs
//! matches its schema (events also decode, invalid-input dead letters give exactly the reason
//! the decoder gives for their payload), the event schema rejects what the decoder rejects, and
//! the sample stream's inputs and the shipped pack's outputs of it all match.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;
use tagstream::decode::{decode, DecodeError, Source, MAX_EVENT_BYTES};

use crate::docs_support::*;
use crate::support::*;

fn source() -> Source {
    Source::File {
        name: Arc::from("events.jsonl"),
        line: 1,
    }
}

#[test]
fn json_examples_match_their_schemas() {
    let schemas = schemas();
    for b in all_blocks().iter().filter(|b| b.lang == "json") {
        let kind = ["event", "tag-change", "dead-letter", "diff-report"]
            .into_iter()
            .find(|k| b.has(k))
            .unwrap();
        for mut value in b.json_values() {
            // Examples leave out `rules_version` (see `as_shown`); real outputs carry it.
            if matches!(kind, "tag-change" | "dead-letter") {
                if let Some(map) = value.as_object_mut() {
                    map.entry("rules_version")
                        .or_insert_with(|| "0123456789ab".into());
                }
            }
            assert_valid(&schemas, kind, &value, &b.at());
            if kind == "event" {
                let text = value.to_string();
                if let Err(e) = decode(text.as_bytes(), &source()) {
                    panic!("{}: {text} does not decode: {e}", b.at());
                }
            }
        }
    }
}

#[test]
fn schemas_reject_what_the_decoder_rejects() {
    let schemas = schemas();
    for bad in [
        r#"{"type":"view","user_id":"u","ts":1795341600000}"#,
        r#"{"type":"chat","user_id":"u","ts":1795341600000}"#,
        r#"{"type":"chat","user_id":"","ts":1795341600000,"text":"x"}"#,
        r#"{"type":"chat","user_id":"u","ts":1795341600,"text":"x"}"#,
        r#"{"type":"chat","user_id":"u","ts":"yesterday","text":"x"}"#,
        r#"{"type":"order","user_id":"u","ts":1795341600000,"order_id":"o","amount":-1}"#,
        r#"{"type":"order","user_id":"u","ts":1795341600000,"order_id":"","amount":1}"#,
        r#"{"type":"order","user_id":"u","ts":1795341600000,"order_id":"o","amount":1,"status":"void"}"#,
        r#"{"type":"order","user_id":"u","ts":1795341600000,"order_id":"o","amount":1,"promo":"yes"}"#,
        r#"{"type":"click","user_id":"u","ts":1795341600000.5,"target":"x"}"#,
    ] {
        assert!(decode(bad.as_bytes(), &source()).is_err(), "{bad} decodes");
        let value: Value = serde_json::from_str(bad).unwrap();
        assert!(
            !schemas["event"].is_valid(&value),
            "the schema accepts {bad}"
        );
    }
}

/// Every reason in the contract's dead-letter examples is the one the decoder gives for that
/// payload; together with oversize and not-UTF-8 they cover every kind in its table.
#[test]
fn dead_letter_examples_are_what_the_decoder_says() {
    let contract = std::fs::read_to_string(docs_dir().join("contract.md")).unwrap();
    let mut kinds = BTreeSet::new();
    for b in blocks_of(&docs_dir().join("contract.md"))
        .iter()
        .filter(|b| b.has("dead-letter"))
    {
        for d in b.json_values().iter().filter(|d| d["rule"].is_null()) {
            let payload = d["payload"].as_str().unwrap();
            match decode(payload.as_bytes(), &source()) {
                Err(e) => {
                    assert_eq!(
                        d["error"].as_str().unwrap(),
                        e.to_string(),
                        "{}: {payload}",
                        b.at()
                    );
                    kinds.insert(e.kind());
                }
                Ok(_) => panic!("{}: {payload} decodes", b.at()),
            }
        }
    }
    let oversize = decode(&vec![b' '; MAX_EVENT_BYTES + 1], &source()).unwrap_err();
    let not_utf8 = decode(b"{\"type\":\"\xff\"}", &source()).unwrap_err();
    assert!(
        matches!(oversize, DecodeError::OversizeLine { .. })
            && matches!(not_utf8, DecodeError::NotUtf8)
    );
    let kafka = Source::Kafka {
        topic: "behaviour-events".into(),
        partition: 3,
        offset: 1187,
    };
    let oversize_message = decode(&vec![b' '; MAX_EVENT_BYTES + 1], &kafka).unwrap_err();
    for e in [oversize, oversize_message, not_utf8] {
        assert!(contract.contains(&e.to_string()), "contract.md lacks {e:?}");
        kinds.insert(e.kind());
    }
    // Refused against the wall clock, not by `decode` alone: checked by its message.
    assert!(contract.contains("ahead of the wall clock, more than clock.max_future"));
    kinds.insert("ts_in_future");
    let section = contract
        .split("### Invalid input")
        .nth(1)
        .and_then(|s| s.split("For example").next())
        .expect("contract.md has the reasons table");
    let table: BTreeSet<&str> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `")?.split('`').next())
        .collect();
    assert!(
        kinds.len() >= 15,
        "every decode error kind has an example: {kinds:?}"
    );
    assert_eq!(table, kinds, "the reasons table lists every kind");
}

/// The schemas against the engine's real inputs and outputs: every line of the shipped sample
/// stream that decodes matches the event schema (and most that do not are rejected by it too),
/// and every tag change and dead letter the shipped pack makes of it matches its schema.
#[test]
fn schemas_hold_for_the_sample_stream_and_its_outputs() {
    let schemas = schemas();
    let text = std::fs::read_to_string(repo().join("examples/sample.jsonl")).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let (mut valid, mut invalid, mut caught) = (0, 0, 0);
    for (i, line) in lines.iter().enumerate() {
        let at = format!("examples/sample.jsonl:{}", i + 1);
        let value: Option<Value> = serde_json::from_str(line).ok();
        match decode(line.as_bytes(), &source()) {
            Ok(_) => {
                assert_valid(&schemas, "event", value.as_ref().unwrap(), &at);
                valid += 1;
            }
            Err(_) => {
                invalid += 1;
                caught += usize::from(value.is_none_or(|v| !schemas["event"].is_valid(&v)));
            }
        }
    }
    assert!(
        valid > 4000 && invalid > 5,
        "{valid} valid, {invalid} invalid"
    );
    assert_eq!(
        caught, invalid,
        "the schema rejects every invalid line of the sample"
    );

    let mut run = run(&lines);
    let extra = run_lines(&pack(), &example_stream());
    run.changes.extend(extra.changes);
    assert!(run.changes.len() > 1000 && !run.dead.is_empty());
    assert!(run
        .changes
        .iter()
        .any(|c| c.score.is_some() && c.expires_at.is_none()));
    assert!(run
        .changes
        .iter()
        .any(|c| c.event_id.is_none() && c.expires_at.is_some()));
    for c in &run.changes {
        assert_valid(&schemas, "tag-change", &change_json(c), &format!("{c:?}"));
    }
    for d in &run.dead {
        assert_valid(&schemas, "dead-letter", &dead_json(d), &format!("{d:?}"));
    }
}
