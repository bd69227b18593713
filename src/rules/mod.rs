//! Rules: operator-written Rhai scripts, one per file in the rules directory.
//!
//! A [`RulePack`] is the plain, thread-safe value of a rule set (script sources, catalogue,
//! parameters); each worker compiles it into a [`RuleSet`] for its own Rhai engine once, and a
//! new pack can replace the old between two events. Scripts run sandboxed: no I/O, no modules,
//! no `eval`, no wall clock, and limits on operations, call depth and data sizes, so a hostile
//! or broken rule becomes a rule error instead of a hang.
//!
//! Handlers run in compiled form where a rule allows it ([`compiled`]); Rhai's interpreter
//! runs the rest, and takes over any call the compiled form cannot finish exactly as it would.

mod api;
mod budget;
pub mod check;
mod compiled;
mod ctx;
mod handler;
mod inline;
mod locate;
mod params;
mod set;
mod syntax;
mod terms;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use regex::Regex;

pub use ctx::{Ctx, MAX_VARS_PER_USER, MAX_VAR_STRING_BYTES, MIN_WAKE_MS};
pub use params::{KeywordSet, KeywordSpec, Params};
pub use set::{Execution, Handler, RuleSet};

use crate::config::ConfigError;
use crate::tags::Catalogue;

/// Limits every script runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Operations per handler call (an infinite loop stops here).
    pub operations: u64,
    pub call_depth: usize,
    pub string_bytes: usize,
    pub array_len: usize,
    pub map_len: usize,
    /// Wall time one handler call may take, in milliseconds; 0 is no budget. The operation
    /// limit does not bound time: one operation can copy a large value.
    pub time_budget_ms: u64,
}

impl Limits {
    /// The time budget of one handler call, if there is one.
    pub fn time_budget(&self) -> Option<std::time::Duration> {
        (self.time_budget_ms > 0).then(|| std::time::Duration::from_millis(self.time_budget_ms))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            operations: 200_000,
            call_depth: 32,
            string_bytes: 64 * 1024,
            array_len: 10_000,
            map_len: 1_000,
            time_budget_ms: 50,
        }
    }
}

/// A rule's script source.
#[derive(Debug, Clone)]
pub struct RuleSource {
    /// The file stem: the rule's name in outputs, dead letters and metrics.
    pub name: String,
    pub path: PathBuf,
    pub text: String,
}

/// A complete, validated rule set as data: cheap to clone, safe to send between threads.
#[derive(Debug, Clone)]
pub struct RulePack {
    pub rules: Arc<Vec<RuleSource>>,
    pub catalogue: Arc<Catalogue>,
    pub params: Arc<Params>,
    pub limits: Limits,
    /// How handlers run (`rules.execution`): compiled where a rule allows it, or every rule by
    /// Rhai's interpreter.
    pub execution: Execution,
    /// Names this exact set (scripts, catalogue, parameters): logged when it starts or is
    /// reloaded, and written into every output record as `rules_version`.
    pub version: Arc<str>,
}

/// A short hex digest of the parts that make a rule set.
fn version_of<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> Arc<str> {
    let mut h = crate::hash::FNV_OFFSET;
    for part in parts {
        h = crate::hash::fnv1a_extend(h, &(part.len() as u64).to_le_bytes());
        h = crate::hash::fnv1a_extend(h, part);
    }
    format!("{:012x}", h >> 16).into()
}

/// Errors loading or compiling rules; each names the file and line to fix.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{path}:{line}: {message}")]
    Compile {
        path: String,
        line: usize,
        message: String,
    },
    #[error("{0}: no .rhai rules found")]
    Empty(String),
}

/// Errors from one rule's run: become a dead letter naming the rule.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct RuleRunError {
    pub kind: RuleErrorKind,
    pub message: String,
}

/// What kind of failure a rule error is, for metrics (a fixed set of label values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleErrorKind {
    /// The script threw, or an API call refused its arguments.
    Throw,
    /// A sandbox limit: operations, data size, call depth.
    Limit,
    /// Anything else the engine reports: a type mismatch, a missing function, arithmetic.
    Runtime,
}

impl RuleErrorKind {
    pub const ALL: [RuleErrorKind; 3] = [
        RuleErrorKind::Throw,
        RuleErrorKind::Limit,
        RuleErrorKind::Runtime,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleErrorKind::Throw => "throw",
            RuleErrorKind::Limit => "limit",
            RuleErrorKind::Runtime => "runtime",
        }
    }

    /// The kind of an error Rhai reports.
    pub fn of(error: &rhai::EvalAltResult) -> RuleErrorKind {
        use rhai::EvalAltResult as E;
        match error {
            E::ErrorRuntime(..) => RuleErrorKind::Throw,
            E::ErrorTooManyOperations(..)
            | E::ErrorDataTooLarge(..)
            | E::ErrorStackOverflow(..)
            | E::ErrorTooManyVariables(..)
            | E::ErrorTooManyModules(..) => RuleErrorKind::Limit,
            E::ErrorInFunctionCall(_, _, inner, _) => RuleErrorKind::of(inner),
            _ => RuleErrorKind::Runtime,
        }
    }
}

impl RulePack {
    /// Reads every `*.rhai` in `dir` (sorted by name: the order rules run in), the catalogue and
    /// the parameters, then validates what can be checked without running anything.
    ///
    /// # Errors
    /// Unreadable files, a bad catalogue or parameters, compile errors, undeclared tags.
    pub fn load(
        dir: &Path,
        catalogue: &Path,
        params: &Path,
        vars: &[(String, String)],
    ) -> Result<RulePack, RulesError> {
        let catalogue_path = catalogue;
        let catalogue_text = crate::config::read_file(catalogue)?;
        let catalogue = Catalogue::parse(&catalogue_text, &catalogue.display().to_string())?;
        let params_path = params;
        let params_shown = params.display().to_string();
        let params_text = if params.exists() {
            crate::config::read_file(params)?
        } else {
            String::new()
        };
        let params = Params::parse(&params_text, &params_shown, vars)?;
        // A keyword table of a tag the catalogue lacks is named at its line, as check names it.
        let shown = catalogue_path.display().to_string();
        if let Some((line, message)) = params
            .undeclared_keyword_tags(&params_text, &catalogue, &shown)
            .into_iter()
            .next()
        {
            return Err(ConfigError::At {
                path: params_shown,
                line,
                message,
            }
            .into());
        }
        let rules = check::read_rules(dir)?;
        let sources = check::Sources {
            rules_dir: dir.to_path_buf(),
            catalogue: catalogue_path.to_path_buf(),
            params: params_path.to_path_buf(),
        };
        let mut pack = RulePack::from_parts(rules, catalogue, params, Limits::default()).map_err(
            |e| match e {
                RulesError::Empty(_) => RulesError::Empty(dir.display().to_string()),
                // Rhai's account of a script reading a section the parameters lack is a bare
                // `Undefined module`; check's names the parameter and the nearest section.
                other => check::explain_load_error(other, &sources, vars),
            },
        )?;
        // The files as read, and the overrides that reach the parameters.
        let engine = toml::Table::try_from(crate::config::Config::default()).unwrap_or_default();
        // A variable's name in any letter case is one override (`TAGSTREAM_activity__high`
        // is `TAGSTREAM_ACTIVITY__HIGH`): one version for one set of values.
        let mut named: Vec<(String, &String)> = vars
            .iter()
            .filter(|(k, _)| {
                k.strip_prefix("TAGSTREAM_")
                    .and_then(|rest| rest.split_once("__"))
                    .is_some_and(|(section, _)| !engine.contains_key(&section.to_lowercase()))
            })
            .map(|(k, v)| (k.to_ascii_uppercase(), v))
            .collect();
        named.sort();
        let overrides: Vec<u8> = named
            .iter()
            .flat_map(|(k, v)| {
                [
                    k.as_bytes(),
                    b"=".as_slice(),
                    v.as_bytes(),
                    b"\n".as_slice(),
                ]
                .concat()
            })
            .collect();
        let rule_parts = pack
            .rules
            .iter()
            .flat_map(|r| [r.name.as_bytes(), r.text.as_bytes()]);
        pack.version = version_of(rule_parts.chain([
            catalogue_text.as_bytes(),
            params_text.as_bytes(),
            &overrides[..],
        ]));
        Ok(pack)
    }

    /// A hash of what saved state depends on: the rule scripts (names and text, in order) and
    /// the catalogue's tags (in id order). Thresholds in the parameters are not part of it:
    /// state stays valid when they change.
    pub fn fingerprint(&self) -> u64 {
        use crate::hash::{fnv1a_extend, FNV_OFFSET};
        let mut h = FNV_OFFSET;
        let mut field = |bytes: &[u8]| {
            h = fnv1a_extend(h, &(bytes.len() as u64).to_le_bytes());
            h = fnv1a_extend(h, bytes);
        };
        for rule in self.rules.iter() {
            field(rule.name.as_bytes());
            field(rule.text.as_bytes());
        }
        for id in 0..self.catalogue.len() {
            field(self.catalogue.name(id as crate::tags::TagId).as_bytes());
        }
        h
    }

    /// Builds a pack from parts already in memory (tests, embedded packs, hot reload).
    ///
    /// # Errors
    /// As [`RulePack::load`].
    pub fn from_parts(
        rules: Vec<RuleSource>,
        catalogue: Catalogue,
        params: Params,
        limits: Limits,
    ) -> Result<RulePack, RulesError> {
        if rules.is_empty() {
            return Err(RulesError::Empty(String::new()));
        }
        if rules.len() > usize::from(u16::MAX) {
            return Err(RulesError::Empty("too many rules".into()));
        }
        for spec in &params.keywords.specs {
            if catalogue.id(&spec.tag).is_none() {
                return Err(ConfigError::Invalid(format!(
                    "keywords: tag {:?} is not declared in the tag catalogue",
                    spec.tag
                ))
                .into());
            }
        }
        for rule in &rules {
            check_tag_literals(rule, &catalogue)?;
        }
        let version = version_of(
            rules
                .iter()
                .flat_map(|r| [r.name.as_bytes(), r.text.as_bytes()]),
        );
        let pack = RulePack {
            rules: Arc::new(rules),
            catalogue: Arc::new(catalogue),
            params: Arc::new(params),
            limits,
            execution: Execution::Compiled,
            version,
        };
        // Compiling once here reports syntax errors before any worker starts.
        RuleSet::compile(&pack)?;
        Ok(pack)
    }
}

/// Finds string literals passed to the tag functions and checks them against the catalogue, so
/// `tagstream check` reports an undeclared tag with its line before it ever runs.
fn check_tag_literals(rule: &RuleSource, catalogue: &Catalogue) -> Result<(), RulesError> {
    // Only a literal that is the whole first argument: `tag("vip/" + x)` is checked at run time.
    let calls = Regex::new(r#"\b(tag|untag|has|tag_in|untag_group)\s*\(\s*"([^"\\]*)"\s*[,)]"#)
        .expect("static regex compiles");
    for (i, line) in rule.text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        for cap in calls.captures_iter(code) {
            let (func, name) = (&cap[1], &cap[2]);
            let known = match func {
                "tag_in" | "untag_group" => catalogue.group_by_name(name).is_some(),
                _ => catalogue.id(name).is_some(),
            };
            if !known {
                // The near name `check` would suggest, so that `run`, `test`, `diff` and a
                // reload say what to write instead, not only what is wrong.
                let (what, hint) = if func == "tag_in" || func == "untag_group" {
                    ("group", check::suggest_group(name, catalogue))
                } else {
                    ("tag", check::suggest_tag(name, catalogue))
                };
                return Err(RulesError::Compile {
                    path: rule.path.display().to_string(),
                    line: i + 1,
                    message: format!("{what} {name:?} is not declared in the tag catalogue{hint}"),
                });
            }
        }
    }
    Ok(())
}
