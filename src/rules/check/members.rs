//! Properties and methods applied to values of known type (`user.count(…)`, `event.amount`,
//! `user.paid_orders(…).last`), checked link by link along a chain; and the types a variable,
//! a chain or an array's items are known to have.

use rhai::{Expr, FnCallExpr, Position};

use super::api::{suggest, Api};
use super::calls::list;
use super::script::Walker;

/// The fields only one event type has, by type (contract.md); on the others they read `()`.
const FIELDS_OF_ONE_TYPE: [(&str, &[&str]); 3] = [
    ("chat", &["text", "room_id", "staff_id"]),
    ("click", &["target", "channel"]),
    (
        "order",
        &["order_id", "amount", "status", "promo", "category"],
    ),
];

impl Walker<'_> {
    pub(super) fn type_of(&self, e: &Expr) -> Option<String> {
        match e {
            Expr::Variable(x, ..) if x.2.is_empty() => self.types.get(x.1.as_str()).cloned(),
            _ => None,
        }
    }

    /// The type `e` yields when it is a variable of known type or a chain of members from one
    /// (`user`, `user.paid_orders(days(30))`), reporting nothing: the chain's own visit does.
    pub(super) fn value_type(&self, e: &Expr) -> Option<String> {
        let Expr::Dot(b, ..) = e else {
            return self.type_of(e);
        };
        let mut ty = self.value_type(&b.lhs)?;
        let mut link = &b.rhs;
        loop {
            let (member, rest) = match link {
                Expr::Dot(b, ..) => (&b.lhs, Some(&b.rhs)),
                other => (other, None),
            };
            let (name, args) = match member {
                Expr::Property(p, _) => (format!("get${}", p.2), 0),
                Expr::MethodCall(call, _) if !self.script_fns.contains_key(call.name.as_str()) => {
                    (call.name.to_string(), call.args.len())
                }
                _ => return None,
            };
            ty = self.api.method(&ty, &name, args)?.returns.clone()?;
            match rest {
                Some(rest) => link = rest,
                None => return Some(ty),
            }
        }
    }

    /// The type of the items of the array `e` yields, when it is a method of known items called
    /// on a variable or chain of known type (`event.keyword_hits()`).
    pub(super) fn item_type(&self, e: &Expr) -> Option<String> {
        let Expr::Dot(b, ..) = e else { return None };
        let Expr::MethodCall(call, _) = &b.rhs else {
            return None;
        };
        let receiver = self.value_type(&b.lhs)?;
        crate::rules::api::ARRAY_ITEMS
            .iter()
            .find(|(r, m, _)| *r == receiver && *m == call.name.as_str())
            .map(|(.., item)| item.to_string())
    }

    /// Checks one link of a `receiver.a.b(…)` chain after another; `recv` is the type of what
    /// the link is applied to, when known.
    pub(super) fn chain(&mut self, recv: Option<String>, rhs: &Expr) {
        match rhs {
            Expr::Dot(b, ..) => {
                let ty = self.member(recv.as_deref(), &b.lhs);
                self.chain(ty, &b.rhs);
            }
            Expr::Index(b, ..) => {
                self.member(recv.as_deref(), &b.lhs);
                self.chain(None, &b.rhs);
            }
            e => {
                self.member(recv.as_deref(), e);
            }
        }
    }

    /// Checks a property or method applied to a value of type `recv`; the type it yields.
    pub(super) fn member(&mut self, recv: Option<&str>, e: &Expr) -> Option<String> {
        match e {
            Expr::Property(p, pos) => {
                let prop = p.2.as_str();
                let ty = recv?;
                let getter = format!("get${prop}");
                if let Some(sig) = self.api.method(ty, &getter, 0) {
                    let returns = sig.returns.clone();
                    if ty == "Event" {
                        self.field_of_another_type(prop, *pos);
                    }
                    return returns;
                }
                let (_, props) = self.api.members(ty);
                let hint = suggest(prop, props.iter().copied());
                self.error(*pos, format!("{ty} has no property `{prop}`{hint}"));
                None
            }
            Expr::MethodCall(call, pos) => self.method(recv, call, *pos),
            _ => None,
        }
    }

    /// A field of one event type read in the handler of another (`event.amount` in
    /// `on_chat`): it is `()` there on every call, so a comparison with it is always false
    /// and arithmetic on it a rule error, with nothing to say why.
    fn field_of_another_type(&mut self, prop: &str, pos: Position) {
        let Some(handled) = self.event_type else {
            return;
        };
        let Some((owner, _)) = FIELDS_OF_ONE_TYPE
            .iter()
            .find(|(kind, fields)| *kind != handled && fields.contains(&prop))
        else {
            return;
        };
        self.error(
            pos,
            format!(
                "`event.{prop}` is () in on_{handled}, which only {handled} events call: \
                 `{prop}` is a field of {owner} events; read it in on_{owner}, or in on_event \
                 where event.type is \"{owner}\""
            ),
        );
    }

    pub(super) fn method(
        &mut self,
        recv: Option<&str>,
        call: &FnCallExpr,
        pos: Position,
    ) -> Option<String> {
        let name = call.name.as_str();
        let args = &call.args[..];
        let n = args.len();
        let scripted = self
            .script_fns
            .get(name)
            .is_some_and(|a| a.contains(&n) || a.contains(&(n + 1)));
        if scripted || Api::is_builtin(name) {
            return None;
        }
        match recv.filter(|t| self.api.types.contains(*t)) {
            Some(ty) => {
                if let Some(sig) = self.api.method(ty, name, n) {
                    let returns = sig.returns.clone();
                    match ty {
                        "User" => self.user_literals(name, args),
                        "Event" if name == "keyword_hits" => self.facts.reads_keywords = true,
                        _ => {}
                    }
                    return returns;
                }
                let arities: Vec<usize> = self.api.method_arities(ty, name).into_iter().collect();
                let message = if arities.is_empty() {
                    let (methods, _) = self.api.members(ty);
                    format!("unknown method `{name}` on {ty}{}", suggest(name, methods))
                } else {
                    format!(
                        "`{name}` on {ty} takes {} argument(s), not {n}",
                        list(&arities)
                    )
                };
                self.error(pos, message);
                None
            }
            None => {
                if self.api.with_arity(name, n + 1).next().is_some() {
                    if name == "keyword_hits" {
                        self.facts.reads_keywords = true;
                    }
                    return self
                        .api
                        .with_arity(name, n + 1)
                        .find_map(|s| s.returns.clone());
                }
                let message = if self.api.arities(name).is_empty() {
                    format!(
                        "unknown method `{name}`{}",
                        suggest(name, self.callable_names())
                    )
                } else {
                    let arities: Vec<usize> = self
                        .api
                        .arities(name)
                        .into_iter()
                        .filter(|a| *a > 0)
                        .map(|a| a - 1)
                        .collect();
                    format!(
                        "method `{name}` takes {} argument(s), not {n}",
                        list(&arities)
                    )
                };
                self.error(pos, message);
                None
            }
        }
    }
}
