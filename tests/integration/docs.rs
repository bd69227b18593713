//! Every example in `docs/` runs: rule examples are compiled and run, worked examples replayed
//! and compared, parameter and catalogue snippets parsed and held to the shipped files,
//! commands parsed by the real CLI, links followed (JSON examples against the schemas: see
//! `schemas.rs`). A block in a language nothing here checks fails the test.

use std::collections::BTreeSet;
use std::process::Command;

use clap::Parser;
use serde_json::Value;
use tagstream::rules::{Params, RulePack};
use tagstream::tags::Catalogue;

use crate::docs_support::*;
use crate::support::*;

fn examples_of<'a>(blocks: &'a [Block], lang: &str, kind: &str, name: &str) -> &'a Block {
    blocks
        .iter()
        .find(|b| {
            b.lang == lang && (kind.is_empty() || b.has(kind)) && b.get("example") == Some(name)
        })
        .unwrap_or_else(|| panic!("no ```{lang} {kind} example={name} block"))
}

/// The pack a worked example runs on: `pack=DIR` (rules/, tags.toml, params.toml) or the shipped one.
fn example_pack(block: &Block) -> RulePack {
    match block.get("pack") {
        None => pack(),
        Some(dir) => {
            let dir = repo().join(dir);
            RulePack::load(
                &dir.join("rules"),
                &dir.join("tags.toml"),
                &dir.join("params.toml"),
                &[],
            )
            .unwrap_or_else(|e| panic!("{}: pack {}: {e}", block.at(), dir.display()))
        }
    }
}

/// A block of the testing guide, whose test files `rule_tests.rs` runs.
fn testing_guide(b: &Block) -> bool {
    b.file.ends_with("testing.md")
}

#[test]
fn every_block_is_of_a_checked_kind() {
    let blocks = all_blocks();
    assert!(blocks.len() > 40, "only {} blocks found", blocks.len());
    for b in &blocks {
        let known = match b.lang.as_str() {
            "rhai" | "sh" => true,
            "json" => ["event", "tag-change", "dead-letter", "diff-report"]
                .iter()
                .any(|k| b.has(k)),
            // The testing guide's files run in `rule_tests::the_examples_of_the_testing_guide_pass`.
            "toml" => {
                b.has("params")
                    || b.has("catalogue")
                    || b.has("tests")
                    || b.has("engine")
                    || testing_guide(b)
            }
            // Probes: `metrics::embedded_mode_serves_metrics_while_it_reads` asks each path.
            "yaml" => b.has("probes") || b.has("scrape"),
            // Terminal output shown for illustration is marked as such.
            "text" => {
                b.get("example").is_some()
                    || b.has("illustration")
                    || b.has("check-output")
                    || b.has("test-output")
                    || b.has("signal-summary")
            }
            _ => false,
        };
        assert!(
            known,
            "{}: ```{} {:?} is not checked by any test",
            b.at(),
            b.lang,
            b.tags
        );
    }
}

#[test]
fn rule_examples_compile_and_run_without_rule_errors() {
    let stream = example_stream();
    let mut ran = 0;
    // The check guide's broken rule runs in `the_check_guide_shows_what_check_prints`.
    for b in all_blocks()
        .iter()
        .filter(|b| b.lang == "rhai" && !b.has("check-example"))
    {
        if b.file.ends_with("tutorial.md") {
            // The tutorial's rule is a file of its own pack, run by the tutorial's tests.
            let file = repo().join("docs/examples/night-owl/rules/night_owl.rhai");
            assert_eq!(
                b.body,
                std::fs::read_to_string(file).unwrap(),
                "{}: differs from night_owl.rhai",
                b.at()
            );
            continue;
        }
        let pack = pack_of(&[("example", &b.body)])
            .unwrap_or_else(|e| panic!("{}: the example does not load: {e}", b.at()));
        let run = run_lines(&pack, &stream);
        let errors: Vec<&str> = run
            .dead
            .iter()
            .filter(|d| d.rule.is_some())
            .map(|d| d.error.as_str())
            .collect();
        if b.has("rule-error") {
            assert!(!errors.is_empty(), "{}: meant to fail, ran clean", b.at());
            assert!(
                run.changes.is_empty(),
                "{}: a failing rule left changes",
                b.at()
            );
        } else {
            assert!(errors.is_empty(), "{}: rule errors {errors:?}", b.at());
        }
        ran += 1;
    }
    assert!(ran >= 15, "only {ran} rule examples");
}

/// Worked examples: the events of `json event example=X` through the pack give exactly the tag
/// changes of `json tag-change example=X`.
#[test]
fn worked_examples_give_the_documented_changes() {
    let blocks = all_blocks();
    let mut checked = 0;
    for events in blocks
        .iter()
        .filter(|b| b.has("event") && b.get("example").is_some())
    {
        let name = events.get("example").unwrap();
        let expected = examples_of(&blocks, "json", "tag-change", name);
        let lines: Vec<String> = events.json_values().iter().map(Value::to_string).collect();
        let run = run_lines(&example_pack(events), &lines);
        assert!(
            run.dead.is_empty(),
            "{}: dead letters {:?}",
            events.at(),
            run.dead
        );
        let actual: Vec<Value> = run
            .changes
            .iter()
            .map(|c| as_shown(change_json(c)))
            .collect();
        let shown: Vec<String> = actual.iter().map(Value::to_string).collect();
        assert_eq!(
            expected.json_values(),
            actual,
            "{}: the run gives\n{}",
            expected.at(),
            shown.join("\n")
        );
        checked += 1;
    }
    assert!(checked >= 2, "{checked} worked examples");
}

/// The defaults quoted in rulepack.md are the shipped ones, key for key.
#[test]
fn rulepack_parameters_are_the_shipped_defaults() {
    let shipped = Params::load(&repo().join("config/params.toml"), &[]).unwrap();
    let mut sections = BTreeSet::new();
    for b in blocks_of(&docs_dir().join("rulepack.md"))
        .iter()
        .filter(|b| b.lang == "toml")
    {
        let doc = Params::parse(&b.body, &b.at(), &[]).unwrap_or_else(|e| panic!("{e}"));
        for (section, values) in &doc.sections {
            assert_eq!(
                Some(values),
                shipped.sections.get(section),
                "{}: [{section}]",
                b.at()
            );
            sections.insert(section.clone());
        }
        for spec in &doc.keywords.specs {
            let same = shipped.keywords.specs.iter().find(|s| s.tag == spec.tag);
            assert_eq!(Some(spec), same, "{}: keywords {}", b.at(), spec.tag);
            sections.insert(format!("keywords {}", spec.tag));
        }
    }
    let mut all: BTreeSet<String> = shipped.sections.keys().cloned().collect();
    all.extend(
        shipped
            .keywords
            .specs
            .iter()
            .map(|s| format!("keywords {}", s.tag)),
    );
    assert_eq!(sections, all, "rulepack.md quotes every section");
}

#[test]
fn toml_snippets_parse_and_the_tutorials_are_its_files() {
    let example = repo().join("docs/examples/night-owl");
    for b in all_blocks()
        .iter()
        .filter(|b| b.lang == "toml" && !testing_guide(b))
    {
        if b.has("engine") {
            // A piece of the engine config: unknown keys are errors there.
            toml::from_str::<tagstream::config::Config>(&b.body)
                .unwrap_or_else(|e| panic!("{}: {e}", b.at()));
            continue;
        }
        if b.has("tests") {
            // The tutorial's rule tests: the file `tagstream test` runs, shown whole.
            let file = example.join("rules/tests/night_owl.toml");
            assert_eq!(
                b.body,
                std::fs::read_to_string(&file).unwrap(),
                "{}",
                b.at()
            );
            toml::from_str::<toml::Table>(&b.body).unwrap_or_else(|e| panic!("{}: {e}", b.at()));
            continue;
        }
        if b.has("catalogue") {
            Catalogue::parse(&b.body, &b.at()).unwrap_or_else(|e| panic!("{e}"));
        } else {
            Params::parse(&b.body, &b.at(), &[]).unwrap_or_else(|e| panic!("{e}"));
        }
        if b.file.ends_with("tutorial.md") {
            let file = example.join(if b.has("catalogue") {
                "tags.toml"
            } else {
                "params.toml"
            });
            let text = std::fs::read_to_string(&file).unwrap();
            assert!(
                text.contains(&b.body),
                "{}: not in {}",
                b.at(),
                file.display()
            );
        }
    }
}

/// The command lines of the docs, as the binary's own parser reads them.
fn commands() -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for b in all_blocks().iter().filter(|b| b.lang == "sh") {
        for line in b.body.lines() {
            let line = line.split(" #").next().unwrap().trim();
            let args = if let Some(rest) = line.strip_prefix("tagstream ") {
                rest
            } else if let Some((_, rest)) = line.split_once("cargo run --release -- ") {
                rest
            } else {
                continue;
            };
            // Up to a shell redirection or pipe: those are the shell's, not the command's.
            let args: Vec<String> = args
                .split_whitespace()
                .take_while(|t| !t.starts_with(['<', '>', '|', '&']) && !t.starts_with("2>"))
                .map(str::to_string)
                .collect();
            out.push((b.at(), args));
        }
    }
    out
}

#[test]
fn commands_in_the_docs_parse() {
    let commands = commands();
    assert!(commands.len() >= 8, "{commands:?}");
    for (at, args) in &commands {
        let argv = std::iter::once("tagstream".to_string()).chain(args.iter().cloned());
        if let Err(e) = tagstream::cli::Cli::try_parse_from(argv) {
            panic!("{at}: tagstream {}: {e}", args.join(" "));
        }
    }
}

/// The tutorial's `check` and `run` commands, run from the repository root as written.
#[test]
fn tutorial_commands_run() {
    let blocks = blocks_of(&docs_dir().join("tutorial.md"));
    let expected = examples_of(&blocks, "json", "tag-change", "night-owl").json_values();
    let mut ran = 0;
    for (at, args) in commands()
        .into_iter()
        .filter(|(at, _)| at.contains("tutorial.md"))
    {
        if args[0] == "diff" {
            continue;
        }
        let out = Command::new(env!("CARGO_BIN_EXE_tagstream"))
            .current_dir(repo())
            .env("TAGSTREAM_LOG", "warn")
            .args(&args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{at}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if args[0] == "check" {
            assert!(
                stdout.contains("ok: 1 rules (night_owl), 1 tags, 0 keyword tags"),
                "{at}: {stdout}"
            );
        } else if args[0] == "test" {
            assert!(stdout.contains("5 passed, 0 failed"), "{at}: {stdout}");
        } else {
            let lines: Vec<Value> = stdout
                .lines()
                .map(|l| as_shown(serde_json::from_str(l).unwrap()))
                .collect();
            assert_eq!(lines, expected, "{at}");
        }
        ran += 1;
    }
    assert_eq!(ran, 3);
    let file =
        std::fs::read_to_string(repo().join("docs/examples/night-owl/events.jsonl")).unwrap();
    let events = examples_of(&blocks, "json", "event", "night-owl");
    assert_eq!(
        file, events.body,
        "events.jsonl is the tutorial's event block"
    );
}

/// A heading's anchor as Markdown renderers make it: lower case, punctuation dropped, spaces
/// to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Relative links point at files of the repository, and at headings that exist; nothing links
/// outside it.
#[test]
fn links_stay_inside_the_repository() {
    let link = regex::Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    let readme = repo().join("README.md");
    for path in markdown_files().into_iter().chain([readme.clone()]) {
        let text = std::fs::read_to_string(&path).unwrap();
        // The README is read from the repository root.
        let base = if path == readme { repo() } else { docs_dir() };
        for cap in link.captures_iter(&text) {
            let target = &cap[1];
            assert!(
                !target.contains("://") && !target.starts_with("mailto:"),
                "{}: links outside the repository: {target}",
                path.display()
            );
            let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
            let linked = if file.is_empty() {
                path.clone()
            } else {
                base.join(file)
            };
            assert!(linked.exists(), "{}: broken link {target}", path.display());
            if !anchor.is_empty() {
                let headings = std::fs::read_to_string(&linked).unwrap();
                let found = headings
                    .lines()
                    .filter_map(|l| l.strip_prefix('#'))
                    .any(|h| slug(h.trim_start_matches('#')) == anchor);
                assert!(
                    found,
                    "{}: no heading for #{anchor} in {file}",
                    path.display()
                );
            }
        }
        assert!(!text.contains("../shared"), "{}", path.display());
    }
}

/// The diff examples: the documented text and JSON reports are what `tagstream diff` gives for
/// the documented command.
#[test]
fn diff_examples_are_real() {
    // The example's parameters are the shipped ones with one change: the one diff.md describes.
    let shipped = std::fs::read_to_string(repo().join("config/params.toml")).unwrap();
    let changed = std::fs::read_to_string(repo().join("docs/examples/diff/params.toml")).unwrap();
    let differing: Vec<(&str, &str)> = shipped
        .lines()
        .zip(changed.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(shipped.lines().count(), changed.lines().count());
    assert_eq!(
        differing,
        [(
            "hits = 2",
            "hits = 1                            # changed from 2: what would one hit do?"
        )],
        "docs/examples/diff/params.toml must be config/params.toml with intent/purchase at one hit"
    );
    let blocks = blocks_of(&docs_dir().join("diff.md"));
    let (at, args) = commands()
        .into_iter()
        .find(|(at, args)| {
            at.contains("diff.md") && args.iter().any(|a| a.contains("docs/examples"))
        })
        .expect("diff.md shows a runnable example");
    let run = |format: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_tagstream"))
            .current_dir(repo())
            .env("TAGSTREAM_LOG", "warn")
            .args(&args)
            .args(["--format", format])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{at}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let json: Value = serde_json::from_str(&run("json")).unwrap();
    assert_eq!(
        examples_of(&blocks, "json", "diff-report", "diff").json_values(),
        [json],
        "{at}"
    );
    assert_eq!(
        examples_of(&blocks, "text", "", "diff").body,
        run("text"),
        "{at}"
    );
}

/// Every function, method and property the engine registers for scripts is in the API
/// reference: names are read from where they are registered, so a new one without docs fails.
#[test]
fn the_api_reference_names_every_registered_function() {
    let reference = std::fs::read_to_string(docs_dir().join("rules.md")).unwrap();
    let registered = regex::Regex::new(r#"register_(?:fn|get)\(\s*"(\w+)""#).unwrap();
    let field = regex::Regex::new(r#"\("(\w+)", \|e\|"#).unwrap();
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(repo().join("src/rules/api")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for cap in registered
            .captures_iter(&text)
            .chain(field.captures_iter(&text))
        {
            names.insert(cap[1].to_string());
        }
    }
    // Registered in a loop over names: the time units.
    names.extend(["days", "hours", "minutes"].map(String::from));
    assert!(names.len() > 50, "{names:?}");
    let word = |n: &str| regex::Regex::new(&format!(r"[`.]{n}\b")).unwrap();
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !word(n).is_match(&reference))
        .collect();
    assert!(missing.is_empty(), "rules.md does not document {missing:?}");
    for handler in ["on_chat", "on_click", "on_order", "on_event", "on_tick"] {
        assert!(reference.contains(&format!("`{handler}(")), "{handler}");
    }
}

/// The scrape config of the monitoring guide scrapes the shipped port, and Prometheus takes it
/// (`promtool check config`, when promtool is installed).
#[test]
fn the_scrape_config_is_one_prometheus_takes() {
    let blocks = all_blocks();
    let block = blocks
        .iter()
        .find(|b| b.lang == "yaml" && b.has("scrape"))
        .expect("a ```yaml scrape block");
    let config = std::fs::read_to_string(repo().join("config/tagstream.toml")).unwrap();
    let port = config
        .lines()
        .find_map(|l| l.trim().strip_prefix("listen = \""))
        .and_then(|rest| rest.split('"').next())
        .and_then(|addr| addr.rsplit_once(':'))
        .map(|(_, port)| port.to_string())
        .expect("http.listen in config/tagstream.toml");
    assert!(
        block.body.contains(&format!(":{port}\"")),
        "{}: targets not on the shipped port {port}",
        block.at()
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prometheus.yml");
    std::fs::write(&file, &block.body).unwrap();
    match Command::new("promtool")
        .arg("check")
        .arg("config")
        .arg(&file)
        .output()
    {
        Err(_) => eprintln!("promtool not installed: `promtool check config` skipped"),
        Ok(out) => assert!(
            out.status.success(),
            "{}: promtool check config: {}{}",
            block.at(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// The outputs `docs/check.md` shows are what `tagstream check` prints: on the shipped pack,
/// and on a copy of it with the guide's broken rule and a broken parameter.
#[test]
fn the_check_guide_shows_what_check_prints() {
    let blocks: Vec<Block> = all_blocks()
        .into_iter()
        .filter(|b| b.file.ends_with("check.md"))
        .collect();
    let rule = blocks
        .iter()
        .find(|b| b.has("check-example"))
        .expect("a ```rhai check-example block");
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("rules"), &dir.path().join("my-rules"));
    copy_dir(&repo().join("config"), &dir.path().join("config"));
    std::fs::write(dir.path().join("my-rules/vip.rhai"), &rule.body).unwrap();
    let params = dir.path().join("config/params.toml");
    let text = std::fs::read_to_string(&params).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    assert_eq!(
        lines[5], "half_life = \"7d\"",
        "line 6 of the shipped params.toml"
    );
    lines[5] = "half_life = \"7 days\"".into();
    std::fs::write(&params, lines.join("\n") + "\n").unwrap();
    let mut shown = 0;
    for b in blocks.iter().filter(|b| b.has("check-output")) {
        let (command, expected) = b.body.split_once('\n').unwrap();
        let args: Vec<&str> = command
            .strip_prefix("$ tagstream ")
            .unwrap_or_else(|| panic!("{}: starts with `$ tagstream`", b.at()))
            .split_whitespace()
            .collect();
        let cwd = if args.contains(&"my-rules") {
            dir.path().to_path_buf()
        } else {
            repo()
        };
        let out = Command::new(env!("CARGO_BIN_EXE_tagstream"))
            .args(&args)
            .current_dir(cwd)
            .env("TAGSTREAM_LOG", "warn")
            .output()
            .unwrap();
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(printed, expected, "{}: what `{command}` prints", b.at());
        let failed = expected.lines().last().unwrap().starts_with("check failed");
        assert_eq!(
            out.status.code(),
            Some(if failed { 2 } else { 0 }),
            "{}",
            b.at()
        );
        shown += 1;
    }
    assert_eq!(shown, 2);
}
