//! `tagstream bench`: what each layer costs, measured over one generated stream in one run.
//!
//! The stream (realistic: skewed activity, weeks of event time, Chinese texts, a share of
//! invalid and late lines) is generated once into a temporary file and held in memory; every
//! stage then runs once over exactly those records, in the order an engineer reads them:
//!
//! - floor: decode + encode only (no state, no rules), the most any configuration could reach;
//! - core only: decode → state → rules → tag changes on one core, then the same with Rhai's
//!   interpreter alone (what compiled handlers save), then sharded by user across all cores as
//!   Kafka mode's workers are ([`stages`]);
//! - file mode end to end: `tagstream run --input … --output /dev/null` as a child process;
//! - memory: the child's peak RSS, the state's bytes per tracked user;
//! - with `--kafka`: produce → Kafka mode (in-process) → consume through a broker; Kafka mode
//!   as a child process from its start until it has committed a stream that waits for it; and
//!   event-to-tag latency at fixed rates ([`kafka`]).
//!
//! Each stage runs once ("best of 1"): a stream of a million events already averages out
//! scheduling noise, and a second pass would double a multi-minute run. The report goes to
//! stdout; logs stay on stderr.

/// Writes one line of the report to stdout, as `println!` does, but returns
/// [`BenchError::Stdout`] from the enclosing function when the line cannot be written, where
/// `println!` would panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*).map_err($crate::bench::BenchError::Stdout)?
    }};
}

mod broker;
mod kafka;
mod report;
mod stages;
mod stream;

use std::process::ExitCode;

use clap::Args;

use crate::cli::{CommonArgs, EXIT_RUNTIME, EXIT_USAGE};
use crate::generate::GenOptions;
use crate::rules::{Execution, RulesError};
use report::{item, mb, row, thousands};
use stages::CoreRun;
use stream::Stream;

/// The most events the bench takes: it holds its stream in memory, as bytes and an index of
/// lines, about 175 bytes per event (3.5 GB at this bound).
const MAX_EVENTS: u64 = 20_000_000;

#[derive(Debug, Args, Clone)]
pub struct BenchArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Events in the generated stream, 1 to 20,000,000 (the stream is held in memory, about
    /// 175 bytes per event) [default: 1000000, or 50000 with --quick].
    #[arg(long, value_parser = crate::cli::whole_number::<u64>(1, MAX_EVENTS), allow_negative_numbers = true)]
    pub events: Option<u64>,
    /// Users in the generated stream, 1 to 10,000,000 [default: 100000, or 5000 with --quick].
    #[arg(long, value_parser = crate::cli::users_flag, allow_negative_numbers = true)]
    pub users: Option<u64>,
    /// Days of event time the stream spans, 1 to 3650.
    #[arg(long, default_value_t = 28, value_parser = crate::cli::whole_number::<u32>(1, 3650), allow_negative_numbers = true)]
    pub days: u32,
    /// Seed of the generated stream: the same seed and sizes give the same stream.
    #[arg(long, default_value_t = 1, value_parser = crate::cli::whole_number::<u64>(0, u64::MAX), allow_negative_numbers = true)]
    pub seed: u64,
    /// A small stream (CI): finishes in seconds.
    #[arg(long)]
    pub quick: bool,
    /// Also measure Kafka mode end to end through a broker (a local tansu unless --bootstrap).
    #[arg(long)]
    pub kafka: bool,
    /// Use this broker for --kafka instead of starting tansu via scripts/tansu.sh.
    #[arg(long, value_name = "HOST:PORT", requires = "kafka")]
    pub bootstrap: Option<String>,
}

impl BenchArgs {
    fn gen_options(&self) -> GenOptions {
        let (events, users) = if self.quick {
            (50_000, 5_000)
        } else {
            (1_000_000, 100_000)
        };
        GenOptions {
            events: self.events.unwrap_or(events),
            users: self.users.unwrap_or(users),
            days: self.days,
            seed: self.seed,
            ..GenOptions::default()
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Config or rules that do not load (exit code 2).
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("{0}")]
    Failed(String),
    /// What the bench was asked cannot be done here (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// The report could not be written: a closed pipe (`… | head`) or a full disk.
    #[error("writing to stdout: {0}")]
    Stdout(std::io::Error),
}

/// The CLI entry: runs the bench, prints the report, maps errors to exit codes.
pub fn main(args: &BenchArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(BenchError::Stdout(e)) => crate::cli::write_failed("stdout", &e),
        Err(e) => {
            crate::cli::to_stderr(format_args!("error: {e}"));
            ExitCode::from(match e {
                BenchError::Rules(_) | BenchError::Usage(_) => EXIT_USAGE,
                _ => EXIT_RUNTIME,
            })
        }
    }
}

fn run(args: &BenchArgs) -> Result<(), BenchError> {
    let (config, pack) = crate::cli::load(&args.common)?;
    if let Some(bootstrap) = args.bootstrap.as_deref().filter(|_| args.kafka) {
        broker::probe(bootstrap)?;
    } else if args.kafka {
        // Found now, not after minutes of the in-process stages.
        broker::find_script()?;
    }
    let opts = args.gen_options();
    let stream = Stream::generate(&opts)?;
    let names: Vec<&str> = pack.rules.iter().map(|r| r.name.as_str()).collect();
    say!(
        "tagstream bench: {} events, {} users, {} days of event time, seed {}{}",
        thousands(opts.events),
        // No more users than events are generated.
        thousands(stream.stats.users),
        opts.days,
        opts.seed,
        if args.quick { " (quick)" } else { "" }
    );
    say!(
        "rules: {} ({} rules, {} tags)",
        names.join(", "),
        names.len(),
        pack.catalogue.len()
    );
    if pack.execution == crate::rules::Execution::Interpreted {
        say!(
            "rules.execution = \"interpreted\": the file-mode stages (child processes of \
             `tagstream run`) run every rule in the interpreter; the core stages measure both ways"
        );
    }
    say!(
        "stream: {} lines ({} valid, {} invalid) from {} users, {}; generated in {:.2} s ({} lines/s)",
        thousands(stream.len()),
        thousands(stream.stats.valid),
        thousands(stream.stats.invalid),
        thousands(stream.stats.users),
        mb(stream.bytes.len() as u64),
        stream.gen_secs,
        thousands((stream.stats.lines as f64 / stream.gen_secs.max(1e-9)) as u64),
    );
    say!("each stage runs once over the same records (best of 1: this many events already average out noise)");
    say!();

    report::table_header()?;
    let floor = stages::floor(&stream);
    let f = Some(floor.rate());
    row(&floor, f, "")?;
    let core = stages::core_single(&stream, &pack, Execution::Compiled)?;
    row(&core.measured, f, "")?;
    // Dead letters beyond the stream's invalid lines are rule errors: figures of rules that
    // fail on valid events measure the failure, which the table alone would not show.
    let rule_errors = core.dead_letters.saturating_sub(stream.stats.invalid);
    if rule_errors > 0 {
        crate::cli::to_stderr(format_args!(
            "warning: {} dead letters of valid events: rule errors, so these figures time rules \
             that fail; `tagstream generate --events 1000 | tagstream run --input - --output \
             /dev/null --dead-letter -` (with the same --rules) shows their messages",
            thousands(rule_errors)
        ));
    }
    let interpreted = stages::core_single(&stream, &pack, Execution::Interpreted)?;
    let speedup = core.measured.rate() / interpreted.measured.rate();
    row(
        &interpreted.measured,
        f,
        &format!("compiled handlers run {speedup:.2}x as fast"),
    )?;
    let user_ids = stream.user_ids();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cores > 1 {
        let (sharded, largest) = stages::core_sharded(&stream, &user_ids, &pack, cores)?;
        let scaling = sharded.rate() / core.measured.rate();
        let note = format!(
            "{scaling:.2}x one core; largest shard {:.0}% of records",
            largest * 100.0
        );
        row(&sharded, None, &note)?;
    } else {
        say!("(core only, sharded: skipped, one core available)");
    }
    let (file, peak) = stages::file_mode(stream.path(), stream.len(), &args.common, None)?;
    row(
        &file,
        f,
        &format!("child process, includes start-up; {cores} workers"),
    )?;
    let (file_one, _) = stages::file_mode(stream.path(), stream.len(), &args.common, Some(1))?;
    row(&file_one, f, "child process, includes start-up")?;
    whole_path(&floor, &file, &file_one, cores)?;
    // RSS growth as an operator measures it: the full run's peak minus a tiny run's.
    let head = stream.head_file(SMALL_RUN_LINES)?;
    let small_lines = stream.len().min(SMALL_RUN_LINES as u64);
    let (_, small_peak) = stages::file_mode(&head.0, small_lines, &args.common, None)?;
    drop(head);
    say!();
    memory(&core, peak, small_peak, small_lines)?;

    if args.kafka {
        let broker = broker::Broker::connect_or_start(args.bootstrap.as_deref())?;
        say!();
        say!(
            "kafka: {}; input {} partitions keyed by user_id, Kafka mode with {} workers (in-process; the drain as a child process)",
            broker.describe(),
            kafka::INPUT_PARTITIONS,
            cores
        );
        if !config.kafka.options.is_empty() {
            let options: Vec<String> = config
                .kafka
                .options
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            say!("kafka.options: {}", options.join(", "));
        }
        let latency_secs = if args.quick { 3.0 } else { 10.0 };
        let k = kafka::run(
            &broker,
            &args.common,
            &stream,
            &user_ids,
            &config,
            &pack,
            latency_secs,
        )?;
        drop(broker);
        report::kafka(&k, f)?;
        say!();
        say!(
            "record at its worker → outputs acked: Kafka mode's own histogram \
             (tagstream_processing_latency_seconds) over that run, from a record reaching its \
             worker (its queue, the rules, the producer's linger) to the broker acknowledging \
             its outputs; each percentile as the upper bound of the bucket it falls in. The rest \
             of event-to-tag latency is the upstream producer's linger and the two fetches."
        );
    }

    say!();
    say!("events: input records, valid and invalid; vs floor: events/s over the floor's events/s.");
    say!(
        "CPU s: user + system time of the stage (its thread, or the whole child process in file \
         mode); per CPU s: events per CPU-second."
    );
    say!(
        "core only: {} tag changes, {} dead letters; outputs encoded to a buffer, not written; \
         {} handler calls fell back from compiled form to the interpreter.",
        thousands(core.changes),
        thousands(core.dead_letters),
        thousands(core.fallbacks)
    );
    Ok(())
}

/// Lines of the small run whose peak RSS the full run's is measured against.
const SMALL_RUN_LINES: usize = 1_000;

/// The embedded whole path against its goals: events per CPU-second as a share of the floor's,
/// and the wall time of the default workers against one worker's, on the same bytes.
fn whole_path(
    floor: &stages::Measured,
    all: &stages::Measured,
    one: &stages::Measured,
    cores: usize,
) -> Result<(), BenchError> {
    say!("file mode, whole path (reader, shard hand-off, rules, ordered merge, encoder, writer)");
    let share = |m: &stages::Measured| match (m.cpu_rate(), floor.cpu_rate()) {
        (Some(r), Some(f)) => format!("{:.3} (goal >= 0.30)", r / f),
        _ => "n/a".into(),
    };
    item(
        &format!("per CPU-second vs the floor's, {cores} workers"),
        &share(all),
    )?;
    item("per CPU-second vs the floor's, 1 worker", &share(one))?;
    item(
        &format!("wall time, {cores} workers / 1 worker"),
        &format!(
            "{:.3}{}",
            all.secs / one.secs.max(1e-9),
            if cores > 1 {
                " (goal <= 0.6 on two cores)"
            } else {
                ""
            }
        ),
    )?;
    Ok(())
}

fn memory(
    core: &CoreRun,
    file_peak: Option<u64>,
    small_peak: Option<u64>,
    small_lines: u64,
) -> Result<(), BenchError> {
    let users = core.users.max(1) as u64;
    let per_user = |bytes: u64| format!("{} B per user", thousands(bytes / users));
    say!("memory");
    match file_peak {
        Some(peak) => item(
            "peak RSS, file mode (tagstream run)",
            &format!("{} ({})", mb(peak), per_user(peak)),
        )?,
        None => item("peak RSS, file mode (tagstream run)", "n/a (no /proc)")?,
    }
    let small = format!(
        "peak RSS, the same on the first {} lines",
        thousands(small_lines)
    );
    match small_peak {
        Some(peak) => item(&small, &mb(peak))?,
        None => item(&small, "n/a (no /proc)")?,
    }
    match file_peak.zip(small_peak) {
        Some((full, small)) => item(
            "RSS per user, file mode (full − small run)",
            &format!(
                "{} B ({} in all)",
                thousands(full.saturating_sub(small) / users),
                mb(full.saturating_sub(small))
            ),
        )?,
        None => item(
            "RSS per user, file mode (full − small run)",
            "n/a (no /proc)",
        )?,
    }
    item(
        "tracked users",
        &format!(
            "{} ({} held compact at the end)",
            thousands(core.users as u64),
            thousands(core.compact_users as u64)
        ),
    )?;
    item(
        "state per user (Partition::memory_bytes)",
        &format!(
            "{} B ({} in all)",
            thousands(core.state.total() as u64 / users),
            mb(core.state.total() as u64)
        ),
    )?;
    let parts: Vec<String> = core
        .state
        .parts()
        .iter()
        .map(|(part, bytes)| format!("{part} {}", *bytes as u64 / users))
        .collect();
    item("  of which, per user", &parts.join(", "))?;
    item(
        "state of the median user",
        &format!("{} B", thousands(core.state.median_user as u64)),
    )?;
    match core.rss_growth {
        Some(growth) => item(
            "RSS growth per user, core only",
            &format!("{} B ({} in all)", thousands(growth / users), mb(growth)),
        )?,
        None => item("RSS growth per user, core only", "n/a (no /proc)")?,
    }
    if let Some(bytes) = crate::metrics::peak_rss_bytes() {
        item(
            "peak RSS, this bench process",
            &format!("{} (holds the stream in memory)", mb(bytes)),
        )?;
    }
    Ok(())
}
