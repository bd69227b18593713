//! Using the tags: `tagstream segment` (users by their current tags) and `tagstream explain`
//! (one user's tags and why).
//!
//! Both read users from the same sources: the saved state of embedded mode (`--state DIR`), or
//! Kafka mode's changelog topic read end to end with the Kafka config (every partition, by
//! assignment: no consumer group is joined, so the running instances are not disturbed). Users
//! stream through one at a time, so memory does not grow with the number of users read from a
//! state directory.

mod changelog;
pub mod explain;
pub mod expr;
mod near;
pub mod segment;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use crate::cli::{CommonArgs, EXIT_RUNTIME, EXIT_USAGE};
use crate::config::Config;
use crate::rules::{RulePack, RulesError};
use crate::state::store::{StateReader, StoreError, FILE_NAME};
use crate::state::UserState;

pub use expr::{ExprError, Segment};

#[derive(Debug, Args, Clone)]
pub struct SourceArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Read the saved state of embedded mode in DIR (as written by `run --input … --state DIR`).
    /// Default: state.dir when state.embedded is set, else Kafka mode's changelog topic.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SegmentFormat {
    Csv,
    Jsonl,
}

#[derive(Debug, Args)]
pub struct SegmentArgs {
    /// Tags combined with & (and), | (or), ! (not) and parentheses; `group/*` is any tag of
    /// the group. Example: 'lifecycle/mature & value/high & !service/complaint'.
    #[arg(value_name = "EXPR")]
    pub expr: String,
    #[command(flatten)]
    pub source: SourceArgs,
    /// csv: a header row, then a row per user with each group's tags, scores and since when;
    /// jsonl: a JSON object per user.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: SegmentFormat,
    /// Print only the number of users in the segment (a number has no --format).
    #[arg(long, conflicts_with = "format")]
    pub count: bool,
    /// Where to write the users, - for stdout.
    #[arg(long, value_name = "FILE|-", default_value = "-")]
    pub output: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExplainFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The user id.
    #[arg(value_name = "USER", value_parser = user_id)]
    pub user: String,
    #[command(flatten)]
    pub source: SourceArgs,
    /// text: a report to read; json: one JSON document for scripts.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ExplainFormat,
    /// Tag changes written by `run --input` (its --output), - for stdin: adds the user's
    /// history, and the reason of each held tag. In Kafka mode the history comes from the
    /// output topic.
    #[arg(long, value_name = "FILE|-")]
    pub changes: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error(transparent)]
    Expr(#[from] ExprError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// Writing the report failed; `stream` is `stdout` or the `--output` path.
    #[error("writing to {stream}: {source}")]
    Write {
        stream: String,
        source: std::io::Error,
    },
    #[error("Kafka: {0}")]
    Kafka(String),
    /// No state for `id`; `near` are ids that have some and look like it.
    #[error("unknown user {id:?}: no state for this id{}", near::did_you_mean(.near))]
    UnknownUser { id: String, near: Vec<String> },
}

impl QueryError {
    fn exit_code(&self) -> ExitCode {
        let usage = match self {
            QueryError::Rules(_) | QueryError::Expr(_) | QueryError::Usage(_) => true,
            QueryError::Store(e) => e.is_usage(),
            _ => false,
        };
        ExitCode::from(if usage { EXIT_USAGE } else { EXIT_RUNTIME })
    }
}

/// Where users are read from.
#[derive(Debug, Clone)]
pub enum Source {
    Dir(PathBuf),
    Changelog(Box<Config>),
}

/// A user as read from a source.
#[derive(Debug, Clone)]
pub struct Found {
    pub id: String,
    pub state: UserState,
    /// The clock of the state the user was saved with: "now" for windows and ages.
    pub clock: Option<i64>,
    /// The Kafka partition the user lives in (changelog source).
    pub partition: Option<i32>,
}

fn open(args: &SourceArgs) -> Result<(Config, RulePack, Source), QueryError> {
    let (config, pack) = crate::cli::load_with_state(&args.common, args.state.as_deref())?;
    let dir = args
        .state
        .clone()
        .or_else(|| config.state.embedded.then(|| config.state.dir.clone()));
    let source = match dir {
        Some(dir) => Source::Dir(dir),
        None => {
            // The changelog is read with the run's Kafka options: one librdkafka refuses only
            // when a client is created is a config error at its line, as for `run` and `check`.
            crate::cli::check_kafka_clients(&config, &args.common).map_err(RulesError::Config)?;
            Source::Changelog(Box::new(config.clone()))
        }
    };
    Ok((config, pack, source))
}

/// Hands every user of `source` to `each` until it returns `false`.
///
/// # Errors
/// A missing, refused or damaged state; Kafka unreachable; whatever `each` returns.
pub fn each_user(
    source: &Source,
    pack: &RulePack,
    each: &mut dyn FnMut(Found) -> Result<bool, QueryError>,
) -> Result<(), QueryError> {
    match source {
        Source::Dir(dir) => {
            let mut reader = open_dir(dir, pack)?;
            let clock = reader.header().clock;
            while let Some((id, state)) = reader.next_user()? {
                let found = Found {
                    id,
                    state,
                    clock,
                    partition: None,
                };
                if !each(found)? {
                    break;
                }
            }
            Ok(())
        }
        Source::Changelog(config) => changelog::each_user(config, each),
    }
}

fn open_dir(dir: &Path, pack: &RulePack) -> Result<StateReader, QueryError> {
    if !dir.is_dir() {
        let what = if dir.exists() {
            "not a directory (--state names the directory given to `tagstream run --state`)".into()
        } else {
            match crate::pipeline::paths::near_name(dir, true) {
                Some(near) => format!("no such state directory; did you mean {}?", near.display()),
                // Said as the holds-no-state case says it: what writes one, and where a
                // relative path was looked up.
                None => {
                    let from = match std::env::current_dir() {
                        Ok(cwd) if dir.is_relative() => {
                            format!(" (looked up in the working directory {})", cwd.display())
                        }
                        _ => String::new(),
                    };
                    format!(
                        "no such state directory{from}; `tagstream run --input FILE --state {}` \
                         writes one",
                        dir.display()
                    )
                }
            }
        };
        return Err(QueryError::Usage(format!("{}: {what}", dir.display())));
    }
    StateReader::open(dir, pack.fingerprint())?.ok_or_else(|| {
        QueryError::Usage(format!(
            "{}: holds no saved state ({FILE_NAME}); write one with `tagstream run --input FILE --state {}`",
            dir.display(),
            dir.display()
        ))
    })
}

fn report(result: Result<(), QueryError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(QueryError::Write { stream, source }) => crate::cli::write_failed(&stream, &source),
        Err(e) => {
            crate::cli::to_stderr(format_args!("error: {e}"));
            e.exit_code()
        }
    }
}

/// `tagstream segment`.
pub fn segment_main(args: &SegmentArgs) -> ExitCode {
    report(segment::run(args))
}

/// `tagstream explain`.
/// A user id as events carry it: 1 to 128 bytes; no user has another.
fn user_id(text: &str) -> Result<String, String> {
    let max = crate::decode::MAX_USER_ID_BYTES;
    match text.len() {
        0 => Err("a user id is never empty (an event without one is a dead letter)".into()),
        n if n > max => Err(format!(
            "{n} bytes: a user id is at most {max} (an event with a longer one is a dead letter)"
        )),
        _ => Ok(text.to_string()),
    }
}

pub fn explain_main(args: &ExplainArgs) -> ExitCode {
    report(explain::run(args))
}
