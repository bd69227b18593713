//! Rule parameters against the rules that read them: every `section::key` a script reads must
//! exist, every key of a section the rules read must be read by one (a misspelt key is
//! otherwise silently ignored while the rule reads nothing), and each value must have the type
//! the rules need — from how a script uses it (a duration argument, a number compared, an
//! array indexed) and from the type of the same key in the shipped parameter file.

use std::collections::{BTreeMap, BTreeSet};

use toml::Value;

use super::api::{nearest, suggest};
use super::script::{Need, ParamUse, RuleFacts};
use super::Diagnostic;
use crate::config::spans::{Seg, TomlLines};
use crate::rules::Params;
use crate::tags::Catalogue;

/// The parameter file shipped with the default rule pack: the reference for value types.
const SHIPPED: &str = include_str!("../../../config/params.toml");

/// What a value must be.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Duration,
    /// A count: the shipped file writes it as a whole number (`mature_orders = 3`).
    Count,
    Number,
    Bool,
    Text,
    Numbers(Option<usize>),
}

impl Kind {
    /// The kind of a shipped value (durations are text that parses as one).
    fn of(value: &Value) -> Option<Kind> {
        Some(match value {
            Value::String(s) if crate::config::duration::parse_duration_ms(s).is_some() => {
                Kind::Duration
            }
            Value::String(_) => Kind::Text,
            Value::Integer(n) if *n >= 0 => Kind::Count,
            Value::Integer(_) | Value::Float(_) => Kind::Number,
            Value::Boolean(_) => Kind::Bool,
            Value::Array(items) if items.iter().all(is_number) => Kind::Numbers(Some(items.len())),
            _ => return None,
        })
    }

    fn describe(&self) -> String {
        match self {
            Kind::Duration => "a duration (like \"7d\", or milliseconds)".into(),
            Kind::Count => "a whole number of 0 or more".into(),
            Kind::Number => "a number".into(),
            Kind::Bool => "true or false".into(),
            Kind::Text => "text".into(),
            Kind::Numbers(Some(n)) => format!("a list of {n} numbers"),
            Kind::Numbers(None) => "a list of numbers".into(),
        }
    }

    /// Whether a loaded value (durations already in ms) is of this kind.
    fn accepts(&self, value: &Value) -> bool {
        match self {
            Kind::Duration => matches!(value, Value::Integer(ms) if *ms >= 0),
            Kind::Count => matches!(value, Value::Integer(n) if *n >= 0),
            Kind::Number => is_number(value),
            Kind::Bool => matches!(value, Value::Boolean(_)),
            Kind::Text => matches!(value, Value::String(_)),
            Kind::Numbers(len) => match value {
                Value::Array(items) => {
                    items.iter().all(is_number) && len.is_none_or(|n| items.len() == n)
                }
                _ => false,
            },
        }
    }
}

fn is_number(v: &Value) -> bool {
    matches!(v, Value::Integer(_) | Value::Float(_))
}

fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// A section the rules read and the parameters lack: the file of its first read, that read,
/// and every place (file, line, key) it is read.
type MissingSection<'a> = (&'a str, &'a ParamUse, BTreeSet<(&'a str, usize, &'a str)>);

/// Checks the parameters (`text` as read from `path`, `params` as loaded) against the rules
/// and, when it loaded, the catalogue (with the path it was read from).
pub fn check(
    text: &str,
    path: &str,
    params: &Params,
    facts: &[RuleFacts],
    vars: &[(String, String)],
    catalogue: Option<(&Catalogue, &str)>,
    out: &mut Vec<Diagnostic>,
) {
    let lines = TomlLines::new(text);
    let shipped: toml::Table = toml::from_str(SHIPPED).unwrap_or_default();
    // The file as written, before durations become milliseconds.
    let file: toml::Table = toml::from_str(text).unwrap_or_default();
    let env_var = |section: &str, key: &str| {
        let name = format!(
            "TAGSTREAM_{}__{}",
            section.to_uppercase(),
            key.to_uppercase()
        );
        vars.iter().any(|(k, _)| *k == name).then_some(name)
    };
    // Where a value came from: the environment variable overriding it, or its line.
    let locate = |section: &str, key: &str| -> (String, Option<usize>) {
        match env_var(section, key) {
            Some(var) => (format!("environment variable {var}"), None),
            None => (
                path.to_string(),
                Some(lines.best(&[Seg::Key(section), Seg::Key(key)])),
            ),
        }
    };

    // Reads that find nothing. A missing section is said once, at the first place it is read
    // (every key of it is missing then, and the section is the one thing to fix); a missing key
    // at each place its name is written, not where a variable bound to it is used.
    let mut read: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    // `section::key` read but missing from the file → the first place it is written.
    let mut first_read: BTreeMap<(&str, &str), (&str, usize)> = BTreeMap::new();
    let mut missing_sections: BTreeMap<&str, MissingSection> = BTreeMap::new();
    for f in facts {
        for u in &f.params {
            read.entry(u.section.as_str())
                .or_default()
                .insert(u.key.as_str());
            if !u.written {
                continue;
            }
            let Some(values) = params.sections.get(&u.section) else {
                let (file, first, places) = missing_sections.entry(u.section.as_str()).or_insert((
                    f.path.as_str(),
                    u,
                    BTreeSet::new(),
                ));
                if *file == f.path && u.line < first.line {
                    *first = u;
                }
                places.insert((f.path.as_str(), u.line, u.key.as_str()));
                continue;
            };
            if !values.contains_key(&u.key) {
                first_read
                    .entry((u.section.as_str(), u.key.as_str()))
                    .or_insert((f.path.as_str(), u.line));
                out.push(Diagnostic::error(
                    &f.path,
                    Some(u.line),
                    format!(
                        "`{}::{}` is not in {path} [{}]{}",
                        u.section,
                        u.key,
                        u.section,
                        suggest(&u.key, values.keys().map(String::as_str))
                    ),
                ));
            }
        }
    }
    for (section, (at, first, places)) in &missing_sections {
        let more = match places.len() - 1 {
            0 => String::new(),
            1 => " (read at 1 more place)".into(),
            n => format!(" (read at {n} more places)"),
        };
        let sections = params.sections.keys().map(String::as_str);
        // A parameters file at its default place may be left out by a rule set that reads no
        // parameters; one that reads them is missing the whole file, not a section of it.
        let absent = if std::path::Path::new(path).exists() {
            ""
        } else {
            " does not exist, so it"
        };
        out.push(Diagnostic::error(
            *at,
            Some(first.line),
            format!(
                "`{section}::{}`: {path}{absent} has no [{section}] section{more}{}",
                first.key,
                suggest(section, sections)
            ),
        ));
    }

    // Keys and sections nobody reads. Without a rule read (a missing rules directory, which is
    // an error of its own) every section would look unread: nothing is said about them then.
    // A near name that a rule reads and the file lacks is named with where it is read, without
    // saying which of the two is the misspelt one: the rule's finding already suggests the
    // file's name, and either may be the one to fix.
    let every_rule_parsed = !facts.is_empty() && facts.iter().all(|f| f.parsed);
    for (section, values) in &params.sections {
        let Some(keys_read) = read.get(section.as_str()) else {
            if every_rule_parsed {
                let near = nearest(section, missing_sections.keys().copied())
                    .map(|near| {
                        let (at, first, _) = &missing_sections[near];
                        format!(
                            "; {at}:{} reads [{near}], which this file lacks: one of the two is misspelt",
                            first.line
                        )
                    })
                    .unwrap_or_default();
                out.push(Diagnostic::warning(
                    path,
                    lines.key(&[Seg::Key(section)]),
                    format!("[{section}]: no rule reads this section{near}"),
                ));
            }
            continue;
        };
        for key in values.keys().filter(|k| !keys_read.contains(k.as_str())) {
            let (at, line) = locate(section, key);
            let missing = keys_read
                .iter()
                .copied()
                .filter(|k| !values.contains_key(*k));
            let near = nearest(key, missing)
                .map(|near| match first_read.get(&(section.as_str(), near)) {
                    Some((rule, line)) => format!(
                        "; {rule}:{line} reads `{section}::{near}`, which this file lacks: one of the two is misspelt"
                    ),
                    None => format!(
                        "; a rule reads `{section}::{near}`, which this file lacks: one of the two is misspelt"
                    ),
                })
                .unwrap_or_default();
            out.push(Diagnostic::error(
                at,
                line,
                format!("[{section}] {key}: no rule reads this key{near}"),
            ));
        }
    }
    if !params.keywords.specs.is_empty()
        && every_rule_parsed
        && !facts.iter().any(|f| f.reads_keywords)
    {
        out.push(Diagnostic::warning(
            path,
            lines.key(&[Seg::Key("keywords")]),
            "[keywords]: no rule calls event.keyword_hits(), so these lists match nothing",
        ));
    }
    if let Some((catalogue, catalogue_path)) = catalogue {
        for (line, message) in params.undeclared_keyword_tags(text, catalogue, catalogue_path) {
            out.push(Diagnostic::error(path, Some(line), message));
        }
    }

    // Types: what the shipped file has, then what the scripts need.
    for (section, values) in &params.sections {
        for (key, value) in values {
            let shipped_value = shipped.get(section).and_then(|s| s.get(key));
            let shipped_kind = shipped_value.and_then(Kind::of);
            let mut wrong = None;
            // TOML writes `nan` and `inf` as floats, and an override like `1e400` parses as
            // infinity: a threshold no score reaches, or one every comparison fails, which
            // runs without an error and tags no one.
            let not_finite = |v: &Value| matches!(v, Value::Float(f) if !f.is_finite());
            let items = value.as_array().map_or(&[][..], Vec::as_slice);
            if not_finite(value) || items.iter().any(not_finite) {
                wrong = Some(
                    "must be a finite number: nan and inf pass no comparison a rule makes \
                     as meant; write the number meant"
                        .to_string(),
                );
            }
            if let Some(kind) = shipped_kind.filter(|k| wrong.is_none() && !k.accepts(value)) {
                wrong = Some(format!(
                    "must be {} like the shipped parameters",
                    kind.describe()
                ));
            }
            if wrong.is_none() {
                wrong = facts.iter().find_map(|f| {
                    f.params
                        .iter()
                        .filter(|u| u.section == *section && u.key == *key)
                        .find_map(|u| {
                            need_fails(u.need, value)
                                .map(|m| format!("{m} (as read at {}:{})", f.path, u.line))
                        })
                });
            }
            if let Some(why) = wrong {
                let (at, line) = locate(section, key);
                out.push(Diagnostic::error(
                    at,
                    line,
                    format!("[{section}] {key} = {}: {why}", shown(value)),
                ));
                continue;
            }
            // A duration of 0 where the shipped parameters have one over 0: a window of 0
            // holds nothing, a half-life of 0 decays nothing and finds no time to wake.
            let shipped_duration = shipped_value.and_then(Value::as_str).filter(|text| {
                crate::config::duration::parse_duration_ms(text).is_some_and(|ms| ms > 0)
            });
            // A bare number under a second where the shipped parameters have a duration is
            // almost surely days or hours written without their unit: `half_life = 7`.
            let written_bare = || {
                env_var(section, key).is_none()
                    && file
                        .get(section)
                        .and_then(|s| s.get(key))
                        .is_some_and(toml::Value::is_integer)
            };
            if let (Value::Integer(ms @ 1..=999), Some(text)) = (value, shipped_duration) {
                if written_bare() {
                    let (at, line) = locate(section, key);
                    out.push(Diagnostic::warning(
                        at,
                        line,
                        format!(
                            "[{section}] {key} = {ms}: a number without a unit is milliseconds, \
                             so this is {ms} ms where the shipped parameters have {text:?}; \
                             write the unit (\"{ms}d\", \"{ms}h\") if that is what is meant"
                        ),
                    ));
                }
            }
            if let (Value::Integer(0), Some(text)) = (value, shipped_duration) {
                let (at, line) = locate(section, key);
                out.push(Diagnostic::warning(
                    at,
                    line,
                    format!(
                        "[{section}] {key} = 0: a duration of 0 where the shipped parameters \
                         have {text:?}; a window of 0 holds nothing and a half-life of 0 never \
                         decays"
                    ),
                ));
            }
        }
    }
}

/// Why `value` does not meet `need`, if it does not.
fn need_fails(need: Need, value: &Value) -> Option<String> {
    let kind = match need {
        Need::Any => return None,
        Need::Duration => Kind::Duration,
        Need::Number => Kind::Number,
        Need::Numbers => Kind::Numbers(None),
        Need::MinLen(n) => {
            return match value {
                Value::Array(items) if items.len() >= n => None,
                Value::Array(items) => {
                    Some(format!("must have at least {n} items, has {}", items.len()))
                }
                _ => Some(format!("must be a list of at least {n} items")),
            }
        }
    };
    (!kind.accepts(value)).then(|| format!("must be {}", kind.describe()))
}
