//! The script API as the engine knows it: every registered function with its parameter types,
//! read from the engine's own signatures, so the checker never keeps a second list to go stale.

use std::collections::{BTreeMap, BTreeSet};

use rhai::Engine;

/// Names Rhai resolves itself rather than through registered functions; any arity.
const BUILTINS: [&str; 9] = [
    "type_of",
    "print",
    "debug",
    "Fn",
    "call",
    "curry",
    "is_def_var",
    "is_def_fn",
    "is_shared",
];

/// One registered function.
#[derive(Debug, Clone)]
pub struct Sig {
    /// Parameter types as Rhai names them (`User`, `&str`, `i64`, `?` for any).
    pub params: Vec<String>,
    /// The custom type it returns, when it returns one.
    pub returns: Option<String>,
}

/// Registered functions by name, and the custom types scripts get handles of.
pub struct Api {
    fns: BTreeMap<String, Vec<Sig>>,
    /// Types registered by tagstream (`User`, `Event`, …): their properties and methods are known.
    pub types: BTreeSet<String>,
}

impl Api {
    pub fn new(engine: &Engine) -> Api {
        let own = engine.gen_fn_signatures(false);
        let mut types = BTreeSet::new();
        for s in &own {
            if let Some((name, sig)) = parse_sig(s, &BTreeSet::new()) {
                if name.starts_with("get$") {
                    if let Some(t) = sig.params.first() {
                        types.insert(t.clone());
                    }
                }
            }
        }
        let mut fns: BTreeMap<String, Vec<Sig>> = BTreeMap::new();
        for s in engine.gen_fn_signatures(true) {
            if let Some((name, sig)) = parse_sig(&s, &types) {
                fns.entry(name).or_default().push(sig);
            }
        }
        Api { fns, types }
    }

    /// Whether `name` is resolved by Rhai itself.
    pub fn is_builtin(name: &str) -> bool {
        BUILTINS.contains(&name)
    }

    /// Functions named `name` taking `arity` arguments.
    pub fn with_arity(&self, name: &str, arity: usize) -> impl Iterator<Item = &Sig> {
        self.fns
            .get(name)
            .into_iter()
            .flatten()
            .filter(move |s| s.params.len() == arity)
    }

    /// The arities `name` is registered with (empty when it is not registered).
    pub fn arities(&self, name: &str) -> BTreeSet<usize> {
        self.fns
            .get(name)
            .into_iter()
            .flatten()
            .map(|s| s.params.len())
            .collect()
    }

    /// A method `name` on `ty` with `args` arguments besides the receiver.
    pub fn method(&self, ty: &str, name: &str, args: usize) -> Option<&Sig> {
        self.with_arity(name, args + 1)
            .find(|s| s.params.first().is_some_and(|p| p == ty))
            .or_else(|| {
                self.with_arity(name, args + 1)
                    .find(|s| s.params.first().is_some_and(|p| p == "?"))
            })
    }

    /// Argument counts (besides the receiver) of method `name` on `ty`.
    pub fn method_arities(&self, ty: &str, name: &str) -> BTreeSet<usize> {
        self.fns
            .get(name)
            .into_iter()
            .flatten()
            .filter(|s| s.params.first().is_some_and(|p| p == ty))
            .map(|s| s.params.len() - 1)
            .collect()
    }

    /// Methods and properties of `ty`: (methods, properties).
    pub fn members(&self, ty: &str) -> (Vec<&str>, Vec<&str>) {
        let mut methods = Vec::new();
        let mut props = Vec::new();
        for (name, sigs) in &self.fns {
            if !sigs
                .iter()
                .any(|s| s.params.first().is_some_and(|p| p == ty))
            {
                continue;
            }
            match name.strip_prefix("get$") {
                Some(prop) => props.push(prop),
                None if !name.contains('$') => methods.push(name.as_str()),
                None => {}
            }
        }
        (methods, props)
    }

    /// Every plain function name (no operators, getters or module paths).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.fns
            .keys()
            .map(String::as_str)
            .filter(|n| is_identifier(n))
    }
}

pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `name(_: T1, _: T2) -> R` → name and types; `None` for module functions.
fn parse_sig(text: &str, types: &BTreeSet<String>) -> Option<(String, Sig)> {
    let open = text.find('(')?;
    let name = text[..open].trim();
    if name.contains("::") {
        return None;
    }
    let close = matching_paren(text, open)?;
    let inner = &text[open + 1..close];
    let mut params = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in inner.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                params.push(param_type(&inner[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    if !inner.trim().is_empty() {
        params.push(param_type(&inner[start..]));
    }
    let ret = text[close + 1..]
        .trim()
        .strip_prefix("->")
        .unwrap_or("")
        .trim();
    let returns = types
        .iter()
        .find(|t| {
            ret.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .any(|w| w == t.as_str())
        })
        .cloned();
    Some((name.to_string(), Sig { params, returns }))
}

fn matching_paren(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in text[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `name: &mut User` → `User`; `Dynamic` → `?`.
fn param_type(text: &str) -> String {
    let ty = text.split_once(':').map_or(text, |(_, t)| t).trim();
    let ty = ty
        .trim_start_matches("&mut ")
        .trim_start_matches('&')
        .trim();
    match ty {
        "Dynamic" | "?" | "" => "?".to_string(),
        other => other.to_string(),
    }
}

/// The candidate closest to `name` by edit distance, when close enough to be a likely typo.
pub fn nearest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

/// Levenshtein distance over chars.
pub fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for j in 0..b.len() {
            let cur = row[j + 1];
            row[j + 1] = if ca == b[j] {
                prev
            } else {
                1 + prev.min(row[j]).min(row[j + 1])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

/// ` — did you mean `x`?` when there is a near name, else nothing.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    nearest(name, candidates)
        .map(|n| format!("; did you mean `{n}`?"))
        .unwrap_or_default()
}

/// What to do about a tag the catalogue lacks: the near declared tag when there is one, else
/// the declaration that would add it. A new rule's tag is undeclared until its group is
/// written, and "not declared" alone does not say where or how to declare it.
pub fn suggest_tag(tag: &str, catalogue: &crate::tags::Catalogue) -> String {
    let near = suggest(tag, catalogue.names());
    if !near.is_empty() || !crate::tags::valid_tag_name(tag) {
        return near;
    }
    match tag.split_once('/') {
        Some((group, rest)) if catalogue.group_by_name(group).is_some() => {
            format!("; to declare it, add \"{rest}\" to the tags of [groups.{group}]")
        }
        Some((group, rest)) => {
            format!("; to declare it, add a table [groups.{group}] with tags = [\"{rest}\"]")
        }
        None => format!("; to declare it, add a table [groups.{tag}] without `tags`"),
    }
}

/// As [`suggest_tag`], for a group: the near declared group, else the table that declares it.
pub fn suggest_group(group: &str, catalogue: &crate::tags::Catalogue) -> String {
    let near = suggest(group, catalogue.group_names());
    if !near.is_empty() || !crate::tags::valid_segment(group) {
        return near;
    }
    format!("; to declare it, add a table [groups.{group}] with its tags = [...]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_parse_into_names_and_types() {
        let types: BTreeSet<String> = ["User".to_string(), "OrderStats".to_string()].into();
        let (name, sig) = parse_sig(
            "paid_orders(_: &mut User, _: Dynamic) -> Result<OrderStats, Box<EvalAltResult>>",
            &types,
        )
        .unwrap();
        assert_eq!(name, "paid_orders");
        assert_eq!(sig.params, ["User", "?"]);
        assert_eq!(sig.returns.as_deref(), Some("OrderStats"));
        let (_, sig) = parse_sig("now() -> i64", &types).unwrap();
        assert!(sig.params.is_empty() && sig.returns.is_none());
        assert!(parse_sig("activity::f(x: i64)", &types).is_none());
    }

    #[test]
    fn nearest_names_are_typos_not_strangers() {
        let names = ["set", "get", "unset", "count", "decay_add"];
        assert_eq!(nearest("sett", names), Some("set"));
        assert_eq!(nearest("cuont", names), Some("count"));
        assert_eq!(nearest("decayadd", names), Some("decay_add"));
        assert_eq!(nearest("frobnicate", names), None);
    }
}
