//! Serde's words for a value of the wrong type or range (``invalid type: integer `30`, expected
//! a string``, `invalid value: integer `-1`, expected usize`) put in the words of the file an
//! operator wrote: "must be text in quotes, not 30", "must be a whole number of 0 or more, not
//! -1". Rust type names (`usize`, `f64`) and serde's own terms (`sequence`, `map`) never reach
//! an operator.

/// Serde's message about a TOML file in the file's own words; `key` names the value it is
/// about and `written` the value's text as the file has it, when known. TOML has keys, not
/// fields.
pub fn toml_message(message: &str, key: Option<&str>, written: Option<&str>) -> String {
    if let Some(mut wrong) = WrongValue::of(message) {
        // A TOML date or time reaches serde as a table of one hidden key: say what was written.
        if let Some(date) = written
            .map(str::trim)
            .filter(|w| wrong.got == "a table" && w.starts_with(|c: char| c.is_ascii_digit()))
        {
            wrong.got = format!("{date} (a date or time)");
        }
        return match key {
            // `"ssl.key.password" = 739184`: a secret of the wrong type is a secret all the same.
            Some(key) if secret_option(key) => {
                format!("{key} must be {} (value not shown)", wrong.expected)
            }
            Some(key) => wrong.of_key(key),
            None => wrong.to_string(),
        };
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        return format!("unknown key {rest}{}", meant(rest));
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        return format!("missing key {rest}");
    }
    // The TOML parser's words for `20000000000000000000`, which name neither the limit nor
    // the key (the parser gives up before a key is known).
    if message.trim() == "number too large to fit in target type" {
        let what = key.map_or_else(
            || "a whole number".to_string(),
            |k| format!("{k}: a whole number"),
        );
        return format!(
            "{what} is at most {} (this one has more digits than fit); write the value meant",
            i64::MAX
        );
    }
    // The TOML parser's syntax errors come on two lines, what is wrong and what it expected:
    // one line keeps `file:line: message` whole, in a terminal and in a log record.
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
}

/// Whether `key` (as [`toml_message`] names it) is a `[kafka.options]` entry holding a secret.
fn secret_option(key: &str) -> bool {
    key.strip_prefix("kafka.options.")
        .is_some_and(|name| super::is_secret_option(name.trim_matches('"')))
}

/// "; did you mean `clock`?" for serde's "`clok`, expected one of `rules`, …, `clock`".
fn meant(rest: &str) -> String {
    let Some((key, expected)) = rest.split_once(", expected one of ") else {
        return String::new();
    };
    let key = key.trim_matches('`');
    let names = expected.split(", ").map(|n| n.trim_matches('`'));
    crate::rules::check::suggest(key, names)
}

/// A value of the wrong type or range, as an operator reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrongValue {
    /// What the value must be: "a whole number of 0 or more", "text in quotes", "a list".
    pub expected: String,
    /// What it is: `-1`, `"x"`, `a list`.
    pub got: String,
}

impl WrongValue {
    /// Reads serde's message of a value of the wrong type, range or length; `None` for any
    /// other message (a syntax error, an unknown key), which is plain enough as it is.
    pub fn of(message: &str) -> Option<WrongValue> {
        let message = message.trim_end();
        if let Some(rest) = message
            .strip_prefix("invalid type: ")
            .or_else(|| message.strip_prefix("invalid value: "))
        {
            // The expected part is a type's description, never a value, so it holds no comma.
            let (got, expected) = rest.rsplit_once(", expected ")?;
            return Some(WrongValue {
                expected: expected_words(expected),
                got: got_words(got),
            });
        }
        let rest = message.strip_prefix("invalid length ")?;
        let (length, expected) = rest.rsplit_once(", expected ")?;
        Some(WrongValue {
            expected: expected_words(expected),
            got: format!("{length} items"),
        })
    }

    /// "`key` must be …, not …".
    pub fn of_key(&self, key: &str) -> String {
        format!("{key} must be {}, not {}", self.expected, self.got)
    }
}

impl std::fmt::Display for WrongValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "expected {}, not {}", self.expected, self.got)
    }
}

/// Serde's `expected` text (a Rust type, or a visitor's description) in words.
fn expected_words(expected: &str) -> String {
    let words = match expected {
        "u8" => "a whole number from 0 to 255",
        "u16" => "a whole number from 0 to 65535",
        "u32" | "u64" | "u128" | "usize" => "a whole number of 0 or more",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "a boolean" => "true or false",
        "a string" | "a borrowed string" => "text in quotes",
        "path string" => "a path in quotes",
        "a character" | "a char" => "one character in quotes",
        "a sequence" => "a list in brackets",
        "a map" => "a table",
        other if other.starts_with("struct ") => "a table",
        other => {
            // `an array of length 4`, `a tuple of size 2`
            let count = other
                .strip_prefix("an array of length ")
                .or_else(|| other.strip_prefix("a tuple of size "));
            return match count {
                Some(n) => format!("a list of {n} items"),
                None => other.to_string(),
            };
        }
    };
    words.to_string()
}

/// Serde's `Unexpected` text (``integer `30` ``, `string "x"`, `sequence`) in words.
fn got_words(got: &str) -> String {
    // A string keeps its quotes, so that it reads as the text it is.
    if let Some(text) = got.strip_prefix("string ") {
        return text.to_string();
    }
    for kind in ["integer ", "floating point ", "boolean ", "character "] {
        if let Some(value) = got.strip_prefix(kind) {
            return value.trim_matches('`').to_string();
        }
    }
    match got {
        "sequence" => "a list".to_string(),
        "map" => "a table".to_string(),
        "unit value" => "nothing".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(message: &str) -> String {
        WrongValue::of(message).expect(message).to_string()
    }

    #[test]
    fn rust_and_serde_terms_become_plain_words() {
        for (serde, words) in [
            (
                "invalid value: integer `-1`, expected usize",
                "expected a whole number of 0 or more, not -1",
            ),
            (
                "invalid type: string \"many\", expected usize",
                "expected a whole number of 0 or more, not \"many\"",
            ),
            (
                "invalid type: floating point `3.5`, expected u64",
                "expected a whole number of 0 or more, not 3.5",
            ),
            (
                "invalid type: string \"two\", expected i64",
                "expected a whole number, not \"two\"",
            ),
            (
                "invalid type: string \"half\", expected f64",
                "expected a number, not \"half\"",
            ),
            (
                "invalid type: integer `30`, expected a string",
                "expected text in quotes, not 30",
            ),
            (
                "invalid type: string \"yes\", expected a boolean",
                "expected true or false, not \"yes\"",
            ),
            (
                "invalid type: string \"x\", expected a sequence",
                "expected a list in brackets, not \"x\"",
            ),
            (
                "invalid type: integer `5`, expected struct RulesConfig",
                "expected a table, not 5",
            ),
            (
                "invalid type: sequence, expected a map",
                "expected a table, not a list",
            ),
            (
                "invalid length 2, expected an array of length 4",
                "expected a list of 4 items, not 2 items",
            ),
        ] {
            assert_eq!(plain(serde), words, "{serde}");
        }
        // A string holding serde's separator is still read whole.
        assert_eq!(
            plain("invalid type: string \"a, expected b\", expected usize"),
            "expected a whole number of 0 or more, not \"a, expected b\""
        );
    }

    #[test]
    fn other_messages_are_left_as_they_are() {
        for message in [
            "unknown field `bootstrap`, expected one of `bootstrap_servers`, `group_id`",
            "missing field `tags`",
            "invalid inline table\nexpected `}`",
        ] {
            assert_eq!(WrongValue::of(message), None, "{message}");
        }
        assert_eq!(
            toml_message(
                "invalid type: integer `30`, expected a string",
                Some("clock.idle_after"),
                Some("30"),
            ),
            "clock.idle_after must be text in quotes, not 30"
        );
        // A date is written as a date, not as the table serde sees.
        assert_eq!(
            toml_message(
                "invalid type: map, expected a string",
                Some("groups.service.ttl"),
                Some("2024-01-01"),
            ),
            "groups.service.ttl must be text in quotes, not 2024-01-01 (a date or time)"
        );
        assert_eq!(
            toml_message(
                "invalid type: map, expected a string",
                Some("clock"),
                Some("{ a = 1 }"),
            ),
            "clock must be text in quotes, not a table"
        );
        assert_eq!(
            toml_message(
                "unknown field `groupid`, expected one of `group_id`",
                None,
                None
            ),
            "unknown key `groupid`, expected one of `group_id`; did you mean `group_id`?"
        );
        assert_eq!(
            toml_message(
                "unknown field `clok`, expected one of `rules`, `kafka`, `state`, `clock`, `http`",
                None,
                None
            ),
            "unknown key `clok`, expected one of `rules`, `kafka`, `state`, `clock`, `http`; \
             did you mean `clock`?"
        );
        // A syntax error on two lines is one line: `file:line: message` stays whole.
        assert_eq!(
            toml_message("invalid table header\nexpected `.`, `]`\n", None, None),
            "invalid table header: expected `.`, `]`"
        );
    }
}
