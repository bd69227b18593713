//! The events that set the tags a user holds, for `tagstream explain`.
//!
//! A held tag names its event by a small number into the user's [`Origins`]: the distinct event
//! ids of the tags held now, each stored once, in one allocation of `u16` length + bytes. A user
//! whose tags were all set by timers holds none. Ids of tags no longer held are dropped at the
//! end of the step that removed them, so the list never outgrows the tags.

use serde::{Deserialize, Serialize};

use super::Slots;
use crate::tags::TagSlot;

/// `TagSlot::origin` of a tag set by a timer or an expiry (no event).
pub const NO_EVENT: u16 = 0;
/// `TagSlot::origin` of a tag set by the step's event, until the step ends.
pub const THIS_EVENT: u16 = u16::MAX;

/// Longest event id kept (bytes); longer ids are cut at a character boundary.
const MAX_ID: usize = 1024;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Origins(Slots<u8>);

impl Origins {
    /// The ids, numbered from 1, as the bytes of their text.
    fn ids(&self) -> impl Iterator<Item = &[u8]> {
        ids_in(&self.0)
    }

    /// The event id behind a tag's `origin`, `None` for timers.
    pub fn get(&self, origin: u16) -> Option<&str> {
        if origin == NO_EVENT || origin == THIS_EVENT {
            return None;
        }
        let id = self.ids().nth(usize::from(origin) - 1)?;
        // Only whole `str`s are ever written; a corrupt list reads as empty ids.
        Some(std::str::from_utf8(id).unwrap_or(""))
    }

    pub fn heap_bytes(&self) -> usize {
        self.0.heap_bytes()
    }

    /// See [`super::UserState::prefetch_lists`].
    pub(super) fn prefetch(&self) {
        super::prefetch_first(&self.0);
    }

    /// The encoded ids, for the compact form of a user ([`super::compact`]).
    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Sets the ids as [`Origins::as_bytes`] gave them, keeping the allocation.
    pub(super) fn copy_from_bytes(&mut self, bytes: &[u8]) {
        self.0.copy_from(bytes);
    }

    /// Ends a step: tags set by the step's event (`event`) get its number, and ids no held tag
    /// names any more are dropped (renumbering the tags). The list keeps its allocation unless it
    /// empties; `scratch` is a buffer the caller keeps between calls.
    pub fn settle(&mut self, tags: &mut [TagSlot], event: Option<&str>, scratch: &mut Vec<u8>) {
        let pending = tags.iter().any(|t| t.origin == THIS_EVENT);
        let all_named =
            (1..=self.ids().count()).all(|n| tags.iter().any(|t| usize::from(t.origin) == n));
        if !pending && all_named {
            return;
        }
        let event = event.map(|e| cut(e).as_bytes());
        scratch.clear();
        let mut kept = 0_u16;
        for tag in tags.iter_mut() {
            let id = match tag.origin {
                NO_EVENT => None,
                THIS_EVENT => event,
                n => self.ids().nth(usize::from(n) - 1),
            };
            // At most one id per held tag, and the catalogue caps tags per user far below 2^16.
            let Some(id) = id else {
                tag.origin = NO_EVENT;
                continue;
            };
            let known = ids_in(scratch).position(|k| k == id);
            tag.origin = match known {
                Some(i) => (i + 1) as u16,
                None => {
                    scratch.extend_from_slice(&(id.len() as u16).to_le_bytes());
                    scratch.extend_from_slice(id);
                    kept += 1;
                    kept
                }
            };
        }
        if scratch.is_empty() {
            self.0 = Slots::default();
        } else {
            self.0.copy_from(scratch);
        }
    }
}

/// The ids of an encoded list, in order: compared and copied as bytes, so a step checks no
/// text for UTF-8 ([`Origins::get`] does, once).
fn ids_in(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        let (len, tail) = rest.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_le_bytes(*len)).min(tail.len());
        let (id, tail) = tail.split_at(len);
        rest = tail;
        Some(id)
    })
}

/// `id` cut to at most [`MAX_ID`] bytes, at a character boundary.
fn cut(id: &str) -> &str {
    if id.len() <= MAX_ID {
        return id;
    }
    let mut end = MAX_ID;
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    &id[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tags::NEVER;

    fn slot(tag: u16, origin: u16) -> TagSlot {
        TagSlot {
            expires: NEVER,
            score: f64::NAN,
            since: 0,
            tag,
            rule: 0,
            origin,
        }
    }

    #[test]
    fn ids_are_shared_numbered_and_dropped_with_their_tags() {
        let mut origins = Origins::default();
        let mut tags = vec![slot(1, THIS_EVENT), slot(2, NO_EVENT), slot(3, THIS_EVENT)];
        origins.settle(&mut tags, Some("o-1"), &mut Vec::new());
        assert_eq!([tags[0].origin, tags[1].origin, tags[2].origin], [1, 0, 1]);
        assert_eq!(origins.get(1), Some("o-1"));
        tags.push(slot(4, THIS_EVENT));
        origins.settle(&mut tags, Some("c-2"), &mut Vec::new());
        assert_eq!(origins.get(tags[3].origin), Some("c-2"));
        tags.retain(|t| t.tag == 4 || t.tag == 2);
        origins.settle(&mut tags, None, &mut Vec::new());
        assert_eq!(tags[1].origin, 1);
        assert_eq!(origins.get(1), Some("c-2"));
        assert_eq!(origins.as_bytes().len(), 2 + 3);
        tags.clear();
        origins.settle(&mut tags, None, &mut Vec::new());
        assert_eq!(origins.heap_bytes(), 0);
    }

    #[test]
    fn long_ids_are_cut_at_a_character_boundary() {
        let mut origins = Origins::default();
        let mut tags = vec![slot(1, THIS_EVENT)];
        let long = "é".repeat(MAX_ID);
        origins.settle(&mut tags, Some(&long), &mut Vec::new());
        let kept = origins.get(1).unwrap();
        assert!(kept.len() <= MAX_ID && long.starts_with(kept));
    }
}
