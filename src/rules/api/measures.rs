//! Windows, order totals, decayed sums and hit counts: the measures rules compute tags from.

use rhai::{Dynamic, Engine, FLOAT, INT};

use super::{duration, event_type, fail, number, opt, Res, Shared, UserRef};
use crate::rules::Ctx;
use crate::state::{vars, OrderStats, Var};

/// Events of `kind` from `from` ms ago up to `to` ms ago (`to` excluded).
pub(in crate::rules) fn count(ctx: &Ctx, kind: &str, from: i64, to: i64) -> Result<INT, String> {
    Ok(ctx
        .user
        .windows
        .count_between(event_type(kind)?, ctx.now, from, to))
}

/// `user.count(kind, from, to)`: events between `from` and `to` ms ago. The newer edge
/// belongs to the newer window, so it is excluded here.
pub(in crate::rules) fn count_between(
    ctx: &Ctx,
    kind: &str,
    from: i64,
    to: i64,
) -> Result<INT, String> {
    count(ctx, kind, from, to.saturating_add(1))
}

pub(in crate::rules) fn window_exit(
    ctx: &Ctx,
    kind: &str,
    window: i64,
) -> Result<Option<i64>, String> {
    Ok(ctx
        .user
        .windows
        .next_exit(event_type(kind)?, ctx.now, window))
}

pub(in crate::rules) fn count_below_at(
    ctx: &Ctx,
    kind: &str,
    window: i64,
    n: i64,
) -> Result<Option<i64>, String> {
    Ok(ctx
        .user
        .windows
        .count_below_at(event_type(kind)?, ctx.now, window, n))
}

pub(in crate::rules) fn paid_orders(ctx: &Ctx, window: i64) -> OrderStats {
    ctx.user.ledger.stats(ctx.now, window)
}

/// Scripts pass durations as INT ms (`days(14)`, parameters) or text (`"14d"`). Each function
/// is registered with the exact INT/FLOAT signature too: Rhai then finds it by its argument
/// types at once instead of searching `Dynamic` variants on every call (measured: function
/// resolution was the largest single cost of a rule call).
pub(super) fn register_windows(engine: &mut Engine, ctx: &Shared) {
    fn count_(c: &Shared, kind: &str, w: i64) -> Res<INT> {
        count(&c.borrow(), kind, w, 0).or_else(fail)
    }
    fn count_between_(c: &Shared, kind: &str, from: i64, to: i64) -> Res<INT> {
        count_between(&c.borrow(), kind, from, to).or_else(fail)
    }
    fn window_exit_(c: &Shared, kind: &str, window: i64) -> Res<Dynamic> {
        window_exit(&c.borrow(), kind, window)
            .map(opt)
            .or_else(fail)
    }
    fn count_below_at_(c: &Shared, kind: &str, window: i64, n: i64) -> Res<Dynamic> {
        count_below_at(&c.borrow(), kind, window, n)
            .map(opt)
            .or_else(fail)
    }
    fn paid_orders_(c: &Shared, window: i64) -> OrderStats {
        paid_orders(&c.borrow(), window)
    }
    let c = ctx.clone();
    engine.register_fn("count", move |_: &mut UserRef, kind: &str, w: INT| {
        count_(&c, kind, w)
    });
    let c = ctx.clone();
    engine.register_fn("count", move |_: &mut UserRef, kind: &str, w: Dynamic| {
        count_(&c, kind, duration(&w)?)
    });
    let c = ctx.clone();
    engine.register_fn(
        "count",
        move |_: &mut UserRef, kind: &str, from: INT, to: INT| count_between_(&c, kind, from, to),
    );
    let c = ctx.clone();
    engine.register_fn(
        "count",
        move |_: &mut UserRef, kind: &str, from: Dynamic, to: Dynamic| {
            count_between_(&c, kind, duration(&from)?, duration(&to)?)
        },
    );
    let c = ctx.clone();
    engine.register_fn("window_exit", move |_: &mut UserRef, kind: &str, w: INT| {
        window_exit_(&c, kind, w)
    });
    let c = ctx.clone();
    engine.register_fn(
        "window_exit",
        move |_: &mut UserRef, kind: &str, w: Dynamic| window_exit_(&c, kind, duration(&w)?),
    );
    // `user.count_below_at("chat", days(14), 6)`: when the count will fall below 6.
    let c = ctx.clone();
    engine.register_fn(
        "count_below_at",
        move |_: &mut UserRef, kind: &str, w: INT, n: INT| count_below_at_(&c, kind, w, n),
    );
    let c = ctx.clone();
    engine.register_fn(
        "count_below_at",
        move |_: &mut UserRef, kind: &str, w: Dynamic, n: INT| {
            count_below_at_(&c, kind, duration(&w)?, n)
        },
    );
    let c = ctx.clone();
    engine.register_fn("paid_orders", move |_: &mut UserRef, w: INT| {
        paid_orders_(&c, w)
    });
    let c = ctx.clone();
    engine.register_fn(
        "paid_orders",
        move |_: &mut UserRef, w: Dynamic| -> Res<OrderStats> {
            Ok(paid_orders_(&c, duration(&w)?))
        },
    );
}

/// Adds `w` to the decayed sum `name` at the event's time; the sum as of now.
pub(in crate::rules) fn decay_add(
    ctx: &mut Ctx,
    name: &str,
    half_life: i64,
    w: f64,
) -> Result<FLOAT, String> {
    let key = ctx.var_key(name)?;
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
    ctx.set_var(key, Var::Decay { value, at: anchor })?;
    Ok(vars::decay(value, anchor, now, half_life))
}

/// The decayed sum `name` as of now.
pub(in crate::rules) fn decayed(
    ctx: &mut Ctx,
    name: &str,
    half_life: i64,
) -> Result<FLOAT, String> {
    let key = ctx.var_key(name)?;
    Ok(match ctx.user.var(key) {
        Some(Var::Decay { value, at }) => vars::decay(*value, *at, ctx.now, half_life),
        _ => 0.0,
    })
}

/// The first millisecond at which the decayed sum `name` is below `threshold`.
pub(in crate::rules) fn decay_below_at(
    ctx: &mut Ctx,
    name: &str,
    half_life: i64,
    threshold: f64,
) -> Result<Option<i64>, String> {
    let key = ctx.var_key(name)?;
    let Some(Var::Decay { value, at }) = ctx.user.var(key).cloned() else {
        return Ok(None);
    };
    if threshold <= 0.0 || half_life <= 0 {
        return Ok(None);
    }
    if value < threshold {
        return Ok(Some(at));
    }
    // First millisecond at which the decayed value is strictly below the threshold.
    let mut t = at + (half_life as f64 * (value / threshold).log2()).floor() as i64;
    while vars::decay(value, at, t, half_life) >= threshold {
        t += 1;
    }
    Ok(Some(t))
}

/// Records a hit at the event's time; the hits within `window` of now.
pub(in crate::rules) fn record_hit(ctx: &mut Ctx, name: &str, window: i64) -> Result<INT, String> {
    let key = ctx.var_key(name)?;
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
    ctx.set_var(key, Var::Hits(hits.into_boxed_slice()))?;
    Ok(count)
}

/// Decayed sums and hit counts, with typed fast paths as in [`register_windows`].
pub(super) fn register_decay(engine: &mut Engine, ctx: &Shared) {
    let c = ctx.clone();
    engine.register_fn(
        "decay_add",
        move |_: &mut UserRef, name: &str, hl: INT, w: FLOAT| {
            decay_add(&mut c.borrow_mut(), name, hl, w).or_else(fail)
        },
    );
    let c = ctx.clone();
    engine.register_fn(
        "decay_add",
        move |_: &mut UserRef, name: &str, hl: Dynamic, w: Dynamic| {
            decay_add(&mut c.borrow_mut(), name, duration(&hl)?, number(&w)?).or_else(fail)
        },
    );
    let c = ctx.clone();
    engine.register_fn("decayed", move |_: &mut UserRef, name: &str, hl: INT| {
        decayed(&mut c.borrow_mut(), name, hl).or_else(fail)
    });
    let c = ctx.clone();
    engine.register_fn(
        "decayed",
        move |_: &mut UserRef, name: &str, hl: Dynamic| {
            decayed(&mut c.borrow_mut(), name, duration(&hl)?).or_else(fail)
        },
    );
    let c = ctx.clone();
    engine.register_fn(
        "decay_below_at",
        move |_: &mut UserRef, name: &str, hl: INT, t: FLOAT| {
            decay_below_at(&mut c.borrow_mut(), name, hl, t)
                .map(opt)
                .or_else(fail)
        },
    );
    let c = ctx.clone();
    engine.register_fn(
        "decay_below_at",
        move |_: &mut UserRef, name: &str, hl: Dynamic, t: Dynamic| {
            decay_below_at(&mut c.borrow_mut(), name, duration(&hl)?, number(&t)?)
                .map(opt)
                .or_else(fail)
        },
    );
    let c = ctx.clone();
    engine.register_fn("record_hit", move |_: &mut UserRef, name: &str, w: INT| {
        record_hit(&mut c.borrow_mut(), name, w).or_else(fail)
    });
    let c = ctx.clone();
    engine.register_fn(
        "record_hit",
        move |_: &mut UserRef, name: &str, w: Dynamic| {
            record_hit(&mut c.borrow_mut(), name, duration(&w)?).or_else(fail)
        },
    );
}
