//! `tagstream run`: embedded mode over a file or stdin, or Kafka mode; hot reload where a run
//! has no natural end, observability before it starts, and the exit code and summary of a
//! file run.

use std::process::ExitCode;

use crate::config::{env_vars, Config};
use crate::pipeline::file::{self, FileJob, FileRunError};
use crate::pipeline::reload::{self, RuleSources, RulesWatch};
use crate::pipeline::signals::Stop;
use crate::rules::RulePack;

use super::{load, runtime_error, to_stderr, usage_error, RunArgs, EXIT_BROKEN_PIPE, MAX_WORKERS};

/// `tagstream run`: embedded mode with `--input`, Kafka mode without.
pub(super) fn run(args: RunArgs) -> ExitCode {
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
    // After the start is logged: the findings read as part of it.
    let sources = rule_sources(&config, &pack);
    sources.warn_findings(&pack.version);
    // Hot reload where a run has no natural end: Kafka mode and a pipe on stdin.
    let live = args
        .input
        .as_deref()
        .is_none_or(|i| i == std::path::Path::new("-"));
    // Not with saved state: it is saved against the rule set the run started with.
    let watch = if live && state.is_none() {
        match reload::start(sources, &pack) {
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
                    to_stderr(format_args!(
                        "tagstream: stopped by {} after {} lines read ({} blank), {} changes and \
                         {} dead letters written; timers due after the last event were not fired",
                        Stop::name(signal),
                        summary.lines,
                        summary.blank_lines,
                        summary.changes,
                        summary.dead_letters
                    ));
                    if let Some(dir) = &job.state {
                        to_stderr(format_args!(
                            "tagstream: state of {} users saved to {}; the next run with it \
                             carries on from the last record read",
                            summary.saved_users,
                            dir.display()
                        ));
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
