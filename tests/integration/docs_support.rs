//! Reading the examples out of `docs/`: fenced blocks with their info string, the JSON Schemas,
//! and the stream every rule example runs over.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::support::*;

/// A fenced block of a Markdown file.
#[derive(Debug, Clone)]
pub struct Block {
    pub file: String,
    /// 1-based line of the opening fence.
    pub line: usize,
    /// The language: the first word of the info string.
    pub lang: String,
    /// The other words of the info string (`event`, `example=first-week`, …).
    pub tags: Vec<String>,
    pub body: String,
}

impl Block {
    pub fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    pub fn has(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// The value of a `key=value` tag.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find_map(|t| t.strip_prefix(key)?.strip_prefix('='))
    }

    /// The block's JSON values (one object, or one per line).
    pub fn json_values(&self) -> Vec<Value> {
        serde_json::Deserializer::from_str(&self.body)
            .into_iter::<Value>()
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", self.at()))
    }
}

pub fn docs_dir() -> PathBuf {
    repo().join("docs")
}

/// Every Markdown file of `docs/`, by name.
pub fn markdown_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(docs_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    files.sort();
    files
}

/// The fenced blocks of one file. Only lines that start with three backticks open or close one.
pub fn blocks_of(path: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(path).unwrap();
    let file = path
        .strip_prefix(repo())
        .unwrap_or(path)
        .display()
        .to_string();
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in text.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                let mut words = info.split_whitespace().map(str::to_string);
                open = Some(Block {
                    file: file.clone(),
                    line: i + 1,
                    lang: words.next().unwrap_or_default(),
                    tags: words.collect(),
                    body: String::new(),
                });
            }
            (Some(_), Some(rest)) if rest.trim().is_empty() => blocks.push(open.take().unwrap()),
            (Some(block), _) => {
                block.body.push_str(line);
                block.body.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "{file}: a fenced block is not closed");
    blocks
}

pub fn all_blocks() -> Vec<Block> {
    markdown_files().iter().flat_map(|p| blocks_of(p)).collect()
}

/// The `lang` block of `blocks` tagged `kind` (any, when empty) and `example=name`.
pub fn examples_of<'a>(blocks: &'a [Block], lang: &str, kind: &str, name: &str) -> &'a Block {
    blocks
        .iter()
        .find(|b| {
            b.lang == lang && (kind.is_empty() || b.has(kind)) && b.get("example") == Some(name)
        })
        .unwrap_or_else(|| panic!("no ```{lang} {kind} example={name} block"))
}

/// The validators of `docs/schema/*.json` by file stem, formats checked.
pub fn schemas() -> BTreeMap<String, jsonschema::Validator> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(docs_dir().join("schema")).unwrap() {
        let path = entry.unwrap().path();
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("{}: not a valid schema: {e}", path.display()));
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        out.insert(stem, validator);
    }
    out
}

/// Panics with every violation when `value` does not match the schema `name`.
pub fn assert_valid(
    schemas: &BTreeMap<String, jsonschema::Validator>,
    name: &str,
    value: &Value,
    at: &str,
) {
    let validator = schemas
        .get(name)
        .unwrap_or_else(|| panic!("{at}: no schema docs/schema/{name}.json"));
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{at}: {value} does not match {name}.json: {errors:?}"
    );
}

/// A tag change as it is written to the output, as a JSON value.
pub fn change_json(c: &tagstream::tags::TagChange) -> Value {
    let mut buf = Vec::new();
    c.write_json(&mut buf);
    serde_json::from_slice(&buf).unwrap()
}

/// An output record as worked examples show it: without a `rules_version`, a digest of the
/// whole rule set that any edit of a rule or threshold changes.
pub fn as_shown(mut v: Value) -> Value {
    if let Some(map) = v.as_object_mut() {
        map.remove("rules_version");
    }
    v
}

pub fn dead_json(d: &tagstream::tags::DeadLetter) -> Value {
    let mut buf = Vec::new();
    d.write_json(&mut buf);
    serde_json::from_slice(&buf).unwrap()
}

/// The stream every rule example runs over: three users over two months, every event type and
/// field, keywords of every list, a refund, a late event, an extra field and quiet spells that
/// let timers and TTLs fire.
pub fn example_stream() -> Vec<String> {
    let mut lines = Vec::new();
    let mut push = |v: Value| lines.push(v.to_string());
    for (u, user) in ["u1", "u2", "u3"].iter().enumerate() {
        let base = T0 + u as i64 * HOUR;
        for day in [0, 1, 2, 3, 5, 8, 9, 20, 45] {
            let ts = base + day * DAY + (day % 5) * 5 * HOUR;
            let text = match day % 4 {
                0 => "你好，这个多少钱？",
                1 => "hello 我想报名 item course",
                2 => "要退款，差评",
                _ => "hello hello 今天天气不错",
            };
            push(
                json!({"type": "chat", "user_id": user, "ts": ts, "text": text,
                        "room_id": if day % 2 == 0 { json!("room-1") } else { json!(null) },
                        "event_id": format!("c-{user}-{day}")}),
            );
            push(json!({"type": "click", "user_id": user, "ts": ts + MINUTE,
                        "target": if day % 3 == 0 { "item:42" } else { "menu:home" },
                        "channel": "moments", "vip_level": day % 4,
                        "event_id": format!("k-{user}-{day}")}));
            for n in 0..3 {
                push(
                    json!({"type": "click", "user_id": user, "ts": ts + (2 + n) * MINUTE,
                            "target": "item:7", "event_id": format!("k-{user}-{day}-{n}")}),
                );
            }
        }
        for (i, day) in [1, 4, 9, 30].iter().enumerate() {
            let ts = base + day * DAY + 3 * HOUR;
            push(
                json!({"type": "order", "user_id": user, "ts": ts, "order_id": format!("o-{user}-{i}"),
                        "amount": 300.0 * (i as f64 + 1.0) * (u as f64 + 1.0), "promo": i % 2 == 0,
                        "category": if i == 0 { json!("course") } else { json!(null) },
                        "event_id": format!("o-{user}-{i}")}),
            );
        }
        push(
            json!({"type": "order", "user_id": user, "ts": base + 31 * DAY, "order_id": format!("o-{user}-1"),
                    "amount": 0, "status": "refunded", "event_id": format!("r-{user}")}),
        );
    }
    lines.sort_by_key(|l| {
        serde_json::from_str::<Value>(l).unwrap()["ts"]
            .as_i64()
            .unwrap()
    });
    // A late event: a day behind the clock.
    let last = serde_json::from_str::<Value>(lines.last().unwrap()).unwrap()["ts"]
        .as_i64()
        .unwrap();
    lines.push(
        json!({"type": "chat", "user_id": "u1", "ts": last - DAY, "text": "晚到的消息 多少钱",
                      "event_id": "late"})
        .to_string(),
    );
    lines
}
