//! The order ledger RFM needs: paid orders by id, refunds cancelling them.
//!
//! Orders are keyed by a 64-bit hash of `order_id`, so a replayed or duplicated `paid` event
//! counts once, and a `refunded` event cancels its paid order whichever arrives first. Entries
//! older than [`LEDGER_RETENTION_MS`] fold into all-time totals.

use std::cell::Cell;

use serde::{Deserialize, Serialize};

use super::compact::{Reader, Writer};
use super::Slots;
use crate::config::duration::DAY_MS;

pub const LEDGER_RETENTION_MS: i64 = 400 * DAY_MS;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OrderEntry {
    pub id_hash: u64,
    /// Time of the paid event (of the refund, when no paid event was seen).
    pub ts: i64,
    pub amount: f64,
    pub paid: bool,
    pub refunded: bool,
    pub promo: bool,
}

impl OrderEntry {
    /// A paid order that no refund cancelled.
    pub fn counts(&self) -> bool {
        self.paid && !self.refunded
    }
}

/// Totals over the orders of one window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OrderStats {
    pub count: i64,
    pub amount: f64,
    pub promo: i64,
    /// Latest paid order, if any.
    pub last: Option<i64>,
    /// Earliest paid order in the window (the next to leave it).
    pub first: Option<i64>,
}

impl OrderStats {
    /// The share of orders bought on promotion; 0 without orders.
    pub fn promo_share(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.promo as f64 / self.count as f64
        }
    }

    /// Amount per order; 0 without orders.
    pub fn average(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.amount / self.count as f64
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ledger {
    entries: Slots<OrderEntry>,
    /// Paid orders folded out of `entries` by retention.
    archived_paid: u32,
    /// Latest of those, 0 when none.
    archived_last: i64,
    /// The paid, unrefunded orders of `entries` and the latest of them, counted when first
    /// asked for and kept until an order changes the entries: lifecycle asks on every event,
    /// and a very active user has hundreds of orders. Never saved.
    #[serde(skip)]
    live: Cell<Option<(i64, Option<i64>)>>,
}

impl PartialEq for Ledger {
    fn eq(&self, other: &Ledger) -> bool {
        self.entries == other.entries
            && self.archived_paid == other.archived_paid
            && self.archived_last == other.archived_last
    }
}

pub fn hash_order_id(order_id: &str) -> u64 {
    crate::hash::fnv1a(order_id.as_bytes())
}

impl Ledger {
    /// Applies an order event. Returns `true` when the ledger changed.
    pub fn apply(&mut self, order_id: &str, ts: i64, amount: f64, paid: bool, promo: bool) -> bool {
        self.live.set(None);
        let id_hash = hash_order_id(order_id);
        if let Some(e) = self.entries.iter_mut().find(|e| e.id_hash == id_hash) {
            if paid && !e.paid {
                e.paid = true;
                e.ts = ts;
                e.amount = amount;
                e.promo = promo;
                return true;
            }
            if !paid && !e.refunded {
                e.refunded = true;
                return true;
            }
            return false;
        }
        self.entries.push(OrderEntry {
            id_hash,
            ts,
            amount: if paid { amount } else { 0.0 },
            paid,
            refunded: !paid,
            promo: paid && promo,
        });
        true
    }

    /// Folds entries older than the retention into the all-time totals.
    pub fn prune(&mut self, now: i64) {
        let cutoff = now - LEDGER_RETENTION_MS;
        if self.entries.iter().all(|e| e.ts >= cutoff) {
            return;
        }
        for e in self.entries.iter().filter(|e| e.ts < cutoff && e.counts()) {
            self.archived_paid += 1;
            self.archived_last = self.archived_last.max(e.ts);
        }
        self.entries.retain(|e| e.ts >= cutoff);
        self.live.set(None);
    }

    /// Paid, unrefunded orders with `now - window <= ts <= now`.
    pub fn stats(&self, now: i64, window: i64) -> OrderStats {
        self.between(now - window, now)
    }

    /// Paid, unrefunded orders of `entries` with `lo <= ts <= hi`.
    fn between(&self, lo: i64, hi: i64) -> OrderStats {
        let mut s = OrderStats::default();
        for e in self
            .entries
            .iter()
            .filter(|e| e.counts() && e.ts >= lo && e.ts <= hi)
        {
            s.count += 1;
            s.amount += e.amount;
            s.promo += i64::from(e.promo);
            s.last = s.last.max(Some(e.ts));
            s.first = Some(s.first.map_or(e.ts, |f: i64| f.min(e.ts)));
        }
        s
    }

    /// Paid, unrefunded orders of all time (up to `now`), and the latest of them.
    pub fn all_time(&self, now: i64) -> (i64, Option<i64>) {
        let (mut count, mut last) = match self.live.get() {
            Some(live) => live,
            None => {
                let live = self.live_up_to(i64::MAX);
                self.live.set(Some(live));
                live
            }
        };
        // An order stamped after `now` is not counted (the event clock never lags an order, but
        // a caller may ask about an earlier time): count again up to `now`.
        if last.is_some_and(|l| l > now) {
            (count, last) = self.live_up_to(now);
        }
        if self.archived_paid > 0 {
            count += i64::from(self.archived_paid);
            last = last.max(Some(self.archived_last));
        }
        (count, last)
    }

    /// Paid, unrefunded orders of `entries` up to `now`, and the latest of them.
    fn live_up_to(&self, now: i64) -> (i64, Option<i64>) {
        let s = self.between(i64::MIN, now);
        (s.count, s.last)
    }

    pub fn heap_bytes(&self) -> usize {
        self.entries.heap_bytes()
    }

    /// See [`super::UserState::prefetch_lists`].
    pub(super) fn prefetch(&self) {
        super::prefetch_first(&self.entries);
    }

    /// The compact form ([`super::compact`]), times as distances from `base`.
    pub(super) fn encode(&self, w: &mut Writer, base: i64) {
        w.uint(self.entries.len() as u64);
        for e in self.entries.iter() {
            let flags = u8::from(e.paid)
                | u8::from(e.refunded) << 1
                | u8::from(e.promo) << 2
                | u8::from(e.amount.to_bits() != 0) << 3;
            w.byte(flags);
            w.0.extend_from_slice(&e.id_hash.to_le_bytes());
            w.int(base.wrapping_sub(e.ts));
            if flags & 8 != 0 {
                w.float(e.amount);
            }
        }
        w.uint(u64::from(self.archived_paid));
        w.int(base.wrapping_sub(self.archived_last));
    }

    /// Reads what [`Ledger::encode`] wrote into `self`, keeping its allocation.
    pub(super) fn decode_into(&mut self, r: &mut Reader, base: i64) {
        let n = r.len();
        self.entries.refill((0..n).map(|_| {
            let flags = r.byte();
            let id_hash = r.word();
            let ts = base.wrapping_sub(r.int());
            let amount = if flags & 8 != 0 { r.float() } else { 0.0 };
            OrderEntry {
                id_hash,
                ts,
                amount,
                paid: flags & 1 != 0,
                refunded: flags & 2 != 0,
                promo: flags & 4 != 0,
            }
        }));
        self.archived_paid = u32::try_from(r.uint()).expect("an archived count written as u32");
        self.archived_last = base.wrapping_sub(r.int());
        self.live.set(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refund_cancels_paid_in_either_order() {
        let mut l = Ledger::default();
        l.apply("a", 10, 100.0, true, false);
        l.apply("b", 20, 50.0, true, true);
        l.apply("a", 30, 0.0, false, false);
        l.apply("c", 40, 0.0, false, false);
        l.apply("c", 50, 70.0, true, false);
        let s = l.stats(100, 1000);
        assert_eq!((s.count, s.amount, s.promo, s.last), (1, 50.0, 1, Some(20)));
        assert_eq!(l.all_time(100), (1, Some(20)));
    }

    #[test]
    fn duplicate_paid_counts_once() {
        let mut l = Ledger::default();
        assert!(l.apply("a", 10, 100.0, true, false));
        assert!(!l.apply("a", 10, 100.0, true, false));
        assert_eq!(l.stats(10, 100).count, 1);
    }

    #[test]
    fn retention_keeps_all_time_totals() {
        let mut l = Ledger::default();
        l.apply("a", 0, 100.0, true, false);
        l.apply("b", 500 * DAY_MS, 10.0, true, false);
        l.prune(500 * DAY_MS);
        assert_eq!(l.entries.len(), 1);
        assert_eq!(l.all_time(500 * DAY_MS), (2, Some(500 * DAY_MS)));
        assert_eq!(l.stats(500 * DAY_MS, 365 * DAY_MS).count, 1);
    }

    /// The kept all-time count follows every change of the entries, and a clock earlier than
    /// some orders counts only those up to it, as a scan of the entries does.
    #[test]
    fn all_time_totals_follow_every_change() {
        fn scan(l: &Ledger, now: i64) -> (i64, Option<i64>) {
            let mut count = i64::from(l.archived_paid);
            let mut last = (l.archived_paid > 0).then_some(l.archived_last);
            for e in l.entries.iter().filter(|e| e.counts() && e.ts <= now) {
                count += 1;
                last = last.max(Some(e.ts));
            }
            (count, last)
        }
        let mut l = Ledger::default();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for step in 0..2000_i64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let ts = step * DAY_MS / 3;
            let id = format!("o{}", seed % 300);
            l.apply(&id, ts, 10.0, seed % 5 != 0, false);
            if step % 97 == 0 {
                l.prune(ts);
            }
            for now in [ts, ts - DAY_MS, ts - 100 * DAY_MS] {
                assert_eq!(l.all_time(now), scan(&l, now), "step {step}, now {now}");
            }
            if step % 50 == 0 {
                let mut bytes = Vec::new();
                l.encode(&mut Writer(&mut bytes), ts);
                let mut back = Ledger::default();
                back.all_time(ts);
                back.decode_into(&mut Reader::new(&bytes), ts);
                assert_eq!(back, l);
                assert_eq!(back.all_time(ts), scan(&l, ts));
            }
        }
    }
}
