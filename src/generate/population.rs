//! The random users: traits drawn once from the seed, and the day rhythm they join and speak by.

use super::phrases::CITIES;
use super::random::Rng;
use super::{CHINA_MS, DAY_MS, HOUR_MS};

pub(super) const OPENID: u8 = 1;
pub(super) const PRICE_SENSITIVE: u8 = 2;
pub(super) const HAS_STAFF: u8 = 4;

/// A random user's fixed traits, drawn once from the seed.
pub(super) struct User {
    pub(super) join_ms: i64,
    /// No events after this (i64::MAX: stays).
    pub(super) leave_ms: i64,
    /// Sampling weight; 0 for the tail of users seen exactly once.
    pub(super) weight: u32,
    /// Shares of chats and orders among the user's events, per mille; the rest are clicks.
    pub(super) chat_pm: u16,
    pub(super) order_pm: u16,
    pub(super) room: u32,
    /// 1 + index into [`CITIES`], or 0.
    pub(super) city: u8,
    pub(super) flags: u8,
}

/// Relative activity by hour of day in China (UTC+8).
const CHINA_HOURLY: [f64; 24] = [
    30.0, 15.0, 8.0, 5.0, 5.0, 8.0, 20.0, 45.0, 70.0, 85.0, 95.0, 90.0, 80.0, 75.0, 80.0, 82.0,
    80.0, 78.0, 75.0, 85.0, 100.0, 100.0, 80.0, 55.0,
];

pub(super) fn rhythm(t_ms: i64) -> f64 {
    let local = t_ms + CHINA_MS;
    let hour = local.div_euclid(HOUR_MS).rem_euclid(24) as usize;
    // 1970-01-01 was a Thursday: day 0 is weekday 4 counting from Sunday.
    let weekday = (local.div_euclid(DAY_MS) + 4).rem_euclid(7);
    let weekend = if matches!(weekday, 0 | 6) { 1.15 } else { 1.0 };
    CHINA_HOURLY[hour] * weekend
}

pub(super) fn make_user(rng: &mut Rng, start: i64, span: i64, rooms: u32) -> User {
    // Existing members show up in the first days, newcomers all along; both follow the day rhythm.
    let mut join_ms = start;
    for _ in 0..16 {
        join_ms = if rng.chance(0.45) {
            start + (rng.exp(3.0 * DAY_MS as f64) as i64).min(span - 1)
        } else {
            start + rng.below(span as u64) as i64
        };
        if rng.unit() * 115.0 < rhythm(join_ms) {
            break;
        }
    }
    let join_ms = rng.stamp(join_ms).max(start);
    let once = rng.chance(0.35);
    let weight = if once {
        0
    } else {
        (100.0 * (1.0 - rng.unit()).powf(-1.0 / 1.2)).min(100_000.0) as u32
    };
    let leave_ms = if !once && rng.chance(0.35) {
        join_ms + rng.exp(span as f64 / 4.0) as i64
    } else {
        i64::MAX
    };
    let mut flags = 0;
    for (flag, p) in [(OPENID, 0.12), (PRICE_SENSITIVE, 0.15), (HAS_STAFF, 0.3)] {
        if rng.chance(p) {
            flags |= flag;
        }
    }
    let chat_pm = match (weight > 2_000, flags & OPENID != 0) {
        (true, _) => 880,
        (false, true) => 200,
        (false, false) => 400 + rng.below(300) as u16,
    };
    let order_pm = 20 + rng.below(60) as u16 + if flags & PRICE_SENSITIVE != 0 { 40 } else { 0 };
    let room = rng.below(u64::from(rooms)) as u32;
    let city = if rng.chance(0.3) {
        1 + rng.below(CITIES.len() as u64) as u8
    } else {
        0
    };
    User {
        join_ms,
        leave_ms,
        weight,
        chat_pm,
        order_pm,
        room,
        city,
        flags,
    }
}
