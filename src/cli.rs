//! The command line: `run`, `check`, `generate`. Parses flags, loads and validates config and
//! rules before anything starts, and maps failures to exit codes (0 ok, 1 runtime, 2 usage,
//! config or rules).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{env_vars, Config};
use crate::pipeline::file::{self, FileJob, FileRunError};
use crate::pipeline::reload::{self, RuleSources, RulesWatch};
use crate::rules::{RulePack, RuleSet, RulesError};

pub const EXIT_RUNTIME: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

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
    /// Compile every rule and validate catalogue, parameters and config.
    Check(CommonArgs),
    /// Write a generated behaviour-event stream (JSON lines).
    Generate(GenerateArgs),
    /// Measure throughput and memory of each layer over a generated stream.
    Bench(crate::bench::BenchArgs),
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
    /// Embedded mode: threads the users are split over (default: the number of cores). The
    /// tags are the same for any number; the order of the output lines depends on it.
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[arg(long, default_value_t = 10_000)]
    pub users: u64,
    #[arg(long, default_value_t = 100_000)]
    pub events: u64,
    #[arg(long, default_value_t = 60)]
    pub days: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Share of invalid lines, per mille.
    #[arg(long, default_value_t = 5)]
    pub invalid_per_mille: u32,
    /// Share of late events, per mille.
    #[arg(long, default_value_t = 10)]
    pub late_per_mille: u32,
    /// Add the scripted persona users (every lifecycle stage and RFM segment).
    #[arg(long)]
    pub personas: bool,
    #[arg(long, value_name = "FILE|-", default_value = "-")]
    pub output: PathBuf,
}

/// Loads the engine config and the rule pack, applying CLI > environment > file > default.
///
/// # Errors
/// Any config or rules error (exit code 2).
pub fn load(common: &CommonArgs) -> Result<(Config, RulePack), RulesError> {
    let vars = env_vars();
    let (path, required) = match &common.config {
        Some(path) => (path.clone(), true),
        None => (PathBuf::from("config/tagstream.toml"), false),
    };
    let mut config = Config::load(&path, required, &vars)?;
    if let Some(dir) = &common.rules {
        config.rules.dir = dir.clone();
    }
    if let Some(catalogue) = &common.catalogue {
        config.rules.catalogue = catalogue.clone();
    }
    if let Some(params) = &common.params {
        config.rules.params = params.clone();
    }
    let pack = RulePack::load(
        &config.rules.dir,
        &config.rules.catalogue,
        &config.rules.params,
        &vars,
    )?;
    Ok((config, pack))
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
        Command::Check(common) => match load(&common) {
            Ok((_, pack)) => {
                println!(
                    "ok: {} rules ({}), {} tags, {} keyword tags",
                    pack.rules.len(),
                    pack.rules
                        .iter()
                        .map(|r| r.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    pack.catalogue.len(),
                    pack.params.keywords.specs.len()
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
            Err(e) => usage_error(e),
        },
        Command::Run(args) => {
            let (config, pack) = match load(&args.common) {
                Ok(loaded) => loaded,
                Err(e) => return usage_error(e),
            };
            tracing::info!(version = %pack.version, rules = pack.rules.len(), "rule set loaded");
            // Hot reload where a run has no natural end: Kafka mode and a pipe on stdin.
            let live = args
                .input
                .as_deref()
                .is_none_or(|i| i == std::path::Path::new("-"));
            let watch = if live {
                match reload::start(rule_sources(&config), &pack) {
                    Ok(watch) => Some(watch),
                    Err(e) => return usage_error(e),
                }
            } else {
                None
            };
            match args.input {
                Some(input) => run_file(
                    &pack,
                    watch,
                    FileJob {
                        input,
                        output: args.output,
                        dead_letter: args.dead_letter,
                        workers: args.workers.unwrap_or_else(|| {
                            std::thread::available_parallelism().map_or(1, |n| n.get())
                        }),
                    },
                ),
                None => crate::pipeline::kafka::main(config, pack, watch),
            }
        }
        Command::Generate(args) => generate(&args),
        Command::Bench(args) => crate::bench::main(&args),
    }
}

/// Where the running rule set came from, for reloading it.
fn rule_sources(config: &Config) -> RuleSources {
    RuleSources {
        dir: config.rules.dir.clone(),
        catalogue: config.rules.catalogue.clone(),
        params: config.rules.params.clone(),
        vars: env_vars(),
    }
}

fn run_file(pack: &RulePack, watch: Option<RulesWatch>, job: FileJob) -> ExitCode {
    match file::run_watched(pack, &job, watch) {
        Ok(summary) => {
            tracing::info!(
                lines = summary.lines,
                users = summary.users,
                changes = summary.changes,
                dead_letters = summary.dead_letters,
                timers_fired = summary.stats.timers_fired,
                expiries = summary.stats.expiries,
                "input processed"
            );
            ExitCode::SUCCESS
        }
        Err(FileRunError::Rules(e)) => usage_error(e),
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
        ..crate::generate::GenOptions::default()
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
        Err(e) => runtime_error(e),
    }
}
