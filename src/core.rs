//! The decision core: `partition state + event + rules → tag changes and dead letters`.
//!
//! Pure and synchronous: no I/O, no wall clock, no async. File mode, Kafka mode, rule tests and
//! the benchmark all drive this same [`Processor`]; time only moves when the caller passes an
//! event (or, for idle partitions, an explicit [`Processor::advance`]).

use std::sync::Arc;

use crate::decode::{decode, DecodeError, Event, Source};
use crate::rules::{Execution, Handler, RulePack, RuleSet, RulesError};
use crate::state::timers::{self, DueKind, Popped};
use crate::state::{Partition, UserIndex, UserState};
use crate::tags::{format_ts, DeadLetter, Output, TagId, Trigger};

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
            version: pack.version.clone(),
            stats,
        })
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
        let mut errors = vec![0; self.rules.len()];
        for (old, count) in self.stats.rule_errors.iter().enumerate() {
            if let Some(Some(at)) = renumbering.rules.get(old) {
                errors[usize::from(*at)] += count;
            }
        }
        self.stats.rule_errors = errors;
        Ok(renumbering)
    }

    /// The version of the rule set in force.
    pub fn version(&self) -> &Arc<str> {
        &self.version
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
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
                let mut dead = invalid_input(&e, raw, source);
                dead.rules_version = self.version.to_string();
                out.push(Output::Dead(dead));
            }
        }
    }

    /// Applies a decoded event: fires what the clock passes first, then updates the user's
    /// aggregates and runs every rule with a handler for it, in rule-name order.
    pub fn process_event(
        &mut self,
        part: &mut Partition,
        event: Event,
        raw: &[u8],
        source: &Source,
        out: &mut Vec<Output>,
    ) {
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
                || (source.to_string(), payload_text(raw)),
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
        self.stats.timers_fired += 1;
        self.begin(part, user, state, at, Trigger::Timer, None);
        let id = part.id(user);
        let name = self.rules.names()[rule].clone();
        self.run_rule(
            rule,
            &[Handler::Tick],
            || {
                let payload =
                    serde_json::json!({ "timer": &*name, "user_id": id, "due": format_ts(at) });
                ("timer".to_string(), payload.to_string())
            },
            out,
        );
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
                self.stats.rule_errors[rule] += 1;
                let name = self.rules.names()[rule].to_string();
                tracing::warn!(rule = %name, handler = handler.name(), error = %e, "rule error");
                let (source, payload) = describe();
                out.push(Output::Dead(DeadLetter {
                    error: e.message,
                    rule: Some(name),
                    source,
                    payload,
                    rules_version: self.version.to_string(),
                }));
                return;
            }
        }
    }

    fn end(&mut self, part: &mut Partition, user: UserIndex, out: &mut Vec<Output>) {
        let mut ctx = self.rules.ctx().borrow_mut();
        ctx.event = None;
        let state = std::mem::take(&mut ctx.user);
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
    }
}

/// The dead letter of a record that does not decode (logged here, counted by the caller).
pub fn invalid_input(error: &DecodeError, raw: &[u8], source: &Source) -> DeadLetter {
    tracing::debug!(source = %source, reason = error.kind(), "dead letter: invalid input");
    DeadLetter {
        error: error.to_string(),
        rule: None,
        source: source.to_string(),
        payload: payload_text(raw),
        // Set by the caller, which knows the rule set in force.
        rules_version: String::new(),
    }
}

/// The original text of a record for a dead letter, without its line ending.
fn payload_text(raw: &[u8]) -> String {
    let trimmed = raw.strip_suffix(b"\n").unwrap_or(raw);
    let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
    String::from_utf8_lossy(trimmed).into_owned()
}
