//! What `--help` tells a new operator: every flag and argument of every command says what it
//! is for, not only its name and default; flags that cannot go together are refused together.

use clap::CommandFactory;

/// `generate --help` listed `--seed <SEED> [default: 1]` and `--output <FILE|-> [default: -]`
/// with no word of what they do; `diff`, `segment` and `explain` their `--format` the same.
#[test]
fn every_flag_of_every_command_says_what_it_is_for() {
    let mut bare = Vec::new();
    for command in tagstream::cli::Cli::command().get_subcommands() {
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if arg.get_help().is_none() && id != "help" {
                bare.push(format!("{} {id}", command.get_name()));
            }
        }
    }
    assert!(bare.is_empty(), "no help text: {bare:?}");
}

/// `segment --count --format jsonl` printed a bare number, the format asked for dropped
/// without a word.
#[test]
fn segment_refuses_a_format_for_a_count() {
    let out = crate::support::tagstream()
        .args(["segment", "rfm/*", "--count", "--format", "jsonl"])
        .args(["--state", "no-such-state"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the argument '--count' cannot be used with '--format <FORMAT>'"),
        "{err}"
    );
}
