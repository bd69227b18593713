//! `tagstream`: parse the command line, set up logging, hand over to the library.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = tagstream::cli::Cli::parse();
    let filter =
        EnvFilter::try_from_env("TAGSTREAM_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("TAGSTREAM_LOG_FORMAT").is_ok_and(|f| f == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
    tagstream::cli::main(cli)
}
