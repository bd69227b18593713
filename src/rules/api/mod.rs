//! The script API operators write rules against. Everything here is native Rust acting on the
//! rule [`Ctx`]; scripts stay short and readable while the heavy lifting (windows, decay,
//! matching, grading) runs at native speed.
//!
//! Handlers receive `event` and `user` handles; times are epoch ms and durations ms (`days(7)`,
//! `hours(72)`, or `"7d"` wherever a duration is taken).

use std::cell::RefCell;
use std::rc::Rc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map, FLOAT, INT};

use super::Ctx;
use crate::config::duration::{parse_duration_ms, DAY_MS, HOUR_MS, MINUTE_MS};
use crate::decode::EventType;
use crate::state::{OrderStats, Var, NEVER_SEEN};

type Shared = Rc<RefCell<Ctx>>;
type Res<T> = Result<T, Box<EvalAltResult>>;

/// The `user` handle: reads and changes the current user through the context.
#[derive(Debug, Clone, Copy)]
pub struct UserRef;

/// The `event` handle.
#[derive(Debug, Clone, Copy)]
pub struct EventRef;

/// A keyword tag matched by a chat text.
#[derive(Debug, Clone)]
pub struct KeywordHit {
    pub tag: ImmutableString,
    pub word: ImmutableString,
    pub hits: INT,
    pub within: INT,
    pub ttl: Dynamic,
}

pub(in crate::rules) fn fail<T>(message: impl Into<String>) -> Res<T> {
    Err(message.into().into())
}

fn event_type(name: &str) -> Result<EventType, String> {
    EventType::parse(name).ok_or_else(|| format!("unknown event type {name:?}"))
}

/// A duration argument: ms as a number, or text such as `"7d"`.
pub(in crate::rules) fn duration(value: &Dynamic) -> Res<i64> {
    if let Ok(ms) = value.as_int() {
        return Ok(ms);
    }
    if let Ok(ms) = value.as_float() {
        return Ok(ms as i64);
    }
    if let Some(text) = value.read_lock::<ImmutableString>() {
        if let Some(ms) = parse_duration_ms(&text) {
            return Ok(ms);
        }
    }
    fail(format!(
        "{value} is not a duration (ms, or text like \"7d\")"
    ))
}

pub(in crate::rules) fn number(value: &Dynamic) -> Res<f64> {
    value
        .as_float()
        .or_else(|_| value.as_int().map(|i| i as f64))
        .or_else(|t| fail(format!("expected a number, got {t}")))
}

fn opt(value: Option<i64>) -> Dynamic {
    value.map_or(Dynamic::UNIT, Dynamic::from_int)
}

/// `tag(name, #{ score, reason, ttl })`.
pub(in crate::rules) fn tag_with_options(ctx: &mut Ctx, name: &str, opts: &Map) -> Res<()> {
    let mut score = None;
    let mut reason = String::new();
    let mut ttl = None;
    for (key, value) in opts {
        match key.as_str() {
            "score" => score = Some(number(value)?),
            "reason" => reason = value.to_string(),
            "ttl" if !value.is_unit() => ttl = Some(duration(value)?),
            "ttl" => {}
            other => {
                return fail(format!(
                    "tag(): unknown option `{other}` (score, reason, ttl)"
                ))
            }
        }
    }
    ctx.add_tag(name, score, reason, ttl).or_else(fail)
}

/// The held tag of `group` as a script string, `""` when none.
pub(in crate::rules) fn tag_in(ctx: &Ctx, group: &str) -> Result<ImmutableString, String> {
    Ok(ctx
        .tag_in(group)?
        .map_or_else(|| ctx.empty.clone(), |t| ctx.tag_names[t as usize].clone()))
}

/// `user.first_seen(kind)` (`first`) or `user.last_seen(kind)`; none for a type never seen.
pub(in crate::rules) fn seen_by_type(
    ctx: &Ctx,
    kind: &str,
    first: bool,
) -> Result<Option<i64>, String> {
    let kind = event_type(kind)?.index();
    let t = if first {
        ctx.user.first_by_type[kind]
    } else {
        ctx.user.last_by_type[kind]
    };
    Ok((t != NEVER_SEEN).then_some(t))
}

/// Paid orders of all time: how many, and the latest.
pub(in crate::rules) fn paid_orders_all_time(ctx: &Ctx) -> OrderStats {
    let (count, last) = ctx.user.ledger.all_time(ctx.now);
    OrderStats {
        count,
        last,
        ..OrderStats::default()
    }
}

/// Arms the rule's timer at the earliest of `times` still ahead, or cancels it when none is.
pub(in crate::rules) fn wake_at_earliest(
    ctx: &mut Ctx,
    times: impl IntoIterator<Item = i64>,
) -> Result<(), String> {
    let now = ctx.now;
    match times.into_iter().filter(|t| *t > now).min() {
        Some(t) => ctx.wake_at(t),
        None => {
            ctx.cancel_wake();
            Ok(())
        }
    }
}

/// A value a rule may keep in `user.set`.
pub(in crate::rules) fn var_from(name: &str, value: &Dynamic) -> Res<Var> {
    if let Ok(i) = value.as_int() {
        Ok(Var::Int(i))
    } else if let Ok(f) = value.as_float() {
        Ok(Var::Float(f))
    } else if let Ok(b) = value.as_bool() {
        Ok(Var::Bool(b))
    } else if let Some(s) = value.read_lock::<ImmutableString>() {
        Ok(Var::Str(s.as_str().into()))
    } else {
        fail(format!(
            "user.set(): `{name}` must be a number, bool or string, not {}",
            value.type_name()
        ))
    }
}

pub fn register(engine: &mut Engine, ctx: &Shared) {
    register_tags(engine, ctx);
    register_time(engine, ctx);
    register_user(engine, ctx);
    register_vars(engine, ctx);
    event::register_event(engine, ctx);
    event::register_matching(engine, ctx);
    event::register_grading(engine);
}

fn register_tags(engine: &mut Engine, ctx: &Shared) {
    let c = ctx.clone();
    engine.register_fn("tag", move |name: &str| -> Res<()> {
        c.borrow_mut()
            .add_tag(name, None, String::new(), None)
            .or_else(fail)
    });
    let c = ctx.clone();
    engine.register_fn("tag", move |name: &str, reason: &str| -> Res<()> {
        c.borrow_mut()
            .add_tag(name, None, reason.to_string(), None)
            .or_else(fail)
    });
    let c = ctx.clone();
    engine.register_fn("tag", move |name: &str, opts: Map| -> Res<()> {
        tag_with_options(&mut c.borrow_mut(), name, &opts)
    });
    let c = ctx.clone();
    engine.register_fn("untag", move |name: &str| -> Res<()> {
        c.borrow_mut().untag(name, String::new()).or_else(fail)
    });
    let c = ctx.clone();
    engine.register_fn("untag", move |name: &str, reason: &str| -> Res<()> {
        c.borrow_mut().untag(name, reason.to_string()).or_else(fail)
    });
    let c = ctx.clone();
    engine.register_fn("untag_group", move |group: &str, reason: &str| -> Res<()> {
        c.borrow_mut().untag_group(group, reason).or_else(fail)
    });
}

fn register_time(engine: &mut Engine, ctx: &Shared) {
    let c = ctx.clone();
    engine.register_fn("now", move || -> INT { c.borrow().now });
    for (name, unit) in [("days", DAY_MS), ("hours", HOUR_MS), ("minutes", MINUTE_MS)] {
        // Past the largest time is an error, not a time wrapped round to some other.
        engine.register_fn(name, move |n: INT| -> Res<INT> {
            n.checked_mul(unit)
                .map_or_else(|| fail(format!("{name}({n}) is past the largest time")), Ok)
        });
        engine.register_fn(name, move |n: FLOAT| -> INT { (n * unit as f64) as INT });
    }
    engine.register_fn("duration", |text: &str| -> Res<INT> {
        parse_duration_ms(text).map_or_else(|| fail(format!("{text:?} is not a duration")), Ok)
    });
    engine.register_fn("as_days", |ms: INT| -> FLOAT { ms as f64 / DAY_MS as f64 });
    engine.register_fn("round_to", |x: FLOAT, digits: INT| -> FLOAT {
        let scale = 10f64.powi(digits.clamp(0, 12) as i32);
        (x * scale).round() / scale
    });
}

fn register_user(engine: &mut Engine, ctx: &Shared) {
    engine.register_type_with_name::<UserRef>("User");
    let c = ctx.clone();
    engine.register_get("id", move |_: &mut UserRef| -> ImmutableString {
        c.borrow().user_id.as_str().into()
    });
    let c = ctx.clone();
    engine.register_get("events", move |_: &mut UserRef| -> INT {
        INT::from(c.borrow().user.events)
    });
    let c = ctx.clone();
    engine.register_get("first_seen", move |_: &mut UserRef| -> INT {
        c.borrow().user.first_seen()
    });
    let c = ctx.clone();
    engine.register_get("last_seen", move |_: &mut UserRef| -> INT {
        c.borrow().user.last_seen()
    });
    let c = ctx.clone();
    engine.register_fn(
        "first_seen",
        move |_: &mut UserRef, kind: &str| -> Res<Dynamic> {
            seen_by_type(&c.borrow(), kind, true).map(opt).or_else(fail)
        },
    );
    let c = ctx.clone();
    engine.register_fn(
        "last_seen",
        move |_: &mut UserRef, kind: &str| -> Res<Dynamic> {
            seen_by_type(&c.borrow(), kind, false)
                .map(opt)
                .or_else(fail)
        },
    );
    let c = ctx.clone();
    engine.register_fn("since_last", move |_: &mut UserRef| -> INT {
        let ctx = c.borrow();
        ctx.now - ctx.user.last_seen()
    });
    let c = ctx.clone();
    engine.register_fn("age", move |_: &mut UserRef| -> INT {
        let ctx = c.borrow();
        ctx.now - ctx.user.first_seen()
    });
    measures::register_windows(engine, ctx);
    let c = ctx.clone();
    engine.register_fn("paid_orders", move |_: &mut UserRef| -> OrderStats {
        paid_orders_all_time(&c.borrow())
    });
    let c = ctx.clone();
    engine.register_fn("has", move |_: &mut UserRef, name: &str| -> Res<bool> {
        let ctx = c.borrow();
        Ok(ctx.has_tag(ctx.tag_id(name).or_else(fail)?))
    });
    let c = ctx.clone();
    engine.register_fn(
        "tag_in",
        move |_: &mut UserRef, group: &str| -> Res<ImmutableString> {
            tag_in(&c.borrow(), group).or_else(fail)
        },
    );
    let c = ctx.clone();
    engine.register_get("tags", move |_: &mut UserRef| -> Array {
        let ctx = c.borrow();
        ctx.user
            .tags
            .iter()
            .map(|s| Dynamic::from(ctx.tag_names[s.tag as usize].clone()))
            .collect()
    });
    let c = ctx.clone();
    engine.register_fn("wake_at", move |_: &mut UserRef, at: INT| -> Res<()> {
        c.borrow_mut().wake_at(at).or_else(fail)
    });
    let c = ctx.clone();
    engine.register_fn(
        "wake_in",
        move |_: &mut UserRef, after: Dynamic| -> Res<()> {
            let after = duration(&after)?;
            let mut ctx = c.borrow_mut();
            let at = ctx.now.saturating_add(after);
            ctx.wake_at(at).or_else(fail)
        },
    );
    let c = ctx.clone();
    engine.register_fn(
        "wake_at_earliest",
        move |_: &mut UserRef, times: Array| -> Res<()> {
            let mut at = Vec::with_capacity(times.len());
            for t in times.iter().filter(|t| !t.is_unit()) {
                at.push(
                    t.as_int()
                        .or_else(|t| fail(format!("wake_at_earliest: expected times, got {t}")))?,
                );
            }
            wake_at_earliest(&mut c.borrow_mut(), at).or_else(fail)
        },
    );
    let c = ctx.clone();
    engine.register_fn("wake_in", move |_: &mut UserRef, after: INT| -> Res<()> {
        let mut ctx = c.borrow_mut();
        let at = ctx.now.saturating_add(after);
        ctx.wake_at(at).or_else(fail)
    });
    let c = ctx.clone();
    engine.register_fn("cancel_wake", move |_: &mut UserRef| {
        c.borrow_mut().cancel_wake()
    });

    engine.register_type_with_name::<OrderStats>("OrderStats");
    engine.register_get("count", |s: &mut OrderStats| -> INT { s.count });
    engine.register_get("amount", |s: &mut OrderStats| -> FLOAT { s.amount });
    engine.register_get("promo", |s: &mut OrderStats| -> INT { s.promo });
    engine.register_get("promo_share", |s: &mut OrderStats| -> FLOAT {
        s.promo_share()
    });
    engine.register_get("average", |s: &mut OrderStats| -> FLOAT { s.average() });
    engine.register_get("last", |s: &mut OrderStats| -> Dynamic { opt(s.last) });
    engine.register_get("first", |s: &mut OrderStats| -> Dynamic { opt(s.first) });
}

pub(in crate::rules) fn var_to_dynamic(var: &Var) -> Dynamic {
    match var {
        Var::Int(i) => Dynamic::from_int(*i),
        Var::Float(f) => Dynamic::from_float(*f),
        Var::Bool(b) => Dynamic::from_bool(*b),
        Var::Str(s) => Dynamic::from(ImmutableString::from(s.as_ref())),
        Var::Decay { value, .. } => Dynamic::from_float(*value),
        Var::Hits(h) => Dynamic::from_int(h.len() as INT),
    }
}

fn register_vars(engine: &mut Engine, ctx: &Shared) {
    let c = ctx.clone();
    engine.register_fn("get", move |_: &mut UserRef, name: &str| -> Res<Dynamic> {
        let mut ctx = c.borrow_mut();
        let key = ctx.var_key(name).or_else(fail)?;
        Ok(ctx.user.var(key).map_or(Dynamic::UNIT, var_to_dynamic))
    });
    let c = ctx.clone();
    engine.register_fn(
        "set",
        move |_: &mut UserRef, name: &str, value: Dynamic| -> Res<()> {
            let var = var_from(name, &value)?;
            let mut ctx = c.borrow_mut();
            let key = ctx.var_key(name).or_else(fail)?;
            ctx.set_var(key, var).or_else(fail)
        },
    );
    let c = ctx.clone();
    engine.register_fn("unset", move |_: &mut UserRef, name: &str| -> Res<()> {
        let mut ctx = c.borrow_mut();
        let key = ctx.var_key(name).or_else(fail)?;
        ctx.remove_var(key);
        Ok(())
    });
    measures::register_decay(engine, ctx);
}

mod event;
mod measures;

pub(in crate::rules) use event::{grade, keyword_hits, ARRAY_ITEMS, EVENT_FIELDS};
pub(in crate::rules) use measures::{
    count, count_below_at, count_between, decay_add, decay_below_at, decayed, paid_orders,
    record_hit, window_exit,
};
