//! Calls in a rule script: resolved against the script's own functions and the engine's
//! registered API (with the nearest name, or the argument counts that exist), the literal
//! arguments of the tag and time functions checked, and the operators that compare `event.type`
//! or use a parameter as a number.

use rhai::{Expr, FnCallExpr, Position};

use super::api::{is_identifier, suggest, Api};
use super::script::{Need, Walker};

impl Walker<'_> {
    /// Every name a call may use, the API's and the script's own: what an unknown function or
    /// method is compared with for a suggestion.
    pub(super) fn callable_names(&self) -> impl Iterator<Item = &str> {
        self.api
            .names()
            .chain(self.script_fns.keys().map(String::as_str))
    }

    /// A call `name(args)`: resolved, and its literal arguments checked.
    pub(super) fn call(&mut self, call: &FnCallExpr, pos: Position) {
        let name = call.name.as_str();
        let args = &call.args[..];
        if call.op_token.is_some() || !is_identifier(name) {
            self.operator(name, args);
            return;
        }
        if !call.namespace.is_empty() {
            self.error(
                pos,
                format!(
                    "`{}::{name}()`: parameters are values, not functions",
                    call.namespace
                ),
            );
            return;
        }
        let n = args.len();
        let known = self.script_fns.get(name).is_some_and(|a| a.contains(&n))
            || self.api.with_arity(name, n).next().is_some()
            || Api::is_builtin(name);
        if !known {
            let mut arities: Vec<usize> = self.api.arities(name).into_iter().collect();
            arities.extend(self.script_fns.get(name).into_iter().flatten());
            arities.sort_unstable();
            arities.dedup();
            let message = if arities.is_empty() {
                format!(
                    "unknown function `{name}`{}",
                    suggest(name, self.callable_names())
                )
            } else {
                format!("`{name}` takes {} argument(s), not {n}", list(&arities))
            };
            self.error(pos, message);
            return;
        }
        if self.script_fns.contains_key(name) {
            return;
        }
        match name {
            "tag" | "untag" => {
                if let Some(Expr::StringConstant(tag, p)) = args.first() {
                    self.declared_tag(tag, *p);
                }
                if name == "tag" {
                    match args.get(1) {
                        Some(Expr::Map(map, _)) => self.tag_options(&map.0),
                        Some(second) => self.tag_reason(second),
                        None => {}
                    }
                }
            }
            "untag_group" => {
                if let Some(Expr::StringConstant(group, p)) = args.first() {
                    self.declared_group(group, *p);
                }
            }
            "duration" => self.duration_literal(args.first()),
            "days" | "hours" | "minutes" => self.arg_needs(args.first(), Need::Number),
            "grade_at_least" | "grade_at_most" => {
                self.arg_needs(args.first(), Need::Number);
                self.arg_needs(args.get(1), Need::Numbers);
            }
            _ => {}
        }
    }

    /// Operators: comparisons of `event.type` with a literal, and parameters used as numbers.
    fn operator(&mut self, op: &str, args: &[Expr]) {
        match op {
            "==" | "!=" => {
                for (a, b) in [(0, 1), (1, 0)] {
                    if let (Some(lhs), Some(Expr::StringConstant(s, p))) =
                        (args.get(a), args.get(b))
                    {
                        if self.is_event_type(lhs) {
                            self.event_type_literal(s, *p);
                        }
                    }
                }
            }
            "<" | "<=" | ">" | ">=" | "-" | "*" | "/" | "%" => {
                for arg in args {
                    self.arg_needs(Some(arg), Need::Number);
                }
            }
            _ => {}
        }
    }

    fn is_event_type(&self, e: &Expr) -> bool {
        let Expr::Dot(b, ..) = e else { return false };
        let Expr::Property(p, _) = &b.rhs else {
            return false;
        };
        p.2.as_str() == "type" && self.type_of(&b.lhs).as_deref() == Some("Event")
    }
}

/// `1`, `1 or 2`, `1, 2 or 3`.
pub(super) fn list(items: &[usize]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!(
            "{} or {last}",
            init.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
