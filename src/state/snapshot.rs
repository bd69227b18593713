//! Durable form of a partition's state: one record per user plus a meta record, as written to
//! the changelog topic (key = user id, or the empty key for the meta, which no user id can be).
//!
//! Every record carries the input offsets its state includes (`applied`), so a restore knows,
//! user by user, which replayed events are already in the state: a crash between the user
//! records of a checkpoint and its meta record leaves those users ahead of the meta, and their
//! events are then not applied twice.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::UserState;

/// First byte of every record: the encoding's version (2: held tags say when and by which event
/// they were set).
pub const FORMAT: u8 = 2;

/// Key of the partition's meta record.
pub const META_KEY: &[u8] = b"";

/// Last applied input offset per topic.
pub type Applied = BTreeMap<String, i64>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub clock: Option<i64>,
    pub applied: Applied,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    pub applied: Applied,
    pub state: UserState,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot record of unknown format {0}")]
    Format(u8),
    #[error("empty snapshot record")]
    Empty,
    #[error("corrupt snapshot record: {0}")]
    Corrupt(#[from] postcard::Error),
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = Vec::new();
    encode_into(value, &mut bytes);
    bytes
}

/// Replaces `out` with the record of `value`, the version byte first, keeping its allocation.
fn encode_into<T: Serialize>(value: &T, out: &mut Vec<u8>) {
    out.clear();
    out.push(FORMAT);
    // Serialising plain structs of numbers, strings and vectors into a Vec cannot fail.
    *out = postcard::to_extend(value, std::mem::take(out)).expect("state serialises");
}

fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, SnapshotError> {
    match bytes.split_first() {
        None => Err(SnapshotError::Empty),
        Some((&FORMAT, rest)) => Ok(postcard::from_bytes(rest)?),
        Some((other, _)) => Err(SnapshotError::Format(*other)),
    }
}

/// Format 1, as written before held tags said when and by which event they were set: still
/// read, so a changelog survives the upgrade. Its tags read as set at an unknown time
/// ([`crate::tags::TagSlot::since_known`]) by an unknown event.
mod v1 {
    use serde::Deserialize;

    use super::super::{named_vars, Ledger, Slots, TimerSlot, Var, VarKey, Windows};
    use super::{Applied, Meta, UserRecord, UserState};
    use crate::state::origins::NO_EVENT;
    use crate::tags::{TagId, TagSlot, SINCE_UNKNOWN};

    pub const FORMAT: u8 = 1;

    #[derive(Deserialize)]
    struct Tag {
        expires: i64,
        score: f64,
        tag: TagId,
        rule: u16,
    }

    #[derive(Deserialize)]
    struct User {
        first_by_type: [i64; 3],
        last_by_type: [i64; 3],
        events: u32,
        windows: Windows,
        ledger: Ledger,
        tags: Vec<Tag>,
        #[serde(with = "named_vars")]
        vars: Slots<(VarKey, Var)>,
        timers: Slots<TimerSlot>,
    }

    #[derive(Deserialize)]
    struct Record {
        applied: Applied,
        state: User,
    }

    fn upgrade(u: User) -> UserState {
        let tags: Vec<TagSlot> = u
            .tags
            .into_iter()
            .map(|t| TagSlot {
                expires: t.expires,
                score: t.score,
                since: SINCE_UNKNOWN,
                tag: t.tag,
                rule: t.rule,
                origin: NO_EVENT,
            })
            .collect();
        UserState {
            first_by_type: u.first_by_type,
            last_by_type: u.last_by_type,
            events: u.events,
            windows: u.windows,
            ledger: u.ledger,
            tags: tags.into(),
            origins: Default::default(),
            vars: u.vars,
            timers: u.timers,
        }
    }

    pub fn record(bytes: &[u8]) -> Result<UserRecord, postcard::Error> {
        let r: Record = postcard::from_bytes(bytes)?;
        Ok(UserRecord {
            applied: r.applied,
            state: upgrade(r.state),
        })
    }

    /// The meta record did not change.
    pub fn meta(bytes: &[u8]) -> Result<Meta, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}

/// One user's state alone (the records of an embedded-mode state file).
pub fn encode_state(state: &UserState) -> Vec<u8> {
    encode(state)
}

/// As [`encode_state`], into `out` (replaced, its allocation kept), for a save that writes one
/// user after another.
pub fn encode_state_into(state: &UserState, out: &mut Vec<u8>) {
    encode_into(state, out);
}

/// # Errors
/// Unknown format or corrupt bytes.
pub fn decode_state(bytes: &[u8]) -> Result<UserState, SnapshotError> {
    decode(bytes)
}

impl Meta {
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// # Errors
    /// Unknown format or corrupt bytes.
    pub fn decode(bytes: &[u8]) -> Result<Meta, SnapshotError> {
        match bytes.split_first() {
            Some((&v1::FORMAT, rest)) => Ok(v1::meta(rest)?),
            _ => decode(bytes),
        }
    }
}

impl UserRecord {
    pub fn encode(applied: &Applied, state: &UserState) -> Vec<u8> {
        let mut bytes = Vec::new();
        UserRecord::encode_into(applied, state, &mut bytes);
        bytes
    }

    /// As [`UserRecord::encode`], into `out` (replaced, its allocation kept): a checkpoint
    /// encodes its users one after another into one buffer.
    pub fn encode_into(applied: &Applied, state: &UserState, out: &mut Vec<u8>) {
        #[derive(Serialize)]
        struct Borrowed<'a> {
            applied: &'a Applied,
            state: &'a UserState,
        }
        encode_into(&Borrowed { applied, state }, out);
    }

    /// # Errors
    /// Unknown format or corrupt bytes.
    pub fn decode(bytes: &[u8]) -> Result<UserRecord, SnapshotError> {
        match bytes.split_first() {
            Some((&v1::FORMAT, rest)) => Ok(v1::record(rest)?),
            _ => decode(bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::vars::intern;
    use crate::state::{Var, VarKey};

    #[test]
    fn user_records_round_trip_with_variables_by_name() {
        let mut state = UserState {
            first_by_type: [5, 0, 0],
            last_by_type: [9, 0, 0],
            events: 2,
            ..UserState::default()
        };
        state.set_var(
            intern("activity.score").unwrap(),
            Var::Decay { value: 2.5, at: 9 },
        );
        state.set_var(
            intern("keywords.intent/purchase").unwrap(),
            Var::Hits(vec![1, 2].into()),
        );
        let applied: Applied = [("events".to_string(), 41)].into();
        let bytes = UserRecord::encode(&applied, &state);
        let back = UserRecord::decode(&bytes).unwrap();
        assert_eq!(back.state, state);
        assert_eq!(back.applied, applied);
    }

    /// Variables are written as a sequence of `(name, value)` pairs: the bytes of a list of
    /// owned names, as records have always been written.
    #[test]
    fn variables_are_written_by_name_as_before() {
        let mut state = UserState::default();
        let vars = [
            ("activity.score", Var::Decay { value: 2.5, at: 9 }),
            ("keywords.intent/purchase", Var::Hits(vec![1, 2].into())),
            ("snapshot.test.名前", Var::Str("值".into())),
        ];
        for (name, value) in &vars {
            state.set_var(intern(name).unwrap(), value.clone());
        }
        #[derive(Serialize)]
        struct Vars(#[serde(with = "crate::state::named_vars")] crate::state::Slots<(VarKey, Var)>);
        let named: Vec<(Box<str>, &Var)> = state
            .vars
            .iter()
            .map(|(k, v)| (crate::state::vars::name_of(*k), v))
            .collect();
        assert_eq!(
            postcard::to_stdvec(&Vars(state.vars.clone())).unwrap(),
            postcard::to_stdvec(&named).unwrap()
        );
        assert_eq!(decode_state(&encode_state(&state)).unwrap(), state);
    }

    #[test]
    fn a_reused_buffer_holds_exactly_the_last_record() {
        let applied: Applied = [("events".to_string(), 7)].into();
        let mut big = UserState {
            events: 3,
            ..UserState::default()
        };
        // Over a kilobyte, then nothing: a longer record before must not show through.
        let hits: Vec<i64> = (0..600).collect();
        big.set_var(
            intern("snapshot.test.hits").unwrap(),
            Var::Hits(hits.into()),
        );
        let small = UserState::default();
        let (mut buf, mut alone) = (Vec::new(), Vec::new());
        for state in [&small, &big, &small, &big] {
            UserRecord::encode_into(&applied, state, &mut buf);
            assert_eq!(buf, UserRecord::encode(&applied, state));
            assert_eq!(UserRecord::decode(&buf).unwrap().state, *state);
            encode_state_into(state, &mut alone);
            assert_eq!(alone, encode_state(state));
        }
        assert!(UserRecord::encode(&applied, &big).len() > 1024);
    }

    #[test]
    fn format_1_records_still_read() {
        // A format-1 record: applied, then the user with tags of (expires, score, tag, rule).
        #[derive(Serialize)]
        struct OldTag(i64, f64, u16, u16);
        #[derive(Serialize)]
        struct OldUser {
            first_by_type: [i64; 3],
            last_by_type: [i64; 3],
            events: u32,
            windows: crate::state::Windows,
            ledger: crate::state::Ledger,
            tags: Vec<OldTag>,
            vars: Vec<(String, Var)>,
            timers: Vec<crate::state::TimerSlot>,
        }
        let old = OldUser {
            first_by_type: [5, 0, 0],
            last_by_type: [9, 0, 0],
            events: 1,
            windows: Default::default(),
            ledger: Default::default(),
            tags: vec![OldTag(crate::tags::NEVER, 0.5, 3, 1)],
            vars: vec![("old.n".into(), Var::Int(4))],
            timers: vec![],
        };
        let applied: Applied = [("events".to_string(), 7)].into();
        let mut bytes = vec![1];
        bytes.extend(postcard::to_stdvec(&(&applied, &old)).unwrap());
        let back = UserRecord::decode(&bytes).unwrap();
        assert_eq!(back.applied, applied);
        let tag = back.state.tags[0];
        assert_eq!(
            (tag.tag, tag.rule, tag.score, tag.since_known()),
            (3, 1, 0.5, None)
        );
        assert_eq!(back.state.events, 1);
        assert_eq!(back.state.var(intern("old.n").unwrap()), Some(&Var::Int(4)));
        let meta = Meta {
            clock: Some(3),
            applied,
        };
        let mut bytes = vec![1];
        bytes.extend(postcard::to_stdvec(&meta).unwrap());
        assert_eq!(Meta::decode(&bytes).unwrap(), meta);
    }

    #[test]
    fn meta_round_trips_and_bad_bytes_are_errors() {
        let meta = Meta {
            clock: Some(77),
            applied: [("a".to_string(), 3)].into(),
        };
        assert_eq!(Meta::decode(&meta.encode()).unwrap(), meta);
        assert!(matches!(Meta::decode(&[]), Err(SnapshotError::Empty)));
        assert!(matches!(
            Meta::decode(&[9, 1]),
            Err(SnapshotError::Format(9))
        ));
        assert!(Meta::decode(&[FORMAT, 0xff, 0xff]).is_err());
    }
}
