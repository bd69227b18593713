use std::sync::Arc;

use serde_json::json;

use super::*;

mod ts;

/// 2023-11-14T22:13:20Z, the `ts` of [`msg`].
const TS: i64 = 1_700_000_000_000;

fn file_source() -> Source {
    let name = Arc::from("events.jsonl");
    Source::File { name, line: 7 }
}

/// A message of type `ty` with a valid envelope, followed by `rest` (",\"k\":v" members).
fn msg(ty: &str, rest: &str) -> String {
    format!(r#"{{"type":"{ty}","user_id":"u","ts":1700000000000{rest}}}"#)
}

fn err(s: &str) -> DecodeError {
    decode(s.as_bytes(), &file_source()).expect_err(s)
}

fn ok(s: &str) -> Event {
    decode(s.as_bytes(), &file_source()).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn wrong(field: &'static str, expected: &'static str, got: &'static str) -> DecodeError {
    DecodeError::WrongType {
        field,
        expected,
        got,
    }
}

#[test]
fn not_json() {
    assert!(matches!(err("hello"), DecodeError::NotJson(_)));
}

#[test]
fn truncated_json() {
    let e = err(r#"{"type":"chat","user_id":"#);
    assert!(
        matches!(&e, DecodeError::NotJson(m) if m.contains("EOF")),
        "{e}"
    );
}

#[test]
fn array_is_not_an_object() {
    assert_eq!(err("[1,2]"), DecodeError::NotObject);
}

#[test]
fn string_is_not_an_object() {
    assert_eq!(err(r#""chat""#), DecodeError::NotObject);
}

/// A line that starts like a value but is not JSON at all is `not_json`, whatever its first
/// value: the reasons are checked in the documented order.
#[test]
fn text_that_starts_like_a_value_but_is_not_json() {
    for line in [r#""a": 1,"#, "1 2", "[1,", r#""x" trailing"#, "[1] [2]"] {
        assert!(matches!(err(line), DecodeError::NotJson(_)), "{line}");
    }
    assert_eq!(err("12"), DecodeError::NotObject);
    assert_eq!(err(" null "), DecodeError::NotObject);
}

#[test]
fn trailing_garbage() {
    let e = err(&(msg("click", r#","target":"t""#) + " x"));
    assert!(
        matches!(&e, DecodeError::NotJson(m) if m.contains("trailing")),
        "{e}"
    );
}

#[test]
fn empty_and_whitespace_only() {
    assert_eq!(err(""), DecodeError::Empty);
    assert_eq!(err(" \t\r\n"), DecodeError::Empty);
}

#[test]
fn invalid_utf8() {
    let bytes = b"{\"type\":\"chat\",\"user_id\":\"u\",\"ts\":1700000000000,\"text\":\"\xff\"}";
    assert_eq!(decode(bytes, &file_source()), Err(DecodeError::NotUtf8));
}

/// A line reaches the decoder cut a byte past the limit, so its length is not known: the reason
/// says it is too long and how much of it the payload keeps. A Kafka message arrives whole
/// and is named by its real length.
#[test]
fn oversize_checked_before_parsing() {
    let e = decode(&vec![b'x'; MAX_EVENT_BYTES + 1], &file_source()).unwrap_err();
    assert_eq!(e, DecodeError::OversizeLine { kept: 1_048_576 });
    let reason =
        "line longer than the 1048576-byte limit (1 MiB); payload cut to its first 1048576 bytes";
    assert_eq!((e.to_string().as_str(), e.kind()), (reason, "oversize"));
    let kafka = Source::Kafka {
        topic: Arc::from("behaviour-events"),
        partition: 3,
        offset: 1187,
    };
    let e = decode(&vec![b'x'; 3_000_000], &kafka).unwrap_err();
    assert_eq!(e, DecodeError::Oversize(3_000_000));
    let reason = "message of 3000000 bytes is longer than the 1048576-byte limit (1 MiB)";
    assert_eq!((e.to_string().as_str(), e.kind()), (reason, "oversize"));
}

/// The cut falls between characters, so that the payload kept is still UTF-8 text (half a
/// character would also put the whole megabyte in base64 beside it).
#[test]
fn an_oversize_line_is_cut_between_characters() {
    // 3-byte characters: the limit falls one byte into the 349,526th.
    let line = "价".repeat(MAX_EVENT_BYTES / 3 + 1);
    let e = decode(line.as_bytes(), &file_source()).unwrap_err();
    assert_eq!(e, DecodeError::OversizeLine { kept: 1_048_575 });
    // Bytes that are not UTF-8 anyway are cut at the limit.
    let mut bad = vec![0xff; MAX_EVENT_BYTES + 1];
    bad[MAX_EVENT_BYTES - 1] = 0xe4;
    assert_eq!(oversize_cut(&bad), MAX_EVENT_BYTES);
}

#[test]
fn unknown_type() {
    let e = err(&msg("view", ""));
    assert_eq!(e, DecodeError::UnknownType("view".into()));
    assert_eq!(
        e.to_string(),
        r#"unknown event type "view" (chat, click or order)"#
    );
}

#[test]
fn missing_type() {
    let e = err(r#"{"user_id":"u","ts":1700000000000,"text":"hi"}"#);
    assert_eq!(e, DecodeError::MissingField("type"));
    assert_eq!(e.to_string(), "missing field `type`");
}

#[test]
fn type_not_a_string() {
    let e = err(r#"{"type":1,"user_id":"u","ts":1700000000000}"#);
    assert_eq!(e, wrong("type", "a string", "a number"));
}

#[test]
fn missing_user_id() {
    let e = err(r#"{"type":"chat","ts":1700000000000,"text":"hi"}"#);
    assert_eq!(e, DecodeError::MissingField("user_id"));
}

#[test]
fn empty_user_id() {
    let e = err(r#"{"type":"chat","user_id":"","ts":1700000000000,"text":"hi"}"#);
    assert_eq!(e, DecodeError::UserIdLength(0));
    assert_eq!(e.to_string(), "`user_id` must be 1 to 128 bytes, got 0");
}

#[test]
fn user_id_over_128_bytes() {
    let msg = |id: &str| json!({"type":"chat","user_id":id,"ts":TS,"text":"hi"}).to_string();
    assert_eq!(ok(&msg(&"u".repeat(128))).user_id.len(), 128);
    assert_eq!(err(&msg(&"u".repeat(129))), DecodeError::UserIdLength(129));
    // Bytes, not characters: 43 three-byte characters are 129 bytes.
    assert_eq!(err(&msg(&"用".repeat(43))), DecodeError::UserIdLength(129));
}

#[test]
fn user_id_not_a_string() {
    let e = err(r#"{"type":"chat","user_id":42,"ts":1700000000000,"text":"hi"}"#);
    assert_eq!(e, wrong("user_id", "a string", "a number"));
}

#[test]
fn chat_without_text() {
    assert_eq!(err(&msg("chat", "")), DecodeError::MissingField("text"));
}

#[test]
fn text_not_a_string() {
    let e = err(&msg("chat", r#","text":5"#));
    assert_eq!(e, wrong("text", "a string", "a number"));
    assert_eq!(e.to_string(), "field `text` must be a string, got a number");
}

#[test]
fn click_without_target() {
    let e = err(&msg("click", r#","text":"t""#));
    assert_eq!(e, DecodeError::MissingField("target"));
}

#[test]
fn order_without_order_id() {
    let e = err(&msg("order", r#","amount":1"#));
    assert_eq!(e, DecodeError::MissingField("order_id"));
}

#[test]
fn empty_order_id() {
    let e = err(&msg("order", r#","order_id":"","amount":1"#));
    assert_eq!(e, DecodeError::EmptyField("order_id"));
}

#[test]
fn missing_amount() {
    let e = err(&msg("order", r#","order_id":"o""#));
    assert_eq!(e, DecodeError::MissingField("amount"));
}

#[test]
fn negative_amount() {
    let e = err(&msg("order", r#","order_id":"o","amount":-3"#));
    assert_eq!(e, DecodeError::NegativeAmount(-3.0));
    let reason = "field `amount` must be a number >= 0, got -3";
    assert_eq!(e.to_string(), reason);
}

#[test]
fn amount_as_string() {
    let e = err(&msg("order", r#","order_id":"o","amount":"3""#));
    assert_eq!(e, wrong("amount", "a number >= 0", "a string"));
}

#[test]
fn unknown_status() {
    let e = err(&msg(
        "order",
        r#","order_id":"o","amount":1,"status":"pending""#,
    ));
    assert_eq!(e, DecodeError::UnknownStatus("pending".into()));
}

#[test]
fn promo_not_a_bool() {
    let e = err(&msg("order", r#","order_id":"o","amount":1,"promo":"yes""#));
    assert_eq!(e, wrong("promo", "a boolean", "a string"));
}

#[test]
fn event_id_not_a_string() {
    let e = err(&msg("chat", r#","text":"hi","event_id":7"#));
    assert_eq!(e, wrong("event_id", "a string", "a number"));
}

#[test]
fn duplicate_key() {
    let e = err(&msg("chat", r#","text":"hi","user_id":"b""#));
    assert_eq!(e, DecodeError::DuplicateField("user_id".into()));
    assert_eq!(e.to_string(), "duplicate field `user_id`");
    // Also for extra fields, and for a key spelled with an escape.
    let e = err(&msg("chat", r#","text":"hi","x":1,"x":2"#));
    assert_eq!(e, DecodeError::DuplicateField("x".into()));
    let e = err(&msg("chat", r#","text":"hi","t\u0079pe":"chat""#));
    assert_eq!(e, DecodeError::DuplicateField("type".into()));
}

#[test]
fn chat_minimal() {
    let e = ok(r#"{"type":"chat","user_id":"wm_1","ts":1700000000000,"text":"hello"}"#);
    let body = Body::Chat {
        text: "hello".into(),
        room_id: None,
        staff_id: None,
    };
    let (user_id, event_id) = ("wm_1".into(), "events.jsonl:7".into());
    let fields = None;
    let expected = Event {
        user_id,
        ts: TS,
        event_id,
        body,
        fields,
    };
    assert_eq!(e, expected);
}

#[test]
fn chat_with_optional_fields() {
    // Fields in any order: `type` last.
    let e = ok(
        r#"{"text":"hi","room_id":"r9","staff_id":"s2","user_id":"u","ts":1700000000000,"type":"chat"}"#,
    );
    let body = Body::Chat {
        text: "hi".into(),
        room_id: Some("r9".into()),
        staff_id: Some("s2".into()),
    };
    assert_eq!(e.body, body);
}

#[test]
fn null_optional_fields_are_absent() {
    let e = ok(&msg(
        "chat",
        r#","text":"hi","room_id":null,"staff_id":null,"event_id":null"#,
    ));
    let body = Body::Chat {
        text: "hi".into(),
        room_id: None,
        staff_id: None,
    };
    assert_eq!(
        (e.body, e.event_id, e.fields),
        (body, "events.jsonl:7".into(), None)
    );
}

#[test]
fn click() {
    let e = ok(&msg("click", r#","target":"item:42","channel":"app""#));
    let (target, channel) = ("item:42".into(), Some("app".into()));
    assert_eq!(e.body, Body::Click { target, channel });
    let e = ok(&msg("click", r#","target":"menu""#));
    let (target, channel) = ("menu".into(), None);
    assert_eq!(e.body, Body::Click { target, channel });
}

#[test]
fn order_defaults_to_paid() {
    let e = ok(&msg("order", r#","order_id":"o-1","amount":99.5"#));
    let body = Body::Order {
        order_id: "o-1".into(),
        amount: 99.5,
        status: OrderStatus::Paid,
        promo: false,
        category: None,
    };
    assert_eq!(e.body, body);
}

#[test]
fn order_refunded_with_promo_and_category() {
    let rest =
        r#","order_id":"o-2","amount":120,"status":"refunded","promo":true,"category":"tea""#;
    let body = Body::Order {
        order_id: "o-2".into(),
        amount: 120.0,
        status: OrderStatus::Refunded,
        promo: true,
        category: Some("tea".into()),
    };
    assert_eq!(ok(&msg("order", rest)).body, body);
}

#[test]
fn event_id_given() {
    let e = ok(&msg("chat", r#","text":"hi","event_id":"c-7""#));
    assert_eq!(&*e.event_id, "c-7");
}

#[test]
fn event_id_derived_from_kafka_source() {
    let topic = Arc::from("events");
    let (partition, offset) = (3, 42);
    let source = Source::Kafka {
        topic,
        partition,
        offset,
    };
    let e = decode(msg("chat", r#","text":"hi""#).as_bytes(), &source).unwrap();
    assert_eq!(&*e.event_id, "events/3/42");
}

#[test]
fn extra_fields_are_kept() {
    let rest = r#","text":"hi","device":{"os":"ios"},"amount":-3,"vip":null,"tags":[1]"#;
    let fields = ok(&msg("chat", rest)).fields.map(|f| Value::Object(*f));
    // `amount` is an order field, so on a chat it is an extra and not validated.
    let expected = json!({"device":{"os":"ios"},"amount":-3,"vip":null,"tags":[1]});
    assert_eq!(fields, Some(expected));
}

#[test]
fn crlf_line_ending() {
    let e = ok(&(msg("click", r#","target":"t""#) + "\r\n"));
    assert_eq!(e.event_type(), EventType::Click);
}

#[test]
fn chinese_text_with_unicode_escapes() {
    let e = ok(&msg(
        "chat",
        r#","text":"\u4f60\u597d\uff0c\u8981\u9000\u6b3e""#,
    ));
    assert!(matches!(e.body, Body::Chat { text, .. } if text == "你好，要退款"));
    let e = ok(r#"{"type":"chat","user_id":"\u7528\u6237","ts":1700000000000,"text":"你好"}"#);
    assert_eq!(&*e.user_id, "用户");
    assert!(matches!(e.body, Body::Chat { text, .. } if text == "你好"));
}

#[test]
fn future_limit_rejects_only_what_is_too_far_ahead_of_the_given_wall_time() {
    let hour = 3_600_000;
    let limit = FutureLimit {
        max_ms: Some(hour),
        wall_ms: Some(TS),
    };
    assert_eq!(limit.check(TS + hour), Ok(()));
    assert_eq!(limit.check(TS - 400 * 86_400_000), Ok(()));
    let e = limit.check(TS + hour + 1).unwrap_err();
    assert_eq!(e.kind(), "ts_in_future");
    // Spans read to the second.
    assert_eq!(
        e.to_string(),
        "field `ts` is 1h ahead of the wall clock, more than clock.max_future (1h)"
    );
    let far = limit.check(TS + 200 * 86_400_000 + 3_723_000).unwrap_err();
    assert!(far.to_string().contains("is 200d 1h 2m 3s ahead"), "{far}");
    // Off, or no wall time given: nothing is rejected.
    for off in [
        FutureLimit {
            max_ms: None,
            wall_ms: Some(TS),
        },
        FutureLimit {
            max_ms: Some(hour),
            wall_ms: None,
        },
    ] {
        assert_eq!(off.check(END_TS_MS - 1), Ok(()));
    }
}
