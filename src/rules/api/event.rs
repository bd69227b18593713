//! The event handle, keyword and pattern matching, and grading.

use rhai::{Array, Dynamic, Engine, ImmutableString, Map, FLOAT, INT};

use super::{fail, number, opt, EventRef, KeywordHit, Res, Shared};
use crate::decode::{Body, Event, OrderStatus};
use crate::rules::Ctx;

fn text(s: &str) -> Dynamic {
    Dynamic::from(ImmutableString::from(s))
}
fn opt_text(s: &Option<String>) -> Dynamic {
    s.as_deref().map_or(Dynamic::UNIT, text)
}
type Field = (&'static str, fn(&Event) -> Dynamic);

/// The event's fields by name, as scripts read them (`event.amount`); `()` where a type lacks one.
pub(in crate::rules) const EVENT_FIELDS: [Field; 14] = [
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

pub(super) fn register_event(engine: &mut Engine, ctx: &Shared) {
    engine.register_type_with_name::<EventRef>("Event");
    fn get(c: &Shared, f: impl Fn(&Event) -> Dynamic) -> Dynamic {
        c.borrow().event.as_ref().map_or(Dynamic::UNIT, f)
    }
    let c = ctx.clone();
    engine.register_get("type", move |_: &mut EventRef| -> Dynamic {
        let ctx = c.borrow();
        ctx.event.as_ref().map_or(Dynamic::UNIT, |e| {
            Dynamic::from(ctx.type_names[e.event_type().index()].clone())
        })
    });
    for (name, read) in EVENT_FIELDS {
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

/// The keyword tags the chat text matches, with the matching word; none for other events.
pub(in crate::rules) fn keyword_hits(ctx: &Ctx) -> impl Iterator<Item = KeywordHit> + '_ {
    let text = match ctx.event.as_ref().map(|e| &e.body) {
        Some(Body::Chat { text, .. }) => Some(text.as_str()),
        _ => None,
    };
    let set = &ctx.params.keywords;
    let found = text.map(|t| set.matches(t)).unwrap_or_default();
    found.into_iter().map(move |(i, word)| {
        let spec = &set.specs[i];
        KeywordHit {
            tag: spec.tag.as_str().into(),
            word: word.into(),
            hits: spec.hits,
            within: spec.within_ms,
            ttl: opt(spec.ttl_ms),
        }
    })
}

/// Methods whose array holds items of one registered type: (receiver, method, item). The check
/// follows a loop variable over such an array (`for hit in event.keyword_hits()`: `hit.withn`
/// is a mistake it reports).
pub(in crate::rules) const ARRAY_ITEMS: [(&str, &str, &str); 1] =
    [("Event", "keyword_hits", "KeywordHit")];

pub(super) fn register_matching(engine: &mut Engine, ctx: &Shared) {
    engine.register_type_with_name::<KeywordHit>("KeywordHit");
    engine.register_get("tag", |k: &mut KeywordHit| k.tag.clone());
    engine.register_get("word", |k: &mut KeywordHit| k.word.clone());
    engine.register_get("hits", |k: &mut KeywordHit| k.hits);
    engine.register_get("within", |k: &mut KeywordHit| k.within);
    engine.register_get("ttl", |k: &mut KeywordHit| k.ttl.clone());
    let c = ctx.clone();
    engine.register_fn("keyword_hits", move |_: &mut EventRef| -> Array {
        keyword_hits(&c.borrow()).map(Dynamic::from).collect()
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
pub(in crate::rules) fn grade<E>(
    x: f64,
    thresholds: &[Dynamic],
    number: impl Fn(&Dynamic) -> Result<f64, E>,
    at_least: bool,
) -> Result<INT, E> {
    let top = thresholds.len() as INT + 1;
    for (i, t) in thresholds.iter().enumerate() {
        let t = number(t)?;
        if (at_least && x >= t) || (!at_least && x <= t) {
            return Ok(top - i as INT);
        }
    }
    Ok(1)
}

pub(super) fn register_grading(engine: &mut Engine) {
    engine.register_fn("grade_at_least", |x: INT, t: Array| {
        grade(x as f64, &t, number, true)
    });
    engine.register_fn("grade_at_least", |x: FLOAT, t: Array| {
        grade(x, &t, number, true)
    });
    engine.register_fn("grade_at_most", |x: INT, t: Array| {
        grade(x as f64, &t, number, false)
    });
    engine.register_fn("grade_at_most", |x: FLOAT, t: Array| {
        grade(x, &t, number, false)
    });
    engine.register_fn("grade_at_least", |x: Dynamic, t: Array| -> Res<INT> {
        grade(number(&x)?, &t, number, true)
    });
    engine.register_fn("grade_at_most", |x: Dynamic, t: Array| -> Res<INT> {
        grade(number(&x)?, &t, number, false)
    });
}
