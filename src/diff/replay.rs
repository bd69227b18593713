//! The shadow replay: every input record goes through two processors in lockstep, one per rule
//! set, each with its own partition, exactly as file mode runs one. After each record the two
//! sides' tag changes are compared; at the end, the tags each side leaves every user with.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufRead};
use std::sync::Arc;

use super::report::{
    Change, Held, Kind, Report, RuleError, Sample, SideSummary, SideView, TagDiff,
};
use crate::core::Processor;
use crate::decode::Source;
use crate::rules::{RulePack, RulesError};
use crate::source::file::LineReader;
use crate::state::Partition;
use crate::tags::{format_ts, Op, Output, TagChange};

/// What a replay needs besides the input.
pub struct Replay<'a> {
    pub base: &'a RulePack,
    pub new: &'a RulePack,
    /// Sample users shown per tag and kind of difference.
    pub samples: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
}

/// The last change of one tag of one user: why the user holds it, or why not any more.
#[derive(Debug, Clone)]
struct Last {
    tag: Arc<str>,
    op: Op,
    rule: Arc<str>,
    reason: String,
    ts: i64,
    score: Option<f64>,
    expires_at: Option<i64>,
}

impl Last {
    fn of(c: &TagChange) -> Last {
        Last {
            tag: c.tag.clone(),
            op: c.op,
            rule: c.rule.clone(),
            reason: c.reason.clone(),
            ts: c.ts,
            score: c.score,
            expires_at: c.expires_at,
        }
    }

    fn view(&self) -> Change {
        Change {
            op: self.op.as_str(),
            rule: self.rule.to_string(),
            reason: self.reason.clone(),
            ts: format_ts(self.ts),
            score: self.score,
            expires_at: self.expires_at.map(format_ts),
        }
    }
}

/// One rule set's run: its processor and partition, and the last change of every tag of every
/// user (a user holds a tag at the end exactly when its last change is an `add`: removals by
/// expiry are emitted like any other).
struct Side<'a> {
    pack: &'a RulePack,
    processor: Processor,
    part: Partition,
    out: Vec<Output>,
    changes: u64,
    last: HashMap<Arc<str>, Vec<Last>>,
    first_error: Option<RuleError>,
    /// The first line that is not a valid event: its source and why.
    first_invalid: Option<String>,
}

impl<'a> Side<'a> {
    fn new(pack: &'a RulePack) -> Result<Side<'a>, RulesError> {
        Ok(Side {
            pack,
            processor: Processor::new(pack)?,
            part: Partition::new(),
            out: Vec::new(),
            changes: 0,
            last: HashMap::new(),
            first_error: None,
            first_invalid: None,
        })
    }

    /// Records what the last record produced; returns its tag changes.
    fn absorb(&mut self) -> Vec<TagChange> {
        let mut changes = Vec::new();
        for o in self.out.drain(..) {
            match o {
                Output::Change(c) => {
                    let tags = self.last.entry(c.user_id.clone()).or_default();
                    match tags.iter_mut().find(|l| l.tag == c.tag) {
                        Some(last) => *last = Last::of(&c),
                        None => tags.push(Last::of(&c)),
                    }
                    changes.push(c);
                }
                Output::Dead(d) => {
                    if self.first_invalid.is_none() && d.rule.is_none() {
                        self.first_invalid = Some(format!("{}: {}", d.source, d.error));
                    }
                    if let (None, Some(rule)) = (&self.first_error, &d.rule) {
                        self.first_error = Some(RuleError {
                            rule: rule.clone(),
                            error: d.error,
                            source: d.source,
                        });
                    }
                }
            }
        }
        self.changes += changes.len() as u64;
        changes
    }

    fn last(&self, user: &str, tag: &str) -> Option<&Last> {
        self.last.get(user)?.iter().find(|l| &*l.tag == tag)
    }

    fn holds(&self, user: &str, tag: &str) -> bool {
        self.last(user, tag).is_some_and(|l| l.op == Op::Add)
    }

    /// What this side tells about `tag` for `user`: the tags of its group held at the end, with
    /// the change that added each, and `change`.
    fn view(&self, user: &str, tag: &str, change: Option<Change>) -> SideView {
        let catalogue = &self.pack.catalogue;
        let group: Vec<&str> = match catalogue.id(tag) {
            Some(id) => catalogue
                .group(catalogue.info(id).group)
                .members
                .iter()
                .map(|m| &**catalogue.name(*m))
                .collect(),
            None => vec![tag],
        };
        let holds = self
            .last
            .get(user)
            .into_iter()
            .flatten()
            .filter(|l| l.op == Op::Add && group.contains(&&*l.tag))
            .map(|l| Held {
                tag: l.tag.to_string(),
                rule: l.rule.to_string(),
                reason: l.reason.clone(),
                since: format_ts(l.ts),
            })
            .collect();
        SideView { change, holds }
    }

    /// As [`Side::view`], with the tag's last change.
    fn view_last(&self, user: &str, tag: &str) -> SideView {
        self.view(user, tag, self.last(user, tag).map(Last::view))
    }

    fn summary(&self, rules: String) -> SideSummary {
        let names = self.processor.rules().names();
        SideSummary {
            rules,
            rule_names: names.iter().map(|n| n.to_string()).collect(),
            changes: self.changes,
            held: self
                .last
                .values()
                .flatten()
                .filter(|l| l.op == Op::Add)
                .count() as u64,
            rule_errors: names
                .iter()
                .zip(&self.processor.stats.rule_errors)
                .filter(|(_, n)| **n > 0)
                .map(|(name, n)| (name.to_string(), *n))
                .collect(),
            first_rule_error: self.first_error.clone(),
        }
    }
}

/// What makes two changes the same change: everything a consumer folds into state. The change
/// `id`, `rule` and `reason` describe a change and are shown, but do not make it differ.
type Key = (Arc<str>, Arc<str>, Op, Option<i64>, Option<i64>);

fn key(c: &TagChange) -> Key {
    // Scores compare as written to the output, to 4 decimals.
    let score = c.score.map(|s| (s * 1e4).round() as i64);
    (c.user_id.clone(), c.tag.clone(), c.op, score, c.expires_at)
}

/// The users who gained and who lost a tag, in sorted order (for stable samples).
type Moved = (Vec<Arc<str>>, Vec<Arc<str>>);

/// Per-tag tallies while replaying.
#[derive(Default)]
struct Tally {
    only_base: u64,
    only_new: u64,
    /// The first differing changes, by user: (user, base change, new change).
    changed: Vec<(Arc<str>, Option<Change>, Option<Change>)>,
}

impl Replay<'_> {
    /// Replays `input` through both rule sets.
    ///
    /// # Errors
    /// A rule set that does not compile, an unreadable input.
    pub fn run(
        &self,
        input: impl BufRead,
        name: &str,
        rules: [String; 2],
    ) -> Result<Report, ReplayError> {
        let mut base = Side::new(self.base)?;
        let mut new = Side::new(self.new)?;
        let file: Arc<str> = Arc::from(name);
        let mut reader = LineReader::new(input);
        let mut tallies: BTreeMap<Arc<str>, Tally> = BTreeMap::new();
        let mut lines = 0;
        loop {
            let next = reader.next_line().map_err(|source| ReplayError::Io {
                path: name.to_string(),
                source,
            })?;
            let Some((line, bytes)) = next else { break };
            lines += 1;
            let source = Source::File {
                name: file.clone(),
                line,
            };
            for side in [&mut base, &mut new] {
                side.processor
                    .process_record(&mut side.part, bytes, &source, &mut side.out);
            }
            self.compare(base.absorb(), new.absorb(), &mut tallies);
        }
        for side in [&mut base, &mut new] {
            side.processor.finish(&mut side.part, &mut side.out);
        }
        self.compare(base.absorb(), new.absorb(), &mut tallies);

        let [base_rules, new_rules] = rules;
        let mut report = Report {
            input: name.to_string(),
            lines,
            invalid_lines: base.processor.stats.decode_errors,
            users: base.part.user_count() as u64,
            base: base.summary(base_rules),
            new: new.summary(new_rules),
            users_differing: 0,
            changes_differing: tallies.values().map(|t| t.only_base + t.only_new).sum(),
            tags: Vec::new(),
            first_invalid: base.first_invalid.take(),
        };
        report.users_differing =
            self.final_differences(&base, &new, &mut tallies, &mut report.tags);
        Ok(report)
    }

    /// Matches the changes one record made on each side; what is left over differs.
    fn compare(
        &self,
        base: Vec<TagChange>,
        new: Vec<TagChange>,
        tallies: &mut BTreeMap<Arc<str>, Tally>,
    ) {
        if base.is_empty() && new.is_empty() {
            return;
        }
        let mut unmatched_new: Vec<Option<&TagChange>> = new.iter().map(Some).collect();
        let mut unmatched_base = Vec::new();
        for b in &base {
            let k = key(b);
            match unmatched_new
                .iter_mut()
                .find(|n| n.is_some_and(|n| key(n) == k))
            {
                Some(slot) => *slot = None,
                None => unmatched_base.push(b),
            }
        }
        let unmatched_new: Vec<&TagChange> = unmatched_new.into_iter().flatten().collect();
        for b in &unmatched_base {
            tallies.entry(b.tag.clone()).or_default().only_base += 1;
        }
        for n in &unmatched_new {
            tallies.entry(n.tag.clone()).or_default().only_new += 1;
        }
        // Sample pairs: each side's first unmatched change of a (user, tag).
        for c in unmatched_base.iter().chain(&unmatched_new) {
            let tally = tallies.get_mut(&c.tag).expect("tallied above");
            if tally.changed.len() >= self.samples
                || tally.changed.iter().any(|(u, _, _)| *u == c.user_id)
            {
                continue;
            }
            let same = |x: &&&TagChange| x.user_id == c.user_id && x.tag == c.tag;
            let b = unmatched_base.iter().find(same).map(|x| Last::of(x).view());
            let n = unmatched_new.iter().find(same).map(|x| Last::of(x).view());
            tally.changed.push((c.user_id.clone(), b, n));
        }
    }

    /// Compares the tags both sides end with; fills `tags` and returns how many users differ.
    fn final_differences(
        &self,
        base: &Side,
        new: &Side,
        tallies: &mut BTreeMap<Arc<str>, Tally>,
        tags: &mut Vec<TagDiff>,
    ) -> u64 {
        let mut moved: BTreeMap<Arc<str>, Moved> = BTreeMap::new();
        let mut held: BTreeMap<Arc<str>, (u64, u64)> = BTreeMap::new();
        let mut users: Vec<&Arc<str>> = base.last.keys().chain(new.last.keys()).collect();
        users.sort_unstable();
        users.dedup();
        let mut differing = 0;
        for user in users {
            let mut differs = false;
            let touched = base
                .last
                .get(user)
                .into_iter()
                .chain(new.last.get(user))
                .flatten();
            let mut seen: Vec<&Arc<str>> = Vec::new();
            for l in touched {
                if seen.contains(&&l.tag) {
                    continue;
                }
                seen.push(&l.tag);
                let (b, n) = (base.holds(user, &l.tag), new.holds(user, &l.tag));
                let count = held.entry(l.tag.clone()).or_default();
                count.0 += u64::from(b);
                count.1 += u64::from(n);
                if b != n {
                    differs = true;
                    let entry = moved.entry(l.tag.clone()).or_default();
                    if n {
                        entry.0.push(user.clone());
                    } else {
                        entry.1.push(user.clone());
                    }
                }
            }
            differing += u64::from(differs);
        }
        let mut names: Vec<Arc<str>> = moved.keys().chain(tallies.keys()).cloned().collect();
        names.sort_unstable();
        names.dedup();
        for tag in names {
            let tag = &*tag;
            let (gained, lost) = moved.remove(tag).unwrap_or_default();
            let tally = tallies.remove(tag).unwrap_or_default();
            let (held_base, held_new) = held.get(tag).copied().unwrap_or_default();
            let mut samples = Vec::new();
            for (kind, users) in [(Kind::Gained, &gained), (Kind::Lost, &lost)] {
                for user in users.iter().take(self.samples) {
                    samples.push(Sample {
                        user_id: user.to_string(),
                        kind,
                        base: base.view_last(user, tag),
                        new: new.view_last(user, tag),
                    });
                }
            }
            if samples.is_empty() {
                for (user, b, n) in tally.changed {
                    samples.push(Sample {
                        user_id: user.to_string(),
                        kind: Kind::Changed,
                        base: base.view(&user, tag, b),
                        new: new.view(&user, tag, n),
                    });
                }
            }
            tags.push(TagDiff {
                tag: tag.to_string(),
                gained: gained.len() as u64,
                lost: lost.len() as u64,
                held_base,
                held_new,
                changes_only_base: tally.only_base,
                changes_only_new: tally.only_new,
                samples,
            });
        }
        differing
    }
}
