//! `tagstream diff`: what a rule change would do to real traffic, before it is deployed.
//!
//! A recorded stream is replayed through two rule sets side by side — the base (what runs
//! today, from the config) and the new one — in one process, each on its own
//! [`crate::core::Processor`], the same core production runs. The report says, per tag, how
//! many users end up gaining and losing it, how many tag changes differ on the way, and shows a
//! few users with the rule and reason on each side. See `docs/diff.md`.

mod replay;
mod report;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

pub use replay::{Replay, ReplayError};
pub use report::{Change, Held, Kind, Report, RuleError, Sample, SideSummary, SideView, TagDiff};

use crate::cli::{EXIT_RUNTIME, EXIT_USAGE};
use crate::config::env_vars;
use crate::rules::{RulePack, RulesError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The new rules directory.
    #[arg(long, value_name = "DIR")]
    pub rules: PathBuf,
    /// The base rules directory (default: rules.dir of the config, what runs today).
    #[arg(long, value_name = "DIR")]
    pub base: Option<PathBuf>,
    /// The recorded events to replay (JSON lines), - for stdin.
    #[arg(long, value_name = "FILE|-")]
    pub input: PathBuf,
    /// The report: a table for people (text), or one JSON document for scripts (json).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Sample users shown per tag.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = crate::cli::whole_number::<usize>(0, u64::MAX), allow_negative_numbers = true)]
    pub samples: usize,
    /// Engine config (default: config/tagstream.toml when present).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Parameters of the new rules (default: rules.params of the config).
    #[arg(long, value_name = "FILE")]
    pub params: Option<PathBuf>,
    /// Tag catalogue of the new rules (default: rules.catalogue of the config).
    #[arg(long, value_name = "FILE")]
    pub catalogue: Option<PathBuf>,
    /// Parameters of the base rules (default: rules.params of the config).
    #[arg(long, value_name = "FILE")]
    pub base_params: Option<PathBuf>,
    /// Tag catalogue of the base rules (default: rules.catalogue of the config).
    #[arg(long, value_name = "FILE")]
    pub base_catalogue: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{side} rules: {source}")]
    Rules {
        side: &'static str,
        source: RulesError,
    },
    #[error("--input {path}: {source}")]
    Input { path: String, source: io::Error },
    #[error(transparent)]
    Replay(#[from] ReplayError),
}

impl DiffError {
    /// Bad config, rules or input path: the command cannot start (2). A read failure mid-way: 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            DiffError::Replay(ReplayError::Io { .. }) => EXIT_RUNTIME,
            _ => EXIT_USAGE,
        }
    }
}

fn load_side(
    side: &'static str,
    rules: &Path,
    catalogue: &Path,
    params: &Path,
    vars: &[(String, String)],
) -> Result<RulePack, DiffError> {
    // A missing parameters file means "no parameters" to the loader; here it is a typo.
    let loaded = match crate::cli::unreadable(params) {
        Some(e) => Err(e.into()),
        None => RulePack::load(rules, catalogue, params, vars),
    };
    loaded.map_err(|e| DiffError::Rules {
        side,
        source: crate::cli::with_paths_hint(e, [rules, catalogue, params]),
    })
}

/// Loads both rule sets and replays the input through them.
///
/// # Errors
/// See [`DiffError`].
pub fn diff(args: &DiffArgs) -> Result<Report, DiffError> {
    let vars = env_vars();
    // The config as every command loads it (a misspelt --config gets the name meant); the
    // rules paths are diff's own, per side, below.
    let common = crate::cli::CommonArgs {
        config: args.config.clone(),
        rules: None,
        catalogue: None,
        params: None,
    };
    let config = crate::cli::load_config(&common, None, &vars)?;
    let r = &config.rules;
    let base_dir = args.base.clone().unwrap_or_else(|| r.dir.clone());
    let mut base = load_side(
        "base",
        &base_dir,
        args.base_catalogue.as_ref().unwrap_or(&r.catalogue),
        args.base_params.as_ref().unwrap_or(&r.params),
        &vars,
    )?;
    let mut new = load_side(
        "new",
        &args.rules,
        args.catalogue.as_ref().unwrap_or(&r.catalogue),
        args.params.as_ref().unwrap_or(&r.params),
        &vars,
    )?;
    // Both sides run as `run` runs them under this config.
    for side in [&mut base, &mut new] {
        side.limits.time_budget_ms = config.time_budget_ms().unwrap_or_default();
        side.execution = config
            .execution()
            .unwrap_or(crate::rules::Execution::Compiled);
    }
    // Rules edited in place and diffed against themselves (the base defaults to rules.dir)
    // would report "no difference" for any change.
    if base.version == new.version {
        let whence = if args.base.is_none() {
            " (rules.dir of the config)"
        } else {
            ""
        };
        crate::cli::to_stderr(format_args!(
            "warning: the base and the new rule set are the same files (rules_version {}): the \
             base is {}{whence}; pass the changed set with --rules DIR, --params FILE or \
             --catalogue FILE, or the set that runs today with --base DIR",
            new.version,
            base_dir.display()
        ));
    }
    // What check says of each side, before the report: differences that come from a broken
    // set (a misnamed handler, a misspelt parameter) are not read as the change's effect.
    for (side, rules, catalogue, params) in [
        ("base", &base_dir, &args.base_catalogue, &args.base_params),
        ("new", &args.rules, &args.catalogue, &args.params),
    ] {
        let sources = crate::rules::check::Sources {
            rules_dir: rules.clone(),
            catalogue: catalogue.clone().unwrap_or_else(|| r.catalogue.clone()),
            params: params.clone().unwrap_or_else(|| r.params.clone()),
        };
        let findings = crate::rules::check::findings(&sources, &vars);
        for line in crate::rules::check::finding_lines(&format!("{side} rules: "), &findings) {
            crate::cli::to_stderr(line);
        }
    }
    let shown = args.input.display().to_string();
    let input: Box<dyn BufRead> = if args.input == Path::new("-") {
        crate::cli::hint_if_stdin_is_a_terminal("the recorded events");
        Box::new(BufReader::with_capacity(1 << 16, io::stdin().lock()))
    } else {
        let input_error = |source| DiffError::Input {
            path: shown.clone(),
            source,
        };
        if args.input.is_dir() {
            let source = io::Error::new(io::ErrorKind::InvalidInput, "is a directory");
            return Err(input_error(source));
        }
        if let Some(source) = crate::pipeline::paths::missing_file(&args.input) {
            return Err(input_error(source));
        }
        let file = File::open(&args.input).map_err(input_error)?;
        Box::new(BufReader::with_capacity(1 << 16, file))
    };
    let replay = Replay {
        base: &base,
        new: &new,
        samples: args.samples,
    };
    let rules = [base_dir, args.rules.clone()].map(|d| d.display().to_string());
    Ok(replay.run(input, &shown, rules)?)
}

pub fn main(args: &DiffArgs) -> ExitCode {
    let report = match diff(args) {
        Ok(report) => report,
        Err(e) => {
            crate::cli::to_stderr(format_args!("error: {e}"));
            return ExitCode::from(e.exit_code());
        }
    };
    let text = match args.format {
        Format::Text => report.to_text(),
        Format::Json => {
            // The JSON report's fields say it too; a person reading the terminal is told.
            if let Some(why) = report.nothing_compared() {
                crate::cli::to_stderr(format_args!("warning: {why}"));
            }
            report.to_json() + "\n"
        }
    };
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => crate::cli::write_failed("stdout", &e),
    }
}
