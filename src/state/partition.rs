//! A partition: the users it owns, its event-time clock and its due queue.

use std::collections::HashMap;
use std::sync::Arc;

use super::timers::{Due, DueKind, DueQueue};
use super::{MemoryUse, UserState};
use crate::tags::NEVER;

/// Index of a user inside its partition (assigned in first-seen order).
pub type UserIndex = u32;

#[derive(Debug, Default)]
pub struct Partition {
    /// The largest event time seen (or wall time adopted while idle); `None` before any.
    clock: Option<i64>,
    ids: Vec<Arc<str>>,
    users: Vec<UserState>,
    index: HashMap<Arc<str>, UserIndex>,
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
        self.index.get(id).copied()
    }

    /// The index of `id`, adding an empty user when new.
    pub fn find_or_add(&mut self, id: &str) -> UserIndex {
        if let Some(i) = self.index.get(id) {
            return *i;
        }
        let i = UserIndex::try_from(self.users.len()).expect("fewer than 2^32 users per partition");
        let id: Arc<str> = id.into();
        self.ids.push(id.clone());
        self.users.push(UserState::default());
        self.dirty_mark.push(false);
        self.index.insert(id, i);
        i
    }

    pub fn id(&self, user: UserIndex) -> &Arc<str> {
        &self.ids[user as usize]
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
        let mut m = MemoryUse {
            fixed: self.users.len()
                * (std::mem::size_of::<UserState>()
                    + std::mem::size_of::<Arc<str>>() * 2
                    + std::mem::size_of::<UserIndex>()
                    + 1
                    + 16),
            ids: self.ids.iter().map(|id| id.len() + 16).sum(),
            queue: self.due.len() * std::mem::size_of::<Due>(),
            ..MemoryUse::default()
        };
        for user in &self.users {
            user.add_heap_bytes(&mut m);
        }
        m
    }
}
