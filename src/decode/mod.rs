//! Decoding: the bytes of one input message → a typed [`Event`], or a [`DecodeError`] whose
//! `Display` is the dead-letter reason (SPEC.md "Input events").
//!
//! This runs once per message, so it parses in one pass without building a `serde_json::Value`
//! for the whole object: a [`Visitor`] walks the top-level object, keeps the known fields as
//! borrowed raw values (no copy unless the JSON string has escapes) and only materialises unknown
//! fields into the extras map. Since which fields are known depends on `type`, which may come last,
//! validation happens after the walk, when the type is known.

pub mod event;

pub use event::{Body, Event, EventType, OrderStatus, Source};

use std::borrow::Cow;
use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{Deserialize, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserializer as _;
use serde_json::error::Category;
use serde_json::{Map, Value};

/// Messages larger than this are dead letters ("oversize").
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// Longest accepted `user_id`, in bytes.
pub const MAX_USER_ID_BYTES: usize = 128;

/// First accepted event time, 2000-01-01T00:00:00Z in epoch ms. Events outside years 2000..=2099
/// (UTC) are dead letters, so the engine's day arithmetic never meets extreme or negative times.
pub const MIN_TS_MS: i64 = 946_684_800_000;

/// First rejected event time after [`MIN_TS_MS`]: 2100-01-01T00:00:00Z in epoch ms.
pub const END_TS_MS: i64 = 4_102_444_800_000;

/// Why a message is not a valid event. `Display` is the reason written to the dead letter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("message of {0} bytes exceeds the {max}-byte limit", max = MAX_EVENT_BYTES)]
    Oversize(usize),
    #[error("empty message")]
    Empty,
    #[error("not valid UTF-8")]
    NotUtf8,
    /// Syntax errors, truncation and trailing garbage; holds serde_json's message.
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("JSON value is not an object")]
    NotObject,
    #[error("duplicate field `{0}`")]
    DuplicateField(String),
    /// Also used for a required field given as JSON `null`.
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    #[error("field `{field}` must be {expected}, got {got}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
        got: &'static str,
    },
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    #[error("`user_id` must be 1..={max} bytes, got {0}", max = MAX_USER_ID_BYTES)]
    UserIdLength(usize),
    /// Holds the value as JSON text, e.g. `"yesterday"` or `1.5`.
    #[error("field `ts` is not an RFC 3339 time or epoch milliseconds: {0}")]
    BadTs(String),
    /// Holds the value as JSON text.
    #[error("field `ts` is out of range (years 2000 to 2099 UTC): {0}")]
    TsOutOfRange(String),
    #[error("field `amount` must be a number >= 0, got {0}")]
    NegativeAmount(f64),
    #[error("field `{0}` must not be empty")]
    EmptyField(&'static str),
    #[error("field `status` must be \"paid\" or \"refunded\", got {0:?}")]
    UnknownStatus(String),
}

impl DecodeError {
    /// A short fixed name per variant, for metric labels (the `Display` text holds input values
    /// and so has unbounded cardinality).
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::Oversize(_) => "oversize",
            DecodeError::Empty => "empty",
            DecodeError::NotUtf8 => "not_utf8",
            DecodeError::NotJson(_) => "not_json",
            DecodeError::NotObject => "not_object",
            DecodeError::DuplicateField(_) => "duplicate_field",
            DecodeError::MissingField(_) => "missing_field",
            DecodeError::WrongType { .. } => "wrong_type",
            DecodeError::UnknownType(_) => "unknown_type",
            DecodeError::UserIdLength(_) => "user_id_length",
            DecodeError::BadTs(_) => "bad_ts",
            DecodeError::TsOutOfRange(_) => "ts_out_of_range",
            DecodeError::NegativeAmount(_) => "negative_amount",
            DecodeError::EmptyField(_) => "empty_field",
            DecodeError::UnknownStatus(_) => "unknown_status",
        }
    }
}

/// Decodes one message. A missing or `null` `event_id` becomes `source.to_string()`.
///
/// # Errors
/// Any input that is not exactly one valid event object, with the first reason found. Checks run
/// cheapest first: size, emptiness, UTF-8, JSON syntax, duplicate keys, then the fields.
pub fn decode(bytes: &[u8], source: &Source) -> Result<Event, DecodeError> {
    if bytes.len() > MAX_EVENT_BYTES {
        return Err(DecodeError::Oversize(bytes.len()));
    }
    if bytes
        .iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        return Err(DecodeError::Empty);
    }
    // Validating up front gives bad UTF-8 its own reason wherever it sits; serde_json's `from_str`
    // then skips its own per-string check, so this costs no more than `from_slice`.
    let text = std::str::from_utf8(bytes).map_err(|_| DecodeError::NotUtf8)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let raw = (&mut de)
        .deserialize_map(ObjectVisitor)
        .and_then(|raw| de.end().map(|()| raw))
        .map_err(|e| match e.classify() {
            // Every value inside the object is accepted whatever its type, so a data error can
            // only mean the top-level value is not an object.
            Category::Data => DecodeError::NotObject,
            _ => DecodeError::NotJson(e.to_string()),
        })?;
    raw.into_event(source)
}

/// Parses an RFC 3339 time (any offset) to epoch milliseconds, UTC. No range check.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// The top-level fields decoding knows, envelope first. Indexes [`RawEvent::known`].
#[derive(Debug, Clone, Copy)]
enum Known {
    Type,
    UserId,
    Ts,
    EventId,
    Text,
    RoomId,
    StaffId,
    Target,
    Channel,
    OrderId,
    Amount,
    Status,
    Promo,
    Category,
}

impl Known {
    const COUNT: usize = 14;
    const NAMES: [&'static str; Known::COUNT] = [
        "type", "user_id", "ts", "event_id", "text", "room_id", "staff_id", "target", "channel",
        "order_id", "amount", "status", "promo", "category",
    ];

    fn from_key(key: &str) -> Option<Known> {
        Some(match key {
            "type" => Known::Type,
            "user_id" => Known::UserId,
            "ts" => Known::Ts,
            "event_id" => Known::EventId,
            "text" => Known::Text,
            "room_id" => Known::RoomId,
            "staff_id" => Known::StaffId,
            "target" => Known::Target,
            "channel" => Known::Channel,
            "order_id" => Known::OrderId,
            "amount" => Known::Amount,
            "status" => Known::Status,
            "promo" => Known::Promo,
            "category" => Known::Category,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        Known::NAMES[self as usize]
    }
}

/// An object key: a known field (no allocation) or an extra one.
enum Key {
    Known(Known),
    Other(String),
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E>(self, s: &str) -> Result<Key, E> {
                Ok(Known::from_key(s).map_or_else(|| Key::Other(s.to_owned()), Key::Known))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// The value of a known field before validation: any JSON value, strings borrowed from the input
/// when they have no escapes.
#[derive(Debug)]
enum Raw<'de> {
    Null,
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(Cow<'de, str>),
    /// An array or object; never valid for a known field, but kept whole in case the field turns
    /// out to belong to another event type and so is an extra.
    Composite(Value),
}

impl Raw<'_> {
    /// How the value reads in a [`DecodeError::WrongType`] ("got …").
    fn kind(&self) -> &'static str {
        match self {
            Raw::Null => "null",
            Raw::Bool(_) => "a boolean",
            Raw::I64(_) | Raw::U64(_) | Raw::F64(_) => "a number",
            Raw::Str(_) => "a string",
            Raw::Composite(Value::Array(_)) => "an array",
            Raw::Composite(_) => "an object",
        }
    }

    fn into_value(self) -> Value {
        match self {
            Raw::Null => Value::Null,
            Raw::Bool(b) => Value::Bool(b),
            Raw::I64(n) => n.into(),
            Raw::U64(n) => n.into(),
            Raw::F64(n) => n.into(),
            Raw::Str(s) => Value::String(s.into_owned()),
            Raw::Composite(v) => v,
        }
    }
}

impl<'de> Deserialize<'de> for Raw<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RawVisitor;
        impl<'de> Visitor<'de> for RawVisitor {
            type Value = Raw<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Raw<'de>, E> {
                Ok(Raw::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Raw<'de>, E> {
                Ok(Raw::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Raw<'de>, E> {
                Ok(Raw::I64(n))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Raw<'de>, E> {
                Ok(Raw::U64(n))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Raw<'de>, E> {
                Ok(Raw::F64(n))
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Raw<'de>, E> {
                Ok(Raw::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Raw<'de>, E> {
                Ok(Raw::Str(Cow::Owned(s.to_owned())))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Raw<'de>, A::Error> {
                Value::deserialize(SeqAccessDeserializer::new(seq)).map(Raw::Composite)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Raw<'de>, A::Error> {
                Value::deserialize(MapAccessDeserializer::new(map)).map(Raw::Composite)
            }
        }
        d.deserialize_any(RawVisitor)
    }
}

/// The top-level object as walked, before validation.
#[derive(Default)]
struct RawEvent<'de> {
    known: [Option<Raw<'de>>; Known::COUNT],
    extras: Option<Map<String, Value>>,
    /// The first repeated key. Recorded rather than failing at once so that a JSON syntax error
    /// later in the message still reads as "not JSON".
    duplicate: Option<String>,
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = RawEvent<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEvent<'de>, A::Error> {
        let mut raw = RawEvent::default();
        while let Some(key) = map.next_key::<Key>()? {
            let duplicate = match key {
                Key::Known(k) => match &mut raw.known[k as usize] {
                    Some(_) => k.name().to_owned(),
                    slot => {
                        *slot = Some(map.next_value()?);
                        continue;
                    }
                },
                Key::Other(name) => {
                    let extras = raw.extras.get_or_insert_with(Map::new);
                    if !extras.contains_key(&name) {
                        let value = map.next_value()?;
                        extras.insert(name, value);
                        continue;
                    }
                    name
                }
            };
            map.next_value::<IgnoredAny>()?;
            raw.duplicate.get_or_insert(duplicate);
        }
        Ok(raw)
    }
}

impl<'de> RawEvent<'de> {
    fn take(&mut self, k: Known) -> Option<Raw<'de>> {
        match self.known[k as usize].take() {
            Some(Raw::Null) | None => None,
            some => some,
        }
    }

    fn optional_str(&mut self, k: Known) -> Result<Option<Cow<'de, str>>, DecodeError> {
        match self.take(k) {
            None => Ok(None),
            Some(Raw::Str(s)) => Ok(Some(s)),
            Some(other) => Err(wrong_type(k, "a string", &other)),
        }
    }

    fn required_str(&mut self, k: Known) -> Result<Cow<'de, str>, DecodeError> {
        self.optional_str(k)?
            .ok_or(DecodeError::MissingField(k.name()))
    }

    fn optional_string(&mut self, k: Known) -> Result<Option<String>, DecodeError> {
        Ok(self.optional_str(k)?.map(Cow::into_owned))
    }

    fn into_event(mut self, source: &Source) -> Result<Event, DecodeError> {
        if let Some(name) = self.duplicate {
            return Err(DecodeError::DuplicateField(name));
        }
        let type_name = self.required_str(Known::Type)?;
        let event_type = EventType::parse(&type_name)
            .ok_or_else(|| DecodeError::UnknownType(type_name.into_owned()))?;
        let user_id = self.required_str(Known::UserId)?;
        if user_id.is_empty() || user_id.len() > MAX_USER_ID_BYTES {
            return Err(DecodeError::UserIdLength(user_id.len()));
        }
        let ts = ts_ms(
            self.take(Known::Ts)
                .ok_or(DecodeError::MissingField("ts"))?,
        )?;
        let event_id = match self.optional_str(Known::EventId)? {
            Some(id) => id.into_owned(),
            None => source.to_string(),
        };
        let body = match event_type {
            EventType::Chat => Body::Chat {
                text: self.required_str(Known::Text)?.into_owned(),
                room_id: self.optional_string(Known::RoomId)?,
                staff_id: self.optional_string(Known::StaffId)?,
            },
            EventType::Click => Body::Click {
                target: self.required_str(Known::Target)?.into_owned(),
                channel: self.optional_string(Known::Channel)?,
            },
            EventType::Order => self.order_body()?,
        };
        // What is left of the known fields belongs to another event type: an extra here.
        // (Nulls were only dropped from the slots taken above.)
        let mut fields = self.extras;
        for (i, slot) in self.known.into_iter().enumerate() {
            if let Some(raw) = slot {
                fields
                    .get_or_insert_with(Map::new)
                    .insert(Known::NAMES[i].to_owned(), raw.into_value());
            }
        }
        Ok(Event {
            user_id: user_id.into_owned(),
            ts,
            event_id,
            body,
            fields: fields.map(Box::new),
        })
    }

    fn order_body(&mut self) -> Result<Body, DecodeError> {
        let order_id = self.required_str(Known::OrderId)?;
        if order_id.is_empty() {
            return Err(DecodeError::EmptyField("order_id"));
        }
        let amount = match self.take(Known::Amount) {
            None => return Err(DecodeError::MissingField("amount")),
            Some(Raw::I64(n)) => n as f64,
            Some(Raw::U64(n)) => n as f64,
            Some(Raw::F64(n)) => n,
            Some(other) => return Err(wrong_type(Known::Amount, "a number >= 0", &other)),
        };
        // serde_json rejects numbers that overflow f64, so `amount` is finite; only the sign is left.
        if amount < 0.0 {
            return Err(DecodeError::NegativeAmount(amount));
        }
        let status = match self.optional_str(Known::Status)?.as_deref() {
            None | Some("paid") => OrderStatus::Paid,
            Some("refunded") => OrderStatus::Refunded,
            Some(other) => return Err(DecodeError::UnknownStatus(other.to_owned())),
        };
        let promo = match self.take(Known::Promo) {
            None => false,
            Some(Raw::Bool(b)) => b,
            Some(other) => return Err(wrong_type(Known::Promo, "a boolean", &other)),
        };
        Ok(Body::Order {
            order_id: order_id.into_owned(),
            amount,
            status,
            promo,
            category: self.optional_string(Known::Category)?,
        })
    }
}

fn wrong_type(k: Known, expected: &'static str, got: &Raw) -> DecodeError {
    DecodeError::WrongType {
        field: k.name(),
        expected,
        got: got.kind(),
    }
}

/// Validates a non-null `ts`: an RFC 3339 string or an integer of epoch ms, within
/// [`MIN_TS_MS`]..[`END_TS_MS`]. Fractional numbers are rejected rather than truncated.
fn ts_ms(raw: Raw) -> Result<i64, DecodeError> {
    let ms = match &raw {
        Raw::Str(s) => parse_rfc3339_ms(s),
        Raw::I64(n) => Some(*n),
        // Beyond i64 is beyond the range too.
        Raw::U64(n) => Some(i64::try_from(*n).unwrap_or(i64::MAX)),
        Raw::F64(_) => None,
        other => {
            let expected = "an RFC 3339 string or integer epoch milliseconds";
            return Err(wrong_type(Known::Ts, expected, other));
        }
    };
    match ms {
        Some(ms) if (MIN_TS_MS..END_TS_MS).contains(&ms) => Ok(ms),
        Some(_) => Err(DecodeError::TsOutOfRange(raw.into_value().to_string())),
        None => Err(DecodeError::BadTs(raw.into_value().to_string())),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

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

    #[test]
    fn oversize_checked_before_parsing() {
        let e = decode(&vec![b'x'; MAX_EVENT_BYTES + 1], &file_source()).unwrap_err();
        assert_eq!(e, DecodeError::Oversize(1_048_577));
        let reason = "message of 1048577 bytes exceeds the 1048576-byte limit";
        assert_eq!((e.to_string().as_str(), e.kind()), (reason, "oversize"));
    }

    #[test]
    fn unknown_type() {
        let e = err(&msg("view", ""));
        assert_eq!(e, DecodeError::UnknownType("view".into()));
        assert_eq!(e.to_string(), r#"unknown event type "view""#);
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
        assert_eq!(e.to_string(), "`user_id` must be 1..=128 bytes, got 0");
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
        // Epoch milliseconds must be a JSON integer, not a string of digits.
        let e = err(&chat_at(json!("1700000000000")));
        assert_eq!(e, DecodeError::BadTs(r#""1700000000000""#.into()));
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

    #[test]
    fn event_id_given() {
        let e = ok(&msg("chat", r#","text":"hi","event_id":"c-7""#));
        assert_eq!(e.event_id, "c-7");
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
        assert_eq!(e.event_id, "events/3/42");
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
        assert_eq!(e.user_id, "用户");
        assert!(matches!(e.body, Body::Chat { text, .. } if text == "你好"));
    }
}
