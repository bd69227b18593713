//! `tagstream`: parse the command line, set up logging, hand over to the library.

use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = tagstream::cli::Cli::parse_args();
    if let Err(e) = tagstream::metrics::log::init_from_env() {
        tagstream::cli::to_stderr(format_args!("error: {e}"));
        return ExitCode::from(tagstream::cli::EXIT_USAGE);
    }
    tagstream::cli::main(cli)
}
