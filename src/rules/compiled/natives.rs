//! The script API as compiled handlers call it: bound by name and arity when a rule is lowered,
//! checked for argument types when called. The work is done by the same functions the Rhai
//! registrations in [`crate::rules::api`] call; a type that signature would not accept is a
//! [`Bail`], so the interpreter reports it.

use std::rc::Rc;

use rhai::{Dynamic, ImmutableString, Map, FLOAT, INT};

use super::value::{array_sizes, within_limits, Bail, Res, V};
use crate::config::duration::{parse_duration_ms, DAY_MS, HOUR_MS, MINUTE_MS};
use crate::rules::{api, Ctx, Limits};

/// A property read, `x.name`, resolved by the receiver's type when it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Getter {
    prop: Prop,
    /// The event field of the same name, if there is one.
    event_field: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prop {
    Id,
    Events,
    FirstSeen,
    LastSeen,
    Tags,
    Type,
    Count,
    Amount,
    Promo,
    PromoShare,
    Average,
    Last,
    First,
    Tag,
    Word,
    Hits,
    Within,
    Ttl,
    Other,
}

impl Getter {
    pub fn parse(name: &str) -> Option<Getter> {
        let prop = match name {
            "id" => Prop::Id,
            "events" => Prop::Events,
            "first_seen" => Prop::FirstSeen,
            "last_seen" => Prop::LastSeen,
            "tags" => Prop::Tags,
            "type" => Prop::Type,
            "count" => Prop::Count,
            "amount" => Prop::Amount,
            "promo" => Prop::Promo,
            "promo_share" => Prop::PromoShare,
            "average" => Prop::Average,
            "last" => Prop::Last,
            "first" => Prop::First,
            "tag" => Prop::Tag,
            "word" => Prop::Word,
            "hits" => Prop::Hits,
            "within" => Prop::Within,
            "ttl" => Prop::Ttl,
            _ => Prop::Other,
        };
        let event_field = api::EVENT_FIELDS
            .iter()
            .position(|(n, _)| *n == name)
            .map(|i| i as u8);
        (prop != Prop::Other || event_field.is_some()).then_some(Getter { prop, event_field })
    }

    pub fn get(self, target: &V, ctx: &Ctx) -> Res<V> {
        match target {
            V::User => self.user(ctx),
            V::Event => self.event(ctx),
            V::Orders(s) => Ok(match self.prop {
                Prop::Count => V::Int(s.count),
                Prop::Amount => V::Float(s.amount),
                Prop::Promo => V::Int(s.promo),
                Prop::PromoShare => V::Float(s.promo_share()),
                Prop::Average => V::Float(s.average()),
                Prop::Last => V::opt_int(s.last),
                Prop::First => V::opt_int(s.first),
                _ => return Err(Bail),
            }),
            V::Hit(h) => Ok(match self.prop {
                Prop::Tag => V::Str(h.tag.clone()),
                Prop::Word => V::Str(h.word.clone()),
                Prop::Hits => V::Int(h.hits),
                Prop::Within => V::Int(h.within),
                Prop::Ttl => V::from_dynamic(h.ttl.clone())?,
                _ => return Err(Bail),
            }),
            _ => Err(Bail),
        }
    }

    fn user(self, ctx: &Ctx) -> Res<V> {
        let user = &ctx.user;
        Ok(match self.prop {
            Prop::Id => V::Str(ctx.user_id.as_str().into()),
            Prop::Events => V::Int(INT::from(user.events)),
            Prop::FirstSeen => V::Int(user.first_seen()),
            Prop::LastSeen => V::Int(user.last_seen()),
            Prop::Tags => V::Array(Rc::new(
                user.tags
                    .iter()
                    .map(|s| V::Str(ctx.tag_names[s.tag as usize].clone()))
                    .collect(),
            )),
            _ => return Err(Bail),
        })
    }

    fn event(self, ctx: &Ctx) -> Res<V> {
        let Some(event) = ctx.event.as_ref() else {
            return Ok(V::Unit);
        };
        if self.prop == Prop::Type {
            return Ok(V::Str(ctx.type_names[event.event_type().index()].clone()));
        }
        let field = self.event_field.ok_or(Bail)?;
        V::from_dynamic((api::EVENT_FIELDS[usize::from(field)].1)(event))
    }
}

/// A native function; for a method call the receiver is the first argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Native {
    Now,
    Days,
    Hours,
    Minutes,
    Duration,
    AsDays,
    RoundTo,
    Tag,
    TagWith,
    Untag,
    UntagWith,
    UntagGroup,
    GradeAtLeast,
    GradeAtMost,
    Age,
    SinceLast,
    Count,
    CountBetween,
    WindowExit,
    CountBelowAt,
    PaidOrders,
    PaidOrdersWithin,
    Has,
    TagIn,
    WakeAt,
    WakeIn,
    WakeAtEarliest,
    CancelWake,
    DecayAdd,
    Decayed,
    DecayBelowAt,
    RecordHit,
    Get,
    Set,
    Unset,
    FirstSeenOf,
    LastSeenOf,
    KeywordHits,
    Floor,
    Ceiling,
    Round,
    ToInt,
    ToFloat,
    Len,
    Push,
}

/// Arrays up to this long are grown in compiled form (see [`Native::call_mut`]).
const PUSH_MEASURED_MAX: usize = 256;

impl Native {
    /// The native called `name` with `arity` arguments (receiver included), if there is one.
    pub fn parse(name: &str, arity: usize) -> Option<Native> {
        use Native as N;
        Some(match (name, arity) {
            ("now", 0) => N::Now,
            ("days", 1) => N::Days,
            ("hours", 1) => N::Hours,
            ("minutes", 1) => N::Minutes,
            ("duration", 1) => N::Duration,
            ("as_days", 1) => N::AsDays,
            ("round_to", 2) => N::RoundTo,
            ("tag", 1) => N::Tag,
            ("tag", 2) => N::TagWith,
            ("untag", 1) => N::Untag,
            ("untag", 2) => N::UntagWith,
            ("untag_group", 2) => N::UntagGroup,
            ("grade_at_least", 2) => N::GradeAtLeast,
            ("grade_at_most", 2) => N::GradeAtMost,
            ("age", 1) => N::Age,
            ("since_last", 1) => N::SinceLast,
            ("count", 3) => N::Count,
            ("count", 4) => N::CountBetween,
            ("window_exit", 3) => N::WindowExit,
            ("count_below_at", 4) => N::CountBelowAt,
            ("paid_orders", 1) => N::PaidOrders,
            ("paid_orders", 2) => N::PaidOrdersWithin,
            ("has", 2) => N::Has,
            ("tag_in", 2) => N::TagIn,
            ("wake_at", 2) => N::WakeAt,
            ("wake_in", 2) => N::WakeIn,
            ("wake_at_earliest", 2) => N::WakeAtEarliest,
            ("cancel_wake", 1) => N::CancelWake,
            ("decay_add", 4) => N::DecayAdd,
            ("decayed", 3) => N::Decayed,
            ("decay_below_at", 4) => N::DecayBelowAt,
            ("record_hit", 3) => N::RecordHit,
            ("get", 2) => N::Get,
            ("set", 3) => N::Set,
            ("unset", 2) => N::Unset,
            ("first_seen", 2) => N::FirstSeenOf,
            ("last_seen", 2) => N::LastSeenOf,
            ("keyword_hits", 1) => N::KeywordHits,
            ("floor", 1) => N::Floor,
            ("ceiling", 1) => N::Ceiling,
            ("round", 1) => N::Round,
            ("to_int", 1) => N::ToInt,
            ("to_float", 1) => N::ToFloat,
            ("len", 1) => N::Len,
            ("push", 2) => N::Push,
            _ => return None,
        })
    }

    /// Changes its first argument in place.
    pub fn mutates(self) -> bool {
        self == Native::Push
    }

    /// Calls a native that changes its first argument (a variable).
    /// `args` are taken (left as units).
    pub fn call_mut(self, target: &mut V, args: &mut [V], limits: &Limits) -> Res<V> {
        match (self, target, args) {
            // The data limits count everything the array holds, so each push measures it
            // again; long arrays, where that would add up, are left to the interpreter.
            (Native::Push, V::Array(items), [item]) => {
                let item = std::mem::take(item);
                if items.len() >= PUSH_MEASURED_MAX {
                    return Err(Bail);
                }
                let (a, m, s) = array_sizes(items)?;
                let (ia, im, is) = item.data_sizes()?;
                within_limits(limits, (a + ia + 1, m + im, s + is))?;
                Rc::make_mut(items).push(item);
                Ok(V::Unit)
            }
            _ => Err(Bail),
        }
    }

    /// Calls the native on arguments held side by side (on the value stack).
    pub fn call_on(self, ctx: &mut Ctx, args: &[V]) -> Res<V> {
        match args {
            [] => self.call(ctx, &[]),
            [a] => self.call(ctx, &[a]),
            [a, b] => self.call(ctx, &[a, b]),
            [a, b, c] => self.call(ctx, &[a, b, c]),
            [a, b, c, d] => self.call(ctx, &[a, b, c, d]),
            // No native takes more (see `Native::parse`).
            _ => Err(Bail),
        }
    }

    /// Calls the native on arguments read where they are (a frame's slots, the rule's
    /// constants): nothing is copied to call it.
    pub fn call(self, ctx: &mut Ctx, args: &[&V]) -> Res<V> {
        use Native as N;
        let ok = |r: Result<V, String>| r.map_err(|_| Bail);
        match (self, args) {
            (N::Now, []) => Ok(V::Int(ctx.now)),
            (N::Days | N::Hours | N::Minutes, [n]) => {
                let unit = match self {
                    N::Days => DAY_MS,
                    N::Hours => HOUR_MS,
                    _ => MINUTE_MS,
                };
                match n {
                    // Past the largest time: the interpreter's error to report.
                    V::Int(n) => n.checked_mul(unit).map(V::Int).ok_or(Bail),
                    V::Float(n) => Ok(V::Int((n * unit as f64) as INT)),
                    _ => Err(Bail),
                }
            }
            (N::Duration, [V::Str(text)]) => parse_duration_ms(text).map(V::Int).ok_or(Bail),
            (N::AsDays, [V::Int(ms)]) => Ok(V::Float(*ms as f64 / DAY_MS as f64)),
            (N::RoundTo, [V::Float(x), V::Int(digits)]) => {
                let scale = 10f64.powi((*digits).clamp(0, 12) as i32);
                Ok(V::Float((x * scale).round() / scale))
            }
            (N::Tag, [V::Str(name)]) => ok(ctx
                .add_tag(name, None, String::new(), None)
                .map(|_| V::Unit)),
            (N::TagWith, [V::Str(name), V::Str(reason)]) => ok(ctx
                .add_tag(name, None, reason.to_string(), None)
                .map(|_| V::Unit)),
            (N::TagWith, [V::Str(name), V::Map(opts)]) => {
                api::tag_with_options(ctx, name, opts).map_err(|_| Bail)?;
                Ok(V::Unit)
            }
            (N::Untag, [V::Str(name)]) => unit(ctx.untag(name, String::new())),
            (N::UntagWith, [V::Str(name), V::Str(reason)]) => {
                unit(ctx.untag(name, reason.to_string()))
            }
            (N::UntagGroup, [V::Str(group), V::Str(reason)]) => {
                unit(ctx.untag_group(group, reason))
            }
            (N::GradeAtLeast | N::GradeAtMost, [x, V::Array(thresholds)]) => {
                let x = x.as_number()?;
                let thresholds = thresholds
                    .iter()
                    .map(V::to_dynamic)
                    .collect::<Res<Vec<Dynamic>>>()?;
                let number = |d: &Dynamic| api::number(d).map_err(|_| Bail);
                api::grade(x, &thresholds, number, self == N::GradeAtLeast).map(V::Int)
            }
            (N::KeywordHits, [V::Event]) => {
                let mut hits = ctx.spares.array(0);
                let items = Rc::get_mut(&mut hits).expect("a spare array is unshared");
                items.extend(api::keyword_hits(ctx).map(|h| V::Hit(Rc::new(h))));
                Ok(V::Array(hits))
            }
            (_, [V::User, rest @ ..]) => self.user(ctx, rest),
            (_, [x]) => self.builtin(x),
            _ => Err(Bail),
        }
    }

    /// Methods of `user`.
    fn user(self, ctx: &mut Ctx, args: &[&V]) -> Res<V> {
        use Native as N;
        let ok_int = |r: Result<Option<i64>, String>| r.map(V::opt_int).map_err(|_| Bail);
        match (self, args) {
            (N::Age, []) => Ok(V::Int(ctx.now - ctx.user.first_seen())),
            (N::SinceLast, []) => Ok(V::Int(ctx.now - ctx.user.last_seen())),
            (N::Count, [V::Str(kind), w]) => api::count(ctx, kind, duration(w)?, 0)
                .map(V::Int)
                .map_err(|_| Bail),
            (N::CountBetween, [V::Str(kind), from, to]) => {
                api::count_between(ctx, kind, duration(from)?, duration(to)?)
                    .map(V::Int)
                    .map_err(|_| Bail)
            }
            (N::WindowExit, [V::Str(kind), w]) => ok_int(api::window_exit(ctx, kind, duration(w)?)),
            (N::CountBelowAt, [V::Str(kind), w, V::Int(n)]) => {
                ok_int(api::count_below_at(ctx, kind, duration(w)?, *n))
            }
            (N::PaidOrders, []) => {
                let stats = api::paid_orders_all_time(ctx);
                Ok(V::Orders(ctx.spares.orders(stats)))
            }
            (N::PaidOrdersWithin, [w]) => {
                let stats = api::paid_orders(ctx, duration(w)?);
                Ok(V::Orders(ctx.spares.orders(stats)))
            }
            (N::Has, [V::Str(name)]) => {
                let tag = ctx.tag_id(name).map_err(|_| Bail)?;
                Ok(V::Bool(ctx.has_tag(tag)))
            }
            (N::TagIn, [V::Str(group)]) => api::tag_in(ctx, group).map(V::Str).map_err(|_| Bail),
            (N::WakeAt, [V::Int(at)]) => {
                ctx.wake_at(*at).map_err(|_| Bail)?;
                Ok(V::Unit)
            }
            (N::WakeIn, [after]) => {
                let at = ctx.now.saturating_add(duration(after)?);
                ctx.wake_at(at).map_err(|_| Bail)?;
                Ok(V::Unit)
            }
            (N::WakeAtEarliest, [V::Array(times)]) => {
                if !times.iter().all(|t| matches!(t, V::Unit | V::Int(_))) {
                    return Err(Bail);
                }
                let at = times.iter().filter_map(|t| match t {
                    V::Int(t) => Some(*t),
                    _ => None,
                });
                api::wake_at_earliest(ctx, at).map_err(|_| Bail)?;
                Ok(V::Unit)
            }
            (N::CancelWake, []) => {
                ctx.cancel_wake();
                Ok(V::Unit)
            }
            (N::DecayAdd, [V::Str(name), hl, w]) => {
                let w = match w {
                    V::Float(w) => *w,
                    other => api::number(&other.to_dynamic()?).map_err(|_| Bail)?,
                };
                let hl = duration(hl)?;
                api::decay_add(ctx, name, hl, w)
                    .map(V::Float)
                    .map_err(|_| Bail)
            }
            (N::Decayed, [V::Str(name), hl]) => {
                let hl = duration(hl)?;
                api::decayed(ctx, name, hl).map(V::Float).map_err(|_| Bail)
            }
            (N::DecayBelowAt, [V::Str(name), hl, t]) => {
                let hl = duration(hl)?;
                let t = t.as_number()?;
                ok_int(api::decay_below_at(ctx, name, hl, t))
            }
            (N::RecordHit, [V::Str(name), w]) => {
                let w = duration(w)?;
                api::record_hit(ctx, name, w).map(V::Int).map_err(|_| Bail)
            }
            (N::Get, [V::Str(name)]) => {
                let key = ctx.var_key(name).map_err(|_| Bail)?;
                ctx.user
                    .var(key)
                    .map_or(Ok(V::Unit), |v| V::from_dynamic(api::var_to_dynamic(v)))
            }
            (N::Set, [V::Str(name), value]) => {
                let var = api::var_from(name, &value.to_dynamic()?).map_err(|_| Bail)?;
                let key = ctx.var_key(name).map_err(|_| Bail)?;
                ctx.set_var(key, var).map_err(|_| Bail)?;
                Ok(V::Unit)
            }
            (N::Unset, [V::Str(name)]) => {
                let key = ctx.var_key(name).map_err(|_| Bail)?;
                ctx.remove_var(key);
                Ok(V::Unit)
            }
            (N::FirstSeenOf | N::LastSeenOf, [V::Str(kind)]) => {
                ok_int(api::seen_by_type(ctx, kind, self == N::FirstSeenOf))
            }
            _ => Err(Bail),
        }
    }

    /// Rhai's own functions on numbers and arrays.
    fn builtin(self, x: &V) -> Res<V> {
        use Native as N;
        match (self, x) {
            (N::Floor, V::Float(f)) => Ok(V::Float(f.floor())),
            (N::Ceiling, V::Float(f)) => Ok(V::Float(f.ceil())),
            (N::Round, V::Float(f)) => Ok(V::Float(f.round())),
            // Rhai reports an out-of-range float as an overflow.
            (N::ToInt, V::Float(f)) if *f <= INT::MAX as FLOAT && *f >= INT::MIN as FLOAT => {
                Ok(V::Int(f.trunc() as INT))
            }
            (N::ToFloat, V::Int(i)) => Ok(V::Float(*i as FLOAT)),
            (N::ToFloat, V::Float(f)) => Ok(V::Float(*f)),
            (N::Len, V::Array(items)) => Ok(V::Int(items.len() as INT)),
            (N::Len, V::Str(s)) => Ok(V::Int(s.chars().count() as INT)),
            _ => Err(Bail),
        }
    }
}

/// A native that returns nothing; its error is the interpreter's to report.
fn unit(result: Result<(), String>) -> Res<V> {
    result.map(|()| V::Unit).map_err(|_| Bail)
}

/// A duration argument: ms, or anything the Rhai registration's `Dynamic` form accepts.
fn duration(v: &V) -> Res<i64> {
    match v {
        V::Int(ms) => Ok(*ms),
        other => api::duration(&other.to_dynamic()?).map_err(|_| Bail),
    }
}

/// Builds the options map of `tag(name, #{ ... })` the way Rhai does.
pub fn map_of(fields: Vec<(ImmutableString, V)>) -> Res<Map> {
    let mut map = Map::new();
    for (k, v) in fields {
        map.insert(k.as_str().into(), v.to_dynamic()?);
    }
    Ok(map)
}
