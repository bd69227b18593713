//! What leaves the engine: tag changes and dead letters, and their JSON encoding.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat};
use serde::Serialize;

use super::Trigger;
use crate::hash::{fnv1a_extend, FNV_OFFSET};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Add,
    Remove,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Remove => "remove",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TagChange {
    /// Deterministic: the same input and rules give the same id.
    pub id: String,
    pub user_id: Arc<str>,
    pub tag: Arc<str>,
    pub op: Op,
    pub score: Option<f64>,
    pub rule: Arc<str>,
    pub reason: String,
    /// `None` for changes made by timers and expiries.
    pub event_id: Option<Arc<str>>,
    /// Epoch ms of the step that made the change.
    pub ts: i64,
    pub expires_at: Option<i64>,
    /// The version of the rule set that made the change ([`crate::rules::RulePack::version`]).
    pub rules_version: Arc<str>,
}

/// Input that could not be turned into tag changes, with why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    pub error: String,
    /// The failing rule, `None` for decode errors.
    pub rule: Option<String>,
    /// `topic/partition/offset` or `file:line`.
    pub source: String,
    /// The original input text (invalid UTF-8 replaced by U+FFFD).
    pub payload: String,
    /// The version of the rule set in force when the record was read.
    pub rules_version: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Change(TagChange),
    Dead(DeadLetter),
}

/// RFC 3339 in UTC, with milliseconds only when they are not zero.
pub fn format_ts(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| ms.to_string())
}

#[derive(Serialize)]
struct ChangeJson<'a> {
    id: &'a str,
    user_id: &'a str,
    tag: &'a str,
    op: Op,
    score: Option<f64>,
    rule: &'a str,
    reason: &'a str,
    event_id: Option<&'a str>,
    ts: String,
    expires_at: Option<String>,
    rules_version: &'a str,
}

impl TagChange {
    /// Appends the change as one JSON object (no newline).
    pub fn write_json(&self, buf: &mut Vec<u8>) {
        let json = ChangeJson {
            id: &self.id,
            user_id: &self.user_id,
            tag: &self.tag,
            op: self.op,
            score: self.score.map(|s| (s * 1e4).round() / 1e4),
            rule: &self.rule,
            reason: &self.reason,
            event_id: self.event_id.as_deref(),
            ts: format_ts(self.ts),
            expires_at: self.expires_at.map(format_ts),
            rules_version: &self.rules_version,
        };
        // Serialising plain strings and numbers into a Vec cannot fail.
        serde_json::to_writer(buf, &json).expect("tag change serialises");
    }
}

impl DeadLetter {
    pub fn write_json(&self, buf: &mut Vec<u8>) {
        serde_json::to_writer(buf, self).expect("dead letter serialises");
    }
}

/// Hashes one field, then a separator byte, so fields cannot run into each other.
fn fnv1a(hash: &mut u64, bytes: &[u8]) {
    *hash = fnv1a_extend(fnv1a_extend(*hash, bytes), &[0xff]);
}

/// The id of a change: a hash of what triggered it, the user, the tag, the op, the step time and
/// the change's place in its step. Replaying the same input through the same rules gives the
/// same ids, so duplicates from an at-least-once replay are recognisable.
pub fn change_id(trigger: &Trigger, user: &str, tag: &str, op: Op, now: i64, seq: u32) -> String {
    let mut h = FNV_OFFSET;
    match trigger {
        Trigger::Event(id) => fnv1a(&mut h, id.as_bytes()),
        Trigger::Timer => fnv1a(&mut h, b"\0timer"),
    }
    fnv1a(&mut h, user.as_bytes());
    fnv1a(&mut h, tag.as_bytes());
    fnv1a(&mut h, op.as_str().as_bytes());
    fnv1a(&mut h, &now.to_le_bytes());
    fnv1a(&mut h, &seq.to_le_bytes());
    let mut id = String::with_capacity(16);
    // Writing into a String cannot fail.
    write!(id, "{h:016x}").expect("write to String");
    id
}
