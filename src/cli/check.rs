//! `tagstream check` and `tagstream test`: every finding about the config, rules and rule
//! tests, and the rule tests run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::config::{env_vars, Config};
use crate::rules::check::{nearest, Diagnostic, Sources};
use crate::rules::{self, RuleSet};

use super::{
    config_path, load, load_config, runtime_error, to_stderr, usage_error, write_failed,
    CommonArgs, TestArgs, EXIT_RUNTIME, EXIT_USAGE,
};

/// `tagstream check`: every finding of config, catalogue, parameters, rules and rule tests.
pub(super) fn check(common: &CommonArgs) -> ExitCode {
    let vars = env_vars();
    let mut found = Vec::new();
    let path = config_path(common).0;
    let shown = path.display().to_string();
    let config = match load_config(common, None, &vars) {
        Ok(config) => {
            // Its Kafka clients are created too, without a broker: librdkafka refuses some
            // options only then.
            if let Err(e) = super::kafka_clients::check(&config, &path, &vars) {
                found.push(Diagnostic::from_config(&e, &shown));
            }
            config
        }
        Err(e) => {
            found.push(Diagnostic::from_config(&e, &shown));
            let mut config = Config::default();
            super::path_flags(common).apply(&mut config);
            config
        }
    };
    let sources = Sources::of(&config);
    let checked = rules::check::check(&sources, &vars);
    match super::missing_params(&config) {
        Some(e) => {
            let shown = sources.params.display().to_string();
            found.push(Diagnostic::from_config(&e, &shown));
            // Every parameter the rules read is missing then: one finding says it all.
            let consequences = [
                format!("{shown} has no ["),
                format!("{shown} does not exist, so it has no ["),
            ];
            found.extend(
                checked
                    .diagnostics
                    .into_iter()
                    .filter(|d| !consequences.iter().any(|c| d.message.contains(c))),
            );
        }
        None => found.extend(checked.diagnostics),
    }
    let (tests, problems) = crate::testing::load(&sources.rules_dir, checked.pack.as_ref());
    found.extend(problems);
    for d in &found {
        to_stderr(d);
    }
    let errors = found.iter().filter(|d| d.is_error()).count();
    let Some(mut pack) = checked.pack.filter(|_| errors == 0) else {
        if let Some(hint) = super::missing_paths_hint(&config) {
            to_stderr(hint);
        }
        to_stderr(format_args!(
            "check failed: {errors} error(s), {} warning(s)",
            found.len() - errors
        ));
        return ExitCode::from(EXIT_USAGE);
    };
    pack.execution = config.execution().unwrap_or(rules::Execution::Compiled);
    match report_ok(
        &pack,
        tests.len(),
        tests.iter().map(|f| f.cases.len()).sum(),
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => write_failed("stdout", &e),
    }
}

/// What a check that passed prints to stdout: what it loaded, and the rules that run in the
/// interpreter and why.
fn report_ok(pack: &rules::RulePack, files: usize, cases: usize) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    let names: Vec<&str> = pack.rules.iter().map(|r| r.name.as_str()).collect();
    let count = |n: usize, one: &str, many: &str| super::plural(n as u64, one, many);
    writeln!(
        out,
        "ok: {} ({}), {}, {}, {} in {}",
        count(names.len(), "rule", "rules"),
        names.join(", "),
        count(pack.catalogue.len(), "tag", "tags"),
        count(
            pack.params.keywords.specs.len(),
            "keyword tag",
            "keyword tags"
        ),
        count(cases, "test case", "test cases"),
        count(files, "file", "files"),
    )?;
    if pack.execution == rules::Execution::Interpreted {
        // One line for the set: every rule would give the same reason.
        writeln!(
            out,
            "note: rules.execution = \"interpreted\": every rule runs in the interpreter, \
             several times slower"
        )?;
    } else if let Ok(set) = RuleSet::compile(pack) {
        for (i, rule) in pack.rules.iter().enumerate() {
            if let Some(why) = set.interpreted_because(i) {
                writeln!(
                    out,
                    "note: {} runs in the interpreter, several times slower ({why})",
                    rule.path.display()
                )?;
            }
        }
    }
    out.flush()
}

/// The test files `tagstream test` reads and the filter on their case names. A FILTER ending in
/// `.toml` names one test file, as a path or as a file of `<rules>/tests/`, and every case of
/// it runs; any other FILTER picks cases of every file in `<rules>/tests/` by name.
fn chosen_tests<'f>(
    rules_dir: &Path,
    filter: Option<&'f str>,
) -> Result<(Vec<PathBuf>, Option<&'f str>), String> {
    let Some(name) = filter.filter(|f| f.to_ascii_lowercase().ends_with(".toml")) else {
        return Ok((crate::testing::test_files(rules_dir), filter));
    };
    let given = Path::new(name);
    let in_tests = rules_dir.join("tests").join(name);
    for path in [given, in_tests.as_path()] {
        if path.is_file() {
            return Ok((vec![path.to_path_buf()], None));
        }
    }
    let known = crate::testing::test_files(rules_dir);
    let file_names: Vec<String> = known
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    let asked = given
        .file_name()
        .map_or_else(|| name.to_string(), |n| n.to_string_lossy().into_owned());
    let same = file_names.iter().find(|n| **n == asked).map(String::as_str);
    let hint = match same.or_else(|| nearest(&asked, file_names.iter().map(String::as_str))) {
        Some(near) => format!(
            "; did you mean {}?",
            rules_dir.join("tests").join(near).display()
        ),
        None if known.is_empty() => {
            format!("; {} holds no test file", rules_dir.join("tests").display())
        }
        None => format!(
            "; the test files are {}",
            known
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Err(format!("no test file {name}{hint}"))
}

/// What a FILTER that picked no case was probably meant as: a rules directory or a rule file
/// (the rules are chosen with `--rules`), a test file's name (the filter matches case names
/// only), or a case name in other letter case (it is case-sensitive).
fn filter_hint(rules_dir: &Path, files: &[crate::testing::TestFile], filter: &str) -> String {
    if let Some(hint) = path_filter_hint(rules_dir, Path::new(filter)) {
        return hint;
    }
    let lower = filter.to_lowercase();
    let named_file = files.iter().find(|f| {
        std::path::Path::new(&f.path)
            .file_stem()
            .is_some_and(|stem| stem.to_string_lossy().to_lowercase().contains(&lower))
    });
    if let Some(file) = named_file.filter(|f| !f.cases.is_empty()) {
        return format!(
            "; FILTER matches case names, not file names: the cases of {} are named like {:?} \
             (`tagstream test {}` runs them all)",
            file.path, file.cases[0].name, file.path
        );
    }
    let other_case = files
        .iter()
        .flat_map(|f| &f.cases)
        .find(|c| c.name.to_lowercase().contains(&lower));
    match other_case {
        Some(case) => format!(
            "; FILTER is case-sensitive: did you mean a part of {:?}?",
            case.name
        ),
        None => String::new(),
    }
}

/// What a FILTER that is a path to a directory or a rule was meant as. Such a path matches
/// no case name, and "no case name contains" alone does not say that rules are chosen with
/// `--rules` and test files by a name ending in `.toml`.
fn path_filter_hint(rules_dir: &Path, path: &Path) -> Option<String> {
    let shown = path.display();
    if path.is_dir() {
        let same = |a: &Path, b: &Path| a.canonicalize().ok() == b.canonicalize().ok();
        if same(path, rules_dir) {
            return Some(format!(
                "; {shown} is the rules directory: without FILTER, `tagstream test` runs all its \
                 tests"
            ));
        }
        return Some(if super::args::holds_rules(path) {
            format!(
                "; {shown} is a rules directory: FILTER picks cases by name, `tagstream test \
                 --rules {shown}` runs the tests of the rules in it"
            )
        } else {
            format!(
                "; {shown} is a directory: FILTER is a part of a case name, or one test file \
                 ending in .toml; without FILTER every {} runs",
                rules_dir.join("tests/*.toml").display()
            )
        });
    }
    let is_rule = path
        .extension()
        .is_some_and(|x| x.eq_ignore_ascii_case("rhai"));
    if !is_rule {
        return file_filter_hint(rules_dir, path);
    }
    let stem = path.file_stem()?.to_string_lossy();
    let tests = rules_dir.join("tests").join(format!("{stem}.toml"));
    Some(if tests.is_file() {
        format!(
            "; {shown} is a rule, not a test: its tests are in {} (`tagstream test {stem}.toml` \
             runs them)",
            tests.display()
        )
    } else {
        format!(
            "; {shown} is a rule, not a test: FILTER is a part of a case name, or one test \
             file ending in .toml (the rules are those of --rules, {})",
            rules_dir.display()
        )
    })
}

/// What a FILTER named like a file (`keywords.tom`, `rules/tests/keywords.json`, an existing
/// file not ending in .toml) was meant as: only a name ending in `.toml` is taken as a test
/// file, so such a filter is read as a part of a case name, and "no case name contains" alone
/// hides the slip in the file name. `None` for a filter not named like a file.
fn file_filter_hint(rules_dir: &Path, path: &Path) -> Option<String> {
    let shown = path.display();
    let extension = path.extension()?.to_str()?;
    let file_like = (1..=5).contains(&extension.len())
        && extension.chars().all(|c| c.is_ascii_alphabetic())
        && !path.to_string_lossy().contains(char::is_whitespace);
    if !file_like {
        return None;
    }
    let only_toml = "FILTER is a part of a case name, or one test file ending in .toml";
    if path.is_file() {
        return Some(format!(
            "; {shown} is a file but not a test file: {only_toml}"
        ));
    }
    let stem = path.file_stem()?.to_string_lossy();
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty());
    let beside = folder.map(|f| f.join(format!("{stem}.toml")));
    let in_tests = rules_dir.join("tests").join(format!("{stem}.toml"));
    match beside.into_iter().chain([in_tests]).find(|p| p.is_file()) {
        Some(meant) => Some(format!(
            "; {shown} does not exist: did you mean `tagstream test {}`?",
            meant.display()
        )),
        None => Some(format!(
            "; {shown} does not exist: {only_toml} (the test files are {})",
            rules_dir.join("tests/*.toml").display()
        )),
    }
}

/// `tagstream test`: exit 0 when every case passes, 1 when one fails, 2 when tests or rules
/// are broken.
pub(super) fn test(args: &TestArgs) -> ExitCode {
    let (config, pack) = match load(&args.common) {
        Ok(loaded) => loaded,
        Err(e) => return usage_error(e),
    };
    // What check says of the set, before the results: a case that fails because a handler is
    // misnamed or a function misspelt says why.
    let sources = Sources::of(&config);
    for line in rules::check::finding_lines("", &rules::check::findings(&sources, &env_vars())) {
        to_stderr(line);
    }
    let (paths, filter) = match chosen_tests(&config.rules.dir, args.filter.as_deref()) {
        Ok(chosen) => chosen,
        Err(e) => return usage_error(e),
    };
    let (files, problems) = crate::testing::load_paths(&paths, Some(&pack));
    if !problems.is_empty() {
        for d in &problems {
            to_stderr(d);
        }
        if problems.iter().any(Diagnostic::is_error) {
            return ExitCode::from(EXIT_USAGE);
        }
    }
    if files.is_empty() {
        // A file there under another name (`keywords.tml`, `keywords.TOML`) is not read.
        let tests = config.rules.dir.join("tests");
        let mut others: Vec<String> = std::fs::read_dir(&tests)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        others.sort();
        let held = if others.is_empty() {
            String::new()
        } else {
            format!(
                " ({} holds {}, not read: only files ending in .toml are)",
                tests.display(),
                others.join(", ")
            )
        };
        return usage_error(format!(
            "no rule tests: write them in {}{held}",
            config.rules.dir.join("tests/*.toml").display()
        ));
    }
    let picked = files
        .iter()
        .flat_map(|f| &f.cases)
        .any(|c| filter.is_none_or(|f| c.name.contains(f)));
    if !picked {
        return usage_error(match filter {
            Some(filter) => format!(
                "no case name contains {filter:?}{}",
                filter_hint(&config.rules.dir, &files, filter)
            ),
            None => format!(
                "{} has no [[case]]: nothing to run",
                paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    let mut out = std::io::stdout().lock();
    let ran = crate::testing::run(&pack, &files, filter, &mut out).and_then(|summary| {
        out.flush()?;
        Ok(summary)
    });
    match ran {
        Ok(summary) if summary.failed == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(EXIT_RUNTIME),
        Err(crate::testing::RunError::Io(e)) => write_failed("stdout", &e),
        Err(e) => runtime_error(e),
    }
}
