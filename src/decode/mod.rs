//! Decoding: the bytes of one input message → a typed [`Event`], or a [`DecodeError`] whose
//! `Display` is the dead-letter reason (SPEC.md "Input events").
//!
//! This runs once per message, so it parses in one pass without building a `serde_json::Value`
//! for the whole object: a [`Visitor`] walks the top-level object, keeps the known fields as
//! borrowed raw values (no copy unless the JSON string has escapes) and only materialises unknown
//! fields into the extras map. Since which fields are known depends on `type`, which may come last,
//! validation happens after the walk, when the type is known.

pub mod event;
mod future;
mod ts;

pub use event::{Body, Event, EventType, OrderStatus, Source};
use future::span_text;
pub use future::FutureLimit;
pub use ts::{parse_rfc3339_ms, END_TS_MS, MIN_TS_MS};
use ts::{ts_hint, ts_ms};

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{Deserialize, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserializer as _;
use serde_json::error::Category;
use serde_json::{Map, Value};

/// Messages larger than this are dead letters ("oversize").
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// Longest accepted `user_id`, in bytes.
pub const MAX_USER_ID_BYTES: usize = 128;

/// Why a message is not a valid event. `Display` is the reason written to the dead letter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// A Kafka message over [`MAX_EVENT_BYTES`]: it arrives whole, so its length is known.
    #[error("message of {0} bytes is longer than the {max}-byte limit (1 MiB)", max = MAX_EVENT_BYTES)]
    Oversize(usize),
    /// A line over [`MAX_EVENT_BYTES`]: the file reader stops a byte past the limit, so its
    /// length is not known, and its dead letter keeps its first `kept` bytes ([`oversize_cut`]).
    #[error("line longer than the {max}-byte limit (1 MiB); payload cut to its first {kept} bytes", max = MAX_EVENT_BYTES)]
    OversizeLine { kept: usize },
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
    #[error("unknown event type {0:?} (chat, click or order)")]
    UnknownType(String),
    #[error("`user_id` must be 1 to {max} bytes, got {0}", max = MAX_USER_ID_BYTES)]
    UserIdLength(usize),
    /// Holds the value as JSON text, e.g. `"yesterday"` or `1.5`.
    #[error("field `ts` is not an RFC 3339 time or epoch milliseconds: {0}{hint}", hint = ts_hint(.0))]
    BadTs(String),
    /// Holds the value as JSON text.
    #[error("field `ts` is out of range (years 2000 to 2099 UTC): {0}{hint}", hint = ts_hint(.0))]
    TsOutOfRange(String),
    #[error("field `amount` must be a number >= 0, got {0}")]
    NegativeAmount(f64),
    #[error("field `{0}` must not be empty")]
    EmptyField(&'static str),
    #[error("field `status` must be \"paid\" or \"refunded\", got {0:?}")]
    UnknownStatus(String),
    /// See [`FutureLimit`].
    #[error(
        "field `ts` is {} ahead of the wall clock, more than clock.max_future ({})",
        span_text(.ahead_ms),
        span_text(.max_ms)
    )]
    InFuture { ahead_ms: i64, max_ms: i64 },
}

impl DecodeError {
    /// A short fixed name per variant, for metric labels (the `Display` text holds input values
    /// and so has unbounded cardinality).
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::Oversize(_) | DecodeError::OversizeLine { .. } => "oversize",
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
            DecodeError::InFuture { .. } => "ts_in_future",
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
        return Err(match source {
            Source::File { .. } => DecodeError::OversizeLine {
                kept: oversize_cut(bytes),
            },
            _ => DecodeError::Oversize(bytes.len()),
        });
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
            // only mean the top-level value is not an object: `[1]`, or `"a": 1,`, which is not
            // JSON at all (the reader stops at its first value). Read whole, the line says which.
            Category::Data => match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                Ok(_) => DecodeError::NotObject,
                Err(e) => DecodeError::NotJson(e.to_string()),
            },
            _ => DecodeError::NotJson(e.to_string()),
        })?;
    raw.into_event(source)
}

/// How many of an oversize line's first bytes its dead letter keeps: up to the limit, without
/// splitting a UTF-8 character (half a character would make the text look like bad UTF-8).
pub fn oversize_cut(bytes: &[u8]) -> usize {
    let head = &bytes[..bytes.len().min(MAX_EVENT_BYTES)];
    match std::str::from_utf8(head) {
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        _ => head.len(),
    }
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
            Some(id) => Arc::from(&*id),
            None => Arc::from(source.to_string()),
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
            user_id: Arc::from(&*user_id),
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

#[cfg(test)]
mod tests;
