//! Typed behaviour events, as the rest of the pipeline sees them after decoding.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

/// The three kinds of behaviour event SPEC.md defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    Chat,
    Click,
    Order,
}

impl EventType {
    pub const ALL: [EventType; 3] = [EventType::Chat, EventType::Click, EventType::Order];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Chat => "chat",
            EventType::Click => "click",
            EventType::Order => "order",
        }
    }

    /// Dense index (0..3), used for per-type arrays in user state.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn parse(s: &str) -> Option<EventType> {
        match s {
            "chat" => Some(EventType::Chat),
            "click" => Some(EventType::Click),
            "order" => Some(EventType::Order),
            _ => None,
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Paid,
    Refunded,
}

/// The type-specific part of an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Chat {
        text: String,
        room_id: Option<String>,
        staff_id: Option<String>,
    },
    Click {
        target: String,
        channel: Option<String>,
    },
    Order {
        order_id: String,
        /// Yuan, finite and ≥ 0.
        amount: f64,
        status: OrderStatus,
        promo: bool,
        category: Option<String>,
    },
}

/// A valid behaviour event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Shared with the tag changes the event makes.
    pub user_id: Arc<str>,
    /// Event time, epoch milliseconds (UTC).
    pub ts: i64,
    /// As given, or derived from the event's [`Source`] when the input has none.
    /// Shared with the tag changes the event makes.
    pub event_id: Arc<str>,
    pub body: Body,
    /// Fields outside the envelope and the type's known fields, readable from rules as
    /// `event.fields`. `None` when there are none (the common case costs no allocation).
    pub fields: Option<Box<Map<String, Value>>>,
}

impl Event {
    pub fn event_type(&self) -> EventType {
        match self.body {
            Body::Chat { .. } => EventType::Chat,
            Body::Click { .. } => EventType::Click,
            Body::Order { .. } => EventType::Order,
        }
    }
}

/// Where an input record came from: names it in dead letters and derives missing event ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A line of a file (1-based), or of stdin (`name` = "-").
    File { name: Arc<str>, line: u64 },
    Kafka {
        topic: Arc<str>,
        partition: i32,
        offset: i64,
    },
    /// A timer or TTL expiry firing inside the engine (no input record).
    Timer,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File { name, line } => write!(f, "{name}:{line}"),
            Source::Kafka {
                topic,
                partition,
                offset,
            } => write!(f, "{topic}/{partition}/{offset}"),
            Source::Timer => f.write_str("timer"),
        }
    }
}
