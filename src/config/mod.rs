//! Configuration: `config/tagstream.toml` (engine), `config/params.toml` (rule thresholds) and
//! `config/tags.toml` (the tag catalogue, parsed in [`crate::tags::catalogue`]).
//!
//! Files are parsed into plain structs with unknown keys rejected; every key has a default.
//! `TAGSTREAM_<SECTION>__<KEY>` environment variables override both the engine config and the
//! rule parameters; CLI flags override both. The validated result is built before any task starts.

pub mod duration;
mod env;
pub mod kinds;
pub mod spans;
mod validate;
pub mod wording;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use env::apply_env_overrides;
use kinds::FileKind;
use spans::{Seg, TomlLines};
pub use validate::{is_host_port, SetByTagstream, SET_BY_TAGSTREAM};

/// The engine config's sections; rule parameters may not use these names.
pub const ENGINE_SECTIONS: [&str; 5] = ["rules", "kafka", "state", "clock", "http"];

/// One error type for everything read from config files and the environment.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}:{line}: {message}")]
    At {
        path: String,
        line: usize,
        message: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl ConfigError {
    /// Wraps a TOML error with the line it points at. A value of the wrong type is named by
    /// its key, and the problem told in the file's words ([`wording`]), not in serde's.
    pub fn toml(path: &str, text: &str, err: &toml::de::Error) -> ConfigError {
        let start = err.span().map(|span| span.start.min(text.len()));
        let line = start.map_or(1, |at| text[..at].matches('\n').count() + 1);
        let key = start.and_then(|at| TomlLines::new(text).key_at(at));
        let written = err.span().and_then(|span| text.get(span));
        let message = wording::toml_message(err.message(), key.as_deref(), written);
        ConfigError::At {
            path: path.to_string(),
            line,
            message,
        }
    }
}

/// The 1-based line of the first occurrence of `needle` in `text` (1 when absent), so that
/// semantic errors found after parsing still point the operator at a line.
pub fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map(|at| text[..at].matches('\n').count() + 1)
        .unwrap_or(1)
}

/// Reads a file of config, rules or rule tests as text.
///
/// # Errors
/// It cannot be read; or it is not UTF-8 (saved in another encoding), named at the line and
/// column of its first bad byte rather than in Rust's words ("stream did not contain valid
/// UTF-8").
pub(crate) fn read_file(path: &Path) -> Result<String, ConfigError> {
    let shown = || path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Io {
        path: shown(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let (before, bad) = (&e.as_bytes()[..at], e.as_bytes()[at]);
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        // `before` is valid UTF-8 up to `at`: count its characters, not its bytes.
        let column = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count()
            + 1;
        ConfigError::At {
            path: shown(),
            line: before.iter().filter(|&&b| b == b'\n').count() + 1,
            message: format!(
                "not valid UTF-8 (byte 0x{bad:02X} at column {column}): save the file as UTF-8"
            ),
        }
    })
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub rules: RulesConfig,
    pub kafka: KafkaConfig,
    pub state: StateConfig,
    pub clock: ClockConfig,
    pub http: HttpConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// One `.rhai` script per rule.
    pub dir: PathBuf,
    /// The tag catalogue.
    pub catalogue: PathBuf,
    /// Rule thresholds, one section per rule.
    pub params: PathBuf,
    /// Wall time one handler call may take (`50ms`); `off` for none.
    pub time_budget: String,
    /// How handlers run: `compiled` (each rule in compiled form where it allows it) or
    /// `interpreted` (every rule by Rhai's interpreter, several times slower).
    pub execution: String,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            dir: "rules".into(),
            catalogue: "config/tags.toml".into(),
            params: "config/params.toml".into(),
            time_budget: "50ms".into(),
            execution: "compiled".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    pub bootstrap_servers: String,
    pub group_id: String,
    pub input_topics: Vec<String>,
    pub output_topic: String,
    pub dead_letter_topic: String,
    /// Passed to librdkafka untouched (security.protocol, sasl.*, ssl.*, ...).
    pub options: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            bootstrap_servers: "127.0.0.1:9092".into(),
            group_id: "tagstream".into(),
            input_topics: vec!["behaviour-events".into()],
            output_topic: "tag-changes".into(),
            dead_letter_topic: "tagstream-dead-letters".into(),
            options: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StateConfig {
    /// Local state of the partitions this instance owns.
    pub dir: PathBuf,
    /// Embedded mode restores and saves its state in `dir` (as `--state DIR` does). Off by
    /// default, so that a run keeps nothing unless asked to.
    pub embedded: bool,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            dir: "state".into(),
            embedded: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ClockConfig {
    /// An idle partition's clock follows wall time (Kafka mode).
    pub idle_follows_wall_clock: bool,
    pub idle_after: String,
    /// An event stamped further ahead of the wall clock than this is a dead letter; `"off"`
    /// disables the check (replays of synthetic future data).
    pub max_future: String,
}

impl Default for ClockConfig {
    fn default() -> Self {
        ClockConfig {
            idle_follows_wall_clock: true,
            idle_after: "30s".into(),
            max_future: "1h".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// `/metrics`, `/healthz`, `/readyz`; empty turns the server off.
    pub listen: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "127.0.0.1:9898".into(),
        }
    }
}

/// Paths given on the command line (`--rules DIR`, `--state DIR`, ...). They win over the file
/// and the environment, and are in place before the values are checked: a flag stands in for a
/// path the file leaves empty, and only an empty path that is still in effect is refused.
#[derive(Debug, Clone, Default)]
pub struct PathFlags {
    pub rules_dir: Option<PathBuf>,
    pub catalogue: Option<PathBuf>,
    pub params: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
}

impl PathFlags {
    /// Sets in `config` each path a flag gives.
    pub fn apply(&self, config: &mut Config) {
        let paths = [
            (&self.rules_dir, &mut config.rules.dir),
            (&self.catalogue, &mut config.rules.catalogue),
            (&self.params, &mut config.rules.params),
            (&self.state_dir, &mut config.state.dir),
        ];
        for (flag, path) in paths {
            if let Some(flag) = flag {
                path.clone_from(flag);
            }
        }
    }
}

impl Config {
    /// Reads `path` (a missing file is an error only when `required`), applies `TAGSTREAM_*`
    /// overrides from `vars`, and validates the result.
    ///
    /// # Errors
    /// Unreadable file, syntax error or unknown key (with line), bad override, invalid value.
    pub fn load(
        path: &Path,
        required: bool,
        vars: &[(String, String)],
    ) -> Result<Config, ConfigError> {
        Config::load_with(path, required, vars, &PathFlags::default())
    }

    /// [`Config::load`] with the command line's paths applied over the file and `vars`
    /// before the result is validated.
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn load_with(
        path: &Path,
        required: bool,
        vars: &[(String, String)],
        flags: &PathFlags,
    ) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let mut file_text = None;
        let mut table = if path.exists() || required {
            let text = read_file(path)?;
            // The file alone first, so that an unknown key or a wrong type is reported at its
            // own line (the merged table below has no lines).
            toml::from_str::<Config>(&text).map_err(|e| {
                kinds::misplaced(
                    ConfigError::toml(&shown, &text, &e),
                    &text,
                    FileKind::Engine,
                )
            })?;
            let table = toml::from_str::<toml::Table>(&text)
                .map_err(|e| ConfigError::toml(&shown, &text, &e))?;
            file_text = Some(text);
            table
        } else {
            toml::Table::new()
        };
        let defaults = toml::Table::try_from(Config::default())
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        apply_env_overrides(&mut table, &defaults, vars, |section| {
            defaults.contains_key(section)
        })?;
        let text = table.to_string();
        let mut config: Config = toml::from_str(&text).map_err(|e| ConfigError::At {
            path: shown.clone(),
            line: 1,
            message: e.message().to_string(),
        })?;
        flags.apply(&mut config);
        let placed = |var: String, place: &[Seg], message: String| {
            placed(&shown, file_text.as_deref(), vars, var, place, message)
        };
        config.validate().map_err(|invalid| {
            let var = |key: &str| format!("TAGSTREAM_{}", key.replace('.', "__").to_uppercase());
            // A conflict whose other side alone comes from a variable is that variable's.
            let key = match invalid.with {
                Some(with)
                    if override_of(vars, &var(invalid.key)).is_none()
                        && override_of(vars, &var(with)).is_some() =>
                {
                    with
                }
                _ => invalid.key,
            };
            let place: Vec<Seg> = key.split('.').map(Seg::Key).collect();
            placed(var(key), &place, invalid.message)
        })?;
        if let Some((name, message)) = config.kafka_option_error() {
            let place = [Seg::Key("kafka"), Seg::Key("options"), Seg::Key(&name)];
            return Err(placed(option_var(&name), &place, message));
        }
        Ok(config)
    }

    /// The compacted topic Kafka mode keeps its users' state in, named after the group.
    pub fn changelog_topic(&self) -> String {
        format!("{}-state-changelog", self.kafka.group_id)
    }

    /// The time budget of one handler call in milliseconds, 0 for none; `None` when invalid.
    pub fn time_budget_ms(&self) -> Option<u64> {
        match self.rules.time_budget.trim() {
            off if off.eq_ignore_ascii_case("off") => Some(0),
            // "0ms" would read as no budget at all: that is spelt "off".
            text => duration::parse_duration_ms(text)
                .and_then(|ms| u64::try_from(ms).ok())
                .filter(|ms| *ms > 0),
        }
    }

    /// `rules.execution`; `None` when invalid.
    pub fn execution(&self) -> Option<crate::rules::Execution> {
        crate::rules::Execution::from_name(&self.rules.execution.trim().to_ascii_lowercase())
    }

    pub fn idle_after_ms(&self) -> i64 {
        duration::parse_duration_ms(&self.clock.idle_after).unwrap_or(30_000)
    }

    /// `clock.max_future` in ms; `None` when it is `"off"`.
    pub fn max_future_ms(&self) -> Option<i64> {
        duration::parse_limit_ms(&self.clock.max_future).flatten()
    }
}

/// An error about `[kafka.options]` entry `name` (`None`: the options together) of the config
/// read from `path` (when it exists) with `vars`: named by its environment variable when one
/// sets it, else at its line in the file, as the errors of [`Config::load`] are.
pub fn at_kafka_option(
    path: &Path,
    vars: &[(String, String)],
    name: Option<&str>,
    message: String,
) -> ConfigError {
    let text = std::fs::read_to_string(path).ok();
    let shown = path.display().to_string();
    match name {
        Some(name) => {
            let place = [Seg::Key("kafka"), Seg::Key("options"), Seg::Key(name)];
            placed(
                &shown,
                text.as_deref(),
                vars,
                option_var(name),
                &place,
                message,
            )
        }
        None => match text
            .as_deref()
            .map(TomlLines::new)
            .and_then(|l| l.key(&[Seg::Key("kafka"), Seg::Key("options")]))
        {
            Some(line) => ConfigError::At {
                path: shown,
                line,
                message,
            },
            None => ConfigError::Invalid(message),
        },
    }
}

/// The environment variable that sets librdkafka option `name`: underscores for its dots.
fn option_var(name: &str) -> String {
    format!(
        "TAGSTREAM_KAFKA__OPTIONS__{}",
        name.replace('.', "_").to_uppercase()
    )
}

/// A value set by the environment is named as such, not blamed on the file; one from the file
/// (`shown`, holding `file_text`) is named at the line that sets it, when the file sets it.
fn placed(
    shown: &str,
    file_text: Option<&str>,
    vars: &[(String, String)],
    var: String,
    place: &[Seg],
    message: String,
) -> ConfigError {
    if let Some((name, _)) = override_of(vars, &var) {
        return ConfigError::Env {
            var: name.clone(),
            message,
        };
    }
    match file_text.map(TomlLines::new).and_then(|l| l.value(place)) {
        Some(line) => ConfigError::At {
            path: shown.to_string(),
            line,
            message,
        },
        None => ConfigError::Invalid(message),
    }
}

/// The override `var` in `vars`, as (name as written, value): the letter case of a name does
/// not matter to [`apply_env_overrides`].
pub fn override_of<'v>(vars: &'v [(String, String)], var: &str) -> Option<&'v (String, String)> {
    vars.iter().find(|(name, _)| name.eq_ignore_ascii_case(var))
}

/// The process environment's `TAGSTREAM_*` variables, sorted for deterministic error messages.
/// A variable whose name or value is not UTF-8 is left out (`std::env::vars` would panic on
/// it, whoever set it): another program's is none of tagstream's business, and one of
/// tagstream's own is refused before a command starts ([`env_not_utf8`]).
pub fn env_vars() -> Vec<(String, String)> {
    let mut vars: Vec<_> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| k.starts_with("TAGSTREAM_"))
        .collect();
    vars.sort();
    vars
}

/// The first `TAGSTREAM_*` variable whose name or value is not UTF-8: an override that can
/// be neither read nor left out without a word.
pub fn env_not_utf8() -> Option<ConfigError> {
    std::env::vars_os().find_map(|(name, value)| {
        if !name.as_encoded_bytes().starts_with(b"TAGSTREAM_") {
            return None;
        }
        let what = if name.to_str().is_none() {
            "its name"
        } else if value.to_str().is_none() {
            "its value"
        } else {
            return None;
        };
        Some(ConfigError::Env {
            var: name.to_string_lossy().into_owned(),
            message: format!("{what} is not valid UTF-8"),
        })
    })
}

/// A `[kafka.options]` value as an error shows it: quoted, or not at all for a secret
/// (passwords, keys, JAAS and OAuth settings), which errors go to logs and terminals with.
pub fn option_value_shown(name: &str, value: &str) -> String {
    if is_secret_option(name) {
        "(value not shown)".into()
    } else {
        format!("{value:?}")
    }
}

/// Whether librdkafka option `name` holds a secret, whose value no message shows.
pub fn is_secret_option(name: &str) -> bool {
    let secret = ["password", "secret", "jaas", ".pem", "oauthbearer.config"];
    secret.iter().any(|s| name.contains(s))
}

#[cfg(test)]
mod tests;
