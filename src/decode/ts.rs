//! Event times: the `ts` field as RFC 3339 text or epoch milliseconds, the years it may have,
//! and what a refused one was probably meant to be.

use super::{wrong_type, DecodeError, Known, Raw};

/// First accepted event time, 2000-01-01T00:00:00Z in epoch ms. Events outside years 2000..=2099
/// (UTC) are dead letters, so the engine's day arithmetic never meets extreme or negative times.
pub const MIN_TS_MS: i64 = 946_684_800_000;

/// First rejected event time after [`MIN_TS_MS`]: 2100-01-01T00:00:00Z in epoch ms.
pub const END_TS_MS: i64 = 4_102_444_800_000;

/// What a refused `ts` (as JSON text) was probably meant to be, when that is clear: epoch
/// seconds (a number that is in range once multiplied by 1000), or epoch milliseconds written
/// as text (a string of digits). Empty otherwise.
pub(super) fn ts_hint(json: &str) -> &'static str {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if json
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .is_some_and(|s| digits(s.strip_prefix('-').unwrap_or(s)))
    {
        return " (epoch milliseconds must be a JSON number, not text)";
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
