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

pub use api::nearest;

/// How bad a finding is: errors fail `check` (exit 2) and block a reload; warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One finding, with where to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
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
        .and_then(|text| Catalogue::parse(&text, &catalogue_shown))
    {
        Ok(c) => Some(c),
        Err(e) => {
            out.push(Diagnostic::from_config(&e, &catalogue_shown));
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

    let facts = script::check_rules(&rules, catalogue.as_ref(), params.as_ref(), &mut out);
    if let (Some(text), Some(params)) = (&params_text, &params) {
        params::check(
            text,
            &params_shown,
            params,
            &facts,
            vars,
            catalogue.as_ref(),
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
    out.dedup();
    Checked {
        diagnostics: out,
        pack,
    }
}

/// Errors that would fail `tagstream check` but do not stop a set from loading (a call to a
/// function no one defines, a tag literal the catalogue lacks, a parameter no rule reads), logged
/// at warning level when a set goes live, so that a deployment which skipped `check` still says
/// why its rules will fail; the set runs anyway, each failing call a rule error. Shows at most
/// [`LOGGED_FINDINGS`] of them; returns how many there are.
pub fn warn_findings(sources: &Sources, vars: &[(String, String)], version: &str) -> usize {
    // The set is live: it loads, and compiling it again would only add to start-up.
    let checked = check_loading(sources, vars, false);
    let errors: Vec<&Diagnostic> = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .collect();
    if errors.is_empty() {
        return 0;
    }
    tracing::warn!(
        version,
        errors = errors.len(),
        "the rules load but `tagstream check` reports errors; they run anyway, and each call that fails is a rule error"
    );
    for d in errors.iter().take(LOGGED_FINDINGS) {
        tracing::warn!(version, "rules check: {d}");
    }
    if errors.len() > LOGGED_FINDINGS {
        tracing::warn!(
            version,
            "rules check: {} more; `tagstream check` lists them all",
            errors.len() - LOGGED_FINDINGS
        );
    }
    errors.len()
}

/// See [`warn_findings`].
const LOGGED_FINDINGS: usize = 20;

/// Every `*.rhai` of `dir`, sorted by name.
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
        .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(RulesError::Empty(dir.display().to_string()));
    }
    paths
        .into_iter()
        .map(|path| {
            let text = read_file(&path)?;
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok(RuleSource { name, path, text })
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
