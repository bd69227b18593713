//! The command line: `run`, `check`, `test`, `diff`, `generate`. Parses flags ([`args`]), loads
//! and validates config and rules before anything starts, and maps failures to exit codes (0 ok,
//! 1 runtime, 2 usage, config or rules). `run` is in [`run`], `check` and `test` in [`check`],
//! `generate` in [`generate`]; the other commands live with what they drive (`diff`, `bench`,
//! `query`).

mod args;
mod check;
mod generate;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{env_vars, Config};
use crate::rules::{RulePack, RulesError};

pub use args::{Cli, Command, CommonArgs, GenerateArgs, RunArgs, TestArgs};

pub const EXIT_RUNTIME: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
/// A closed pipe downstream ends a run quietly, with the exit status SIGPIPE would give.
pub const EXIT_BROKEN_PIPE: u8 = 128 + 13;
/// Most embedded-mode workers accepted: beyond this, threads cost more than they bring.
pub const MAX_WORKERS: usize = 256;

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
        Command::Check(common) => check::check(&common),
        Command::Test(args) => check::test(&args),
        Command::Run(args) => run::run(args),
        Command::Diff(args) => crate::diff::main(&args),
        Command::Generate(args) => generate::generate(&args),
        Command::Bench(args) => crate::bench::main(&args),
        Command::Segment(args) => crate::query::segment_main(&args),
        Command::Explain(args) => crate::query::explain_main(&args),
    }
}
