//! Reading a rule test file into [`spec`](super::spec) values, with the line of everything
//! and every problem reported, not only the first: the file, its cases, what each case is
//! given, and the typed values they are made of; a case's steps are read in [`step`].

mod step;

use serde_json::Value as Json;
use toml::{Table, Value};

use super::spec::*;
use crate::config::spans::{Seg, TomlLines};
use crate::decode::parse_rfc3339_ms;
use crate::rules::check::{nearest, Diagnostic};

/// Reads test files, collecting every problem with its line.
pub struct Reader<'t> {
    path: &'t str,
    lines: TomlLines<'t>,
    pub errors: Vec<Diagnostic>,
    /// The tags, rules and event types read so far, with their lines.
    named: Vec<Named>,
}

type Path<'a> = Vec<Seg<'a>>;

impl<'t> Reader<'t> {
    /// Parses `text` (the file at `path`) into cases; problems go to `errors`.
    pub fn parse(path: &'t str, text: &'t str) -> (TestFile, Vec<Diagnostic>) {
        let mut file = TestFile {
            path: path.to_string(),
            cases: Vec::new(),
            named: Vec::new(),
        };
        let table: Table = match toml::from_str(text) {
            Ok(t) => t,
            Err(e) => {
                let err = crate::config::ConfigError::toml(path, text, &e);
                return (file, vec![Diagnostic::from_config(&err, path)]);
            }
        };
        let mut r = Reader {
            path,
            lines: TomlLines::new(text),
            errors: Vec::new(),
            named: Vec::new(),
        };
        r.keys(&table, &[], &["case"]);
        match table.get("case") {
            Some(Value::Array(cases)) => {
                for (i, case) in cases.iter().enumerate() {
                    let at = vec![Seg::Key("case"), Seg::Index(i)];
                    if let Some(case) = r.table(case, &at) {
                        if let Some(c) = r.case(case, &at) {
                            file.cases.push(c);
                        }
                    }
                }
            }
            _ => r.error(&[], "no test cases: write each as a [[case]] table"),
        }
        file.named = r.named;
        (file, r.errors)
    }

    /// Notes `name`, written at `at`, for checking against the rule set.
    fn note(&mut self, kind: NameKind, name: &str, at: &[Seg]) {
        let line = self.line(at);
        self.named.push(Named {
            kind,
            name: name.to_string(),
            line,
        });
    }

    fn error(&mut self, at: &[Seg], message: impl Into<String>) {
        let line = self.lines.best(at);
        self.errors
            .push(Diagnostic::error(self.path, Some(line), message.into()));
    }

    fn line(&self, at: &[Seg]) -> usize {
        self.lines.best(at)
    }

    /// Reports keys of `table` outside `allowed`, with the nearest allowed one.
    fn keys(&mut self, table: &Table, at: &[Seg], allowed: &[&str]) {
        for key in table.keys() {
            if !allowed.contains(&key.as_str()) {
                let mut here = at.to_vec();
                here.push(Seg::Key(key));
                let hint = nearest(key, allowed.iter().copied())
                    .map(|n| format!("; did you mean `{n}`?"))
                    .unwrap_or_else(|| format!(" (expected: {})", allowed.join(", ")));
                self.error(&here, format!("unknown key `{key}`{hint}"));
            }
        }
    }

    fn table<'v>(&mut self, value: &'v Value, at: &[Seg]) -> Option<&'v Table> {
        match value {
            Value::Table(t) => Some(t),
            _ => {
                self.error(at, "expected a table");
                None
            }
        }
    }

    fn string(&mut self, table: &Table, key: &str, at: &[Seg]) -> Option<String> {
        match table.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Datetime(d) => Some(d.to_string()),
            _ => {
                self.error(&with(at, key), format!("`{key}` must be text"));
                None
            }
        }
    }

    fn offset(&mut self, table: &Table, key: &str, at: &[Seg]) -> Option<i64> {
        match table.get(key)? {
            Value::Integer(ms) => Some(*ms),
            Value::String(s) => {
                let parsed = parse_offset(s);
                if parsed.is_none() {
                    self.error(
                        &with(at, key),
                        format!("`{key}` = {s:?} is not a time offset like \"3d\", \"-20d\" or \"2d12h\""),
                    );
                }
                parsed
            }
            _ => {
                self.error(
                    &with(at, key),
                    format!("`{key}` must be a time offset like \"3d\""),
                );
                None
            }
        }
    }

    /// A list of tag names, each noted at its own line; a bad item is reported at its line.
    fn tag_names(&mut self, table: &Table, key: &str, at: &[Seg]) -> Option<Vec<String>> {
        let list_at = with(at, key);
        let value = table.get(key)?;
        let Value::Array(items) = value else {
            // One tag written bare: the list to write instead.
            let hint = match value.as_str() {
                Some(one) => format!(": write {key} = [{one:?}]"),
                None => String::new(),
            };
            self.error(
                &list_at,
                format!("`{key}` must be a list of tag names{hint}"),
            );
            return None;
        };
        let mut names = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let i_at = index(&list_at, i);
            match item.as_str() {
                Some(name) => {
                    self.note(NameKind::Tag, name, &i_at);
                    names.push(name.to_string());
                }
                None => {
                    self.error(&i_at, format!("`{key}` must be a list of tag names"));
                    return None;
                }
            }
        }
        Some(names)
    }

    fn case(&mut self, case: &Table, at: &Path) -> Option<Case> {
        self.keys(case, at, &["name", "start", "user", "given", "step"]);
        let line = self.line(at);
        let name = self.string(case, "name", at).unwrap_or_else(|| {
            self.error(at, "a case needs a `name`");
            String::new()
        });
        let start_text = self
            .string(case, "start", at)
            .unwrap_or_else(|| DEFAULT_START.to_string());
        let start = parse_rfc3339_ms(&start_text).or_else(|| {
            self.error(&with(at, "start"), format!("`start` = {start_text:?} is not an RFC 3339 time like \"2026-01-01T00:00:00Z\""));
            None
        });
        let user = self
            .string(case, "user", at)
            .unwrap_or_else(|| DEFAULT_USER.to_string());
        let mut c = Case {
            name,
            line,
            start: start.unwrap_or(0),
            user,
            given_events: Vec::new(),
            given_tags: Vec::new(),
            steps: Vec::new(),
        };
        if let Some(given) = case.get("given") {
            let g_at = with(at, "given");
            if let Some(given) = self.table(given, &g_at) {
                self.given(given, &g_at, &mut c);
            }
        }
        match case.get("step") {
            Some(Value::Array(steps)) => {
                for (i, step) in steps.iter().enumerate() {
                    let s_at = index(&with(at, "step"), i);
                    if let Some(step) = self.table(step, &s_at) {
                        if let Some(s) = self.step(step, &s_at) {
                            c.steps.push(s);
                        }
                    }
                }
            }
            _ => self.error(at, "a case needs steps: [[case.step]] tables"),
        }
        Some(c)
    }

    fn given(&mut self, given: &Table, at: &Path, case: &mut Case) {
        self.keys(given, at, &["tags", "events"]);
        if let Some(value) = given.get("tags") {
            let t_at = with(at, "tags");
            match value {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        if let Some(t) = self.seed_tag(item, &index(&t_at, i)) {
                            case.given_tags.push(t);
                        }
                    }
                }
                _ => self.error(&t_at, "`tags` must be a list"),
            }
        }
        if let Some(value) = given.get("events") {
            let e_at = with(at, "events");
            match value {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let i_at = index(&e_at, i);
                        if let Some(t) = self.table(item, &i_at) {
                            if let Some(e) = self.event(t, &i_at, true) {
                                case.given_events.push(e);
                            }
                        }
                    }
                }
                _ => self.error(&e_at, "`events` must be a list of event tables"),
            }
        }
    }

    fn seed_tag(&mut self, item: &Value, at: &Path) -> Option<SeedTag> {
        match item {
            Value::String(tag) => {
                self.note(NameKind::Tag, tag, at);
                Some(SeedTag {
                    tag: tag.clone(),
                    score: None,
                    ttl_ms: None,
                    rule: None,
                })
            }
            Value::Table(t) => {
                self.keys(t, at, &["tag", "score", "ttl", "rule"]);
                let Some(tag) = self.string(t, "tag", at) else {
                    self.error(at, "a seeded tag needs `tag`");
                    return None;
                };
                self.note(NameKind::Tag, &tag, &with(at, "tag"));
                let ttl_ms = self.offset(t, "ttl", at);
                let rule = self.string(t, "rule", at);
                if let Some(rule) = &rule {
                    self.note(NameKind::Rule, rule, &with(at, "rule"));
                }
                Some(SeedTag {
                    tag,
                    score: self.number(t, "score", at),
                    ttl_ms,
                    rule,
                })
            }
            _ => {
                self.error(
                    at,
                    "a seeded tag is a name or { tag = …, score = …, ttl = …, rule = … }",
                );
                None
            }
        }
    }

    fn number(&mut self, t: &Table, key: &str, at: &[Seg]) -> Option<f64> {
        match t.get(key)? {
            Value::Float(f) => Some(*f),
            Value::Integer(i) => Some(*i as f64),
            _ => {
                self.error(&with(at, key), format!("`{key}` must be a number"));
                None
            }
        }
    }

    /// An event table: its fields as JSON, with `at` taken out.
    fn event(&mut self, t: &Table, at: &[Seg], needs_at: bool) -> Option<EventSpec> {
        let when = self.offset(t, "at", at);
        if needs_at && when.is_none() && !t.contains_key("at") {
            self.error(
                at,
                "an earlier event needs `at` (an offset from the start, like \"-20d\")",
            );
        }
        let Some(kind) = t.get("type").and_then(Value::as_str) else {
            self.error(at, "an event needs a `type` (chat, click or order)");
            return None;
        };
        self.note(NameKind::EventType, kind, &with(at, "type"));
        let fields = t
            .iter()
            .filter(|(k, _)| k.as_str() != "at")
            .map(|(k, v)| (k.clone(), to_json(v)))
            .collect();
        Some(EventSpec {
            at: when,
            fields,
            line: self.line(at),
        })
    }
}

fn with<'a>(at: &[Seg<'a>], key: &'a str) -> Path<'a> {
    let mut p = at.to_vec();
    p.push(Seg::Key(key));
    p
}

fn index<'a>(at: &[Seg<'a>], i: usize) -> Path<'a> {
    let mut p = at.to_vec();
    p.push(Seg::Index(i));
    p
}

fn to_json(value: &Value) -> Json {
    match value {
        Value::String(s) => Json::String(s.clone()),
        Value::Integer(i) => Json::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Boolean(b) => Json::Bool(*b),
        Value::Datetime(d) => Json::String(d.to_string()),
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Table(t) => Json::Object(t.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
    }
}
