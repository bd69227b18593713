//! What leaves the engine: tag changes and dead letters, and their JSON encoding.

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

/// A change's id, written as 16 hexadecimal digits. Deterministic: the same input and rules
/// give the same id ([`change_id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChangeId(pub u64);

impl ChangeId {
    /// The id's text, without an allocation.
    pub fn hex(self) -> [u8; 16] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0; 16];
        for (i, digit) in text.iter_mut().enumerate() {
            *digit = DIGITS[(self.0 >> (60 - 4 * i)) as usize & 15];
        }
        text
    }
}

impl std::fmt::Display for ChangeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TagChange {
    pub id: ChangeId,
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
    /// Why, as a fixed name: a decode error's kind or [`DeadLetter::RULE_ERROR`]. Metrics count
    /// by it; it is not part of the JSON (the message says more).
    #[serde(skip)]
    pub reason: &'static str,
    pub error: String,
    /// The failing rule, `None` for decode errors.
    pub rule: Option<String>,
    /// `topic/partition/offset` or `file:line`.
    pub source: String,
    /// The original input text (invalid UTF-8 replaced by U+FFFD).
    pub payload: String,
    /// The original bytes in standard base64, present only when they are not valid UTF-8, so
    /// that what `payload` had to replace can still be recovered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_base64: Option<String>,
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

impl TagChange {
    /// Appends the change as one JSON object (no newline).
    pub fn write_json(&self, buf: &mut Vec<u8>) {
        use super::json::{write_opt_f64, write_opt_str, write_opt_ts, write_str, write_ts};
        buf.extend_from_slice(b"{\"id\":\"");
        buf.extend_from_slice(&self.id.hex());
        buf.push(b'"');
        buf.extend_from_slice(b",\"user_id\":");
        write_str(buf, &self.user_id);
        buf.extend_from_slice(b",\"tag\":");
        write_str(buf, &self.tag);
        buf.extend_from_slice(b",\"op\":");
        write_str(buf, self.op.as_str());
        buf.extend_from_slice(b",\"score\":");
        write_opt_f64(buf, self.score.map(|s| (s * 1e4).round() / 1e4));
        buf.extend_from_slice(b",\"rule\":");
        write_str(buf, &self.rule);
        buf.extend_from_slice(b",\"reason\":");
        write_str(buf, &self.reason);
        buf.extend_from_slice(b",\"event_id\":");
        write_opt_str(buf, self.event_id.as_deref());
        buf.extend_from_slice(b",\"ts\":");
        write_ts(buf, self.ts);
        buf.extend_from_slice(b",\"expires_at\":");
        write_opt_ts(buf, self.expires_at);
        buf.extend_from_slice(b",\"rules_version\":");
        write_str(buf, &self.rules_version);
        buf.push(b'}');
    }
}

impl DeadLetter {
    /// The reason of a rule that failed on the input.
    pub const RULE_ERROR: &'static str = "rule_error";

    /// A dead letter for the record `raw` (its line ending dropped): its text, and its bytes in
    /// base64 as well when they are not UTF-8.
    pub fn of_record(
        reason: &'static str,
        error: String,
        rule: Option<String>,
        source: String,
        raw: &[u8],
    ) -> Self {
        let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let (payload, payload_base64) = match std::str::from_utf8(raw) {
            Ok(text) => (text.to_string(), None),
            Err(_) => (String::from_utf8_lossy(raw).into_owned(), Some(base64(raw))),
        };
        DeadLetter {
            reason,
            error,
            rule,
            source,
            payload,
            payload_base64,
            // Set by the caller, which knows the rule set in force.
            rules_version: String::new(),
        }
    }

    /// Cuts the payload so that `payload` and `payload_base64` together hold at most `max`
    /// bytes (a Kafka message has a size limit), saying so in `error`. The base64 original is
    /// kept whole while it fits, since it is the one that recovers the bytes.
    pub fn fit(&mut self, max: usize) {
        let b64 = self.payload_base64.as_ref().map_or(0, String::len);
        if self.payload.len() + b64 <= max {
            return;
        }
        let mut cut = max.saturating_sub(b64).min(self.payload.len());
        while !self.payload.is_char_boundary(cut) {
            cut -= 1;
        }
        self.payload.truncate(cut);
        if let Some(b64) = &mut self.payload_base64 {
            // Whole 4-character groups, so what is left still decodes.
            b64.truncate(b64.len().min(max) / 4 * 4);
        }
        self.error.push_str(" (payload truncated)");
    }

    pub fn write_json(&self, buf: &mut Vec<u8>) {
        serde_json::to_writer(buf, self).expect("dead letter serialises");
    }
}

/// Standard base64 (RFC 4648, with padding).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                text.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                text.push('=');
            }
        }
    }
    text
}

/// Hashes one field, then a separator byte, so fields cannot run into each other.
fn fnv1a(hash: &mut u64, bytes: &[u8]) {
    *hash = fnv1a_extend(fnv1a_extend(*hash, bytes), &[0xff]);
}

/// The id of a change: a hash of what triggered it, the user, the tag, the op, the step time and
/// the change's place in its step. Replaying the same input through the same rules gives the
/// same ids, so duplicates from an at-least-once replay are recognisable.
pub fn change_id(trigger: &Trigger, user: &str, tag: &str, op: Op, now: i64, seq: u32) -> ChangeId {
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
    ChangeId(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn fitting_a_dead_letter_cuts_the_text_first_and_keeps_base64_decodable() {
        let mut plain = DeadLetter::of_record(
            "not_json",
            "bad".into(),
            None,
            "t/0/1".into(),
            "价格".as_bytes(),
        );
        plain.fit(4);
        assert_eq!(
            (plain.payload.as_str(), plain.error.as_str()),
            ("价", "bad (payload truncated)")
        );
        let raw = [b'x', 0xff, b'y', b'z', 0xfe, b'w'];
        let whole = DeadLetter::of_record("not_json", "e".into(), None, "t/0/2".into(), &raw);
        let mut fits = whole.clone();
        fits.fit(100);
        assert_eq!(fits, whole);
        let mut text_cut = whole.clone();
        text_cut.fit(10);
        assert_eq!(text_cut.payload_base64, whole.payload_base64);
        assert_eq!(text_cut.payload, "x");
        let mut both_cut = whole.clone();
        both_cut.fit(6);
        assert_eq!(both_cut.payload_base64.as_deref(), Some("eP95"));
    }

    #[test]
    fn dead_letters_keep_bytes_that_are_not_utf8() {
        let raw = b"{\"type\":\"chat\",\"text\":\"\xff\xfe\"}\r\n";
        let dead = DeadLetter::of_record(
            "not_json",
            "not valid UTF-8".into(),
            None,
            "f:1".into(),
            raw,
        );
        assert_eq!(
            dead.payload,
            "{\"type\":\"chat\",\"text\":\"\u{fffd}\u{fffd}\"}"
        );
        assert_eq!(
            dead.payload_base64.as_deref(),
            Some(base64(&raw[..raw.len() - 2]).as_str())
        );
        let mut json = Vec::new();
        dead.write_json(&mut json);
        assert!(String::from_utf8(json)
            .unwrap()
            .contains("\"payload_base64\":"));
        let plain = DeadLetter::of_record("not_json", "x".into(), None, "f:2".into(), b"ok\n");
        assert_eq!(
            (plain.payload.as_str(), plain.payload_base64.as_deref()),
            ("ok", None)
        );
        let mut json = Vec::new();
        plain.write_json(&mut json);
        assert!(!String::from_utf8(json).unwrap().contains("payload_base64"));
    }
}
