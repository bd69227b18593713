//! The context a rule runs in: the user's state lent out of its partition, the event or timer,
//! the clock, and the outputs of the step. Native script functions act on it; a rule's changes
//! are rolled back when the rule fails, so a failing rule leaves no partial effect.

use std::collections::HashMap;
use std::sync::Arc;

use regex::Regex;

use rhai::ImmutableString;

use crate::decode::{Event, EventType};
use crate::state::timers::{self, Due, DueKind, TimerSlot};
use crate::state::{vars, UserIndex, UserState, Var, VarKey};
use crate::tags::{AddTag, Catalogue, Emitter, Output, TagId, TagSlot, Trigger};

use super::Params;

/// A timer is never set closer than this to now, so no rule can spin the clock in place.
pub const MIN_WAKE_MS: i64 = 1_000;
/// Variables one user may hold, all rules together (`user.set`, decayed sums, hit lists).
pub const MAX_VARS_PER_USER: usize = 64;
/// Longest string a variable may hold, in bytes.
pub const MAX_VAR_STRING_BYTES: usize = 1_024;
/// Regexes compiled from scripts are cached; the cache is bounded against scripts that build
/// patterns from input.
const REGEX_CACHE_MAX: usize = 1_024;

pub struct Ctx {
    pub catalogue: Arc<Catalogue>,
    pub params: Arc<Params>,
    pub rule_names: Arc<[Arc<str>]>,
    /// The time of the step: the clock for events, the due time for timers.
    pub now: i64,
    /// The rule running now.
    pub rule: u16,
    /// The user of the step, lent by its partition: boxed, so that lending it and giving it
    /// back move a pointer, not the struct.
    pub user: Box<UserState>,
    /// What [`Ctx::user`] held before the step (an empty struct), given back by
    /// [`Ctx::end_step`].
    idle_user: Option<Box<UserState>>,
    pub user_id: String,
    /// `user_id` shared with the outputs of the step; made (or taken from the event) on the
    /// first output.
    shared_user_id: Option<Arc<str>>,
    pub user_index: UserIndex,
    pub event: Option<Event>,
    pub trigger: Trigger,
    /// Outputs of the step, in order.
    pub out: Vec<Output>,
    /// Queue entries the step adds to the partition.
    pub dues: Vec<Due>,
    seq: u32,
    /// What the current rule found when it began, and what its current handler found.
    saved: Saved,
    handler_saved: Saved,
    /// Looked up on every variable a rule reads or writes: aHash rather than SipHash.
    var_keys: Vec<HashMap<Box<str>, VarKey, ahash::RandomState>>,
    regexes: HashMap<String, Regex>,
    /// Tag names and event type names as script strings, made once: getters hand out cheap
    /// clones instead of allocating a string per call.
    pub tag_names: Vec<ImmutableString>,
    pub type_names: [ImmutableString; 3],
    /// The empty script string (a user holding no tag of a group), made once.
    pub empty: ImmutableString,
    /// Allocations compiled handlers keep from one call to the next.
    pub spares: super::compiled::Spares,
}

/// What a rule can change, saved before it runs.
///
/// The user's tags, variables and timers as they were at [`Saved::take`] are copied only
/// before the first change to each after it (most handler calls change none of them), so a
/// rollback restores only what was kept.
#[derive(Default)]
struct Saved {
    tags: Vec<TagSlot>,
    kept_tags: bool,
    vars: Vec<(VarKey, Var)>,
    kept_vars: bool,
    timers: Vec<TimerSlot>,
    kept_timers: bool,
    /// Taken for the rule running now (a handler's save ends with its rule).
    live: bool,
    out: usize,
    dues: usize,
    seq: u32,
}

impl Saved {
    fn take(&mut self, out: usize, dues: usize, seq: u32) {
        self.kept_tags = false;
        self.kept_vars = false;
        self.kept_timers = false;
        self.live = true;
        self.out = out;
        self.dues = dues;
        self.seq = seq;
    }

    fn restore(
        &self,
        user: &mut UserState,
        out: &mut Vec<Output>,
        dues: &mut Vec<Due>,
        seq: &mut u32,
    ) {
        if self.kept_tags {
            user.tags.copy_from(&self.tags);
        }
        if self.kept_vars {
            user.vars.copy_from(&self.vars);
        }
        if self.kept_timers {
            user.timers.copy_from(&self.timers);
        }
        out.truncate(self.out);
        dues.truncate(self.dues);
        *seq = self.seq;
    }

    /// Keeps the tags as they are, if this save is live and has not kept them yet: called
    /// before every change to them. The same for variables and timers below.
    fn before_tags_change(&mut self, tags: &[TagSlot]) {
        keep_once(self.live, &mut self.kept_tags, &mut self.tags, tags);
    }

    fn before_var_change(&mut self, vars: &[(VarKey, Var)]) {
        keep_once(self.live, &mut self.kept_vars, &mut self.vars, vars);
    }

    fn before_timers_change(&mut self, timers: &[TimerSlot]) {
        keep_once(self.live, &mut self.kept_timers, &mut self.timers, timers);
    }
}

/// Copies `now` into `copy` the first time it is asked while the save is `live`.
fn keep_once<T: Clone>(live: bool, kept: &mut bool, copy: &mut Vec<T>, now: &[T]) {
    if live && !*kept {
        copy.clear();
        copy.extend_from_slice(now);
        *kept = true;
    }
}

impl Ctx {
    pub fn new(catalogue: Arc<Catalogue>, params: Arc<Params>, rule_names: Arc<[Arc<str>]>) -> Ctx {
        let rules = rule_names.len();
        Ctx {
            params,
            rule_names,
            now: 0,
            rule: 0,
            user: Box::default(),
            idle_user: None,
            user_id: String::new(),
            shared_user_id: None,
            user_index: 0,
            event: None,
            trigger: Trigger::Timer,
            out: Vec::new(),
            dues: Vec::new(),
            seq: 0,
            saved: Saved::default(),
            handler_saved: Saved::default(),
            var_keys: vec![HashMap::default(); rules],
            regexes: HashMap::new(),
            tag_names: (0..catalogue.len())
                .map(|i| ImmutableString::from(catalogue.name(i as TagId).as_ref()))
                .collect(),
            type_names: EventType::ALL.map(|t| ImmutableString::from(t.as_str())),
            empty: ImmutableString::new(),
            spares: super::compiled::Spares::default(),
            catalogue,
        }
    }

    /// Starts a step for one user.
    pub fn begin_step(
        &mut self,
        user_id: &str,
        index: UserIndex,
        user: Box<UserState>,
        now: i64,
        trigger: Trigger,
    ) {
        self.user_id.clear();
        self.user_id.push_str(user_id);
        self.shared_user_id = None;
        self.user_index = index;
        self.idle_user = Some(std::mem::replace(&mut self.user, user));
        self.now = now;
        self.trigger = trigger;
        self.seq = 0;
    }

    /// Ends the step: the user lent to it, to be given back to its partition.
    pub fn end_step(&mut self) -> Box<UserState> {
        let idle = self.idle_user.take().unwrap_or_default();
        std::mem::replace(&mut self.user, idle)
    }

    /// Saves what rule `rule` may change.
    pub fn begin_rule(&mut self, rule: u16) {
        self.rule = rule;
        self.handler_saved.live = false;
        self.saved.take(self.out.len(), self.dues.len(), self.seq);
    }

    /// Undoes everything the current rule changed.
    pub fn rollback_rule(&mut self) {
        self.saved
            .restore(&mut self.user, &mut self.out, &mut self.dues, &mut self.seq);
    }

    /// Saves what the current rule has done so far, before one more of its handlers runs.
    pub fn save_handler(&mut self) {
        self.handler_saved
            .take(self.out.len(), self.dues.len(), self.seq);
    }

    /// Undoes what the handler since [`Ctx::save_handler`] changed.
    pub fn rollback_handler(&mut self) {
        self.handler_saved
            .restore(&mut self.user, &mut self.out, &mut self.dues, &mut self.seq);
    }

    fn emitter(&mut self) -> Emitter<'_> {
        // An event's step shares the event's copy of the id.
        let user_id = self
            .shared_user_id
            .get_or_insert_with(|| match &self.event {
                Some(event) => event.user_id.clone(),
                None => Arc::from(self.user_id.as_str()),
            });
        Emitter {
            catalogue: &self.catalogue,
            rule_names: &self.rule_names,
            user_id,
            trigger: &self.trigger,
            now: self.now,
            seq: self.seq,
        }
    }

    pub fn tag_id(&self, name: &str) -> Result<TagId, String> {
        self.catalogue
            .id(name)
            .ok_or_else(|| format!("tag {name:?} is not declared in the tag catalogue"))
    }

    pub fn add_tag(
        &mut self,
        name: &str,
        score: Option<f64>,
        reason: String,
        ttl_ms: Option<i64>,
    ) -> Result<(), String> {
        let tag = self.tag_id(name)?;
        let rule = self.rule;
        let add = AddTag {
            tag,
            score,
            reason,
            ttl_ms,
        };
        self.before_tags_change();
        let mut tags = std::mem::take(&mut self.user.tags);
        let mut out = std::mem::take(&mut self.out);
        let result = {
            let mut em = self.emitter();
            let r = em.add(&mut tags, rule, add, &mut out);
            (r, em.seq)
        };
        self.user.tags = tags;
        self.out = out;
        self.seq = result.1;
        if let Some(expires) = result.0.map_err(|e| e.to_string())? {
            self.dues.push(Due {
                at: expires,
                user: self.user_index,
                kind: DueKind::Expiry(tag),
            });
        }
        Ok(())
    }

    pub fn remove_tag(&mut self, tag: TagId, reason: String) {
        if !self.user.tags.iter().any(|s| s.tag == tag) {
            return;
        }
        let rule = self.rule;
        self.before_tags_change();
        let mut tags = std::mem::take(&mut self.user.tags);
        let mut out = std::mem::take(&mut self.out);
        let seq = {
            let mut em = self.emitter();
            em.remove(&mut tags, rule, tag, reason, &mut out);
            em.seq
        };
        self.user.tags = tags;
        self.out = out;
        self.seq = seq;
    }

    /// `untag(name, reason)`: removes the tag if held.
    pub fn untag(&mut self, name: &str, reason: String) -> Result<(), String> {
        let tag = self.tag_id(name)?;
        self.remove_tag(tag, reason);
        Ok(())
    }

    /// `untag_group(group, reason)`: removes whichever member of the group is held.
    pub fn untag_group(&mut self, group: &str, reason: &str) -> Result<(), String> {
        for tag in self.group_members(group)? {
            self.remove_tag(tag, reason.to_string());
        }
        Ok(())
    }

    /// Removes a tag whose TTL is due now. Returns whether it was removed.
    pub fn expire_tag(&mut self, tag: TagId) -> bool {
        self.before_tags_change();
        let mut tags = std::mem::take(&mut self.user.tags);
        let mut out = std::mem::take(&mut self.out);
        let (removed, seq) = {
            let mut em = self.emitter();
            (em.expire(&mut tags, tag, &mut out), em.seq)
        };
        self.user.tags = tags;
        self.out = out;
        self.seq = seq;
        removed
    }

    pub fn has_tag(&self, tag: TagId) -> bool {
        self.user.tags.iter().any(|s| s.tag == tag)
    }

    /// The held member of `group`, if any.
    pub fn tag_in(&self, group: &str) -> Result<Option<TagId>, String> {
        let g = self
            .catalogue
            .group_index(group)
            .ok_or_else(|| format!("group {group:?} is not declared in the tag catalogue"))?;
        // By each tag's group rather than by the group's members: one look a tag.
        Ok(self
            .user
            .tags
            .iter()
            .find(|s| self.catalogue.group_of(s.tag) == g)
            .map(|s| s.tag))
    }

    pub fn group_members(&self, group: &str) -> Result<Vec<TagId>, String> {
        self.catalogue
            .group_by_name(group)
            .map(|g| g.members.clone())
            .ok_or_else(|| format!("group {group:?} is not declared in the tag catalogue"))
    }

    /// The key of the current rule's variable `name` (variables are private to their rule).
    pub fn var_key(&mut self, name: &str) -> Result<VarKey, String> {
        let rule = self.rule as usize;
        if let Some(key) = self.var_keys[rule].get(name) {
            return Ok(*key);
        }
        let key = vars::intern(&format!("{}.{name}", self.rule_names[rule]))
            .map_err(|e| e.to_string())?;
        self.var_keys[rule].insert(name.into(), key);
        Ok(key)
    }

    /// Sets a variable of the current user within the per-user caps.
    ///
    /// # Errors
    /// A new variable past [`MAX_VARS_PER_USER`], or a string past [`MAX_VAR_STRING_BYTES`].
    pub fn set_var(&mut self, key: VarKey, var: Var) -> Result<(), String> {
        if let Var::Str(s) = &var {
            if s.len() > MAX_VAR_STRING_BYTES {
                return Err(format!(
                    "variable `{}` would hold a string of {} bytes; the limit is {MAX_VAR_STRING_BYTES}",
                    vars::name_of(key),
                    s.len()
                ));
            }
        }
        if self.user.vars.len() >= MAX_VARS_PER_USER && self.user.var(key).is_none() {
            return Err(format!(
                "variable `{}` would be this user's {}th; the limit is {MAX_VARS_PER_USER} per user",
                vars::name_of(key),
                MAX_VARS_PER_USER + 1
            ));
        }
        self.before_var_change();
        self.user.set_var(key, var);
        Ok(())
    }

    /// Removes a variable of the current user.
    pub fn remove_var(&mut self, key: VarKey) {
        self.before_var_change();
        self.user.remove_var(key);
    }

    /// Every change to the user's tags comes through here first, so the saves taken for a
    /// rollback copy them only when they are about to change. The same for variables and
    /// timers below.
    fn before_tags_change(&mut self) {
        self.saved.before_tags_change(&self.user.tags);
        self.handler_saved.before_tags_change(&self.user.tags);
    }

    fn before_var_change(&mut self) {
        self.saved.before_var_change(&self.user.vars);
        self.handler_saved.before_var_change(&self.user.vars);
    }

    fn before_timers_change(&mut self) {
        self.saved.before_timers_change(&self.user.timers);
        self.handler_saved.before_timers_change(&self.user.timers);
    }

    /// Arms the current rule's timer for this user (one per rule; re-arming moves it). From an
    /// event a time at or before now means "as soon as possible" ([`MIN_WAKE_MS`] ahead).
    ///
    /// # Errors
    /// From a timer's own handler, a time at or before now: the timer would fire again at once,
    /// for ever.
    pub fn wake_at(&mut self, due: i64) -> Result<(), String> {
        if matches!(self.trigger, Trigger::Timer) && due <= self.now {
            return Err(format!(
                "on_tick re-armed its timer at {}, not after now ({}): it would fire again at \
                 once, without end",
                crate::tags::format_ts(due),
                crate::tags::format_ts(self.now)
            ));
        }
        let due = due.max(self.now.saturating_add(MIN_WAKE_MS));
        self.before_timers_change();
        if let Some(at) = timers::set(&mut self.user.timers, self.rule, due) {
            self.dues.push(Due {
                at,
                user: self.user_index,
                kind: DueKind::Wake(self.rule),
            });
        }
        Ok(())
    }

    pub fn cancel_wake(&mut self) {
        self.before_timers_change();
        timers::cancel(&mut self.user.timers, self.rule);
    }

    /// A compiled regex, compiled once per pattern.
    pub fn regex(&mut self, pattern: &str) -> Result<&Regex, String> {
        if !self.regexes.contains_key(pattern) {
            if self.regexes.len() >= REGEX_CACHE_MAX {
                self.regexes.clear();
            }
            let re = Regex::new(pattern).map_err(|e| format!("bad pattern {pattern:?}: {e}"))?;
            self.regexes.insert(pattern.to_string(), re);
        }
        Ok(&self.regexes[pattern])
    }
}
