//! A partition: the users it owns, its event-time clock and its due queue.

use std::borrow::Cow;

use super::compact;
use super::prefetch::prefetch;
use super::timers::{Due, DueKind, DueQueue, Popped, QUEUE_ENTRY_BYTES};
use super::user_ids::UserIds;
use super::{MemoryUse, UserState};
use crate::tags::NEVER;

pub use super::user_ids::UserIndex;

/// A partition keeps as structs at most one user in [`HOT_SHARE`], and at least
/// [`MIN_HOT_USERS`]; past that, the eighth touched longest ago go compact ([`COOL_SHARE`]).
/// Enough for the few very active users (on the generated 60-day stream of 100k users the top
/// 1 % write two fifths of the events) to stay at hand between their events, few enough that
/// the structs (about 0.7 KB a user with its lists) add about 10 B to the mean user.
pub const HOT_SHARE: usize = 64;
/// See [`HOT_SHARE`].
pub const MIN_HOT_USERS: usize = 512;
/// One cooling makes compact one in this many hot users. Small batches keep the hot set near
/// its limit between coolings (half of it went at once before, so it held three quarters of
/// the limit on average): the users that come back soon are then more often still structs, for
/// the same peak of structs.
const COOL_SHARE: usize = 8;

/// A user as the partition holds it.
#[derive(Debug)]
enum Held {
    /// Touched recently: the struct, ready for the next step.
    Hot(Box<UserState>),
    /// Gone quiet: [`compact`]'s encoding, one exact-size allocation.
    Cold(Box<[u8]>),
}

#[derive(Debug, Default)]
pub struct Partition {
    /// The largest event time seen (or wall time adopted while idle); `None` before any.
    clock: Option<i64>,
    ids: UserIds,
    users: Vec<Held>,
    /// The users held [`Held::Hot`], in the order they became so (each once).
    hot: Vec<UserIndex>,
    /// Hot users kept at most; `None`: one in [`HOT_SHARE`], at least [`MIN_HOT_USERS`].
    hot_limit: Option<usize>,
    /// Reused to encode users going compact.
    scratch: Vec<u8>,
    /// Structs of users gone compact, reused for users made hot, with their lists' allocations:
    /// a user made hot is decoded into one and allocates nothing for lists that fit. Up to as
    /// many as one cooling makes compact, so the warms between two coolings allocate nothing,
    /// while the structs held (hot and spare) stay within the hot limit as before. Boxed on
    /// purpose: the boxes themselves are what is reused, moved into [`Held::Hot`].
    #[allow(clippy::vec_box)]
    spare: Vec<Box<UserState>>,
    /// An empty struct left in the place of a user lent out ([`Partition::take_user`]), so
    /// that lending and giving back move pointers, not structs.
    placeholder: Option<Box<UserState>>,
    due: DueQueue,
    /// Users changed since the last [`Partition::take_dirty`], for incremental snapshots.
    dirty: Vec<UserIndex>,
    /// Per user: [`DIRTY`] and [`USED`].
    marks: Vec<u8>,
}

/// The user is in [`Partition::take_dirty`]'s list.
const DIRTY: u8 = 1;
/// The hot user was touched since it became hot or was last spared from cooling.
const USED: u8 = 2;

impl Partition {
    pub fn new() -> Partition {
        Partition::default()
    }

    /// A partition that keeps at most `limit` (at least 1) users hot instead of its share of
    /// [`HOT_SHARE`]: for tests, which need the compact form exercised on small streams.
    pub fn with_hot_limit(limit: usize) -> Partition {
        Partition {
            hot_limit: Some(limit.max(1)),
            ..Partition::default()
        }
    }

    pub fn clock(&self) -> Option<i64> {
        self.clock
    }

    /// Moves the clock forward to `to` (never back). Returns the clock.
    pub fn advance_clock(&mut self, to: i64) -> i64 {
        let now = self.clock.map_or(to, |c| c.max(to));
        self.clock = Some(now);
        now
    }

    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    pub fn find(&self, id: &str) -> Option<UserIndex> {
        self.ids.find(id)
    }

    /// The index of `id`, adding an empty user when new.
    pub fn find_or_add(&mut self, id: &str) -> UserIndex {
        if let Some(i) = self.ids.find(id) {
            return i;
        }
        let i = self.ids.add(id);
        self.users.push(Held::Hot(Box::default()));
        self.hot.push(i);
        self.marks.push(0);
        i
    }

    pub fn id(&self, user: UserIndex) -> &str {
        self.ids.get(user)
    }

    /// A user's state: borrowed when the user is at hand, decoded when it is compact. In a
    /// step's path, prefer [`Partition::user_at_hand`], which keeps the decoded user.
    pub fn user(&self, user: UserIndex) -> Cow<'_, UserState> {
        match &self.users[user as usize] {
            Held::Hot(state) => Cow::Borrowed(state),
            Held::Cold(bytes) => Cow::Owned(compact::decode(bytes)),
        }
    }

    /// Calls `f` with a user's state as [`Partition::user`] gives it, a compact user decoded
    /// into `scratch` (whose allocations are reused) rather than into a new state.
    pub fn with_user<R>(
        &self,
        user: UserIndex,
        scratch: &mut UserState,
        f: impl FnOnce(&UserState) -> R,
    ) -> R {
        match &self.users[user as usize] {
            Held::Hot(state) => f(state),
            Held::Cold(bytes) => {
                compact::decode_into(bytes, scratch, &mut MemoryUse::default());
                f(scratch)
            }
        }
    }

    /// A user's state, making the user hot first (the next step for it finds it decoded).
    pub fn user_at_hand(&mut self, user: UserIndex) -> &UserState {
        self.warm(user)
    }

    /// Lends a user's state out (to the rule context); give it back with [`Partition::put_user`].
    /// Until then the partition holds an empty state in its place.
    pub fn take_user(&mut self, user: UserIndex) -> Box<UserState> {
        self.mark_dirty(user);
        // Touched again while hot (not just made hot for this step): spared at the next cooling.
        if matches!(self.users[user as usize], Held::Hot(_)) && self.hot.last() != Some(&user) {
            self.marks[user as usize] |= USED;
        }
        self.warm(user);
        let empty = self.placeholder.take().unwrap_or_default();
        match &mut self.users[user as usize] {
            Held::Hot(state) => std::mem::replace(state, empty),
            Held::Cold(_) => unreachable!("warmed above"),
        }
    }

    /// Gives back a user's state that [`Partition::take_user`] lent out (or sets it). Hot users
    /// beyond the limit ([`HOT_SHARE`]) go compact here, when no state is lent out.
    pub fn put_user(&mut self, user: UserIndex, mut state: Box<UserState>) {
        match &mut self.users[user as usize] {
            Held::Hot(held) => {
                std::mem::swap(held, &mut state);
                // What stood in the user's place while it was lent, emptied for the next one.
                *state = UserState::default();
                self.placeholder = Some(state);
            }
            held @ Held::Cold(_) => {
                *held = Held::Hot(state);
                self.hot.push(user);
            }
        }
        let limit = self
            .hot_limit
            .unwrap_or_else(|| (self.users.len() / HOT_SHARE).max(MIN_HOT_USERS));
        if self.hot.len() > limit {
            self.cool(self.hot.len().div_ceil(COOL_SHARE));
        }
    }

    /// The user as a struct, decoding it when it is compact.
    fn warm(&mut self, user: UserIndex) -> &mut UserState {
        let held = &mut self.users[user as usize];
        if let Held::Cold(bytes) = held {
            let mut state = self.spare.pop().unwrap_or_default();
            compact::decode_into(bytes, &mut state, &mut MemoryUse::default());
            *held = Held::Hot(state);
            self.hot.push(user);
        }
        match held {
            Held::Hot(state) => state,
            Held::Cold(_) => unreachable!("warmed above"),
        }
    }

    /// Makes up to `n` hot users compact, oldest first; a user touched again since it became
    /// hot is spared once and goes to the back (the clock algorithm's second chance), so the
    /// few very active users stay structs.
    fn cool(&mut self, n: usize) {
        let mut hot = std::mem::take(&mut self.hot);
        let mut spared = Vec::new();
        let mut victims = Vec::with_capacity(n);
        let mut scanned = 0;
        for &user in &hot {
            if victims.len() == n {
                break;
            }
            scanned += 1;
            let mark = &mut self.marks[user as usize];
            if *mark & USED != 0 {
                *mark &= !USED;
                spared.push(user);
                continue;
            }
            victims.push(user);
        }
        // The users cooled are the ones touched longest ago, so their structs and lists are
        // out of the cache: each is asked for a few users ahead of its encoding (slot, then
        // struct, then lists), which takes the memory latency off the loop.
        for (i, &user) in victims.iter().enumerate() {
            if let Some(&ahead) = victims.get(i + 12) {
                prefetch(&self.users[ahead as usize]);
            }
            if let Some(&ahead) = victims.get(i + 8) {
                if let Held::Hot(state) = &self.users[ahead as usize] {
                    state.prefetch_struct();
                }
            }
            if let Some(&ahead) = victims.get(i + 4) {
                if let Held::Hot(state) = &self.users[ahead as usize] {
                    state.prefetch_lists();
                }
            }
            let held = &mut self.users[user as usize];
            if let Held::Hot(state) = held {
                self.scratch.clear();
                compact::encode(state, &mut self.scratch);
                let cold = Held::Cold(self.scratch.as_slice().into());
                if let Held::Hot(state) = std::mem::replace(held, cold) {
                    // Kept with its lists' allocations (the next user decoded into it
                    // replaces every field), unless a very active user made them large.
                    if self.spare.len() < n && state.heap_bytes() <= MAX_SPARE_HEAP {
                        self.spare.push(state);
                    }
                }
            }
        }
        hot.drain(..scanned);
        hot.extend(spared);
        self.hot = hot;
    }

    fn mark_dirty(&mut self, user: UserIndex) {
        let mark = &mut self.marks[user as usize];
        if *mark & DIRTY == 0 {
            *mark |= DIRTY;
            self.dirty.push(user);
        }
    }

    /// The users changed since the last call, in first-change order.
    pub fn take_dirty(&mut self) -> Vec<UserIndex> {
        for u in &self.dirty {
            self.marks[*u as usize] &= !DIRTY;
        }
        std::mem::take(&mut self.dirty)
    }

    pub fn push_due(&mut self, due: Due) {
        self.due.push(due);
    }

    /// Settles a popped wake-up of `rule` at `at` for a compact user without decoding it, when
    /// the timer does not fire: [`Popped::Stale`], or [`Popped::Requeue`] with the slot moved
    /// (the caller queues the new entry), exactly as [`super::timers::on_pop`] on the struct.
    /// `None` when the user is hot or the timer fires: take the user.
    pub fn pop_wake_compact(&mut self, user: UserIndex, rule: u16, at: i64) -> Option<Popped> {
        let Held::Cold(bytes) = &self.users[user as usize] else {
            return None;
        };
        let mut timers = compact::timers(bytes);
        let Some(slot) = timers.iter_mut().find(|s| s.rule == rule && s.queued == at) else {
            return Some(Popped::Stale);
        };
        if slot.due <= at {
            return None;
        }
        slot.queued = slot.due;
        let due = slot.due;
        self.scratch.clear();
        compact::with_timers(bytes, &timers, &mut self.scratch);
        self.users[user as usize] = Held::Cold(self.scratch.as_slice().into());
        self.mark_dirty(user);
        Some(Popped::Requeue(due))
    }

    /// The next queued entry due at or before `upto`.
    pub fn pop_due(&mut self, upto: i64) -> Option<Due> {
        self.due.pop_due(upto)
    }

    pub fn next_due(&self) -> Option<i64> {
        self.due.peek_at()
    }

    pub fn queued(&self) -> usize {
        self.due.len()
    }

    /// Adds a restored user (from a snapshot) with its timers and tag expiries queued.
    pub fn restore_user(&mut self, id: &str, state: UserState) -> UserIndex {
        let user = self.find_or_add(id);
        self.queue_due_of(user, &state);
        self.scratch.clear();
        compact::encode(&state, &mut self.scratch);
        if let Held::Hot(_) = self.users[user as usize] {
            // A new user is the last to have become hot.
            if self.hot.last() == Some(&user) {
                self.hot.pop();
            } else {
                self.hot.retain(|u| *u != user);
            }
        }
        self.users[user as usize] = Held::Cold(self.scratch.as_slice().into());
        user
    }

    /// Renumbers rules and tags after the rule set changed (hot reload): `rules[old]` and
    /// `tags[old]` give the new number, `None` when the rule or tag is gone. Timers of a rule that
    /// is gone are dropped (nothing is left to wake); a tag the catalogue no longer declares is
    /// dropped; a held tag whose rule is gone stays, credited to `retired_rule`. The due queue
    /// is rebuilt from the users' timers and expiries.
    pub fn renumber(
        &mut self,
        rules: &[Option<u16>],
        tags: &[Option<crate::tags::TagId>],
        retired_rule: u16,
    ) {
        let rule_of = |r: u16| rules.get(usize::from(r)).copied().flatten();
        let tag_of = |t: crate::tags::TagId| tags.get(usize::from(t)).copied().flatten();
        self.due = DueQueue::default();
        for user in 0..self.users.len() as UserIndex {
            let mut state = self.take_user(user);
            state.timers.retain(|t| rule_of(t.rule).is_some());
            for timer in state.timers.iter_mut() {
                timer.rule = rule_of(timer.rule).unwrap_or(retired_rule);
            }
            state.tags.retain(|t| tag_of(t.tag).is_some());
            for held in state.tags.iter_mut() {
                held.tag = tag_of(held.tag).unwrap_or(held.tag);
                held.rule = rule_of(held.rule).unwrap_or(retired_rule);
            }
            self.queue_due_of(user, &state);
            self.put_user(user, state);
        }
    }

    /// Queues the timers and tag expiries `state` holds, for `user`.
    fn queue_due_of(&mut self, user: UserIndex, state: &UserState) {
        for slot in &state.timers {
            self.due.push(Due {
                at: slot.queued,
                user,
                kind: DueKind::Wake(slot.rule),
            });
        }
        for tag in state.tags.iter().filter(|t| t.expires != NEVER) {
            self.due.push(Due {
                at: tag.expires,
                user,
                kind: DueKind::Expiry(tag.tag),
            });
        }
    }

    /// Restores the clock of a snapshot.
    pub fn restore_clock(&mut self, clock: Option<i64>) {
        self.clock = clock;
    }

    /// Approximate bytes of state: users, ids, index and queue (what [`Partition::memory`]
    /// totals, without decoding the compact users).
    pub fn memory_bytes(&self) -> usize {
        let users: usize = self
            .users
            .iter()
            .map(|held| match held {
                Held::Hot(state) => state.heap_bytes() + std::mem::size_of::<UserState>(),
                Held::Cold(bytes) => bytes.len(),
            })
            .sum();
        self.fixed_bytes() + users + self.ids.memory_bytes() + self.due.memory_bytes()
    }

    /// Approximate bytes of state, by part. Decodes every compact user to split its bytes.
    pub fn memory(&self) -> MemoryUse {
        let mut m = MemoryUse {
            fixed: self.fixed_bytes(),
            ids: self.ids.memory_bytes(),
            queue: self.due.memory_bytes(),
            ..MemoryUse::default()
        };
        let mut each: Vec<usize> = Vec::with_capacity(self.users.len());
        for (i, held) in self.users.iter().enumerate() {
            let mut own = MemoryUse::default();
            let decoded;
            let user = match held {
                Held::Hot(state) => {
                    own.fixed += std::mem::size_of::<UserState>();
                    state.add_heap_bytes(&mut own);
                    &**state
                }
                Held::Cold(bytes) => {
                    decoded = compact::decode_measured(bytes, &mut own);
                    &decoded
                }
            };
            let queued =
                user.timers.len() + user.tags.iter().filter(|t| t.expires != NEVER).count();
            each.push(
                own.total()
                    + PER_USER
                    + self.ids.get(i as UserIndex).len()
                    + UserIds::PER_ID
                    + queued * QUEUE_ENTRY_BYTES,
            );
            m += own;
        }
        if !each.is_empty() {
            let mid = each.len() / 2;
            m.median_user = *each.select_nth_unstable(mid).1;
        }
        m
    }

    /// Slots and marks of every user, the hot list and the spare structs.
    fn fixed_bytes(&self) -> usize {
        self.users.len() * PER_USER
            + self.hot.capacity() * std::mem::size_of::<UserIndex>()
            + self
                .spare
                .iter()
                .map(|s| std::mem::size_of::<UserState>() + s.heap_bytes())
                .sum::<usize>()
    }

    /// Users held compact, of [`Partition::user_count`].
    pub fn compact_users(&self) -> usize {
        self.users
            .iter()
            .filter(|h| matches!(h, Held::Cold(_)))
            .count()
    }
}

/// Heap bytes a spare struct may keep: lists of ordinary size (a user with a long window log
/// is not worth keeping allocated).
const MAX_SPARE_HEAP: usize = 1024;

/// Bytes every user costs besides its state: its slot and its dirty mark.
const PER_USER: usize = std::mem::size_of::<Held>() + 1;

#[cfg(test)]
mod tests;
