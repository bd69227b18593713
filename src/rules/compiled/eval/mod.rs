//! Running compiled handlers: one value stack holds every frame's slots and the arguments of
//! the call being made, so a call allocates nothing.

use super::value::{negate, within_limits, Bail, Res, V};
use super::{Expr, Program, Stmt};
use crate::rules::budget::Budget;
use crate::rules::{Ctx, Limits};

mod build;
mod calls;
mod lookup;
mod ops;

/// Operations between two looks at the clock. A compiled operation is far cheaper than an
/// interpreted one (the interpreter looks every [`crate::rules::budget::CLOCK_EVERY`]): this many
/// take microseconds, against a budget of milliseconds, and most handler calls finish without
/// reading the clock at all.
const CLOCK_EVERY: u64 = 256;

/// How a statement ended other than by falling through; a returned value waits in
/// [`Machine::returned`], which keeps every step's result small.
enum Flow {
    Bail,
    Return,
    Break,
    Continue,
}

impl From<Bail> for Flow {
    fn from(_: Bail) -> Flow {
        Flow::Bail
    }
}

type Step<T> = Result<T, Flow>;

/// How one pass of a loop body ended.
enum Pass {
    End,
    Continue,
    Break,
}

/// Drops `value`; one that owns nothing is let go without a call to drop it.
#[inline(always)]
fn let_go(value: V) {
    match value {
        V::Unit | V::Bool(_) | V::Int(_) | V::Float(_) | V::User | V::Event => {
            std::mem::forget(value);
        }
        value => drop(value),
    }
}

/// Operations the interpreter counts to make the handler call itself: the calling statement,
/// its two arguments and entering the function.
const HANDLER_CALL_OPERATIONS: u64 = 6;

pub struct Machine<'a> {
    program: &'a Program,
    ctx: &'a mut Ctx,
    limits: &'a Limits,
    stack: &'a mut Vec<V>,
    returned: V,
    depth: usize,
    /// Operations as Rhai counts them, or more: every node, chain link, call and loop pass
    /// counts at least what the interpreter counts for it, so a handler the interpreter would
    /// stop for its operations always reaches [`Machine::max_operations`] here first.
    operations: u64,
    /// Over this the interpreter runs the handler and enforces the limit exactly.
    max_operations: u64,
    /// The count at which the clock is next looked at (a multiple of [`CLOCK_EVERY`]).
    next_clock: u64,
    /// Past this count, [`Machine::check`] runs: the smaller of `max_operations` and the
    /// count before `next_clock`. One comparison per operation instead of two divisions.
    next_check: u64,
    /// The call's time budget, if it has one.
    budget: Option<Budget>,
    /// The budget ran out: the call is a rule error, not a fallback.
    pub over_budget: bool,
}

impl<'a> Machine<'a> {
    /// `stack` is scratch space, kept by the caller between runs.
    pub fn new(
        program: &'a Program,
        ctx: &'a mut Ctx,
        limits: &'a Limits,
        stack: &'a mut Vec<V>,
    ) -> Machine<'a> {
        stack.clear();
        // 0 is "no limit" to Rhai.
        let max_operations = match limits.operations {
            0 => u64::MAX,
            n => n,
        };
        Machine {
            program,
            ctx,
            limits,
            stack,
            returned: V::Unit,
            depth: 0,
            // What the interpreter counts for the statement that calls the handler.
            operations: HANDLER_CALL_OPERATIONS,
            max_operations,
            next_clock: CLOCK_EVERY,
            next_check: max_operations.min(CLOCK_EVERY - 1),
            budget: limits.time_budget().map(Budget::new),
            over_budget: false,
        }
    }

    /// Operations counted so far, the handler call included.
    pub fn operations(&self) -> u64 {
        self.operations
    }

    /// Calls script function `f` with `args`.
    pub fn call<const N: usize>(&mut self, f: u16, args: [V; N]) -> Res<()> {
        let base = self.stack.len();
        self.stack.extend(args);
        self.enter(f, base).map(|_| ())
    }

    /// Runs function `f` whose arguments are on the stack from `base`.
    fn enter(&mut self, f: u16, base: usize) -> Res<V> {
        let func = &self.program.funcs[usize::from(f)];
        if self.stack.len() - base != func.params || self.depth * 2 >= self.limits.call_depth {
            return Err(Bail);
        }
        self.depth += 1;
        self.stack.resize(base + usize::from(func.slots), V::Unit);
        let result = self.block(&func.body, base);
        for value in self.stack.drain(base..) {
            match value {
                V::Array(_) | V::Orders(_) => self.ctx.spares.recycle(value),
                value => let_go(value),
            }
        }
        self.depth -= 1;
        match result {
            Ok(v) => Ok(v),
            Err(Flow::Return) => Ok(std::mem::take(&mut self.returned)),
            Err(_) => Err(Bail),
        }
    }

    /// A native's result within the data limits, which Rhai checks on every result (a chat
    /// text may well be longer than a script's strings may be). A string, the common case, is
    /// measured here: its bytes are all [`V::data_sizes`] counts of it.
    #[inline]
    fn measured(&self, value: V) -> Res<V> {
        match &value {
            V::Str(s) => {
                let max = self.limits.string_bytes;
                if max > 0 && s.len() > max {
                    return Err(Bail);
                }
                Ok(value)
            }
            V::Array(_) | V::Map(_) => self.measure(value),
            _ => Ok(value),
        }
    }

    /// Drops the stack's values from `start` on, the call's receiver and arguments.
    #[inline]
    fn pop_to(&mut self, start: usize) {
        while self.stack.len() > start {
            if let Some(value) = self.stack.pop() {
                let_go(value);
            }
        }
    }

    #[inline(never)]
    fn measure(&self, value: V) -> Res<V> {
        within_limits(self.limits, value.data_sizes()?)?;
        Ok(value)
    }

    #[inline]
    fn tick(&mut self) -> Res<()> {
        self.tick_n(1)
    }

    /// Counts `n` operations; over the limit the interpreter takes over, over the time budget
    /// the call ends.
    #[inline]
    fn tick_n(&mut self, n: u64) -> Res<()> {
        self.operations += n;
        if self.operations > self.next_check {
            return self.check();
        }
        Ok(())
    }

    /// The operation limit, and the clock every [`CLOCK_EVERY`] operations.
    #[cold]
    fn check(&mut self) -> Res<()> {
        if self.operations > self.max_operations {
            return Err(Bail);
        }
        if self.operations >= self.next_clock {
            self.next_clock = (self.operations / CLOCK_EVERY + 1) * CLOCK_EVERY;
            if self.budget.as_mut().is_some_and(Budget::spent) {
                self.over_budget = true;
                return Err(Bail);
            }
        }
        self.next_check = self.max_operations.min(self.next_clock - 1);
        Ok(())
    }

    /// A block's value is its last statement's, as in Rhai.
    fn block(&mut self, stmts: &[Stmt], base: usize) -> Step<V> {
        let Some((last, before)) = stmts.split_last() else {
            return Ok(V::Unit);
        };
        self.run(before, base)?;
        self.stmt(last, base)
    }

    /// Runs statements whose values nothing reads.
    fn run(&mut self, stmts: &[Stmt], base: usize) -> Step<()> {
        for s in stmts {
            self.exec(s, base)?;
        }
        Ok(())
    }

    /// A statement whose value nothing reads: the common ones skip making one, counting the
    /// operations [`Machine::stmt`] counts.
    fn exec(&mut self, stmt: &Stmt, base: usize) -> Step<()> {
        match stmt {
            Stmt::Expr(e) => {
                self.tick()?;
                self.eval(e, base)?;
                Ok(())
            }
            Stmt::If(cond, then, otherwise) => {
                self.tick()?;
                if self.test(cond, base)? {
                    self.run(then, base)
                } else {
                    self.run(otherwise, base)
                }
            }
            Stmt::Block(b) => {
                self.tick()?;
                self.run(b, base)
            }
            Stmt::Let(slot, e) => {
                self.tick()?;
                let v = self.eval(e, base)?;
                self.stack[base + usize::from(*slot)] = v;
                Ok(())
            }
            _ => self.stmt(stmt, base).map(drop),
        }
    }

    fn stmt(&mut self, stmt: &Stmt, base: usize) -> Step<V> {
        self.tick()?;
        match stmt {
            Stmt::Expr(e) => self.eval(e, base),
            Stmt::Let(slot, e) => {
                let v = self.eval(e, base)?;
                self.stack[base + usize::from(*slot)] = v;
                Ok(V::Unit)
            }
            Stmt::Assign(slot, op, e) => {
                let v = self.eval(e, base)?;
                let at = base + usize::from(*slot);
                match op {
                    None => {
                        self.tick()?;
                        self.stack[at] = v;
                    }
                    Some(op) => {
                        // Rhai has no built-in `int op= float`: it looks for the operator-
                        // assignment function, then for the operator, two operations more.
                        // Every operator-assignment counts them rather than testing the types.
                        self.tick_n(3)?;
                        op.assign(&mut self.stack[at], &v, self.limits.string_bytes)?;
                    }
                }
                Ok(V::Unit)
            }
            Stmt::If(cond, then, otherwise) => {
                if self.test(cond, base)? {
                    self.block(then, base)
                } else {
                    self.block(otherwise, base)
                }
            }
            Stmt::Switch(s) => self.switch(s, base),
            Stmt::While(cond, body) => {
                while self.test(cond, base)? {
                    if self.iteration(body, base)? {
                        break;
                    }
                }
                Ok(V::Unit)
            }
            // As in Rhai 1.27, `continue` in a `do` loop starts the body again without
            // testing the condition.
            Stmt::DoWhile(body, cond, until) => {
                loop {
                    match self.pass(body, base)? {
                        Pass::Break => break,
                        Pass::Continue => continue,
                        Pass::End => {}
                    }
                    if self.test(cond, base)? == *until {
                        break;
                    }
                }
                Ok(V::Unit)
            }
            Stmt::For(var, counter, iter, body) => {
                let V::Array(items) = self.eval(iter, base)? else {
                    return Err(Flow::Bail);
                };
                for (i, item) in items.iter().enumerate() {
                    self.stack[base + usize::from(*var)] = item.clone();
                    if let Some(c) = counter {
                        self.stack[base + usize::from(*c)] = V::Int(i as i64);
                    }
                    if self.iteration(body, base)? {
                        break;
                    }
                }
                self.ctx.spares.recycle(V::Array(items));
                Ok(V::Unit)
            }
            Stmt::Break => Err(Flow::Break),
            Stmt::Continue => Err(Flow::Continue),
            Stmt::Return(e) => {
                self.returned = self.eval(e, base)?;
                Err(Flow::Return)
            }
            Stmt::Block(b) => self.block(b, base),
        }
    }

    /// One pass of a loop body; `true` when it breaks out of the loop.
    fn iteration(&mut self, body: &[Stmt], base: usize) -> Step<bool> {
        Ok(matches!(self.pass(body, base)?, Pass::Break))
    }

    /// One pass of a loop body, and how it ended.
    fn pass(&mut self, body: &[Stmt], base: usize) -> Step<Pass> {
        self.tick()?;
        let depth = self.stack.len();
        let ended = match self.run(body, base) {
            Ok(()) => return Ok(Pass::End),
            Err(Flow::Continue) => Pass::Continue,
            Err(Flow::Break) => Pass::Break,
            Err(other) => return Err(other),
        };
        // A `break` or `continue` inside a call's arguments (`f(1, { continue; })`) leaves
        // the arguments pushed before it: let them go here, or an endless loop of them would
        // grow the stack without bound where the interpreter only spins.
        self.pop_to(depth);
        Ok(ended)
    }

    /// An expression's value. A constant or a local, the most common operands, is read here
    /// without a call to [`Machine::expr`] and its large frame.
    #[inline(always)]
    fn eval(&mut self, expr: &Expr, base: usize) -> Step<V> {
        // As `Expr::plain`, matched here so the common case takes one branch.
        let value = match expr {
            Expr::Const(v) => v,
            Expr::Local(slot) => &self.stack[base + usize::from(*slot)],
            _ => return self.expr(expr, base),
        };
        let value = value.clone();
        self.tick()?;
        Ok(value)
    }

    /// A compound expression's value ([`Machine::eval`] reads the plain ones).
    ///
    /// Only the dispatch is here: each kind of node has a function of its own, so this one
    /// (entered for every compound node) keeps a small frame instead of the largest of them all.
    fn expr(&mut self, expr: &Expr, base: usize) -> Step<V> {
        self.tick()?;
        match expr {
            Expr::Const(_) | Expr::Local(_) => {
                unreachable!("Machine::eval reads plain expressions")
            }
            Expr::Op(op, a, b) => self.op(*op, a, b, base),
            Expr::Chain(chain) => self.chain(chain, base),
            Expr::Get(slot, getter) => {
                // What the chain counts: itself and its one link, twice.
                self.tick_n(4)?;
                let value = getter.get(&self.stack[base + usize::from(*slot)], self.ctx)?;
                Ok(self.measured(value)?)
            }
            Expr::Method(slot, native, args) => self.method(*slot, native, args, base),
            Expr::Native(native, args) => self.native(native, args, base),
            Expr::MethodMut(slot, native, args) => self.method_mut(*slot, native, args, base),
            Expr::Script(f, args) => self.script(*f, args, base),
            Expr::And(items) => self.all(items, base),
            Expr::Or(items) => self.any(items, base),
            Expr::Not(e) => {
                self.tick()?;
                Ok(V::Bool(!self.test(e, base)?))
            }
            Expr::Neg(e) => {
                self.tick()?;
                Ok(negate(&self.eval(e, base)?)?)
            }
            Expr::Plus(e) => {
                self.tick()?;
                match self.eval(e, base)? {
                    v @ (V::Int(_) | V::Float(_)) => Ok(v),
                    _ => Err(Flow::Bail),
                }
            }
            Expr::Block(stmts) => self.block(stmts, base),
            Expr::Interpolated(parts) => self.interpolated(parts, base),
            Expr::Array(items) => self.array(items, base),
            Expr::Map(fields) => self.map(fields, base),
        }
    }
}
