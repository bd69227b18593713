//! Tags: the catalogue, the tags a user holds, and the changes the engine emits.
//!
//! Only changes leave the engine. Adding a held tag in the same score band emits nothing (its
//! expiry is refreshed); a band change is emitted as `remove` then `add`, so folding the output
//! stream never adds a present tag or removes an absent one. Adding a member of an exclusive
//! group removes the member held before, and both changes are emitted, removal first.

pub mod catalogue;
mod json;
mod output;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::state::Slots;

pub use catalogue::{valid_segment, valid_tag_name, Catalogue, TagId};
pub use output::{change_id, format_ts, ChangeId, DeadLetter, Op, Output, TagChange};

/// `expires` value of a tag that never expires.
pub const NEVER: i64 = i64::MAX;

/// A tag held by a user.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TagSlot {
    /// Epoch ms at which the tag is removed, or [`NEVER`].
    pub expires: i64,
    /// The score last emitted for this tag, `NaN` when it has none.
    pub score: f64,
    /// Epoch ms of the step that added it (a score band change adds it anew).
    pub since: i64,
    pub tag: TagId,
    /// Index of the rule that added it (names the rule of an expiry's removal).
    pub rule: u16,
    /// The event that added it, as a number into the user's [`crate::state::Origins`].
    pub origin: u16,
}

/// `since` of a tag restored from a state written before tags kept it.
pub const SINCE_UNKNOWN: i64 = i64::MIN;

impl TagSlot {
    pub fn score(&self) -> Option<f64> {
        (!self.score.is_nan()).then_some(self.score)
    }

    /// When the tag was added; `None` for a tag restored from a state that did not say.
    pub fn since_known(&self) -> Option<i64> {
        (self.since != SINCE_UNKNOWN).then_some(self.since)
    }
}

/// What triggered a step: names output ids and the `event_id` of changes.
#[derive(Debug, Clone)]
pub enum Trigger {
    Event(Arc<str>),
    /// A rule's timer or a TTL expiry falling due.
    Timer,
}

/// A requested tag addition.
#[derive(Debug, Clone)]
pub struct AddTag {
    pub tag: TagId,
    pub score: Option<f64>,
    pub reason: String,
    /// Explicit TTL in ms; `None` uses the catalogue default.
    pub ttl_ms: Option<i64>,
}

/// Everything a tag change needs besides the tag itself; one per step (event or timer).
pub struct Emitter<'a> {
    pub catalogue: &'a Catalogue,
    pub rule_names: &'a [Arc<str>],
    pub user_id: &'a Arc<str>,
    pub trigger: &'a Trigger,
    /// Time of the step: the clock for events, the due time for timers.
    pub now: i64,
    /// Changes emitted so far in this step; makes every id of the step distinct.
    pub seq: u32,
}

/// The rule named by the removal of a tag whose rule a reload removed.
pub const RETIRED_RULE_NAME: &str = "(removed rule)";

/// Why a tag operation was refused (a rule error).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TagError {
    #[error("tag {0:?} is not declared in the tag catalogue")]
    Undeclared(String),
    #[error("user already holds the maximum of {0} tags")]
    TooMany(usize),
    #[error("ttl must be positive, got {0} ms")]
    BadTtl(i64),
}

impl Emitter<'_> {
    fn emit(&mut self, out: &mut Vec<Output>, slot: &TagSlot, op: Op, rule: u16, reason: String) {
        let tag = self.catalogue.name(slot.tag).clone();
        let id = change_id(self.trigger, self.user_id, &tag, op, self.now, self.seq);
        self.seq += 1;
        out.push(Output::Change(TagChange {
            id,
            user_id: self.user_id.clone(),
            tag,
            op,
            score: slot.score(),
            rule: self
                .rule_names
                .get(usize::from(rule))
                .cloned()
                .unwrap_or_else(|| RETIRED_RULE_NAME.into()),
            reason,
            event_id: match self.trigger {
                Trigger::Event(id) => Some(id.clone()),
                Trigger::Timer => None,
            },
            ts: self.now,
            expires_at: (slot.expires != NEVER).then_some(slot.expires),
            // Stamped by the processor, which knows the rule set in force.
            rules_version: Arc::default(),
        }));
    }

    /// Adds (or refreshes) a tag for `rule`. Returns the expiry set, so the caller can schedule it.
    ///
    /// # Errors
    /// A non-positive TTL, or a new tag beyond the catalogue's per-user maximum.
    pub fn add(
        &mut self,
        tags: &mut Slots<TagSlot>,
        rule: u16,
        add: AddTag,
        out: &mut Vec<Output>,
    ) -> Result<Option<i64>, TagError> {
        let ttl = add.ttl_ms.or(self.catalogue.info(add.tag).ttl_ms);
        if let Some(ttl) = ttl.filter(|t| *t <= 0) {
            return Err(TagError::BadTtl(ttl));
        }
        let expires = ttl.map_or(NEVER, |t| self.now.saturating_add(t));
        let score = add.score.filter(|s| s.is_finite());
        let new = TagSlot {
            expires,
            score: score.unwrap_or(f64::NAN),
            since: self.now,
            tag: add.tag,
            rule,
            origin: match self.trigger {
                Trigger::Event(_) => crate::state::origins::THIS_EVENT,
                Trigger::Timer => crate::state::origins::NO_EVENT,
            },
        };
        if let Some(held) = tags.iter_mut().find(|s| s.tag == add.tag) {
            held.expires = expires;
            if self.catalogue.band(held.score()) == self.catalogue.band(score) {
                return Ok(ttl.map(|_| expires));
            }
            let old = *held;
            *held = new;
            self.emit(out, &old, Op::Remove, old.rule, "score band changed".into());
            self.emit(out, &new, Op::Add, rule, add.reason);
            return Ok(ttl.map(|_| expires));
        }
        let peers = self.catalogue.exclusive_peers(add.tag);
        if let Some(pos) = tags.iter().position(|s| peers.contains(&s.tag)) {
            let old = tags.remove(pos);
            let reason = format!("replaced by {}", self.catalogue.name(add.tag));
            self.emit(out, &old, Op::Remove, rule, reason);
        } else if tags.len() >= self.catalogue.max_tags_per_user {
            return Err(TagError::TooMany(self.catalogue.max_tags_per_user));
        }
        let at = tags.partition_point(|s| s.tag < add.tag);
        tags.insert(at, new);
        self.emit(out, &new, Op::Add, rule, add.reason);
        Ok(ttl.map(|_| expires))
    }

    /// Removes a tag if held; emits the removal.
    pub fn remove(
        &mut self,
        tags: &mut Slots<TagSlot>,
        rule: u16,
        tag: TagId,
        reason: String,
        out: &mut Vec<Output>,
    ) {
        if let Some(pos) = tags.iter().position(|s| s.tag == tag) {
            let old = tags.remove(pos);
            self.emit(out, &old, Op::Remove, rule, reason);
        }
    }

    /// Removes a tag whose TTL fell due at `self.now`; `false` when it was refreshed or removed since.
    pub fn expire(&mut self, tags: &mut Slots<TagSlot>, tag: TagId, out: &mut Vec<Output>) -> bool {
        match tags
            .iter()
            .position(|s| s.tag == tag && s.expires == self.now)
        {
            Some(pos) => {
                let old = tags.remove(pos);
                self.emit(out, &old, Op::Remove, old.rule, "expired".into());
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests;
