//! Lowering chains, `target.a.b(x)[i].c`: Rhai nests them to the right, the compiled form keeps
//! their links in the order they apply.

use rhai::{ASTFlags, Expr as RExpr};

use super::Lowerer;
use crate::rules::compiled::natives::{Getter, Native};
use crate::rules::compiled::unsupported::{calling, construct, unsupported, Lowered, Unsupported};
use crate::rules::compiled::{Chain, Expr, Link};

impl Lowerer<'_> {
    /// A chain: `lhs.rhs` (`dot`) or `lhs[rhs]` (not `dot`), where `rhs` holds the rest of the
    /// chain as Rhai's parser nests it (see [`Lowerer::links`]).
    pub(super) fn chain(
        &mut self,
        lhs: &RExpr,
        rhs: &RExpr,
        dot: bool,
        flags: ASTFlags,
    ) -> Lowered<Expr> {
        let target = self.expr(lhs)?;
        let mut links = Vec::new();
        self.links(rhs, dot, flags, &mut links)?;
        if let [Link::Call(native, _)] = &links[..] {
            if native.mutates() {
                // Only a variable can be changed in place, and not a constant: Rhai refuses a
                // changing method on a constant at run time.
                let (RExpr::Variable(..), Expr::Local(slot)) = (lhs, &target) else {
                    return unsupported(format!("`{native:?}` on a temporary"));
                };
                if self.constants.contains(slot) {
                    return unsupported(format!("`{native:?}` on a constant"));
                }
                let Some(Link::Call(native, args)) = links.pop() else {
                    unreachable!("one call link")
                };
                return Ok(Expr::MethodMut(*slot, native, args));
            }
        }
        if links
            .iter()
            .any(|l| matches!(l, Link::Call(n, _) if n.mutates()))
        {
            return unsupported("a changing method inside a chain");
        }
        match (&target, &mut links[..]) {
            (Expr::Local(slot), [Link::Get(getter)]) => return Ok(Expr::Get(*slot, *getter)),
            (Expr::Local(slot), [Link::Call(native, args)]) => {
                return Ok(Expr::Method(*slot, *native, std::mem::take(args)));
            }
            _ => {}
        }
        Ok(Expr::Chain(Box::new(Chain {
            target,
            operations: chain_operations(&links),
            links: links.into_boxed_slice(),
        })))
    }

    /// Flattens the rest of a chain into links, in the order they apply.
    ///
    /// Rhai nests a chain to the right, and what a node means depends on its parent: under a
    /// `.` (`dot`), a node is a property or a method, or a `Dot`/`Index` whose left side is
    /// one and whose right side continues the chain; under a `[ ]`, a node is the index
    /// itself when the parent ends the chain (`BREAK`), else a `Dot`/`Index` whose left side
    /// is the index and whose right side continues. So `a[i].f()` is
    /// `Index(a, Dot(i, f()))`: index by `i`, then call `f` on the item.
    fn links(
        &mut self,
        rhs: &RExpr,
        dot: bool,
        parent: ASTFlags,
        out: &mut Vec<Link>,
    ) -> Lowered<()> {
        if parent.intersects(ASTFlags::NEGATED) {
            return unsupported("`?.` or `?[`");
        }
        if !dot {
            return match rhs {
                RExpr::Dot(x, flags, ..) | RExpr::Index(x, flags, ..)
                    if !parent.intersects(ASTFlags::BREAK) =>
                {
                    out.push(Link::Index(self.expr(&x.lhs)?));
                    self.links(&x.rhs, matches!(rhs, RExpr::Dot(..)), *flags, out)
                }
                index => {
                    out.push(Link::Index(self.expr(index)?));
                    Ok(())
                }
            };
        }
        match rhs {
            RExpr::Property(..) | RExpr::MethodCall(..) => self.link(rhs, out),
            RExpr::Dot(x, flags, ..) | RExpr::Index(x, flags, ..) => {
                self.link(&x.lhs, out)?;
                self.links(&x.rhs, matches!(rhs, RExpr::Dot(..)), *flags, out)
            }
            other => unsupported(construct(&format!("{other:?}"))),
        }
    }

    /// One property read or method call of a chain.
    fn link(&mut self, rhs: &RExpr, out: &mut Vec<Link>) -> Lowered<()> {
        match rhs {
            RExpr::Property(p, ..) => {
                let name = &p.2;
                let getter =
                    Getter::parse(name).ok_or_else(|| Unsupported(format!("property `{name}`")))?;
                out.push(Link::Get(getter));
            }
            RExpr::MethodCall(call, ..) => {
                if self.fns.0.keys().any(|(n, _)| n == &call.name) {
                    return unsupported(format!(
                        "script function `{}` called as a method",
                        call.name
                    ));
                }
                let args = self.call_args(call)?;
                // `x.f(a)` is `f(x, a)`: the receiver is the native's first argument.
                let native = Native::parse(&call.name, args.len() + 1)
                    .ok_or_else(|| Unsupported(calling("method", &call.name, args.len())))?;
                out.push(Link::Call(native, args));
            }
            other => return unsupported(construct(&format!("{other:?}"))),
        }
        Ok(())
    }
}

/// The operations Rhai counts for a chain: itself, and each link as it collects its arguments
/// and applies it. A property read before a method costs two more: should the method take its
/// receiver by reference (an array's `len` does), Rhai writes the value back through the
/// property's setter, then an indexer, and counts both attempts even when neither exists.
fn chain_operations(links: &[Link]) -> u64 {
    let written_back = (0..links.len())
        .filter(|&i| matches!(links[i], Link::Get(_)))
        .filter(|&i| links[i..].iter().any(|l| matches!(l, Link::Call(..))))
        .count();
    2 + 2 * (links.len() + written_back) as u64
}
