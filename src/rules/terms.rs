//! Rhai's run-time errors in the terms a rule is written in. Rhai names the Rust types behind
//! a script's values (`Function not found: tagg (&str | ImmutableString | String)`, `i64`,
//! `f64`); a rule's author writes strings, ints and floats. [`in_script_terms`] rewrites the
//! type names Rhai puts in an error and leaves what the script wrote (a thrown message, a
//! property or function name) as it is.

use std::borrow::Cow;

use rhai::EvalAltResult;

/// How Rhai names a string argument in a function signature.
const STRING_ARGUMENT: &str = "&str | ImmutableString | String";

/// Rewrites, in place, the type names in `error` (and in the errors it wraps).
pub fn in_script_terms(error: &mut EvalAltResult) {
    use EvalAltResult as E;
    match error {
        E::ErrorFunctionNotFound(signature, _) => *signature = signature_terms(signature),
        E::ErrorMismatchDataType(expected, actual, _)
        | E::ErrorMismatchOutputType(expected, actual, _) => {
            *expected = script_type(expected).into_owned();
            *actual = script_type(actual).into_owned();
        }
        // `i64 [string]`: a value that cannot be indexed, and the index.
        E::ErrorIndexingType(what, _) => *what = words_terms(what),
        // `Unknown property 'x' - a getter is not registered for type 'i64'`.
        E::ErrorDotExpr(text, _) => *text = quoted_terms(text),
        E::ErrorInFunctionCall(_, _, inner, _) | E::ErrorInModule(_, inner, _) => {
            in_script_terms(inner)
        }
        _ => {}
    }
}

/// `tagg (&str | ImmutableString | String, i64)` → `tagg (string, int)`.
fn signature_terms(signature: &str) -> String {
    let Some((name, args)) = signature
        .split_once(" (")
        .and_then(|(name, rest)| Some((name, rest.strip_suffix(')')?)))
    else {
        return signature.to_string();
    };
    // The string alternation holds no comma, so the arguments split on commas.
    let args: Vec<Cow<str>> = args.split(", ").map(script_type).collect();
    format!("{name} ({})", args.join(", "))
}

/// Every word of `text` that is a Rust type name, in script terms.
fn words_terms(text: &str) -> String {
    let text = text.replace(STRING_ARGUMENT, "string");
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
        } else {
            out.push_str(&script_type(&word));
            word.clear();
            out.push(c);
        }
    }
    out.pop();
    out
}

/// Every `'quoted'` type name of `text` in script terms; the rest (a property's name, also
/// quoted) is left alone unless it is exactly a Rust type name.
fn quoted_terms(text: &str) -> String {
    let parts: Vec<Cow<str>> = text
        .split('\'')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                script_type(part)
            } else {
                Cow::Borrowed(part)
            }
        })
        .collect();
    parts.join("'")
}

/// A type as Rhai names it → as a script names it: `i64` → `int`, `f64` → `float`,
/// `ImmutableString` → `string`, `rhai::Array` → `array`. Names a script already uses (`int`,
/// `bool`, `()`, `User`) come back unchanged.
fn script_type(name: &str) -> Cow<'_, str> {
    let name = name.trim();
    let bare = name.strip_prefix("rhai::").unwrap_or(name);
    Cow::Borrowed(match bare {
        STRING_ARGUMENT
        | "ImmutableString"
        | "String"
        | "&str"
        | "str"
        | "alloc::string::String" => "string",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" | "u8" | "u16" | "u32" | "u64" | "u128"
        | "usize" | "INT" => "int",
        "f32" | "f64" | "FLOAT" => "float",
        "Array" => "array",
        "Map" => "map",
        "Blob" => "blob",
        "FnPtr" => "Fn",
        "Dynamic" => "any value",
        _ => return Cow::Borrowed(name),
    })
}

#[cfg(test)]
mod tests {
    use rhai::Position;

    use super::*;

    fn shown(mut error: EvalAltResult) -> String {
        in_script_terms(&mut error);
        error.to_string()
    }

    #[test]
    fn signatures_name_script_types() {
        let not_found = |sig: &str| {
            shown(EvalAltResult::ErrorFunctionNotFound(
                sig.into(),
                Position::NONE,
            ))
        };
        assert_eq!(
            not_found("tagg (&str | ImmutableString | String)"),
            "Function not found: tagg (string)"
        );
        assert_eq!(
            not_found("foo (array, f64, map, (), i64, rhai::Array, rhai::Map, INT, bool, User)"),
            "Function not found: foo (array, float, map, (), int, array, map, int, bool, User)"
        );
        assert_eq!(
            not_found("- (&str | ImmutableString | String, i64)"),
            "Function not found: - (string, int)"
        );
        assert_eq!(not_found("f64 ()"), "Function not found: f64 ()");
    }

    #[test]
    fn other_errors_name_script_types_and_keep_the_script_s_words() {
        assert_eq!(
            shown(EvalAltResult::ErrorMismatchDataType(
                "f64".into(),
                "ImmutableString".into(),
                Position::NONE
            )),
            "Data type incorrect: string (expecting float)"
        );
        assert_eq!(
            shown(EvalAltResult::ErrorIndexingType(
                "i64 [&str | ImmutableString | String]".into(),
                Position::NONE
            )),
            "Indexer unavailable: int [string]"
        );
        assert_eq!(
            shown(EvalAltResult::ErrorDotExpr(
                "Unknown property 'i64s' - a getter is not registered for type 'i64'".into(),
                Position::NONE
            )),
            "Unknown property 'i64s' - a getter is not registered for type 'int'"
        );
        // What the script throws is its own text.
        assert_eq!(
            shown(EvalAltResult::ErrorRuntime(
                "i64 is a Map".into(),
                Position::NONE
            )),
            "Runtime error: i64 is a Map"
        );
        let inner = EvalAltResult::ErrorFunctionNotFound("tagg (i64)".into(), Position::NONE);
        assert_eq!(
            shown(EvalAltResult::ErrorInFunctionCall(
                "helper".into(),
                String::new(),
                inner.into(),
                Position::NONE
            )),
            "Function not found: tagg (int)\nin call to function 'helper'"
        );
    }
}
