//! The commands of `docs/` are real: each parses with the binary's own parser, and the
//! tutorial's, the diff guide's and the check guide's run and print what the docs show.

use std::process::Command;

use clap::Parser;
use serde_json::Value;

use crate::docs_support::*;
use crate::support::*;

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
                stdout.contains("ok: 1 rule (night_owl), 1 tag, 0 keyword tags"),
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

/// Each line of the check guide's ```` ```text wrong-types ```` block is what `check` prints
/// when the shipped file it names holds that value at that line, under that key.
#[test]
fn the_check_guide_shows_how_wrong_types_are_named() {
    let blocks = blocks_of(&docs_dir().join("check.md"));
    let block = blocks
        .iter()
        .find(|b| b.has("wrong-types"))
        .expect("a ```text wrong-types block in docs/check.md");
    for shown in block.body.lines() {
        let (place, message) = shown.split_once(": ").unwrap();
        let (file, line) = place.split_once(':').unwrap();
        let line: usize = line.parse().unwrap();
        let (key, rest) = message.split_once(" must be ").unwrap();
        let value = rest.rsplit_once(", not ").unwrap().1;
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&repo().join("rules"), &dir.path().join("rules"));
        copy_dir(&repo().join("config"), &dir.path().join("config"));
        let path = dir.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let name = key.rsplit('.').next().unwrap();
        let original = &lines[line - 1];
        assert!(
            original.starts_with(&format!("{name} = ")),
            "{}: line {line} of the shipped {file} sets `{name}`: {original}",
            block.at()
        );
        lines[line - 1] = format!("{name} = {value}");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_tagstream"))
            .arg("check")
            .current_dir(dir.path())
            .env("TAGSTREAM_LOG", "warn")
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{printed}");
        assert_eq!(printed.lines().next(), Some(shown), "{}", block.at());
    }
}

/// What `docs/diff.md` shows `diff` printing before the report for a new set with a misspelt
/// handler is what it prints.
#[test]
fn the_diff_guide_shows_what_diff_says_of_a_broken_set() {
    let blocks = blocks_of(&docs_dir().join("diff.md"));
    let [shown] = &blocks
        .iter()
        .filter(|b| b.has("diff-findings"))
        .collect::<Vec<_>>()[..]
    else {
        panic!("one ```text diff-findings block in docs/diff.md");
    };
    let (command, expected) = shown.body.split_once('\n').unwrap();
    let args: Vec<&str> = command
        .strip_prefix("$ tagstream ")
        .unwrap_or_else(|| panic!("{}: starts with `$ tagstream`", shown.at()))
        .split_whitespace()
        .take_while(|t| !t.starts_with('>'))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo().join("rules"), &dir.path().join("rules"));
    copy_dir(&repo().join("config"), &dir.path().join("config"));
    copy_dir(&repo().join("rules"), &dir.path().join("new-rules"));
    std::fs::write(
        dir.path().join("new-rules/x.rhai"),
        "fn on_evnt(event, user) {\n    tag(\"intent/price\");\n}\n",
    )
    .unwrap();
    std::fs::copy(
        repo().join("docs/examples/diff/recorded.jsonl"),
        dir.path().join("recorded.jsonl"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tagstream"))
        .args(&args)
        .current_dir(dir.path())
        .env("TAGSTREAM_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", shown.at());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        expected,
        "{}: what `{command}` prints to stderr",
        shown.at()
    );
}
