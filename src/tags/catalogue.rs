//! The tag catalogue (`config/tags.toml`): every tag a rule may emit, its group, the group's
//! exclusivity and default TTL, and per-user limits.
//!
//! ```toml
//! max_tags_per_user = 32
//! score_band = 0.5
//! [groups.lifecycle]
//! exclusive = true
//! tags = ["new", "growing", "mature"]
//! [groups.intent]
//! ttl = "30d"
//! tags = ["price", "purchase/urgent"]
//! [groups.vip]          # no `tags`: the one-segment tag `vip`
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Deserialize;

use crate::config::spans::{Seg, TomlLines};
use crate::config::{duration::parse_duration_ms, kinds::FileKind, ConfigError};

/// Dense tag id, an index into the catalogue.
pub type TagId = u16;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    #[serde(default = "default_max_tags")]
    max_tags_per_user: usize,
    #[serde(default = "default_score_band")]
    score_band: f64,
    #[serde(default)]
    groups: BTreeMap<String, GroupFile>,
}

fn default_max_tags() -> usize {
    32
}

fn default_score_band() -> f64 {
    0.5
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupFile {
    #[serde(default)]
    exclusive: bool,
    ttl: Option<String>,
    tags: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct TagInfo {
    pub name: Arc<str>,
    pub group: usize,
    /// Default TTL in ms when the rule gives none.
    pub ttl_ms: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub name: String,
    pub exclusive: bool,
    pub members: Vec<TagId>,
}

/// The validated catalogue.
#[derive(Debug, Clone)]
pub struct Catalogue {
    tags: Vec<TagInfo>,
    /// Looked up on every tag a rule sets: aHash rather than SipHash.
    by_name: HashMap<Arc<str>, TagId, ahash::RandomState>,
    groups: Vec<Group>,
    pub max_tags_per_user: usize,
    /// Width of a score band: re-adding a present tag emits only when its score changes band.
    pub score_band: f64,
}

impl Catalogue {
    /// Parses and validates catalogue text; `path` names the file in errors.
    ///
    /// # Errors
    /// Syntax errors, unknown keys, malformed tag names, bad TTLs and duplicates, each with a
    /// line: the first of them ([`Catalogue::parse_all`] gives every one).
    pub fn parse(text: &str, path: &str) -> Result<Catalogue, ConfigError> {
        Catalogue::parse_all(text, path).map_err(|mut errors| errors.swap_remove(0))
    }

    /// As [`Catalogue::parse`], with every problem found rather than the first. A syntax error
    /// or a value of the wrong type stops the reading, so it comes alone; bad names, TTLs and
    /// duplicates are all reported, in file order. Never `Err` with an empty list.
    ///
    /// # Errors
    /// The problems found, each with a line.
    pub fn parse_all(text: &str, path: &str) -> Result<Catalogue, Vec<ConfigError>> {
        let file: CatalogueFile = toml::from_str(text).map_err(|e| {
            let err = ConfigError::toml(path, text, &e);
            vec![crate::config::kinds::misplaced(
                err,
                text,
                FileKind::Catalogue,
            )]
        })?;
        let lines = TomlLines::new(text);
        let mut errors: Vec<(usize, ConfigError)> = Vec::new();
        let mut at = |place: &[Seg], message: String| {
            let line = lines.best(place);
            errors.push((
                line,
                ConfigError::At {
                    path: path.to_string(),
                    line,
                    message,
                },
            ));
        };
        if !(file.score_band > 0.0 && file.score_band.is_finite()) {
            at(
                &[Seg::Key("score_band")],
                "score_band must be a positive number".into(),
            );
        }
        if file.max_tags_per_user == 0 {
            at(
                &[Seg::Key("max_tags_per_user")],
                "max_tags_per_user must be at least 1".into(),
            );
        }
        let mut catalogue = Catalogue {
            tags: Vec::new(),
            by_name: HashMap::default(),
            groups: Vec::new(),
            max_tags_per_user: file.max_tags_per_user,
            score_band: file.score_band,
        };
        for (group_name, spec) in &file.groups {
            if !valid_segment(group_name) {
                at(&[Seg::Key("groups"), Seg::Key(group_name)], format!("group name {group_name:?} is not a valid tag segment (letters, digits, '-', '_')"));
                continue;
            }
            let ttl_ms = match &spec.ttl {
                None => None,
                Some(ttl) => {
                    let ms = parse_duration_ms(ttl).filter(|ms| *ms > 0);
                    if ms.is_none() {
                        at(
                            &[Seg::Key("groups"), Seg::Key(group_name), Seg::Key("ttl")],
                            format!(
                                "group {group_name}: ttl {ttl:?} is not a duration like \"30d\""
                            ),
                        );
                    }
                    ms
                }
            };
            let group = catalogue.groups.len();
            catalogue.groups.push(Group {
                name: group_name.clone(),
                exclusive: spec.exclusive,
                members: Vec::new(),
            });
            let names: Vec<String> = match &spec.tags {
                None => vec![group_name.clone()],
                // Neither a group of tags nor the one-segment tag: a rule could emit nothing
                // of it, and `segment` would call it undeclared.
                Some(tags) if tags.is_empty() => {
                    at(
                        &[Seg::Key("groups"), Seg::Key(group_name), Seg::Key("tags")],
                        format!(
                            "group {group_name}: `tags = []` declares no tag; list its tags, or \
                             remove `tags` for the one-segment tag `{group_name}`"
                        ),
                    );
                    Vec::new()
                }
                Some(tags) => tags.iter().map(|t| format!("{group_name}/{t}")).collect(),
            };
            for (i, name) in names.into_iter().enumerate() {
                let mut needle = vec![Seg::Key("groups"), Seg::Key(group_name)];
                if spec.tags.is_some() {
                    needle.extend([Seg::Key("tags"), Seg::Index(i)]);
                }
                if !valid_tag_name(&name) {
                    at(
                        &needle,
                        format!(
                            "tag {name:?} must be 1 to 3 segments of letters, digits, '-' or '_'"
                        ),
                    );
                    continue;
                }
                let Ok(id) = TagId::try_from(catalogue.tags.len()) else {
                    at(&needle, "more than 65535 tags".into());
                    break;
                };
                let name: Arc<str> = name.into();
                if catalogue.by_name.contains_key(&name) {
                    at(&needle, format!("tag {name:?} is declared twice"));
                    continue;
                }
                catalogue.by_name.insert(name.clone(), id);
                catalogue.tags.push(TagInfo {
                    name,
                    group,
                    ttl_ms,
                });
                catalogue.groups[group].members.push(id);
            }
        }
        if errors.is_empty() {
            return Ok(catalogue);
        }
        // Groups come in name order (a `BTreeMap`); the file's order is the one to read them in.
        errors.sort_by_key(|(line, _)| *line);
        Err(errors.into_iter().map(|(_, e)| e).collect())
    }

    pub fn id(&self, name: &str) -> Option<TagId> {
        self.by_name.get(name).copied()
    }

    pub fn info(&self, id: TagId) -> &TagInfo {
        &self.tags[id as usize]
    }

    pub fn name(&self, id: TagId) -> &Arc<str> {
        &self.tags[id as usize].name
    }

    /// Every tag's name, in id order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tags.iter().map(|t| &*t.name)
    }

    pub fn group(&self, index: usize) -> &Group {
        &self.groups[index]
    }

    /// Every group's name, in the order the groups were declared.
    pub fn group_names(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().map(|g| g.name.as_str())
    }

    pub fn group_by_name(&self, name: &str) -> Option<&Group> {
        self.group_index(name).map(|i| &self.groups[i])
    }

    /// The index of the group called `name`, in declaration order.
    pub fn group_index(&self, name: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.name == name)
    }

    /// The index of `id`'s group.
    pub fn group_of(&self, id: TagId) -> usize {
        self.tags[id as usize].group
    }

    /// The other members of `id`'s group when that group is exclusive.
    pub fn exclusive_peers(&self, id: TagId) -> &[TagId] {
        let group = &self.groups[self.tags[id as usize].group];
        if group.exclusive {
            &group.members
        } else {
            &[]
        }
    }

    pub fn len(&self) -> usize {
        self.tags.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// The score band of a score; tags without a score share one band.
    pub fn band(&self, score: Option<f64>) -> Option<i64> {
        score.map(|s| (s / self.score_band).floor() as i64)
    }
}

/// Whether `name` may name a tag: 1 to 3 segments, each a [`valid_segment`].
pub fn valid_tag_name(name: &str) -> bool {
    let segments: Vec<&str> = name.split('/').collect();
    segments.len() <= 3 && segments.iter().all(|s| valid_segment(s))
}

/// Whether `s` may be a segment of a tag name (a group, or a part of a tag).
pub fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
max_tags_per_user = 8
[groups.lifecycle]
exclusive = true
tags = ["new", "mature"]
[groups.intent]
ttl = "30d"
tags = ["price", "purchase/urgent"]
[groups.vip]
"#;

    #[test]
    fn parses_groups_tags_and_ttls() {
        let c = Catalogue::parse(TEXT, "tags.toml").unwrap();
        assert_eq!(c.len(), 5);
        let urgent = c.id("intent/purchase/urgent").unwrap();
        assert_eq!(c.info(urgent).ttl_ms, Some(30 * 86_400_000));
        assert!(c.id("vip").is_some());
        let new = c.id("lifecycle/new").unwrap();
        assert_eq!(c.exclusive_peers(new).len(), 2);
        assert!(c.exclusive_peers(urgent).is_empty());
        assert_eq!(c.max_tags_per_user, 8);
    }

    #[test]
    fn rejects_bad_names_with_line() {
        let text = "[groups.a]\ntags = [\"ok\", \"b/c/d\"]\n";
        let err = Catalogue::parse(text, "tags.toml").unwrap_err().to_string();
        assert!(err.starts_with("tags.toml:2:"), "{err}");
        let text = "[groups.a]\ntags = [\"x y\"]\n";
        assert!(Catalogue::parse(text, "t").is_err());
        // The line of the value itself, not of an earlier mention of its text.
        let text = "# \"soon\" and \"ok\" are words\n[groups.a]\ntags = [\n  \"ok\",\n  \"ok\",\n]\n[groups.b]\nttl = \"soon\"\n";
        let err = Catalogue::parse(text, "t").unwrap_err().to_string();
        assert!(err.starts_with("t:5:"), "{err}");
        let err = Catalogue::parse(&text.replace("  \"ok\",\n]", "]"), "t")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("t:7:") && err.contains("soon"), "{err}");
    }

    /// `tags = []` declared nothing, silently: `check` passed, and `segment vip` called the
    /// tag of `[groups.vip]` undeclared.
    #[test]
    fn an_empty_tags_list_is_refused_at_its_line() {
        let text = "[groups.intent]\ntags = [\"price\"]\n[groups.vip]\ntags = []\n";
        let err = Catalogue::parse(text, "t").unwrap_err().to_string();
        assert_eq!(
            err,
            "t:4: group vip: `tags = []` declares no tag; list its tags, or remove `tags` for \
             the one-segment tag `vip`"
        );
        let one_segment = Catalogue::parse(&text.replace("tags = []\n", ""), "t").unwrap();
        assert!(one_segment.id("vip").is_some());
    }

    /// One check shows every bad name, TTL and duplicate, in the file's order, not only the
    /// first (groups are read in name order, so `[groups.z]` is found before `[groups.b]`).
    #[test]
    fn every_problem_is_reported_in_file_order() {
        let text = "score_band = 0\n[groups.z]\ntags = [\"ok\", \"b c\", \"ok\"]\n[groups.b]\nttl = \"soon\"\ntags = [\"fine\", \"x/y/z\"]\n";
        let errors: Vec<String> = Catalogue::parse_all(text, "t")
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errors,
            [
                "t:1: score_band must be a positive number",
                "t:3: tag \"z/b c\" must be 1 to 3 segments of letters, digits, '-' or '_'",
                "t:3: tag \"z/ok\" is declared twice",
                "t:5: group b: ttl \"soon\" is not a duration like \"30d\"",
                "t:6: tag \"b/x/y/z\" must be 1 to 3 segments of letters, digits, '-' or '_'",
            ]
        );
        let first = Catalogue::parse(text, "t").unwrap_err().to_string();
        assert_eq!(first, errors[0]);
    }

    #[test]
    fn rejects_bad_ttl_and_unknown_keys() {
        assert!(Catalogue::parse("[groups.a]\nttl = \"soon\"\n", "t").is_err());
        let err = Catalogue::parse("colour = 1\n", "t")
            .unwrap_err()
            .to_string();
        assert!(err.contains("colour"), "{err}");
    }

    /// Serde's words (`invalid value: integer `-1`, expected usize`) never reach the
    /// operator: the key and what it must be, at the value's line.
    #[test]
    fn wrong_types_are_named_by_key_in_plain_words() {
        for (text, message) in [
            (
                "# limits\nmax_tags_per_user = -1\n",
                "t:2: max_tags_per_user must be a whole number of 0 or more, not -1",
            ),
            (
                "score_band = \"half\"\n",
                "t:1: score_band must be a number, not \"half\"",
            ),
            (
                "[groups.a]\nexclusive = \"yes\"\n",
                "t:2: groups.a.exclusive must be true or false, not \"yes\"",
            ),
            (
                "[groups.a]\nttl = 30\n",
                "t:2: groups.a.ttl must be text in quotes, not 30",
            ),
        ] {
            let err = Catalogue::parse(text, "t").unwrap_err().to_string();
            assert_eq!(err, message);
        }
    }

    #[test]
    fn bands_scores() {
        let c = Catalogue::parse(TEXT, "t").unwrap();
        assert_eq!(c.band(Some(4.1)), c.band(Some(4.4)));
        assert_ne!(c.band(Some(4.4)), c.band(Some(4.6)));
        assert_eq!(c.band(None), None);
    }
}
