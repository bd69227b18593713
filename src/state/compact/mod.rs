//! The compact form of a user that has gone quiet: the whole [`UserState`] in one exact-size
//! byte string.
//!
//! A user held as a struct costs its 240-byte [`UserState`] plus one heap allocation per
//! non-empty list (windows, days, orders, tags, event ids, variables, timers), each with the
//! allocator's own header and rounding. A partition keeps only its recently touched users that
//! way ([`super::Partition`]); the others are held in this encoding: varints, times as
//! differences from the user's last event (hours fit in 4 bytes where an `i64` takes 8), sorted
//! lists as gaps, absent values (no score, no expiry, never seen) as bits of a flag byte.
//!
//! The encoding is lossless — [`decode`] gives back a state equal to the one [`encode`]d, down to
//! the bits of its floats — so which users are compact never changes an output. It lives only
//! in memory; saved state and the changelog keep their own versioned format
//! ([`super::snapshot`]).

use super::{MemoryUse, TimerSlot, UserState, Var, NEVER_SEEN};
use crate::tags::{TagSlot, NEVER, SINCE_UNKNOWN};

/// Appends varints and fixed-width values.
pub(super) struct Writer<'a>(pub &'a mut Vec<u8>);

impl Writer<'_> {
    pub fn uint(&mut self, mut v: u64) {
        // Byte by byte: a copy of a variable-length buffer would be a `memmove` call each,
        // and eight bytes written then cut back measured 3 % more instructions in all.
        while v >= 0x80 {
            self.0.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    /// Zigzag: small magnitudes of either sign take few bytes.
    pub fn int(&mut self, v: i64) {
        self.uint(((v << 1) ^ (v >> 63)) as u64);
    }

    pub fn float(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_bits().to_le_bytes());
    }

    pub fn byte(&mut self, v: u8) {
        self.0.push(v);
    }

    pub fn bytes(&mut self, v: &[u8]) {
        self.uint(v.len() as u64);
        self.0.extend_from_slice(v);
    }

    /// The low `len` (1–4) bytes of `v`, little-endian: four stored at once, the length cut back.
    pub fn low_bytes(&mut self, v: u32, len: usize) {
        let at = self.0.len();
        self.0.extend_from_slice(&v.to_le_bytes());
        self.0.truncate(at + len);
    }
}

/// Reads what a [`Writer`] wrote. The bytes only ever come from [`encode`] in this process, so
/// running out of them is a bug, reported by a panic naming it.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

const CORRUPT: &str = "compact user state is well formed (written by state::compact::encode)";

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn byte(&mut self) -> u8 {
        let b = self.byte_at(self.pos);
        self.pos += 1;
        b
    }

    /// A varint. Most are one byte (counts, lengths, small gaps): that case is inlined where
    /// it is read, the longer ones are [`Reader::long_uint`]'s.
    #[inline]
    pub fn uint(&mut self) -> u64 {
        if let Some(&b) = self.buf.get(self.pos) {
            if b < 0x80 {
                self.pos += 1;
                return u64::from(b);
            }
        }
        self.long_uint()
    }

    #[inline(never)]
    fn long_uint(&mut self) -> u64 {
        // Up to eight bytes at once: where the value ends is the first byte without the high
        // bit, and its 7-bit groups are packed together in three steps. A window log's gaps
        // take three to five bytes each, and a loop over them costs several times this.
        if let Some(word) = self.buf.get(self.pos..self.pos + 8) {
            let word = u64::from_le_bytes(word.try_into().expect("8 bytes"));
            let stops = !word & 0x8080_8080_8080_8080;
            if stops != 0 {
                let len = stops.trailing_zeros() / 8 + 1;
                let kept = if len == 8 {
                    u64::MAX
                } else {
                    (1 << (8 * len)) - 1
                };
                let v = word & kept & 0x7f7f_7f7f_7f7f_7f7f;
                let v = (v & 0x007f_007f_007f_007f) | (v & 0x7f00_7f00_7f00_7f00) >> 1;
                let v = (v & 0x0000_3fff_0000_3fff) | (v & 0x3fff_0000_3fff_0000) >> 2;
                let v = (v & 0x0000_0000_0fff_ffff) | (v & 0x0fff_ffff_0000_0000) >> 4;
                self.pos += len as usize;
                return v;
            }
        }
        let (mut v, mut shift) = (0_u64, 0);
        loop {
            let b = self.byte();
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return v;
            }
            shift += 7;
        }
    }

    pub fn int(&mut self) -> i64 {
        let v = self.uint();
        ((v >> 1) as i64) ^ -((v & 1) as i64)
    }

    /// A length: bounded by the bytes left, so a bug cannot ask for a huge allocation.
    pub fn len(&mut self) -> usize {
        let n = self.uint();
        self.bounded(n)
    }

    /// `n` as a length, checked as [`Reader::len`] checks what it reads.
    pub fn bounded(&self, n: u64) -> usize {
        let n = usize::try_from(n).expect(CORRUPT);
        assert!(n <= self.buf.len() - self.pos, "{CORRUPT}");
        n
    }

    pub fn float(&mut self) -> f64 {
        f64::from_bits(self.word())
    }

    /// Eight bytes, little-endian.
    pub fn word(&mut self) -> u64 {
        let end = self.pos + 8;
        let bytes = self.buf.get(self.pos..end).expect(CORRUPT);
        self.pos = end;
        u64::from_le_bytes(bytes.try_into().expect("8 bytes"))
    }

    /// What [`Writer::low_bytes`] wrote with `len` (1–4).
    pub fn low_bytes(&mut self, len: usize) -> u32 {
        let v = match self.buf.get(self.pos..self.pos + 4) {
            Some(word) => {
                let word = u32::from_le_bytes(word.try_into().expect("4 bytes"));
                word & (u32::MAX >> (32 - 8 * len))
            }
            None => (0..len).fold(0, |v, i| {
                v | u32::from(self.byte_at(self.pos + i)) << (8 * i)
            }),
        };
        self.pos += len;
        v
    }

    fn byte_at(&self, at: usize) -> u8 {
        *self.buf.get(at).expect(CORRUPT)
    }

    pub fn bytes(&mut self) -> &'a [u8] {
        let n = self.len();
        let v = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        v
    }
}

// Flag bits of a held tag.
const TAG_EXPIRES: u8 = 1;
const TAG_SCORE: u8 = 2;
const TAG_SINCE: u8 = 4;

// Variable kinds.
const VAR_INT: u8 = 0;
const VAR_FLOAT: u8 = 1;
const VAR_BOOL: u8 = 2;
const VAR_STR: u8 = 3;
const VAR_DECAY: u8 = 4;
const VAR_HITS: u8 = 5;

/// Appends the compact form of `state` to `out`.
pub fn encode(state: &UserState, out: &mut Vec<u8>) {
    let mut w = Writer(out);
    // Every time below is written as its distance from `base`, the user's last event.
    let base = state.last_seen();
    w.int(base);
    let mut seen = 0_u8;
    for (i, t) in state
        .first_by_type
        .iter()
        .chain(&state.last_by_type)
        .enumerate()
    {
        if *t != NEVER_SEEN {
            seen |= 1 << i;
        }
    }
    w.byte(seen);
    for t in state.first_by_type.iter().chain(&state.last_by_type) {
        if *t != NEVER_SEEN {
            w.int(base.wrapping_sub(*t));
        }
    }
    w.uint(u64::from(state.events));
    // Timers first: a popped wake-up that does not fire rewrites only this section.
    encode_timers(&state.timers, base, &mut w);
    state.windows.encode(&mut w);
    state.ledger.encode(&mut w, base);
    w.uint(state.tags.len() as u64);
    for t in state.tags.iter() {
        let mut flags = 0;
        if t.expires != NEVER {
            flags |= TAG_EXPIRES;
        }
        if t.score.to_bits() != f64::NAN.to_bits() {
            flags |= TAG_SCORE;
        }
        if t.since != SINCE_UNKNOWN {
            flags |= TAG_SINCE;
        }
        w.byte(flags);
        w.uint(u64::from(t.tag));
        w.uint(u64::from(t.rule));
        w.uint(u64::from(t.origin));
        if flags & TAG_SINCE != 0 {
            w.int(base.wrapping_sub(t.since));
        }
        if flags & TAG_EXPIRES != 0 {
            w.int(t.expires.wrapping_sub(base));
        }
        if flags & TAG_SCORE != 0 {
            w.float(t.score);
        }
    }
    w.bytes(state.origins.as_bytes());
    w.uint(state.vars.len() as u64);
    for (key, var) in state.vars.iter() {
        w.uint(u64::from(*key));
        match var {
            Var::Int(v) => {
                w.byte(VAR_INT);
                w.int(*v);
            }
            Var::Float(v) => {
                w.byte(VAR_FLOAT);
                w.float(*v);
            }
            Var::Bool(v) => {
                w.byte(VAR_BOOL);
                w.byte(u8::from(*v));
            }
            Var::Str(s) => {
                w.byte(VAR_STR);
                w.bytes(s.as_bytes());
            }
            Var::Decay { value, at } => {
                w.byte(VAR_DECAY);
                w.float(*value);
                w.int(base.wrapping_sub(*at));
            }
            Var::Hits(hits) => {
                w.byte(VAR_HITS);
                w.uint(hits.len() as u64);
                for t in hits.iter() {
                    w.int(base.wrapping_sub(*t));
                }
            }
        }
    }
}

fn encode_timers(timers: &[TimerSlot], base: i64, w: &mut Writer) {
    w.uint(timers.len() as u64);
    for t in timers {
        w.uint(u64::from(t.rule));
        w.int(t.due.wrapping_sub(base));
        w.int(t.due.wrapping_sub(t.queued));
    }
}

fn decode_timer(r: &mut Reader, base: i64) -> TimerSlot {
    let rule = r.uint() as u16;
    let due = r.int().wrapping_add(base);
    let queued = due.wrapping_sub(r.int());
    TimerSlot { due, queued, rule }
}

fn decode_timers(r: &mut Reader, base: i64) -> Vec<TimerSlot> {
    let n = r.len();
    (0..n).map(|_| decode_timer(r, base)).collect()
}

/// Reads the header of an encoding up to its timers: `(base, events)` and the state's times.
fn decode_header(r: &mut Reader, state: &mut UserState) -> i64 {
    let base = r.int();
    let seen = r.byte();
    let times = state
        .first_by_type
        .iter_mut()
        .chain(state.last_by_type.iter_mut());
    for (i, t) in times.enumerate() {
        *t = if seen & (1 << i) != 0 {
            base.wrapping_sub(r.int())
        } else {
            NEVER_SEEN
        };
    }
    state.events = u32::try_from(r.uint()).expect(CORRUPT);
    base
}

/// The timers of an encoded user, read without decoding the rest.
pub fn timers(bytes: &[u8]) -> Vec<TimerSlot> {
    let mut r = Reader::new(bytes);
    let base = decode_header(&mut r, &mut UserState::default());
    decode_timers(&mut r, base)
}

/// `bytes` with its timers replaced by `timers`, into `out`.
pub fn with_timers(bytes: &[u8], timers: &[TimerSlot], out: &mut Vec<u8>) {
    let mut r = Reader::new(bytes);
    let base = decode_header(&mut r, &mut UserState::default());
    let start = r.pos();
    decode_timers(&mut r, base);
    let end = r.pos();
    out.extend_from_slice(&bytes[..start]);
    encode_timers(timers, base, &mut Writer(out));
    out.extend_from_slice(&bytes[end..]);
}

/// The state [`encode`] wrote into `bytes`.
pub fn decode(bytes: &[u8]) -> UserState {
    decode_measured(bytes, &mut MemoryUse::default())
}

/// [`decode`], adding the bytes each part of the state takes in the compact form to `m`
/// (first/last seen and the event count count as `fixed`).
pub fn decode_measured(bytes: &[u8], m: &mut MemoryUse) -> UserState {
    let mut state = UserState::default();
    decode_into(bytes, &mut state, m);
    state
}

/// Decodes `bytes` into `state`, replacing all of it but keeping its lists' allocations (a
/// struct reused for another user allocates nothing for lists that fit), and adds the bytes of
/// each part to `m` as [`decode_measured`] does.
pub fn decode_into(bytes: &[u8], state: &mut UserState, m: &mut MemoryUse) {
    let mut r = Reader::new(bytes);
    let base = decode_header(&mut r, state);
    let mut mark = 0;
    let mut part = |r: &Reader, into: &mut usize| {
        *into += r.pos() - mark;
        mark = r.pos();
    };
    part(&r, &mut m.fixed);
    let n = r.len();
    state
        .timers
        .refill((0..n).map(|_| decode_timer(&mut r, base)));
    part(&r, &mut m.timers);
    state.windows.decode_into(&mut r);
    part(&r, &mut m.windows);
    state.ledger.decode_into(&mut r, base);
    part(&r, &mut m.ledger);
    let n = r.len();
    state.tags.refill((0..n).map(|_| {
        let flags = r.byte();
        let tag = r.uint() as u16;
        let rule = r.uint() as u16;
        let origin = r.uint() as u16;
        let since = if flags & TAG_SINCE != 0 {
            base.wrapping_sub(r.int())
        } else {
            SINCE_UNKNOWN
        };
        let expires = if flags & TAG_EXPIRES != 0 {
            r.int().wrapping_add(base)
        } else {
            NEVER
        };
        let score = if flags & TAG_SCORE != 0 {
            r.float()
        } else {
            f64::NAN
        };
        TagSlot {
            expires,
            score,
            since,
            tag,
            rule,
            origin,
        }
    }));
    state.origins.copy_from_bytes(r.bytes());
    part(&r, &mut m.tags);
    let n = r.len();
    state.vars.refill((0..n).map(|_| {
        let key = r.uint() as u16;
        let var = match r.byte() {
            VAR_INT => Var::Int(r.int()),
            VAR_FLOAT => Var::Float(r.float()),
            VAR_BOOL => Var::Bool(r.byte() != 0),
            VAR_STR => Var::Str(std::str::from_utf8(r.bytes()).expect(CORRUPT).into()),
            VAR_DECAY => {
                let value = r.float();
                let at = base.wrapping_sub(r.int());
                Var::Decay { value, at }
            }
            VAR_HITS => {
                let n = r.len();
                Var::Hits((0..n).map(|_| base.wrapping_sub(r.int())).collect())
            }
            _ => panic!("{CORRUPT}"),
        };
        (key, var)
    }));
    part(&r, &mut m.vars);
    assert_eq!(r.pos(), bytes.len(), "{CORRUPT}");
}

#[cfg(test)]
mod tests;
