//! The constructs that look a value up: a `switch` finds its arm by the case value's hash
//! (then by range), a chain applies properties, methods and indexes to a target in turn.

use super::{Flow, Machine, Step};
use crate::rules::compiled::value::{Bail, Res, V};
use crate::rules::compiled::{switch_hash, Chain, Expr, Link, Switch};

impl Machine<'_> {
    pub(super) fn switch(&mut self, s: &Switch, base: usize) -> Step<V> {
        self.tick()?;
        let value = self.eval(&s.value, base)?;
        let dynamic = match &value {
            V::Unit | V::Bool(_) | V::Int(_) | V::Float(_) | V::Str(_) => value.to_dynamic()?,
            _ => return Err(Flow::Bail),
        };
        let mut chosen = None;
        if let Some(arms) = s.cases.get(&switch_hash(&dynamic)) {
            chosen = self.first_arm(s, arms.iter().copied(), base)?;
        }
        if chosen.is_none() && !s.ranges.is_empty() {
            let arms: Vec<usize> = s
                .ranges
                .iter()
                .filter(|r| r.contains(&dynamic))
                .map(|r| r.index())
                .collect();
            chosen = self.first_arm(s, arms.into_iter(), base)?;
        }
        match chosen.or(s.default) {
            Some(i) => self.eval(&s.arms[i].1, base),
            None => Ok(V::Unit),
        }
    }

    fn first_arm(
        &mut self,
        s: &Switch,
        arms: impl Iterator<Item = usize>,
        base: usize,
    ) -> Step<Option<usize>> {
        for i in arms {
            let pass = match &s.arms[i].0 {
                None => true,
                Some(guard) => self.test(guard, base)?,
            };
            if pass {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    pub(super) fn chain(&mut self, chain: &Chain, base: usize) -> Step<V> {
        self.tick_n(chain.operations)?;
        let start = self.stack.len();
        for link in chain.links.iter() {
            match link {
                // The receiver's place, filled when the call is made.
                Link::Call(_, args) => {
                    self.stack.push(V::Unit);
                    self.push_args(args, base)?;
                }
                Link::Index(index) => {
                    let v = self.eval(index, base)?;
                    self.stack.push(v);
                }
                Link::Get(_) => {}
            }
        }
        let (mut value, links) = match (&chain.target, &chain.links[..]) {
            // Read a variable's property in place: a getter needs no copy of its target.
            (Expr::Local(slot), [Link::Get(getter), rest @ ..]) => {
                let value = getter.get(&self.stack[base + usize::from(*slot)], self.ctx)?;
                let value = self.measured(value)?;
                (value, rest)
            }
            (target, links) => (self.eval(target, base)?, links),
        };
        let mut at = start;
        for link in links {
            value = match link {
                Link::Get(getter) => self.measured(getter.get(&value, self.ctx)?)?,
                Link::Call(native, args) => {
                    let end = at + 1 + args.len();
                    self.stack[at] = value;
                    let result = native.call_on(self.ctx, &self.stack[at..end]);
                    at = end;
                    self.measured(result?)?
                }
                Link::Index(_) => {
                    let item = index_of(&value, &self.stack[at])?;
                    at += 1;
                    item
                }
            };
        }
        self.stack.truncate(start);
        Ok(value)
    }
}

/// `array[i]`; a negative index counts from the end, as in Rhai.
fn index_of(target: &V, index: &V) -> Res<V> {
    let (V::Array(items), V::Int(i)) = (target, index) else {
        return Err(Bail);
    };
    let len = items.len() as i64;
    let at = if *i < 0 { len + i } else { *i };
    if at < 0 || at >= len {
        return Err(Bail);
    }
    Ok(items[at as usize].clone())
}
