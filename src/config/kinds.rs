//! The three TOML files an operator names on the command line — the engine config, the tag
//! catalogue and the rule parameters — told apart by their top-level keys. Given to the wrong
//! flag (`--catalogue config/params.toml`), a file is refused at the line of its first key with
//! "unknown key `activity`", which reads like a typo in that line, not like the wrong file: the
//! error then says which file it looks like and which flag takes it.

use super::ConfigError;

/// The top-level keys of a tag catalogue.
const CATALOGUE_KEYS: &[&str] = &["groups", "max_tags_per_user", "score_band"];

/// Which of the three files a flag or key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Engine,
    Catalogue,
    Params,
}

impl FileKind {
    fn words(self) -> &'static str {
        match self {
            FileKind::Engine => "the engine config",
            FileKind::Catalogue => "a tag catalogue",
            FileKind::Params => "rule parameters",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            FileKind::Engine => "--config",
            FileKind::Catalogue => "--catalogue (rules.catalogue)",
            FileKind::Params => "--params (rules.params)",
        }
    }

    /// The kind `text` looks like, when it is clearly one: `None` for text that is not TOML,
    /// is empty, or mixes the kinds' keys (a file with a typo in one key is not the wrong file).
    fn of(text: &str) -> Option<FileKind> {
        let table: toml::Table = toml::from_str(text).ok()?;
        if table.is_empty() {
            return None;
        }
        let engine = |k: &str| super::ENGINE_SECTIONS.contains(&k);
        let catalogue = |k: &str| CATALOGUE_KEYS.contains(&k);
        if table.keys().all(|k| engine(k)) {
            return Some(FileKind::Engine);
        }
        if table.contains_key("groups") && table.keys().all(|k| catalogue(k)) {
            return Some(FileKind::Catalogue);
        }
        // `[clocks]` alone is an engine config with a typo, not parameters.
        let others = super::ENGINE_SECTIONS.iter().chain(CATALOGUE_KEYS);
        let near_other = |k: &str| {
            others.clone().any(|o| *o == k)
                || crate::rules::check::nearest(k, others.clone().copied()).is_some()
        };
        let sections_only = table.values().all(toml::Value::is_table);
        (sections_only && !table.keys().any(|k| near_other(k))).then_some(FileKind::Params)
    }
}

/// `err`, a problem of the file `text` read as `expected`, with a note when the file is plainly
/// of another kind: which kind and the flag that takes it.
pub fn misplaced(err: ConfigError, text: &str, expected: FileKind) -> ConfigError {
    let ConfigError::At {
        path,
        line,
        message,
    } = err
    else {
        return err;
    };
    let message = match FileKind::of(text).filter(|kind| *kind != expected) {
        Some(kind) => format!(
            "{message} ({path} looks like {}, not {}: give it with {})",
            kind.words(),
            expected.words(),
            kind.flag()
        ),
        None => message,
    };
    ConfigError::At {
        path,
        line,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_shipped_file_is_told_apart() {
        let read = |p: &str| std::fs::read_to_string(p).unwrap();
        assert_eq!(
            FileKind::of(&read("config/tagstream.toml")),
            Some(FileKind::Engine)
        );
        assert_eq!(
            FileKind::of(&read("config/tags.toml")),
            Some(FileKind::Catalogue)
        );
        assert_eq!(
            FileKind::of(&read("config/params.toml")),
            Some(FileKind::Params)
        );
        // A typo in one section is not another kind of file.
        assert_eq!(FileKind::of("[rules]\ndir = \"r\"\n[clocks]\n"), None);
        assert_eq!(FileKind::of("max_tags_per_user = 3\n[group.a]\n"), None);
        assert_eq!(FileKind::of("[clocks]\nmax_future = \"1h\"\n"), None);
        assert_eq!(FileKind::of("[group.a]\ntags = [\"b\"]\n"), None);
        assert_eq!(FileKind::of(""), None);
    }
}
