//! Allocations of compiled values kept for the next handler call.
//!
//! The default rule pack builds an array literal (`let wake = [..]`) and an order summary
//! (`user.paid_orders()`) on nearly every event, and `event.keyword_hits()` an array on every
//! chat: three allocations and three frees per event, for values that die when their frame
//! ends. A frame's dying values that nothing else holds are kept here instead, and the next
//! literal or summary is built in one of them. Only the allocation is reused: a value is
//! cleared or overwritten before anyone sees it, so what a script computes cannot change.

use std::rc::Rc;

use super::value::V;
use crate::state::OrderStats;

/// Spare allocations of each kind kept at most (a handler rarely holds more at once).
const KEPT: usize = 8;

/// Arrays whose capacity exceeds this are freed rather than kept.
const LARGEST_ARRAY: usize = 64;

#[derive(Default)]
pub struct Spares {
    arrays: Vec<Rc<Vec<V>>>,
    orders: Vec<Rc<OrderStats>>,
}

impl Spares {
    /// An empty array with room for `len` items: a kept one when there is one.
    pub fn array(&mut self, len: usize) -> Rc<Vec<V>> {
        match self.arrays.pop() {
            Some(array) => array,
            None => Rc::new(Vec::with_capacity(len)),
        }
    }

    /// `stats` in a shared box: a kept one when there is one.
    pub fn orders(&mut self, stats: OrderStats) -> Rc<OrderStats> {
        match self.orders.pop() {
            Some(mut kept) => {
                *Rc::get_mut(&mut kept).expect("kept boxes are unshared") = stats;
                kept
            }
            None => Rc::new(stats),
        }
    }

    /// Takes a value that is going out of scope: an array or order summary nobody else holds
    /// is kept (its items dropped now), anything else is dropped.
    pub fn recycle(&mut self, value: V) {
        match value {
            V::Array(mut array) if self.arrays.len() < KEPT => {
                if let Some(items) = Rc::get_mut(&mut array) {
                    if items.capacity() <= LARGEST_ARRAY {
                        items.clear();
                        self.arrays.push(array);
                    }
                }
            }
            // Nothing else holds it (no weak references are ever made).
            V::Orders(stats) if self.orders.len() < KEPT && Rc::strong_count(&stats) == 1 => {
                self.orders.push(stats);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unshared_values_are_kept_and_come_back_empty() {
        let mut spares = Spares::default();
        let mut a = spares.array(4);
        Rc::get_mut(&mut a).unwrap().push(V::Int(1));
        let held = a.clone();
        spares.recycle(V::Array(a));
        assert!(spares.arrays.is_empty(), "a shared array is not kept");
        assert!(matches!(held[0], V::Int(1)));
        spares.recycle(V::Array(held));
        let again = spares.array(4);
        assert!(again.is_empty() && again.capacity() >= 4);
        assert_eq!(Rc::strong_count(&again), 1);

        let stats = spares.orders(OrderStats {
            count: 3,
            ..OrderStats::default()
        });
        spares.recycle(V::Orders(stats));
        let stats = spares.orders(OrderStats::default());
        assert_eq!(stats.count, 0, "a kept summary is overwritten");
    }

    #[test]
    fn large_arrays_and_too_many_are_freed() {
        let mut spares = Spares::default();
        spares.recycle(V::Array(Rc::new(Vec::with_capacity(LARGEST_ARRAY + 1))));
        assert!(spares.arrays.is_empty());
        for _ in 0..KEPT + 3 {
            spares.recycle(V::Array(Rc::new(Vec::new())));
        }
        assert_eq!(spares.arrays.len(), KEPT);
    }
}
