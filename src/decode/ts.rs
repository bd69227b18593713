//! Event times: the `ts` field as RFC 3339 text or epoch milliseconds, the years it may have,
//! and what a refused one was probably meant to be.

use super::{wrong_type, DecodeError, Known, Raw};

/// First accepted event time, 2000-01-01T00:00:00Z in epoch ms. Events outside years 2000..=2099
/// (UTC) are dead letters, so the engine's day arithmetic never meets extreme or negative times.
pub const MIN_TS_MS: i64 = 946_684_800_000;

/// First rejected event time after [`MIN_TS_MS`]: 2100-01-01T00:00:00Z in epoch ms.
pub const END_TS_MS: i64 = 4_102_444_800_000;

/// What a refused `ts` (as JSON text) was probably meant to be, when that is clear: epoch
/// seconds (a number that is in range once multiplied by 1000), epoch milliseconds written
/// as text (a string of digits), or RFC 3339 text short of its UTC offset, of the colon in
/// it, or of the time. Empty otherwise.
pub(super) fn ts_hint(json: &str) -> &'static str {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let text = json.strip_prefix('"').and_then(|s| s.strip_suffix('"'));
    if text.is_some_and(|s| digits(s.strip_prefix('-').unwrap_or(s))) {
        return " (epoch milliseconds must be a JSON number, not text)";
    }
    if let Some(hint) = text.and_then(text_hint) {
        return hint;
    }
    let seconds = json.parse::<f64>().is_ok_and(|n| {
        let ms = n * 1000.0;
        ms >= MIN_TS_MS as f64 && ms < END_TS_MS as f64
    });
    if seconds {
        " (it looks like epoch seconds; ts takes epoch milliseconds)"
    } else {
        ""
    }
}

/// Why text that reads as a time is not RFC 3339: a local time with no offset
/// (`2026-07-01T09:00:00`, which could be any zone's), an offset without its colon (`+0800`),
/// or a date alone.
fn text_hint(s: &str) -> Option<&'static str> {
    use chrono::{NaiveDate, NaiveDateTime};
    let local = |fmt| NaiveDateTime::parse_from_str(s, fmt).is_ok();
    if local("%Y-%m-%dT%H:%M:%S%.f") || local("%Y-%m-%d %H:%M:%S%.f") {
        return Some(" (no UTC offset: end it with Z, or with its zone's offset such as +08:00)");
    }
    let split = s.len().checked_sub(5).filter(|&i| s.is_char_boundary(i));
    if let Some((time, offset)) = split.map(|i| s.split_at(i)) {
        let (sign, hh_mm) = offset.split_at(1);
        if matches!(sign, "+" | "-") && hh_mm.bytes().all(|b| b.is_ascii_digit()) {
            let (hh, mm) = hh_mm.split_at(2);
            if parse_rfc3339_ms(&format!("{time}{sign}{hh}:{mm}")).is_some() {
                return Some(" (the UTC offset needs a colon, as in +08:00)");
            }
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .is_ok()
        .then_some(" (a date alone: add the time and its UTC offset, as in 2026-07-01T00:00:00Z)")
}

/// Parses an RFC 3339 time (any offset) to epoch milliseconds, UTC. No range check.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Validates a non-null `ts`: an RFC 3339 string or an integer of epoch ms, within
/// [`MIN_TS_MS`]..[`END_TS_MS`]. Fractional numbers are rejected rather than truncated.
pub(super) fn ts_ms(raw: Raw) -> Result<i64, DecodeError> {
    let ms = match &raw {
        Raw::Str(s) => parse_rfc3339_ms(s),
        Raw::I64(n) => Some(*n),
        // Beyond i64 is beyond the range too.
        Raw::U64(n) => Some(i64::try_from(*n).unwrap_or(i64::MAX)),
        Raw::F64(_) => None,
        other => {
            let expected = "an RFC 3339 string or integer epoch milliseconds";
            return Err(wrong_type(Known::Ts, expected, other));
        }
    };
    match ms {
        Some(ms) if (MIN_TS_MS..END_TS_MS).contains(&ms) => Ok(ms),
        Some(_) => Err(DecodeError::TsOutOfRange(raw.into_value().to_string())),
        None => Err(DecodeError::BadTs(raw.into_value().to_string())),
    }
}
