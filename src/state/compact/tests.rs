//! Round trips of the compact form.

use super::*;
use crate::decode::{Body, Event, OrderStatus};
use crate::state::Var;

/// States compare by their saved-state encoding: it covers every field, and unlike
/// `PartialEq` it tells NaN scores apart only by their bits.
fn same(a: &UserState, b: &UserState) -> bool {
    postcard::to_allocvec(a).unwrap() == postcard::to_allocvec(b).unwrap()
        && a.tags
            .iter()
            .zip(b.tags.iter())
            .all(|(x, y)| x.score.to_bits() == y.score.to_bits())
}

fn round_trip(state: &UserState) -> usize {
    let mut bytes = Vec::new();
    encode(state, &mut bytes);
    let back = decode(&bytes);
    assert!(same(state, &back), "{state:?}\n!=\n{back:?}");
    let mut m = MemoryUse::default();
    decode_measured(&bytes, &mut m);
    assert_eq!(m.total(), bytes.len(), "every byte is counted in one part");
    bytes.len()
}

fn event(kind: usize, ts: i64, n: u64) -> Event {
    let body = match kind {
        0 => Body::Chat {
            text: "你好".into(),
            room_id: None,
            staff_id: None,
        },
        1 => Body::Click {
            target: "menu".into(),
            channel: None,
        },
        _ => Body::Order {
            order_id: format!("o-{}", n / 2),
            amount: n as f64 * 9.9,
            status: if n % 5 == 0 {
                OrderStatus::Refunded
            } else {
                OrderStatus::Paid
            },
            promo: n % 3 == 0,
            category: None,
        },
    };
    Event {
        user_id: "u".into(),
        ts,
        event_id: format!("e-{n}").into(),
        body,
        fields: None,
    }
}

#[test]
fn empty_and_extreme_states_round_trip() {
    assert!(round_trip(&UserState::default()) < 16);
    let mut s = UserState {
        first_by_type: [i64::MIN, 1, 0],
        last_by_type: [i64::MAX, -5, 0],
        events: u32::MAX,
        ..UserState::default()
    };
    s.tags = vec![
        TagSlot {
            expires: i64::MIN,
            score: -0.0,
            since: i64::MAX,
            tag: u16::MAX,
            rule: u16::MAX,
            origin: 3,
        },
        TagSlot {
            expires: NEVER,
            score: f64::NAN,
            since: SINCE_UNKNOWN,
            tag: 0,
            rule: 0,
            origin: 0,
        },
    ]
    .into();
    s.timers = vec![TimerSlot {
        due: i64::MAX,
        queued: i64::MIN,
        rule: 7,
    }]
    .into();
    for (i, v) in [
        Var::Int(i64::MIN),
        Var::Float(f64::INFINITY),
        Var::Bool(true),
        Var::Str("价格 ✓".into()),
        Var::Decay {
            value: 1e-300,
            at: i64::MIN,
        },
        Var::Hits(vec![i64::MAX, 0, -1].into()),
    ]
    .into_iter()
    .enumerate()
    {
        let key = crate::state::vars::intern(&format!("compact.test.{i}")).unwrap();
        s.vars.push((key, v));
    }
    let mut tags = s.tags.to_vec();
    s.origins.settle(&mut tags, Some("c-1"), &mut Vec::new());
    round_trip(&s);

    let mut bytes = Vec::new();
    encode(&s, &mut bytes);
    assert_eq!(timers(&bytes), s.timers.to_vec());
    let moved = [
        TimerSlot {
            due: 5,
            queued: 4,
            rule: 1,
        },
        TimerSlot {
            due: -9,
            queued: -9,
            rule: 2,
        },
    ];
    let mut out = Vec::new();
    with_timers(&bytes, &moved, &mut out);
    s.timers = moved.to_vec().into();
    assert!(same(&decode(&out), &s), "only the timers changed");
}

#[test]
fn a_user_built_by_events_round_trips_at_every_step() {
    let day = crate::config::duration::DAY_MS;
    let start = 1_788_000_000_000_i64;
    let mut s = UserState::default();
    let mut last = 0;
    for n in 0..400_u64 {
        // Irregular gaps, some events late by up to a day.
        let now = start + (n as i64) * (day / 7) + (n as i64 * 7_919) % 3_600_000;
        let ts = if n % 11 == 0 { now - day } else { now };
        s.observe(&event((n % 3) as usize, ts, n), now);
        if n % 4 == 0 {
            let key = crate::state::vars::intern("compact.test.decay").unwrap();
            s.set_var(
                key,
                Var::Decay {
                    value: n as f64 / 3.0,
                    at: now,
                },
            );
        }
        last = round_trip(&s);
    }
    let struct_bytes = s.heap_bytes() + std::mem::size_of::<UserState>();
    assert!(
        last * 3 < struct_bytes * 2,
        "compact {last} B against {struct_bytes} B as a struct"
    );
}

/// Every length of varint reads back, whether eight bytes follow it (read at once) or not (read
/// byte by byte), and the reader ends where the writer did.
#[test]
fn varints_of_every_length_read_back() {
    let mut values: Vec<u64> = vec![0, 1, 0x7f, 0x80, u64::MAX, u64::MAX - 1, 1 << 63];
    for bits in 1..64 {
        values.extend([(1 << bits) - 1, 1 << bits, (1 << bits) + 1]);
    }
    let mut seed = 0x853c_49e6_748f_ea9b_u64;
    for _ in 0..2000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        values.push(seed >> (seed % 64));
    }
    let mut bytes = Vec::new();
    let mut w = Writer(&mut bytes);
    for v in &values {
        w.uint(*v);
        w.int(*v as i64);
    }
    // The bytes are LEB128's, as a loop over 7-bit groups writes them.
    let mut expected = Vec::new();
    for v in &values {
        for mut x in [*v, ((*v << 1) as i64 ^ ((*v as i64) >> 63)) as u64] {
            while x >= 0x80 {
                expected.push(x as u8 | 0x80);
                x >>= 7;
            }
            expected.push(x as u8);
        }
    }
    assert_eq!(bytes, expected);
    let mut r = Reader::new(&bytes);
    for v in &values {
        assert_eq!(r.uint(), *v);
        assert_eq!(r.int(), *v as i64);
    }
    assert_eq!(r.pos(), bytes.len());
    // Each value alone: nothing follows it, so its bytes take the loop.
    for v in &values {
        let mut one = Vec::new();
        Writer(&mut one).uint(*v);
        let mut r = Reader::new(&one);
        assert_eq!(r.uint(), *v);
        assert_eq!(r.pos(), one.len());
    }
}
