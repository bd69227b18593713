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
use crate::decode::{Body, EventType, OrderStatus};
use crate::state::{vars, OrderStats, Var};

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

fn fail<T>(message: impl Into<String>) -> Res<T> {
    Err(message.into().into())
}

fn event_type(name: &str) -> Res<EventType> {
    EventType::parse(name).map_or_else(|| fail(format!("unknown event type {name:?}")), Ok)
}

/// A duration argument: ms as a number, or text such as `"7d"`.
fn duration(value: &Dynamic) -> Res<i64> {
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

fn number(value: &Dynamic) -> Res<f64> {
    value
        .as_float()
        .or_else(|_| value.as_int().map(|i| i as f64))
        .or_else(|t| fail(format!("expected a number, got {t}")))
}

fn opt(value: Option<i64>) -> Dynamic {
    value.map_or(Dynamic::UNIT, Dynamic::from_int)
}

pub fn register(engine: &mut Engine, ctx: &Shared) {
    register_tags(engine, ctx);
    register_time(engine, ctx);
    register_user(engine, ctx);
    register_vars(engine, ctx);
    register_event(engine, ctx);
    register_matching(engine, ctx);
    register_grading(engine);
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
        let mut score = None;
        let mut reason = String::new();
        let mut ttl = None;
        for (key, value) in &opts {
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
        c.borrow_mut()
            .add_tag(name, score, reason, ttl)
            .or_else(fail)
    });
    let c = ctx.clone();
    engine.register_fn("untag", move |name: &str| -> Res<()> {
        let mut ctx = c.borrow_mut();
        let tag = ctx.tag_id(name).or_else(fail)?;
        ctx.remove_tag(tag, String::new());
        Ok(())
    });
    let c = ctx.clone();
    engine.register_fn("untag", move |name: &str, reason: &str| -> Res<()> {
        let mut ctx = c.borrow_mut();
        let tag = ctx.tag_id(name).or_else(fail)?;
        ctx.remove_tag(tag, reason.to_string());
        Ok(())
    });
    let c = ctx.clone();
    engine.register_fn("untag_group", move |group: &str, reason: &str| -> Res<()> {
        let mut ctx = c.borrow_mut();
        for tag in ctx.group_members(group).or_else(fail)? {
            ctx.remove_tag(tag, reason.to_string());
        }
        Ok(())
    });
}

fn register_time(engine: &mut Engine, ctx: &Shared) {
    let c = ctx.clone();
    engine.register_fn("now", move || -> INT { c.borrow().now });
    for (name, unit) in [("days", DAY_MS), ("hours", HOUR_MS), ("minutes", MINUTE_MS)] {
        engine.register_fn(name, move |n: INT| -> INT { n * unit });
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
        c.borrow().user_id.as_ref().into()
    });
    let c = ctx.clone();
    engine.register_get("events", move |_: &mut UserRef| -> INT {
        INT::from(c.borrow().user.events)
    });
    let c = ctx.clone();
    engine.register_get("first_seen", move |_: &mut UserRef| -> INT {
        c.borrow().user.first_seen
    });
    let c = ctx.clone();
    engine.register_get("last_seen", move |_: &mut UserRef| -> INT {
        c.borrow().user.last_seen
    });
    let c = ctx.clone();
    engine.register_fn(
        "first_seen",
        move |_: &mut UserRef, kind: &str| -> Res<Dynamic> {
            let t = c.borrow().user.first_by_type[event_type(kind)?.index()];
            Ok(opt((t != 0).then_some(t)))
        },
    );
    let c = ctx.clone();
    engine.register_fn(
        "last_seen",
        move |_: &mut UserRef, kind: &str| -> Res<Dynamic> {
            let t = c.borrow().user.last_by_type[event_type(kind)?.index()];
            Ok(opt((t != 0).then_some(t)))
        },
    );
    let c = ctx.clone();
    engine.register_fn("since_last", move |_: &mut UserRef| -> INT {
        let ctx = c.borrow();
        ctx.now - ctx.user.last_seen
    });
    let c = ctx.clone();
    engine.register_fn("age", move |_: &mut UserRef| -> INT {
        let ctx = c.borrow();
        ctx.now - ctx.user.first_seen
    });
    register_windows(engine, ctx);
    let c = ctx.clone();
    engine.register_fn("paid_orders", move |_: &mut UserRef| -> OrderStats {
        let ctx = c.borrow();
        let (count, last) = ctx.user.ledger.all_time(ctx.now);
        OrderStats {
            count,
            last,
            ..OrderStats::default()
        }
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
            let ctx = c.borrow();
            Ok(ctx
                .tag_in(group)
                .or_else(fail)?
                .map_or_else(ImmutableString::new, |t| ctx.tag_names[t as usize].clone()))
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
    engine.register_fn("wake_at", move |_: &mut UserRef, at: INT| {
        c.borrow_mut().wake_at(at)
    });
    let c = ctx.clone();
    engine.register_fn(
        "wake_in",
        move |_: &mut UserRef, after: Dynamic| -> Res<()> {
            let after = duration(&after)?;
            let mut ctx = c.borrow_mut();
            let at = ctx.now.saturating_add(after);
            ctx.wake_at(at);
            Ok(())
        },
    );
    let c = ctx.clone();
    engine.register_fn(
        "wake_at_earliest",
        move |_: &mut UserRef, times: Array| -> Res<()> {
            let mut ctx = c.borrow_mut();
            let now = ctx.now;
            let mut earliest = None;
            for t in &times {
                if t.is_unit() {
                    continue;
                }
                let t = t
                    .as_int()
                    .or_else(|t| fail(format!("wake_at_earliest: expected times, got {t}")))?;
                if t > now {
                    earliest = Some(earliest.map_or(t, |e: i64| e.min(t)));
                }
            }
            match earliest {
                Some(t) => ctx.wake_at(t),
                None => ctx.cancel_wake(),
            }
            Ok(())
        },
    );
    let c = ctx.clone();
    engine.register_fn("wake_in", move |_: &mut UserRef, after: INT| {
        let mut ctx = c.borrow_mut();
        let at = ctx.now.saturating_add(after);
        ctx.wake_at(at);
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
        if s.count == 0 {
            0.0
        } else {
            s.promo as f64 / s.count as f64
        }
    });
    engine.register_get("average", |s: &mut OrderStats| -> FLOAT {
        if s.count == 0 {
            0.0
        } else {
            s.amount / s.count as f64
        }
    });
    engine.register_get("last", |s: &mut OrderStats| -> Dynamic { opt(s.last) });
    engine.register_get("first", |s: &mut OrderStats| -> Dynamic { opt(s.first) });
}

fn var_to_dynamic(var: &Var) -> Dynamic {
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
            let var = if let Ok(i) = value.as_int() {
                Var::Int(i)
            } else if let Ok(f) = value.as_float() {
                Var::Float(f)
            } else if let Ok(b) = value.as_bool() {
                Var::Bool(b)
            } else if let Some(s) = value.read_lock::<ImmutableString>() {
                Var::Str(s.as_str().into())
            } else {
                return fail(format!(
                    "user.set(): `{name}` must be a number, bool or string, not {}",
                    value.type_name()
                ));
            };
            let mut ctx = c.borrow_mut();
            let key = ctx.var_key(name).or_else(fail)?;
            ctx.user.set_var(key, var);
            Ok(())
        },
    );
    let c = ctx.clone();
    engine.register_fn("unset", move |_: &mut UserRef, name: &str| -> Res<()> {
        let mut ctx = c.borrow_mut();
        let key = ctx.var_key(name).or_else(fail)?;
        ctx.user.remove_var(key);
        Ok(())
    });
    register_decay(engine, ctx);
}

/// Scripts pass durations as INT ms (`days(14)`, parameters) or text (`"14d"`). Each function
/// is registered with the exact INT/FLOAT signature too: Rhai then finds it by its argument
/// types at once instead of searching `Dynamic` variants on every call (measured: function
/// resolution was the largest single cost of a rule call).
fn register_windows(engine: &mut Engine, ctx: &Shared) {
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
fn register_decay(engine: &mut Engine, ctx: &Shared) {
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

fn register_event(engine: &mut Engine, ctx: &Shared) {
    engine.register_type_with_name::<EventRef>("Event");
    fn get(c: &Shared, f: impl Fn(&crate::decode::Event) -> Dynamic) -> Dynamic {
        c.borrow().event.as_ref().map_or(Dynamic::UNIT, f)
    }
    fn text(s: &str) -> Dynamic {
        Dynamic::from(ImmutableString::from(s))
    }
    fn opt_text(s: &Option<String>) -> Dynamic {
        s.as_deref().map_or(Dynamic::UNIT, text)
    }
    let fields: [(&str, fn(&crate::decode::Event) -> Dynamic); 14] = [
        ("user_id", |e| text(&e.user_id)),
        ("ts", |e| Dynamic::from_int(e.ts)),
        ("id", |e| text(&e.event_id)),
        ("text", |e| match &e.body {
            Body::Chat { text: t, .. } => text(t),
            _ => Dynamic::UNIT,
        }),
        ("room_id", |e| match &e.body {
            Body::Chat { room_id, .. } => opt_text(room_id),
            _ => Dynamic::UNIT,
        }),
        ("staff_id", |e| match &e.body {
            Body::Chat { staff_id, .. } => opt_text(staff_id),
            _ => Dynamic::UNIT,
        }),
        ("target", |e| match &e.body {
            Body::Click { target, .. } => text(target),
            _ => Dynamic::UNIT,
        }),
        ("channel", |e| match &e.body {
            Body::Click { channel, .. } => opt_text(channel),
            _ => Dynamic::UNIT,
        }),
        ("order_id", |e| match &e.body {
            Body::Order { order_id, .. } => text(order_id),
            _ => Dynamic::UNIT,
        }),
        ("amount", |e| match &e.body {
            Body::Order { amount, .. } => Dynamic::from_float(*amount),
            _ => Dynamic::UNIT,
        }),
        ("status", |e| match &e.body {
            Body::Order { status, .. } => text(if *status == OrderStatus::Paid {
                "paid"
            } else {
                "refunded"
            }),
            _ => Dynamic::UNIT,
        }),
        ("paid", |e| {
            Dynamic::from_bool(matches!(
                e.body,
                Body::Order {
                    status: OrderStatus::Paid,
                    ..
                }
            ))
        }),
        ("promo", |e| match &e.body {
            Body::Order { promo, .. } => Dynamic::from_bool(*promo),
            _ => Dynamic::UNIT,
        }),
        ("category", |e| match &e.body {
            Body::Order { category, .. } => opt_text(category),
            _ => Dynamic::UNIT,
        }),
    ];
    let c = ctx.clone();
    engine.register_get("type", move |_: &mut EventRef| -> Dynamic {
        let ctx = c.borrow();
        ctx.event.as_ref().map_or(Dynamic::UNIT, |e| {
            Dynamic::from(ctx.type_names[e.event_type().index()].clone())
        })
    });
    for (name, read) in fields {
        let c = ctx.clone();
        engine.register_get(name, move |_: &mut EventRef| get(&c, read));
    }
    let c = ctx.clone();
    engine.register_get("fields", move |_: &mut EventRef| -> Dynamic {
        get(&c, |e| match &e.fields {
            Some(map) => rhai::serde::to_dynamic(map.as_ref()).unwrap_or(Dynamic::UNIT),
            None => Dynamic::from_map(Map::new()),
        })
    });
}

fn register_matching(engine: &mut Engine, ctx: &Shared) {
    engine.register_type_with_name::<KeywordHit>("KeywordHit");
    engine.register_get("tag", |k: &mut KeywordHit| k.tag.clone());
    engine.register_get("word", |k: &mut KeywordHit| k.word.clone());
    engine.register_get("hits", |k: &mut KeywordHit| k.hits);
    engine.register_get("within", |k: &mut KeywordHit| k.within);
    engine.register_get("ttl", |k: &mut KeywordHit| k.ttl.clone());
    let c = ctx.clone();
    engine.register_fn("keyword_hits", move |_: &mut EventRef| -> Array {
        let ctx = c.borrow();
        let Some(Body::Chat { text, .. }) = ctx.event.as_ref().map(|e| &e.body) else {
            return Array::new();
        };
        let set = &ctx.params.keywords;
        set.matches(text)
            .into_iter()
            .map(|(i, word)| {
                let spec = &set.specs[i];
                Dynamic::from(KeywordHit {
                    tag: spec.tag.as_str().into(),
                    word: word.into(),
                    hits: spec.hits,
                    within: spec.within_ms,
                    ttl: opt(spec.ttl_ms),
                })
            })
            .collect()
    });
    let c = ctx.clone();
    engine.register_fn("matches", move |text: &str, pattern: &str| -> Res<bool> {
        Ok(c.borrow_mut().regex(pattern).or_else(fail)?.is_match(text))
    });
    engine.register_fn("contains_any", |text: &str, words: Array| -> bool {
        let lower = text.to_lowercase();
        words.iter().any(|w| {
            w.read_lock::<ImmutableString>()
                .is_some_and(|w| lower.contains(&w.to_lowercase()))
        })
    });
}

/// `grade_at_least(x, [t5, t4, t3, t2])`: 5 when x ≥ t5, … 2 when x ≥ t2, else 1.
/// `grade_at_most(x, [t5, t4, t3, t2])`: 5 when x ≤ t5, … 2 when x ≤ t2, else 1.
fn grade(x: f64, thresholds: &Array, at_least: bool) -> Res<INT> {
    let top = thresholds.len() as INT + 1;
    for (i, t) in thresholds.iter().enumerate() {
        let t = number(t)?;
        if (at_least && x >= t) || (!at_least && x <= t) {
            return Ok(top - i as INT);
        }
    }
    Ok(1)
}

fn register_grading(engine: &mut Engine) {
    engine.register_fn("grade_at_least", |x: INT, t: Array| {
        grade(x as f64, &t, true)
    });
    engine.register_fn("grade_at_least", |x: FLOAT, t: Array| grade(x, &t, true));
    engine.register_fn("grade_at_most", |x: INT, t: Array| {
        grade(x as f64, &t, false)
    });
    engine.register_fn("grade_at_most", |x: FLOAT, t: Array| grade(x, &t, false));
    engine.register_fn("grade_at_least", |x: Dynamic, t: Array| -> Res<INT> {
        grade(number(&x)?, &t, true)
    });
    engine.register_fn("grade_at_most", |x: Dynamic, t: Array| -> Res<INT> {
        grade(number(&x)?, &t, false)
    });
}
