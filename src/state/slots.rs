//! [`Slots`]: the small, rarely growing lists of a user's state, stored at their exact length.
//!
//! A user holds half a dozen short lists (tags, variables, timers, orders, window entries) and
//! there are millions of users, so each list costs two words instead of a `Vec`'s three and
//! carries no spare capacity. Growing it reallocates once per element, which is cheap at these
//! lengths and is what `Vec::shrink_to_fit` after every step cost anyway.

use std::ops::{Deref, DerefMut};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, PartialEq)]
pub struct Slots<T>(Box<[T]>);

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots(Box::default())
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
        Slots(v.into_boxed_slice())
    }
}

impl<T: Clone> From<&[T]> for Slots<T> {
    fn from(v: &[T]) -> Self {
        Slots(v.into())
    }
}

impl<T> Slots<T> {
    /// Edits the list as a `Vec`; it is stored back at its exact length.
    pub fn edit<R>(&mut self, f: impl FnOnce(&mut Vec<T>) -> R) -> R {
        let mut v = std::mem::take(&mut self.0).into_vec();
        let result = f(&mut v);
        self.0 = v.into_boxed_slice();
        result
    }

    pub fn push(&mut self, value: T) {
        self.insert(self.len(), value);
    }

    pub fn insert(&mut self, at: usize, value: T) {
        self.edit(|v| {
            v.reserve_exact(1);
            v.insert(at, value);
        });
    }

    pub fn remove(&mut self, at: usize) -> T {
        self.edit(|v| v.remove(at))
    }

    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        if !self.is_empty() {
            self.edit(|v| v.retain(keep));
        }
    }

    /// Drops the first `n` elements.
    pub fn drop_front(&mut self, n: usize) {
        if n > 0 {
            self.edit(|v| {
                v.drain(..n);
            });
        }
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of_val::<[T]>(&self.0)
    }
}

impl<T: Serialize> Serialize for Slots<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Slots<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<T>::deserialize(d).map(Slots::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_keep_their_exact_length() {
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
        assert_eq!(s.heap_bytes(), 2 * std::mem::size_of::<i32>());
        let bytes = postcard::to_allocvec(&s).unwrap();
        assert_eq!(bytes, postcard::to_allocvec(&vec![1, 3]).unwrap());
        assert_eq!(postcard::from_bytes::<Slots<i32>>(&bytes).unwrap(), s);
    }
}
