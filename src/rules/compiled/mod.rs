//! Compiled handlers: a rule's Rhai functions lowered to a tree whose variables are frame
//! slots and whose calls are bound when the rule loads.
//!
//! Rhai's interpreter looks up every variable by name, resolves every call through hashed
//! tables and moves every value through `Dynamic`; for the default rule pack that is about
//! 90 % of the time spent per event. The compiled form runs the same AST without those costs.
//!
//! It is a fast path, never a second meaning:
//! - A rule is compiled only if every construct in it is understood ([`lower`]); anything else
//!   (closures, modules, `print`, loops over ranges, unknown functions) leaves the whole rule to
//!   the interpreter.
//! - At run time, anything outside the common case ([`value::Bail`]): a type the operator does
//!   not take, an integer overflow, a failing native, a limit coming near. The rule's changes
//!   are then undone and the interpreter runs the handler from the start, so errors, their
//!   messages and the sandbox's limits are always the interpreter's.
//! - Operators and natives compute what Rhai's built-ins compute (see [`value`]); tests run the
//!   default pack both ways over generated streams and require identical output.

mod eval;
mod lower;
mod natives;
mod spares;
mod unsupported;
mod value;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use rhai::{Dynamic, Engine, ImmutableString, RangeCase, Scope, AST};

use super::set::Handler;
use super::{Ctx, Limits};
use natives::{Getter, Native};
pub use spares::Spares;
pub use unsupported::Unsupported;
pub use value::{Bail, V as Value};
use value::{BinOp, V};

/// Why a compiled handler call did not finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Outside what the compiled form decides alone: the interpreter runs the call again.
    Bail,
    /// The call's wall-time budget ran out.
    OverBudget,
}

/// A rule's functions in compiled form, with the function each handler enters.
pub struct Program {
    funcs: Box<[Func]>,
    handlers: [Option<u16>; 5],
}

struct Func {
    params: usize,
    /// Parameters and every `let` of the body, each with its own slot.
    slots: u16,
    body: Box<[Stmt]>,
}

enum Stmt {
    Expr(Expr),
    Let(u16, Expr),
    /// `x = e`, or `x op= e`.
    Assign(u16, Option<BinOp>, Expr),
    If(Expr, Box<[Stmt]>, Box<[Stmt]>),
    Switch(Box<Switch>),
    While(Expr, Box<[Stmt]>),
    /// `do { } while c` or, when the flag is set, `do { } until c`.
    DoWhile(Box<[Stmt]>, Expr, bool),
    /// Loop variable, optional counter, what to iterate, body.
    For(u16, Option<u16>, Expr, Box<[Stmt]>),
    Break,
    Continue,
    Return(Expr),
    Block(Box<[Stmt]>),
}

/// A `switch`, kept as Rhai builds it: case values by hash, each to arms with optional guards.
struct Switch {
    value: Expr,
    arms: Box<[(Option<Expr>, Expr)]>,
    cases: HashMap<u64, Vec<usize>, ahash::RandomState>,
    ranges: Vec<RangeCase>,
    default: Option<usize>,
}

enum Expr {
    Const(V),
    Local(u16),
    Interpolated(Box<[Expr]>),
    Array(Box<[Expr]>),
    Map(Box<[(ImmutableString, Expr)]>),
    Block(Box<[Stmt]>),
    /// `target.a.b(x).c`.
    Chain(Box<Chain>),
    /// `variable.property`, the most common chain: read in place, without the chain's
    /// argument bookkeeping.
    Get(u16, Getter),
    /// `variable.f(args)` where `f` leaves the variable as it is: a chain of one call.
    Method(u16, Native, Box<[Expr]>),
    /// `variable.f(args)` where `f` changes the variable.
    MethodMut(u16, Native, Box<[Expr]>),
    Native(Native, Box<[Expr]>),
    Script(u16, Box<[Expr]>),
    Op(BinOp, Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Plus(Box<Expr>),
    And(Box<[Expr]>),
    Or(Box<[Expr]>),
}

impl Expr {
    /// A constant or a local: its value can be read where it is.
    fn is_plain(&self) -> bool {
        matches!(self, Expr::Const(_) | Expr::Local(_))
    }

    /// The value of a plain expression, `frame` being the function's slots.
    fn plain<'a>(&'a self, frame: &'a [V]) -> &'a V {
        match self {
            Expr::Const(v) => v,
            Expr::Local(slot) => &frame[usize::from(*slot)],
            _ => unreachable!("plain() of an expression that is_plain() rejects"),
        }
    }
}

/// A chain of property reads, method calls and indexes on a target, `target.a.b(x)[i].c`. As
/// in Rhai, the arguments of every call and every index in the chain are evaluated first, in
/// order, then the target, then the links in order.
struct Chain {
    target: Expr,
    links: Box<[Link]>,
    /// What Rhai counts for the chain, worked out when it is lowered (see
    /// `lower::chain_operations`).
    operations: u64,
}

enum Link {
    Get(Getter),
    /// A method: the native's first argument is the value so far.
    Call(Native, Box<[Expr]>),
    /// `[i]`: an array item; any other target is the interpreter's.
    Index(Expr),
}

impl Program {
    /// Compiles a rule's functions.
    ///
    /// # Errors
    /// The first construct the compiled form does not cover; the rule then runs interpreted.
    pub fn compile(ast: &AST, switch_hashes: bool) -> Result<Program, Unsupported> {
        let mut table = HashMap::new();
        for (i, def) in ast.iter_fn_def().enumerate() {
            // Rhai makes each closure a function of this name.
            if def.name.starts_with("anon$") {
                return Err(Unsupported("a closure (`|x| …`)".into()));
            }
            let index = u16::try_from(i).map_err(|_| Unsupported("too many functions".into()))?;
            table.insert((def.name.clone(), def.params.len()), index);
        }
        let fns = lower::FnTable(table);
        let funcs = lower::lower_rule(ast, &fns, switch_hashes)?;
        let mut handlers = [None; 5];
        for (slot, h) in handlers.iter_mut().zip(Handler::ALL) {
            *slot = fns.0.get(&(ImmutableString::from(h.name()), 2)).copied();
        }
        Ok(Program {
            funcs: funcs.into_boxed_slice(),
            handlers,
        })
    }

    /// Runs a handler on the step in `ctx`; returns the operations it counted.
    ///
    /// # Errors
    /// [`Stop::Bail`]: the caller undoes the rule's changes and runs the handler interpreted.
    /// [`Stop::OverBudget`]: the call ran past its time budget; it is a rule error.
    pub fn run(
        &self,
        handler: Handler,
        ctx: &mut Ctx,
        limits: &Limits,
        stack: &mut Vec<Value>,
    ) -> Result<u64, Stop> {
        let Some(entry) = self.handlers[handler as usize] else {
            return Ok(0);
        };
        let args = match handler {
            Handler::Tick => [V::User, V::Int(ctx.now)],
            _ => [V::Event, V::User],
        };
        let mut machine = eval::Machine::new(self, ctx, limits, stack);
        match machine.call(entry, args) {
            Ok(()) => Ok(machine.operations()),
            Err(Bail) if machine.over_budget => Err(Stop::OverBudget),
            Err(Bail) => Err(Stop::Bail),
        }
    }
}

/// The hash Rhai files a switch case value under.
fn switch_hash(value: &Dynamic) -> u64 {
    let mut hasher = ahash::AHasher::default();
    value.hash(&mut hasher);
    hasher.finish()
}

/// Whether [`switch_hash`] reproduces the case hashes `engine` builds. Rhai keeps only the
/// hashes of case values; should a Rhai version hash differently, rules with a `switch` stay
/// interpreted instead of matching no case.
pub fn switch_hashing_matches(engine: &Engine) -> bool {
    let mut scope = Scope::new();
    scope.push("x", Dynamic::UNIT);
    let Ok(ast) = engine.compile_with_scope(&scope, r#"switch x { "probe" => 1, 7 => 2 }"#) else {
        return false;
    };
    let Some(rhai::Stmt::Switch(x, ..)) = ast.statements().first() else {
        return false;
    };
    let cases = &x.1.cases;
    cases.len() == 2
        && cases.contains_key(&switch_hash(&Dynamic::from(ImmutableString::from("probe"))))
        && cases.contains_key(&switch_hash(&Dynamic::from_int(7)))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::rules::Params;
    use crate::tags::Catalogue;

    /// A `continue` inside a call's arguments leaves the arguments pushed before it; a loop
    /// of them must not keep them (the interpreter, with no operation limit, only spins).
    #[test]
    fn a_jump_out_of_arguments_leaves_nothing_on_the_stack() {
        let script = "fn two(a, b) { a }\n\
                      fn on_tick(user, now) {\n\
                          let i = 0;\n\
                          while i < 50000 { i += 1; two([i], { continue; }); }\n\
                      }\n";
        let ast = Engine::new().compile(script).unwrap();
        let program = Program::compile(&ast, false).unwrap();
        let catalogue = Catalogue::parse("[groups.intent]\ntags = [\"price\"]\n", "t").unwrap();
        let params = Params::parse("", "p", &[]).unwrap();
        let mut ctx = Ctx::new(
            Arc::new(catalogue),
            Arc::new(params),
            Arc::new(["r".into()]),
        );
        let limits = Limits {
            operations: 0,
            ..Limits::default()
        };
        let mut stack = Vec::new();
        program
            .run(Handler::Tick, &mut ctx, &limits, &mut stack)
            .unwrap();
        assert!(
            stack.capacity() < 64,
            "the stack grew to {} values",
            stack.capacity()
        );
    }
}
