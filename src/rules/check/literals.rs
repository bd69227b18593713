//! Literal arguments the API would reject at run time, seen where they are written: event
//! types, durations, tag names and groups, `tag()` options; and the warnings that need every
//! rule at once.

use std::collections::BTreeMap;

use regex::Regex;
use rhai::{ASTNode, Expr, Position, Stmt};

use super::api::suggest;
use super::script::{Need, RuleFacts, Walker};
use super::Diagnostic;
use crate::config::duration::parse_duration_ms;
use crate::decode::EventType;
use crate::tags::Catalogue;

const EVENT_TYPES: [&str; 3] = ["chat", "click", "order"];
const TAG_OPTIONS: [&str; 3] = ["score", "reason", "ttl"];

/// Warnings that need every rule: rules without handlers, exclusive groups with two writers.
pub fn cross_rule_warnings(facts: &[RuleFacts], catalogue: &Catalogue, out: &mut Vec<Diagnostic>) {
    for f in facts.iter().filter(|f| f.parsed && f.handlers == 0) {
        out.push(Diagnostic::warning(
            &f.path,
            None,
            "no handler (on_chat, on_click, on_order, on_event, on_tick): this rule never runs",
        ));
    }
    // Exclusive group → the first rule adding one of its tags.
    let mut writers: BTreeMap<String, &str> = BTreeMap::new();
    for f in facts {
        let mut warned = Vec::new();
        for (tag, line) in &f.tags_added {
            let Some(id) = catalogue.id(tag) else {
                continue;
            };
            let group = catalogue.group(catalogue.info(id).group);
            if !group.exclusive {
                continue;
            }
            match writers.get(&group.name) {
                None => {
                    writers.insert(group.name.clone(), &f.name);
                }
                Some(other) if *other != f.name && !warned.contains(&group.name) => {
                    warned.push(group.name.clone());
                    out.push(Diagnostic::warning(
                        &f.path,
                        Some(*line),
                        format!(
                            "exclusive group `{}` is also written by rule `{other}`: each rule's tag replaces the other's",
                            group.name
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
    }
}

impl Walker<'_> {
    /// Records a tag literal as one the rule adds, unless it is only read or removed there
    /// (`user.has(…)`, `== …`, `untag(…)`): tags are often chosen in a branch and added later.
    pub(super) fn maybe_written(&mut self, path: &[ASTNode], s: &str, pos: Position) {
        let Some(catalogue) = self.catalogue else {
            return;
        };
        let parent = match path.len().checked_sub(2).map(|i| &path[i]) {
            Some(ASTNode::Expr(Expr::FnCall(call, _) | Expr::MethodCall(call, _))) => {
                Some(call.name.as_str())
            }
            Some(ASTNode::Stmt(Stmt::FnCall(call, _))) => Some(call.name.as_str()),
            _ => None,
        };
        if catalogue.id(s).is_none() {
            // `tag`, `untag` and `has` report their own literal.
            if !matches!(parent, Some("tag" | "untag" | "has")) {
                self.undeclared_tag_shaped(catalogue, s, pos);
            }
            return;
        }
        if matches!(
            parent,
            Some("==" | "!=" | "has" | "untag" | "untag_group" | "tag_in")
        ) {
            return;
        }
        self.facts
            .tags_added
            .push((s.to_string(), pos.line().unwrap_or(1)));
    }

    /// A literal shaped like a tag of a declared group (`"activity/hihg"`) that the catalogue
    /// does not declare: a typo in a tag chosen in one place and added or compared in another,
    /// which would otherwise show only at run time (a rule error, or a comparison that is
    /// never true).
    pub(super) fn undeclared_tag_shaped(&mut self, catalogue: &Catalogue, s: &str, pos: Position) {
        let Some((group, name)) = s.split_once('/') else {
            return;
        };
        let word = |part: &str| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        };
        if !word(group) || !word(name) || catalogue.group_by_name(group).is_none() {
            return;
        }
        let hint = suggest(s, catalogue.names());
        self.error(
            pos,
            format!(
                "{s:?} is not declared in the tag catalogue, though `{group}` is one of its groups{hint}"
            ),
        );
    }

    /// Literal arguments of `user.…` methods: event types, durations, tags, groups.
    pub(super) fn user_literals(&mut self, name: &str, args: &[Expr]) {
        if matches!(
            name,
            "count" | "window_exit" | "count_below_at" | "first_seen" | "last_seen"
        ) {
            if let Some(Expr::StringConstant(s, p)) = args.first() {
                self.event_type_literal(s, *p);
            }
        }
        let durations: &[usize] = match name {
            "count" => &[1, 2],
            "window_exit" | "count_below_at" | "decay_add" | "decayed" | "decay_below_at"
            | "record_hit" => &[1],
            "paid_orders" | "wake_in" => &[0],
            _ => &[],
        };
        for &i in durations {
            match args.get(i) {
                Some(Expr::IntegerConstant(ms, p)) if (1..1000).contains(ms) => {
                    self.unitless_duration(&format!("user.{name}():"), *ms, *p);
                }
                arg => self.duration_literal(arg),
            }
            self.arg_needs(args.get(i), Need::Duration);
        }
        let numbers: &[usize] = match name {
            "count_below_at" | "decay_add" | "decay_below_at" => &[2],
            "wake_at" => &[0],
            _ => &[],
        };
        for &i in numbers {
            self.arg_needs(args.get(i), Need::Number);
        }
        match (name, args.first()) {
            ("has", Some(Expr::StringConstant(tag, p))) => {
                self.declared_tag(tag, *p);
            }
            ("tag_in", Some(Expr::StringConstant(group, p))) => self.declared_group(group, *p),
            _ => {}
        }
    }

    /// `tag(name, x)` where `x` is not options: a reason, which is text. A number there was
    /// meant as the score; Rhai finds no `tag` for it and every call fails.
    pub(super) fn tag_reason(&mut self, second: &Expr) {
        let (kind, hint) = match second {
            Expr::IntegerConstant(..) | Expr::FloatConstant(..) => {
                ("a number", "; a score is written tag(name, #{score: …})")
            }
            Expr::BoolConstant(..) => ("true or false", ""),
            Expr::Array(..) => ("an array", ""),
            Expr::Unit(..) => ("()", ""),
            _ => return,
        };
        self.error(
            second.position(),
            format!(
                "tag(): the second argument is a reason (text) or options \
                 (#{{score: …, reason: …, ttl: …}}), not {kind}{hint}"
            ),
        );
    }

    /// A warning for a duration written as a small number: milliseconds, though days or
    /// hours were surely meant.
    fn unitless_duration(&mut self, what: &str, ms: i64, pos: Position) {
        self.warning(
            pos,
            format!(
                "{what} {ms}: a number without a unit is milliseconds, so this is {ms} ms; \
                 write \"{ms}d\", \"{ms}h\" or days({ms}) if that is what is meant"
            ),
        );
    }

    pub(super) fn tag_options(&mut self, entries: &[(rhai::Ident, Expr)]) {
        for (key, value) in entries {
            match key.name.as_str() {
                "ttl" => match value {
                    Expr::StringConstant(..) => self.duration_literal(Some(value)),
                    Expr::IntegerConstant(ms, p) if *ms <= 0 => {
                        self.error(*p, format!("tag(): ttl must be positive, got {ms}"))
                    }
                    // A number is milliseconds: `ttl: 5` meant days or hours, not a tag
                    // gone before the next event.
                    Expr::IntegerConstant(ms, p) if *ms < 1000 => {
                        self.unitless_duration("tag(): ttl", *ms, *p);
                    }
                    _ => self.arg_needs(Some(value), Need::Duration),
                },
                "score" => match literal_kind(value) {
                    Some(kind) => self.error(
                        value.position(),
                        format!("tag(): score must be a number, not {kind}"),
                    ),
                    None => self.arg_needs(Some(value), Need::Number),
                },
                "reason" => {}
                other => {
                    let message = format!(
                        "tag(): unknown option `{other}` (score, reason, ttl){}",
                        suggest(other, TAG_OPTIONS)
                    );
                    self.error(key.pos, message);
                }
            }
        }
    }

    pub(super) fn duration_literal(&mut self, arg: Option<&Expr>) {
        if let Some(Expr::StringConstant(s, p)) = arg {
            if parse_duration_ms(s).is_none() {
                self.error(
                    *p,
                    format!("{s:?} is not a duration (like \"7d\", \"72h\", \"30m\", \"500ms\")"),
                );
            }
        }
    }

    pub(super) fn event_type_literal(&mut self, s: &str, pos: Position) {
        if EventType::parse(s).is_none() {
            let message = format!(
                "unknown event type {s:?} (chat, click, order){}",
                suggest(s, EVENT_TYPES)
            );
            self.error(pos, message);
        }
    }

    /// Whether a literal tag is declared (true when there is no catalogue to ask).
    pub(super) fn declared_tag(&mut self, tag: &str, pos: Position) -> bool {
        let Some(catalogue) = self.catalogue else {
            return true;
        };
        if catalogue.id(tag).is_some() {
            return true;
        }
        let hint = super::suggest_tag(tag, catalogue);
        self.error(
            pos,
            format!("tag {tag:?} is not declared in the tag catalogue{hint}"),
        );
        false
    }

    pub(super) fn declared_group(&mut self, group: &str, pos: Position) {
        let Some(catalogue) = self.catalogue else {
            return;
        };
        if catalogue.group_by_name(group).is_some() {
            return;
        }
        let hint = super::suggest_group(group, catalogue);
        self.error(
            pos,
            format!("group {group:?} is not declared in the tag catalogue{hint}"),
        );
    }
}

/// A string case label of a `switch`.
pub(super) struct SwitchLabel {
    pub line: usize,
    pub text: String,
    /// The switch is on `event.type`.
    pub on_event_type: bool,
}

/// String case labels of every `switch` in `text`, with their lines. Rhai keeps only hashes
/// of case values, so these are read from the text: at the switch's own brace depth, a string
/// followed by `=>` or `|` is a case label.
pub(super) fn switch_labels(text: &str) -> Vec<SwitchLabel> {
    let start = Regex::new(r"\bswitch\b([^{};]*)\{").expect("static regex compiles");
    let mut labels = Vec::new();
    for caps in start.captures_iter(text) {
        let m = caps.get(0).expect("a match");
        let subject: String = caps[1].chars().filter(|c| !c.is_whitespace()).collect();
        let on_event_type = subject == "event.type";
        let body = &text[m.end()..];
        let mut depth = 0usize;
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' | '[' | '(' => depth += 1,
                '}' | ']' | ')' if depth == 0 => break,
                '}' | ']' | ')' => depth -= 1,
                '"' => {
                    let from = i + 1;
                    let mut end = from;
                    while let Some((j, d)) = chars.next() {
                        match d {
                            '\\' => {
                                chars.next();
                            }
                            '"' => {
                                end = j;
                                break;
                            }
                            _ => {}
                        }
                    }
                    let after = body[end + 1..].trim_start();
                    if depth == 0 && (after.starts_with("=>") || after.starts_with('|')) {
                        let at = m.end() + from;
                        let line = text[..at].matches('\n').count() + 1;
                        labels.push(SwitchLabel {
                            line,
                            text: body[from..end].to_string(),
                            on_event_type,
                        });
                    }
                }
                _ => {}
            }
        }
    }
    labels
}

/// What a literal that is not a number is, for a message; `None` for a number or anything
/// that is not a literal.
fn literal_kind(e: &Expr) -> Option<&'static str> {
    match e {
        Expr::StringConstant(..) | Expr::InterpolatedString(..) => Some("text"),
        Expr::BoolConstant(..) => Some("true or false"),
        Expr::Array(..) => Some("an array"),
        Expr::Map(..) => Some("a map"),
        Expr::Unit(..) => Some("()"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_labels_are_read_at_their_depth() {
        let text = "let w = switch event.type {\n  \"chat\" | \"clik\" => 1,\n  \"order\" => if x == \"y\" { 2 } else { 3 },\n  _ => 0,\n};\nswitch other.type { \"no\" => 1 }\n";
        let found = switch_labels(text);
        let labels: Vec<(usize, &str, bool)> = found
            .iter()
            .map(|l| (l.line, l.text.as_str(), l.on_event_type))
            .collect();
        assert_eq!(
            labels,
            [
                (2, "chat", true),
                (2, "clik", true),
                (3, "order", true),
                (6, "no", false)
            ]
        );
    }
}
