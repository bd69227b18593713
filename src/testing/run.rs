//! Running one case through [`Processor`], the core production runs, and comparing what it
//! produced with what the case expects.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value as Json;

use super::report::{align, dead_matches, offset, show_dead, show_dead_spec};
use super::spec::{Action, Case, ChangeSpec, EventSpec, Expect, Step};
use crate::core::Processor;
use crate::decode::Source;
use crate::rules::RulePack;
use crate::state::timers::{Due, DueKind};
use crate::state::Partition;
use crate::tags::{format_ts, DeadLetter, Op, Output, TagChange, TagSlot, NEVER};

/// One expectation a case did not meet: the step, what differed, and the lines of the diff.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub line: usize,
    pub what: String,
    pub diff: Vec<String>,
}

/// Runs `case` of the file at `path` on a fresh partition.
///
/// # Errors
/// Every expectation not met by the first step that misses one (dead letters, `changes`,
/// `contains`, `tags`, then `holds`/`lacks`); the steps after it are not run, since they would
/// start from a state the case does not describe.
pub fn run_case(
    proc: &mut Processor,
    pack: &RulePack,
    path: &str,
    case: &Case,
) -> Result<(), Vec<Failure>> {
    let mut run = CaseRun {
        proc,
        pack,
        path: Arc::from(path),
        case,
        part: Partition::new(),
        now: case.start,
        out: Vec::new(),
    };
    run.given().map_err(|f| vec![f])?;
    for (i, step) in case.steps.iter().enumerate() {
        run.out.clear();
        run.act(step);
        let failures = run.expect(i + 1, step);
        if !failures.is_empty() {
            return Err(failures);
        }
    }
    Ok(())
}

struct CaseRun<'a> {
    proc: &'a mut Processor,
    pack: &'a RulePack,
    path: Arc<str>,
    case: &'a Case,
    part: Partition,
    now: i64,
    out: Vec<Output>,
}

impl CaseRun<'_> {
    /// Earlier events (outputs not checked, but no dead letter allowed), then seeded tags.
    fn given(&mut self) -> Result<(), Failure> {
        let case = self.case;
        for event in &case.given_events {
            let ts = case.start + event.at.unwrap_or(0);
            self.feed(event, ts, 0, &case.user);
        }
        if !case.given_events.is_empty() {
            self.proc.advance(&mut self.part, case.start, &mut self.out);
        }
        if let Some(dead) = dead_letters(&self.out).first() {
            return Err(Failure {
                line: case.given_events.first().map_or(case.line, |e| e.line),
                what: "an earlier event became a dead letter".into(),
                diff: vec![format!("+ {}", show_dead(dead))],
            });
        }
        self.out.clear();
        self.now = self.part.clock().map_or(case.start, |c| c.max(case.start));
        if case.given_tags.is_empty() {
            return Ok(());
        }
        let user = self.part.find_or_add(&case.user);
        let mut state = self.part.take_user(user);
        for seed in &case.given_tags {
            let Some(tag) = self.pack.catalogue.id(&seed.tag) else {
                continue;
            };
            let expires = seed.ttl_ms.map_or(NEVER, |ttl| self.now + ttl);
            let slot = TagSlot {
                expires,
                score: seed.score.unwrap_or(f64::NAN),
                since: self.now,
                tag,
                rule: seed_rule(self.pack, seed.rule.as_deref(), &seed.tag),
                // Given, not set by an event of the case.
                origin: crate::state::origins::NO_EVENT,
            };
            // Like an add: a member of an exclusive group replaces the one held.
            let peers = self.pack.catalogue.exclusive_peers(tag);
            state
                .tags
                .retain(|s| s.tag != tag && !peers.contains(&s.tag));
            let at = state.tags.partition_point(|s| s.tag < tag);
            state.tags.insert(at, slot);
            if expires != NEVER {
                self.part.push_due(Due {
                    at: expires,
                    user,
                    kind: DueKind::Expiry(tag),
                });
            }
        }
        self.part.put_user(user, state);
        Ok(())
    }

    /// Feeds one event at `ts`, filling in what the case leaves out.
    fn feed(&mut self, event: &EventSpec, ts: i64, k: u32, user: &str) {
        let mut fields = event.fields.clone();
        fields
            .entry("user_id")
            .or_insert_with(|| Json::String(user.to_string()));
        fields
            .entry("ts")
            .or_insert_with(|| Json::String(format_ts(ts)));
        if fields.get("type").and_then(Json::as_str) == Some("order") {
            fields
                .entry("order_id")
                .or_insert_with(|| Json::String(format!("o-{}-{k}", event.line)));
        }
        let line = Json::Object(fields).to_string();
        self.record(line.as_bytes(), event.line);
        self.now = self.now.max(ts);
    }

    fn record(&mut self, raw: &[u8], line: usize) {
        let source = Source::File {
            name: self.path.clone(),
            line: line as u64,
        };
        self.proc
            .process_record(&mut self.part, raw, &source, &mut self.out);
    }

    fn act(&mut self, step: &Step) {
        let user = step.user.clone().unwrap_or_else(|| self.case.user.clone());
        match &step.action {
            Action::Event {
                event,
                repeat,
                every,
            } => {
                let t0 = event.at.map_or(self.now, |at| self.case.start + at);
                for k in 0..*repeat {
                    self.feed(event, t0 + i64::from(k) * every, k, &user);
                }
            }
            Action::Raw { text, at } => {
                if let Some(at) = at {
                    self.move_to(self.case.start + at);
                }
                self.record(text.as_bytes(), step.line);
                self.now = self.part.clock().map_or(self.now, |c| c.max(self.now));
            }
            Action::Advance(by) => self.move_to(self.now + by),
            Action::AdvanceTo(at) => self.move_to(self.case.start + at),
            Action::Look => {}
        }
    }

    fn move_to(&mut self, to: i64) {
        self.now = self.now.max(to);
        self.proc.advance(&mut self.part, self.now, &mut self.out);
    }

    /// Every expectation of `step` (the `n`th) that its outputs or the tags held afterwards miss.
    fn expect(&self, n: usize, step: &Step) -> Vec<Failure> {
        let mut failures = Vec::new();
        let mut fail = |what: String, diff: Vec<String>| {
            failures.push(Failure {
                line: step.line,
                what: format!("step {n} ({}): {what}", self.describe(&step.action)),
                diff,
            });
        };
        let e: &Expect = &step.expect;
        let dead = dead_letters(&self.out);
        match &e.dead_letters {
            None if !dead.is_empty() => {
                let diff = dead.iter().map(|d| format!("+ {}", show_dead(d))).collect();
                fail("unexpected dead letter".into(), diff);
            }
            Some(expected) => {
                let diff = align(expected, &dead, dead_matches, show_dead_spec, show_dead);
                if diff.iter().any(|l| !l.starts_with(' ')) {
                    fail("dead letters differ (- expected, + actual)".into(), diff);
                }
            }
            None => {}
        }
        let changes: Vec<&TagChange> = self
            .out
            .iter()
            .filter_map(|o| match o {
                Output::Change(c) => Some(c),
                Output::Dead(_) => None,
            })
            .collect();
        // An actual change without a score says so when an expected one names a score.
        let scored = (e.changes.iter().flatten())
            .chain(e.contains.iter().flatten())
            .any(|s| s.score.is_some());
        let show = |c: &&TagChange| self.show_change(c, scored);
        let matches = |s: &ChangeSpec, c: &&TagChange| self.change_matches(s, c);
        if let Some(expected) = &e.changes {
            let diff = align(expected, &changes, matches, |s| self.show_spec(s), show);
            if diff.iter().any(|l| !l.starts_with(' ')) {
                fail("changes differ (- expected, + actual)".into(), diff);
            }
        }
        if let Some(expected) = &e.contains {
            let mut used = vec![false; changes.len()];
            let mut missing = Vec::new();
            for s in expected {
                match (0..changes.len()).find(|&j| !used[j] && matches(s, &changes[j])) {
                    Some(j) => used[j] = true,
                    None => missing.push(format!("- {}", self.show_spec(s))),
                }
            }
            if !missing.is_empty() {
                let mut diff = missing;
                if changes.is_empty() {
                    diff.push("  actual: (no changes)".into());
                } else {
                    diff.push("  actual:".into());
                    diff.extend(changes.iter().map(|c| format!("    {}", show(c))));
                }
                fail("expected changes missing".into(), diff);
            }
        }
        let user = step.user.as_deref().unwrap_or(&self.case.user);
        let held = self.held(user);
        if let Some(tags) = &e.tags {
            let want: BTreeSet<&str> = tags.iter().map(String::as_str).collect();
            let have: BTreeSet<&str> = held.iter().map(String::as_str).collect();
            if want != have {
                let mut diff: Vec<String> =
                    want.intersection(&have).map(|t| format!("  {t}")).collect();
                diff.extend(want.difference(&have).map(|t| format!("- {t}")));
                diff.extend(have.difference(&want).map(|t| format!("+ {t}")));
                fail(format!("tags of {user} differ (- expected, + held)"), diff);
            }
        }
        let missing: Vec<String> = e
            .holds
            .iter()
            .flatten()
            .filter(|t| !held.contains(t))
            .map(|t| format!("- {t}"))
            .chain(
                e.lacks
                    .iter()
                    .flatten()
                    .filter(|t| held.contains(t))
                    .map(|t| format!("+ {t}")),
            )
            .collect();
        if !missing.is_empty() {
            let mut diff = missing;
            diff.push(if held.is_empty() {
                "  held: (none)".into()
            } else {
                format!("  held: {}", held.join(", "))
            });
            fail(
                format!("tags of {user}: - should be held, + should not be"),
                diff,
            );
        }
        failures
    }

    fn held(&self, user: &str) -> Vec<String> {
        self.part.find(user).map_or_else(Vec::new, |i| {
            self.part
                .user(i)
                .tags
                .iter()
                .map(|s| self.pack.catalogue.name(s.tag).to_string())
                .collect()
        })
    }

    fn change_matches(&self, s: &ChangeSpec, c: &TagChange) -> bool {
        (s.add == (c.op == Op::Add))
            && s.tag == *c.tag
            && s.user.as_deref().is_none_or(|u| u == &*c.user_id)
            && s.score
                .is_none_or(|x| c.score.is_some_and(|y| (x - y).abs() < 1e-6))
            && s.reason.as_deref().is_none_or(|r| r == c.reason)
            && s.rule.as_deref().is_none_or(|r| r == &*c.rule)
            && s.expires
                .is_none_or(|e| e.map(|ms| c.ts + ms) == c.expires_at)
            && s.at.is_none_or(|at| self.case.start + at == c.ts)
    }

    fn show_spec(&self, s: &ChangeSpec) -> String {
        let mut text = format!("{} {}", if s.add { "add" } else { "remove" }, s.tag);
        let mut details = Vec::new();
        if let Some(u) = &s.user {
            details.push(format!("user {u}"));
        }
        if let Some(x) = s.score {
            details.push(format!("score {x}"));
        }
        if let Some(r) = &s.rule {
            details.push(format!("rule {r}"));
        }
        if let Some(r) = &s.reason {
            details.push(format!("reason {r:?}"));
        }
        match s.expires {
            Some(Some(ms)) => {
                details.push(format!("expires in {}", offset(ms).trim_start_matches('+')))
            }
            Some(None) => details.push("never expires".into()),
            None => {}
        }
        if let Some(at) = s.at {
            details.push(format!("at {}", offset(at)));
        }
        if !details.is_empty() {
            text.push_str(&format!("  ({})", details.join(", ")));
        }
        text
    }

    /// A change as the report shows it; `scored`: also say "no score" when it has none.
    fn show_change(&self, c: &TagChange, scored: bool) -> String {
        let mut details = Vec::new();
        if *c.user_id != *self.case.user {
            details.push(format!("user {}", c.user_id));
        }
        match c.score {
            Some(x) => details.push(format!("score {x}")),
            None if scored => details.push("no score".into()),
            None => {}
        }
        details.push(format!("rule {}", c.rule));
        details.push(format!("reason {:?}", c.reason));
        details.push(match c.expires_at {
            Some(at) => format!("expires in {}", offset(at - c.ts).trim_start_matches('+')),
            None => "never expires".into(),
        });
        details.push(format!("at {}", offset(c.ts - self.case.start)));
        format!("{} {}  ({})", c.op.as_str(), c.tag, details.join(", "))
    }

    fn describe(&self, action: &Action) -> String {
        match action {
            Action::Event { event, repeat, .. } => {
                let kind = event
                    .fields
                    .get("type")
                    .and_then(Json::as_str)
                    .unwrap_or("?");
                match repeat {
                    1 => format!("{kind} event"),
                    n => format!("{n} {kind} events"),
                }
            }
            Action::Raw { .. } => "raw input".into(),
            Action::Advance(by) => format!("advance {}", offset(*by).trim_start_matches('+')),
            Action::AdvanceTo(at) => format!("clock to {}", offset(*at)),
            Action::Look => "look".into(),
        }
    }
}

/// The rule a seeded tag is held for: as given, else the rule named like its group, else the
/// first rule whose script names the tag, else the first rule.
fn seed_rule(pack: &RulePack, rule: Option<&str>, tag: &str) -> u16 {
    let group = tag.split('/').next().unwrap_or(tag);
    let position = |f: &dyn Fn(&crate::rules::RuleSource) -> bool| pack.rules.iter().position(f);
    rule.and_then(|r| position(&|s| s.name == r))
        .or_else(|| position(&|s| s.name == group))
        .or_else(|| position(&|s| s.text.contains(&format!("\"{tag}\""))))
        .map_or(0, |i| i as u16)
}

fn dead_letters(out: &[Output]) -> Vec<&DeadLetter> {
    out.iter()
        .filter_map(|o| match o {
            Output::Dead(d) => Some(d),
            Output::Change(_) => None,
        })
        .collect()
}
