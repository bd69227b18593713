//! Lines of keys and values in a TOML file, from the parser's own spans, so that an error found
//! after parsing (an unknown key, a bad duration, a regex that does not compile) points at the
//! line that holds it rather than at the first place its name happens to appear.

use toml_edit::{ImDocument, Item, TableLike, Value};

/// A parsed TOML text that answers "on which line is this key / value".
pub struct TomlLines<'t> {
    text: &'t str,
    doc: Option<ImDocument<&'t str>>,
}

/// One step of a path into a TOML document: a key, or an index into an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

impl<'t> TomlLines<'t> {
    /// Parses `text`; a text that does not parse answers no line (its syntax error has one).
    pub fn new(text: &'t str) -> TomlLines<'t> {
        TomlLines {
            text,
            doc: ImDocument::parse(text).ok(),
        }
    }

    /// The 1-based line of byte `offset`.
    pub fn line_at(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    /// The line of the last key of `path` (for an index: of that array item).
    pub fn key(&self, path: &[Seg]) -> Option<usize> {
        self.span(path, true).map(|at| self.line_at(at))
    }

    /// The line of the value at `path`.
    pub fn value(&self, path: &[Seg]) -> Option<usize> {
        self.span(path, false).map(|at| self.line_at(at))
    }

    /// The line of the value at `path`, else of its key, else of the nearest ancestor found.
    pub fn best(&self, path: &[Seg]) -> usize {
        (0..=path.len())
            .rev()
            .find_map(|n| {
                let p = &path[..n];
                self.value(p).or_else(|| self.key(p))
            })
            .unwrap_or(1)
    }

    /// The dotted key (`clock.idle_after`, `keywords."intent/price".hits`) whose value holds
    /// byte `offset`: the innermost one, for a value inside an inline table. Items of arrays
    /// are named by their array's key.
    pub fn key_at(&self, offset: usize) -> Option<String> {
        let mut path = Vec::new();
        key_in_table(self.doc.as_ref()?.as_table(), offset, &mut path).then(|| path.join("."))
    }

    fn span(&self, path: &[Seg], want_key: bool) -> Option<usize> {
        let doc = self.doc.as_ref()?;
        let (last, parents) = path.split_last()?;
        let mut item: Option<&Item> = None;
        let mut table: &dyn TableLike = doc.as_table();
        let mut array_value: Option<&Value> = None;
        for seg in parents {
            match (seg, array_value) {
                (Seg::Key(k), None) => {
                    let next = table.get(k)?;
                    item = Some(next);
                    match next {
                        Item::Value(Value::Array(_)) => array_value = next.as_value(),
                        Item::ArrayOfTables(_) => {}
                        _ => table = next.as_table_like()?,
                    }
                }
                (Seg::Index(i), Some(Value::Array(items))) => {
                    let v = items.get(*i)?;
                    match v {
                        Value::Array(_) => array_value = Some(v),
                        Value::InlineTable(t) => {
                            array_value = None;
                            table = t;
                        }
                        _ => return None,
                    }
                }
                (Seg::Index(i), None) => {
                    let t = item?.as_array_of_tables()?.get(*i)?;
                    table = t;
                }
                _ => return None,
            }
        }
        match (last, array_value) {
            (Seg::Key(k), None) => {
                let (key, item) = table.get_key_value(k)?;
                if want_key {
                    key.span().map(|s| s.start)
                } else {
                    item.span().map(|s| s.start)
                }
            }
            (Seg::Index(i), Some(Value::Array(items))) => items.get(*i)?.span().map(|s| s.start),
            (Seg::Index(i), None) => item?.as_array_of_tables()?.get(*i)?.span().map(|s| s.start),
            _ => None,
        }
    }
}

/// Whether a value of `table` (or of a table inside it) holds `offset`; `path` is left naming
/// its key.
fn key_in_table(table: &dyn TableLike, offset: usize, path: &mut Vec<String>) -> bool {
    for (key, item) in table.iter() {
        path.push(key_segment(key));
        let found = match item {
            Item::Value(value) => key_in_value(value, offset, path),
            Item::Table(t) => key_in_table(t, offset, path),
            Item::ArrayOfTables(tables) => tables.iter().any(|t| key_in_table(t, offset, path)),
            Item::None => false,
        };
        if found {
            return true;
        }
        path.pop();
    }
    false
}

fn key_in_value(value: &Value, offset: usize, path: &mut Vec<String>) -> bool {
    if !value.span().is_some_and(|s| s.contains(&offset)) {
        return false;
    }
    match value {
        Value::InlineTable(t) => {
            key_in_table(t, offset, path);
        }
        Value::Array(items) => {
            for item in items.iter() {
                if let Value::InlineTable(t) = item {
                    if item.span().is_some_and(|s| s.contains(&offset)) {
                        key_in_table(t, offset, path);
                        break;
                    }
                }
            }
        }
        _ => {}
    }
    true
}

/// A key as written in TOML: bare when it can be, quoted otherwise.
fn key_segment(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        key.to_string()
    } else {
        format!("{key:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# keywords here\n[a]\nx = 1\nlist = [\n  \"p\",\n  \"q\",\n]\n\n[keywords.\"t/u\"]\n# patterns\npatterns = [\"(\"]\n[[case]]\nname = \"one\"\n[[case]]\nname = \"two\"\nstep = [{ at = 1 }, { at = 2 }]\n";

    #[test]
    fn keys_values_and_items_have_their_own_lines() {
        let l = TomlLines::new(TEXT);
        assert_eq!(l.key(&[Seg::Key("a"), Seg::Key("x")]), Some(3));
        assert_eq!(
            l.value(&[Seg::Key("a"), Seg::Key("list"), Seg::Index(1)]),
            Some(6)
        );
        assert_eq!(l.key(&[Seg::Key("keywords"), Seg::Key("t/u")]), Some(9));
        assert_eq!(
            l.value(&[
                Seg::Key("keywords"),
                Seg::Key("t/u"),
                Seg::Key("patterns"),
                Seg::Index(0)
            ]),
            Some(11)
        );
        assert_eq!(
            l.key(&[Seg::Key("case"), Seg::Index(1), Seg::Key("name")]),
            Some(15)
        );
        assert_eq!(
            l.key(&[
                Seg::Key("case"),
                Seg::Index(1),
                Seg::Key("step"),
                Seg::Index(1),
                Seg::Key("at")
            ]),
            Some(16)
        );
        assert_eq!(l.best(&[Seg::Key("a"), Seg::Key("nope")]), 2);
    }

    #[test]
    fn a_value_is_named_by_its_key() {
        let l = TomlLines::new(TEXT);
        let at = |needle: &str| TEXT.find(needle).unwrap();
        assert_eq!(l.key_at(at("1\n")).as_deref(), Some("a.x"));
        assert_eq!(l.key_at(at("\"q\"")).as_deref(), Some("a.list"));
        assert_eq!(
            l.key_at(at("[\"(\"]")).as_deref(),
            Some("keywords.\"t/u\".patterns")
        );
        assert_eq!(l.key_at(at("2 }")).as_deref(), Some("case.step.at"));
        assert_eq!(l.key_at(at("# keywords")), None);
    }
}
