//! What the processor counts: events, changes, timer firings, handler calls and rule errors per
//! rule, sampled rule times.

use crate::decode::EventType;
use crate::rules::{Handler, RuleErrorKind};

/// Counters of what the processor did; read by metrics and the benchmark.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub events: u64,
    pub decode_errors: u64,
    /// Rule errors per rule index.
    pub rule_errors: Vec<u64>,
    pub changes: u64,
    pub timers_fired: u64,
    pub expiries: u64,
    /// Valid events per type, in [`EventType::ALL`] order.
    pub events_by_type: [u64; EventType::ALL.len()],
    /// Handler calls per rule index, per handler in [`Handler::ALL`] order.
    pub rule_calls: Vec<[u64; Handler::ALL.len()]>,
    /// Rule errors per rule index, per kind in [`RuleErrorKind::ALL`] order.
    pub rule_error_kinds: Vec<[u64; RuleErrorKind::ALL.len()]>,
    /// Sampled time in one rule for one event, `(rule index, nanoseconds)`, for the caller to
    /// drain ([`Processor::sample_rule_time`]); holds at most [`MAX_RULE_SAMPLES`].
    pub rule_time: Vec<(u16, u64)>,
}

impl Stats {
    /// Adds `other`'s counts (shards of one run); rule-time samples are not carried over.
    pub fn add(&mut self, other: &Stats) {
        self.events += other.events;
        self.decode_errors += other.decode_errors;
        self.changes += other.changes;
        self.timers_fired += other.timers_fired;
        self.expiries += other.expiries;
        for (a, b) in self.events_by_type.iter_mut().zip(other.events_by_type) {
            *a += b;
        }
        add_per_rule(&mut self.rule_errors, &other.rule_errors, |a, b| *a += b);
        add_per_rule(&mut self.rule_calls, &other.rule_calls, |a, b| {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y)
        });
        add_per_rule(
            &mut self.rule_error_kinds,
            &other.rule_error_kinds,
            |a, b| a.iter_mut().zip(b).for_each(|(x, y)| *x += y),
        );
    }
}

fn add_per_rule<T: Default + Clone>(into: &mut Vec<T>, from: &[T], add: impl Fn(&mut T, &T)) {
    if into.len() < from.len() {
        into.resize(from.len(), T::default());
    }
    for (a, b) in into.iter_mut().zip(from) {
        add(a, b);
    }
}

/// Rule-time samples kept when nobody drains them.
pub const MAX_RULE_SAMPLES: usize = 4096;
