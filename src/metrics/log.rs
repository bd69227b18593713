//! Logs an operator can read: the subscriber set up from `TAGSTREAM_LOG` and
//! `TAGSTREAM_LOG_FORMAT` (a value that does not parse is an error at start, not silence),
//! colours only on a terminal, and dead letters summarised at most once per
//! [`SUMMARY_EVERY`] with counts by reason, never with their payload.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// One bad-input summary line at most this often.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LogError {
    #[error("TAGSTREAM_LOG={value:?}: {why} (expected a level such as `info`, or `target=level` pairs separated by commas, e.g. `info,tagstream=debug`; levels: trace, debug, info, warn, error, off)")]
    Filter { value: String, why: String },
    #[error("TAGSTREAM_LOG_FORMAT={0:?}: expected `text` or `json`")]
    Format(String),
    #[error("{var} is not a variable tagstream reads; did you mean {meant}? (TAGSTREAM_LOG is the log filter, e.g. `debug`; TAGSTREAM_LOG_FORMAT is `text` or `json`)")]
    Misspelt { var: String, meant: &'static str },
}

const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// Parses a `TAGSTREAM_LOG` value. Stricter than `EnvFilter` alone, which takes a bare word
/// as a target name: `inof` would silently log nothing instead of being reported.
///
/// # Errors
/// A directive that is neither a level nor `target=level`.
pub fn parse_filter(value: &str) -> Result<EnvFilter, LogError> {
    let err = |why: String| LogError::Filter {
        value: value.to_string(),
        why,
    };
    for directive in value.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        match directive.rsplit_once('=') {
            Some((target, level)) => {
                if target.is_empty() {
                    return Err(err(format!("`{directive}` names no target")));
                }
                if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
                    return Err(err(format!("`{level}` is not a level")));
                }
            }
            None if LEVELS.contains(&directive.to_ascii_lowercase().as_str()) => {}
            None => return Err(err(format!("`{directive}` is not a level"))),
        }
    }
    EnvFilter::try_new(value).map_err(|e| err(e.to_string()))
}

/// Text (the default) or JSON lines.
///
/// # Errors
/// Anything but `text` or `json`.
pub fn parse_format(value: Option<&str>) -> Result<bool, LogError> {
    match value.map(str::trim) {
        None | Some("" | "text") => Ok(false),
        Some("json") => Ok(true),
        Some(other) => Err(LogError::Format(other.to_string())),
    }
}

/// A variable named like the two that set the logs but neither (`TAGSTREAM_LOG_LEVEL`,
/// `TAGSTREAM_LOGFORMAT`), which would otherwise be ignored without a word, with the one
/// meant. `TAGSTREAM_LOG__…` would be a config override and is left to the config.
pub fn misspelt_log_var<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<LogError> {
    names
        .into_iter()
        .filter(|name| name.starts_with("TAGSTREAM_LOG") && !name.contains("__"))
        .find(|name| !matches!(*name, "TAGSTREAM_LOG" | "TAGSTREAM_LOG_FORMAT"))
        .map(|name| {
            let rest = &name["TAGSTREAM_LOG".len()..];
            let meant = if rest.contains("FORMAT") || rest.contains("FMT") {
                "TAGSTREAM_LOG_FORMAT"
            } else {
                "TAGSTREAM_LOG"
            };
            LogError::Misspelt {
                var: name.to_string(),
                meant,
            }
        })
}

/// Installs the global subscriber from the environment: logs to stderr (through
/// [`QuietStderr`]), colours only when stderr is a terminal and `NO_COLOR` is unset.
///
/// # Errors
/// `TAGSTREAM_LOG` or `TAGSTREAM_LOG_FORMAT` do not parse, or a variable is named like them
/// but is neither ([`misspelt_log_var`]).
pub fn init_from_env() -> Result<(), LogError> {
    let names: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .collect();
    if let Some(e) = misspelt_log_var(names.iter().map(String::as_str)) {
        return Err(e);
    }
    let filter = match std::env::var("TAGSTREAM_LOG") {
        Ok(value) if !value.trim().is_empty() => parse_filter(&value)?,
        _ => EnvFilter::new("info"),
    };
    let json = parse_format(std::env::var("TAGSTREAM_LOG_FORMAT").ok().as_deref())?;
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| QuietStderr)
        .with_ansi(ansi);
    if json {
        builder.json().finish().with(StopNoise).init();
    } else {
        builder.finish().with(StopNoise).init();
    }
    Ok(())
}

/// Stderr for log lines, where a line that cannot be written (stderr a closed pipe or a full
/// disk) is dropped. The subscriber's own writer would report the failure with `eprintln!`,
/// which panics on the same stderr; a log line is not worth ending a run for, and whether the
/// run succeeded is for its outputs and exit code to say. Each line goes out in one write under
/// stderr's lock, so lines shared with other writers are never torn.
pub struct QuietStderr;

impl Write for QuietStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        let _ = std::io::stderr().lock().write_all(buf);
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// Keeps out the one error every clean stop of Kafka mode would otherwise log. Kafka mode
/// closes its group consumer itself (the revoke hook checkpoints every partition) and waits
/// until it is closed; dropping the consumer afterwards asks librdkafka to close it again, which
/// answers `BrokerDestroy`, and rdkafka logs that as an error. Nothing failed, and an operator
/// who alerts on errors must not be paged by every deploy. Any other error passes.
struct StopNoise;

/// The message rdkafka logs when a consumer dropped after its close is closed again.
const SECOND_CLOSE: &str = "Failed to close consumer queue on drop";

impl<S: Subscriber> Layer<S> for StopNoise {
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        if *event.metadata().level() != Level::ERROR {
            return true;
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        !is_second_close(&message.0)
    }
}

fn is_second_close(message: &str) -> bool {
    message.starts_with(SECOND_CLOSE) && message.contains("BrokerDestroy")
}

/// An event's `message` field, as text.
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_string();
        }
    }
}

/// Dead letters since the last summary line, by reason and by failing rule.
#[derive(Debug)]
pub struct BadInputLog {
    inner: Mutex<Pending>,
}

#[derive(Debug, Default)]
struct Pending {
    last: Option<Instant>,
    reasons: BTreeMap<&'static str, u64>,
    rules: BTreeMap<String, u64>,
}

impl Default for BadInputLog {
    fn default() -> Self {
        BadInputLog::new()
    }
}

impl BadInputLog {
    pub fn new() -> BadInputLog {
        BadInputLog {
            inner: Mutex::new(Pending::default()),
        }
    }

    /// Notes one dead letter; writes the summary when the last one is [`SUMMARY_EVERY`] old
    /// (the first dead letter of a run is reported at once).
    pub fn note(&self, reason: &'static str, rule: Option<&str>) {
        let mut p = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *p.reasons.entry(reason).or_default() += 1;
        if let Some(rule) = rule {
            match p.rules.get_mut(rule) {
                Some(n) => *n += 1,
                None => {
                    p.rules.insert(rule.to_string(), 1);
                }
            }
        }
        if p.last.is_none_or(|t| t.elapsed() >= SUMMARY_EVERY) {
            emit(&mut p);
        }
    }

    /// Writes what is pending (end of input, shutdown).
    pub fn flush(&self) {
        let mut p = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if !p.reasons.is_empty() {
            emit(&mut p);
        }
    }
}

fn emit(p: &mut Pending) {
    let since = p.last.map_or("start".to_string(), |t| {
        format!("{}s", t.elapsed().as_secs())
    });
    let list = |m: &mut dyn Iterator<Item = (String, u64)>| {
        m.map(|(k, n)| format!("{k}={n}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let total: u64 = p.reasons.values().sum();
    let reasons = list(&mut p.reasons.iter().map(|(k, n)| (k.to_string(), *n)));
    let rules = list(&mut p.rules.iter().map(|(k, n)| (k.clone(), *n)));
    tracing::warn!(
        dead_letters = total,
        by_reason = %reasons,
        rule_errors_by_rule = %rules,
        window = %since,
        "dead letters written (details in the dead-letter output)"
    );
    p.reasons.clear();
    p.rules.clear();
    p.last = Some(Instant::now());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_named_like_the_log_settings_gets_the_one_meant() {
        let meant = |names: &[&str]| match misspelt_log_var(names.iter().copied()) {
            Some(LogError::Misspelt { meant, .. }) => Some(meant),
            _ => None,
        };
        assert_eq!(
            meant(&["TAGSTREAM_LOG", "TAGSTREAM_LOG_FORMAT", "PATH"]),
            None
        );
        assert_eq!(meant(&["TAGSTREAM_LOGS"]), Some("TAGSTREAM_LOG"));
        assert_eq!(meant(&["TAGSTREAM_LOG_LEVEL"]), Some("TAGSTREAM_LOG"));
        assert_eq!(meant(&["TAGSTREAM_LOG_FMT"]), Some("TAGSTREAM_LOG_FORMAT"));
        // A config override (no such section, said by the config) and other variables.
        assert_eq!(meant(&["TAGSTREAM_LOG__LEVEL", "TAGSTREAM_TEST_BIN"]), None);
    }

    #[test]
    fn only_the_second_close_of_a_closed_consumer_is_kept_out() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Lines(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Lines {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish()
            .with(StopNoise);
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!("Failed to close consumer queue on drop: Consumer queue close error: BrokerDestroy (Local: Broker handle destroyed for termination)");
            tracing::error!("Failed to close consumer queue on drop: Consumer queue close error: TimedOut (Local: Timed out)");
            tracing::error!("cannot create changelog topic t: BrokerDestroy");
            tracing::info!("Failed to close consumer queue on drop: BrokerDestroy (not an error)");
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("BrokerDestroy (Local"), "{text}");
        assert!(text.contains("TimedOut"), "{text}");
        assert!(text.contains("cannot create changelog topic"), "{text}");
        assert!(text.contains("(not an error)"), "{text}");
        assert_eq!(text.lines().count(), 3, "{text}");
    }

    #[test]
    fn log_filters_that_do_not_parse_are_errors() {
        for good in [
            "info",
            "WARN",
            "info,tagstream=debug",
            "tagstream::pipeline=trace",
            "off",
        ] {
            assert!(parse_filter(good).is_ok(), "{good}");
        }
        for bad in ["inof", "tagstream=loud", "=info", "info,verbose"] {
            let err = parse_filter(bad).unwrap_err().to_string();
            assert!(err.contains("TAGSTREAM_LOG"), "{bad}: {err}");
        }
    }

    #[test]
    fn log_format_is_text_or_json() {
        assert_eq!(parse_format(None), Ok(false));
        assert_eq!(parse_format(Some("text")), Ok(false));
        assert_eq!(parse_format(Some("json")), Ok(true));
        assert_eq!(
            parse_format(Some("yaml")),
            Err(LogError::Format("yaml".into()))
        );
    }

    #[test]
    fn bad_input_is_summarised_not_repeated() {
        let log = BadInputLog::new();
        log.note("not_json", None);
        // The first note reports at once; the next ones wait for the window.
        assert!(log.inner.lock().unwrap().reasons.is_empty());
        for _ in 0..1000 {
            log.note("not_json", None);
            log.note("rule_error", Some("r1"));
        }
        {
            let p = log.inner.lock().unwrap();
            assert_eq!(p.reasons["not_json"], 1000);
            assert_eq!(p.reasons["rule_error"], 1000);
            assert_eq!(p.rules["r1"], 1000);
        }
        log.flush();
        assert!(log.inner.lock().unwrap().reasons.is_empty());
    }
}
