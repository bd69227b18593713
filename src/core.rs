//! The decision core: `partition state + event + rules → tag changes and dead letters`.
//!
//! Pure and synchronous: no I/O, no wall clock, no async. File mode, Kafka mode, rule tests and
//! the benchmark all drive this same [`Processor`]; time only moves when the caller passes an
//! event (or, for idle partitions, an explicit [`Processor::advance`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use crate::decode::{decode, DecodeError, Event, FutureLimit, Source};
use crate::rules::{Execution, Handler, RuleErrorKind, RulePack, RuleSet, RulesError};
use crate::state::timers::{self, DueKind, Popped};
use crate::state::{Partition, UserIndex, UserState};
use crate::tags::{format_ts, DeadLetter, Output, TagId, Trigger};

mod stats;

pub use stats::{Stats, MAX_RULE_SAMPLES};

/// How many times one rule's timer may fire for one user while the clock makes one move. A
/// timer that re-arms itself a little ahead each time would otherwise fire once per step of its
/// own all the way to the new clock (a 1 s step over a day of silence is 86,400 calls): past
/// this bound it is a rule error and the timer is dropped, so the stream goes on. A daily timer
/// still catches up over more than two years of silence.
pub const MAX_WAKES_PER_STEP: u32 = 1_000;

/// How the numbers of rules and tags moved from one rule set to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renumbering {
    /// New index of each old rule, `None` when it is gone.
    rules: Vec<Option<u16>>,
    /// New id of each old tag, `None` when the catalogue no longer declares it.
    tags: Vec<Option<TagId>>,
}

impl Renumbering {
    fn between(old: &RuleSet, new: &RuleSet) -> Renumbering {
        let rules = old
            .names()
            .iter()
            .map(|name| new.names().iter().position(|n| n == name).map(|i| i as u16))
            .collect();
        let (was, now) = (&old.pack().catalogue, &new.pack().catalogue);
        let tags = (0..was.len())
            .map(|id| now.id(was.name(id as TagId)))
            .collect();
        Renumbering { rules, tags }
    }

    /// Whether every rule and tag kept its number (state needs no change).
    pub fn is_identity(&self) -> bool {
        let same = |i: usize, n: Option<u16>| n == Some(i as u16);
        self.rules.iter().enumerate().all(|(i, n)| same(i, *n))
            && self.tags.iter().enumerate().all(|(i, n)| same(i, *n))
    }

    /// Moves a partition's state onto the new numbers.
    pub fn apply(&self, part: &mut Partition) {
        if !self.is_identity() {
            part.renumber(&self.rules, &self.tags, RETIRED_RULE);
        }
    }
}

/// The rule number a held tag keeps when its rule is removed by a reload: its removals name
/// [`crate::tags::RETIRED_RULE_NAME`].
const RETIRED_RULE: u16 = u16::MAX;

/// Runs a rule set over partitions. One per worker thread (the Rhai engine is not `Send`).
pub struct Processor {
    rules: RuleSet,
    /// The running set's version, written into every output.
    version: Arc<str>,
    pub stats: Stats,
    /// Time the rules of every n-th event (0: never).
    time_every: u64,
    /// `clock.max_future` and the wall time the caller last gave ([`Processor::set_wall_clock`]).
    pub future: FutureLimit,
    /// Timer firings per (user, rule) in the current clock move.
    wakes: HashMap<(UserIndex, u16), u32>,
    /// Scratch space for [`Origins::settle`](crate::state::Origins::settle).
    origins: Vec<u8>,
}

impl Processor {
    /// # Errors
    /// A rule that does not compile.
    pub fn new(pack: &RulePack) -> Result<Processor, RulesError> {
        Processor::with_execution(pack, pack.execution)
    }

    /// A processor whose handlers run as `execution` says (tests and the benchmark compare).
    ///
    /// # Errors
    /// A rule that does not compile.
    pub fn with_execution(pack: &RulePack, execution: Execution) -> Result<Processor, RulesError> {
        let rules = RuleSet::compile_for(pack, execution)?;
        let stats = Stats {
            rule_errors: vec![0; rules.len()],
            rule_calls: vec![[0; Handler::ALL.len()]; rules.len()],
            rule_error_kinds: vec![[0; RuleErrorKind::ALL.len()]; rules.len()],
            ..Stats::default()
        };
        Ok(Processor {
            rules,
            version: pack.version.clone(),
            stats,
            time_every: 0,
            future: FutureLimit::default(),
            wakes: HashMap::new(),
            origins: Vec::new(),
        })
    }

    /// Measures the time each rule takes on every `every`-th event (0 turns it off) into
    /// [`Stats::rule_time`]. Only measured, never used to decide anything: the core's notion of
    /// time stays the events' own.
    pub fn sample_rule_time(&mut self, every: u64) {
        self.time_every = every;
    }

    /// Sets the wall time (epoch ms) that `clock.max_future` is measured from. The core reads
    /// no clock: the pipeline passes the time per record or batch, tests pass any time.
    pub fn set_wall_clock(&mut self, wall_ms: i64) {
        self.future.wall_ms = Some(wall_ms);
    }

    /// Replaces the rule set between two events. State follows rules and tags by name: apply
    /// the returned [`Renumbering`] to every partition this processor runs, so the variables,
    /// timers and tags of rules that keep their name carry over.
    ///
    /// # Errors
    /// A rule that does not compile; the old rules stay in force.
    pub fn swap_rules(&mut self, pack: &RulePack) -> Result<Renumbering, RulesError> {
        let new = RuleSet::compile(pack)?;
        let renumbering = Renumbering::between(&self.rules, &new);
        self.rules = new;
        self.version = pack.version.clone();
        let n = self.rules.len();
        let mut errors = vec![0; n];
        let mut calls = vec![[0; Handler::ALL.len()]; n];
        let mut kinds = vec![[0; RuleErrorKind::ALL.len()]; n];
        for (old, at) in renumbering.rules.iter().enumerate() {
            let Some(at) = at.map(usize::from) else {
                continue;
            };
            errors[at] += self.stats.rule_errors.get(old).copied().unwrap_or(0);
            if let Some(c) = self.stats.rule_calls.get(old) {
                calls[at] = *c;
            }
            if let Some(k) = self.stats.rule_error_kinds.get(old) {
                kinds[at] = *k;
            }
        }
        self.stats.rule_errors = errors;
        self.stats.rule_calls = calls;
        self.stats.rule_error_kinds = kinds;
        self.stats.rule_time.clear();
        Ok(renumbering)
    }

    /// The version of the rule set in force.
    pub fn version(&self) -> &Arc<str> {
        &self.version
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
            Ok(event) => drop(self.process_event(part, event, raw, source, out)),
            Err(e) => {
                self.stats.decode_errors += 1;
                let mut dead = invalid_input(&e, raw, source);
                dead.rules_version = self.version.to_string();
                out.push(Output::Dead(dead));
            }
        }
    }

    /// Applies a decoded event: fires what the clock passes first, then updates the user's
    /// aggregates and runs every rule with a handler for it, in rule-name order. An event too
    /// far ahead of the wall clock ([`Processor::future`]) is a dead letter and moves nothing.
    /// Returns the event, for the thread that decoded it to free (see [`crate::pipeline`]'s
    /// shards).
    pub fn process_event(
        &mut self,
        part: &mut Partition,
        event: Event,
        raw: &[u8],
        source: &Source,
        out: &mut Vec<Output>,
    ) -> Event {
        if let Err(e) = self.future.check(event.ts) {
            self.stats.decode_errors += 1;
            out.push(Output::Dead(invalid_input(&e, raw, source)));
            return event;
        }
        self.advance(part, event.ts, out);
        let now = part.clock().unwrap_or(event.ts);
        self.stats.events += 1;
        self.stats.events_by_type[event.event_type() as usize] += 1;
        let timed = self.time_every != 0
            && self.stats.events % self.time_every == 0
            && self.stats.rule_time.len() < MAX_RULE_SAMPLES;
        let user = part.find_or_add(&event.user_id);
        let mut state = part.take_user(user);
        state.observe(&event, now);
        let handlers = [Handler::for_type(event.event_type()), Handler::Event];
        let trigger = Trigger::Event(event.event_id.clone());
        self.begin(part, user, state, now, trigger, Some(event));
        for rule in 0..self.rules.len() {
            if !handlers.iter().any(|h| self.rules.has(rule, *h)) {
                continue;
            }
            let started = timed.then(Instant::now);
            self.run_rule(
                rule,
                &handlers,
                || (source.to_string(), record_text(raw)),
                out,
            );
            if let Some(started) = started {
                let nanos = started.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64;
                self.stats.rule_time.push((rule as u16, nanos));
            }
        }
        self.end(part, user, out)
            .expect("an event's step holds its event until the step ends")
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
                        .user_at_hand(due.user)
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
        // Most wake-ups of a compact user only move its timer (it was re-armed later since).
        if let Some(popped) = part.pop_wake_compact(user, rule, at) {
            if let Popped::Requeue(t) = popped {
                part.push_due(timers::Due {
                    at: t,
                    user,
                    kind: DueKind::Wake(rule),
                });
            }
            return;
        }
        let stands = part
            .user_at_hand(user)
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
            self.rule_error(
                rule,
                Handler::Tick,
                RuleErrorKind::Limit,
                error,
                describe,
                out,
            );
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
        state: Box<UserState>,
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
            self.stats.rule_calls[rule][handler as usize] += 1;
            let result = self.rules.call(rule, handler, first);
            first = false;
            if let Err(e) = result {
                self.rules.ctx().borrow_mut().rollback_rule();
                self.rule_error(rule, handler, e.kind, e.message, describe, out);
                return;
            }
        }
    }

    /// Counts, logs and emits a rule error (the one place they are made).
    fn rule_error(
        &mut self,
        rule: usize,
        handler: Handler,
        kind: RuleErrorKind,
        error: String,
        describe: impl FnOnce() -> (String, String),
        out: &mut Vec<Output>,
    ) {
        self.stats.rule_errors[rule] += 1;
        self.stats.rule_error_kinds[rule][kind as usize] += 1;
        let name = self.rules.names()[rule].to_string();
        // Counted and summarised by the pipeline's metrics; the message may quote input.
        tracing::debug!(rule = %name, handler = handler.name(), error = %error, "rule error");
        let (source, payload) = describe();
        out.push(Output::Dead(DeadLetter {
            reason: DeadLetter::RULE_ERROR,
            error,
            rule: Some(name),
            source,
            payload,
            payload_base64: None,
            rules_version: self.version.to_string(),
        }));
    }

    /// Ends the step: the user goes back to the partition, its timers to the queue, its
    /// changes to `out`. Returns the step's event, if it had one.
    fn end(
        &mut self,
        part: &mut Partition,
        user: UserIndex,
        out: &mut Vec<Output>,
    ) -> Option<Event> {
        let mut ctx = self.rules.ctx().borrow_mut();
        let event = ctx.event.take();
        let mut state = ctx.end_step();
        let trigger = match &ctx.trigger {
            Trigger::Event(id) => Some(&**id),
            Trigger::Timer => None,
        };
        state
            .origins
            .settle(&mut state.tags, trigger, &mut self.origins);
        part.put_user(user, state);
        for due in ctx.dues.drain(..) {
            part.push_due(due);
        }
        let before = out.len();
        out.append(&mut ctx.out);
        for output in &mut out[before..] {
            if let Output::Change(change) = output {
                change.rules_version = self.version.clone();
                self.stats.changes += 1;
            }
        }
        event
    }
}

/// The dead letter of a record that does not decode (logged here, counted by the caller).
pub fn invalid_input(error: &DecodeError, raw: &[u8], source: &Source) -> DeadLetter {
    tracing::debug!(source = %source, reason = error.kind(), "dead letter: invalid input");
    // The reason says how much of the line its payload keeps.
    let raw = match error {
        DecodeError::OversizeLine { kept } => raw.get(..*kept).unwrap_or(raw),
        _ => raw,
    };
    DeadLetter::of_record(
        error.kind(),
        error.to_string(),
        None,
        source.to_string(),
        raw,
    )
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
