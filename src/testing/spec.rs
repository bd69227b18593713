//! The rule test file format (`rules/tests/*.toml`), parsed with the line of everything in it.
//! See `docs/testing.md` for the format as operators read it.

use serde_json::{Map, Value as Json};

use crate::config::duration::parse_duration_ms;

/// When a case starts unless it says otherwise.
pub const DEFAULT_START: &str = "2026-01-01T00:00:00Z";
/// The user of a case unless it says otherwise.
pub const DEFAULT_USER: &str = "u1";

/// One test file.
#[derive(Debug, Clone)]
pub struct TestFile {
    pub path: String,
    pub cases: Vec<Case>,
    /// Every tag, rule and event type the file names, for checking against the rule set.
    pub named: Vec<Named>,
}

/// A name a test file gives, at the line of the value that holds it (not of its step), so
/// that a misspelt tag in a list of several lines is reported where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub kind: NameKind,
    pub name: String,
    pub line: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Tag,
    Rule,
    EventType,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub line: usize,
    /// Epoch ms: the clock when the steps begin; `at` offsets count from here.
    pub start: i64,
    pub user: String,
    pub given_events: Vec<EventSpec>,
    pub given_tags: Vec<SeedTag>,
    pub steps: Vec<Step>,
}

/// A tag the user holds when the case begins.
#[derive(Debug, Clone)]
pub struct SeedTag {
    pub tag: String,
    pub score: Option<f64>,
    pub ttl_ms: Option<i64>,
    pub rule: Option<String>,
}

/// An input event: its fields, and when it happens (offset from the start).
#[derive(Debug, Clone)]
pub struct EventSpec {
    pub at: Option<i64>,
    pub fields: Map<String, Json>,
    pub line: usize,
}

#[derive(Debug, Clone)]
pub enum Action {
    /// An event, `repeat` times, `every` ms apart.
    Event {
        event: EventSpec,
        repeat: u32,
        every: i64,
    },
    /// A raw input line, as it would arrive.
    Raw { text: String, at: Option<i64> },
    /// Move the clock forward by this many ms.
    Advance(i64),
    /// Move the clock to this offset from the start.
    AdvanceTo(i64),
    /// Only look.
    Look,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub line: usize,
    pub action: Action,
    /// The user the step's event and tag expectations are about.
    pub user: Option<String>,
    pub expect: Expect,
}

/// What a step must produce or leave behind; `None` is "not checked".
#[derive(Debug, Clone, Default)]
pub struct Expect {
    pub changes: Option<Vec<ChangeSpec>>,
    pub contains: Option<Vec<ChangeSpec>>,
    pub tags: Option<Vec<String>>,
    pub holds: Option<Vec<String>>,
    pub lacks: Option<Vec<String>>,
    /// `None`: the step must produce no dead letter.
    pub dead_letters: Option<Vec<DeadSpec>>,
}

/// An expected tag change; fields left out are not compared.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeSpec {
    pub add: bool,
    pub tag: String,
    pub user: Option<String>,
    pub score: Option<f64>,
    pub reason: Option<String>,
    pub rule: Option<String>,
    /// Ms from the change to its expiry; `Some(None)` = never expires.
    pub expires: Option<Option<i64>>,
    /// Offset from the start at which the change happens.
    pub at: Option<i64>,
}

/// An expected dead letter; `error` is a substring of its reason.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadSpec {
    pub error: Option<String>,
    pub rule: Option<String>,
}

/// `3d`, `-20d`, `2d12h`, `+90m`: a signed sum of durations, in ms.
pub fn parse_offset(text: &str) -> Option<i64> {
    let text = text.trim();
    let (sign, rest) = match text.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut part = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        part.push(c);
        let next_is_digit = chars.peek().is_some_and(char::is_ascii_digit);
        if !c.is_ascii_digit() && (next_is_digit || chars.peek().is_none()) {
            total = total.checked_add(parse_duration_ms(&part)?)?;
            part.clear();
        }
    }
    if !part.is_empty() {
        return None;
    }
    Some(sign * total)
}

#[cfg(test)]
mod tests {
    use super::super::reader::Reader;
    use super::*;

    #[test]
    fn offsets_add_up_and_keep_their_sign() {
        assert_eq!(parse_offset("3d"), Some(3 * 86_400_000));
        assert_eq!(parse_offset("-20d"), Some(-20 * 86_400_000));
        assert_eq!(parse_offset("2d12h"), Some(60 * 3_600_000));
        assert_eq!(parse_offset("+90m"), Some(90 * 60_000));
        for bad in ["", "-", "3", "3 d", "d3", "3x"] {
            assert_eq!(parse_offset(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_problem_is_reported_with_its_line() {
        let text = "[[case]]\nname = \"a\"\n[[case.step]]\nevent = { type = \"chat\", text = \"x\" }\nadvanse = \"1d\"\n[[case.step]]\nadvance = \"soon\"\nchanges = [\"intent/price\"]\n";
        let (_, errors) = Reader::parse("t.toml", text);
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert!(
            shown
                .iter()
                .any(|e| e.starts_with("t.toml:5:") && e.contains("`advance`")),
            "{shown:?}"
        );
        assert!(
            shown
                .iter()
                .any(|e| e.starts_with("t.toml:7:") && e.contains("soon")),
            "{shown:?}"
        );
        assert!(
            shown
                .iter()
                .any(|e| e.starts_with("t.toml:8:") && e.contains("+intent/price")),
            "{shown:?}"
        );
    }

    /// Every problem and every name a step's lists hold is at the line of its own value, not
    /// at the line of its step.
    #[test]
    fn list_items_have_their_own_lines() {
        let text = "[[case]]\nname = \"a\"\n[[case.step]]\nevent = { type = \"chat\", text = \"x\" }\nholds = [\n  \"activity/low\",\n  3,\n]\nlacks = [\n  \"activity/high\",\n]\ncontains = [\n  { add = \"intent/price\", rule = \"keywords\" },\n]\n";
        let (file, errors) = Reader::parse("t.toml", text);
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["t.toml:7: `holds` must be a list of tag names"]);
        let named: Vec<(&str, usize)> = file
            .named
            .iter()
            .map(|n| (n.name.as_str(), n.line))
            .collect();
        assert_eq!(
            named,
            [
                ("chat", 4),
                ("intent/price", 13),
                ("keywords", 13),
                ("activity/low", 6),
                ("activity/high", 10),
            ]
        );
    }

    #[test]
    fn a_case_reads_into_steps() {
        let text = "[[case]]\nname = \"price\"\nstart = \"2026-03-01T00:00:00Z\"\n[case.given]\ntags = [\"activity/low\"]\nevents = [{ at = \"-2d\", type = \"click\", target = \"t\" }]\n[[case.step]]\nevent = { type = \"chat\", text = \"多少钱\" }\nrepeat = 2\nevery = \"1h\"\ncontains = [{ add = \"intent/price\", expires = \"30d\" }]\n[[case.step]]\nadvance = \"30d\"\nchanges = [\"-intent/price\"]\n";
        let (file, errors) = Reader::parse("t.toml", text);
        assert!(errors.is_empty(), "{errors:?}");
        let case = &file.cases[0];
        assert_eq!(case.line, 1);
        assert_eq!(case.given_tags[0].tag, "activity/low");
        assert_eq!(case.given_events[0].at, Some(-2 * 86_400_000));
        assert_eq!(case.steps.len(), 2);
        assert_eq!(case.steps[0].line, 7);
        assert!(matches!(
            case.steps[0].action,
            Action::Event {
                repeat: 2,
                every: 3_600_000,
                ..
            }
        ));
        let expected = case.steps[0].expect.contains.as_ref().unwrap();
        assert_eq!(expected[0].expires, Some(Some(30 * 86_400_000)));
        assert!(matches!(case.steps[1].action, Action::Advance(ms) if ms == 30 * 86_400_000));
    }
}
