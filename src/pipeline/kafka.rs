//! Kafka mode.
use std::process::ExitCode;
pub fn main(_config: crate::config::Config, _pack: crate::rules::RulePack) -> ExitCode {
    eprintln!("error: Kafka mode is not built yet");
    ExitCode::from(1)
}
