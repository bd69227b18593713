//! The command line's subcommands and flags, as clap parses them, and the parsers of the flag
//! values clap has none for (dates, worker counts).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, Parser, Subcommand};

use super::MAX_WORKERS;

#[derive(Debug, Parser)]
#[command(
    name = "tagstream",
    version,
    about = "Rules-driven auto-tagging stream processor"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the command line, exiting on a mistake as [`Parser::parse`] does. Every path
    /// these commands take is given with a flag, so a bare path where clap expected a flag
    /// (`tagstream check my-rules`, `tagstream run events.jsonl`) also gets a tip naming the
    /// flag it belongs to: clap alone says only that the argument was unexpected.
    pub fn parse_args() -> Cli {
        let args: Vec<OsString> = std::env::args_os().collect();
        Cli::try_parse_from(&args).unwrap_or_else(|mut e| {
            if let Some(tip) = flag_tip(&e, &args) {
                let mut tips = match e.get(ContextKind::Suggested) {
                    Some(ContextValue::StyledStrs(tips)) => tips.clone(),
                    _ => Vec::new(),
                };
                tips.push(tip.into());
                e.insert(ContextKind::Suggested, ContextValue::StyledStrs(tips));
            }
            e.exit()
        })
    }
}

/// The flag an unexpected bare word of `args` belongs to, said as a tip: a rules directory,
/// a rule, a state directory, a `.toml` file, an input file or `-`; or, for `segment`, an
/// expression written as several words. `None` when the word is none of these, or the
/// command has no such flag.
fn flag_tip(e: &clap::Error, args: &[OsString]) -> Option<String> {
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(word)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let command = args.get(1)?.to_str()?;
    if word.starts_with('-') && word != "-" {
        return None;
    }
    let path = Path::new(word);
    let is = |ext: &str| {
        path.is_file()
            && path
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case(ext))
    };
    let (flag, tip) = if path.join("tagstream.state").is_file() {
        (
            "--state",
            format!("{word} holds saved state: give it as '--state {word}'"),
        )
    } else if path.is_dir() && holds_rules(path) {
        let base = if command == "diff" {
            format!(" (the new set), or '--base {word}' (the base)")
        } else {
            String::new()
        };
        (
            "--rules",
            format!("{word} is a rules directory: give it as '--rules {word}'{base}"),
        )
    } else if is("rhai") {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.display().to_string(),
            _ => ".".to_string(),
        };
        (
            "--rules",
            format!("{word} is a rule: rules are given by their directory, '--rules {dir}'"),
        )
    } else if is("toml") {
        (
            "--config",
            format!(
                "a .toml file is given with the flag of what it holds: '--config {word}' (the \
                 engine config), '--catalogue {word}' (the tag catalogue) or '--params {word}' \
                 (the rule parameters)"
            ),
        )
    } else if word == "-" || path.is_file() {
        if command == "explain" {
            (
                "--changes",
                format!("tag changes are read with '--changes {word}'"),
            )
        } else {
            ("--input", format!("events are read with '--input {word}'"))
        }
    } else if command == "segment" {
        (
            "",
            "the expression is one argument: quote it whole, as in \
             'lifecycle/mature & !service/complaint'"
                .to_string(),
        )
    } else {
        return None;
    };
    let takes = match flag {
        "" => true,
        "--input" => matches!(command, "run" | "diff"),
        "--state" => matches!(command, "run" | "segment" | "explain"),
        "--changes" => command == "explain",
        // --rules, --config, --catalogue and --params.
        _ => command != "generate",
    };
    takes.then_some(tip)
}

/// Whether `dir` holds a `.rhai` file, so is a rules directory.
pub(super) fn holds_rules(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            Path::new(&e.file_name())
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("rhai"))
        })
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Process events: Kafka per the config, or a file/stdin with --input.
    Run(RunArgs),
    /// Check rules, catalogue, parameters, config and rule tests; every error with file:line.
    Check(CommonArgs),
    /// Run the rule tests in <rules>/tests/*.toml.
    Test(TestArgs),
    /// Replay recorded events through the base and a new rule set; report what differs.
    Diff(crate::diff::DiffArgs),
    /// Write a generated behaviour-event stream (JSON lines).
    Generate(GenerateArgs),
    /// Measure throughput and memory of each layer over a generated stream.
    Bench(crate::bench::BenchArgs),
    /// Users whose current tags match an expression, e.g. 'lifecycle/mature & !service/complaint'.
    Segment(crate::query::SegmentArgs),
    /// One user's tags and why: the rule, event and time that set each, aggregates, timers.
    Explain(crate::query::ExplainArgs),
}

#[derive(Debug, Args, Clone)]
pub struct CommonArgs {
    /// Engine config (default: config/tagstream.toml when present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Rules directory (overrides rules.dir).
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
    /// Tag catalogue (overrides rules.catalogue).
    #[arg(long, value_name = "FILE")]
    pub catalogue: Option<PathBuf>,
    /// Rule parameters (overrides rules.params).
    #[arg(long, value_name = "FILE")]
    pub params: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// JSON-lines input file, or - for stdin (embedded mode, no broker).
    #[arg(long, value_name = "FILE|-")]
    pub input: Option<PathBuf>,
    /// Tag changes output (embedded mode), - for stdout (the default).
    #[arg(long, value_name = "FILE|-")]
    pub output: Option<PathBuf>,
    /// Dead letters output (embedded mode); stderr when absent.
    #[arg(long, value_name = "FILE")]
    pub dead_letter: Option<PathBuf>,
    /// Embedded mode: threads the users are split over, 1 to 256 (default: the number of
    /// cores). The tags are the same for any number; the order of the output lines depends on it.
    #[arg(long, value_name = "N", value_parser = parse_workers, allow_negative_numbers = true)]
    pub workers: Option<usize>,
    /// Embedded mode: restore users, clock and timers from DIR before the run and save them
    /// back after it (created when missing). Without it (or `state.embedded`), nothing is kept.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Serve /metrics, /livez and /readyz on HOST:PORT ("" for off). Without it, Kafka mode
    /// listens on http.listen; embedded mode only when http.listen is not the default.
    #[arg(long, value_name = "ADDR", value_parser = parse_listen)]
    pub http: Option<String>,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Run only the cases whose name contains this text; or, ending in .toml, every case of
    /// that test file (a path, or a file name in <rules>/tests).
    pub filter: Option<String>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Users in the stream, 1 to 10,000,000; each has at least one event, so no more users
    /// than --events appear.
    #[arg(long, default_value_t = 10_000, value_parser = users_flag, allow_negative_numbers = true)]
    pub users: u64,
    /// Lines in the stream, 1 to 1,000,000,000, invalid ones included; the refunds of paid
    /// orders and the --personas come on top.
    #[arg(long, default_value_t = 100_000, value_parser = events_flag, allow_negative_numbers = true)]
    pub events: u64,
    /// Days of event time from --start, 1 to 3650.
    #[arg(long, default_value_t = 60, value_parser = whole_number::<u32>(1, 3650), allow_negative_numbers = true)]
    pub days: u32,
    /// The first day of event time (UTC), YYYY-MM-DD.
    #[arg(long, value_name = "DATE", default_value = "2026-09-01", value_parser = parse_start)]
    pub start: i64,
    /// Seed of the random draws: the same seed and sizes write the same stream, byte for byte.
    #[arg(long, default_value_t = 1, value_parser = whole_number::<u64>(0, u64::MAX), allow_negative_numbers = true)]
    pub seed: u64,
    /// Share of invalid lines, per mille (0 to 1000).
    #[arg(long, default_value_t = 5, value_parser = whole_number::<u32>(0, 1000), allow_negative_numbers = true)]
    pub invalid_per_mille: u32,
    /// Share of late events, per mille (0 to 1000).
    #[arg(long, default_value_t = 10, value_parser = whole_number::<u32>(0, 1000), allow_negative_numbers = true)]
    pub late_per_mille: u32,
    /// Add the scripted persona users (every lifecycle stage and RFM segment).
    #[arg(long)]
    pub personas: bool,
    /// Where to write the stream, - for stdout.
    #[arg(long, value_name = "FILE|-", default_value = "-")]
    pub output: PathBuf,
}

/// A `YYYY-MM-DD` date → epoch milliseconds of its midnight, UTC.
fn parse_start(text: &str) -> Result<i64, String> {
    let day = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| format!("expected a date like 2026-09-01, not {text:?}"))?;
    let ms = day
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
        .timestamp_millis();
    // Events outside these years are refused as invalid input (`ts` out of range).
    if !(crate::decode::MIN_TS_MS..crate::decode::END_TS_MS).contains(&ms) {
        return Err(format!(
            "{text:?} is outside the years 2000 to 2099 that event times may have"
        ));
    }
    Ok(ms)
}

/// An address to listen on, as `http.listen` takes it: `host:port`, or empty for none.
fn parse_listen(text: &str) -> Result<String, String> {
    if text.is_empty() || crate::config::is_host_port(text) {
        Ok(text.to_string())
    } else {
        Err("expected host:port like 127.0.0.1:9898, or \"\" for off".to_string())
    }
}

/// A number of users to generate: 1 to [`MAX_USERS`](crate::generate::MAX_USERS).
pub(crate) fn users_flag(text: &str) -> Result<u64, String> {
    whole_number(1, crate::generate::MAX_USERS)(text)
}

/// A number of events to generate: 1 to [`MAX_EVENTS`](crate::generate::MAX_EVENTS).
fn events_flag(text: &str) -> Result<u64, String> {
    whole_number(1, crate::generate::MAX_EVENTS)(text)
}

fn parse_workers(text: &str) -> Result<usize, String> {
    whole_number(1, MAX_WORKERS as u64)(text)
}

/// A parser of a whole number from `min` to `max`, refusing anything else in words ("expected
/// a whole number from 1 to 3650", "too large (at most 10,000,000)") rather than Rust's
/// ("invalid digit found in string", "0 is not in 1..=3650"). Its flag should set
/// `allow_negative_numbers`, so that `--days -3` is refused the same way rather than taken for
/// an unknown flag `-3`. `max` must fit in `T`.
pub(crate) fn whole_number<T: TryFrom<u64>>(
    min: u64,
    max: u64,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    move |text| {
        let text = text.trim();
        let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
        let too_large = || Err(format!("too large (at most {})", thousands(max)));
        let parsed = match text.parse::<u64>() {
            Ok(n) if n > max => return too_large(),
            // Digits only, and still not a u64: more than u64 holds.
            Err(_) if digits => return too_large(),
            parsed => parsed.ok(),
        };
        parsed
            .filter(|n| *n >= min)
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| {
                let range = match (min, max) {
                    (0, u64::MAX) => "a whole number of 0 or more".to_string(),
                    (min, u64::MAX) => format!("a whole number of at least {min}"),
                    (min, max) => format!("a whole number from {min} to {}", thousands(max)),
                };
                format!("expected {range}")
            })
    }
}

/// `n` with its thousands separated by commas from 10,000 up (3650, 10,000,000), as the
/// flags' help writes their bounds.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    if n < 10_000 {
        return digits;
    }
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
