//! Script-owned variables: small typed values a rule keeps per user between events.
//!
//! Variable names are interned process-wide into [`VarKey`]s so a user's variables cost a few
//! bytes each; names (not keys) are what gets serialised.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

use serde::{Deserialize, Serialize};

pub type VarKey = u16;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Var {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(Box<str>),
    /// A decayed sum: `value` as of time `at`.
    Decay {
        value: f64,
        at: i64,
    },
    /// Times of recent hits, oldest first.
    Hits(Box<[i64]>),
}

#[derive(Default)]
struct Interner {
    names: Vec<Box<str>>,
    keys: HashMap<Box<str>, VarKey>,
}

fn interner() -> &'static RwLock<Interner> {
    static INTERNER: OnceLock<RwLock<Interner>> = OnceLock::new();
    INTERNER.get_or_init(Default::default)
}

thread_local! {
    static CACHE: RefCell<HashMap<Box<str>, VarKey>> = RefCell::new(HashMap::new());
}

/// Error when a process would intern more distinct variable names than a key can hold.
#[derive(Debug, Clone, thiserror::Error)]
#[error("too many distinct variable names (limit {})", VarKey::MAX)]
pub struct TooManyNames;

/// The key of a variable name, interning it on first use.
pub fn intern(name: &str) -> Result<VarKey, TooManyNames> {
    if let Some(key) = CACHE.with(|c| c.borrow().get(name).copied()) {
        return Ok(key);
    }
    let key = {
        let read = interner().read().unwrap_or_else(|e| e.into_inner());
        read.keys.get(name).copied()
    };
    let key = match key {
        Some(key) => key,
        None => {
            let mut write = interner().write().unwrap_or_else(|e| e.into_inner());
            match write.keys.get(name) {
                Some(key) => *key,
                None => {
                    let key = VarKey::try_from(write.names.len()).map_err(|_| TooManyNames)?;
                    write.names.push(name.into());
                    write.keys.insert(name.into(), key);
                    key
                }
            }
        }
    };
    CACHE.with(|c| c.borrow_mut().insert(name.into(), key));
    Ok(key)
}

/// Calls `f` with every interned name, by key (the names of many keys at one look, as a
/// user's variables are serialised).
pub fn with_names<R>(f: impl FnOnce(&[Box<str>]) -> R) -> R {
    let read = interner().read().unwrap_or_else(|e| e.into_inner());
    f(&read.names)
}

/// The name of an interned key.
pub fn name_of(key: VarKey) -> Box<str> {
    let read = interner().read().unwrap_or_else(|e| e.into_inner());
    read.names[key as usize].clone()
}

/// Decays `value` from time `from` to time `to` with the given half-life.
pub fn decay(value: f64, from: i64, to: i64, half_life_ms: i64) -> f64 {
    if half_life_ms <= 0 {
        return value;
    }
    value * (-((to - from) as f64) / half_life_ms as f64).exp2()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_stable() {
        let a = intern("test.a").unwrap();
        let b = intern("test.b").unwrap();
        assert_ne!(a, b);
        assert_eq!(intern("test.a").unwrap(), a);
        assert_eq!(&*name_of(b), "test.b");
    }

    #[test]
    fn decay_halves_per_half_life() {
        assert_eq!(decay(8.0, 0, 10, 10), 4.0);
        assert_eq!(decay(8.0, 0, 30, 10), 1.0);
        assert_eq!(decay(8.0, 10, 0, 10), 16.0);
    }
}
