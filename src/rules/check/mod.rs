//! `tagstream check`: everything about a rule set that can be known before it meets an event.
//!
//! [`check`] reads the catalogue, the parameters and every rule, and returns every finding of
//! the run together — not only the first — each with the file and line to fix:
//!
//! - syntax errors, and calls to functions or methods that neither the script defines nor the
//!   engine registers with that number of arguments (with the nearest name; [`calls`],
//!   [`members`]);
//! - functions named like handlers (`on_…`) that are not one, handlers with the wrong parameters;
//! - parameters a script reads that the parameter file lacks, keys of a read section that no
//!   rule reads, values of the wrong type ([`params`]);
//! - literal misuse of the API: undeclared tags and groups, unknown `tag()` options, durations
//!   and event types that do not parse ([`script`]).
//!
//! Warnings (legal, but likely wrong): a rule without a handler, an exclusive group written by
//! two rules, a parameter section no rule reads. The same function serves hot reload: a rule
//! set is swapped in only when its check has no error.

mod api;
mod calls;
mod handlers;
mod literals;
mod members;
mod params;
mod script;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{read_file, ConfigError};
use crate::tags::Catalogue;

use super::{Limits, Params, RulePack, RuleSource, RulesError};

pub use api::{distance, nearest, suggest, suggest_group, suggest_tag};

/// How bad a finding is: errors fail `check` (exit 2) and block a reload; warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding, with where to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The file, or `environment variable NAME` for an override.
    pub path: String,
    /// 1-based; `None` when the finding is about the whole file.
    pub line: Option<usize>,
    pub message: String,
}

impl Diagnostic {
    pub fn error(path: impl Into<String>, line: Option<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            path: path.into(),
            line,
            message: message.into(),
        }
    }

    pub fn warning(
        path: impl Into<String>,
        line: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(path, line, message)
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// A config error as a finding; `file` names the file for errors that carry none.
    pub fn from_config(err: &ConfigError, file: &str) -> Diagnostic {
        match err {
            ConfigError::At {
                path,
                line,
                message,
            } => Diagnostic::error(path, Some(*line), message),
            ConfigError::Io { path, source } => Diagnostic::error(path, None, source.to_string()),
            ConfigError::Env { var, message } => {
                Diagnostic::error(format!("environment variable {var}"), None, message)
            }
            ConfigError::Invalid(message) => Diagnostic::error(file, None, message),
        }
    }

    /// A rules error as a finding.
    pub fn from_rules(err: &RulesError, file: &str) -> Diagnostic {
        match err {
            RulesError::Config(e) => Diagnostic::from_config(e, file),
            RulesError::Compile {
                path,
                line,
                message,
            } => Diagnostic::error(path, Some(*line), message),
            RulesError::Empty(dir) => Diagnostic::error(dir, None, "no .rhai rules found"),
        }
    }
}

impl fmt::Display for Diagnostic {
    /// `file:line: message`, warnings marked as such.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if self.severity == Severity::Warning {
            f.write_str(": warning")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Where a rule set lives.
#[derive(Debug, Clone)]
pub struct Sources {
    pub rules_dir: PathBuf,
    pub catalogue: PathBuf,
    pub params: PathBuf,
}

impl Sources {
    /// The rules directory, catalogue and parameters `config` names.
    pub fn of(config: &crate::config::Config) -> Sources {
        Sources {
            rules_dir: config.rules.dir.clone(),
            catalogue: config.rules.catalogue.clone(),
            params: config.rules.params.clone(),
        }
    }
}

/// What a check found, and the rule pack when nothing stops it from loading.
pub struct Checked {
    /// Sorted by file and line, errors before warnings on the same line.
    pub diagnostics: Vec<Diagnostic>,
    /// The loaded pack, when there is no error.
    pub pack: Option<RulePack>,
}

impl Checked {
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }
}

/// Checks the rule set at `sources` with the environment overrides `vars`.
pub fn check(sources: &Sources, vars: &[(String, String)]) -> Checked {
    check_loading(sources, vars, true)
}

/// As [`check`]; without `load`, a set with no error is not loaded again to be sure it loads
/// (for a set that has just loaded), and [`Checked::pack`] is `None`.
fn check_loading(sources: &Sources, vars: &[(String, String)], load: bool) -> Checked {
    let mut out = Vec::new();
    let catalogue_shown = sources.catalogue.display().to_string();
    let catalogue = match read_file(&sources.catalogue)
        .map_err(|e| vec![e])
        .and_then(|text| Catalogue::parse_all(&text, &catalogue_shown))
    {
        Ok(c) => Some(c),
        Err(errors) => {
            out.extend(
                errors
                    .iter()
                    .map(|e| Diagnostic::from_config(e, &catalogue_shown)),
            );
            None
        }
    };
    let params_shown = sources.params.display().to_string();
    let params_text = if sources.params.exists() {
        match read_file(&sources.params) {
            Ok(text) => Some(text),
            Err(e) => {
                out.push(Diagnostic::from_config(&e, &params_shown));
                None
            }
        }
    } else {
        Some(String::new())
    };
    let params = params_text.as_deref().and_then(|text| {
        Params::parse(text, &params_shown, vars)
            .map_err(|e| out.push(Diagnostic::from_config(&e, &params_shown)))
            .ok()
    });
    let rules = match read_rules(&sources.rules_dir) {
        Ok(rules) => rules,
        Err(e) => {
            out.push(Diagnostic::from_rules(
                &e,
                &sources.rules_dir.display().to_string(),
            ));
            Vec::new()
        }
    };

    out.extend(nested_rules(&sources.rules_dir));
    let facts = script::check_rules(&rules, catalogue.as_ref(), params.as_ref(), &mut out);
    if let (Some(text), Some(params)) = (&params_text, &params) {
        params::check(
            text,
            &params_shown,
            params,
            &facts,
            vars,
            catalogue.as_ref().map(|c| (c, catalogue_shown.as_str())),
            &mut out,
        );
    }
    if let Some(catalogue) = &catalogue {
        literals::cross_rule_warnings(&facts, catalogue, &mut out);
    }

    let mut pack = None;
    if load && !out.iter().any(Diagnostic::is_error) {
        if let (Some(catalogue), Some(params)) = (catalogue, params) {
            // The loader's own validation is the last word: a rule set that passes here loads.
            match RulePack::from_parts(rules, catalogue, params, Limits::default()) {
                Ok(p) => pack = Some(p),
                Err(e) => out.push(Diagnostic::from_rules(
                    &e,
                    &sources.rules_dir.display().to_string(),
                )),
            }
        }
    }
    out.sort_by(|a, b| (&a.path, a.line, a.severity).cmp(&(&b.path, b.line, b.severity)));
    // The same finding reached twice (a parameter read both as a value and as an argument) is
    // said once; findings of one line keep the order they were found in.
    let mut seen = std::collections::HashSet::new();
    out.retain(|d| seen.insert(d.clone()));
    Checked {
        diagnostics: out,
        pack,
    }
}

/// What `tagstream check` reports about a set that loads: the errors that did not stop it from
/// loading (a call to a function no one defines, a tag literal the catalogue lacks, a parameter
/// no rule reads, a function named like a handler that is not one) and the warnings (a rule
/// with no handler, two rules writing one exclusive group), in check's order. The set is not
/// loaded again to be sure it loads: it has.
pub fn findings(sources: &Sources, vars: &[(String, String)]) -> Vec<Diagnostic> {
    check_loading(sources, vars, false).diagnostics
}

/// Logs at warning level what `tagstream check` reports for a set that goes live
/// ([`findings`]), so that a deployment which skipped `check` still says why its rules will
/// fail or never run; the set runs anyway, each failing call a rule error. Errors come first;
/// shows at most [`LOGGED_FINDINGS`] findings in all. Returns how many errors there are.
pub fn warn_findings(sources: &Sources, vars: &[(String, String)], version: &str) -> usize {
    log_findings(findings(sources, vars), version)
}

/// As [`warn_findings`], for findings already made.
pub fn log_findings(findings: Vec<Diagnostic>, version: &str) -> usize {
    let (errors, warnings): (Vec<Diagnostic>, Vec<Diagnostic>) =
        findings.into_iter().partition(Diagnostic::is_error);
    if !errors.is_empty() {
        tracing::warn!(
            version,
            errors = errors.len(),
            "the rules load but `tagstream check` reports errors; they run anyway, and each call that fails is a rule error"
        );
    }
    let all = errors.len() + warnings.len();
    for d in errors.iter().chain(&warnings).take(LOGGED_FINDINGS) {
        tracing::warn!(version, "rules check: {d}");
    }
    if all > LOGGED_FINDINGS {
        tracing::warn!(
            version,
            "rules check: {} more; `tagstream check` lists them all",
            all - LOGGED_FINDINGS
        );
    }
    errors.len()
}

/// See [`warn_findings`].
pub const LOGGED_FINDINGS: usize = 20;

/// The lines a command that goes on with a loaded set (`test`, `diff`) prints to stderr for
/// its [`findings`]: each as `{label}file:line: warning: message` (the command does not stop
/// for them), errors first, then, when check has errors, a line saying so, so that a result
/// that comes from a broken set is not read as one from a sound set.
pub fn finding_lines(label: &str, findings: &[Diagnostic]) -> Vec<String> {
    let errors = findings.iter().filter(|d| d.is_error()).count();
    let mut lines: Vec<String> = findings
        .iter()
        .filter(|d| d.is_error())
        .chain(findings.iter().filter(|d| !d.is_error()))
        .map(|d| {
            let as_warning = Diagnostic {
                severity: Severity::Warning,
                ..d.clone()
            };
            format!("{label}{as_warning}")
        })
        .collect();
    if errors > 0 {
        lines.push(format!(
            "{label}warning: `tagstream check` fails on these rules ({errors} error(s) above); \
             they load, and run as they are"
        ));
    }
    lines
}

/// A load error as `tagstream check` explains it, when it has a clearer account. Rhai refuses
/// a script that reads a parameter section the file lacks with only `Undefined module: name`;
/// check names the parameter, the file and the nearest section it has
/// (`` `activity::weight_chat`: params.toml has no [activity] section; did you mean
/// `activty`? ``), at the first place the section is read.
pub(crate) fn explain_load_error(
    err: RulesError,
    sources: &Sources,
    vars: &[(String, String)],
) -> RulesError {
    let RulesError::Compile { message, .. } = &err else {
        return err;
    };
    let Some(module) = message.strip_prefix("Undefined module: ") else {
        return err;
    };
    let read = format!("`{}::", module.trim());
    let missing = format!(" has no [{}] section", module.trim());
    let explained = findings(sources, vars)
        .into_iter()
        .find(|d| d.is_error() && d.message.starts_with(&read) && d.message.contains(&missing));
    match explained {
        Some(d) => RulesError::Compile {
            line: d.line.unwrap_or(1),
            path: d.path,
            message: d.message,
        },
        None => err,
    }
}

/// Whether `path` names a rule script: `*.rhai` (any case), not hidden. Editors and
/// synchronisers leave hidden files beside the ones being edited (`.#activity.rhai`,
/// `.activity.rhai.swp`), and a half-written copy must not load as a rule of its own.
pub fn is_rule_file(path: &Path) -> bool {
    let hidden = path
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'));
    !hidden
        && path
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("rhai"))
}

/// Every rule script of `dir` ([`is_rule_file`]), sorted by name. A UTF-8 byte-order mark
/// opening a script (some Windows editors write one) is dropped.
///
/// # Errors
/// An unreadable directory or file, or no rule at all.
pub fn read_rules(dir: &Path) -> Result<Vec<RuleSource>, RulesError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ConfigError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| is_rule_file(p))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(RulesError::Empty(dir.display().to_string()));
    }
    paths
        .into_iter()
        .map(|path| {
            // A folder named like a script (`old.rhai/`) would fail with a bare "Is a directory
            // (os error 21)", which says neither that the name is the trouble nor what to do.
            if path.is_dir() {
                return Err(ConfigError::Io {
                    path: path.display().to_string(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "a directory, not a rule script: every *.rhai of the rules directory is \
                         read as a rule; rename it or move it out of the rules directory",
                    ),
                }
                .into());
            }
            let mut text = read_file(&path)?;
            if text.starts_with('\u{feff}') {
                text.drain(..'\u{feff}'.len_utf8());
            }
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(RuleSource { name, path, text })
        })
        .collect()
}

/// A warning for each rule script in a subdirectory of the rules directory (its `tests`
/// excepted): rules are read from the directory itself, so one filed in a folder never runs.
fn nested_rules(dir: &Path) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    let subdirs = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_dir()
                && !p
                    .file_name()
                    .is_some_and(|n| n == "tests" || n.to_string_lossy().starts_with('.'))
        });
    for sub in subdirs {
        let scripts = std::fs::read_dir(&sub)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_rule_file(p) && p.is_file());
        found.extend(scripts);
    }
    found.sort();
    found
        .iter()
        .map(|path| {
            Diagnostic::warning(
                path.display().to_string(),
                None,
                format!(
                    "in a subdirectory, so not loaded: rules are the .rhai files directly in {}",
                    dir.display()
                ),
            )
        })
        .collect()
}

/// An empty catalogue and parameter set, to keep checking scripts when the real ones are broken.
fn fallback_parts() -> (Arc<Catalogue>, Arc<Params>) {
    let catalogue = Catalogue::parse("", "").expect("an empty catalogue parses");
    let params = Params::parse("", "", &[]).expect("empty parameters parse");
    (Arc::new(catalogue), Arc::new(params))
}

#[cfg(test)]
mod tests;
