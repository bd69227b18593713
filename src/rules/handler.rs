//! The handlers a rule may define, and how they run.

use crate::decode::EventType;

/// The handlers a rule may define.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    Chat,
    Click,
    Order,
    Event,
    Tick,
}

impl Handler {
    pub const ALL: [Handler; 5] = [
        Handler::Chat,
        Handler::Click,
        Handler::Order,
        Handler::Event,
        Handler::Tick,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Handler::Chat => "on_chat",
            Handler::Click => "on_click",
            Handler::Order => "on_order",
            Handler::Event => "on_event",
            Handler::Tick => "on_tick",
        }
    }

    pub(super) fn arity(self) -> usize {
        2
    }

    pub fn for_type(kind: EventType) -> Handler {
        match kind {
            EventType::Chat => Handler::Chat,
            EventType::Click => Handler::Click,
            EventType::Order => Handler::Order,
        }
    }
}

/// How handlers run (`rules.execution`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Execution {
    /// Compiled where the rule allows it (see [`super::compiled`]), interpreted otherwise.
    Compiled,
    /// Always by Rhai's interpreter: the reference the compiled form is tested against, and
    /// an operator's way to rule the compiled form out.
    Interpreted,
}

impl Execution {
    /// The values `rules.execution` takes, as written there.
    pub const NAMES: [&'static str; 2] = ["compiled", "interpreted"];

    /// The setting's value for `name`, if it is one.
    pub fn from_name(name: &str) -> Option<Execution> {
        match name {
            "compiled" => Some(Execution::Compiled),
            "interpreted" => Some(Execution::Interpreted),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Execution::Compiled => "compiled",
            Execution::Interpreted => "interpreted",
        }
    }
}
