//! Reading a case's steps: what each does (an event, repeated or not, a raw input line, a
//! clock advance) and what it must produce (tag changes, tags held, dead letters).

use toml::{Table, Value};

use super::{index, with, Path, Reader};
use crate::config::spans::Seg;
use crate::testing::spec::{Action, ChangeSpec, DeadSpec, Expect, NameKind, Step};

impl Reader<'_> {
    pub(super) fn step(&mut self, step: &Table, at: &Path) -> Option<Step> {
        const KEYS: [&str; 13] = [
            "event",
            "raw",
            "repeat",
            "every",
            "advance",
            "at",
            "user",
            "changes",
            "contains",
            "tags",
            "holds",
            "lacks",
            "dead_letters",
        ];
        self.keys(step, at, &KEYS);
        let line = self.line(at);
        let actions = ["event", "raw", "advance"]
            .iter()
            .filter(|k| step.contains_key(**k))
            .count();
        if actions > 1 {
            self.error(at, "a step does one thing: `event`, `raw` or `advance`");
        }
        let when = self.offset(step, "at", at);
        let action = if let Some(e) = step.get("event") {
            let e_at = with(at, "event");
            let t = self.table(e, &e_at)?;
            let mut event = self.event(t, &e_at, false)?;
            event.at = event.at.or(when);
            let repeat = match step.get("repeat") {
                None => 1,
                Some(Value::Integer(n)) if (1..=10_000).contains(n) => *n as u32,
                Some(_) => {
                    self.error(
                        &with(at, "repeat"),
                        "`repeat` must be a whole number from 1 to 10000",
                    );
                    1
                }
            };
            let every = self.offset(step, "every", at).unwrap_or(0);
            if repeat > 1 && every <= 0 && !step.contains_key("every") {
                self.error(
                    at,
                    "`repeat` needs `every` (the time between the events, like \"1h\")",
                );
            }
            Action::Event {
                event,
                repeat,
                every,
            }
        } else if let Some(raw) = step.get("raw") {
            match raw {
                Value::String(text) => Action::Raw {
                    text: text.clone(),
                    at: when,
                },
                _ => {
                    self.error(
                        &with(at, "raw"),
                        "`raw` must be text: an input line as it arrives",
                    );
                    return None;
                }
            }
        } else if step.contains_key("advance") {
            // A bad value is reported; the step's expectations are still read for their errors.
            let by = self.offset(step, "advance", at).unwrap_or(0);
            if by < 0 {
                self.error(
                    &with(at, "advance"),
                    "`advance` moves the clock forward only",
                );
            }
            Action::Advance(by)
        } else if let Some(to) = when {
            Action::AdvanceTo(to)
        } else {
            Action::Look
        };
        for key in ["repeat", "every"] {
            if step.contains_key(key) && !matches!(action, Action::Event { .. }) {
                self.error(&with(at, key), format!("`{key}` goes with `event`"));
            }
        }
        let expect = Expect {
            changes: self.changes(step, "changes", at),
            contains: self.changes(step, "contains", at),
            tags: self.tag_names(step, "tags", at),
            holds: self.tag_names(step, "holds", at),
            lacks: self.tag_names(step, "lacks", at),
            dead_letters: self.dead(step, at),
        };
        Some(Step {
            line,
            action,
            user: self.string(step, "user", at),
            expect,
        })
    }

    fn changes(&mut self, step: &Table, key: &str, at: &[Seg]) -> Option<Vec<ChangeSpec>> {
        let list_at = with(at, key);
        let Value::Array(items) = step.get(key)? else {
            self.error(
                &list_at,
                format!("`{key}` must be a list of changes like \"+intent/price\""),
            );
            return None;
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let i_at = index(&list_at, i);
            if let Some(c) = self.change(item, &i_at) {
                out.push(c);
            }
        }
        Some(out)
    }

    fn change(&mut self, item: &Value, at: &[Seg]) -> Option<ChangeSpec> {
        let plain = |add: bool, tag: &str| ChangeSpec {
            add,
            tag: tag.to_string(),
            user: None,
            score: None,
            reason: None,
            rule: None,
            expires: None,
            at: None,
        };
        match item {
            Value::String(s) => match (s.strip_prefix('+'), s.strip_prefix('-')) {
                (Some(tag), _) | (_, Some(tag)) => {
                    self.note(NameKind::Tag, tag.trim(), at);
                    Some(plain(s.starts_with('+'), tag.trim()))
                }
                _ => {
                    self.error(
                        at,
                        format!("{s:?}: write \"+{s}\" for an add or \"-{s}\" for a remove"),
                    );
                    None
                }
            },
            Value::Table(t) => {
                self.keys(
                    t,
                    at,
                    &[
                        "add", "remove", "score", "reason", "rule", "expires", "user", "at",
                    ],
                );
                let (add, tag) = match (self.string(t, "add", at), self.string(t, "remove", at)) {
                    (Some(tag), None) => {
                        self.note(NameKind::Tag, &tag, &with(at, "add"));
                        (true, tag)
                    }
                    (None, Some(tag)) => {
                        self.note(NameKind::Tag, &tag, &with(at, "remove"));
                        (false, tag)
                    }
                    _ => {
                        self.error(
                            at,
                            "a change has either `add = \"tag\"` or `remove = \"tag\"`",
                        );
                        return None;
                    }
                };
                let expires = match t.get("expires") {
                    None => None,
                    Some(Value::String(s)) if s == "never" => Some(None),
                    Some(_) => Some(self.offset(t, "expires", at)),
                };
                let rule = self.string(t, "rule", at);
                if let Some(rule) = &rule {
                    self.note(NameKind::Rule, rule, &with(at, "rule"));
                }
                Some(ChangeSpec {
                    score: self.number(t, "score", at),
                    reason: self.string(t, "reason", at),
                    rule,
                    user: self.string(t, "user", at),
                    at: self.offset(t, "at", at),
                    expires,
                    ..plain(add, &tag)
                })
            }
            _ => {
                self.error(
                    at,
                    "a change is \"+tag\", \"-tag\" or a table { add = …, … }",
                );
                None
            }
        }
    }

    fn dead(&mut self, step: &Table, at: &[Seg]) -> Option<Vec<DeadSpec>> {
        let list_at = with(at, "dead_letters");
        let Value::Array(items) = step.get("dead_letters")? else {
            self.error(&list_at, "`dead_letters` must be a list");
            return None;
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let i_at = index(&list_at, i);
            match item {
                Value::String(s) => out.push(DeadSpec {
                    error: Some(s.clone()),
                    rule: None,
                }),
                Value::Table(t) => {
                    self.keys(t, &i_at, &["error", "rule"]);
                    let rule = self.string(t, "rule", &i_at);
                    if let Some(rule) = &rule {
                        self.note(NameKind::Rule, rule, &with(&i_at, "rule"));
                    }
                    out.push(DeadSpec {
                        error: self.string(t, "error", &i_at),
                        rule,
                    });
                }
                _ => self.error(
                    &i_at,
                    "a dead letter is a text its reason contains, or { rule = …, error = … }",
                ),
            }
        }
        Some(out)
    }
}
