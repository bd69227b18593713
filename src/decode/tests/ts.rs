//! The `ts` field: the forms it takes, its range, and the reasons a refused one gets.

use serde_json::{json, Value};

use super::*;

#[test]
fn missing_or_null_ts() {
    let e = err(r#"{"type":"chat","user_id":"u","text":"hi"}"#);
    assert_eq!(e, DecodeError::MissingField("ts"));
    let e = err(r#"{"type":"chat","user_id":"u","ts":null,"text":"hi"}"#);
    assert_eq!(e, DecodeError::MissingField("ts"));
}

/// A chat with the given `ts` (as JSON).
fn chat_at(ts: Value) -> String {
    json!({"type":"chat","user_id":"u","ts":ts,"text":"hi"}).to_string()
}

#[test]
fn bad_ts_string() {
    let e = err(&chat_at(json!("yesterday")));
    let reason = r#"field `ts` is not an RFC 3339 time or epoch milliseconds: "yesterday""#;
    assert_eq!(e.to_string(), reason);
    // Epoch milliseconds must be a JSON integer, not a string of digits: the reason says so.
    let e = err(&chat_at(json!("1700000000000")));
    assert_eq!(e, DecodeError::BadTs(r#""1700000000000""#.into()));
    assert_eq!(
        e.to_string(),
        "field `ts` is not an RFC 3339 time or epoch milliseconds: \"1700000000000\" \
         (epoch milliseconds must be a JSON number, not text)"
    );
    // Other text gets no hint.
    for text in ["", "-", "17e11"] {
        let e = err(&chat_at(json!(text)));
        assert!(!e.to_string().contains('('), "{e}");
    }
    assert!(err(&chat_at(json!("2026")))
        .to_string()
        .ends_with("a JSON number, not text)"));
}

#[test]
fn epoch_seconds_are_named_as_such() {
    let e = err(&chat_at(json!(1_790_000_000)));
    assert_eq!(e, DecodeError::TsOutOfRange("1790000000".into()));
    assert_eq!(
        e.to_string(),
        "field `ts` is out of range (years 2000 to 2099 UTC): 1790000000 \
         (it looks like epoch seconds; ts takes epoch milliseconds)"
    );
    // Fractional seconds too; not a number that is out of range either way.
    let e = err(&chat_at(json!(1_790_000_000.25)));
    assert!(
        e.to_string()
            .ends_with("1790000000.25 (it looks like epoch seconds; ts takes epoch milliseconds)"),
        "{e}"
    );
    for ts in [
        json!(-5),
        json!(5),
        json!(END_TS_MS),
        json!(u64::MAX),
        json!(1.5),
    ] {
        let e = err(&chat_at(ts));
        assert!(!e.to_string().contains("epoch seconds"), "{e}");
        assert!(!e.to_string().contains('\n'), "{e}");
    }
}

#[test]
fn fractional_ts() {
    let e = err(r#"{"type":"chat","user_id":"u","ts":1700000000000.5,"text":"hi"}"#);
    assert_eq!(e, DecodeError::BadTs("1700000000000.5".into()));
    // Integer-valued but written as a float: still not an integer.
    let e = err(r#"{"type":"chat","user_id":"u","ts":1.7e12,"text":"hi"}"#);
    assert_eq!(e, DecodeError::BadTs("1700000000000.0".into()));
}

#[test]
fn negative_ts() {
    assert_eq!(
        err(&chat_at(json!(-5))),
        DecodeError::TsOutOfRange("-5".into())
    );
}

#[test]
fn ts_out_of_range() {
    assert_eq!(ok(&chat_at(json!("2000-01-01T00:00:00Z"))).ts, MIN_TS_MS);
    assert_eq!(ok(&chat_at(json!(END_TS_MS - 1))).ts, END_TS_MS - 1);
    for ts in [
        json!("1999-12-31T23:59:59.999Z"),
        json!("2100-01-01T00:00:00Z"),
        // 2099 locally, 2100 in UTC.
        json!("2099-12-31T23:00:00-05:00"),
        json!(END_TS_MS),
        json!(MIN_TS_MS - 1),
        json!(u64::MAX),
    ] {
        let expected = DecodeError::TsOutOfRange(ts.to_string());
        assert_eq!(err(&chat_at(ts)), expected);
    }
}

#[test]
fn ts_of_wrong_type() {
    let expected = "an RFC 3339 string or integer epoch milliseconds";
    assert_eq!(
        err(&chat_at(json!(true))),
        wrong("ts", expected, "a boolean")
    );
}

#[test]
fn rfc3339_times() {
    let utc = 1_709_251_200_000; // 2024-03-01T00:00:00Z
    assert_eq!(ok(&chat_at(json!("2024-03-01T00:00:00Z"))).ts, utc);
    assert_eq!(ok(&chat_at(json!("2024-03-01T08:00:00+08:00"))).ts, utc);
    assert_eq!(
        ok(&chat_at(json!("2024-03-01T00:00:00.123Z"))).ts,
        utc + 123
    );
    assert_eq!(parse_rfc3339_ms("2024-02-29T19:00:00-05:00"), Some(utc));
    assert_eq!(parse_rfc3339_ms("2024-03-01"), None);
}

#[test]
fn epoch_ms_integer() {
    assert_eq!(ok(&msg("chat", r#","text":"hi""#)).ts, TS);
}

/// Text one step short of RFC 3339 says which step: the offset, its colon, or the time.
#[test]
fn nearly_rfc3339_text_says_what_it_lacks() {
    let no_offset = "(no UTC offset: end it with Z, or with its zone's offset such as +08:00)";
    for text in [
        "2026-07-01T09:00:00",
        "2026-07-01 09:00:00",
        "2026-07-01T09:00:00.250",
    ] {
        let e = err(&chat_at(json!(text))).to_string();
        assert!(e.ends_with(no_offset), "{e}");
    }
    for text in ["2026-07-01T09:00:00+0800", "2026-07-01T09:00:00.5-0330"] {
        let e = err(&chat_at(json!(text))).to_string();
        assert!(
            e.ends_with("(the UTC offset needs a colon, as in +08:00)"),
            "{e}"
        );
    }
    let e = err(&chat_at(json!("2026-07-01"))).to_string();
    assert!(
        e.ends_with("(a date alone: add the time and its UTC offset, as in 2026-07-01T00:00:00Z)"),
        "{e}"
    );
    // A time that is RFC 3339 but out of range, and other text, get none of these.
    for text in [
        "1960-01-01T00:00:00Z",
        "2026-07-01T25:00:00",
        "2026-13-01",
        "2026-07-01T09:00:00+08",
    ] {
        let e = err(&chat_at(json!(text))).to_string();
        assert!(!e.contains("offset") && !e.contains("date alone"), "{e}");
    }
}
