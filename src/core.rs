//! The decision core: `partition state + event + rules → tag changes and dead letters`.
//!
//! Pure and synchronous: no I/O, no wall clock, no async. File mode, Kafka mode, rule tests and
//! the benchmark all drive this same [`Processor`]; time only moves when the caller passes an
//! event (or, for idle partitions, an explicit [`Processor::advance`]).

use std::collections::HashMap;
use std::sync::Arc;

use crate::decode::{decode, DecodeError, Event, FutureLimit, Source};
use crate::rules::{Execution, Handler, RulePack, RuleSet, RulesError};
use crate::state::timers::{self, DueKind, Popped};
use crate::state::{Partition, UserIndex, UserState};
use crate::tags::{format_ts, DeadLetter, Output, Trigger};

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
}

/// How many times one rule's timer may fire for one user while the clock makes one move. A
/// timer that re-arms itself a little ahead each time would otherwise fire once per step of its
/// own all the way to the new clock (a 1 s step over a day of silence is 86,400 calls): past
/// this bound it is a rule error and the timer is dropped, so the stream goes on. A daily timer
/// still catches up over more than two years of silence.
pub const MAX_WAKES_PER_STEP: u32 = 1_000;

/// Runs a rule set over partitions. One per worker thread (the Rhai engine is not `Send`).
pub struct Processor {
    rules: RuleSet,
    pub stats: Stats,
    /// `clock.max_future` and the wall time the caller last gave ([`Processor::set_wall_clock`]).
    pub future: FutureLimit,
    /// Timer firings per (user, rule) in the current clock move.
    wakes: HashMap<(UserIndex, u16), u32>,
}

impl Processor {
    /// # Errors
    /// A rule that does not compile.
    pub fn new(pack: &RulePack) -> Result<Processor, RulesError> {
        Processor::with_execution(pack, Execution::Compiled)
    }

    /// A processor whose handlers run as `execution` says (tests and the benchmark compare).
    ///
    /// # Errors
    /// A rule that does not compile.
    pub fn with_execution(pack: &RulePack, execution: Execution) -> Result<Processor, RulesError> {
        let rules = RuleSet::compile_for(pack, execution)?;
        let stats = Stats {
            rule_errors: vec![0; rules.len()],
            ..Stats::default()
        };
        Ok(Processor {
            rules,
            stats,
            future: FutureLimit::default(),
            wakes: HashMap::new(),
        })
    }

    /// Sets the wall time (epoch ms) that `clock.max_future` is measured from. The core reads
    /// no clock: the pipeline passes the time per record or batch, tests pass any time.
    pub fn set_wall_clock(&mut self, wall_ms: i64) {
        self.future.wall_ms = Some(wall_ms);
    }

    /// Replaces the rule set between two events. Rules are matched to state by name, so
    /// variables and timers of rules that keep their name carry over.
    ///
    /// # Errors
    /// A rule that does not compile; the old rules stay in force.
    pub fn swap_rules(&mut self, pack: &RulePack) -> Result<(), RulesError> {
        self.rules = RuleSet::compile(pack)?;
        self.stats.rule_errors.resize(self.rules.len(), 0);
        Ok(())
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    pub fn rules_mut(&mut self) -> &mut RuleSet {
        &mut self.rules
    }

    /// Decodes one input record and processes it; a record that does not decode becomes a dead
    /// letter.
    pub fn process_record(
        &mut self,
        part: &mut Partition,
        raw: &[u8],
        source: &Source,
        out: &mut Vec<Output>,
    ) {
        match decode(raw, source) {
            Ok(event) => self.process_event(part, event, raw, source, out),
            Err(e) => {
                self.stats.decode_errors += 1;
                out.push(Output::Dead(invalid_input(&e, raw, source)));
            }
        }
    }

    /// Applies a decoded event: fires what the clock passes first, then updates the user's
    /// aggregates and runs every rule with a handler for it, in rule-name order. An event too
    /// far ahead of the wall clock ([`Processor::future`]) is a dead letter and moves nothing.
    pub fn process_event(
        &mut self,
        part: &mut Partition,
        event: Event,
        raw: &[u8],
        source: &Source,
        out: &mut Vec<Output>,
    ) {
        if let Err(e) = self.future.check(event.ts) {
            self.stats.decode_errors += 1;
            out.push(Output::Dead(invalid_input(&e, raw, source)));
            return;
        }
        self.advance(part, event.ts, out);
        let now = part.clock().unwrap_or(event.ts);
        self.stats.events += 1;
        let user = part.find_or_add(&event.user_id);
        let mut state = part.take_user(user);
        state.observe(&event, now);
        let handlers = [Handler::for_type(event.event_type()), Handler::Event];
        let trigger = Trigger::Event(Arc::from(event.event_id.as_str()));
        self.begin(part, user, state, now, trigger, Some(event));
        for rule in 0..self.rules.len() {
            if !handlers.iter().any(|h| self.rules.has(rule, *h)) {
                continue;
            }
            self.run_rule(
                rule,
                &handlers,
                || (source.to_string(), record_text(raw)),
                out,
            );
        }
        self.end(part, user, out);
    }

    /// Moves the clock to `to` (never back), firing every timer and expiry due up to it, in due
    /// order, each at its own due time. Used before each event, for idle partitions (wall
    /// clock), and at the end of a file.
    pub fn advance(&mut self, part: &mut Partition, to: i64, out: &mut Vec<Output>) {
        let upto = part.advance_clock(to);
        if !self.wakes.is_empty() {
            self.wakes.clear();
        }
        while let Some(due) = part.pop_due(upto) {
            match due.kind {
                DueKind::Wake(rule) => self.fire_wake(part, due.user, rule, due.at, out),
                DueKind::Expiry(tag) => {
                    let held = part
                        .user(due.user)
                        .tags
                        .iter()
                        .any(|t| t.tag == tag && t.expires == due.at);
                    if held {
                        let state = part.take_user(due.user);
                        self.begin(part, due.user, state, due.at, Trigger::Timer, None);
                        if self.rules.ctx().borrow_mut().expire_tag(tag) {
                            self.stats.expiries += 1;
                        }
                        self.end(part, due.user, out);
                    }
                }
            }
        }
    }

    /// Fires everything due up to the partition's clock (end of input).
    pub fn finish(&mut self, part: &mut Partition, out: &mut Vec<Output>) {
        if let Some(clock) = part.clock() {
            self.advance(part, clock, out);
        }
    }

    fn fire_wake(
        &mut self,
        part: &mut Partition,
        user: UserIndex,
        rule: u16,
        at: i64,
        out: &mut Vec<Output>,
    ) {
        let stands = part
            .user(user)
            .timers
            .iter()
            .any(|s| s.rule == rule && s.queued == at);
        if !stands {
            return;
        }
        let mut state = part.take_user(user);
        match timers::on_pop(&mut state.timers, rule, at) {
            Popped::Fire => {}
            Popped::Requeue(t) => {
                part.put_user(user, state);
                part.push_due(timers::Due {
                    at: t,
                    user,
                    kind: DueKind::Wake(rule),
                });
                return;
            }
            Popped::Stale => {
                part.put_user(user, state);
                return;
            }
        }
        let rule = usize::from(rule);
        if rule >= self.rules.len() || !self.rules.has(rule, Handler::Tick) {
            part.put_user(user, state);
            return;
        }
        let name = self.rules.names()[rule].clone();
        let fired = self.wakes.entry((user, rule as u16)).or_insert(0);
        *fired += 1;
        if *fired > MAX_WAKES_PER_STEP {
            // The slot is already gone (`on_pop`): not running the rule drops the timer.
            part.put_user(user, state);
            let error = format!(
                "timer fired more than {MAX_WAKES_PER_STEP} times for one user in one move of \
                 the clock (due {}); it was dropped: re-arm it further ahead",
                format_ts(at)
            );
            let id = part.id(user);
            let describe = || timer_payload(&name, id, at);
            self.rule_error(rule, Handler::Tick, error, describe, out);
            return;
        }
        self.stats.timers_fired += 1;
        self.begin(part, user, state, at, Trigger::Timer, None);
        let id = part.id(user);
        self.run_rule(rule, &[Handler::Tick], || timer_payload(&name, id, at), out);
        self.end(part, user, out);
    }

    fn begin(
        &mut self,
        part: &Partition,
        user: UserIndex,
        state: UserState,
        now: i64,
        trigger: Trigger,
        event: Option<crate::decode::Event>,
    ) {
        let mut ctx = self.rules.ctx().borrow_mut();
        ctx.begin_step(part.id(user), user, state, now, trigger);
        ctx.event = event;
    }

    /// Runs a rule's handlers for the current step; on error, undoes the rule's changes and emits
    /// a dead letter naming it. `describe` gives the dead letter's source and payload.
    fn run_rule(
        &mut self,
        rule: usize,
        handlers: &[Handler],
        describe: impl FnOnce() -> (String, String),
        out: &mut Vec<Output>,
    ) {
        self.rules.ctx().borrow_mut().begin_rule(rule as u16);
        let mut first = true;
        for &handler in handlers {
            if !self.rules.has(rule, handler) {
                continue;
            }
            let result = self.rules.call(rule, handler, first);
            first = false;
            if let Err(e) = result {
                self.rules.ctx().borrow_mut().rollback_rule();
                self.rule_error(rule, handler, e.message, describe, out);
                return;
            }
        }
    }

    /// Counts, logs and emits a rule error (the one place they are made).
    fn rule_error(
        &mut self,
        rule: usize,
        handler: Handler,
        error: String,
        describe: impl FnOnce() -> (String, String),
        out: &mut Vec<Output>,
    ) {
        self.stats.rule_errors[rule] += 1;
        let name = self.rules.names()[rule].to_string();
        tracing::warn!(rule = %name, handler = handler.name(), error = %error, "rule error");
        let (source, payload) = describe();
        out.push(Output::Dead(DeadLetter {
            error,
            rule: Some(name),
            source,
            payload,
            payload_base64: None,
        }));
    }

    fn end(&mut self, part: &mut Partition, user: UserIndex, out: &mut Vec<Output>) {
        let mut ctx = self.rules.ctx().borrow_mut();
        ctx.event = None;
        let mut state = std::mem::take(&mut ctx.user);
        let event = match &ctx.trigger {
            Trigger::Event(id) => Some(&**id),
            Trigger::Timer => None,
        };
        state.origins.settle(&mut state.tags, event);
        part.put_user(user, state);
        for due in ctx.dues.drain(..) {
            part.push_due(due);
        }
        let before = out.len();
        out.append(&mut ctx.out);
        self.stats.changes += out[before..]
            .iter()
            .filter(|o| matches!(o, Output::Change(_)))
            .count() as u64;
    }
}

/// The dead letter of a record that does not decode (logged here, counted by the caller).
pub fn invalid_input(error: &DecodeError, raw: &[u8], source: &Source) -> DeadLetter {
    tracing::debug!(source = %source, reason = error.kind(), "dead letter: invalid input");
    DeadLetter::of_record(error.to_string(), None, source.to_string(), raw)
}

/// A valid record's text for a rule error's dead letter, without its line ending.
fn record_text(raw: &[u8]) -> String {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    String::from_utf8_lossy(raw).into_owned()
}

/// A timer's dead-letter source and payload.
fn timer_payload(rule: &str, user_id: &str, at: i64) -> (String, String) {
    let payload = serde_json::json!({ "timer": rule, "user_id": user_id, "due": format_ts(at) });
    ("timer".to_string(), payload.to_string())
}
