//! JSON text written byte by byte: numbers, escaped strings, user and order ids, RFC 3339 timestamps.

use super::random::mix;
use super::{CHINA_MS, DAY_MS};

/// How a line writes its `ts`: RFC 3339 in China time or UTC, or integer epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TsStyle {
    China,
    Utc,
    EpochMs,
}

pub(super) fn push_u64(b: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    b.extend_from_slice(&tmp[i..]);
}

/// `n` in decimal, zero-padded to `width` digits.
pub(super) fn push_padded(b: &mut Vec<u8>, n: u64, width: usize) {
    let start = b.len();
    push_u64(b, n);
    let len = b.len() - start;
    if len < width {
        b.splice(start..start, std::iter::repeat_n(b'0', width - len));
    }
}

pub(super) fn push_base62(b: &mut Vec<u8>, mut n: u64) {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    loop {
        b.push(DIGITS[(n % 62) as usize]);
        n /= 62;
        if n == 0 {
            break;
        }
    }
}

/// WeCom-style external ids (`wm_` + 16 hex digits) or official-account openids (`o_` + base62); unique
/// because [`mix`] is a bijection.
pub(super) fn push_user_id(b: &mut Vec<u8>, salt: u64, u: u32, openid: bool) {
    let h = mix(u64::from(u) ^ salt);
    if openid {
        b.extend_from_slice(b"o_");
        push_base62(b, h);
    } else {
        b.extend_from_slice(b"wm_");
        for shift in (0..16).rev() {
            b.push(b"0123456789abcdef"[(h >> (shift * 4)) as usize & 15]);
        }
    }
}

/// `,"order_id":"SO<China date><8-digit sequence>"`: unique through the sequence.
pub(super) fn push_order_id(b: &mut Vec<u8>, ts: i64, seq: u64) {
    let (y, m, d) = civil_from_days((ts + CHINA_MS).div_euclid(DAY_MS));
    b.extend_from_slice(b",\"order_id\":\"SO");
    push_padded(b, y as u64, 4);
    push_padded(b, u64::from(m), 2);
    push_padded(b, u64::from(d), 2);
    push_padded(b, seq, 8);
    b.push(b'"');
}

pub(super) fn push_amount(b: &mut Vec<u8>, cents: u64) {
    push_u64(b, cents / 100);
    if cents % 100 != 0 {
        b.push(b'.');
        push_padded(b, cents % 100, 2);
    }
}

/// `s` as the inside of a JSON string.
pub(super) fn push_escaped(b: &mut Vec<u8>, s: &str) {
    for &c in s.as_bytes() {
        match c {
            b'"' | b'\\' => b.extend_from_slice(&[b'\\', c]),
            0..=0x1f => {
                b.extend_from_slice(b"\\u00");
                b.extend_from_slice(&[
                    b"0123456789abcdef"[(c >> 4) as usize],
                    b"0123456789abcdef"[(c & 15) as usize],
                ]);
            }
            _ => b.push(c),
        }
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// RFC 3339 in China time (`+08:00`) or UTC (`Z`), seconds or milliseconds, or integer epoch ms.
pub(super) fn push_ts(b: &mut Vec<u8>, ms: i64, style: TsStyle) {
    let offset = match style {
        TsStyle::EpochMs => {
            if ms < 0 {
                b.push(b'-');
            }
            return push_u64(b, ms.unsigned_abs());
        }
        TsStyle::China => CHINA_MS,
        TsStyle::Utc => 0,
    };
    let local = ms + offset;
    let (y, m, d) = civil_from_days(local.div_euclid(DAY_MS));
    let in_day = local.rem_euclid(DAY_MS) as u64;
    b.push(b'"');
    push_padded(b, y as u64, 4);
    for (sep, n) in [
        (b'-', u64::from(m)),
        (b'-', u64::from(d)),
        (b'T', in_day / 3_600_000),
    ] {
        b.push(sep);
        push_padded(b, n, 2);
    }
    for n in [in_day / 60_000 % 60, in_day / 1000 % 60] {
        b.push(b':');
        push_padded(b, n, 2);
    }
    if in_day % 1000 != 0 {
        b.push(b'.');
        push_padded(b, in_day % 1000, 3);
    }
    b.extend_from_slice(if offset == 0 { b"Z\"" } else { b"+08:00\"" });
}
