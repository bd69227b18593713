//! `tagstream run`: embedded mode over a file or stdin, or Kafka mode; hot reload where a run
//! has no natural end, observability before it starts, and the exit code and summary of a
//! file run.

use std::process::ExitCode;

use crate::config::{env_vars, Config};
use crate::pipeline::file::{self, FileJob, FileRunError};
use crate::pipeline::reload::{self, RuleSources, RulesWatch};
use crate::pipeline::signals::Stop;
use crate::rules::RulePack;

use super::{
    load_with_state, runtime_error, to_stderr, usage_error, RunArgs, EXIT_BROKEN_PIPE, MAX_WORKERS,
};

/// `tagstream run`: embedded mode with `--input`, Kafka mode without.
pub(super) fn run(args: RunArgs) -> ExitCode {
    if let Some(e) = kafka_mode_with_embedded_flags(&args) {
        return usage_error(e);
    }
    let (config, pack) = match load_with_state(&args.common, args.state.as_deref()) {
        Ok(loaded) => loaded,
        Err(e) => return usage_error(e),
    };
    // Kafka mode creates its clients first, without a broker: an option librdkafka cannot
    // build a client with is a config error before anything starts, not a failure later.
    if args.input.is_none() {
        if let Err(e) = super::check_kafka_clients(&config, &args.common) {
            return usage_error(e);
        }
    }
    let state = args
        .state
        .clone()
        .or_else(|| config.state.embedded.then(|| config.state.dir.clone()));
    let start = match observe(&config, &pack, &args) {
        Ok(start) => start,
        Err(code) => return code,
    };
    let sources = rule_sources(&config, &pack);
    // The start is logged once nothing can refuse the run any more (a file run opens its
    // streams first), so that an error is not preceded by a line saying the run started; the
    // findings follow it and read as part of it.
    let announce = {
        let (sources, version) = (sources.clone(), pack.version.clone());
        let from_stdin = args.input.as_deref() == Some(std::path::Path::new("-"));
        move || {
            start.log();
            sources.warn_findings(&version);
            if from_stdin {
                super::hint_if_stdin_is_a_terminal("events");
            }
        }
    };
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
        Some(input) => run_file(
            &pack,
            watch,
            announce,
            FileJob {
                input,
                output: args.output.unwrap_or_else(|| "-".into()),
                dead_letter: args.dead_letter,
                workers: args.workers.unwrap_or_else(|| {
                    std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_WORKERS))
                }),
                max_future_ms: config.max_future_ms(),
                state,
            },
        ),
        None => {
            announce();
            crate::pipeline::kafka::main(config, pack, watch)
        }
    }
}

/// A flag of embedded mode given without `--input`, which would start Kafka mode without it:
/// `run --output tags.jsonl < events.jsonl` would wait for a broker and write nowhere.
fn kafka_mode_with_embedded_flags(args: &RunArgs) -> Option<String> {
    if args.input.is_some() {
        return None;
    }
    let (flag, kafka) = [
        (
            args.output.is_some(),
            "--output",
            "writes tag changes to kafka.output_topic",
        ),
        (
            args.dead_letter.is_some(),
            "--dead-letter",
            "writes dead letters to kafka.dead_letter_topic",
        ),
        (
            args.workers.is_some(),
            "--workers",
            "has one worker thread per core",
        ),
        (
            args.state.is_some(),
            "--state",
            "keeps its state in the changelog topic",
        ),
    ]
    .into_iter()
    .find_map(|(given, flag, kafka)| given.then_some((flag, kafka)))?;
    Some(format!(
        "{flag} is for embedded mode (--input FILE, or --input - for stdin); without --input, \
         run is Kafka mode, which {kafka}"
    ))
}

/// Observability before the run: the rule set in the metrics and the HTTP listener when asked
/// for; and, to be logged once the run is under way, one line saying what runs with what (no
/// option values: they hold secrets).
fn observe(config: &Config, pack: &RulePack, args: &RunArgs) -> Result<StartLine, ExitCode> {
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
    if !listen.is_empty() {
        match metrics::http::start(&listen, m) {
            Ok(_) => {}
            Err(e @ HttpError::Address { .. }) => return Err(usage_error(e)),
            Err(e) => return Err(runtime_error(e)),
        }
    }
    let input = match &args.input {
        Some(path) => path.display().to_string(),
        None => {
            let k = &config.kafka;
            let options: Vec<&str> = k.options.keys().map(String::as_str).collect();
            format!(
                "kafka {} group {} topics {} -> {} (dead letters {}), options {}",
                k.bootstrap_servers,
                k.group_id,
                k.input_topics.join(","),
                k.output_topic,
                k.dead_letter_topic,
                if options.is_empty() {
                    "none".to_string()
                } else {
                    options.join(",")
                }
            )
        }
    };
    Ok(StartLine {
        mode: if embedded { "embedded" } else { "kafka" },
        input,
        rules: pack
            .rules
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(","),
        rules_dir: config.rules.dir.display().to_string(),
        rules_version: metrics::rules_version(pack).to_string(),
        execution: pack.execution.name(),
        tags: pack.catalogue.len(),
        catalogue: config.rules.catalogue.display().to_string(),
        keyword_tags: pack.params.keywords.specs.len(),
        params: config.rules.params.display().to_string(),
        http: if listen.is_empty() {
            "off".to_string()
        } else {
            listen
        },
    })
}

/// The log line a run starts with.
struct StartLine {
    mode: &'static str,
    input: String,
    rules: String,
    rules_dir: String,
    rules_version: String,
    execution: &'static str,
    tags: usize,
    catalogue: String,
    keyword_tags: usize,
    params: String,
    http: String,
}

impl StartLine {
    fn log(self) {
        tracing::info!(
            version = env!("CARGO_PKG_VERSION"),
            mode = self.mode,
            input = %self.input,
            rules = %self.rules,
            rules_dir = %self.rules_dir,
            rules_version = %self.rules_version,
            execution = self.execution,
            tags = self.tags,
            catalogue = %self.catalogue,
            keyword_tags = self.keyword_tags,
            params = %self.params,
            http = %self.http,
            "tagstream starting"
        );
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
        execution: running.execution,
    }
}

fn run_file(
    pack: &RulePack,
    watch: Option<RulesWatch>,
    announce: impl FnOnce(),
    job: FileJob,
) -> ExitCode {
    match file::run_watched(pack, &job, watch, announce) {
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
                    // Blank lines are among the lines read, as they are among the line
                    // numbers of the input.
                    to_stderr(format_args!(
                        "tagstream: stopped by {} after {} lines read ({} blank), {} changes and \
                         {} dead letters written; timers due after the last event were not fired",
                        Stop::name(signal),
                        summary.lines + summary.blank_lines,
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
