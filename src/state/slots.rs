//! [`Slots`]: the short lists of a user's state (tags, variables, timers, orders, window
//! entries).
//!
//! Only the few users a partition holds as structs have them (the others are held in
//! [`super::compact`]'s encoding), so a list keeps spare capacity like a `Vec`: a user's window
//! log grows by one entry per event, and a struct reused for another user
//! ([`Slots::refill`]) keeps its allocations.

use std::ops::{Deref, DerefMut};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, PartialEq)]
pub struct Slots<T>(Vec<T>);

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots(Vec::new())
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Slots<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<T> Deref for Slots<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> DerefMut for Slots<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

impl<'a, T> IntoIterator for &'a Slots<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T> From<Vec<T>> for Slots<T> {
    fn from(v: Vec<T>) -> Self {
        Slots(v)
    }
}

impl<T: Clone> From<&[T]> for Slots<T> {
    fn from(v: &[T]) -> Self {
        Slots(v.to_vec())
    }
}

impl<T> Slots<T> {
    pub fn push(&mut self, value: T) {
        self.0.push(value);
    }

    pub fn insert(&mut self, at: usize, value: T) {
        self.0.insert(at, value);
    }

    pub fn remove(&mut self, at: usize) -> T {
        self.0.remove(at)
    }

    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.0.retain(keep);
    }

    /// Drops the first `n` elements.
    pub fn drop_front(&mut self, n: usize) {
        if n > 0 {
            self.0.drain(..n);
        }
    }

    /// Replaces the elements with `items`, keeping the allocation when they fit.
    pub fn refill(&mut self, items: impl IntoIterator<Item = T>) {
        let items = items.into_iter();
        self.empty_with_room(items.size_hint().0);
        self.0.extend(items);
    }

    /// As [`Slots::refill`], leaving room for `room` more elements: a list that grows as events
    /// come (a window log, day buckets) is not copied to a larger allocation at the next push
    /// after a user is decoded.
    pub fn refill_with_room(&mut self, items: impl ExactSizeIterator<Item = T>, room: usize) {
        self.empty_with_room(items.len() + room);
        self.0.extend(items);
    }

    /// Replaces the elements with a copy of `items`, keeping the allocation when they fit.
    pub fn copy_from(&mut self, items: &[T])
    where
        T: Clone,
    {
        self.empty_with_room(items.len());
        self.0.extend_from_slice(items);
    }

    /// Empties the list with room for `n` elements: in its allocation when they fit, else in a
    /// new one of exactly that size. Growing the old one would copy the elements it held (a
    /// `realloc` knows nothing of `clear`), which a struct reused for another user made hot
    /// did at a third of its decodings.
    fn empty_with_room(&mut self, n: usize) {
        self.0.clear();
        if self.0.capacity() < n {
            self.0 = Vec::with_capacity(n);
        }
    }

    /// Elements the allocation holds without growing.
    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }

    /// Heap bytes held, spare capacity included.
    pub fn heap_bytes(&self) -> usize {
        self.0.capacity() * std::mem::size_of::<T>()
    }
}

impl<T: Serialize> Serialize for Slots<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Slots<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<T>::deserialize(d).map(Slots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_edit_and_serialise_as_a_vec() {
        let mut s = Slots::default();
        for i in 0..5 {
            s.push(i);
        }
        s.insert(0, 9);
        assert_eq!(&*s, &[9, 0, 1, 2, 3, 4]);
        assert_eq!(s.remove(1), 0);
        s.retain(|x| x % 2 == 1);
        s.drop_front(1);
        assert_eq!(&*s, &[1, 3]);
        assert!(s.heap_bytes() >= 2 * std::mem::size_of::<i32>());
        s.refill([7, 8, 9]);
        assert_eq!(&*s, &[7, 8, 9]);
        s.copy_from(&[1, 3]);
        let bytes = postcard::to_allocvec(&s).unwrap();
        assert_eq!(bytes, postcard::to_allocvec(&vec![1, 3]).unwrap());
        assert_eq!(postcard::from_bytes::<Slots<i32>>(&bytes).unwrap(), s);
    }

    /// Refilled lists keep an allocation their new elements fit in, and otherwise take one of
    /// exactly the size asked for (not the doubling a growing list gets).
    #[test]
    fn refills_keep_what_fits_and_size_what_does_not() {
        let mut s: Slots<u32> = (0..100).collect::<Vec<_>>().into();
        let (at, capacity) = (s.as_ptr(), s.capacity());
        s.refill_with_room(0..10, 4);
        assert_eq!(&*s, &(0..10).collect::<Vec<_>>()[..]);
        assert_eq!((s.as_ptr(), s.capacity()), (at, capacity));
        s.refill_with_room(0..300, 4);
        assert_eq!(&*s, &(0..300).collect::<Vec<_>>()[..]);
        assert_eq!(s.capacity(), 304);
        s.refill((0..500).map(|i| i * 2));
        assert_eq!((s.len(), s[499], s.capacity()), (500, 998, 500));
        s.copy_from(&[5; 600]);
        assert_eq!((s.len(), s.capacity()), (600, 600));
        s.copy_from(&[6; 3]);
        assert_eq!((&*s, s.capacity()), (&[6, 6, 6][..], 600));
    }
}
