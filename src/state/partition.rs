//! A partition: the users it owns, its event-time clock and its due queue.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

use super::timers::{Due, DueKind, DueQueue, QUEUE_ENTRY_BYTES};
use super::{MemoryUse, UserState};
use crate::tags::NEVER;

/// Index of a user inside its partition (assigned in first-seen order).
pub type UserIndex = u32;

#[derive(Debug, Default)]
pub struct Partition {
    /// The largest event time seen (or wall time adopted while idle); `None` before any.
    clock: Option<i64>,
    ids: UserIds,
    users: Vec<UserState>,
    due: DueQueue,
    /// Users changed since the last [`Partition::take_dirty`], for incremental snapshots.
    dirty: Vec<UserIndex>,
    dirty_mark: Vec<bool>,
}

impl Partition {
    pub fn new() -> Partition {
        Partition::default()
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
        self.users.push(UserState::default());
        self.dirty_mark.push(false);
        i
    }

    pub fn id(&self, user: UserIndex) -> &str {
        self.ids.get(user)
    }

    pub fn user(&self, user: UserIndex) -> &UserState {
        &self.users[user as usize]
    }

    /// Lends a user's state out (to the rule context); give it back with [`Partition::put_user`].
    pub fn take_user(&mut self, user: UserIndex) -> UserState {
        self.mark_dirty(user);
        std::mem::take(&mut self.users[user as usize])
    }

    pub fn put_user(&mut self, user: UserIndex, state: UserState) {
        self.users[user as usize] = state;
    }

    fn mark_dirty(&mut self, user: UserIndex) {
        let mark = &mut self.dirty_mark[user as usize];
        if !*mark {
            *mark = true;
            self.dirty.push(user);
        }
    }

    /// The users changed since the last call, in first-change order.
    pub fn take_dirty(&mut self) -> Vec<UserIndex> {
        for u in &self.dirty {
            self.dirty_mark[*u as usize] = false;
        }
        std::mem::take(&mut self.dirty)
    }

    pub fn push_due(&mut self, due: Due) {
        self.due.push(due);
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
        self.users[user as usize] = state;
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
            for slot in state.timers.iter() {
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
            self.put_user(user, state);
        }
    }

    /// Restores the clock of a snapshot.
    pub fn restore_clock(&mut self, clock: Option<i64>) {
        self.clock = clock;
    }

    /// Approximate bytes of state: users, ids, index and queue.
    pub fn memory_bytes(&self) -> usize {
        self.memory().total()
    }

    /// Approximate bytes of state, by part.
    pub fn memory(&self) -> MemoryUse {
        // A user's struct and its dirty mark.
        const FIXED: usize = std::mem::size_of::<UserState>() + 1;
        let mut m = MemoryUse {
            fixed: self.users.len() * FIXED,
            ids: self.ids.memory_bytes(),
            queue: self.due.memory_bytes(),
            ..MemoryUse::default()
        };
        let mut each: Vec<usize> = Vec::with_capacity(self.users.len());
        for (i, user) in self.users.iter().enumerate() {
            let mut own = MemoryUse::default();
            user.add_heap_bytes(&mut own);
            let queued =
                user.timers.len() + user.tags.iter().filter(|t| t.expires != NEVER).count();
            each.push(
                own.total()
                    + FIXED
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
}

/// User ids of a partition: one text arena, and a hash table of user indexes keyed by the id
/// they point at. About 10 bytes per user besides the id itself, where a map of owned strings
/// would cost several times that.
#[derive(Debug, Default)]
struct UserIds {
    text: String,
    /// End of each id in `text`; an id starts where the previous one ends.
    ends: Vec<u32>,
    table: HashTable<UserIndex>,
    hasher: RandomState,
}

/// Id number `user` of an arena.
fn id_in<'a>(text: &'a str, ends: &[u32], user: UserIndex) -> &'a str {
    let i = user as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &text[start..ends[i] as usize]
}

impl UserIds {
    /// Bytes per id besides its text: its end offset and its hash-table slot.
    const PER_ID: usize = std::mem::size_of::<u32>() + std::mem::size_of::<UserIndex>() + 1;

    fn get(&self, user: UserIndex) -> &str {
        id_in(&self.text, &self.ends, user)
    }

    fn find(&self, id: &str) -> Option<UserIndex> {
        let hash = self.hasher.hash_one(id);
        self.table.find(hash, |u| self.get(*u) == id).copied()
    }

    /// Adds an id known to be absent.
    fn add(&mut self, id: &str) -> UserIndex {
        let user =
            UserIndex::try_from(self.ends.len()).expect("fewer than 2^32 users per partition");
        self.text.push_str(id);
        self.ends
            .push(u32::try_from(self.text.len()).expect("under 4 GiB of user ids per partition"));
        let hash = self.hasher.hash_one(id);
        let (text, ends, hasher) = (&self.text, &self.ends, &self.hasher);
        let rehash = |u: &UserIndex| hasher.hash_one(id_in(text, ends, *u));
        self.table.insert_unique(hash, user, rehash);
        user
    }

    fn memory_bytes(&self) -> usize {
        self.text.capacity()
            + self.ends.capacity() * std::mem::size_of::<u32>()
            + self.table.capacity() * (std::mem::size_of::<UserIndex>() + 1)
    }
}
