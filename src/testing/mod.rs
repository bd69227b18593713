//! `tagstream test`: rule tests written as files next to the rules (`rules/tests/*.toml`).
//!
//! A case gives a start clock, optionally what the user already did and holds, then steps —
//! events, raw input lines, clock advances — each with what it must produce: tag changes
//! (exactly, or at least), tags held afterwards, dead letters. Cases run through
//! [`crate::core::Processor`], the same core as production, on a fresh partition each; the
//! clock moves only with the case's events and advances, so timers and TTLs fire as they
//! would in production. The format is in [`spec`] and `docs/testing.md`.

mod reader;
mod report;
pub mod run;
pub mod spec;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::core::Processor;
use crate::decode::EventType;
use crate::rules::check::{nearest, Diagnostic};
use crate::rules::{RulePack, RulesError};

pub use run::Failure;
use spec::NameKind;
pub use spec::{Case, TestFile};

/// The test files of a rules directory: `<dir>/tests/*.toml`, sorted by name.
pub fn test_files(rules_dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(rules_dir.join("tests")) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
}

/// Reads and validates every test file of `rules_dir`; with a `pack`, also checks the tags,
/// rules and event types the cases name against it. Returns the files and every problem found.
pub fn load(rules_dir: &Path, pack: Option<&RulePack>) -> (Vec<TestFile>, Vec<Diagnostic>) {
    load_paths(&test_files(rules_dir), pack)
}

/// Reads and validates the test files at `paths`, as [`load`] does those of a rules directory.
pub fn load_paths(paths: &[PathBuf], pack: Option<&RulePack>) -> (Vec<TestFile>, Vec<Diagnostic>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let shown = path.display().to_string();
        let text = match crate::config::read_file(path) {
            Ok(text) => text,
            Err(e) => {
                problems.push(Diagnostic::from_config(&e, &shown));
                continue;
            }
        };
        let (file, mut found) = reader::Reader::parse(&shown, &text);
        if let Some(pack) = pack {
            validate(&file, pack, &mut found);
        }
        // The reader's findings and the names the rule set lacks, in the file's order
        // (stable: two on one line keep the order they were found in).
        found.sort_by_key(|d| d.line);
        problems.extend(found);
        files.push(file);
    }
    (files, problems)
}

/// Names in a test file that the rule set does not know, each at the line that writes it.
fn validate(file: &TestFile, pack: &RulePack, out: &mut Vec<Diagnostic>) {
    let rule_names: Vec<&str> = pack.rules.iter().map(|r| r.name.as_str()).collect();
    for n in &file.named {
        let name = n.name.as_str();
        let problem = match n.kind {
            NameKind::Tag if pack.catalogue.id(name).is_none() => {
                let hint = nearest(name, pack.catalogue.names())
                    .map(|n| format!("; did you mean `{n}`?"))
                    .unwrap_or_default();
                format!("tag {name:?} is not declared in the tag catalogue{hint}")
            }
            NameKind::Rule if !rule_names.contains(&name) => {
                let hint = nearest(name, rule_names.iter().copied())
                    .map(|n| format!("; did you mean `{n}`?"))
                    .unwrap_or_default();
                format!("no rule named {name:?}{hint}")
            }
            NameKind::EventType if EventType::parse(name).is_none() => format!(
                "event type {name:?} is not chat, click or order (send invalid input with `raw`)"
            ),
            _ => continue,
        };
        out.push(Diagnostic::error(&file.path, Some(n.line), problem));
    }
}

/// Cases passed and failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
}

/// Runs every case (whose name contains `filter`, when given) and writes a runner's report:
/// a line per case, under a failed case each expectation its failing step missed with its
/// diff, and `N passed, N failed` (cases, however many expectations each missed).
///
/// # Errors
/// A rule set that does not compile, or a failed write.
pub fn run(
    pack: &RulePack,
    files: &[TestFile],
    filter: Option<&str>,
    w: &mut dyn Write,
) -> Result<Summary, RunError> {
    let mut proc = Processor::new(pack)?;
    let mut summary = Summary::default();
    for file in files {
        for case in &file.cases {
            if filter.is_some_and(|f| !case.name.contains(f)) {
                continue;
            }
            match run::run_case(&mut proc, pack, &file.path, case) {
                Ok(()) => {
                    summary.passed += 1;
                    writeln!(w, "test {}:{}: {} ... ok", file.path, case.line, case.name)?;
                }
                Err(failures) => {
                    summary.failed += 1;
                    writeln!(
                        w,
                        "test {}:{}: {} ... FAILED",
                        file.path, case.line, case.name
                    )?;
                    for failure in &failures {
                        writeln!(w, "    {}:{}: {}", file.path, failure.line, failure.what)?;
                        for line in &failure.diff {
                            writeln!(w, "        {line}")?;
                        }
                    }
                }
            }
        }
    }
    writeln!(w)?;
    writeln!(w, "{} passed, {} failed", summary.passed, summary.failed)?;
    Ok(summary)
}

/// Why a test run could not run (not: a case failed).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error("writing the report: {0}")]
    Io(#[from] io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A misspelt key is the reader's finding, an undeclared tag the rule set's: they came out
    /// as two lists, so line 10 was said before line 6.
    #[test]
    fn findings_of_a_test_file_come_in_line_order() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let pack = RulePack::load(
            &root.join("rules"),
            &root.join("config/tags.toml"),
            &root.join("config/params.toml"),
            &[],
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        let text = "[[case]]\nname = \"x\"\nstartt = \"2026\"\n\n[[case.step]]\n\
                    event = { type = \"chat\", text = \"a\" }\nchanges = [\"+intent/prise\"]\n\n\
                    [[case.step]]\nat = \"1dd\"\nholds = [\"nope/x\"]\n";
        std::fs::write(&path, text).unwrap();
        let (_, found) = load_paths(&[path], Some(&pack));
        let lines: Vec<Option<usize>> = found.iter().map(|d| d.line).collect();
        assert_eq!(lines, [Some(3), Some(7), Some(10), Some(11)], "{found:#?}");
    }
}
