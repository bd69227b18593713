//! Synthetic behaviour-event streams: realistic, deterministic from a seed, written in event-time order.
//!
//! Used to make `examples/sample.jsonl`, by tests, and by the benchmark. The generator walks the span one
//! hour at a time. Each hour gets its share of the events following the day rhythm of a Chinese community
//! (quiet at night, busy mid-morning and in the evening, UTC+8); the senders are drawn by weight from a
//! Fenwick tree of the users who have joined and not left (a few heavy chatters, many occasional users,
//! a tail seen exactly once); the hour's events are sorted and written. Memory is O(users) plus one
//! hour of events: nothing is kept per event except pending refunds.
//!
//! With [`GenOptions::personas`] the scripted [`PERSONAS`] are mixed in: users whose timelines make
//! every tag of the default rule pack (RULEPACK.md) happen, so a sample run shows the whole pack.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::io::{self, Write};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;
const CHINA_MS: i64 = 8 * HOUR_MS;

/// What to generate. Every stream with the same options is byte-for-byte the same.
#[derive(Debug, Clone)]
pub struct GenOptions {
    /// Population size of random users; each appears at least once (at most `events` of them).
    pub users: u64,
    /// Lines of the random part (joins, ordinary events, refunds, invalid lines); personas come on top.
    pub events: u64,
    /// Span of event time in days, from `start_ms`.
    pub days: u32,
    /// Event time of the start, epoch ms (default 2026-09-01T00:00:00Z).
    pub start_ms: i64,
    pub seed: u64,
    /// Share of invalid lines (not JSON, missing or ill-typed field, unknown type, ...), per mille.
    pub invalid_per_mille: u32,
    /// Also emit the scripted [`PERSONAS`]. Their scripts span the last 120 days of the stream; with
    /// fewer `days` the part before the start is left out and their intended tags no longer hold.
    pub personas: bool,
    /// Share of late events: `ts` a few minutes to hours older than the largest `ts` so far, per mille.
    pub late_per_mille: u32,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            users: 1_000,
            events: 20_000,
            days: 30,
            start_ms: 1_788_220_800_000,
            seed: 1,
            invalid_per_mille: 5,
            personas: false,
            late_per_mille: 10,
        }
    }
}

/// Counts of what [`generate`] wrote; `users` counts distinct users with at least one valid line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenStats {
    pub lines: u64,
    pub valid: u64,
    pub invalid: u64,
    pub users: u64,
}

/// Writes the stream as JSON lines in (roughly) event-time order: only late events go back in time.
///
/// Writes one hour of events per `write_all`; wrap `out` in a `BufWriter` for files.
///
/// # Errors
/// Only those of `out`.
pub fn generate(opts: &GenOptions, out: &mut impl Write) -> io::Result<GenStats> {
    Gen::new(opts).run(out)
}

/// SplitMix64's finaliser: a bijection on u64, so `mix(i ^ salt)` also turns indices into unique ids.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256** seeded through SplitMix64: tiny, fast and plenty for synthetic data (not for secrets).
struct Rng([u64; 4]);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut s = [0; 4];
        for (i, w) in s.iter_mut().enumerate() {
            *w = mix(seed.wrapping_add((i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
        }
        Rng(s)
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let out = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n) by multiply-shift; the bias (< n / 2^64) is irrelevant here.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Exponential with the given mean: waiting times.
    fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }

    /// Log-uniform in [lo, hi): as many values per decade, like prices and delays.
    fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo * (hi / lo).powf(self.unit())
    }

    /// Zipf-like pick: index 0 is the most popular and popularity falls off with the index.
    fn skewed<T: Copy>(&mut self, xs: &[T]) -> T {
        let i = (self.unit() * self.unit() * xs.len() as f64) as usize;
        xs[i.min(xs.len() - 1)]
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }

    /// Most sources stamp whole seconds, some milliseconds. RFC 3339 output shows the fraction exactly
    /// when there is one, so the written `ts` is the `ts` the generator ordered by.
    fn stamp(&mut self, ts: i64) -> i64 {
        if self.chance(0.7) {
            ts - ts.rem_euclid(1000)
        } else {
            ts
        }
    }
}

/// Weighted sampling over users whose weights change as they join and leave: O(log n) each way.
struct Fenwick {
    tree: Vec<u64>,
    total: u64,
}

impl Fenwick {
    fn new(n: usize) -> Self {
        Fenwick {
            tree: vec![0; n + 1],
            total: 0,
        }
    }

    /// Adds `delta` (two's complement for a removal) to the weight of index `i`.
    fn add(&mut self, i: usize, delta: u64) {
        self.total = self.total.wrapping_add(delta);
        let mut k = i + 1;
        while k < self.tree.len() {
            self.tree[k] = self.tree[k].wrapping_add(delta);
            k += k & k.wrapping_neg();
        }
    }

    /// The index whose slice of the cumulative weight holds `target` (< `total`).
    fn find(&self, mut target: u64) -> usize {
        let n = self.tree.len() - 1;
        let (mut pos, mut bit) = (0, n.checked_next_power_of_two().unwrap_or(0));
        while bit > 0 {
            if pos + bit <= n && self.tree[pos + bit] <= target {
                pos += bit;
                target -= self.tree[pos];
            }
            bit >>= 1;
        }
        pos
    }
}

const OPENID: u8 = 1;
const PRICE_SENSITIVE: u8 = 2;
const HAS_STAFF: u8 = 4;

/// A random user's fixed traits, drawn once from the seed.
struct User {
    join_ms: i64,
    /// No events after this (i64::MAX: stays).
    leave_ms: i64,
    /// Sampling weight; 0 for the tail of users seen exactly once.
    weight: u32,
    /// Shares of chats and orders among the user's events, per mille; the rest are clicks.
    chat_pm: u16,
    order_pm: u16,
    room: u32,
    /// 1 + index into [`CITIES`], or 0.
    city: u8,
    flags: u8,
}

/// Relative activity by hour of day in China (UTC+8).
const CHINA_HOURLY: [f64; 24] = [
    30.0, 15.0, 8.0, 5.0, 5.0, 8.0, 20.0, 45.0, 70.0, 85.0, 95.0, 90.0, 80.0, 75.0, 80.0, 82.0,
    80.0, 78.0, 75.0, 85.0, 100.0, 100.0, 80.0, 55.0,
];

fn rhythm(t_ms: i64) -> f64 {
    let local = t_ms + CHINA_MS;
    let hour = local.div_euclid(HOUR_MS).rem_euclid(24) as usize;
    // 1970-01-01 was a Thursday: day 0 is weekday 4 counting from Sunday.
    let weekday = (local.div_euclid(DAY_MS) + 4).rem_euclid(7);
    let weekend = if matches!(weekday, 0 | 6) { 1.15 } else { 1.0 };
    CHINA_HOURLY[hour] * weekend
}

fn make_user(rng: &mut Rng, start: i64, span: i64, rooms: u32) -> User {
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

/// One scripted action of a persona.
#[derive(Debug, Clone, Copy)]
enum Act {
    Chat(&'static str),
    Click(&'static str),
    Order {
        yuan: u32,
        promo: bool,
        category: &'static str,
    },
    /// Refunds the persona's n-th order (0-based).
    Refund(usize),
}

/// A persona's timeline, built by its script: `day` runs over 0..=120 and day 120 is the stream's end.
#[derive(Default)]
struct Script {
    steps: Vec<(f64, Act)>,
    orders: usize,
}

impl Script {
    fn chat(&mut self, day: f64, text: &'static str) {
        self.steps.push((day, Act::Chat(text)));
    }
    fn click(&mut self, day: f64, target: &'static str) {
        self.steps.push((day, Act::Click(target)));
    }
    fn order(&mut self, day: f64, yuan: u32, promo: bool, category: &'static str) -> usize {
        self.steps.push((
            day,
            Act::Order {
                yuan,
                promo,
                category,
            },
        ));
        self.orders += 1;
        self.orders - 1
    }
    fn refund(&mut self, day: f64, order: usize) {
        self.steps.push((day, Act::Refund(order)));
    }
    /// A chat every `every` days from `from` to `to` inclusive, stepping through `texts` from a place
    /// that depends on `from`, so that personas chatting on the same days say different things.
    fn chats(&mut self, from: f64, to: f64, every: f64, texts: &[&'static str]) {
        let (mut day, mut i) = (from, (from * 100.0) as usize);
        while day <= to + 1e-9 {
            self.chat(day, texts[i % texts.len()]);
            day += every;
            i += 7;
        }
    }
}

/// A scripted user whose timeline makes some tags of the default rule pack happen.
pub struct Persona {
    pub id: &'static str,
    /// Tags the persona holds at the end of a stream of at least 120 days, with the RULEPACK defaults.
    pub final_tags: &'static [&'static str],
    script: fn(&mut Script),
}

/// The scripted users. Each script's comment works out what it demonstrates with the RULEPACK.md
/// defaults; a unit test re-derives the `rfm/`, `value/` and `trait/` tags from the orders.
#[rustfmt::skip]
pub const PERSONAS: &[Persona] = &[
    Persona { id: "persona_new_1", script: new_1,
        final_tags: &["lifecycle/new", "identity/newcomer", "activity/low", "intent/price"] },
    Persona { id: "persona_growing_1", script: growing_1,
        final_tags: &["lifecycle/growing", "activity/medium"] },
    Persona { id: "persona_hysteresis_1", script: hysteresis_1,
        final_tags: &["lifecycle/growing", "activity/medium"] },
    Persona { id: "persona_silent_1", script: silent_1,
        final_tags: &["lifecycle/silent", "activity/low"] },
    Persona { id: "persona_vip_1", script: vip_1,
        final_tags: &["lifecycle/mature", "activity/high", "rfm/important-value", "value/high"] },
    Persona { id: "persona_dormant_1", script: dormant_1,
        final_tags: &["lifecycle/dormant", "activity/low", "rfm/important-retain", "value/medium"] },
    Persona { id: "persona_declining_1", script: declining_1,
        final_tags: &["lifecycle/declining", "activity/low", "rfm/important-winback", "value/medium"] },
    Persona { id: "persona_churned_1", script: churned_1,
        final_tags: &["lifecycle/churned", "activity/low", "rfm/general-winback", "value/low"] },
    Persona { id: "persona_comeback_declining_1", script: comeback_declining_1,
        final_tags: &["lifecycle/silent", "activity/low"] },
    Persona { id: "persona_comeback_churned_1", script: comeback_churned_1,
        final_tags: &["lifecycle/growing", "activity/medium"] },
    Persona { id: "persona_fading_1", script: fading_1,
        final_tags: &["lifecycle/silent", "activity/low"] },
    Persona { id: "persona_bargain_1", script: bargain_1,
        final_tags: &["lifecycle/dormant", "activity/low", "rfm/general-retain", "value/low", "intent/price"] },
    Persona { id: "persona_regular_1", script: regular_1,
        final_tags: &["lifecycle/mature", "activity/medium", "rfm/general-value", "value/medium"] },
    Persona { id: "persona_bigticket_1", script: bigticket_1,
        final_tags: &["lifecycle/silent", "activity/medium", "rfm/important-develop", "value/high", "intent/purchase"] },
    Persona { id: "persona_refund_1", script: refund_1,
        final_tags: &["lifecycle/silent", "activity/medium", "rfm/general-develop", "value/medium", "service/complaint"] },
];

const GREETING: &str = "大家好，新人报到，请多关照🙏";

/// Three days old at the end: `lifecycle/new`, `identity/newcomer` (72 h TTL still running), one price
/// question is enough for `intent/price`; S = 2.5 at most, so `activity/low`.
fn new_1(s: &mut Script) {
    s.chat(117.10, GREETING);
    s.click(117.12, "menu:新人福利");
    s.chat(117.45, "请问这个体验课多少钱？");
}

/// new (day 30) → silent (day 37) → growing on the 6th chat within 14 days (day 118.4); the click on
/// day 92.4 keeps the gap under 30 days. Seven chats in the last 12 days: S ≈ 4.3, `activity/medium`.
fn growing_1(s: &mut Script) {
    s.click(30.10, "link:https://mp.weixin.qq.com/s/Xq3kRm9TzA1");
    s.chat(30.12, GREETING);
    s.chat(50.40, "今天的直播几点开始？");
    s.chat(75.40, "收到，谢谢群主");
    s.click(92.40, "menu:直播预约");
    s.chats(108.40, 118.40, 2.0, NEUTRAL);
    s.chat(119.40, "老师讲得太好了");
}

/// Growing hysteresis: six daily chats make the user growing on day 95.4; afterwards one chat every
/// 2.5 days (3.5 once) never lets both 7-day windows drop below 3 chats, so the user stays growing
/// although the last 14 days hold only 5 chats (windows 3 + 2 at the end). S ≈ 4.0: `activity/medium`.
fn hysteresis_1(s: &mut Script) {
    s.chat(60.10, GREETING);
    s.chat(70.10, "学习了");
    s.chat(80.10, "打卡第3天");
    s.chats(90.40, 95.40, 1.0, NEUTRAL);
    s.chats(98.00, 110.50, 2.5, NEUTRAL);
    s.chats(114.00, 119.00, 2.5, NEUTRAL);
}

/// Leaving growing: seven daily chats (days 40–46) make the user growing; then one chat every 10 days,
/// so from day 58.4 both 7-day windows hold < 3 chats and the stage falls to `lifecycle/silent`.
fn silent_1(s: &mut Script) {
    s.chats(40.40, 46.40, 1.0, NEUTRAL);
    s.chats(57.40, 117.40, 10.0, NEUTRAL);
}

/// `rfm/important-value`: 12 orders of 3,500–8,800 yuan, the last on day 115.45, no promo: gM 5
/// (M = 65,300), gF 5, gAOV 5, gP 5, R ≤ 30 → V = 5 × 1.5 = 7.5, `value/high`; ≥ 3 orders and the last
/// within 90 days: `lifecycle/mature`; two chats a day for the last 20 days: S ≈ 20, `activity/high`.
fn vip_1(s: &mut Script) {
    const AMOUNTS: [u32; 12] = [
        5200, 3800, 6600, 4200, 8800, 3500, 5900, 7300, 4600, 6100, 3900, 5400,
    ];
    s.chat(1.10, GREETING);
    for (k, yuan) in AMOUNTS.into_iter().enumerate() {
        s.order(5.45 + 10.0 * k as f64, yuan, false, "美妆护肤");
    }
    s.chats(2.10, 99.10, 3.0, NEUTRAL);
    s.chats(100.10, 119.10, 1.0, NEUTRAL);
    s.chats(100.55, 119.55, 1.0, NEUTRAL);
    s.click(110.50, "item:1024");
}

/// Mature → `lifecycle/dormant` on day 109.4: three orders (days 5–19.4) and then only chats every
/// 6 days. `rfm/important-value` until day 109.4, then `rfm/important-retain` (R > 90, F = 3,
/// M = 3,200); V = (0.4·3 + 0.3·3 + 0.2·5 + 0.1·5) = 3.6, × 1.5 = 5.4 while R ≤ 30: `value/high` until
/// day 49.4, then `value/medium`.
fn dormant_1(s: &mut Script) {
    s.chat(2.10, GREETING);
    s.order(5.40, 800, false, "母婴");
    s.order(12.40, 1500, false, "母婴");
    s.order(19.40, 900, false, "母婴");
    s.chats(8.10, 116.10, 6.0, NEUTRAL);
}

/// `lifecycle/declining`: chats every 5 days until day 82.1, then silence (declining from day 112.1).
/// One 6,800-yuan order on day 20.4: `rfm/important-develop`, then `rfm/important-winback` once R > 90
/// (day 110.4) — a segment moved by time alone; V = 3.0 (4.5 while R ≤ 30): `value/medium` at the end.
fn declining_1(s: &mut Script) {
    s.chat(10.10, GREETING);
    s.order(20.40, 6800, false, "数码");
    s.chats(12.10, 82.10, 5.0, NEUTRAL);
}

/// `lifecycle/churned`: last event on day 25.1, declining from day 55.1, churned from day 115.1. One
/// 99-yuan order: `rfm/general-winback` at the end, V = 0.4 + 0.3 + 0.2 + 0.5 = 1.4, `value/low`.
fn churned_1(s: &mut Script) {
    s.chat(3.10, GREETING);
    s.chats(5.10, 25.10, 4.0, NEUTRAL);
    s.order(15.40, 99, false, "食品生鲜");
}

/// Reactivation from declining: silent from day 30.1, declining from day 60.1, back on day 72.4 with a
/// complaint (`service/complaint`, which the 7-day TTL removes on day 79.4), then a chat every 8 days:
/// `lifecycle/silent` at the end and no complaint tag.
fn comeback_declining_1(s: &mut Script) {
    s.chat(8.10, GREETING);
    s.chats(9.10, 30.10, 3.0, NEUTRAL);
    s.chat(72.40, "上次买的东西坏了，我要投诉");
    s.click(72.45, "menu:联系客服");
    s.chats(80.40, 118.40, 8.0, NEUTRAL);
}

/// Reactivation from churned: daily chats days 1–12 (growing then), silence until churned on day 102.1,
/// back on day 105.5 with daily chats: `lifecycle/growing` (8 chats in the last 14 days), S ≈ 3.6,
/// `activity/medium`.
fn comeback_churned_1(s: &mut Script) {
    s.chats(1.10, 12.10, 1.0, NEUTRAL);
    s.chats(105.50, 111.50, 1.0, NEUTRAL);
    s.chat(114.50, "周末带娃去了");
    s.chat(117.50, "谢谢分享");
}

/// Activity dropping by decay alone: two chats a day on days 85–95 (S ≈ 14, `activity/high`), then
/// nothing: S < 8 on day ≈ 101 (`activity/medium`) and S < 2 on day ≈ 115 (`activity/low`). Growing
/// during the burst, `lifecycle/silent` from day 108.45; the last event stays under 30 days old.
fn fading_1(s: &mut Script) {
    s.chat(60.10, GREETING);
    s.chat(70.10, "学习了");
    s.chats(85.10, 95.10, 1.0, NEUTRAL);
    s.chats(85.45, 95.45, 1.0, NEUTRAL);
}

/// `trait/price-sensitive` on with the third promo order (day 18.4: F = 3, P = 1) and off with a full
/// price order (day 25.4: P = 0.75). Keeps asking about prices (`intent/price`). Mature, then
/// `lifecycle/dormant` from day 115.4; `rfm/general-retain` (R ≈ 95, F = 4, M = 276); V = 0.4 + 0.9 +
/// 0.2 + 0.3 = 1.8, `value/low`.
fn bargain_1(s: &mut Script) {
    const ASKS: &[&str] = &[
        "有优惠吗？",
        "会员有折扣吗",
        "能便宜点吗",
        "这个多少钱一盒？",
        "双十一有折扣吗",
    ];
    s.chat(2.10, GREETING);
    s.chat(4.10, ASKS[0]);
    s.order(5.40, 49, true, "食品生鲜");
    s.chat(10.10, ASKS[1]);
    s.order(11.40, 39, true, "食品生鲜");
    s.order(18.40, 59, true, "食品生鲜");
    s.order(25.40, 129, false, "食品生鲜");
    s.chats(33.10, 113.10, 8.0, ASKS);
}

/// `rfm/general-value`: four orders of 128–175 yuan (one with promo), the last on day 108.4. R ≤ 30,
/// F = 4, M = 610, AOV = 152.5, P = 0.25: V = (0.8 + 0.9 + 0.2 + 0.5) × 1.5 = 3.6, `value/medium`;
/// `lifecycle/mature` from the third order. Activity hysteresis: the last order lifts S above 3
/// (`activity/medium`) and weekly chats keep it in 2.5–3, where medium holds.
fn regular_1(s: &mut Script) {
    s.chat(30.10, GREETING);
    s.order(45.40, 128, true, "服饰");
    s.order(70.40, 139, false, "服饰");
    s.order(90.40, 168, false, "服饰");
    s.order(108.40, 175, false, "服饰");
    s.chats(33.10, 117.10, 7.0, NEUTRAL);
}

/// `intent/purchase` needs 2 hits within 7 days: the lone hit on day 60.4 tags nothing, the hits on
/// days 98.4 and 101.4 do (TTL 30 d, still on at the end). One 12,800-yuan order on day 103.4:
/// `rfm/important-develop`, V = (1.6 + 0.3 + 1.0 + 0.5) × 1.5 = 5.1, `value/high`; `lifecycle/silent`.
/// The order lifts S above 3 and chats every 4 days keep it ≥ 2.5: `activity/medium`.
fn bigticket_1(s: &mut Script) {
    s.chat(55.10, GREETING);
    s.chat(60.40, "请问线下课程怎么报名？");
    s.chats(63.10, 95.10, 8.0, NEUTRAL);
    s.chat(98.40, "这台相机怎么买？官方有货吗");
    s.chat(101.40, "付款方式支持分期吗");
    s.order(103.40, 12800, false, "数码");
    s.chats(107.10, 119.10, 4.0, NEUTRAL);
}

/// A refund cancels its paid order: two orders (1,500 + 1,200 yuan) make `rfm/important-develop` with
/// V = (1.2 + 0.6 + 1.0 + 0.5) × 1.5 = 4.95 (`value/high`); refunding the first on day 106.4 leaves F = 1,
/// M = 1,200: `rfm/general-develop`, V = 3.9, `value/medium`. Complains about the refund on days 110.4
/// and 117.4: `service/complaint` still on at the end. New until day 102.1, then `lifecycle/silent`.
/// The orders lift S above 3 and the chats keep it ≥ 2.4: `activity/medium`.
fn refund_1(s: &mut Script) {
    s.chat(95.10, GREETING);
    let first = s.order(100.40, 1500, false, "家居");
    s.order(104.40, 1200, false, "家居");
    s.refund(106.40, first);
    s.chat(110.40, "退款什么时候到账？");
    s.chat(112.10, "好的谢谢");
    s.chat(117.40, "再不处理我就投诉了");
}

/// Everyday community chat with none of the rule pack's keywords (a test keeps it that way).
#[rustfmt::skip]
const NEUTRAL: &[&str] = &[
    "大家早上好", "收到，谢谢群主", "今天的直播几点开始？", "这个活动还有名额吗", "谢谢分享", "好的，明白了",
    "早上好呀[太阳]", "群主辛苦了", "晚上好各位", "请问今天发货吗？", "快递什么时候能到呀", "学习了",
    "已经收到货了，包装很用心", "这个颜色好看", "有没有人一起拼团", "昨天的直播有回放吗？", "回放在哪里看",
    "老师讲得太好了", "打卡第3天", "今日打卡✅", "感谢老师的耐心解答", "这个怎么用啊？", "说明书在哪里下载",
    "小程序打不开怎么办", "链接失效了，能再发一次吗", "明天几点开团？", "我在外地，能寄过来吗", "支持顺丰吗",
    "有没有小一点的尺码", "宝宝8个月能用吗", "孩子很喜欢", "试用装还有吗", "周末有线下活动吗", "地址在哪里？",
    "群里好热闹", "欢迎新朋友", "哈哈哈哈", "👍👍👍", "[强][强]", "[玫瑰]", "OK 收到", "ok的", "thanks~",
    "Good morning ☀️", "nice！", "这个 app 怎么登录", "会员积分怎么查", "积分可以换什么", "今天天气真好",
    "大家周末愉快", "中秋快乐🥮", "国庆去哪里玩？", "我也想知道", "同问", "+1", "蹲一个回复", "已关注公众号",
    "已转发朋友圈", "群主能拉我朋友进群吗", "可以开发票吗", "发票抬头怎么改", "客服在吗？", "在吗",
    "早点休息，晚安🌙", "明天见", "下周的课程表发一下", "作业已提交", "老师，这题我不会", "第二节课的资料在哪里",
    "直播间卡了", "声音听不到", "好的谢谢", "辛苦了🙏", "这款和上次那款有什么区别？", "成分表能发一下吗",
    "保质期多久？", "适合敏感肌吗", "孕妇可以用吗", "今天几点截团", "我先看看", "等我下班再看",
    "刚下班，回看一下", "周末带娃去了", "这个群好多干货", "求推荐适合新手的", "有没有教程视频",
    "上次说的资料还有吗", "感谢群主的小礼物🎁", "抽奖什么时候开奖", "我中奖了吗？", "恭喜恭喜🎉",
];

/// Greetings of a user's first chat.
#[rustfmt::skip]
const GREETINGS: &[&str] = &[
    GREETING, "大家好，新人报到", "朋友推荐进来的，大家好", "你好，刚加入", "hello 大家好", "扫码进群的，请多指教",
];

/// Sentences that hit `intent/price` (价格, 多少钱, 优惠, 折扣, 便宜, price).
#[rustfmt::skip]
const PRICE_TALK: &[&str] = &[
    "这个多少钱？", "现在什么价格", "有优惠吗？", "会员有折扣吗", "能便宜点吗", "价格能再低一点吗",
    "团购价多少钱一份", "双十一有折扣吗", "老客户有没有优惠券", "比上次贵了，能便宜点不", "PRICE 多少？",
    "what's the price?", "price list 发一下", "这个价格包邮吗", "满减优惠怎么算", "两件打几折？有折扣吗",
    "学生有优惠吗", "直播间价格和小程序一样吗", "多少钱一盒", "有没有更便宜的套餐", "Price 能私聊吗",
    "优惠码在哪里领",
];

/// Sentences that hit `intent/purchase` (购买, 下单, 怎么买, 报名, 付款, buy).
#[rustfmt::skip]
const PURCHASE_TALK: &[&str] = &[
    "怎么买？", "在哪里下单", "我想购买两份", "已付款，请查收", "报名了！", "怎么报名呀", "付款失败了怎么办",
    "buy 链接在哪", "I want to buy one", "下单了，什么时候发货", "想买，怎么买比较划算", "帮我留一份，晚上付款",
    "已经报名，等开课", "购买后多久到？", "BUY NOW 链接发一下", "小程序里怎么下单", "给我妈也购买一份",
];

/// Sentences that hit `service/complaint` (投诉, 退款, 差评, refund).
#[rustfmt::skip]
const COMPLAINT_TALK: &[&str] = &[
    "我要投诉", "东西坏了，申请退款", "退款怎么还没到账？", "客服不回消息，我要差评", "给差评了",
    "质量太差，要求退款", "refund please", "Refund 进度能查吗", "再不处理就投诉了", "发错货了，怎么退款",
    "申请退款三天了没人理", "已经投诉到平台了",
];

// Vocabulary of chat decorations, clicks, orders and the extra fields some events carry.
#[rustfmt::skip]
const EMOJI: &[&str] = &["😄", "👍", "🙏", "🌹", "🎉", "😂", "❤️", "[微笑]", "[抱拳]", "[强]", "[玫瑰]", "[愉快]", "~"];
#[rustfmt::skip]
const MENUS: &[&str] = &["会员中心", "积分商城", "领券中心", "我的订单", "新人福利", "直播预约", "联系客服", "课程表"];
#[rustfmt::skip]
const CHANNELS: &[&str] = &["group", "moments", "official_account", "mini_program", "private_chat", "qr_code"];
#[rustfmt::skip]
const CATEGORIES: &[&str] = &["美妆护肤", "母婴", "课程", "食品生鲜", "服饰", "数码", "家居", "会员卡"];
#[rustfmt::skip]
const CITIES: &[&str] = &["上海", "杭州", "北京", "深圳", "广州", "成都", "南京", "武汉", "苏州", "西安", "重庆", "长沙"];
#[rustfmt::skip]
const STAFF: &[&str] = &["zhangwei", "li.na", "wang_fang", "liuyang", "chenjing", "yangmin", "zhaolei", "huangli"];
const APP_VERSIONS: &[&str] = &["8.0.49", "8.0.50", "8.0.51", "4.1.22", "4.1.26"];

// What broken lines look like.
const NOT_JSON: &[&str] = &[
    "ERROR upstream timeout while reading partition 3",
    "<html><body>502 Bad Gateway</body></html>",
    "type=chat user_id=wm_1 text=hello",
    "null",
    "[]",
];
#[rustfmt::skip]
const BAD_TS: &[&str] = &["\"yesterday\"", "\"2026-13-45T25:61:00Z\"", "null", "\"2026/09/01 10:00:00\"", "\"\"", "true"];
const UNKNOWN_TYPES: &[&str] = &["view", "share", "login", "heartbeat"];

/// How an invalid line is broken; every kind makes a line that SPEC.md's decoder must dead-letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flaw {
    None,
    NotJson,
    Truncated,
    NoUserId,
    LongUserId,
    UnknownType,
    BadTs,
    NoBody,
    NegativeAmount,
    AmountAsString,
}

const FLAWS: [Flaw; 9] = [
    Flaw::NotJson,
    Flaw::Truncated,
    Flaw::NoUserId,
    Flaw::LongUserId,
    Flaw::UnknownType,
    Flaw::BadTs,
    Flaw::NoBody,
    Flaw::NegativeAmount,
    Flaw::AmountAsString,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TsStyle {
    China,
    Utc,
    EpochMs,
}

/// A refund scheduled when its order was written; the heap orders them by `due`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Refund {
    due: i64,
    user: u32,
    order_ts: i64,
    order_seq: u64,
    cents: u64,
}

/// One line of the current hour, before it is sorted and written.
enum What {
    Join(u32),
    Random(u32),
    Refund(Refund),
    Persona(usize),
}

struct PersonaEvent {
    ts: i64,
    persona: usize,
    act: Act,
}

/// Runs the persona scripts and puts their steps on the stream's timeline (day 120 = `end_ms`), sorted.
fn persona_events(start_ms: i64, end_ms: i64) -> Vec<PersonaEvent> {
    let mut events = Vec::new();
    for (persona, p) in PERSONAS.iter().enumerate() {
        let mut script = Script::default();
        (p.script)(&mut script);
        // Steps before the start are left out; refunds are renumbered to the orders that remain.
        let mut kept: Vec<Option<usize>> = Vec::new();
        for (day, mut act) in script.steps {
            let ts = end_ms - ((120.0 - day) * DAY_MS as f64 / 1000.0).round() as i64 * 1000;
            let kept_so_far = kept.iter().flatten().count();
            match &mut act {
                Act::Order { .. } => kept.push((ts >= start_ms).then_some(kept_so_far)),
                Act::Refund(k) => match kept[*k] {
                    Some(n) => *k = n,
                    None => continue,
                },
                _ => {}
            }
            if ts >= start_ms {
                events.push(PersonaEvent { ts, persona, act });
            }
        }
    }
    events.sort_by_key(|e| e.ts);
    events
}

struct Gen<'o> {
    o: &'o GenOptions,
    rng: Rng,
    salt: u64,
    end_ms: i64,
    hour_end: i64,
    users: Vec<User>,
    /// Largest `ts` written so far (late events do not move it).
    clock: i64,
    /// Lines written: makes event ids unique.
    seq: u64,
    order_seq: u64,
    /// Invalid and late lines still owed to reach their per-mille shares.
    invalid_debt: f64,
    late_debt: f64,
    refunds: BinaryHeap<Reverse<Refund>>,
    personas: Vec<PersonaEvent>,
    /// Per persona: (ts, sequence, cents) of its orders so far, for its refunds.
    persona_orders: Vec<Vec<(i64, u64, u64)>>,
    buf: Vec<u8>,
    stats: GenStats,
}

impl<'o> Gen<'o> {
    fn new(o: &'o GenOptions) -> Self {
        let mut rng = Rng::new(o.seed);
        let salt = rng.next_u64();
        let span = i64::from(o.days) * DAY_MS;
        let end_ms = o.start_ms + span;
        let n = if span > 0 { o.users.min(o.events) } else { 0 };
        let rooms = (n / 40 + 1).min(5_000) as u32;
        let users = (0..n)
            .map(|_| make_user(&mut rng, o.start_ms, span, rooms))
            .collect();
        let personas = if o.personas {
            persona_events(o.start_ms, end_ms)
        } else {
            Vec::new()
        };
        Gen {
            o,
            rng,
            salt,
            end_ms,
            hour_end: o.start_ms,
            users,
            clock: o.start_ms,
            seq: 0,
            order_seq: 0,
            invalid_debt: 0.0,
            late_debt: 0.0,
            refunds: BinaryHeap::new(),
            personas,
            persona_orders: vec![Vec::new(); PERSONAS.len()],
            buf: Vec::with_capacity(1 << 16),
            stats: GenStats::default(),
        }
    }

    fn run(mut self, out: &mut impl Write) -> io::Result<GenStats> {
        let (start, hours) = (self.o.start_ms, self.o.days as usize * 24);
        let total_rhythm: f64 = (0..hours).map(|h| rhythm(start + h as i64 * HOUR_MS)).sum();
        let by = |key: fn(&User) -> i64, users: &[User]| {
            let mut order: Vec<u32> = (0..users.len() as u32).collect();
            order.sort_by_key(|&u| key(&users[u as usize]));
            order
        };
        let joins = by(|u| u.join_ms, &self.users);
        let leaves = by(|u| u.leave_ms, &self.users);
        let mut active = Fenwick::new(self.users.len());
        let (mut next_join, mut next_leave, mut next_persona) = (0, 0, 0);
        let (mut cum_rhythm, mut planned_before, mut owed) = (0.0, 0i64, 0i64);
        let mut batch: Vec<(i64, What)> = Vec::new();
        for h in 0..hours {
            let t0 = start + h as i64 * HOUR_MS;
            let t1 = t0 + HOUR_MS;
            self.hour_end = t1;
            // This hour's share of the events, rounded so that the shares add up to `events`.
            cum_rhythm += rhythm(t0);
            let planned = (cum_rhythm / total_rhythm * self.o.events as f64).round() as i64;
            let quota = planned - planned_before;
            planned_before = planned;
            owed += quota;
            while let Some(&u) = leaves
                .get(next_leave)
                .filter(|&&u| self.users[u as usize].leave_ms < t0)
            {
                active.add(
                    u as usize,
                    u64::from(self.users[u as usize].weight).wrapping_neg(),
                );
                next_leave += 1;
            }
            while let Some(&u) = joins
                .get(next_join)
                .filter(|&&u| self.users[u as usize].join_ms < t1)
            {
                active.add(u as usize, u64::from(self.users[u as usize].weight));
                batch.push((self.users[u as usize].join_ms, What::Join(u)));
                owed -= 1;
                next_join += 1;
            }
            while let Some(Reverse(r)) =
                self.refunds.peek().copied().filter(|Reverse(r)| r.due < t1)
            {
                self.refunds.pop();
                batch.push((r.due, What::Refund(r)));
                owed -= 1;
            }
            while let Some(e) = self.personas.get(next_persona).filter(|e| e.ts < t1) {
                batch.push((e.ts, What::Persona(next_persona)));
                next_persona += 1;
            }
            // A backlog (no one active yet) is paid off gradually rather than in one burst.
            let cap = if h + 1 == hours { owed } else { 2 * quota + 2 };
            let draws = if active.total > 0 {
                owed.min(cap).max(0)
            } else {
                0
            };
            for _ in 0..draws {
                let u = active.find(self.rng.below(active.total));
                let lo = (self.users[u].join_ms + 1).clamp(t0, t1 - 1);
                let ts = lo + self.rng.below((t1 - lo) as u64) as i64;
                batch.push((self.rng.stamp(ts).max(t0), What::Random(u as u32)));
            }
            owed -= draws;
            batch.sort_by_key(|s| s.0);
            for (ts, what) in batch.drain(..) {
                self.emit(ts, what);
            }
            out.write_all(&self.buf)?;
            self.buf.clear();
        }
        let personas: HashSet<usize> = self.personas.iter().map(|e| e.persona).collect();
        self.stats.users = (self.users.len() + personas.len()) as u64;
        Ok(self.stats)
    }

    /// Writes one line; random events may come out late or broken, at the asked shares.
    fn emit(&mut self, mut ts: i64, what: What) {
        let mut flaw = Flaw::None;
        if !matches!(what, What::Persona(_)) {
            self.invalid_debt += f64::from(self.o.invalid_per_mille) / 1000.0;
            self.late_debt += f64::from(self.o.late_per_mille) / 1000.0;
        }
        if let What::Random(_) = what {
            if self.rng.unit() < self.late_debt {
                self.late_debt -= 1.0;
                let delay = self
                    .rng
                    .log_uniform(2.0 * MINUTE_MS as f64, 6.0 * HOUR_MS as f64);
                ts = self
                    .rng
                    .stamp(self.clock - delay as i64)
                    .max(self.o.start_ms);
            }
            if self.rng.unit() < self.invalid_debt {
                self.invalid_debt -= 1.0;
                flaw = self.rng.pick(&FLAWS);
            }
        }
        self.clock = self.clock.max(ts);
        self.seq += 1;
        let line_start = self.buf.len();
        match what {
            What::Persona(i) => self.emit_persona(i),
            What::Join(u) => self.emit_join(u, ts),
            What::Random(u) => self.emit_random(u, ts, flaw),
            What::Refund(r) => {
                let style = self.ts_style();
                self.envelope("order", Ok(r.user), r.due, style, Flaw::None);
                self.order_head(r.order_ts, r.order_seq, r.cents, Flaw::None);
                self.field("status", "refunded");
            }
        }
        if flaw == Flaw::Truncated {
            let len = self.buf.len() - line_start;
            let mut cut = line_start + len * (3 + self.rng.below(5) as usize) / 10;
            while self.buf[cut] & 0xC0 == 0x80 {
                cut -= 1;
            }
            self.buf.truncate(cut);
        } else if flaw != Flaw::NotJson {
            self.buf.push(b'}');
        }
        self.buf.push(b'\n');
        self.stats.lines += 1;
        if flaw == Flaw::None {
            self.stats.valid += 1;
        } else {
            self.stats.invalid += 1;
        }
    }

    /// Writes `{"type":…,"user_id":…,"ts":…[,"event_id":…]` with the envelope flaws applied.
    fn envelope(&mut self, ty: &str, user: Result<u32, &str>, ts: i64, style: TsStyle, flaw: Flaw) {
        let b = &mut self.buf;
        let ty = if flaw == Flaw::UnknownType {
            self.rng.pick(UNKNOWN_TYPES)
        } else {
            ty
        };
        b.extend_from_slice(b"{\"type\":\"");
        b.extend_from_slice(ty.as_bytes());
        b.push(b'"');
        if flaw != Flaw::NoUserId {
            b.extend_from_slice(b",\"user_id\":\"");
            match user {
                Ok(u) => push_user_id(b, self.salt, u, self.users[u as usize].flags & OPENID != 0),
                Err(name) => b.extend_from_slice(name.as_bytes()),
            }
            if flaw == Flaw::LongUserId {
                b.extend_from_slice(&[b'x'; 130]);
            }
            b.push(b'"');
        }
        b.extend_from_slice(b",\"ts\":");
        if flaw == Flaw::BadTs {
            b.extend_from_slice(self.rng.pick(BAD_TS).as_bytes());
        } else {
            push_ts(b, ts, style);
        }
        if user.is_err() || self.rng.chance(0.93) {
            b.extend_from_slice(match ty {
                "chat" => b",\"event_id\":\"c-",
                "click" => b",\"event_id\":\"k-",
                _ => b",\"event_id\":\"o-",
            });
            push_u64(b, self.seq);
            b.push(b'"');
        }
    }

    /// `,"order_id":…,"amount":…`, the part that paid orders and their refunds share.
    fn order_head(&mut self, order_ts: i64, seq: u64, cents: u64, flaw: Flaw) {
        if flaw != Flaw::NoBody {
            push_order_id(&mut self.buf, order_ts, seq);
        }
        self.buf.extend_from_slice(b",\"amount\":");
        match flaw {
            Flaw::NegativeAmount => self.buf.push(b'-'),
            Flaw::AmountAsString => self.buf.push(b'"'),
            _ => {}
        }
        push_amount(&mut self.buf, cents);
        if flaw == Flaw::AmountAsString {
            self.buf.push(b'"');
        }
    }

    fn ts_style(&mut self) -> TsStyle {
        match self.rng.below(20) {
            0..=10 => TsStyle::China,
            11..=17 => TsStyle::Utc,
            _ => TsStyle::EpochMs,
        }
    }

    fn field(&mut self, key: &str, value: &str) {
        self.buf.extend_from_slice(b",\"");
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(b"\":\"");
        push_escaped(&mut self.buf, value);
        self.buf.push(b'"');
    }

    fn promo_field(&mut self, promo: bool) {
        self.buf.extend_from_slice(b",\"promo\":");
        self.buf
            .extend_from_slice(if promo { "true" } else { "false" }.as_bytes());
    }

    fn room_field(&mut self, room: u32) {
        self.buf.extend_from_slice(b",\"room_id\":\"wr");
        push_base62(
            &mut self.buf,
            mix(u64::from(room) ^ self.salt.rotate_left(17)),
        );
        self.buf.push(b'"');
    }

    /// A user's first event: a greeting in the group, or the click that brought them in.
    fn emit_join(&mut self, u: u32, ts: i64) {
        let style = self.ts_style();
        if self.rng.chance(0.65) {
            self.envelope("chat", Ok(u), ts, style, Flaw::None);
            let text = self.rng.skewed(GREETINGS);
            self.field("text", text);
            self.room_field(self.users[u as usize].room);
        } else {
            self.envelope("click", Ok(u), ts, style, Flaw::None);
            let target = self.rng.pick(&["menu:新人福利", "menu:会员中心"]);
            self.field("target", target);
            let channel = self.rng.pick(&["qr_code", "moments"]);
            self.field("channel", channel);
        }
    }

    fn emit_random(&mut self, u: u32, ts: i64, flaw: Flaw) {
        if flaw == Flaw::NotJson {
            let junk = self.rng.pick(NOT_JSON);
            self.buf.extend_from_slice(junk.as_bytes());
            return;
        }
        let User {
            chat_pm,
            order_pm,
            flags,
            room,
            city,
            ..
        } = self.users[u as usize];
        let r = self.rng.below(1000) as u16;
        let style = self.ts_style();
        if r < order_pm {
            self.envelope("order", Ok(u), ts, style, flaw);
            let cents = self.amount_cents();
            self.order_seq += 1;
            self.order_head(ts, self.order_seq, cents, flaw);
            if self.rng.chance(0.3) {
                self.field("status", "paid");
            }
            let promo = self.rng.chance(if flags & PRICE_SENSITIVE != 0 {
                0.9
            } else {
                0.15
            });
            if promo || self.rng.chance(0.3) {
                self.promo_field(promo);
            }
            if self.rng.chance(0.8) {
                let category = self.rng.skewed(CATEGORIES);
                self.field("category", category);
            }
            if flaw == Flaw::None && self.rng.chance(0.03) {
                self.schedule_refund(u, ts, cents);
            }
            return;
        }
        // The amount flaws need an order; other events lose their required field instead.
        let flaw = match flaw {
            Flaw::NegativeAmount | Flaw::AmountAsString => Flaw::NoBody,
            _ => flaw,
        };
        if r < order_pm + chat_pm {
            self.envelope("chat", Ok(u), ts, style, flaw);
            if flaw != Flaw::NoBody {
                self.chat_text(flags);
            }
            let in_room = self.rng.chance(0.75);
            if in_room {
                self.room_field(room);
            }
            if flags & HAS_STAFF != 0 && self.rng.chance(if in_room { 0.1 } else { 0.7 }) {
                let staff = self.rng.pick(STAFF);
                self.field("staff_id", staff);
            }
        } else {
            self.envelope("click", Ok(u), ts, style, flaw);
            if flaw != Flaw::NoBody {
                self.click_target();
            }
            if self.rng.chance(0.9) {
                let channel = self.rng.skewed(CHANNELS);
                let official = flags & OPENID != 0;
                self.field(
                    "channel",
                    if official {
                        "official_account"
                    } else {
                        channel
                    },
                );
            }
        }
        if city > 0 && self.rng.chance(0.25) {
            self.field("city", CITIES[city as usize - 1]);
        }
        if self.rng.chance(0.04) {
            let version = self.rng.skewed(APP_VERSIONS);
            self.field("app_version", version);
        }
    }

    /// Refunds come minutes to days after the order, never inside the hour being written.
    fn schedule_refund(&mut self, user: u32, order_ts: i64, cents: u64) {
        let delay = self
            .rng
            .log_uniform(10.0 * MINUTE_MS as f64, 10.0 * DAY_MS as f64) as i64;
        let next_hour = self.hour_end + self.rng.below(HOUR_MS as u64) as i64;
        let due = self
            .rng
            .stamp((order_ts + delay).max(next_hour))
            .max(self.hour_end);
        if due < self.end_ms {
            let order_seq = self.order_seq;
            self.refunds.push(Reverse(Refund {
                due,
                user,
                order_ts,
                order_seq,
                cents,
            }));
        }
    }

    /// Most orders 30–800 yuan, some 2,000–20,000, rare ones above 50,000; many prices end in .9.
    fn amount_cents(&mut self) -> u64 {
        let (lo, hi) = match self.rng.unit() {
            u if u < 0.003 => (50_000.0, 150_000.0),
            u if u < 0.06 => (2_000.0, 20_000.0),
            u if u < 0.12 => (800.0, 2_000.0),
            _ => (30.0, 800.0),
        };
        let cents = self.rng.log_uniform(lo, hi).round() as u64 * 100;
        cents - if self.rng.chance(0.4) { 10 } else { 0 }
    }

    fn chat_text(&mut self, flags: u8) {
        let price = if flags & PRICE_SENSITIVE != 0 {
            0.15
        } else {
            0.05
        };
        let list = match self.rng.unit() {
            u if u < price => PRICE_TALK,
            u if u < price + 0.03 => PURCHASE_TALK,
            u if u < price + 0.04 => COMPLAINT_TALK,
            _ => NEUTRAL,
        };
        self.buf.extend_from_slice(b",\"text\":\"");
        if self.rng.chance(0.03) {
            self.buf.extend_from_slice("@群主 ".as_bytes());
        }
        let text = self.rng.skewed(list);
        push_escaped(&mut self.buf, text);
        if self.rng.chance(0.15) {
            let emoji = self.rng.pick(EMOJI);
            push_escaped(&mut self.buf, emoji);
        }
        self.buf.push(b'"');
    }

    fn click_target(&mut self) {
        self.buf.extend_from_slice(b",\"target\":\"");
        match self.rng.below(20) {
            0..=7 => {
                let item = 1000 + (self.rng.unit().powi(3) * 4000.0) as u64;
                self.buf.extend_from_slice(b"item:");
                push_u64(&mut self.buf, item);
            }
            8..=12 => {
                let menu = self.rng.skewed(MENUS);
                self.buf.extend_from_slice(b"menu:");
                self.buf.extend_from_slice(menu.as_bytes());
            }
            13..=16 => {
                let article = mix((self.rng.unit().powi(2) * 500.0) as u64 ^ self.salt);
                self.buf
                    .extend_from_slice(b"link:https://mp.weixin.qq.com/s/");
                push_base62(&mut self.buf, article);
            }
            _ => {
                let item = 1000 + self.rng.below(4000);
                self.buf.extend_from_slice(b"page:pages/goods/detail?id=");
                push_u64(&mut self.buf, item);
            }
        }
        self.buf.push(b'"');
    }

    fn emit_persona(&mut self, i: usize) {
        let PersonaEvent { ts, persona, act } = self.personas[i];
        let (id, style) = (Err(PERSONAS[persona].id), TsStyle::China);
        match act {
            Act::Chat(text) => {
                self.envelope("chat", id, ts, style, Flaw::None);
                self.field("text", text);
                self.room_field(0);
            }
            Act::Click(target) => {
                self.envelope("click", id, ts, style, Flaw::None);
                self.field("target", target);
                self.field("channel", "group");
            }
            Act::Order {
                yuan,
                promo,
                category,
            } => {
                let cents = u64::from(yuan) * 100;
                self.order_seq += 1;
                self.persona_orders[persona].push((ts, self.order_seq, cents));
                self.envelope("order", id, ts, style, Flaw::None);
                self.order_head(ts, self.order_seq, cents, Flaw::None);
                self.promo_field(promo);
                self.field("category", category);
            }
            Act::Refund(k) => {
                let (order_ts, order_seq, cents) = self.persona_orders[persona][k];
                self.envelope("order", id, ts, style, Flaw::None);
                self.order_head(order_ts, order_seq, cents, Flaw::None);
                self.field("status", "refunded");
            }
        }
    }
}

fn push_u64(b: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    b.extend_from_slice(&tmp[i..]);
}

/// `n` in decimal, zero-padded to `width` digits.
fn push_padded(b: &mut Vec<u8>, n: u64, width: usize) {
    let start = b.len();
    push_u64(b, n);
    let len = b.len() - start;
    if len < width {
        b.splice(start..start, std::iter::repeat(b'0').take(width - len));
    }
}

fn push_base62(b: &mut Vec<u8>, mut n: u64) {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    loop {
        b.push(DIGITS[(n % 62) as usize]);
        n /= 62;
        if n == 0 {
            break;
        }
    }
}

/// WeCom-style external ids (`wm_` + 16 hex digits) or official-account openids (`o_` + base62); unique
/// because [`mix`] is a bijection.
fn push_user_id(b: &mut Vec<u8>, salt: u64, u: u32, openid: bool) {
    let h = mix(u64::from(u) ^ salt);
    if openid {
        b.extend_from_slice(b"o_");
        push_base62(b, h);
    } else {
        b.extend_from_slice(b"wm_");
        for shift in (0..16).rev() {
            b.push(b"0123456789abcdef"[(h >> (shift * 4)) as usize & 15]);
        }
    }
}

/// `,"order_id":"SO<China date><8-digit sequence>"`: unique through the sequence.
fn push_order_id(b: &mut Vec<u8>, ts: i64, seq: u64) {
    let (y, m, d) = civil_from_days((ts + CHINA_MS).div_euclid(DAY_MS));
    b.extend_from_slice(b",\"order_id\":\"SO");
    push_padded(b, y as u64, 4);
    push_padded(b, u64::from(m), 2);
    push_padded(b, u64::from(d), 2);
    push_padded(b, seq, 8);
    b.push(b'"');
}

fn push_amount(b: &mut Vec<u8>, cents: u64) {
    push_u64(b, cents / 100);
    if cents % 100 != 0 {
        b.push(b'.');
        push_padded(b, cents % 100, 2);
    }
}

/// `s` as the inside of a JSON string.
fn push_escaped(b: &mut Vec<u8>, s: &str) {
    for &c in s.as_bytes() {
        match c {
            b'"' | b'\\' => b.extend_from_slice(&[b'\\', c]),
            0..=0x1f => {
                b.extend_from_slice(b"\\u00");
                b.extend_from_slice(&[
                    b"0123456789abcdef"[(c >> 4) as usize],
                    b"0123456789abcdef"[(c & 15) as usize],
                ]);
            }
            _ => b.push(c),
        }
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// RFC 3339 in China time (`+08:00`) or UTC (`Z`), seconds or milliseconds, or integer epoch ms.
fn push_ts(b: &mut Vec<u8>, ms: i64, style: TsStyle) {
    let offset = match style {
        TsStyle::EpochMs => {
            if ms < 0 {
                b.push(b'-');
            }
            return push_u64(b, ms.unsigned_abs());
        }
        TsStyle::China => CHINA_MS,
        TsStyle::Utc => 0,
    };
    let local = ms + offset;
    let (y, m, d) = civil_from_days(local.div_euclid(DAY_MS));
    let in_day = local.rem_euclid(DAY_MS) as u64;
    b.push(b'"');
    push_padded(b, y as u64, 4);
    for (sep, n) in [
        (b'-', u64::from(m)),
        (b'-', u64::from(d)),
        (b'T', in_day / 3_600_000),
    ] {
        b.push(sep);
        push_padded(b, n, 2);
    }
    for n in [in_day / 60_000 % 60, in_day / 1000 % 60] {
        b.push(b':');
        push_padded(b, n, 2);
    }
    if in_day % 1000 != 0 {
        b.push(b'.');
        push_padded(b, in_day % 1000, 3);
    }
    b.extend_from_slice(if offset == 0 { b"Z\"" } else { b"+08:00\"" });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::{HashMap, HashSet};

    fn run(o: &GenOptions) -> (Vec<u8>, GenStats) {
        let mut out = Vec::new();
        let stats = generate(o, &mut out).unwrap();
        (out, stats)
    }

    fn opts(users: u64, events: u64, days: u32) -> GenOptions {
        GenOptions {
            users,
            events,
            days,
            seed: 42,
            ..GenOptions::default()
        }
    }

    /// SPEC.md's input rules: `Some((user_id, ts))` for a line the decoder must accept.
    fn accept(line: &[u8]) -> Option<(String, i64)> {
        let v: Value = serde_json::from_slice(line).ok()?;
        let user = v
            .get("user_id")?
            .as_str()
            .filter(|u| (1..=128).contains(&u.len()))?;
        let ts = match v.get("ts")? {
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .ok()?
                .timestamp_millis(),
            n => n.as_i64()?,
        };
        let text = |k: &str| v.get(k).is_some_and(Value::is_string);
        let ok = v.get("event_id").map_or(true, Value::is_string)
            && match v.get("type")?.as_str()? {
                "chat" => text("text"),
                "click" => text("target"),
                "order" => {
                    text("order_id")
                        && v.get("amount")?.as_f64()? >= 0.0
                        && v.get("status")
                            .map_or(true, |s| s == "paid" || s == "refunded")
                        && v.get("promo").map_or(true, Value::is_boolean)
                }
                _ => false,
            };
        ok.then(|| (user.to_owned(), ts))
    }

    fn lines(out: &[u8]) -> impl Iterator<Item = &[u8]> {
        out.split(|&b| b == b'\n').filter(|l| !l.is_empty())
    }

    #[test]
    fn same_seed_same_bytes() {
        let o = GenOptions {
            personas: true,
            ..opts(300, 6_000, 120)
        };
        assert_eq!(run(&o).0, run(&o).0);
        assert_ne!(run(&o).0, run(&GenOptions { seed: 43, ..o }).0);
    }

    #[test]
    fn invalid_lines_come_at_the_asked_share() {
        let o = GenOptions {
            invalid_per_mille: 20,
            ..opts(2_000, 40_000, 20)
        };
        let (out, stats) = run(&o);
        let all: Vec<&[u8]> = lines(&out).collect();
        let invalid = all.iter().filter(|l| accept(l).is_none()).count() as u64;
        assert_eq!(all.len() as u64, stats.lines);
        assert_eq!(invalid, stats.invalid);
        assert_eq!(stats.valid + stats.invalid, stats.lines);
        let per_mille = invalid * 1000 / stats.lines;
        assert!(
            (18..=22).contains(&per_mille),
            "{per_mille} per mille invalid"
        );
    }

    #[test]
    fn only_late_events_go_back_in_time() {
        for late_per_mille in [0, 10] {
            let (out, stats) = run(&GenOptions {
                late_per_mille,
                ..opts(1_000, 30_000, 10)
            });
            let (mut clock, mut back) = (i64::MIN, 0u64);
            for (_, ts) in lines(&out).filter_map(accept) {
                back += u64::from(ts < clock);
                clock = clock.max(ts);
            }
            let expected = stats.valid * u64::from(late_per_mille) / 1000;
            assert!(
                back.abs_diff(expected) <= expected / 5,
                "{back} late, expected about {expected}"
            );
        }
    }

    #[test]
    fn users_and_events_are_as_asked() {
        let (out, stats) = run(&opts(3_000, 30_000, 14));
        let mut per_user: HashMap<String, u64> = HashMap::new();
        for (user, _) in lines(&out).filter_map(accept) {
            *per_user.entry(user).or_default() += 1;
        }
        assert_eq!(per_user.len(), 3_000);
        assert_eq!(stats.users, 3_000);
        assert!(stats.lines.abs_diff(30_000) <= 300, "{} lines", stats.lines);
        // Skewed: a tail seen once, a few heavy chatters.
        let mut counts: Vec<u64> = per_user.into_values().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let once = counts.iter().filter(|&&c| c == 1).count();
        let top: u64 = counts[..30].iter().sum();
        assert!(once > 600, "{once} users seen once");
        assert!(
            top * 100 > stats.valid * 15,
            "top 1% wrote {top} of {}",
            stats.valid
        );
    }

    #[test]
    fn personas_appear_only_when_asked() {
        let with = GenOptions {
            personas: true,
            ..opts(50, 1_000, 120)
        };
        let (out, stats) = run(&with);
        let users: HashSet<String> = lines(&out).filter_map(accept).map(|(u, _)| u).collect();
        for p in PERSONAS {
            assert!(users.contains(p.id), "{} missing", p.id);
        }
        assert_eq!(stats.users, 50 + PERSONAS.len() as u64);
        let (out, _) = run(&GenOptions {
            personas: false,
            ..with
        });
        assert!(!String::from_utf8(out).unwrap().contains("persona_"));
    }

    const KEYWORDS: [&[&str]; 3] = [
        &["价格", "多少钱", "优惠", "折扣", "便宜", "price"],
        &["购买", "下单", "怎么买", "报名", "付款", "buy"],
        &["投诉", "退款", "差评", "refund"],
    ];

    fn hits(text: &str, tag: usize) -> bool {
        KEYWORDS[tag]
            .iter()
            .any(|k| text.to_lowercase().contains(k))
    }

    #[test]
    fn phrase_lists_keep_keywords_apart() {
        for text in NEUTRAL.iter().chain(GREETINGS) {
            assert!((0..3).all(|t| !hits(text, t)), "{text} hits a keyword");
        }
        for (tag, list) in [PRICE_TALK, PURCHASE_TALK, COMPLAINT_TALK]
            .into_iter()
            .enumerate()
        {
            assert!(list.iter().all(|text| hits(text, tag)), "{list:?}");
        }
    }

    /// The RULEPACK.md section 4 arithmetic, from the scripts, against each persona's final tags.
    #[test]
    fn persona_orders_give_their_rfm_and_value_tags() {
        for p in PERSONAS {
            let mut script = Script::default();
            (p.script)(&mut script);
            let mut orders = Vec::new();
            for &(day, act) in &script.steps {
                match act {
                    Act::Order { yuan, promo, .. } => {
                        orders.push(Some((day, f64::from(yuan), promo)))
                    }
                    Act::Refund(k) => orders[k] = None,
                    _ => {}
                }
            }
            let paid: Vec<(f64, f64, bool)> = orders.into_iter().flatten().collect();
            let tag = |group: &str| p.final_tags.iter().copied().find(|t| t.starts_with(group));
            if paid.is_empty() {
                assert_eq!((tag("rfm/"), tag("value/")), (None, None), "{}", p.id);
                continue;
            }
            let r = 120.0 - paid.iter().map(|o| o.0).fold(0.0, f64::max);
            let f = paid.len();
            let m: f64 = paid.iter().map(|o| o.1).sum();
            let share = paid.iter().filter(|o| o.2).count() as f64 / f as f64;
            let g_m = 1 + [500.0, 2_000.0, 10_000.0, 50_000.0]
                .iter()
                .filter(|&&t| m >= t)
                .count();
            let g_f = 1 + [2, 3, 5, 10].iter().filter(|&&t| f >= t).count();
            let g_aov = match m / f as f64 {
                a if a < 200.0 => 1,
                a if a <= 500.0 => 3,
                _ => 5,
            };
            let g_p = if share > 0.8 {
                1
            } else if share >= 0.5 {
                3
            } else {
                5
            };
            let v = (0.4 * g_m as f64
                + 0.3 * g_f as f64
                + 0.2 * f64::from(g_aov)
                + 0.1 * f64::from(g_p))
                * if r <= 30.0 { 1.5 } else { 1.0 };
            let kind = match (r <= 90.0, g_f >= 3) {
                (true, true) => "value",
                (true, false) => "develop",
                (false, true) => "retain",
                (false, false) => "winback",
            };
            let segment = format!(
                "rfm/{}-{kind}",
                if g_m >= 3 { "important" } else { "general" }
            );
            let tier = if v >= 4.0 {
                "value/high"
            } else if v >= 2.5 {
                "value/medium"
            } else {
                "value/low"
            };
            assert_eq!(tag("rfm/"), Some(segment.as_str()), "{}", p.id);
            assert_eq!(tag("value/"), Some(tier), "{} V = {v}", p.id);
            let sensitive = (f >= 3 && share > 0.8).then_some("trait/price-sensitive");
            assert_eq!(tag("trait/"), sensitive, "{}", p.id);
        }
    }

    #[test]
    fn hysteresis_persona_ends_growing_on_fewer_than_six_chats() {
        let mut script = Script::default();
        hysteresis_1(&mut script);
        let chats = |from: f64, to: f64| {
            script
                .steps
                .iter()
                .filter(|(d, _)| *d > from && *d <= to)
                .count()
        };
        assert_eq!(chats(106.0, 120.0), 5);
        assert!(chats(113.0, 120.0) >= 3);
    }
}
