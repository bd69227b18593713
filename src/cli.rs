//! The command line: `run`, `check`, `test`, `diff`, `generate`. Parses flags, loads and validates config and
//! rules before anything starts, and maps failures to exit codes (0 ok, 1 runtime, 2 usage,
//! config or rules).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{env_vars, Config};
use crate::pipeline::file::{self, FileJob, FileRunError};
use crate::pipeline::reload::{self, RuleSources, RulesWatch};
use crate::pipeline::signals::Stop;
use crate::rules::check::{Diagnostic, Sources};
use crate::rules::{self, RulePack, RuleSet, RulesError};

pub const EXIT_RUNTIME: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
/// A closed pipe downstream ends a run quietly, with the exit status SIGPIPE would give.
pub const EXIT_BROKEN_PIPE: u8 = 128 + 13;
/// Most embedded-mode workers accepted: beyond this, threads cost more than they bring.
pub const MAX_WORKERS: usize = 256;

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
    /// Tag changes output (embedded mode), - for stdout.
    #[arg(long, value_name = "FILE|-", default_value = "-")]
    pub output: PathBuf,
    /// Dead letters output (embedded mode); stderr when absent.
    #[arg(long, value_name = "FILE")]
    pub dead_letter: Option<PathBuf>,
    /// Embedded mode: threads the users are split over, 1 to 256 (default: the number of
    /// cores). The tags are the same for any number; the order of the output lines depends on it.
    #[arg(long, value_name = "N", value_parser = parse_workers)]
    pub workers: Option<usize>,
    /// Embedded mode: restore users, clock and timers from DIR before the run and save them
    /// back after it (created when missing). Without it (or `state.embedded`), nothing is kept.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// Serve /metrics, /livez and /readyz on HOST:PORT ("" for off). Without it, Kafka mode
    /// listens on http.listen; embedded mode only when http.listen is not the default.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Run only the cases whose name contains this text.
    pub filter: Option<String>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Users in the stream (at least 1).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub users: u64,
    #[arg(long, default_value_t = 100_000)]
    pub events: u64,
    /// Days of event time from --start, 1 to 3650.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub days: u32,
    /// The first day of event time (UTC), YYYY-MM-DD.
    #[arg(long, value_name = "DATE", default_value = "2026-09-01", value_parser = parse_start)]
    pub start: i64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Share of invalid lines, per mille (0 to 1000).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub invalid_per_mille: u32,
    /// Share of late events, per mille (0 to 1000).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub late_per_mille: u32,
    /// Add the scripted persona users (every lifecycle stage and RFM segment).
    #[arg(long)]
    pub personas: bool,
    #[arg(long, value_name = "FILE|-", default_value = "-")]
    pub output: PathBuf,
}

/// A `YYYY-MM-DD` date → epoch milliseconds of its midnight, UTC.
fn parse_start(text: &str) -> Result<i64, String> {
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
        .ok_or_else(|| format!("expected a date like 2026-09-01, not {text:?}"))
}

fn parse_workers(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_WORKERS).contains(&n) => Ok(n),
        _ => Err(format!("expected a whole number from 1 to {MAX_WORKERS}")),
    }
}

/// Loads the engine config and the rule pack, applying CLI > environment > file > default.
///
/// # Errors
/// Any config or rules error (exit code 2).
pub fn load(common: &CommonArgs) -> Result<(Config, RulePack), RulesError> {
    let vars = env_vars();
    let config = load_config(common, &vars)?;
    let mut pack = RulePack::load(
        &config.rules.dir,
        &config.rules.catalogue,
        &config.rules.params,
        &vars,
    )?;
    pack.limits.time_budget_ms = config.time_budget_ms().unwrap_or_default();
    Ok((config, pack))
}

/// The engine config with the CLI's path overrides applied.
///
/// # Errors
/// A config error (exit code 2).
pub fn load_config(
    common: &CommonArgs,
    vars: &[(String, String)],
) -> Result<Config, crate::config::ConfigError> {
    let (path, required) = config_path(common);
    let mut config = Config::load(&path, required, vars)?;
    apply_paths(common, &mut config);
    Ok(config)
}

fn config_path(common: &CommonArgs) -> (PathBuf, bool) {
    match &common.config {
        Some(path) => (path.clone(), true),
        None => (PathBuf::from("config/tagstream.toml"), false),
    }
}

fn apply_paths(common: &CommonArgs, config: &mut Config) {
    if let Some(dir) = &common.rules {
        config.rules.dir = dir.clone();
    }
    if let Some(catalogue) = &common.catalogue {
        config.rules.catalogue = catalogue.clone();
    }
    if let Some(params) = &common.params {
        config.rules.params = params.clone();
    }
}

fn usage_error(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(EXIT_USAGE)
}

fn runtime_error(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(EXIT_RUNTIME)
}

pub fn main(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Check(common) => check(&common),
        Command::Test(args) => test(&args),
        Command::Run(args) => {
            let (config, pack) = match load(&args.common) {
                Ok(loaded) => loaded,
                Err(e) => return usage_error(e),
            };
            let explicit_state = args.state.is_some();
            let state = args
                .state
                .clone()
                .or_else(|| config.state.embedded.then(|| config.state.dir.clone()));
            if let Err(code) = observe(&config, &pack, &args) {
                return code;
            }
            // Hot reload where a run has no natural end: Kafka mode and a pipe on stdin.
            let live = args
                .input
                .as_deref()
                .is_none_or(|i| i == std::path::Path::new("-"));
            // Not with saved state: it is saved against the rule set the run started with.
            let watch = if live && state.is_none() {
                match reload::start(rule_sources(&config, &pack), &pack) {
                    Ok(watch) => Some(watch),
                    Err(e) => return usage_error(e),
                }
            } else {
                None
            };
            match args.input {
                None if explicit_state => usage_error(
                    "--state is for embedded mode (--input FILE); Kafka mode keeps its state in the changelog topic",
                ),
                Some(input) => run_file(
                    &pack,
                    watch,
                    FileJob {
                        input,
                        output: args.output,
                        dead_letter: args.dead_letter,
                        workers: args.workers.unwrap_or_else(|| {
                            std::thread::available_parallelism()
                                .map_or(1, |n| n.get().min(MAX_WORKERS))
                        }),
                        max_future_ms: config.max_future_ms(),
                        state,
                    },
                ),
                None => crate::pipeline::kafka::main(config, pack, watch),
            }
        }
        Command::Diff(args) => crate::diff::main(&args),
        Command::Generate(args) => generate(&args),
        Command::Bench(args) => crate::bench::main(&args),
        Command::Segment(args) => crate::query::segment_main(&args),
        Command::Explain(args) => crate::query::explain_main(&args),
    }
}

/// Observability before the run: the rule set in the metrics, the HTTP listener when asked
/// for, and one log line saying what runs with what (no option values: they hold secrets).
fn observe(config: &Config, pack: &RulePack, args: &RunArgs) -> Result<(), ExitCode> {
    use crate::metrics::{self, health::Mode, http::HttpError};
    let embedded = args.input.is_some();
    let listen = match &args.http {
        Some(addr) => addr.clone(),
        // A batch run does not bind the shipped default: every run would take the port. An
        // address set in the config or by TAGSTREAM_HTTP__LISTEN is asked for.
        None if embedded && config.http.listen == Config::default().http.listen => String::new(),
        None => config.http.listen.clone(),
    };
    let m = metrics::global();
    m.health.set_mode(if embedded {
        Mode::Embedded
    } else {
        Mode::Kafka
    });
    metrics::set_rules(pack);
    let rules: Vec<&str> = pack.rules.iter().map(|r| r.name.as_str()).collect();
    let input = match &args.input {
        Some(path) => path.display().to_string(),
        None => format!(
            "kafka {} group {} topics {:?} -> {} (dead letters {}), options {:?}",
            config.kafka.bootstrap_servers,
            config.kafka.group_id,
            config.kafka.input_topics,
            config.kafka.output_topic,
            config.kafka.dead_letter_topic,
            config.kafka.options.keys().collect::<Vec<_>>()
        ),
    };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        mode = if embedded { "embedded" } else { "kafka" },
        %input,
        rules = %rules.join(","),
        rules_dir = %config.rules.dir.display(),
        rules_version = %metrics::rules_version(pack),
        tags = pack.catalogue.len(),
        catalogue = %config.rules.catalogue.display(),
        keyword_tags = pack.params.keywords.specs.len(),
        params = %config.rules.params.display(),
        http = if listen.is_empty() { "off" } else { listen.as_str() },
        "tagstream starting"
    );
    if listen.is_empty() {
        return Ok(());
    }
    match metrics::http::start(&listen, m) {
        Ok(_) => Ok(()),
        Err(e @ HttpError::Address { .. }) => Err(usage_error(e)),
        Err(e) => Err(runtime_error(e)),
    }
}

/// `tagstream check`: every finding of config, catalogue, parameters, rules and rule tests.
fn check(common: &CommonArgs) -> ExitCode {
    let vars = env_vars();
    let mut found = Vec::new();
    let config = load_config(common, &vars).unwrap_or_else(|e| {
        found.push(Diagnostic::from_config(
            &e,
            &config_path(common).0.display().to_string(),
        ));
        let mut config = Config::default();
        apply_paths(common, &mut config);
        config
    });
    let sources = Sources {
        rules_dir: config.rules.dir.clone(),
        catalogue: config.rules.catalogue.clone(),
        params: config.rules.params.clone(),
    };
    let checked = rules::check::check(&sources, &vars);
    found.extend(checked.diagnostics);
    let (tests, problems) = crate::testing::load(&sources.rules_dir, checked.pack.as_ref());
    found.extend(problems);
    for d in &found {
        eprintln!("{d}");
    }
    let errors = found.iter().filter(|d| d.is_error()).count();
    let Some(pack) = checked.pack.filter(|_| errors == 0) else {
        eprintln!(
            "check failed: {errors} error(s), {} warning(s)",
            found.len() - errors
        );
        return ExitCode::from(EXIT_USAGE);
    };
    let names: Vec<&str> = pack.rules.iter().map(|r| r.name.as_str()).collect();
    let cases: usize = tests.iter().map(|f| f.cases.len()).sum();
    println!(
        "ok: {} rules ({}), {} tags, {} keyword tags, {cases} test cases in {} files",
        names.len(),
        names.join(", "),
        pack.catalogue.len(),
        pack.params.keywords.specs.len(),
        tests.len(),
    );
    if let Ok(set) = RuleSet::compile(&pack) {
        for (i, rule) in pack.rules.iter().enumerate() {
            if let Some(why) = set.interpreted_because(i) {
                println!(
                    "note: {} runs in the interpreter, several times slower ({why})",
                    rule.path.display()
                );
            }
        }
    }
    ExitCode::SUCCESS
}

/// `tagstream test`: exit 0 when every case passes, 1 when one fails, 2 when tests or rules
/// are broken.
fn test(args: &TestArgs) -> ExitCode {
    let (config, pack) = match load(&args.common) {
        Ok(loaded) => loaded,
        Err(e) => return usage_error(e),
    };
    let (files, problems) = crate::testing::load(&config.rules.dir, Some(&pack));
    if !problems.is_empty() {
        for d in &problems {
            eprintln!("{d}");
        }
        if problems.iter().any(Diagnostic::is_error) {
            return ExitCode::from(EXIT_USAGE);
        }
    }
    if files.is_empty() {
        return usage_error(format!(
            "no rule tests: write them in {}",
            config.rules.dir.join("tests/*.toml").display()
        ));
    }
    let stdout = std::io::stdout();
    match crate::testing::run(&pack, &files, args.filter.as_deref(), &mut stdout.lock()) {
        Ok(summary) if summary.passed + summary.failed == 0 => usage_error(format!(
            "no case name contains {:?}",
            args.filter.as_deref().unwrap_or_default()
        )),
        Ok(summary) if summary.failed == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(EXIT_RUNTIME),
        Err(e) => runtime_error(e),
    }
}

/// Where the running rule set came from, for reloading it.
fn rule_sources(config: &Config, running: &RulePack) -> RuleSources {
    RuleSources {
        dir: config.rules.dir.clone(),
        catalogue: config.rules.catalogue.clone(),
        params: config.rules.params.clone(),
        vars: env_vars(),
        limits: running.limits,
    }
}

fn run_file(pack: &RulePack, watch: Option<RulesWatch>, job: FileJob) -> ExitCode {
    match file::run_watched(pack, &job, watch) {
        Ok(summary) => {
            let signal = summary.interrupted;
            crate::metrics::export::log_end_summary(
                crate::metrics::global(),
                &crate::metrics::export::InputCounts {
                    lines: summary.lines,
                    blank_lines: summary.blank_lines,
                    users: summary.users,
                    restored_users: summary.restored_users,
                    saved_users: summary.saved_users,
                },
                &summary.stats,
            );
            match signal {
                None => ExitCode::SUCCESS,
                Some(signal) => {
                    eprintln!(
                        "tagstream: stopped by {} after {} lines read ({} blank), {} changes and \
                         {} dead letters written; timers due after the last event were not fired",
                        Stop::name(signal),
                        summary.lines,
                        summary.blank_lines,
                        summary.changes,
                        summary.dead_letters
                    );
                    if let Some(dir) = &job.state {
                        eprintln!(
                            "tagstream: state of {} users saved to {}; the next run with it \
                             carries on from the last record read",
                            summary.saved_users,
                            dir.display()
                        );
                    }
                    ExitCode::from(128 + signal as u8)
                }
            }
        }
        Err(FileRunError::Rules(e)) => usage_error(e),
        Err(FileRunError::SameFile(e)) => usage_error(e),
        Err(FileRunError::State(e)) if e.is_usage() => usage_error(e),
        Err(FileRunError::Write(e)) if e.is_broken_pipe() => ExitCode::from(EXIT_BROKEN_PIPE),
        Err(e) => runtime_error(e),
    }
}

fn generate(args: &GenerateArgs) -> ExitCode {
    let opts = crate::generate::GenOptions {
        users: args.users,
        events: args.events,
        days: args.days,
        seed: args.seed,
        invalid_per_mille: args.invalid_per_mille,
        late_per_mille: args.late_per_mille,
        personas: args.personas,
        start_ms: args.start,
    };
    let result = crate::sink::file::open_output(&args.output).and_then(|mut out| {
        let stats = crate::generate::generate(&opts, &mut out)?;
        out.flush()?;
        Ok(stats)
    });
    match result {
        Ok(stats) => {
            tracing::info!(
                lines = stats.lines,
                valid = stats.valid,
                invalid = stats.invalid,
                users = stats.users,
                "stream generated"
            );
            ExitCode::SUCCESS
        }
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(EXIT_BROKEN_PIPE),
        Err(e) => runtime_error(e),
    }
}
