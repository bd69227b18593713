//! `clock.max_future`: how far ahead of the wall clock an event may be stamped.

use super::DecodeError;

/// A time span as a reason reads it: `1d 4h 3m 2s`, down to the millisecond under a second.
pub(super) fn span_text(ms: &i64) -> String {
    let ms = *ms;
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    let secs = ms / 1_000;
    let parts = [
        (secs / 86_400, "d"),
        (secs / 3_600 % 24, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
    ];
    let text: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    text.join(" ")
}

/// `clock.max_future` as the decoder applies it: an event stamped more than `max_ms` ahead of
/// the wall time `wall_ms` is invalid, so one producer with a wrong clock cannot move event
/// time for everyone. The wall time is given by the caller (per record or batch), so decoding
/// stays pure; while either is `None` nothing is rejected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FutureLimit {
    pub max_ms: Option<i64>,
    pub wall_ms: Option<i64>,
}

impl FutureLimit {
    /// # Errors
    /// [`DecodeError::InFuture`] when `ts` is too far ahead.
    pub fn check(&self, ts: i64) -> Result<(), DecodeError> {
        match (self.max_ms, self.wall_ms) {
            (Some(max_ms), Some(wall)) if ts.saturating_sub(wall) > max_ms => {
                Err(DecodeError::InFuture {
                    ahead_ms: ts.saturating_sub(wall),
                    max_ms,
                })
            }
            _ => Ok(()),
        }
    }
}
