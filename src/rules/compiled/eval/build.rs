//! The constructs that build a value from several: `&&` and `||` over their items, a text
//! with `${…}` parts, an array literal, an object map literal.

use std::rc::Rc;

use rhai::ImmutableString;

use super::{Flow, Machine, Step};
use crate::rules::compiled::natives::map_of;
use crate::rules::compiled::value::{within_limits, V};
use crate::rules::compiled::Expr;

impl Machine<'_> {
    /// `a && b && ..`: false at the first false item.
    #[inline(never)]
    pub(super) fn all(&mut self, items: &[Expr], base: usize) -> Step<V> {
        for item in items {
            if !self.test(item, base)? {
                return Ok(V::Bool(false));
            }
        }
        Ok(V::Bool(true))
    }

    /// `a || b || ..`: true at the first true item.
    #[inline(never)]
    pub(super) fn any(&mut self, items: &[Expr], base: usize) -> Step<V> {
        for item in items {
            if self.test(item, base)? {
                return Ok(V::Bool(true));
            }
        }
        Ok(V::Bool(false))
    }

    #[inline(never)]
    pub(super) fn interpolated(&mut self, parts: &[Expr], base: usize) -> Step<V> {
        // Most texts fit: one allocation rather than a few growing ones.
        let mut text = String::with_capacity(48);
        for p in parts {
            self.tick_n(2)?;
            self.eval(p, base)?.write_to(&mut text)?;
        }
        if self.limits.string_bytes > 0 && text.len() > self.limits.string_bytes {
            return Err(Flow::Bail);
        }
        Ok(V::Str(ImmutableString::from(text)))
    }

    #[inline(never)]
    pub(super) fn array(&mut self, items: &[Expr], base: usize) -> Step<V> {
        // Room for a few pushes: scripts often build a list and then add to it.
        let mut array = self.ctx.spares.array(items.len() + 4);
        for item in items {
            let v = self.eval(item, base)?;
            Rc::get_mut(&mut array)
                .expect("a new array is unshared")
                .push(v);
        }
        let array = V::Array(array);
        within_limits(self.limits, array.data_sizes()?)?;
        Ok(array)
    }

    #[inline(never)]
    pub(super) fn map(&mut self, fields: &[(ImmutableString, Expr)], base: usize) -> Step<V> {
        let mut out = Vec::with_capacity(fields.len());
        let mut sizes = (0, fields.len(), 0);
        for (k, e) in fields {
            let v = self.eval(e, base)?;
            let (a, m, s) = v.data_sizes()?;
            sizes = (sizes.0 + a, sizes.1 + m, sizes.2 + s);
            out.push((k.clone(), v));
        }
        within_limits(self.limits, sizes)?;
        Ok(V::Map(Rc::new(map_of(out)?)))
    }
}
