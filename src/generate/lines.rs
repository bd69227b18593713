//! Writing one line of each kind: joins, random chats, clicks and orders, refunds, persona steps,
//! and the flaws that make a random line late or invalid.

use super::json::{
    push_amount, push_base62, push_escaped, push_order_id, push_ts, push_u64, push_user_id, TsStyle,
};
use super::personas::{Act, PersonaEvent, PERSONAS};
use super::phrases::{
    APP_VERSIONS, BAD_TS, CATEGORIES, CHANNELS, CITIES, COMPLAINT_TALK, EMOJI, GREETINGS, MENUS,
    NEUTRAL, NOT_JSON, PRICE_TALK, PURCHASE_TALK, STAFF, UNKNOWN_TYPES,
};
use super::population::{User, HAS_STAFF, OPENID, PRICE_SENSITIVE};
use super::random::mix;
use super::{Gen, What, HOUR_MS, MINUTE_MS};

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

impl Gen<'_> {
    /// Writes one line; random events may come out late or broken, at the asked shares.
    pub(super) fn emit(&mut self, mut ts: i64, what: What) {
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
