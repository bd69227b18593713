//! What `--help` tells a new operator: every flag and argument of every command says what it
//! is for, not only its name and default.

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
