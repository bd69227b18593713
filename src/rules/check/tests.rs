use std::path::{Path, PathBuf};

use super::*;

mod event_fields;
mod handlers;
mod params;

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

/// `tag(name, 4.5)` finds no `tag` at run time (the second argument is a reason or options),
/// so every call would fail: an error. A duration written as a small number is milliseconds
/// wherever a duration is taken: a warning.
#[test]
fn a_score_for_a_reason_and_unitless_durations_are_named() {
    let f = Fixture::shipped_with(
        "scored.rhai",
        r#"fn on_order(event, user) {
    tag("intent/price", 4.5);
    tag("intent/price", true);
    tag("intent/price", `paid ${event.amount}`);
    user.wake_in(30);
    let n = user.count("chat", 14);
    let m = user.count("chat", days(14));
    user.wake_in(60000);
}
"#,
        |p| p,
    );
    let c = f.check(&[]);
    let rule = f.path("rules/scored.rhai");
    find(
        &c,
        &format!("{rule}:2: tag(): the second argument is a reason (text) or options"),
        "not a number; a score is written tag(name, #{score: …})",
    );
    find(&c, &format!("{rule}:3: tag():"), "not true or false");
    find(
        &c,
        &format!("{rule}:5: warning: user.wake_in(): 30:"),
        "this is 30 ms; write \"30d\"",
    );
    find(
        &c,
        &format!("{rule}:6: warning: user.count(): 14:"),
        "14 ms",
    );
    assert_eq!(c.errors(), 2, "{:#?}", shown(&c));
    for line in [4, 7, 8] {
        assert!(
            !shown(&c)
                .iter()
                .any(|l| l.contains(&format!("{rule}:{line}:"))),
            "{:#?}",
            shown(&c)
        );
    }
}

/// Case labels of any `switch` are read from the text (Rhai keeps only their hashes): one
/// shaped like a tag of a declared group but not declared is a typo.
#[test]
fn tag_shaped_switch_labels_are_checked() {
    let f = Fixture::shipped_with(
        "labels.rhai",
        r#"fn on_click(event, user) {
    switch event.target { "activity/hihg" => tag("intent/price"), _ => () }
    let level = "activity/high";
    switch level {
        "activity/high" | "activity/lwo" => 1,
        "other" => 2,
        _ => 3
    }
}
"#,
        |p| p,
    );
    let c = f.check(&[]);
    let rule = f.path("rules/labels.rhai");
    find(&c, &format!("{rule}:2:"), "did you mean `activity/high`?");
    find(&c, &format!("{rule}:5:"), "did you mean `activity/low`?");
    assert_eq!(c.errors(), 2, "{:#?}", shown(&c));
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
