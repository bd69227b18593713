//! The printed report: plain aligned text on stdout, one row as soon as its stage is measured.
//! A line that cannot be written (`… | head`, a full disk) ends the bench with
//! [`BenchError::Stdout`].

use std::time::Duration;

use super::kafka::{KafkaReport, DRAIN_GOAL, P99_GOAL, SIZED_RATE};
use super::stages::Measured;
use super::BenchError;

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

pub fn table_header() -> Result<(), BenchError> {
    say!(
        "{:<STAGE_WIDTH$} {:>11} {:>9} {:>11} {:>9} {:>8} {:>12}",
        "stage",
        "events",
        "seconds",
        "events/s",
        "vs floor",
        "CPU s",
        "per CPU s"
    );
    Ok(())
}

/// One stage; `floor` is the floor's events/s (`None`: the ratio does not apply).
pub fn row(m: &Measured, floor: Option<f64>, note: &str) -> Result<(), BenchError> {
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
    say!("{}", line.trim_end());
    Ok(())
}

/// A `label  value` line of the memory and latency sections.
pub fn item(label: &str, value: &str) -> Result<(), BenchError> {
    say!("  {label:<46} {value}");
    Ok(())
}

/// Events per second in thousands, one decimal: `81.3k`.
pub fn kilo(rate: f64) -> String {
    format!("{:.1}k", rate / 1000.0)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn met(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "not met"
    }
}

/// The `--kafka` section: its table rows, the drain from process start against its goal, and
/// the latency runs (the one at the sized rate against its goal).
pub fn kafka(k: &KafkaReport, floor: Option<f64>) -> Result<(), BenchError> {
    table_header()?;
    row(&k.produce, None, "bench producer, acks=all")?;
    row(
        &k.e2e,
        floor,
        &format!(
            "in-process, first produce → last output; {} outputs",
            thousands(k.outputs)
        ),
    )?;
    let d = &k.drain;
    row(
        &d.produce,
        None,
        "bench producer, acks=all, before the start",
    )?;
    row(
        &d.run,
        floor,
        "child process: start → every input offset committed",
    )?;
    let first = d.first_output.map_or_else(
        || "no output record seen".to_string(),
        |t| format!("first record after {:.1} s", t.as_secs_f64()),
    );
    let per_100k = d.run.cpu_secs.map_or_else(String::new, |cpu| {
        format!(
            "; {:.1} CPU-s per 100k events (child)",
            cpu * 100_000.0 / d.run.events.max(1) as f64
        )
    });
    say!(
        "kafka drain from process start ({} events, {} partitions): {:.1} s, {} events/s; {first}{per_100k}",
        thousands(d.run.events),
        super::kafka::INPUT_PARTITIONS,
        d.run.secs,
        kilo(d.run.rate()),
    );
    item(
        &format!("goal >= {:.0}k events/s", DRAIN_GOAL / 1000.0),
        met(d.run.rate() >= DRAIN_GOAL),
    )?;
    // Where the time went, in the order it happened.
    let mut timeline: Vec<(String, Duration)> = d
        .milestones
        .iter()
        .map(|(label, at)| (format!("{label} (its log)"), *at))
        .collect();
    timeline.extend(
        [
            ("first tag change or dead letter out", d.first_output),
            ("first input offset committed", d.first_commit),
            (
                "every input offset committed",
                Some(Duration::from_secs_f64(d.run.secs)),
            ),
        ]
        .into_iter()
        .filter_map(|(label, at)| Some((label.to_string(), at?))),
    );
    timeline.sort_by_key(|(_, at)| *at);
    for (label, at) in &timeline {
        item(&format!("start → {label}"), &secs(*at))?;
    }
    if let Some(cpu) = d.run.cpu_secs {
        item(
            "CPU, tagstream run, start → done",
            &format!(
                "{cpu:.2} s ({} events per CPU-s)",
                thousands(d.run.cpu_rate().unwrap_or(0.0).round() as u64)
            ),
        )?;
    }
    if let Some(cpu) = d.broker_cpu_secs {
        item("CPU, broker, start → done", &format!("{cpu:.2} s"))?;
    }
    let exit = format!("{} after {}", d.exit.status, secs(d.exit.after));
    if d.exit.clean {
        item("exit on SIGTERM", &exit)?;
    } else {
        item(
            "exit on SIGTERM",
            &format!("{exit} (expected exit status 0)"),
        )?;
    }
    for l in &k.latency {
        say!(
            "event-to-tag latency at a fixed {} events/s for {:.1} s ({} events, {} with a tag change):",
            thousands(l.rate.round() as u64),
            l.secs,
            thousands(l.events as u64),
            thousands(l.samples as u64)
        );
        item("p50", &ms(l.p50))?;
        item("p99", &ms(l.p99))?;
        item("p99 of the worst second", &ms(l.worst_second_p99))?;
        let bound = |d: Option<Duration>| {
            d.map_or_else(
                || "past the last bucket".to_string(),
                |d| format!("≤ {}", ms(d)),
            )
        };
        item(
            "record at its worker → outputs acked, p50/p99",
            &format!(
                "{} / {} ({} records)",
                bound(l.inside.p50),
                bound(l.inside.p99),
                thousands(l.inside.records)
            ),
        )?;
        if l.rate == SIZED_RATE {
            item(
                &format!(
                    "p99 at {:.0}k events/s (goal < {} ms)",
                    SIZED_RATE / 1000.0,
                    P99_GOAL.as_millis()
                ),
                &format!("{}: {}", ms(l.p99), met(l.p99 < P99_GOAL)),
            )?;
        }
    }
    Ok(())
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

    #[test]
    fn rates_in_thousands() {
        assert_eq!(kilo(81_349.0), "81.3k");
        assert_eq!(kilo(100_000.0), "100.0k");
    }
}
