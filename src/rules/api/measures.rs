//! Windows, order totals, decayed sums and hit counts: the measures rules compute tags from.

use rhai::{Dynamic, Engine, FLOAT, INT};

use super::{duration, event_type, fail, number, opt, Res, Shared, UserRef};
use crate::state::{vars, OrderStats, Var};

/// Scripts pass durations as INT ms (`days(14)`, parameters) or text (`"14d"`). Each function
/// is registered with the exact INT/FLOAT signature too: Rhai then finds it by its argument
/// types at once instead of searching `Dynamic` variants on every call (measured: function
/// resolution was the largest single cost of a rule call).
pub(super) fn register_windows(engine: &mut Engine, ctx: &Shared) {
    fn count(c: &Shared, kind: &str, from: i64, to: i64) -> Res<INT> {
        let ctx = c.borrow();
        Ok(ctx
            .user
            .windows
            .count_between(event_type(kind)?, ctx.now, from, to))
    }
    fn window_exit(c: &Shared, kind: &str, window: i64) -> Res<Dynamic> {
        let ctx = c.borrow();
        Ok(opt(ctx.user.windows.next_exit(
            event_type(kind)?,
            ctx.now,
            window,
        )))
    }
    fn count_below_at(c: &Shared, kind: &str, window: i64, n: i64) -> Res<Dynamic> {
        let ctx = c.borrow();
        Ok(opt(ctx.user.windows.count_below_at(
            event_type(kind)?,
            ctx.now,
            window,
            n,
        )))
    }
    fn paid_orders(c: &Shared, window: i64) -> OrderStats {
        let ctx = c.borrow();
        ctx.user.ledger.stats(ctx.now, window)
    }
    let c = ctx.clone();
    engine.register_fn("count", move |_: &mut UserRef, kind: &str, w: INT| {
        count(&c, kind, w, 0)
    });
    let c = ctx.clone();
    engine.register_fn("count", move |_: &mut UserRef, kind: &str, w: Dynamic| {
        count(&c, kind, duration(&w)?, 0)
    });
    // "Between 14 d and 7 d ago" excludes the newer edge, which belongs to the newer window.
    let c = ctx.clone();
    engine.register_fn(
        "count",
        move |_: &mut UserRef, kind: &str, from: INT, to: INT| count(&c, kind, from, to + 1),
    );
    let c = ctx.clone();
    engine.register_fn(
        "count",
        move |_: &mut UserRef, kind: &str, from: Dynamic, to: Dynamic| {
            count(&c, kind, duration(&from)?, duration(&to)? + 1)
        },
    );
    let c = ctx.clone();
    engine.register_fn("window_exit", move |_: &mut UserRef, kind: &str, w: INT| {
        window_exit(&c, kind, w)
    });
    let c = ctx.clone();
    engine.register_fn(
        "window_exit",
        move |_: &mut UserRef, kind: &str, w: Dynamic| window_exit(&c, kind, duration(&w)?),
    );
    // `user.count_below_at("chat", days(14), 6)`: when the count will fall below 6.
    let c = ctx.clone();
    engine.register_fn(
        "count_below_at",
        move |_: &mut UserRef, kind: &str, w: INT, n: INT| count_below_at(&c, kind, w, n),
    );
    let c = ctx.clone();
    engine.register_fn(
        "count_below_at",
        move |_: &mut UserRef, kind: &str, w: Dynamic, n: INT| {
            count_below_at(&c, kind, duration(&w)?, n)
        },
    );
    let c = ctx.clone();
    engine.register_fn("paid_orders", move |_: &mut UserRef, w: INT| {
        paid_orders(&c, w)
    });
    let c = ctx.clone();
    engine.register_fn(
        "paid_orders",
        move |_: &mut UserRef, w: Dynamic| -> Res<OrderStats> {
            Ok(paid_orders(&c, duration(&w)?))
        },
    );
}

/// Decayed sums and hit counts, with typed fast paths as in [`register_windows`].
pub(super) fn register_decay(engine: &mut Engine, ctx: &Shared) {
    fn decay_add(c: &Shared, name: &str, half_life: i64, w: f64) -> Res<FLOAT> {
        let mut ctx = c.borrow_mut();
        let key = ctx.var_key(name).or_else(fail)?;
        let now = ctx.now;
        let at = ctx.event.as_ref().map_or(now, |e| e.ts);
        let (value, anchor) = match ctx.user.var(key) {
            Some(Var::Decay { value, at: anchor }) if at >= *anchor => {
                (vars::decay(*value, *anchor, at, half_life) + w, at)
            }
            // A late event adds its weight as decayed to the newer anchor.
            Some(Var::Decay { value, at: anchor }) => {
                (value + vars::decay(w, at, *anchor, half_life), *anchor)
            }
            _ => (w, at),
        };
        ctx.user.set_var(key, Var::Decay { value, at: anchor });
        Ok(vars::decay(value, anchor, now, half_life))
    }
    fn decayed(c: &Shared, name: &str, half_life: i64) -> Res<FLOAT> {
        let mut ctx = c.borrow_mut();
        let key = ctx.var_key(name).or_else(fail)?;
        Ok(match ctx.user.var(key) {
            Some(Var::Decay { value, at }) => vars::decay(*value, *at, ctx.now, half_life),
            _ => 0.0,
        })
    }
    fn decay_below_at(c: &Shared, name: &str, half_life: i64, threshold: f64) -> Res<Dynamic> {
        let mut ctx = c.borrow_mut();
        let key = ctx.var_key(name).or_else(fail)?;
        let Some(Var::Decay { value, at }) = ctx.user.var(key).cloned() else {
            return Ok(Dynamic::UNIT);
        };
        if threshold <= 0.0 || half_life <= 0 {
            return Ok(Dynamic::UNIT);
        }
        if value < threshold {
            return Ok(Dynamic::from_int(at));
        }
        // First millisecond at which the decayed value is strictly below the threshold.
        let mut t = at + (half_life as f64 * (value / threshold).log2()).floor() as i64;
        while vars::decay(value, at, t, half_life) >= threshold {
            t += 1;
        }
        Ok(Dynamic::from_int(t))
    }
    fn record_hit(c: &Shared, name: &str, window: i64) -> Res<INT> {
        let mut ctx = c.borrow_mut();
        let key = ctx.var_key(name).or_else(fail)?;
        let now = ctx.now;
        let at = ctx.event.as_ref().map_or(now, |e| e.ts);
        let mut hits: Vec<i64> = match ctx.user.var(key) {
            Some(Var::Hits(h)) => h.iter().copied().filter(|t| *t >= now - window).collect(),
            _ => Vec::new(),
        };
        hits.push(at);
        hits.sort_unstable();
        let keep = hits.len().saturating_sub(64);
        hits.drain(..keep);
        let count = hits.iter().filter(|t| **t >= now - window).count() as INT;
        ctx.user.set_var(key, Var::Hits(hits.into_boxed_slice()));
        Ok(count)
    }
    let c = ctx.clone();
    engine.register_fn(
        "decay_add",
        move |_: &mut UserRef, name: &str, hl: INT, w: FLOAT| decay_add(&c, name, hl, w),
    );
    let c = ctx.clone();
    engine.register_fn(
        "decay_add",
        move |_: &mut UserRef, name: &str, hl: Dynamic, w: Dynamic| {
            decay_add(&c, name, duration(&hl)?, number(&w)?)
        },
    );
    let c = ctx.clone();
    engine.register_fn("decayed", move |_: &mut UserRef, name: &str, hl: INT| {
        decayed(&c, name, hl)
    });
    let c = ctx.clone();
    engine.register_fn(
        "decayed",
        move |_: &mut UserRef, name: &str, hl: Dynamic| decayed(&c, name, duration(&hl)?),
    );
    let c = ctx.clone();
    engine.register_fn(
        "decay_below_at",
        move |_: &mut UserRef, name: &str, hl: INT, t: FLOAT| decay_below_at(&c, name, hl, t),
    );
    let c = ctx.clone();
    engine.register_fn(
        "decay_below_at",
        move |_: &mut UserRef, name: &str, hl: Dynamic, t: Dynamic| {
            decay_below_at(&c, name, duration(&hl)?, number(&t)?)
        },
    );
    let c = ctx.clone();
    engine.register_fn("record_hit", move |_: &mut UserRef, name: &str, w: INT| {
        record_hit(&c, name, w)
    });
    let c = ctx.clone();
    engine.register_fn(
        "record_hit",
        move |_: &mut UserRef, name: &str, w: Dynamic| record_hit(&c, name, duration(&w)?),
    );
}
