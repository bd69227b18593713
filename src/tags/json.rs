//! The JSON of a tag change, written straight into the output buffer.
//!
//! Every event yields about one change, so this encoding is on the hot path of both modes.
//! It writes the same bytes `serde_json` writes for the same fields (a test compares the two
//! on generated changes) without its per-field machinery: strings that need no escape are
//! copied whole, and times are formatted into the buffer instead of through a `String` each.

use chrono::{DateTime, Datelike, Timelike};

use super::output::format_ts;

/// Appends `text` as a JSON string.
pub fn write_str(buf: &mut Vec<u8>, text: &str) {
    // Without early exit, so the check runs over whole vectors of bytes.
    let plain = text
        .bytes()
        .fold(true, |ok, b| ok & (b >= 0x20 && b != b'"' && b != b'\\'));
    if plain {
        buf.reserve(text.len() + 2);
        buf.push(b'"');
        buf.extend_from_slice(text.as_bytes());
        buf.push(b'"');
    } else {
        // Serialising a string into a Vec cannot fail.
        serde_json::to_writer(&mut *buf, text).expect("a string serialises");
    }
}

/// Appends `text` as a JSON string, or `null`.
pub fn write_opt_str(buf: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => write_str(buf, text),
        None => buf.extend_from_slice(b"null"),
    }
}

/// Appends a number as `serde_json` writes an `f64` (`null` when it is not finite), or `null`.
pub fn write_opt_f64(buf: &mut Vec<u8>, value: Option<f64>) {
    // Serialising a number into a Vec cannot fail.
    serde_json::to_writer(&mut *buf, &value).expect("a number serialises");
}

/// Appends epoch ms as the JSON string [`format_ts`] gives.
pub fn write_ts(buf: &mut Vec<u8>, ms: i64) {
    let Some(t) = DateTime::from_timestamp_millis(ms).filter(|t| (0..=9999).contains(&t.year()))
    else {
        // Outside four-digit years the text has a sign; rare enough for the general path.
        write_str(buf, &format_ts(ms));
        return;
    };
    let mut text = [0_u8; 26];
    let mut at = 0;
    let mut digits = |n: u32, width: usize, then: Option<u8>| {
        let mut n = n;
        for i in (0..width).rev() {
            text[at + i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
        at += width;
        if let Some(sep) = then {
            text[at] = sep;
            at += 1;
        }
    };
    digits(t.year() as u32, 4, Some(b'-'));
    digits(t.month(), 2, Some(b'-'));
    digits(t.day(), 2, Some(b'T'));
    digits(t.hour(), 2, Some(b':'));
    digits(t.minute(), 2, Some(b':'));
    let millis = t.timestamp_subsec_millis();
    if millis == 0 {
        digits(t.second(), 2, Some(b'Z'));
    } else {
        digits(t.second(), 2, Some(b'.'));
        digits(millis, 3, Some(b'Z'));
    }
    buf.push(b'"');
    buf.extend_from_slice(&text[..at]);
    buf.push(b'"');
}

/// Appends epoch ms as a JSON string, or `null`.
pub fn write_opt_ts(buf: &mut Vec<u8>, ms: Option<i64>) {
    match ms {
        Some(ms) => write_ts(buf, ms),
        None => buf.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde::Serialize;

    use crate::tags::{ChangeId, Op, TagChange};

    /// The encoding as `serde_json` writes it: the reference the fast path must match.
    #[derive(Serialize)]
    struct Reference<'a> {
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

    fn reference(c: &TagChange) -> Vec<u8> {
        let id = c.id.to_string();
        let json = Reference {
            id: &id,
            user_id: &c.user_id,
            tag: &c.tag,
            op: c.op,
            score: c.score.map(|s| (s * 1e4).round() / 1e4),
            rule: &c.rule,
            reason: &c.reason,
            event_id: c.event_id.as_deref(),
            ts: crate::tags::format_ts(c.ts),
            expires_at: c.expires_at.map(crate::tags::format_ts),
            rules_version: &c.rules_version,
        };
        serde_json::to_vec(&json).unwrap()
    }

    /// A small deterministic generator (xorshift), so a failure names its case.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn pick<T: Copy>(&mut self, from: &[T]) -> T {
            from[(self.next() % from.len() as u64) as usize]
        }
    }

    const TEXTS: &[&str] = &[
        "",
        "activity/high",
        "activity score 12.5",
        "wm_421ff875b914549b",
        "价格 优惠 \u{1F600}",
        "quote \" inside",
        "back\\slash",
        "tab\there",
        "line\nbreak",
        "\u{1}\u{1f}\u{7f}",
        "ends with \\",
    ];

    const TIMES: &[i64] = &[
        0,
        1,
        999,
        1_000,
        1_788_220_803_464,
        1_788_220_803_000,
        -1,
        -62_135_596_800_000, // year 1
        -62_167_219_200_000, // year 0
        -62_167_219_200_001, // year -1
        253_402_300_799_999, // the last ms of 9999
        253_402_300_800_000, // year 10000
        i64::MAX,
        i64::MIN,
    ];

    const SCORES: &[f64] = &[
        0.0,
        -0.0,
        1.0,
        0.123456,
        12.5,
        1e21,
        -3.33335,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::MAX,
        5e-324,
    ];

    #[test]
    fn changes_are_written_as_serde_json_writes_them() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for case in 0..20_000 {
            let text = |rng: &mut Rng| rng.pick(TEXTS);
            let change = TagChange {
                id: ChangeId(rng.next()),
                user_id: Arc::from(text(&mut rng)),
                tag: Arc::from(text(&mut rng)),
                op: if rng.next() % 2 == 0 {
                    Op::Add
                } else {
                    Op::Remove
                },
                score: (rng.next() % 3 != 0).then(|| rng.pick(SCORES)),
                rule: Arc::from(text(&mut rng)),
                reason: text(&mut rng).to_string(),
                event_id: (rng.next() % 3 != 0).then(|| Arc::from(text(&mut rng))),
                ts: if rng.next() % 2 == 0 {
                    rng.pick(TIMES)
                } else {
                    (rng.next() % 400_000_000_000_000) as i64 - 100_000_000_000_000
                },
                expires_at: (rng.next() % 2 == 0).then(|| rng.pick(TIMES)),
                rules_version: Arc::from(text(&mut rng)),
            };
            let mut fast = Vec::new();
            change.write_json(&mut fast);
            assert_eq!(
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&reference(&change)),
                "case {case}: {change:?}"
            );
        }
    }
}
