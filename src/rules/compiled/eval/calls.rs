//! Calls of natives and script functions. Arguments go on the value stack in Rhai's order,
//! except where every one is a constant or a local: a native then reads them where they are,
//! with nothing copied, since nothing can run between reading one and the next.

use super::{Machine, Step};
use crate::rules::compiled::natives::Native;
use crate::rules::compiled::value::{Bail, Res, V};
use crate::rules::compiled::Expr;

/// No native takes more arguments than this, its receiver included (see `Native::parse`).
const MOST_ARGS: usize = 4;

impl Machine<'_> {
    /// Evaluates `args` onto the stack; returns where they start.
    pub(super) fn push_args(&mut self, args: &[Expr], base: usize) -> Step<usize> {
        let start = self.stack.len();
        for a in args {
            let v = self.eval(a, base)?;
            self.stack.push(v);
        }
        Ok(start)
    }

    /// Evaluates a function call's arguments onto the stack; returns where they start.
    ///
    /// As in Rhai, a call whose first argument is a variable (`f(x, …)`) is made like the method
    /// call `x.f(…)`: the other arguments are evaluated first and the variable is read last, so
    /// an argument that assigns to it changes the first argument (`round_to(x, { x = 9.9; 1 })`
    /// rounds 9.9).
    fn push_call_args(&mut self, args: &[Expr], base: usize) -> Step<usize> {
        let [Expr::Local(slot), rest @ ..] = args else {
            return self.push_args(args, base);
        };
        let start = self.push_after_args(*slot, rest, base)?;
        // Reading the variable, as `eval` counts it.
        self.tick()?;
        Ok(start)
    }

    /// Pushes the variable in `slot`, then `args`, reading the variable only once `args` are
    /// evaluated; returns where they start.
    fn push_after_args(&mut self, slot: u16, args: &[Expr], base: usize) -> Step<usize> {
        let start = self.stack.len();
        // The variable's place, filled once the arguments are in.
        self.stack.push(V::Unit);
        self.push_args(args, base)?;
        self.stack[start] = self.stack[base + usize::from(slot)].clone();
        Ok(start)
    }

    #[inline(never)]
    pub(super) fn native(&mut self, native: &Native, args: &[Expr], base: usize) -> Step<V> {
        self.tick_n(2)?;
        self.call_native(*native, None, args, base)
    }

    /// A chain of one call on a variable.
    #[inline(never)]
    pub(super) fn method(
        &mut self,
        slot: u16,
        native: &Native,
        args: &[Expr],
        base: usize,
    ) -> Step<V> {
        // What the chain counts (itself and its link, twice), and reading the variable.
        self.tick_n(5)?;
        self.call_native(*native, Some(slot), args, base)
    }

    /// Calls `native` on `args`, after the variable in slot `receiver` if it is a method.
    ///
    /// When every argument is plain, the native reads them (and the variable) in place.
    /// Otherwise they go on the stack, in Rhai's order: a method's arguments are evaluated
    /// before its variable is read, so an argument may assign to it (`x.round_to({ x = 9.9; 2
    /// })` rounds 9.9); a function's as [`Machine::push_call_args`] says.
    #[inline(always)]
    fn call_native(
        &mut self,
        native: Native,
        receiver: Option<u16>,
        args: &[Expr],
        base: usize,
    ) -> Step<V> {
        let result = if args.iter().all(Expr::is_plain) {
            // Each argument, as `eval` counts it.
            self.tick_n(args.len() as u64)?;
            self.call_in_place(native, receiver, args, base)
        } else {
            let start = match receiver {
                Some(slot) => self.push_after_args(slot, args, base)?,
                None => self.push_call_args(args, base)?,
            };
            let result = native.call_on(self.ctx, &self.stack[start..]);
            self.pop_to(start);
            result
        };
        Ok(self.measured(result?)?)
    }

    #[inline(never)]
    pub(super) fn method_mut(
        &mut self,
        slot: u16,
        native: &Native,
        args: &[Expr],
        base: usize,
    ) -> Step<V> {
        self.tick_n(3)?;
        let start = self.push_args(args, base)?;
        // The target is a slot of this frame, below the arguments.
        let (frame, args) = self.stack.split_at_mut(start);
        let result = native.call_mut(&mut frame[base + usize::from(slot)], args, self.limits);
        self.pop_to(start);
        Ok(result?)
    }

    #[inline(never)]
    pub(super) fn script(&mut self, f: u16, args: &[Expr], base: usize) -> Step<V> {
        self.tick_n(3)?;
        let start = self.push_call_args(args, base)?;
        Ok(self.enter(f, start)?)
    }

    /// `native` on plain arguments read where they are, after the receiver in slot `receiver`
    /// if it is a method.
    #[inline(always)]
    fn call_in_place(
        &mut self,
        native: Native,
        receiver: Option<u16>,
        args: &[Expr],
        base: usize,
    ) -> Res<V> {
        let frame = &self.stack[base..];
        let unit = V::Unit;
        let mut refs = [&unit; MOST_ARGS];
        let mut n = 0;
        if let Some(slot) = receiver {
            refs[0] = &frame[usize::from(slot)];
            n = 1;
        }
        for a in args {
            *refs.get_mut(n).ok_or(Bail)? = a.plain(frame);
            n += 1;
        }
        native.call(self.ctx, &refs[..n])
    }
}
