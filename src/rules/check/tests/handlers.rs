//! Which files are rules, and the handlers they define: names, parameters and their order.

use super::*;

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

/// A rule filed in a subdirectory is not loaded: the check says so for each one; the tests
/// directory and hidden directories are not looked into.
#[test]
fn rules_in_a_subdirectory_are_named_as_not_loaded() {
    let f = Fixture::shipped_with("extra.rhai", HANDLER, |p| p);
    let rules = f.dir.path().join("rules");
    for dir in ["vip", ".git", "tests"] {
        std::fs::create_dir_all(rules.join(dir)).unwrap();
        std::fs::write(rules.join(dir).join("vip.rhai"), HANDLER).unwrap();
    }
    let c = f.check(&[]);
    assert_eq!(c.errors(), 0, "{:#?}", shown(&c));
    find(
        &c,
        &format!("{}: warning:", f.path("rules/vip/vip.rhai")),
        "in a subdirectory, so not loaded: rules are the .rhai files directly in",
    );
    let nested: Vec<String> = shown(&c)
        .into_iter()
        .filter(|l| l.contains("subdirectory"))
        .collect();
    assert_eq!(nested.len(), 1, "{nested:#?}");
}

/// A handler's parameters in the other order are a mistake (arguments go by position); one
/// missing a parameter its body uses is named as the cause of Rhai's "Undefined variable".
#[test]
fn handlers_with_swapped_or_missing_parameters_are_named() {
    let f = Fixture::shipped_with(
        "handlers2.rhai",
        "fn on_tick(now, user) {\n    user.wake_in(days(1));\n}\n\nfn on_click(user, event) {\n    tag(\"intent/price\");\n}\n",
        |p| p,
    );
    let c = f.check(&[]);
    let rule = f.path("rules/handlers2.rhai");
    find(
        &c,
        &format!("{rule}:1: handler `on_tick` takes (user, now): these two are swapped"),
        "so `now` holds what `user` should",
    );
    find(
        &c,
        &format!("{rule}:5: handler `on_click` takes (event, user)"),
        "swapped",
    );
    let f = Fixture::shipped_with(
        "handlers3.rhai",
        "fn on_chat(event) {\n    if user.events > 1 { tag(\"intent/price\"); }\n}\n",
        |p| p,
    );
    let c = f.check(&[]);
    let rule = f.path("rules/handlers3.rhai");
    find(
        &c,
        &format!("{rule}:1:"),
        "handler `on_chat` must take 2 parameters (event, user), not 1",
    );
    find(&c, &format!("{rule}:2:"), "Undefined variable: user");
}
