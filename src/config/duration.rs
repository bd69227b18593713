//! Durations as operators write them: `500ms`, `30s`, `15m`, `72h`, `7d`, `2w`.
//!
//! Inside the engine every duration and timestamp is an `i64` of milliseconds, so rules compare
//! them with plain arithmetic.

pub const SECOND_MS: i64 = 1_000;
pub const MINUTE_MS: i64 = 60 * SECOND_MS;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// Every unit a duration may have, with its length.
const UNITS: [(&str, i64); 6] = [
    ("ms", 1),
    ("s", SECOND_MS),
    ("m", MINUTE_MS),
    ("h", HOUR_MS),
    ("d", DAY_MS),
    ("w", 7 * DAY_MS),
];

/// `text`, trimmed, split into its leading digits and the rest.
fn digits_and_unit(text: &str) -> (&str, &str) {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text.split_at(split)
}

fn unit_ms(unit: &str) -> Option<i64> {
    UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, ms)| *ms)
}

/// Parses `<integer><unit>` with unit `ms`, `s`, `m`, `h`, `d` or `w`; `None` for anything else.
pub fn parse_duration_ms(text: &str) -> Option<i64> {
    let (digits, unit) = digits_and_unit(text);
    let n: i64 = digits.parse().ok()?;
    n.checked_mul(unit_ms(unit)?)
}

/// Why `text` is not a duration, as "; …" to end a message, when there is more to say than
/// "must be a duration": a number without its unit, a number too large, an unknown unit.
pub fn why_not(text: &str) -> String {
    let (digits, unit) = digits_and_unit(text);
    if digits.is_empty() {
        return String::new();
    }
    if unit.is_empty() {
        format!("; a number needs its unit, e.g. \"{digits}s\" (units: ms, s, m, h, d, w)")
    } else if unit_ms(unit).is_none() {
        format!("; {unit:?} is not a unit (ms, s, m, h, d, w)")
    } else if parse_duration_ms(text).is_none() {
        "; that is too large (at most about 292 million years in milliseconds)".into()
    } else {
        String::new()
    }
}

/// A limit that may be switched off: `Some(None)` for `off`, `Some(Some(ms))` for a duration,
/// `None` for anything else.
pub fn parse_limit_ms(text: &str) -> Option<Option<i64>> {
    if text.trim().eq_ignore_ascii_case("off") {
        return Some(None);
    }
    parse_duration_ms(text).map(Some)
}

/// Formats milliseconds back into the largest exact unit (`7d`, `36h`, `1500ms`).
pub fn format_duration_ms(ms: i64) -> String {
    for (unit, size) in [
        ("d", DAY_MS),
        ("h", HOUR_MS),
        ("m", MINUTE_MS),
        ("s", SECOND_MS),
    ] {
        if ms != 0 && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_duration_ms("500ms"), Some(500));
        assert_eq!(parse_duration_ms("30s"), Some(30_000));
        assert_eq!(parse_duration_ms("15m"), Some(900_000));
        assert_eq!(parse_duration_ms("72h"), Some(3 * DAY_MS));
        assert_eq!(parse_duration_ms("7d"), Some(7 * DAY_MS));
        assert_eq!(parse_duration_ms("2w"), Some(14 * DAY_MS));
    }

    #[test]
    fn says_why_a_duration_is_not_one() {
        assert_eq!(
            why_not("0"),
            "; a number needs its unit, e.g. \"0s\" (units: ms, s, m, h, d, w)"
        );
        assert!(why_not("999999999999999d").contains("too large"));
        assert!(why_not("99999999999999999999ms").contains("too large"));
        assert_eq!(
            why_not("7 days"),
            "; \" days\" is not a unit (ms, s, m, h, d, w)"
        );
        assert_eq!(why_not("soon"), "");
        assert_eq!(why_not("7d"), "");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "d",
            "7",
            "7 days",
            "-1d",
            "1.5d",
            "7y",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn limits_parse_off_or_a_duration() {
        assert_eq!(parse_limit_ms("off"), Some(None));
        assert_eq!(parse_limit_ms(" OFF "), Some(None));
        assert_eq!(parse_limit_ms("1h"), Some(Some(HOUR_MS)));
        assert_eq!(parse_limit_ms("of"), None);
        assert_eq!(parse_limit_ms(""), None);
    }

    #[test]
    fn formats_round_trip() {
        for text in ["7d", "36h", "90m", "45s", "1500ms"] {
            assert_eq!(format_duration_ms(parse_duration_ms(text).unwrap()), text);
        }
    }
}
