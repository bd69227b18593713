//! Parameters inlined into scripts as literals when the rules load.
//!
//! Scripts read parameters as `<section>::<key>`. Parameters are fixed for the life of a
//! compiled rule set (a new `params.toml` means a new rule set), so each such reference is
//! replaced by its value as a literal before compiling: the optimizer folds it like any other
//! constant, and the hot path pays nothing for a lookup that would cost a namespace search on
//! every evaluation (measured: about as much as a native function call).
//!
//! The rewrite is lexical and conservative. It skips comments and string literals (but not the
//! code inside `${…}` of a back-tick string), keeps every line where it was so error positions
//! still point at the operator's source, and leaves alone any reference it cannot write as a
//! literal; those still resolve through the parameter modules registered on the engine.

use toml::Value;

use super::params::Sections;

/// The literal for a parameter value, parenthesised where a sign or a method call could bind
/// differently; `None` when the value has no plain literal form.
fn literal(value: &Value) -> Option<String> {
    match value {
        Value::Integer(i) if *i == i64::MIN => None,
        Value::Integer(i) => Some(format!("({i})")),
        Value::Float(f) if f.is_finite() => {
            let text = format!("{f:?}");
            Some(format!("({text})"))
        }
        Value::Boolean(b) => Some(b.to_string()),
        Value::String(s)
            if !s
                .chars()
                .any(|c| c == '"' || c == '\\' || c == '`' || c.is_control()) =>
        {
            Some(format!("\"{s}\""))
        }
        Value::Array(items) => {
            let items: Option<Vec<String>> = items.iter().map(literal).collect();
            Some(format!("[{}]", items?.join(", ")))
        }
        _ => None,
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// What the scanner is inside of.
enum Mode {
    /// Code; the value counts open braces, so the `}` closing a `${` is recognised.
    Code(usize),
    /// A back-tick string.
    Template,
}

/// `source` with every inlinable `<section>::<key>` replaced by its literal.
pub fn inline_params(source: &str, sections: &Sections) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut modes = vec![Mode::Code(0)];
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let nested = modes.len() > 1;
        match modes.last_mut() {
            Some(Mode::Template) => {
                if c == '`' {
                    modes.pop();
                } else if c == '$' && next == Some('{') {
                    out.push_str("${");
                    i += 2;
                    modes.push(Mode::Code(0));
                    continue;
                }
                out.push(c);
                i += 1;
            }
            Some(Mode::Code(depth)) => {
                match c {
                    '/' if next == Some('/') => {
                        let end = chars[i..]
                            .iter()
                            .position(|c| *c == '\n')
                            .map_or(chars.len(), |p| i + p);
                        out.extend(&chars[i..end]);
                        i = end;
                        continue;
                    }
                    '/' if next == Some('*') => {
                        let end = block_comment_end(&chars, i);
                        out.extend(&chars[i..end]);
                        i = end;
                        continue;
                    }
                    '"' | '\'' => {
                        let end = quoted_end(&chars, i);
                        out.extend(&chars[i..end]);
                        i = end;
                        continue;
                    }
                    '`' => {
                        modes.push(Mode::Template);
                        out.push(c);
                        i += 1;
                        continue;
                    }
                    '{' => *depth += 1,
                    '}' if *depth == 0 && nested => {
                        modes.pop();
                        out.push(c);
                        i += 1;
                        continue;
                    }
                    '}' => *depth = depth.saturating_sub(1),
                    _ => {}
                }
                if is_ident_start(c) && (i == 0 || !is_ident(chars[i - 1])) {
                    let (end, replaced) = reference(&chars, i, sections);
                    match replaced {
                        Some(text) => out.push_str(&text),
                        None => out.extend(&chars[i..end]),
                    }
                    i = end;
                    continue;
                }
                out.push(c);
                i += 1;
            }
            None => unreachable!("the outermost mode is never popped"),
        }
    }
    out
}

/// Reads the identifier at `start`; when it is `<section>::<key>` with an inlinable value (and
/// neither part of a longer path nor a function call), returns the literal too.
fn reference(chars: &[char], start: usize, sections: &Sections) -> (usize, Option<String>) {
    let ident_end = |from: usize| {
        chars[from..]
            .iter()
            .position(|c| !is_ident(*c))
            .map_or(chars.len(), |p| from + p)
    };
    let end = ident_end(start);
    let preceded_by_path = start >= 2 && chars[start - 2..start] == [':', ':'];
    let section: String = chars[start..end].iter().collect();
    let Some(values) = sections.get(&section) else {
        return (end, None);
    };
    if preceded_by_path || chars.get(end..end + 2) != Some(&[':', ':'][..]) {
        return (end, None);
    }
    let key_start = end + 2;
    if !chars.get(key_start).copied().is_some_and(is_ident_start) {
        return (end, None);
    }
    let key_end = ident_end(key_start);
    let key: String = chars[key_start..key_end].iter().collect();
    let followed_by_path_or_call = matches!(chars.get(key_end), Some(':' | '('));
    if followed_by_path_or_call {
        return (key_end, None);
    }
    match values.get(&key).and_then(literal) {
        Some(text) => (key_end, Some(text)),
        None => (key_end, None),
    }
}

/// The index after a (possibly nested) block comment starting at `start`.
fn block_comment_end(chars: &[char], start: usize) -> usize {
    let mut depth = 0;
    let mut i = start;
    while i < chars.len() {
        match (chars[i], chars.get(i + 1)) {
            ('/', Some('*')) => {
                depth += 1;
                i += 2;
            }
            ('*', Some('/')) => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    chars.len()
}

/// The index after a `"…"` or `'…'` literal starting at `start` (backslash escapes).
fn quoted_end(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    chars.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections() -> Sections {
        let params: toml::Table = toml::from_str(
            r#"
            [activity]
            half_life = 604800000
            high = 10.5
            neg = -3
            tiny = 1e-7
            on = true
            name = "high"
            quote = "a\"b"
            days = [7, 30]
            "#,
        )
        .unwrap();
        params
            .into_iter()
            .map(|(name, v)| {
                let Value::Table(t) = v else { unreachable!() };
                (name, t.into_iter().collect())
            })
            .collect()
    }

    #[test]
    fn references_become_literals() {
        let s = sections();
        assert_eq!(
            inline_params("let x = activity::high + activity::half_life;", &s),
            "let x = (10.5) + (604800000);"
        );
        assert_eq!(
            inline_params("-activity::neg; activity::tiny; activity::on", &s),
            "-(-3); (1e-7); true"
        );
        assert_eq!(
            inline_params("activity::name; activity::days[0]", &s),
            "\"high\"; [(7), (30)][0]"
        );
    }

    #[test]
    fn what_is_not_a_plain_reference_stays() {
        let s = sections();
        for text in [
            "activity::quote",
            "activity::missing",
            "other::high",
            "x::activity::high",
            "activity::high::more",
            "activity::f(1)",
            "myactivity::high",
            "activity :: high",
        ] {
            assert_eq!(inline_params(text, &s), text);
        }
    }

    #[test]
    fn comments_and_strings_are_skipped_but_interpolations_are_not() {
        let s = sections();
        let text = "// activity::high\n/* activity::high /* nested */ activity::high */\n\"activity::high\" 'a'";
        assert_eq!(inline_params(text, &s), text);
        assert_eq!(
            inline_params(
                "`S = activity::high, ${activity::high + 1} {x}` activity::high",
                &s
            ),
            "`S = activity::high, ${(10.5) + 1} {x}` (10.5)"
        );
        assert_eq!(
            inline_params("`${ #{a: 1}.a + activity::neg }`", &s),
            "`${ #{a: 1}.a + (-3) }`"
        );
    }

    #[test]
    fn lines_stay_where_they_were() {
        let s = sections();
        let text = "fn f() {\n  activity::days\n}\n";
        assert_eq!(
            inline_params(text, &s).lines().count(),
            text.lines().count()
        );
    }
}
