//! `examples/sample.jsonl` through the default rule pack, as file mode runs it: every scripted
//! persona ends with exactly its intended tags, the run shows every lifecycle stage, RFM segment
//! and value tier, and each invalid line the generator wrote becomes one dead letter. The sample
//! is checked against the generator first, so it cannot drift from the personas it demonstrates.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use tagstream::generate::{generate, GenOptions, GenStats, PERSONAS};
use tagstream::tags::Op;

use crate::support::*;

/// The options `examples/README.md` regenerates the sample with.
fn sample_options() -> GenOptions {
    GenOptions {
        users: 60,
        events: 4_000,
        days: 120,
        seed: 7,
        personas: true,
        invalid_per_mille: 5,
        late_per_mille: 10,
        // 2026-07-01: the sample ends before its first release, so it replays with the default
        // `clock.max_future`.
        start_ms: 1_782_864_000_000,
    }
}

/// The sample run through the shipped pack (once for all tests here), with what the generator
/// reported writing. Panics if the file is not byte for byte what the generator writes today.
fn sample_run() -> &'static (Run, GenStats) {
    static RUN: OnceLock<(Run, GenStats)> = OnceLock::new();
    RUN.get_or_init(|| {
        let file =
            std::fs::read(repo().join("examples/sample.jsonl")).expect("examples/sample.jsonl");
        let mut generated = Vec::new();
        let stats = generate(&sample_options(), &mut generated).unwrap();
        assert!(
            file == generated,
            "examples/sample.jsonl is not what the generator writes: regenerate it with the \
             command in examples/README.md"
        );
        let text = String::from_utf8(file).expect("the sample is UTF-8");
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        assert_eq!(lines.len() as u64, stats.lines);
        (run_lines(&pack(), &lines), stats)
    })
}

#[test]
fn every_persona_ends_with_its_intended_tags() {
    let (run, _) = sample_run();
    let wrong: Vec<String> = PERSONAS
        .iter()
        .filter_map(|p| {
            let expected: BTreeSet<String> = p.final_tags.iter().map(|t| t.to_string()).collect();
            let actual = run.tags(p.id);
            (actual != expected).then(|| {
                format!(
                    "{}: expected {expected:?}, got {actual:?}\n  changes: {:?}",
                    p.id,
                    run.ops(p.id)
                )
            })
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Every lifecycle stage, RFM segment and value tier: the sample shows each of them at some point.
#[rustfmt::skip]
const SHOWN: &[&str] = &[
    "lifecycle/new", "lifecycle/growing", "lifecycle/mature", "lifecycle/dormant",
    "lifecycle/declining", "lifecycle/churned", "lifecycle/silent",
    "rfm/important-value", "rfm/important-develop", "rfm/important-retain", "rfm/important-winback",
    "rfm/general-value", "rfm/general-develop", "rfm/general-retain", "rfm/general-winback",
    "value/high", "value/medium", "value/low",
];

#[test]
fn the_run_adds_every_stage_segment_and_tier() {
    let (run, _) = sample_run();
    let added: BTreeSet<&str> = run
        .changes
        .iter()
        .filter(|c| c.op == Op::Add)
        .map(|c| &*c.tag)
        .collect();
    let missing: Vec<&str> = SHOWN
        .iter()
        .copied()
        .filter(|t| !added.contains(t))
        .collect();
    assert!(missing.is_empty(), "never added over the run: {missing:?}");
}

#[test]
fn every_invalid_line_becomes_one_dead_letter() {
    let (run, stats) = sample_run();
    assert!(stats.invalid > 0, "the sample has invalid lines");
    assert_eq!(
        run.dead.len() as u64,
        stats.invalid,
        "dead letters: {:?}",
        run.dead
            .iter()
            .map(|d| (&d.error, &d.rule))
            .collect::<Vec<_>>()
    );
}
