//! User ids of a partition, each numbered by a [`UserIndex`] in first-seen order.

use hashbrown::HashTable;

/// Index of a user inside its partition (assigned in first-seen order).
pub type UserIndex = u32;

/// User ids of a partition: one text arena, and a hash table of user indexes keyed by the id
/// they point at. About 10 bytes per user besides the id itself, where a map of owned strings
/// would cost several times that.
#[derive(Debug, Default)]
pub(super) struct UserIds {
    text: String,
    /// End of each id in `text`; an id starts where the previous one ends.
    ends: Vec<u32>,
    table: HashTable<UserIndex>,
    /// Keyed per process (ids come from input), and several times faster than SipHash on short ids.
    hasher: ahash::RandomState,
}

/// Id number `user` of an arena.
fn id_in<'a>(text: &'a str, ends: &[u32], user: UserIndex) -> &'a str {
    let i = user as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &text[start..ends[i] as usize]
}

impl UserIds {
    /// Bytes per id besides its text: its end offset and its hash-table slot.
    pub(super) const PER_ID: usize =
        std::mem::size_of::<u32>() + std::mem::size_of::<UserIndex>() + 1;

    pub(super) fn get(&self, user: UserIndex) -> &str {
        id_in(&self.text, &self.ends, user)
    }

    pub(super) fn find(&self, id: &str) -> Option<UserIndex> {
        let hash = self.hasher.hash_one(id);
        self.table.find(hash, |u| self.get(*u) == id).copied()
    }

    /// Adds an id known to be absent.
    pub(super) fn add(&mut self, id: &str) -> UserIndex {
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

    pub(super) fn memory_bytes(&self) -> usize {
        self.text.capacity()
            + self.ends.capacity() * std::mem::size_of::<u32>()
            + self.table.capacity() * (std::mem::size_of::<UserIndex>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_share_a_prefix_keep_their_own_indexes() {
        let mut ids = UserIds::default();
        let names = ["ab", "a", "abc", "", "用户1", "b"];
        for (i, name) in names.iter().enumerate() {
            assert_eq!(ids.find(name), None, "{name:?} before it is added");
            assert_eq!(ids.add(name), i as UserIndex);
        }
        // Enough ids to make the table grow and rehash through the arena.
        for n in 0..1000 {
            ids.add(&format!("u{n}"));
        }
        for (i, name) in names.iter().enumerate() {
            assert_eq!(ids.find(name), Some(i as UserIndex), "{name:?}");
            assert_eq!(ids.get(i as UserIndex), *name);
        }
        assert_eq!(ids.find("u999"), Some(names.len() as UserIndex + 999));
        assert_eq!(ids.find("abcd"), None);
    }
}
