//! Segment expressions: which users to select by their current tags.
//!
//! ```text
//! expr    := and ('|' and)*
//! and     := unary ('&' unary)*
//! unary   := '!' unary | '(' expr ')' | tag
//! tag     := a declared tag (`lifecycle/mature`) or a wildcard (`rfm/*`: any tag under `rfm/`)
//! ```
//! `!` binds tightest, then `&`, then `|`. Every tag is checked against the catalogue when the
//! expression is parsed, so a typo is an error with its position, never an empty segment.
//!
//! `!` and `(` nest at most [`MAX_DEPTH`] deep, so neither parsing nor evaluating (both
//! recursive) can run out of stack; a chain of `&` or `|` is one node however long it is.

use crate::tags::{Catalogue, TagId, TagSlot};

/// How deep `!` and `(` may nest: far beyond what anyone writes, far below what the stack holds.
pub const MAX_DEPTH: usize = 256;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Holds any of these tags (one for a tag, the group's members for a wildcard).
    Any(Vec<TagId>),
    Not(Box<Expr>),
    /// Every one of these holds (`a & b & c`, at least two).
    And(Vec<Expr>),
    /// At least one of these holds (`a | b | c`, at least two).
    Or(Vec<Expr>),
}

/// A parse error; `position` is the 1-based character column in the expression.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("segment expression, position {position}: {message}")]
pub struct ExprError {
    pub position: usize,
    pub message: String,
}

/// A parsed expression and the catalogue groups it names, in order of first mention (the
/// columns of the output).
#[derive(Debug, Clone)]
pub struct Segment {
    pub expr: Expr,
    pub groups: Vec<usize>,
}

impl Segment {
    /// # Errors
    /// A syntax error, or a tag or wildcard the catalogue does not declare.
    pub fn parse(text: &str, catalogue: &Catalogue) -> Result<Segment, ExprError> {
        let mut parser = Parser {
            chars: text.char_indices().collect(),
            at: 0,
            depth: 0,
            catalogue,
            groups: Vec::new(),
        };
        let expr = parser.or()?;
        parser.skip_space();
        if let Some(c) = parser.peek() {
            let message = if c == ')' {
                "')' without a matching '('".to_string()
            } else {
                // `a and b`, `a or b`: the words of other query languages.
                let rest: String = parser.chars[parser.at..].iter().map(|(_, c)| c).collect();
                let word = rest.split_whitespace().next().unwrap_or("");
                let hint = if ["and", "or"].iter().any(|w| word.eq_ignore_ascii_case(w)) {
                    " (write & for and, | for or)"
                } else {
                    ""
                };
                format!("expected '&', '|' or the end, found {c:?}{hint}")
            };
            return Err(parser.error(message));
        }
        Ok(Segment {
            expr,
            groups: parser.groups,
        })
    }

    /// Whether a user holding `tags` (sorted by id, as in the state) is in the segment.
    pub fn matches(&self, tags: &[TagSlot]) -> bool {
        eval(&self.expr, tags)
    }
}

fn eval(expr: &Expr, tags: &[TagSlot]) -> bool {
    match expr {
        Expr::Any(ids) => ids
            .iter()
            .any(|id| tags.binary_search_by_key(id, |t| t.tag).is_ok()),
        Expr::Not(e) => !eval(e, tags),
        Expr::And(items) => items.iter().all(|e| eval(e, tags)),
        Expr::Or(items) => items.iter().any(|e| eval(e, tags)),
    }
}

/// `items` as one expression: the item itself when there is only one.
fn one_or(mut items: Vec<Expr>, many: fn(Vec<Expr>) -> Expr) -> Expr {
    if items.len() == 1 {
        items.pop().expect("checked: one item")
    } else {
        many(items)
    }
}

struct Parser<'a> {
    chars: Vec<(usize, char)>,
    at: usize,
    /// How many `!` and `(` enclose the current position.
    depth: usize,
    catalogue: &'a Catalogue,
    groups: Vec<usize>,
}

/// Characters that end a tag.
fn is_operator(c: char) -> bool {
    matches!(c, '&' | '|' | '!' | '(' | ')') || c.is_whitespace()
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).map(|(_, c)| *c)
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn error(&self, message: String) -> ExprError {
        ExprError {
            position: self.at + 1,
            message,
        }
    }

    fn or(&mut self) -> Result<Expr, ExprError> {
        let mut items = vec![self.and()?];
        loop {
            self.skip_space();
            if self.peek() != Some('|') {
                return Ok(one_or(items, Expr::Or));
            }
            self.at += 1;
            items.push(self.and()?);
        }
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut items = vec![self.unary()?];
        loop {
            self.skip_space();
            if self.peek() != Some('&') {
                return Ok(one_or(items, Expr::And));
            }
            self.at += 1;
            items.push(self.unary()?);
        }
    }

    /// Enters a `!` or `(` at the current position: refused past [`MAX_DEPTH`].
    fn nest(&mut self) -> Result<(), ExprError> {
        if self.depth == MAX_DEPTH {
            return Err(self.error(format!("nested more than {MAX_DEPTH} deep")));
        }
        self.depth += 1;
        Ok(())
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        self.skip_space();
        match self.peek() {
            Some('!') => {
                self.nest()?;
                self.at += 1;
                let inner = self.unary()?;
                self.depth -= 1;
                Ok(Expr::Not(Box::new(inner)))
            }
            Some('(') => {
                self.nest()?;
                let open = self.at;
                self.at += 1;
                let inner = self.or()?;
                self.depth -= 1;
                self.skip_space();
                if self.peek() != Some(')') {
                    return Err(ExprError {
                        position: open + 1,
                        message: "'(' is never closed".into(),
                    });
                }
                self.at += 1;
                Ok(inner)
            }
            None => Err(self.error("expected a tag, '!' or '(' but the expression ends".into())),
            Some(c) if is_operator(c) => {
                let hint = if matches!(c, '&' | '|') {
                    " (write & for and, | for or)"
                } else {
                    ""
                };
                Err(self.error(format!("expected a tag, '!' or '(', found {c:?}{hint}")))
            }
            Some(_) => self.tag(),
        }
    }

    fn tag(&mut self) -> Result<Expr, ExprError> {
        let start = self.at;
        while self.peek().is_some_and(|c| !is_operator(c)) {
            self.at += 1;
        }
        let name: String = self.chars[start..self.at].iter().map(|(_, c)| c).collect();
        let undeclared = |message: String| ExprError {
            position: start + 1,
            message,
        };
        let wildcard = name.strip_suffix("/*");
        if wildcard.unwrap_or(&name).contains('*') {
            return Err(undeclared(format!(
                "{name:?}: * stands only for a whole last segment (group/*)"
            )));
        }
        let ids: Vec<TagId> = match wildcard {
            Some(prefix) => {
                let ids = self.tags_under(prefix);
                if ids.is_empty() {
                    // A misspelt group (`lifecyle/*`) gets the group meant, as a tag does.
                    let hint = near_name(prefix, self.catalogue.group_names())
                        .map(|g| format!("; did you mean \"{g}/*\"?"))
                        .unwrap_or_default();
                    return Err(undeclared(format!(
                        "no declared tag matches {name:?} (the tag catalogue has no {prefix:?} group){hint}"
                    )));
                }
                ids
            }
            None => match self.catalogue.id(&name) {
                Some(id) => vec![id],
                None if !self.tags_under(&name).is_empty() => {
                    return Err(undeclared(format!(
                        "{name:?} is a group, not a tag: write {name}/* for any of its tags"
                    )))
                }
                None => {
                    let hint = if name.eq_ignore_ascii_case("not") {
                        " (write ! for not)".to_string()
                    } else if name.contains(',') {
                        " (a comma joins nothing: write & for and, | for or)".to_string()
                    } else {
                        near_name(&name, self.catalogue.names())
                            .map(|n| format!("; did you mean {n:?}?"))
                            .unwrap_or_default()
                    };
                    return Err(undeclared(format!(
                        "tag {name:?} is not declared in the tag catalogue{hint}"
                    )));
                }
            },
        };
        for id in &ids {
            let group = self.catalogue.info(*id).group;
            if !self.groups.contains(&group) {
                self.groups.push(group);
            }
        }
        Ok(Expr::Any(ids))
    }

    fn tags_under(&self, prefix: &str) -> Vec<TagId> {
        (0..self.catalogue.len() as TagId)
            .filter(|id| {
                let name = self.catalogue.name(*id);
                name.strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'))
            })
            .collect()
    }
}

/// The declared name meant by `name`: one equal to it but for letter case first (tags are
/// case-sensitive, and `LIFECYCLE/MATURE` is many edits from `lifecycle/mature`), else a near
/// one.
fn near_name<'a>(name: &str, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let names: Vec<&str> = names.into_iter().collect();
    names
        .iter()
        .find(|n| n.eq_ignore_ascii_case(name))
        .copied()
        .or_else(|| crate::rules::check::nearest(name, names.iter().copied()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tags::NEVER;

    const TAGS: &str = r#"
[groups.lifecycle]
exclusive = true
tags = ["new", "mature"]
[groups.value]
tags = ["high", "low"]
[groups.service]
tags = ["complaint"]
[groups.vip]
"#;

    fn held(catalogue: &Catalogue, names: &[&str]) -> Vec<TagSlot> {
        let mut tags: Vec<TagSlot> = names
            .iter()
            .map(|n| TagSlot {
                expires: NEVER,
                score: f64::NAN,
                since: 0,
                tag: catalogue.id(n).unwrap(),
                rule: 0,
                origin: 0,
            })
            .collect();
        tags.sort_by_key(|t| t.tag);
        tags
    }

    #[test]
    fn precedence_negation_parentheses_and_wildcards() {
        let c = Catalogue::parse(TAGS, "tags.toml").unwrap();
        let seg = |e: &str| Segment::parse(e, &c).unwrap();
        let user = held(&c, &["lifecycle/mature", "value/high"]);
        assert!(seg("lifecycle/mature & value/high & !service/complaint").matches(&user));
        assert!(!seg("lifecycle/new | value/low").matches(&user));
        assert!(seg("lifecycle/new | value/low | vip | value/high").matches(&user));
        // `&` binds tighter than `|`; `!` tighter than both.
        assert!(seg("lifecycle/new & vip | value/high").matches(&user));
        assert!(!seg("lifecycle/new & (vip | value/high)").matches(&user));
        assert!(!seg("!value/high | vip").matches(&user));
        assert!(seg("!!value/high").matches(&user));
        assert!(seg("value/* & !service/*").matches(&user));
        assert!(!seg("service/*").matches(&user));
        let s = seg("value/* & !(service/complaint | lifecycle/new)");
        let names: Vec<&str> = s.groups.iter().map(|g| c.group(*g).name.as_str()).collect();
        assert_eq!(names, ["value", "service", "lifecycle"]);
    }

    #[test]
    fn errors_name_the_position() {
        let c = Catalogue::parse(TAGS, "tags.toml").unwrap();
        let err = |e: &str| Segment::parse(e, &c).unwrap_err();
        let e = err("lifecycle/mature & valu/high");
        assert_eq!(e.position, 20);
        assert!(e.message.contains("\"valu/high\" is not declared"), "{e}");
        assert!(e.message.ends_with("did you mean \"value/high\"?"), "{e}");
        assert!(!err("zzz/qqq").message.contains("did you mean"));
        assert_eq!(err("(vip | value/high").position, 1);
        assert_eq!(err("vip)").position, 4);
        assert_eq!(err("vip &").position, 6);
        assert_eq!(err("vip & & vip").position, 7);
        assert_eq!(err("").position, 1);
        assert_eq!(err("vip value/high").position, 5);
        assert!(err("rfm/*").message.contains("no declared tag"));
        assert!(err("value").message.contains("write value/*"));
        assert_eq!(err("é & nope").position, 1);
        assert_eq!(err("vip & é").position, 7);
    }

    #[test]
    fn doubled_operators_and_misplaced_wildcards_say_what_is_written_instead() {
        let c = Catalogue::parse(TAGS, "tags.toml").unwrap();
        let err = |e: &str| Segment::parse(e, &c).unwrap_err();
        let e = err("vip && value/high");
        assert_eq!(e.position, 6);
        assert_eq!(
            e.message,
            "expected a tag, '!' or '(', found '&' (write & for and, | for or)"
        );
        assert!(err("vip || value/high")
            .message
            .ends_with("(write & for and, | for or)"));
        assert!(!err("vip & )").message.contains("write &"));
        // The words of other query languages say what to write instead.
        for words in [
            "lifecycle/new and value/high",
            "lifecycle/new OR value/high",
        ] {
            let e = err(words);
            assert_eq!(e.position, 15, "{words}");
            assert!(
                e.message.ends_with("(write & for and, | for or)"),
                "{words}: {e:?}"
            );
        }
        let e = err("not lifecycle/new");
        assert_eq!(
            e.message,
            "tag \"not\" is not declared in the tag catalogue (write ! for not)"
        );
        let e = err("lifecycle/new,value/high");
        assert!(
            e.message
                .ends_with("(a comma joins nothing: write & for and, | for or)"),
            "{e:?}"
        );
        for wrong in ["lifecycle/*/*", "lifecycle/ma*", "*", "*/mature"] {
            let e = err(wrong);
            assert_eq!(e.position, 1, "{wrong}");
            assert_eq!(
                e.message,
                format!("{wrong:?}: * stands only for a whole last segment (group/*)")
            );
        }
    }

    #[test]
    fn nesting_is_refused_past_the_limit_and_long_chains_are_flat() {
        let c = Catalogue::parse(TAGS, "tags.toml").unwrap();
        let user = held(&c, &["value/high"]);
        let deep = |open: &str, close: &str, n: usize| {
            format!("{}value/high{}", open.repeat(n), close.repeat(n))
        };
        // At the limit: parsed and evaluated.
        assert!(Segment::parse(&deep("!!", "", MAX_DEPTH / 2), &c)
            .unwrap()
            .matches(&user));
        assert!(Segment::parse(&deep("(", ")", MAX_DEPTH), &c)
            .unwrap()
            .matches(&user));
        assert!(Segment::parse(&deep("(!", ")", MAX_DEPTH / 2), &c)
            .unwrap()
            .matches(&user));
        // Past it, however far: refused at the first '!' or '(' too many, not a stack overflow.
        for (open, close) in [("!", ""), ("(", ")"), ("(!", ")")] {
            for n in [MAX_DEPTH + 1, 50_000] {
                let e = Segment::parse(&deep(open, close, n), &c).unwrap_err();
                assert_eq!(e.position, MAX_DEPTH + 1, "{open} × {n}");
                assert_eq!(
                    e.to_string(),
                    format!(
                        "segment expression, position {}: nested more than 256 deep",
                        MAX_DEPTH + 1
                    )
                );
            }
        }
        // Depth is what encloses a position, not how many there are.
        let siblings = vec![deep("(", ")", MAX_DEPTH); 3].join(" & ");
        assert!(Segment::parse(&siblings, &c).unwrap().matches(&user));
        // Long chains of & and | are one node each: nothing recurses along them.
        let or = vec!["vip"; 20_000].join(" | ") + " | value/high";
        let seg = Segment::parse(&or, &c).unwrap();
        assert!(matches!(&seg.expr, Expr::Or(items) if items.len() == 20_001));
        assert!(seg.matches(&user));
        let and = vec!["!vip"; 20_000].join(" & ") + " & value/*";
        assert!(Segment::parse(&and, &c).unwrap().matches(&user));
        let mixed = vec!["vip & !vip"; 10_000].join(" | ") + " | value/high & !vip";
        assert!(Segment::parse(&mixed, &c).unwrap().matches(&user));
    }
}
