//! Every example in `docs/` runs: rule examples are compiled and run, worked examples replayed
//! and compared, parameter and catalogue snippets parsed and held to the shipped files (JSON
//! examples against the schemas: see `schemas.rs`). A block in a language nothing here checks
//! fails the test. Commands are in `docs_commands.rs`, links and references to the code in
//! `docs_references.rs`.

use std::collections::BTreeSet;

use serde_json::Value;
use tagstream::rules::{Params, RulePack};
use tagstream::tags::Catalogue;

use crate::docs_support::*;
use crate::support::*;

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
                    || b.has("wrong-types")
                    || b.has("test-output")
                    || b.has("diff-findings")
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
    // The check guide's broken rule runs in
    // `docs_commands::the_check_guide_shows_what_check_prints`.
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
