//! The scripted persona users: each script is a timeline of chats, clicks, orders and refunds over
//! the last 120 days of the stream, written to make some tags of the default rule pack happen, with
//! the tags it should end with.

use super::phrases::{GREETING, NEUTRAL};
use super::DAY_MS;

/// One scripted action of a persona.
#[derive(Debug, Clone, Copy)]
pub(super) enum Act {
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
/// `lifecycle/mature` from the third order. Activity hysteresis: each order lifts S above 3
/// (`activity/medium`) and between orders it decays below 2 (`activity/low`); after the last order
/// (S ≈ 4.8) weekly chats keep it above 2 (≈ 2.6 at the end), where medium holds.
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

pub(super) struct PersonaEvent {
    pub(super) ts: i64,
    pub(super) persona: usize,
    pub(super) act: Act,
}

/// Runs the persona scripts and puts their steps on the stream's timeline (day 120 = `end_ms`), sorted.
pub(super) fn persona_events(start_ms: i64, end_ms: i64) -> Vec<PersonaEvent> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
