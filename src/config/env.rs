//! `TAGSTREAM_<SECTION>__<KEY>=value` overrides, applied to a parsed TOML table before it is
//! turned into typed config.
//!
//! The value is typed after the key's current (or default) value: booleans, integers, floats,
//! comma-separated lists, or strings. `TAGSTREAM_KAFKA__OPTIONS__SASL_USERNAME` sets the
//! librdkafka option `sasl.username` (underscores become dots).

use toml::{Table, Value};

use super::ConfigError;

/// Applies every `TAGSTREAM_*__*` variable whose section `owns_section` accepts. Variables of
/// sections it does not own are left for another config file (rule parameters); a variable for
/// an owned section with an unknown key is an error.
pub fn apply_env_overrides(
    table: &mut Table,
    defaults: &Table,
    vars: &[(String, String)],
    owns_section: impl Fn(&str) -> bool,
) -> Result<(), ConfigError> {
    for (var, value) in vars {
        let Some(rest) = var.strip_prefix("TAGSTREAM_") else {
            continue;
        };
        let parts: Vec<String> = rest.split("__").map(|p| p.to_lowercase()).collect();
        let err = |message: String| ConfigError::Env {
            var: var.clone(),
            message,
        };
        let known = |section: &str| table.contains_key(section) || defaults.contains_key(section);
        if parts.len() < 2 {
            // `TAGSTREAM_CLOCK_MAX_FUTURE`: a section of ours followed by one underscore is an
            // override that would otherwise be ignored without a word.
            let name = &parts[0];
            let split = name
                .match_indices('_')
                .map(|(at, _)| (&name[..at], &name[at + 1..]))
                .find(|(section, key)| !key.is_empty() && owns_section(section) && known(section));
            if let Some((section, key)) = split {
                return Err(err(format!(
                    "a section and its key are joined by two underscores; did you mean \
                     TAGSTREAM_{}__{}?",
                    section.to_uppercase(),
                    key.to_uppercase()
                )));
            }
            // `TAGSTREAM_BOOTSTRAP_SERVERS`, `TAGSTREAM_STATEDIR`: a key of ours without its
            // section, or joined to it with no underscore, sets nothing either.
            let sections = table.iter().chain(defaults.iter());
            let meant: std::collections::BTreeSet<String> = sections
                .filter(|(section, value)| owns_section(section) && value.is_table())
                .flat_map(|(section, value)| {
                    let keys = value.as_table().into_iter().flat_map(Table::keys);
                    keys.map(move |key| (section.as_str(), key.as_str()))
                })
                .filter(|(section, key)| *name == **key || *name == format!("{section}{key}"))
                .map(|(section, key)| {
                    format!(
                        "TAGSTREAM_{}__{}",
                        section.to_uppercase(),
                        key.to_uppercase()
                    )
                })
                .collect();
            if !meant.is_empty() {
                let meant: Vec<String> = meant.into_iter().collect();
                return Err(err(format!(
                    "names no section: an override is TAGSTREAM_<SECTION>__<KEY>; did you mean \
                     {}?",
                    meant.join(" or ")
                )));
            }
            // `TAGSTREAM_STATE=/var/lib/tagstream`: a section with no key sets nothing.
            // `TAGSTREAM_LOG` is the log filter, whatever a rule's parameters are called.
            if name != "log" && owns_section(name) && known(name) {
                let mut keys: Vec<&str> = [table.get(name), defaults.get(name)]
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_table)
                    .flat_map(Table::keys)
                    .map(String::as_str)
                    .collect();
                let mut seen = std::collections::BTreeSet::new();
                keys.retain(|k| seen.insert(*k));
                return Err(err(format!(
                    "names the section [{name}] but no key; set one key as TAGSTREAM_{}__<KEY> \
                     ({})",
                    name.to_uppercase(),
                    keys.join(", ")
                )));
            }
            continue;
        }
        let section = &parts[0];
        if !owns_section(section) {
            continue;
        }
        if !known(section) {
            let sections = table
                .keys()
                .chain(defaults.keys())
                .map(String::as_str)
                .chain(super::ENGINE_SECTIONS);
            let hint = crate::rules::check::nearest(section, sections)
                .map(|s| {
                    let rest: Vec<String> = parts[1..].iter().map(|p| p.to_uppercase()).collect();
                    format!(
                        "; did you mean TAGSTREAM_{}__{}?",
                        s.to_uppercase(),
                        rest.join("__")
                    )
                })
                .unwrap_or_default();
            return Err(err(format!(
                "no section [{section}] in the engine config or the rule parameters to \
                 override{hint}"
            )));
        }
        let section_table = table
            .entry(section.clone())
            .or_insert_with(|| Value::Table(Table::new()))
            .as_table_mut()
            .ok_or_else(|| err(format!("[{section}] is not a table")))?;
        let default_section = defaults.get(section).and_then(Value::as_table);
        if section == "kafka" && parts.len() == 3 && parts[1] == "options" {
            let key = parts[2].replace('_', ".");
            let options = section_table
                .entry("options")
                .or_insert_with(|| Value::Table(Table::new()))
                .as_table_mut()
                .ok_or_else(|| err("[kafka.options] is not a table".into()))?;
            options.insert(key, Value::String(value.clone()));
            continue;
        }
        if parts.len() != 2 {
            return Err(err(format!(
                "expected TAGSTREAM_{}__KEY",
                section.to_uppercase()
            )));
        }
        let key = &parts[1];
        let template = section_table
            .get(key)
            .or_else(|| default_section.and_then(|d| d.get(key)))
            .ok_or_else(|| {
                let keys = section_table
                    .keys()
                    .chain(default_section.into_iter().flat_map(Table::keys))
                    .map(String::as_str);
                let hint = crate::rules::check::nearest(key, keys)
                    .map(|k| {
                        format!(
                            "; did you mean TAGSTREAM_{}__{}?",
                            section.to_uppercase(),
                            k.to_uppercase()
                        )
                    })
                    .unwrap_or_default();
                err(format!("unknown key `{key}` in section [{section}]{hint}"))
            })?;
        if template.is_table() {
            // `[kafka.options]` is set one option at a time; a whole table has no text form.
            let how = if section == "kafka" && key == "options" {
                "set each option as TAGSTREAM_KAFKA__OPTIONS__<NAME>, underscores for dots \
                 (TAGSTREAM_KAFKA__OPTIONS__SECURITY_PROTOCOL=SASL_SSL)"
                    .to_string()
            } else {
                format!("set it in the file, as [{section}.{key}]")
            };
            return Err(err(format!("{section}.{key} is a table: {how}")));
        }
        let typed = typed_like(template, value).ok_or_else(|| {
            // Digits that do not fit are a whole number all the same: say what is wrong.
            let digits = value.trim().trim_start_matches('-');
            let too_large = matches!(template, Value::Integer(_))
                && !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit());
            if too_large {
                err(format!("{value:?} is too large (at most {})", i64::MAX))
            } else {
                err(format!("{value:?} is not {}", kind_words(template)))
            }
        })?;
        section_table.insert(key.clone(), typed);
    }
    Ok(())
}

/// What an override of a key holding `template` must be, in words.
fn kind_words(template: &Value) -> &'static str {
    match template {
        Value::Boolean(_) => "true or false (or yes/no, on/off, 1/0)",
        Value::Integer(_) => "a whole number",
        Value::Float(_) => "a number",
        Value::Array(items) => match items.first() {
            Some(Value::Integer(_)) => "a comma-separated list of whole numbers",
            Some(Value::Float(_)) => "a comma-separated list of numbers",
            Some(Value::Boolean(_)) => "a comma-separated list of true or false",
            _ => "a comma-separated list",
        },
        _ => "text",
    }
}

fn typed_like(template: &Value, text: &str) -> Option<Value> {
    Some(match template {
        Value::Boolean(_) => Value::Boolean(match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return None,
        }),
        Value::Integer(_) => Value::Integer(text.trim().parse().ok()?),
        Value::Float(_) => Value::Float(text.trim().parse().ok()?),
        Value::Array(items) => {
            let item_template = items
                .first()
                .cloned()
                .unwrap_or(Value::String(String::new()));
            let parsed: Option<Vec<Value>> = text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| typed_like(&item_template, s))
                .collect();
            Value::Array(parsed?)
        }
        _ => Value::String(text.to_string()),
    })
}
