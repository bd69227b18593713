use std::path::{Path, PathBuf};

use super::*;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A rule set in a temporary directory: the shipped catalogue and parameters (the latter
/// edited by `params`), and `rules` as (file name, text).
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(rules: &[(&str, &str)], params: impl Fn(String) -> String) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("rules")).unwrap();
        for (name, text) in rules {
            std::fs::write(dir.path().join("rules").join(name), text).unwrap();
        }
        std::fs::copy(
            repo().join("config/tags.toml"),
            dir.path().join("tags.toml"),
        )
        .unwrap();
        let shipped = std::fs::read_to_string(repo().join("config/params.toml")).unwrap();
        std::fs::write(dir.path().join("params.toml"), params(shipped)).unwrap();
        Fixture { dir }
    }

    /// The shipped rules with one of them replaced or added.
    fn shipped_with(name: &str, text: &str, params: impl Fn(String) -> String) -> Fixture {
        let mut rules: Vec<(String, String)> = ["activity", "keywords", "lifecycle", "rfm"]
            .iter()
            .map(|r| {
                let file = format!("{r}.rhai");
                let text = std::fs::read_to_string(repo().join("rules").join(&file)).unwrap();
                (file, text)
            })
            .collect();
        rules.retain(|(f, _)| f != name);
        rules.push((name.to_string(), text.to_string()));
        let refs: Vec<(&str, &str)> = rules
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        Fixture::new(&refs, params)
    }

    fn check(&self, vars: &[(&str, &str)]) -> Checked {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        check(
            &Sources {
                rules_dir: self.dir.path().join("rules"),
                catalogue: self.dir.path().join("tags.toml"),
                params: self.dir.path().join("params.toml"),
            },
            &vars,
        )
    }

    fn path(&self, rel: &str) -> String {
        self.dir.path().join(rel).display().to_string()
    }
}

fn shown(checked: &Checked) -> Vec<String> {
    checked
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// The one diagnostic that starts with `prefix` and contains `text`, or a panic listing all.
fn find<'a>(checked: &'a Checked, prefix: &str, text: &str) -> &'a Diagnostic {
    checked
        .diagnostics
        .iter()
        .find(|d| d.to_string().starts_with(prefix) && d.to_string().contains(text))
        .unwrap_or_else(|| panic!("no `{prefix}…{text}` in {:#?}", shown(checked)))
}

const HANDLER: &str = "fn on_chat(event, user) {\n    tag(\"intent/price\");\n}\n";

#[test]
fn the_shipped_pack_is_clean() {
    let checked = check(
        &Sources {
            rules_dir: repo().join("rules"),
            catalogue: repo().join("config/tags.toml"),
            params: repo().join("config/params.toml"),
        },
        &[],
    );
    assert!(checked.diagnostics.is_empty(), "{:#?}", shown(&checked));
    assert!(checked.pack.is_some());
}

#[test]
fn unknown_functions_and_methods_are_errors_with_the_nearest_name() {
    let f = Fixture::shipped_with(
        "typos.rhai",
        "fn on_chat(event, user) {\n    user.sett(\"k\", 1);\n    let n = user.cuont(\"chat\", days(1));\n    tagg(\"intent/price\");\n    tag(\"intent/price\", \"a\", \"b\");\n    helper(1);\n}\nfn helper(a, b) { a }\n",
        |p| p,
    );
    let c = f.check(&[]);
    let rule = f.path("rules/typos.rhai");
    assert!(
        find(&c, &format!("{rule}:2:"), "unknown method `sett` on User")
            .message
            .contains("did you mean `set`?")
    );
    find(&c, &format!("{rule}:3:"), "did you mean `count`?");
    find(
        &c,
        &format!("{rule}:4:"),
        "unknown function `tagg`; did you mean `tag`?",
    );
    find(
        &c,
        &format!("{rule}:5:"),
        "`tag` takes 1 or 2 argument(s), not 3",
    );
    find(
        &c,
        &format!("{rule}:6:"),
        "`helper` takes 2 argument(s), not 1",
    );
    assert!(c.pack.is_none());
    assert_eq!(c.errors(), 5, "{:#?}", shown(&c));
}

#[test]
fn misspelt_handlers_and_wrong_parameters_are_errors() {
    let f = Fixture::shipped_with(
        "handlers.rhai",
        "fn on_clicks(event, user) {\n    tag(\"intent/price\");\n}\n\nfn on_chat(event) {\n    tag(\"intent/price\");\n}\n",
        |p| p,
    );
    let c = f.check(&[]);
    let rule = f.path("rules/handlers.rhai");
    find(&c, &format!("{rule}:1:"), "did you mean `on_click`?");
    find(
        &c,
        &format!("{rule}:5:"),
        "handler `on_chat` must take 2 parameters",
    );
    // The same name but for case and underscores, beside a handler that does run.
    for name in ["onchat", "onChat", "On_chat", "ON_CHAT"] {
        let f = Fixture::shipped_with(
            "handlers.rhai",
            &format!("fn on_click(event, user) {{ }}\n\nfn {name}(event, user) {{\n    tag(\"intent/price\");\n}}\n"),
            |p| p,
        );
        let c = f.check(&[]);
        let rule = f.path("rules/handlers.rhai");
        find(&c, &format!("{rule}:3:"), "did you mean `on_chat`?");
        assert!(c.errors() > 0, "{name}: {:?}", shown(&c));
    }
}

#[test]
fn event_fields_tag_options_durations_and_event_types_are_checked_as_written() {
    let f = Fixture::shipped_with(
        "literals.rhai",
        r#"fn on_order(event, user) {
    let a = event.amout;
    tag("intent/price", #{ reason: "x", ttll: "7d" });
    tag("intent/price", #{ ttl: "7 days" });
    let n = user.count("clik", days(7));
    if event.type == "oder" { untag("vip/gold"); }
    user.wake_in("soon");
    let g = user.tag_in("lifecycles");
    let k = switch event.type { "chat" => 1, "clik" => 2, _ => 0 };
    tag("intent/price", #{ score: "high" });
    tag("intent/price", #{ score: 0.5, reason: "fine" });
}
"#,
        |p| p,
    );
    let c = f.check(&[]);
    let rule = f.path("rules/literals.rhai");
    find(
        &c,
        &format!("{rule}:2:"),
        "Event has no property `amout`; did you mean `amount`?",
    );
    find(&c, &format!("{rule}:3:"), "unknown option `ttll`");
    find(&c, &format!("{rule}:4:"), "\"7 days\" is not a duration");
    find(&c, &format!("{rule}:5:"), "unknown event type \"clik\"");
    find(&c, &format!("{rule}:6:"), "unknown event type \"oder\"");
    find(
        &c,
        &format!("{rule}:6:"),
        "tag \"vip/gold\" is not declared",
    );
    find(&c, &format!("{rule}:7:"), "\"soon\" is not a duration");
    find(
        &c,
        &format!("{rule}:8:"),
        "group \"lifecycles\" is not declared",
    );
    find(&c, &format!("{rule}:9:"), "unknown event type \"clik\"");
    find(
        &c,
        &format!("{rule}:10:"),
        "score must be a number, not text",
    );
    assert!(
        !shown(&c).iter().any(|l| l.contains(&format!("{rule}:11:"))),
        "{:?}",
        shown(&c)
    );
}

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

#[test]
fn warnings_do_not_fail_the_check() {
    let f = Fixture::shipped_with(
        "zz_levels.rhai",
        "fn on_click(event, user) {\n    tag(\"activity/high\");\n}\n",
        |p| p,
    );
    std::fs::write(f.dir.path().join("rules/empty.rhai"), "fn helper() { 1 }\n").unwrap();
    let c = f.check(&[]);
    assert_eq!(c.errors(), 0, "{:#?}", shown(&c));
    find(
        &c,
        &format!("{}: warning:", f.path("rules/empty.rhai")),
        "no handler",
    );
    find(
        &c,
        &format!("{}:2: warning:", f.path("rules/zz_levels.rhai")),
        "exclusive group `activity` is also written by rule `activity`",
    );
    assert!(c.pack.is_some());
}

#[test]
fn every_file_reports_its_own_errors_in_one_run() {
    let f = Fixture::new(
        &[
            ("a.rhai", "fn on_chat(event, user) {\n    let x = ;\n}\n"),
            (
                "b.rhai",
                "fn on_chat(event, user) {\n    tag(\"vip/gold\");\n}\n",
            ),
        ],
        |p| p,
    );
    std::fs::write(
        f.dir.path().join("tags.toml"),
        "[groups.intent]\ntags = [\"price\"]\ncolour = 1\n",
    )
    .unwrap();
    let c = f.check(&[]);
    find(&c, &format!("{}:2:", f.path("rules/a.rhai")), "");
    find(&c, &format!("{}:3:", f.path("tags.toml")), "colour");
    assert!(c.errors() >= 2, "{:#?}", shown(&c));
}

#[test]
fn diagnostics_read_as_file_line_message() {
    let d = Diagnostic::error("rules/a.rhai", Some(3), "boom");
    assert_eq!(d.to_string(), "rules/a.rhai:3: boom");
    let w = Diagnostic::warning(Path::new("p.toml").display().to_string(), None, "hm");
    assert_eq!(w.to_string(), "p.toml: warning: hm");
}

#[test]
fn a_misspelt_tag_kept_in_a_variable_is_an_error_with_the_nearest_tag() {
    let f = Fixture::new(
        &[(
            "level.rhai",
            r#"fn on_chat(event, user) {
    let level = if user.events > 3 { "activity/hihg" } else { "activity/low" };
    if user.tag_in("activity") != "activity/meduim" {
        tag(level, "a/b is not a tag, nor is path/to/x");
    }
    tag("activity/hgih");
}
"#,
        )],
        |p| p,
    );
    let checked = f.check(&[]);
    let rule = f.path("rules/level.rhai");
    let d = find(&checked, &format!("{rule}:2:"), "\"activity/hihg\"");
    assert!(
        d.to_string()
            .ends_with("though `activity` is one of its groups; did you mean `activity/high`?"),
        "{d}"
    );
    find(
        &checked,
        &format!("{rule}:3:"),
        "did you mean `activity/medium`?",
    );
    // `tag()` reports its own literal, once.
    let line6: Vec<String> = shown(&checked)
        .into_iter()
        .filter(|d| d.starts_with(&format!("{rule}:6:")))
        .collect();
    assert_eq!(line6.len(), 1, "{line6:#?}");
    assert_eq!(checked.errors(), 3, "{:#?}", shown(&checked));
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

#[test]
fn findings_of_a_loaded_set_are_printed_as_warnings_under_a_label() {
    let findings = [
        Diagnostic::warning("p.toml", Some(5), "[x]: no rule reads this section"),
        Diagnostic::error("r/x.rhai", Some(1), "`on_evnt` is named like a handler"),
    ];
    assert_eq!(
        finding_lines("new rules: ", &findings),
        [
            "new rules: r/x.rhai:1: warning: `on_evnt` is named like a handler",
            "new rules: p.toml:5: warning: [x]: no rule reads this section",
            "new rules: warning: `tagstream check` fails on these rules (1 error(s) above); they load, and run as they are",
        ]
    );
    assert_eq!(
        finding_lines("", &findings[..1]),
        ["p.toml:5: warning: [x]: no rule reads this section"]
    );
    assert!(finding_lines("", &[]).is_empty());
}

#[test]
fn findings_of_a_loaded_set_include_its_warnings() {
    let f = Fixture::shipped_with("zz_helper.rhai", "fn helper(x) { x + 1 }\n", |p| p);
    let found = findings(
        &Sources {
            rules_dir: f.dir.path().join("rules"),
            catalogue: f.dir.path().join("tags.toml"),
            params: f.dir.path().join("params.toml"),
        },
        &[],
    );
    let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [format!(
            "{}: warning: no handler (on_chat, on_click, on_order, on_event, on_tick): this rule never runs",
            f.path("rules/zz_helper.rhai")
        )]
    );
}

/// Rule scripts are `*.rhai` in any case; hidden files beside them (an editor's lock or swap
/// file) are not rules; a byte-order mark opening a script is not part of it.
#[test]
fn rule_files_are_scripts_not_what_editors_leave_beside_them() {
    let dir = tempfile::tempdir().unwrap();
    let script = "fn on_chat(event, user) {\n    tag(\"intent/price\", \"asked\");\n}\n";
    std::fs::write(dir.path().join("a.rhai"), format!("\u{feff}{script}")).unwrap();
    std::fs::write(dir.path().join("B.RHAI"), script).unwrap();
    std::fs::write(dir.path().join(".#a.rhai"), "half written {").unwrap();
    std::fs::write(dir.path().join(".a.rhai"), "half written {").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a rule").unwrap();
    let rules = read_rules(dir.path()).unwrap();
    let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["B", "a"]);
    assert_eq!(rules[1].text, script);
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
