//! What check says of parameters: values of the wrong kind, keys and sections the rules and
//! the file disagree on, overrides, and the loader saying the same.

use super::*;

#[test]
fn parameters_are_checked_against_what_the_rules_read() {
    let f = Fixture::shipped_with(
        "activity.rhai",
        &std::fs::read_to_string(repo().join("rules/activity.rhai"))
            .unwrap()
            .replace("activity::weight_click", "activity::weight_clik"),
        |p| {
            p.replace("half_life = \"7d\"", "half_life = \"7 days\"")
                .replace("high_enter = 10.0", "high_enter = \"10\"")
                .replace(
                    "weights = [0.4, 0.3, 0.2, 0.1]",
                    "weights = [0.4, 0.3, 0.2]",
                )
                .replace("new_for = \"7d\"", "new_for = \"7d\"\nnew_fro = \"7d\"")
                .replace("mature_orders = 3 ", "mature_orders = 3.5 ")
        },
    );
    let c = f.check(&[]);
    let params = f.path("params.toml");
    let rule = f.path("rules/activity.rhai");
    find(
        &c,
        &format!("{params}:6:"),
        "half_life = \"7 days\": must be a duration",
    );
    find(
        &c,
        &format!("{params}:10:"),
        "high_enter = \"10\": must be a number",
    );
    find(
        &c,
        &format!("{params}:18:"),
        "mature_orders = 3.5: must be a whole number of 0 or more",
    );
    find(
        &c,
        &format!("{rule}:15:"),
        "`activity::weight_clik` is not in",
    );
    find(
        &c,
        &format!("{params}:8:"),
        "weight_click: no rule reads this key",
    );
    find(
        &c,
        &format!("{params}:25:"),
        "new_fro: no rule reads this key",
    );
    find(
        &c,
        &format!("{params}:"),
        "weights = [0.4, 0.3, 0.2]: must be a list of 4 numbers",
    );
    assert!(c.pack.is_none());
}

#[test]
fn an_environment_override_is_named_when_it_is_wrong() {
    let f = Fixture::shipped_with("extra.rhai", HANDLER, |p| p);
    let c = f.check(&[("TAGSTREAM_ACTIVITY__HALF_LIFE", "7 days")]);
    find(
        &c,
        "environment variable TAGSTREAM_ACTIVITY__HALF_LIFE",
        "must be a duration",
    );
    // Digits that do not fit are named as too large, not as "not a whole number".
    let c = f.check(&[("TAGSTREAM_LIFECYCLE__MATURE_ORDERS", "99999999999999999999")]);
    find(
        &c,
        "environment variable TAGSTREAM_LIFECYCLE__MATURE_ORDERS",
        "\"99999999999999999999\" is too large (at most 9223372036854775807)",
    );
    let c = f.check(&[("TAGSTREAM_LIFECYCLE__MATURE_ORDERS", "three")]);
    find(
        &c,
        "environment variable TAGSTREAM_LIFECYCLE__MATURE_ORDERS",
        "\"three\" is not a whole number",
    );
}

#[test]
fn a_section_the_rules_lack_is_reported_where_it_is_read() {
    let f = Fixture::shipped_with(
        "extra.rhai",
        "fn on_chat(event, user) {\n    if user.events > vip::threshold { tag(\"intent/price\"); }\n}\n",
        |p| p,
    );
    let c = f.check(&[]);
    find(
        &c,
        &format!("{}:2:", f.path("rules/extra.rhai")),
        "has no [vip] section",
    );
}

/// Every finding of `checked` is said once.
fn assert_no_repeats(checked: &Checked) {
    let all = shown(checked);
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), all.len(), "{all:#?}");
}

#[test]
fn a_misspelt_section_is_one_finding_at_its_first_read() {
    let f = Fixture::shipped_with("extra.rhai", HANDLER, |p| {
        p.replace("[activity]", "[activty]")
    });
    let c = f.check(&[]);
    assert_no_repeats(&c);
    let rule = f.path("rules/activity.rhai");
    let params = f.path("params.toml");
    let missing: Vec<String> = shown(&c)
        .into_iter()
        .filter(|d| d.contains("has no [activity] section"))
        .collect();
    // 13 places read it: lines 14, 15, 16, 18, 22, 27 (two keys), 29, 30, 42 (two), 43 (two).
    assert_eq!(
        missing,
        [format!(
            "{rule}:14: `activity::weight_chat`: {params} has no [activity] section (read at 12 more places); did you mean `activty`?"
        )]
    );
    // The section that no rule reads points back at the read.
    find(
        &c,
        &format!("{params}:5: warning:"),
        &format!(
            "[activty]: no rule reads this section; {rule}:14 reads [activity], which this file lacks"
        ),
    );
    assert_eq!(c.errors(), 1, "{:#?}", shown(&c));
}

#[test]
fn a_missing_key_is_reported_once_at_each_place_it_is_written() {
    let f = Fixture::shipped_with("extra.rhai", HANDLER, |p| {
        p.replace("half_life = \"7d\"\n", "")
    });
    let c = f.check(&[]);
    assert_no_repeats(&c);
    let rule = f.path("rules/activity.rhai");
    // Line 42 reads it as a value and passes it as a duration: one finding still.
    let lines: Vec<String> = shown(&c)
        .into_iter()
        .filter(|d| d.contains("`activity::half_life` is not in"))
        .map(|d| d[..d.find(": `").unwrap()].to_string())
        .collect();
    assert_eq!(
        lines,
        [18, 22, 42, 43].map(|l| format!("{rule}:{l}")),
        "{:#?}",
        shown(&c)
    );
}

#[test]
fn a_misspelt_parameter_bound_to_a_variable_is_reported_where_it_is_written() {
    let f = Fixture::new(
        &[(
            "activity.rhai",
            "fn on_chat(event, user) {\n    let w = activity::weigth_chat;\n\n    let y = 1;\n\n    if w > 0.5 && y > 0 { tag(\"intent/price\"); }\n    let z = w + 1;\n}\n",
        )],
        |p| p,
    );
    let c = f.check(&[]);
    let rule = f.path("rules/activity.rhai");
    let params = f.path("params.toml");
    let reads: Vec<String> = shown(&c)
        .into_iter()
        .filter(|d| d.contains("`activity::weigth_chat` is not in"))
        .collect();
    assert_eq!(reads.len(), 1, "{reads:#?}");
    assert!(
        reads[0].starts_with(&format!("{rule}:2:"))
            && reads[0].ends_with("did you mean `weight_chat`?"),
        "{reads:#?}"
    );
    // The key the file has is not to be renamed after the rule's misspelling: the finding names
    // the read and leaves the choice open.
    let key = find(
        &c,
        &format!("{params}:7:"),
        "weight_chat: no rule reads this key",
    );
    assert_eq!(
        key.message,
        format!(
            "[activity] weight_chat: no rule reads this key; {rule}:2 reads `activity::weigth_chat`, which this file lacks: one of the two is misspelt"
        )
    );
    assert!(!key.message.contains("did you mean"), "{key}");
}

#[test]
fn the_loader_reports_a_missing_section_as_check_does() {
    let f = Fixture::shipped_with("extra.rhai", HANDLER, |p| {
        p.replace("[activity]", "[activty]")
    });
    let err = RulePack::load(
        &f.dir.path().join("rules"),
        &f.dir.path().join("tags.toml"),
        &f.dir.path().join("params.toml"),
        &[],
    )
    .unwrap_err()
    .to_string();
    let c = f.check(&[]);
    let finding = find(&c, "", "has no [activity] section");
    assert_eq!(err, finding.to_string());
    assert!(!err.contains("Undefined module"), "{err}");
}

#[test]
fn the_loader_names_the_line_of_a_keyword_tag_the_catalogue_lacks() {
    let f = Fixture::shipped_with("extra.rhai", HANDLER, |p| p);
    let tags = f.dir.path().join("tags.toml");
    let text = std::fs::read_to_string(&tags).unwrap();
    std::fs::write(
        &tags,
        text.replace("tags = [\"price\", \"purchase\"]", "tags = [\"purchase\"]"),
    )
    .unwrap();
    let err = RulePack::load(
        &f.dir.path().join("rules"),
        &tags,
        &f.dir.path().join("params.toml"),
        &[],
    )
    .unwrap_err()
    .to_string();
    let expected = format!(
        "{}:49: [keywords.\"intent/price\"]: tag \"intent/price\" is not declared in the tag catalogue ({})",
        f.path("params.toml"),
        tags.display()
    );
    assert_eq!(err, expected);
    let c = f.check(&[]);
    find(&c, &expected, "");
}

/// A duration of 0 where the shipped parameters have one over 0 (a half-life that never
/// decays, a window that holds nothing) is said, whichever way the 0 is written.
#[test]
fn a_zero_duration_where_the_shipped_one_is_not_is_a_warning() {
    for zero in ["\"0d\"", "0", "\"0ms\""] {
        let f = Fixture::shipped_with("extra.rhai", HANDLER, |p| {
            p.replace("half_life = \"7d\"", &format!("half_life = {zero}"))
        });
        let c = f.check(&[]);
        find(
            &c,
            &format!("{}:6:", f.path("params.toml")),
            "half_life = 0: a duration of 0 where the shipped parameters have \"7d\"",
        );
    }
}

/// `half_life = 7` is 7 ms: said as a warning where the shipped parameters have a duration,
/// but not for the same milliseconds in quotes, nor for a bare number of a second or more,
/// nor for an override, whose digits the documentation gives as milliseconds.
#[test]
fn a_bare_number_under_a_second_for_a_duration_is_a_warning() {
    let with = |value: &str| {
        Fixture::shipped_with("extra.rhai", HANDLER, |p| {
            p.replace("half_life = \"7d\"", &format!("half_life = {value}"))
        })
    };
    let f = with("7");
    let c = f.check(&[]);
    let found = find(
        &c,
        &format!("{}:6:", f.path("params.toml")),
        "half_life = 7: a number without a unit is milliseconds, so this is 7 ms where the shipped parameters have \"7d\"",
    );
    assert!(!found.is_error(), "{}", found.message);
    for quiet in ["\"7ms\"", "604800000", "1000"] {
        let c = with(quiet).check(&[]);
        assert!(
            !c.diagnostics
                .iter()
                .any(|d| d.message.contains("without a unit")),
            "{quiet}: {:?}",
            c.diagnostics
        );
    }
    let c = with("\"7d\"").check(&[("TAGSTREAM_ACTIVITY__HALF_LIFE", "7")]);
    assert!(
        !c.diagnostics
            .iter()
            .any(|d| d.message.contains("without a unit")),
        "{:?}",
        c.diagnostics
    );
}

/// The version of a rule set follows the parameters' values, not how an override's name is
/// written: `TAGSTREAM_activity__half_life` is `TAGSTREAM_ACTIVITY__HALF_LIFE`.
#[test]
fn an_overrides_letter_case_does_not_change_the_version() {
    let f = Fixture::shipped_with("extra.rhai", HANDLER, |p| p);
    let version = |vars: &[(&str, &str)]| {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RulePack::load(
            &f.dir.path().join("rules"),
            &f.dir.path().join("tags.toml"),
            &f.dir.path().join("params.toml"),
            &vars,
        )
        .unwrap()
        .version
        .to_string()
    };
    let upper = version(&[("TAGSTREAM_ACTIVITY__HALF_LIFE", "3d")]);
    assert_eq!(version(&[("TAGSTREAM_activity__half_life", "3d")]), upper);
    assert_eq!(version(&[("TAGSTREAM_Activity__Half_Life", "3d")]), upper);
    assert_ne!(version(&[("TAGSTREAM_ACTIVITY__HALF_LIFE", "4d")]), upper);
    assert_ne!(version(&[]), upper);
}

/// Rules that read parameters from a file that is not there: the file is the thing missing,
/// said once a section.
#[test]
fn a_parameters_file_that_is_not_there_is_named_as_missing() {
    let f = Fixture::shipped_with("extra.rhai", HANDLER, |p| p);
    std::fs::remove_file(f.dir.path().join("params.toml")).unwrap();
    let c = f.check(&[]);
    let params = f.path("params.toml");
    find(
        &c,
        &format!("{}:", f.path("rules/activity.rhai")),
        &format!("{params} does not exist, so it has no [activity] section"),
    );
    let missing = shown(&c)
        .iter()
        .filter(|l| l.contains("does not exist"))
        .count();
    assert_eq!(missing, 3, "{:#?}", shown(&c));
}
