//! The command line: `run`, `check`, `test`, `diff`, `generate`. Parses flags ([`args`]), loads
//! and validates config and rules before anything starts, and maps failures to exit codes (0 ok,
//! 1 runtime, 2 usage, config or rules, 141 a reader of stdout that went away). `run` is in
//! [`run`], `check` and `test` in [`check`], `generate` in [`generate`]; the other commands live
//! with what they drive (`diff`, `bench`, `query`).

mod args;
mod check;
mod generate;
mod kafka_clients;
mod run;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::{env_vars, Config, PathFlags};
use crate::pipeline::paths::Stream;
use crate::rules::{Execution, RulePack, RulesError};

pub(crate) use args::{users_flag, whole_number};
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
    load_with_state(common, None)
}

/// [`load`] for a command whose `--state DIR` (`state`) stands in for `state.dir`.
///
/// # Errors
/// As [`load`].
pub fn load_with_state(
    common: &CommonArgs,
    state: Option<&std::path::Path>,
) -> Result<(Config, RulePack), RulesError> {
    let vars = env_vars();
    let config = load_config(common, state, &vars)?;
    let loaded = match missing_params(&config) {
        Some(e) => Err(RulesError::Config(e)),
        None => RulePack::load(
            &config.rules.dir,
            &config.rules.catalogue,
            &config.rules.params,
            &vars,
        ),
    };
    let mut pack = loaded.map_err(|e| with_paths_hint(e, rules_paths(&config)))?;
    pack.limits.time_budget_ms = config.time_budget_ms().unwrap_or_default();
    pack.execution = config.execution().unwrap_or(Execution::Compiled);
    Ok((config, pack))
}

/// A parameters file that was named (flag, config or environment) but does not exist. Only
/// the default path may be absent, for a rule set without parameters; a named one that is
/// missing is a typo, which would otherwise surface as rules reading sections that are not
/// there.
fn missing_params(config: &Config) -> Option<crate::config::ConfigError> {
    let path = &config.rules.params;
    if *path == crate::config::RulesConfig::default().params {
        return None;
    }
    unreadable(path)
}

/// Why `path` cannot be read, if it cannot.
pub(crate) fn unreadable(path: &std::path::Path) -> Option<crate::config::ConfigError> {
    let source = std::fs::metadata(path).err()?;
    Some(crate::config::ConfigError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// The rules directory, catalogue and parameters of `config`.
fn rules_paths(config: &Config) -> [&std::path::Path; 3] {
    [
        &config.rules.dir,
        &config.rules.catalogue,
        &config.rules.params,
    ]
}

/// [`paths_hint`] for the rules paths of `config`.
fn missing_paths_hint(config: &Config) -> Option<String> {
    paths_hint(rules_paths(config))
}

/// `e` with [`paths_hint`]'s line after it, when there is one; a rule that does not compile
/// with the command that lists all the rules' errors.
pub(crate) fn with_paths_hint(e: RulesError, paths: [&std::path::Path; 3]) -> RulesError {
    if let RulesError::Compile { .. } = e {
        // Loading stops at the first mistake in a script; check goes on to the others, so a
        // set with several is not fixed one run at a time.
        return RulesError::Config(crate::config::ConfigError::Invalid(format!(
            "{e}\nhint: `tagstream check --rules {}` (with the same --config, --catalogue and \
             --params) lists every error of the rules at once, not only the first",
            paths[0].display()
        )));
    }
    match paths_hint(paths) {
        Some(hint) => {
            RulesError::Config(crate::config::ConfigError::Invalid(format!("{e}\n{hint}")))
        }
        None => e,
    }
}

/// Why rules paths that do not exist may be missing, for the line after the error: a near
/// name in the same folder (a typo), or, when the folder is missing too and the path is
/// relative, the working directory (tagstream started from another directory).
fn paths_hint(paths: [&std::path::Path; 3]) -> Option<String> {
    let mut lines = Vec::new();
    let mut elsewhere = Vec::new();
    // The rules are a directory; the catalogue and the parameters are files.
    let kinds = [
        (
            "--rules (rules.dir)",
            "the directory of .rhai rules",
            "RULES__DIR",
        ),
        (
            "--catalogue (rules.catalogue)",
            "the tag catalogue file",
            "RULES__CATALOGUE",
        ),
        (
            "--params (rules.params)",
            "the rule parameters file",
            "RULES__PARAMS",
        ),
    ];
    let vars = crate::config::env_vars();
    for ((path, dir), (flag, names, key)) in paths.into_iter().zip([true, false, false]).zip(kinds)
    {
        if path.exists() {
            if path.is_dir() != dir {
                lines.push(wrong_kind(path, dir, flag, names));
            }
            continue;
        }
        // A path set by an override is not in the file or on the command line: name it.
        let from = crate::config::override_of(&vars, &format!("TAGSTREAM_{key}"))
            .filter(|(_, value)| std::path::Path::new(value) == path)
            .map(|(name, _)| format!(" (set by {name})"))
            .unwrap_or_default();
        match crate::pipeline::paths::near_name(path, dir) {
            Some(near) => lines.push(format!(
                "hint: {}{from} does not exist; did you mean {}?",
                path.display(),
                near.display()
            )),
            None if path.is_relative() => elsewhere.push(format!("{}{from}", path.display())),
            None if !from.is_empty() => {
                lines.push(format!("hint: {}{from} does not exist", path.display()));
            }
            None => {}
        }
    }
    if !elsewhere.is_empty() {
        let cwd = std::env::current_dir().map_or_else(|_| "?".into(), |d| d.display().to_string());
        let verb = if elsewhere.len() == 1 { "is" } else { "are" };
        lines.push(format!(
            "hint: {} {verb} relative to the working directory ({cwd}); run tagstream from the \
             directory that holds config/ and rules/, or give the paths (the command's \
             --help names its flags; rules.dir, rules.catalogue and rules.params in --config)",
            elsewhere.join(", ")
        ));
    }
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// The hint for a rules path that exists but is a file where a directory is wanted, or the
/// other way round (`--rules rules/activity.rhai`, `--catalogue config`), naming what the flag
/// takes and, when the path is a directory holding the file wanted by its usual name, that file.
fn wrong_kind(path: &std::path::Path, want_dir: bool, flag: &str, names: &str) -> String {
    let shown = path.display();
    if want_dir {
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        return format!(
            "hint: {shown} is a file; {flag} names {names}, such as {}",
            parent.display()
        );
    }
    let usual = if flag.starts_with("--catalogue") {
        "tags.toml"
    } else {
        "params.toml"
    };
    let such_as = such_as_inside(path, usual);
    format!("hint: {shown} is a directory; {flag} names {names}{such_as}")
}

/// `, such as DIR/NAME` when directory `dir` holds the file `name`, for a hint about a
/// directory given where a file is wanted; empty otherwise.
fn such_as_inside(dir: &std::path::Path, name: &str) -> String {
    let inside = dir.join(name);
    if inside.is_file() {
        format!(", such as {}", inside.display())
    } else {
        String::new()
    }
}

/// The engine config with the CLI's path overrides (and `--state DIR`, `state`) applied
/// before it is validated.
///
/// # Errors
/// A config error (exit code 2).
pub fn load_config(
    common: &CommonArgs,
    state: Option<&std::path::Path>,
    vars: &[(String, String)],
) -> Result<Config, crate::config::ConfigError> {
    let (path, required) = config_path(common);
    if let Some(source) = crate::pipeline::paths::missing_file(&path).filter(|_| required) {
        return Err(crate::config::ConfigError::Io {
            path: path.display().to_string(),
            source,
        });
    }
    if required && path.is_dir() {
        // `--config config`: the folder of the config files for the file itself.
        let such_as = such_as_inside(&path, "tagstream.toml");
        return Err(crate::config::ConfigError::Io {
            path: path.display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("a directory; --config names the engine config file{such_as}"),
            ),
        });
    }
    let flags = PathFlags {
        state_dir: state.map(std::path::Path::to_path_buf),
        ..path_flags(common)
    };
    Config::load_with(&path, required, vars, &flags)
}

/// Creates the Kafka clients a Kafka-mode run creates, with `config`'s options and no broker
/// ([`kafka_clients::check`]): an option librdkafka refuses only then is a config error.
pub(crate) fn check_kafka_clients(
    config: &Config,
    common: &CommonArgs,
) -> Result<(), crate::config::ConfigError> {
    kafka_clients::check(config, &config_path(common).0, &env_vars())
}

fn config_path(common: &CommonArgs) -> (PathBuf, bool) {
    match &common.config {
        Some(path) => (path.clone(), true),
        None => (PathBuf::from("config/tagstream.toml"), false),
    }
}

/// The rules paths `common`'s flags give.
fn path_flags(common: &CommonArgs) -> PathFlags {
    PathFlags {
        rules_dir: common.rules.clone(),
        catalogue: common.catalogue.clone(),
        params: common.params.clone(),
        state_dir: None,
    }
}

/// Writes `line` and a line end to stderr in one write, so that a stderr shared with stdout
/// (`2>&1`) never holds a torn line. Unlike `eprintln!`, which panics when stderr is a closed
/// pipe or a full disk, a line that cannot be written is dropped: the exit code still says how
/// the command ended.
pub fn to_stderr(line: impl std::fmt::Display) {
    let _ = std::io::stderr()
        .lock()
        .write_all(format!("{line}\n").as_bytes());
}

/// "1 user", "2 users".
pub fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// When a command is to read `-` and stdin is a terminal (nothing piped, no `< file`), says
/// so: otherwise it waits in silence, and looks hung, until Ctrl-D.
pub fn hint_if_stdin_is_a_terminal(what: &str) {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        to_stderr(format_args!(
            "tagstream: reading {what} from the terminal: paste or type JSON lines, end with \
             Ctrl-D (or pipe them in, or give a file instead of -)"
        ));
    }
}

/// The exit of a command whose writing to `stream` (`stdout` or a path) failed with `e`: a
/// reader that went away (`… | head`) ends it quietly with [`EXIT_BROKEN_PIPE`], the status
/// SIGPIPE would give; any other error (a full disk) is exit 1 with an error naming the stream.
pub(crate) fn write_failed(stream: &str, e: &std::io::Error) -> ExitCode {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return ExitCode::from(EXIT_BROKEN_PIPE);
    }
    runtime_error(format_args!("writing to {stream}: {e}"))
}

/// Prints `error: {e}` to stderr; the exit code of bad usage, config or rules.
pub(crate) fn usage_error(e: impl std::fmt::Display) -> ExitCode {
    to_stderr(format_args!("error: {e}"));
    ExitCode::from(EXIT_USAGE)
}

/// Prints `error: {e}` to stderr; the exit code of a runtime failure.
pub(crate) fn runtime_error(e: impl std::fmt::Display) -> ExitCode {
    to_stderr(format_args!("error: {e}"));
    ExitCode::from(EXIT_RUNTIME)
}

pub fn main(cli: Cli) -> ExitCode {
    if let Some(e) = crate::config::env_not_utf8() {
        return usage_error(e);
    }
    // The Rust runtime puts `/dev/null` on a stdout closed at start (`>&-`), where every write
    // succeeds: the report or export would be lost under exit 0. `run` checks its own outputs.
    if writes_stdout(&cli.command) && crate::pipeline::paths::was_closed(&Stream::Stdout) {
        return runtime_error(format_args!(
            "{}: closed when tagstream started, so nothing can be written to it",
            Stream::Stdout.name()
        ));
    }
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

/// Whether `command` writes what it is for to stdout (`run` checks its outputs itself).
fn writes_stdout(command: &Command) -> bool {
    let stdout = |path: &std::path::Path| path == std::path::Path::new("-");
    match command {
        Command::Run(_) => false,
        Command::Segment(args) => stdout(&args.output),
        Command::Generate(args) => stdout(&args.output),
        Command::Check(_)
        | Command::Test(_)
        | Command::Diff(_)
        | Command::Bench(_)
        | Command::Explain(_) => true,
    }
}
