//! Binary operators and conditions: operands that are locals or constants are read where they
//! are rather than copied, and a condition comparing two of them is tested without the general
//! dispatch.

use super::{Machine, Step};
use crate::rules::compiled::value::{BinOp, Res, V};
use crate::rules::compiled::Expr;

impl Machine<'_> {
    #[inline(never)]
    pub(super) fn op(&mut self, op: BinOp, a: &Expr, b: &Expr, base: usize) -> Step<V> {
        // A local or a constant operand is read in place rather than copied. The first is read
        // so only when the second is plain too: nothing can run in between.
        if a.is_plain() && b.is_plain() {
            // The node and both operands, counted at once.
            self.tick_n(3)?;
            return Ok(self.apply_plain(op, a, b, base)?);
        }
        self.tick()?;
        let x = self.eval(a, base)?;
        if b.is_plain() {
            self.tick()?;
            let y = b.plain(&self.stack[base..]);
            return Ok(op.apply(&x, y, self.limits.string_bytes)?);
        }
        let y = self.eval(b, base)?;
        Ok(op.apply(&x, &y, self.limits.string_bytes)?)
    }

    /// A condition's truth. The most common condition, a comparison of two plain operands, is
    /// made here without entering [`Machine::expr`] and [`Machine::op`], counting the
    /// operations they count.
    #[inline(always)]
    pub(super) fn test(&mut self, cond: &Expr, base: usize) -> Step<bool> {
        if let Expr::Op(op, a, b) = cond {
            if a.is_plain() && b.is_plain() {
                // The node, as `expr` counts it, and the operator with its operands, as `op`.
                self.tick_n(4)?;
                return Ok(self.apply_plain(*op, a, b, base)?.as_bool()?);
            }
        }
        Ok(self.eval(cond, base)?.as_bool()?)
    }

    /// `a op b` for two plain operands, both read in place.
    #[inline(always)]
    fn apply_plain(&self, op: BinOp, a: &Expr, b: &Expr, base: usize) -> Res<V> {
        let frame = &self.stack[base..];
        op.apply(a.plain(frame), b.plain(frame), self.limits.string_bytes)
    }
}
