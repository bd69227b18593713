//! The handlers of a rule script: declared with the two parameters they are called with, in
//! their order, and named as the engine names them (a near miss such as `onChat` never runs).

use regex::Regex;
use rhai::Position;

use super::api::suggest;
use super::script::Walker;
use super::Diagnostic;
use crate::rules::set::Handler;

impl Walker<'_> {
    pub(super) fn check_handler(
        &mut self,
        name: &str,
        params: &[rhai::ImmutableString],
        body: Position,
    ) {
        let handlers: Vec<&str> = Handler::ALL.iter().map(|h| h.name()).collect();
        let line = self.fn_line(name, body);
        if handlers.contains(&name) {
            self.facts.handlers += 1;
            let expected = handler_params(name);
            if params.len() != 2 {
                self.out.push(Diagnostic::error(
                    self.path,
                    line,
                    format!(
                        "handler `{name}` must take 2 parameters {expected}, not {}",
                        params.len()
                    ),
                ));
            } else if swapped(name, params) {
                self.out.push(Diagnostic::error(
                    self.path,
                    line,
                    format!(
                        "handler `{name}` takes {expected}: these two are swapped, so `{}` \
                         holds what `{}` should",
                        params[0], params[1]
                    ),
                ));
            }
        } else {
            let meant = handlers.iter().find(|h| same_but_case(name, h));
            if !name.starts_with("on_") && meant.is_none() {
                return;
            }
            let hint = match meant {
                Some(h) => format!("; did you mean `{h}`?"),
                None => suggest(name, handlers.iter().copied()),
            };
            self.out.push(Diagnostic::error(
                self.path,
                line,
                format!(
                    "`{name}` is named like a handler but is not one, so it never runs (handlers: {}){hint}",
                    handlers.join(", "),
                ),
            ));
        }
    }
}

/// A handler's parameters as a message names them.
pub(super) fn handler_params(handler: &str) -> &'static str {
    if handler == "on_tick" {
        "(user, now)"
    } else {
        "(event, user)"
    }
}

/// Whether a handler's two parameters are its own names in the other order (`on_tick(now,
/// user)`): the arguments are passed by position, so each would hold the other's value.
fn swapped(handler: &str, params: &[rhai::ImmutableString]) -> bool {
    let (first, second) = if handler == "on_tick" {
        ("user", "now")
    } else {
        ("event", "user")
    };
    params.len() == 2 && params[0] == second && params[1] == first
}

/// Handlers declared with other than two parameters, read from the text: for a script that
/// does not compile because a handler's body uses a parameter it lacks (`fn on_chat(event)`
/// reading `user` is "Undefined variable: user"), which is then the cause to name.
pub(super) fn handler_arities(text: &str) -> Vec<(usize, String, usize)> {
    let signature =
        Regex::new(r"\bfn\s+(on_chat|on_click|on_order|on_event|on_tick)\s*\(([^)]*)\)")
            .expect("static regex compiles");
    signature
        .captures_iter(text)
        .filter_map(|c| {
            let list = c[2].trim();
            let n = if list.is_empty() {
                0
            } else {
                list.split(',').count()
            };
            let at = c.get(0).expect("a match").start();
            let line = text[..at].matches('\n').count() + 1;
            (n != 2).then(|| (line, c[1].to_string(), n))
        })
        .collect()
}

/// `onchat`, `onChat`, `On_chat` for `on_chat`: the same name but for case and underscores.
fn same_but_case(name: &str, handler: &str) -> bool {
    let letters = |s: &str| -> String {
        s.chars()
            .filter(|c| *c != '_')
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    letters(name) == letters(handler)
}
