//! Moves what a pipeline did into the metrics: outputs as they are written, the core's
//! [`Stats`] as deltas per batch, partition gauges on each tick. One [`Exporter`] per worker;
//! label handles are resolved once and cached, so a batch costs a few atomic adds.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use prometheus::{Histogram, IntCounter, IntGauge};

use super::Metrics;
use crate::core::{Processor, Stats};
use crate::decode::EventType;
use crate::rules::{Handler, RuleErrorKind, RulePack};
use crate::state::Partition;
use crate::tags::{Op, Output, TagId};

/// Time the rules of one event in this many (`tagstream_rule_duration_seconds`).
pub const RULE_TIME_EVERY: u64 = 16;

struct TagCounters {
    add: IntCounter,
    remove: IntCounter,
    held: IntGauge,
}

/// The counters of [`Stats`] already exported.
#[derive(Default)]
struct Exported {
    events_by_type: [u64; EventType::ALL.len()],
    rule_calls: Vec<[u64; Handler::ALL.len()]>,
    rule_error_kinds: Vec<[u64; RuleErrorKind::ALL.len()]>,
    timers_fired: u64,
}

pub struct Exporter {
    m: &'static Metrics,
    done: Exported,
    /// Looked up on every change written: aHash rather than SipHash.
    tags: HashMap<Arc<str>, TagCounters, ahash::RandomState>,
    /// Catalogue names by tag id, to count what restored users hold.
    tag_names: Vec<Arc<str>>,
    dead: HashMap<&'static str, IntCounter>,
    rule_names: Option<Arc<[Arc<str>]>>,
    rule_time: Vec<Histogram>,
    users: i64,
    timers: i64,
    lag: BTreeSet<i32>,
    calls: u64,
}

impl Exporter {
    pub fn new(m: &'static Metrics, pack: &RulePack) -> Exporter {
        let tag_names = (0..pack.catalogue.len())
            .map(|id| pack.catalogue.name(id as TagId).clone())
            .collect();
        Exporter {
            m,
            done: Exported::default(),
            tags: HashMap::default(),
            tag_names,
            dead: HashMap::new(),
            rule_names: None,
            rule_time: Vec::new(),
            users: 0,
            timers: 0,
            lag: BTreeSet::new(),
            calls: 0,
        }
    }

    /// The rule pack changed (hot reload): tag ids now follow its catalogue. Rule names are
    /// picked up from the processor on the next [`Exporter::core`].
    pub fn rules_changed(&mut self, pack: &RulePack) {
        self.tag_names = (0..pack.catalogue.len())
            .map(|id| pack.catalogue.name(id as TagId).clone())
            .collect();
    }

    fn tag(&mut self, name: &Arc<str>) -> &mut TagCounters {
        // The name is cloned (a reference count shared with the shards) only the first time.
        if !self.tags.contains_key(name) {
            let m = self.m;
            let counters = TagCounters {
                add: m.tag_changes.with_label_values(&[name, Op::Add.as_str()]),
                remove: m
                    .tag_changes
                    .with_label_values(&[name, Op::Remove.as_str()]),
                held: m.tags_held.with_label_values(&[name]),
            };
            self.tags.insert(name.clone(), counters);
        }
        self.tags.get_mut(name).expect("inserted above")
    }

    /// `n` input records reached the processor.
    pub fn records(&self, n: usize) {
        self.m.records.inc_by(n as u64);
    }

    /// Counts outputs about to be written: tag changes (and who holds what), dead letters
    /// (and the rate-limited log line about them).
    pub fn outputs(&mut self, outputs: &[Output]) {
        // Called once per record or batch: a cheap sign of life for `/livez`.
        self.calls += 1;
        if self.calls % 256 == 0 {
            self.m.health.beat();
        }
        for output in outputs {
            match output {
                Output::Change(change) => {
                    let t = self.tag(&change.tag);
                    match change.op {
                        Op::Add => {
                            t.add.inc();
                            t.held.inc();
                        }
                        Op::Remove => {
                            t.remove.inc();
                            t.held.dec();
                        }
                    }
                }
                Output::Dead(dead) => {
                    let m = self.m;
                    self.dead
                        .entry(dead.reason)
                        .or_insert_with(|| m.dead_letters.with_label_values(&[dead.reason]))
                        .inc();
                    m.bad_input.note(dead.reason, dead.rule.as_deref());
                }
            }
        }
    }

    /// Exports what the core counted since the last call, and the rule-time samples (which
    /// it drains). `rules` are the rule names by index ([`crate::rules::RuleSet::names`]).
    pub fn stats(&mut self, stats: &mut Stats, rules: &Arc<[Arc<str>]>) {
        let m = self.m;
        for (i, t) in EventType::ALL.iter().enumerate() {
            let d = delta(&mut self.done.events_by_type[i], stats.events_by_type[i]);
            if d > 0 {
                m.events.with_label_values(&[t.as_str()]).inc_by(d);
            }
        }
        let d = delta(&mut self.done.timers_fired, stats.timers_fired);
        m.timers_fired.inc_by(d);
        let n = stats.rule_calls.len().min(rules.len());
        self.done.rule_calls.resize(n, Default::default());
        for r in 0..n {
            for (h, handler) in Handler::ALL.iter().enumerate() {
                let d = delta(&mut self.done.rule_calls[r][h], stats.rule_calls[r][h]);
                if d > 0 {
                    m.rule_invocations
                        .with_label_values(&[&rules[r], handler.name()])
                        .inc_by(d);
                }
            }
        }
        let n = stats.rule_error_kinds.len().min(rules.len());
        self.done.rule_error_kinds.resize(n, Default::default());
        for r in 0..n {
            for (k, kind) in RuleErrorKind::ALL.iter().enumerate() {
                let d = delta(
                    &mut self.done.rule_error_kinds[r][k],
                    stats.rule_error_kinds[r][k],
                );
                if d > 0 {
                    m.rule_errors
                        .with_label_values(&[&rules[r], kind.as_str()])
                        .inc_by(d);
                }
            }
        }
        if !stats.rule_time.is_empty() {
            if self
                .rule_names
                .as_ref()
                .is_none_or(|n| !Arc::ptr_eq(n, rules))
            {
                self.rule_time = rules
                    .iter()
                    .map(|r| m.rule_duration.with_label_values(&[r]))
                    .collect();
                self.rule_names = Some(rules.clone());
            }
            for (rule, nanos) in stats.rule_time.drain(..) {
                if let Some(h) = self.rule_time.get(usize::from(rule)) {
                    h.observe(nanos as f64 / 1e9);
                }
            }
        }
    }

    /// Users, queued timers and event-time lag over the partitions this exporter's worker
    /// owns now, at wall time `wall_ms`.
    pub fn partitions<'a>(
        &mut self,
        parts: impl IntoIterator<Item = (i32, &'a Partition)>,
        wall_ms: i64,
    ) {
        let (mut users, mut timers) = (0_i64, 0_i64);
        for (p, part) in parts {
            users += part.user_count() as i64;
            timers += part.queued() as i64;
            if let Some(clock) = part.clock() {
                self.m
                    .event_time_lag
                    .with_label_values(&[&p.to_string()])
                    .set((wall_ms - clock) as f64 / 1000.0);
                self.lag.insert(p);
            }
        }
        self.m.users.add(users - self.users);
        self.m.timers_pending.add(timers - self.timers);
        self.users = users;
        self.timers = timers;
    }

    /// Partition `p` was restored (it took since `started`); its users' tags count as held.
    pub fn partition_restored(&mut self, p: i32, part: &Partition, started: Instant) {
        self.m
            .restore_duration
            .observe(started.elapsed().as_secs_f64());
        self.add_held(part, 1);
        self.m.health.restored(p);
    }

    /// Partition `p` leaves this instance: its tags are no longer held here.
    pub fn partition_left(&mut self, p: i32, part: &Partition) {
        self.add_held(part, -1);
        if self.lag.remove(&p) {
            let _ = self.m.event_time_lag.remove_label_values(&[&p.to_string()]);
        }
    }

    fn add_held(&mut self, part: &Partition, sign: i64) {
        let mut counts = vec![0_i64; self.tag_names.len()];
        for user in 0..part.user_count() as u32 {
            for slot in &part.user(user).tags {
                if let Some(c) = counts.get_mut(usize::from(slot.tag)) {
                    *c += 1;
                }
            }
        }
        for (id, n) in counts.into_iter().enumerate() {
            if n > 0 {
                let name = self.tag_names[id].clone();
                self.tag(&name).held.add(sign * n);
            }
        }
    }

    /// An exporter of `processor`'s counters (one per Kafka worker or embedded shard), which also turns
    /// on its rule-time sampling.
    pub fn for_core(processor: &mut Processor, pack: &RulePack) -> Exporter {
        processor.sample_rule_time(RULE_TIME_EVERY);
        Exporter::new(super::global(), pack)
    }

    /// Exports what `processor` counted since the last call.
    pub fn core(&mut self, processor: &mut Processor) {
        let names = processor.rules().names().clone();
        self.stats(&mut processor.stats, &names);
    }

    /// Embedded mode's end: the records read and the users in state (the shards exported
    /// their counters themselves).
    pub fn end_of_input(&mut self, lines: u64, users: usize) {
        self.m.records.inc_by(lines);
        self.m.users.add(users as i64 - self.users);
        self.users = users as i64;
        self.m.bad_input.flush();
        self.m.health.draining();
    }
}

/// Values of a family by one label, summed over the others (zeros left out).
fn by_label(m: &Metrics, family: &str, label: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for f in m.registry.gather().iter().filter(|f| f.name() == family) {
        for metric in f.get_metric() {
            let value = metric.get_counter().get_value() + metric.get_gauge().get_value();
            let key = metric
                .get_label()
                .iter()
                .filter(|l| l.name() == label)
                .map(|l| l.value().to_string())
                .collect::<String>();
            if value != 0.0 {
                *out.entry(key).or_default() += value as u64;
            }
        }
    }
    out
}

fn join(m: &BTreeMap<String, u64>) -> String {
    m.iter()
        .map(|(k, n)| format!("{k}={n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What an embedded run read and kept, for its closing line.
#[derive(Debug, Clone, Copy, Default)]
pub struct InputCounts {
    /// Records read, blank lines not included.
    pub lines: u64,
    /// Blank lines skipped.
    pub blank_lines: u64,
    /// Users in state at the end.
    pub users: usize,
    /// Users restored from saved state before the run.
    pub restored_users: u64,
    /// Users saved after the run.
    pub saved_users: u64,
}

/// Embedded mode's closing lines: records, bad input (by reason) apart from rule errors (by
/// rule), then one line per tag with its adds, removes and holders at the end.
pub fn log_end_summary(m: &Metrics, input: &InputCounts, stats: &Stats) {
    let mut bad = by_label(m, "tagstream_dead_letters_total", "reason");
    bad.remove(crate::tags::DeadLetter::RULE_ERROR);
    let rule_errors = by_label(m, "tagstream_rule_errors_total", "rule");
    let adds = by_label(m, "tagstream_tag_changes_total", "tag");
    tracing::info!(
        lines = input.lines,
        blank_lines = input.blank_lines,
        events = stats.events,
        bad_input = bad.values().sum::<u64>(),
        bad_input_by_reason = %join(&bad),
        rule_errors = rule_errors.values().sum::<u64>(),
        rule_errors_by_rule = %join(&rule_errors),
        tag_changes = adds.values().sum::<u64>(),
        users = input.users,
        timers_fired = stats.timers_fired,
        expiries = stats.expiries,
        restored_users = input.restored_users,
        saved_users = input.saved_users,
        // What a deployment provisions for memory (0: not known on this system).
        peak_rss_bytes = super::peak_rss_bytes().unwrap_or(0),
        "input processed"
    );
    // An empty input ends like a clean run (exit 0, no dead letter), so a truncated file or a
    // pipe whose writer failed would pass unnoticed: say so.
    if input.lines == 0 {
        tracing::warn!(
            blank_lines = input.blank_lines,
            "the input holds no records: nothing was processed; check that --input names the \
             file meant (with -, that the command writing to stdin wrote something)"
        );
    }
    // Input where nothing decodes is most often the wrong file or format (a JSON array,
    // pretty-printed JSON, a binary), which the counts above leave to be noticed.
    let bad_input = bad.values().sum::<u64>();
    if stats.events == 0 && bad_input > 0 {
        let format = ["not_json", "not_object", "not_utf8", "oversize"];
        let hint = if bad.keys().all(|k| format.contains(&k.as_str())) {
            "--input takes JSON lines: one event object per line, not a JSON array, \
             pretty-printed JSON or a binary file"
        } else {
            "the events' fields are in docs/contract.md"
        };
        tracing::warn!(
            bad_input,
            bad_input_by_reason = %join(&bad),
            hint,
            "no line of the input is a valid event; the dead-letter output gives each line's reason"
        );
    }
    let held = by_label(m, "tagstream_tags_held", "tag");
    for f in m
        .registry
        .gather()
        .iter()
        .filter(|f| f.name() == "tagstream_tag_changes_total")
    {
        let mut per_tag: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for metric in f.get_metric() {
            let (mut tag, mut add) = (String::new(), true);
            for l in metric.get_label() {
                match l.name() {
                    "tag" => tag = l.value().to_string(),
                    "op" => add = l.value() == "add",
                    _ => {}
                }
            }
            let n = metric.get_counter().get_value() as u64;
            let e = per_tag.entry(tag).or_default();
            if add {
                e.0 += n;
            } else {
                e.1 += n;
            }
        }
        for (tag, (added, removed)) in per_tag.into_iter().filter(|(_, (a, r))| a + r > 0) {
            let holders = held.get(&tag).copied().unwrap_or(0);
            tracing::info!(%tag, added, removed, holders, "tag total");
        }
    }
}

/// How far `now` is past `*done`, moving `*done` there (a counter that went back counts 0).
fn delta(done: &mut u64, now: u64) -> u64 {
    let d = now.saturating_sub(*done);
    *done = now;
    d
}
