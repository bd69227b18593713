//! Rule parameters (`config/params.toml`): one section per rule, every threshold of the rule
//! pack, overridable by `TAGSTREAM_<RULE>__<KEY>` like the engine config. Scripts read them as
//! `<section>::<key>`; durations written as `"7d"` arrive as milliseconds.
//!
//! The `[keywords."<tag>"]` tables are compiled into a [`KeywordSet`] once.

use std::collections::BTreeMap;
use std::path::Path;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::Regex;
use serde::Deserialize;
use toml::{Table, Value};

use crate::config::duration::parse_duration_ms;
use crate::config::spans::{Seg, TomlLines};
use crate::config::ENGINE_SECTIONS as RESERVED_SECTIONS;
use crate::config::{apply_env_overrides, kinds::FileKind, read_file, ConfigError};
use crate::tags::Catalogue;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeywordFile {
    #[serde(default)]
    words: Vec<String>,
    #[serde(default)]
    patterns: Vec<String>,
    #[serde(default = "one")]
    hits: i64,
    within: Option<String>,
    ttl: Option<String>,
}

fn one() -> i64 {
    1
}

/// The keyword tables, read from the file's text (no override applies to them) so that a
/// value of the wrong type is reported at its own line and by its key.
#[derive(Deserialize)]
struct KeywordTables {
    #[serde(default)]
    keywords: BTreeMap<String, KeywordFile>,
}

/// One keyword tag: what matches it and how many hits within what window it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct KeywordSpec {
    pub tag: String,
    pub hits: i64,
    /// Window for `hits`, ms (0 when `hits` is 1).
    pub within_ms: i64,
    pub ttl_ms: Option<i64>,
    pub words: Vec<String>,
    pub patterns: Vec<String>,
}

/// All keyword tags compiled into one literal automaton plus one regex per pattern.
#[derive(Debug, Clone)]
pub struct KeywordSet {
    pub specs: Vec<KeywordSpec>,
    literals: Option<AhoCorasick>,
    /// Spec index of each literal, in automaton pattern order.
    literal_spec: Vec<usize>,
    regexes: Vec<(usize, Regex)>,
}

impl KeywordSet {
    /// # Errors
    /// A pattern that does not compile: (spec index, pattern index, message).
    fn build(specs: Vec<KeywordSpec>) -> Result<KeywordSet, (usize, usize, String)> {
        let mut words = Vec::new();
        let mut literal_spec = Vec::new();
        let mut regexes = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            for word in &spec.words {
                words.push(word.as_str());
                literal_spec.push(i);
            }
            for (p, pattern) in spec.patterns.iter().enumerate() {
                let re = Regex::new(pattern).map_err(|e| {
                    (
                        i,
                        p,
                        format!("keywords {:?}: pattern {pattern:?}: {e}", spec.tag),
                    )
                })?;
                regexes.push((i, re));
            }
        }
        let literals = if words.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .build(&words)
                    .map_err(|e| (0, 0, format!("keywords: {e}")))?,
            )
        };
        Ok(KeywordSet {
            specs,
            literals,
            literal_spec,
            regexes,
        })
    }

    /// Indices of the specs `text` matches (each at most once), with the first matching word.
    pub fn matches<'t>(&self, text: &'t str) -> Vec<(usize, &'t str)> {
        let mut found: Vec<(usize, &'t str)> = Vec::new();
        if let Some(ac) = &self.literals {
            for m in ac.find_overlapping_iter(text) {
                let spec = self.literal_spec[m.pattern().as_usize()];
                if !found.iter().any(|(s, _)| *s == spec) {
                    found.push((spec, &text[m.range()]));
                }
            }
        }
        for (spec, re) in &self.regexes {
            if !found.iter().any(|(s, _)| s == spec) {
                if let Some(m) = re.find(text) {
                    found.push((*spec, m.as_str()));
                }
            }
        }
        found.sort_by_key(|(s, _)| *s);
        found
    }
}

/// Scalar and array parameter values per section.
pub type Sections = BTreeMap<String, BTreeMap<String, Value>>;

/// Validated rule parameters.
#[derive(Debug, Clone)]
pub struct Params {
    /// Scalar and array values per section, durations converted to ms.
    pub sections: Sections,
    pub keywords: KeywordSet,
}

impl Params {
    /// Reads the parameters file (absent = no parameters) and applies environment overrides.
    ///
    /// # Errors
    /// Syntax errors, reserved section names, malformed keyword tables, bad overrides.
    pub fn load(path: &Path, vars: &[(String, String)]) -> Result<Params, ConfigError> {
        let shown = path.display().to_string();
        let text = if path.exists() {
            read_file(path)?
        } else {
            String::new()
        };
        Params::parse(&text, &shown, vars)
    }

    pub fn parse(
        text: &str,
        shown: &str,
        vars: &[(String, String)],
    ) -> Result<Params, ConfigError> {
        // A catalogue or an engine config given for the parameters fails at its first table,
        // in words that read like a typo there: the error says which file it looks like.
        Params::parse_text(text, shown, vars)
            .map_err(|e| crate::config::kinds::misplaced(e, text, FileKind::Params))
    }

    fn parse_text(
        text: &str,
        shown: &str,
        vars: &[(String, String)],
    ) -> Result<Params, ConfigError> {
        let mut table: Table =
            toml::from_str(text).map_err(|e| ConfigError::toml(shown, text, &e))?;
        let mut keyword_files = toml::from_str::<KeywordTables>(text)
            .map_err(|e| ConfigError::toml(shown, text, &e))?
            .keywords;
        let lines = TomlLines::new(text);
        let at = |place: &[Seg], message: String| ConfigError::At {
            path: shown.to_string(),
            line: lines.best(place),
            message,
        };
        // Keyword tables are lists of patterns, not values an override could set: say so
        // rather than ignore the variable.
        if let Some((var, _)) = vars
            .iter()
            .find(|(k, _)| k.starts_with("TAGSTREAM_KEYWORDS__"))
        {
            return Err(ConfigError::Env {
                var: var.clone(),
                message: format!(
                    "keyword tables cannot be overridden from the environment; edit their \
                     [keywords.\"<tag>\"] tables in {shown}"
                ),
            });
        }
        let snapshot = table.clone();
        apply_env_overrides(&mut table, &snapshot, vars, |s| {
            !RESERVED_SECTIONS.contains(&s) && s != "keywords"
        })?;
        let mut sections = BTreeMap::new();
        let mut keywords = Vec::new();
        for (name, value) in table {
            if RESERVED_SECTIONS.contains(&name.as_str()) {
                return Err(at(
                    &[Seg::Key(&name)],
                    format!("[{name}] is an engine config section, not a rule's"),
                ));
            }
            let Value::Table(entries) = value else {
                return Err(at(
                    &[Seg::Key(&name)],
                    format!("`{name}` must be a [section]"),
                ));
            };
            if name == "keywords" {
                for (tag, file) in std::mem::take(&mut keyword_files) {
                    let spec = keyword_spec(&tag, file).map_err(|(field, m)| {
                        let mut place = vec![Seg::Key("keywords"), Seg::Key(&tag)];
                        place.extend(field.map(Seg::Key));
                        at(&place, m)
                    })?;
                    keywords.push(spec);
                }
                continue;
            }
            let mut values = BTreeMap::new();
            for (key, value) in entries {
                // Where the file has a duration, an override of plain digits is milliseconds,
                // as an integer in the file would be (an environment variable is always text).
                let file_has_duration = || {
                    snapshot
                        .get(&name)
                        .and_then(|t| t.get(&key))
                        .and_then(Value::as_str)
                        .is_some_and(|d| parse_duration_ms(d).is_some())
                };
                let value = match value {
                    Value::String(s) => match parse_duration_ms(&s) {
                        Some(ms) => Value::Integer(ms),
                        None => match s.parse::<i64>() {
                            Ok(ms) if ms >= 0 && file_has_duration() => Value::Integer(ms),
                            _ => Value::String(s),
                        },
                    },
                    Value::Table(_) | Value::Datetime(_) => {
                        return Err(at(&[Seg::Key(&name), Seg::Key(&key)], format!("[{name}] {key}: only numbers, strings, booleans and arrays are allowed")));
                    }
                    other => other,
                };
                values.insert(key, value);
            }
            sections.insert(name, values);
        }
        let tags: Vec<String> = keywords.iter().map(|k| k.tag.clone()).collect();
        let keywords = KeywordSet::build(keywords).map_err(|(spec, pattern, m)| {
            let place = [
                Seg::Key("keywords"),
                Seg::Key(&tags[spec]),
                Seg::Key("patterns"),
                Seg::Index(pattern),
            ];
            at(&place, m)
        })?;
        Ok(Params { sections, keywords })
    }

    /// The keyword tables whose tag the catalogue (read from `catalogue_path`) does not
    /// declare, each as the line of its table in `text` (the parameters as read) and the
    /// message: the loader and `tagstream check` report them alike.
    pub fn undeclared_keyword_tags(
        &self,
        text: &str,
        catalogue: &Catalogue,
        catalogue_path: &str,
    ) -> Vec<(usize, String)> {
        let lines = TomlLines::new(text);
        self.keywords
            .specs
            .iter()
            .filter(|spec| catalogue.id(&spec.tag).is_none())
            .map(|spec| {
                (
                    lines.best(&[Seg::Key("keywords"), Seg::Key(&spec.tag)]),
                    format!(
                        "[keywords.{:?}]: tag {:?} is not declared in the tag catalogue ({catalogue_path})",
                        spec.tag, spec.tag
                    ),
                )
            })
            .collect()
    }
}

/// What went wrong in a keyword table, and the field it is about (`None`: the table).
type SpecError = (Option<&'static str>, String);

fn keyword_spec(tag: &str, file: KeywordFile) -> Result<KeywordSpec, SpecError> {
    let duration = |field: &'static str, text: &Option<String>| -> Result<Option<i64>, SpecError> {
        text.as_ref()
            .map(|t| {
                parse_duration_ms(t).filter(|ms| *ms > 0).ok_or_else(|| {
                    (
                        Some(field),
                        format!("keywords {tag:?}: {field} {t:?} is not a duration"),
                    )
                })
            })
            .transpose()
    };
    let within_ms = duration("within", &file.within)?;
    if file.hits < 1 {
        return Err((
            Some("hits"),
            format!("keywords {tag:?}: hits must be at least 1"),
        ));
    }
    if file.hits > 1 && within_ms.is_none() {
        return Err((
            Some("hits"),
            format!("keywords {tag:?}: hits > 1 needs a `within` window"),
        ));
    }
    if file.words.is_empty() && file.patterns.is_empty() {
        return Err((
            None,
            format!("keywords {tag:?}: needs `words` or `patterns`"),
        ));
    }
    if file.words.iter().any(String::is_empty) {
        return Err((Some("words"), format!("keywords {tag:?}: empty word")));
    }
    Ok(KeywordSpec {
        tag: tag.to_string(),
        hits: file.hits,
        within_ms: within_ms.unwrap_or(0),
        ttl_ms: duration("ttl", &file.ttl)?,
        words: file.words,
        patterns: file.patterns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
[activity]
half_life = "7d"
high = 10.0
[keywords."intent/price"]
words = ["价格", "price"]
ttl = "30d"
[keywords."intent/purchase"]
words = ["购买"]
patterns = ["怎么.{0,2}买"]
hits = 2
within = "7d"
"#;

    #[test]
    fn converts_durations_and_builds_keywords() {
        let p = Params::parse(TEXT, "params.toml", &[]).unwrap();
        assert_eq!(
            p.sections["activity"]["half_life"],
            Value::Integer(7 * 86_400_000)
        );
        assert_eq!(p.keywords.specs.len(), 2);
        let m = p.keywords.matches("这个PRICE是多少，怎么才能买");
        assert_eq!(m.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [0, 1]);
        assert_eq!(m[0].1, "PRICE");
        assert!(p.keywords.matches("你好").is_empty());
    }

    #[test]
    fn env_overrides_rule_parameters() {
        let vars = vec![("TAGSTREAM_ACTIVITY__HIGH".to_string(), "12.5".to_string())];
        let p = Params::parse(TEXT, "params.toml", &vars).unwrap();
        assert_eq!(p.sections["activity"]["high"], Value::Float(12.5));
        // Digits for a duration are milliseconds, as an integer in the file is.
        let vars = vec![(
            "TAGSTREAM_ACTIVITY__HALF_LIFE".to_string(),
            "604800000".to_string(),
        )];
        let p = Params::parse(TEXT, "params.toml", &vars).unwrap();
        assert_eq!(
            p.sections["activity"]["half_life"],
            Value::Integer(604_800_000)
        );
        let vars = vec![("TAGSTREAM_ACTIVITY__NOPE".to_string(), "1".to_string())];
        assert!(Params::parse(TEXT, "params.toml", &vars).is_err());
        // One underscore between section and key; a section neither file has.
        let err = |name: &str| {
            let vars = vec![(name.to_string(), "1".to_string())];
            Params::parse(TEXT, "params.toml", &vars)
                .unwrap_err()
                .to_string()
        };
        assert!(
            err("TAGSTREAM_ACTIVITY_HIGH").ends_with("did you mean TAGSTREAM_ACTIVITY__HIGH?"),
            "{}",
            err("TAGSTREAM_ACTIVITY_HIGH")
        );
        assert_eq!(
            err("TAGSTREAM_ACTIVTY__HIGH"),
            "environment variable TAGSTREAM_ACTIVTY__HIGH: no section [activty] in the engine \
             config or the rule parameters to override; did you mean TAGSTREAM_ACTIVITY__HIGH?"
        );
        assert!(err("TAGSTREAM_KEYWORDS__X").contains("keyword tables cannot be overridden"));
        assert!(err("TAGSTREAM_CLOK__MAX_FUTURE")
            .ends_with("did you mean TAGSTREAM_CLOCK__MAX_FUTURE?"));
    }

    #[test]
    fn rejects_bad_keyword_tables_with_line() {
        let text = "[keywords.\"a/b\"]\nwords = [\"x\"]\nhits = 2\n";
        let err = Params::parse(text, "p.toml", &[]).unwrap_err().to_string();
        assert!(
            err.starts_with("p.toml:3:") && err.contains("within"),
            "{err}"
        );
        let text = "# keywords below\n[keywords.\"a/b\"]\npatterns = [\n  \"ok\",\n  \"(\",\n]\n";
        let err = Params::parse(text, "p.toml", &[]).unwrap_err().to_string();
        assert!(err.starts_with("p.toml:5:"), "{err}");
        assert!(Params::parse("[kafka]\nx = 1\n", "p.toml", &[]).is_err());
    }

    /// A keyword table's value of the wrong type is named by its key, at its own line, in
    /// words rather than serde's (`expected i64`).
    #[test]
    fn a_keyword_value_of_the_wrong_type_is_named_at_its_line() {
        for (text, message) in [
            (
                "[keywords.\"a/b\"]\nwords = [\"x\"]\nhits = \"two\"\nwithin = \"7d\"\n",
                "p.toml:3: keywords.\"a/b\".hits must be a whole number, not \"two\"",
            ),
            (
                "[keywords.\"a/b\"]\nwords = [\"x\"]\nhits = 2\nwithin = 7\n",
                "p.toml:4: keywords.\"a/b\".within must be text in quotes, not 7",
            ),
            (
                "[keywords.\"a/b\"]\nwords = [\n  \"x\",\n  5,\n]\n",
                "p.toml:4: keywords.\"a/b\".words must be text in quotes, not 5",
            ),
        ] {
            let err = Params::parse(text, "p.toml", &[]).unwrap_err().to_string();
            assert_eq!(err, message);
        }
    }
}
