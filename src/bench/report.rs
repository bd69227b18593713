//! The printed report: plain aligned text on stdout, one row as soon as its stage is measured.

use super::stages::Measured;

const STAGE_WIDTH: usize = 38;

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes in MB (10^6), one decimal.
pub fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

pub fn table_header() {
    println!(
        "{:<STAGE_WIDTH$} {:>11} {:>9} {:>11} {:>9} {:>8} {:>12}",
        "stage", "events", "seconds", "events/s", "vs floor", "CPU s", "per CPU s"
    );
}

/// One stage; `floor` is the floor's events/s (`None`: the ratio does not apply).
pub fn row(m: &Measured, floor: Option<f64>, note: &str) {
    let ratio = floor.map_or_else(|| "-".to_string(), |f| format!("{:.3}", m.rate() / f));
    let cpu = m
        .cpu_secs
        .map_or_else(|| "-".to_string(), |c| format!("{c:.3}"));
    let per_cpu = m
        .cpu_rate()
        .map_or_else(|| "-".to_string(), |r| thousands(r.round() as u64));
    let line = format!(
        "{:<STAGE_WIDTH$} {:>11} {:>9.3} {:>11} {:>9} {:>8} {:>12}  {note}",
        m.stage,
        thousands(m.events),
        m.secs,
        thousands(m.rate().round() as u64),
        ratio,
        cpu,
        per_cpu,
    );
    println!("{}", line.trim_end());
}

/// A `label  value` line of the memory and latency sections.
pub fn item(label: &str, value: &str) {
    println!("  {label:<46} {value}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
