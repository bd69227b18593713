//! `tagstream generate`: a generated behaviour-event stream written as JSON lines.

use std::io::Write;
use std::process::ExitCode;

use super::{runtime_error, usage_error, write_failed, GenerateArgs};
use crate::pipeline::paths::Stream;

/// 2100-01-01T00:00:00Z: event times must come before it.
const END_OF_2099_MS: i64 = 4_102_444_800_000;

pub(super) fn generate(args: &GenerateArgs) -> ExitCode {
    let day_ms = 86_400_000;
    let end = args.start + i64::from(args.days) * day_ms;
    if end > END_OF_2099_MS {
        let fit = (END_OF_2099_MS - args.start) / day_ms;
        return usage_error(format_args!(
            "--days {} from --start runs past 2099-12-31, the last day event times may have: \
             use --days {fit} or less, or an earlier --start",
            args.days
        ));
    }
    let opts = crate::generate::GenOptions {
        users: args.users,
        events: args.events,
        days: args.days,
        seed: args.seed,
        invalid_per_mille: args.invalid_per_mille,
        late_per_mille: args.late_per_mille,
        personas: args.personas,
        start_ms: args.start,
    };
    let mut out = match crate::sink::file::open_output(&args.output) {
        Ok(out) => out,
        Err(e) => {
            return runtime_error(format_args!("cannot create {}: {e}", args.output.display()))
        }
    };
    let result = crate::generate::generate(&opts, &mut out).and_then(|stats| {
        out.flush()?;
        Ok(stats)
    });
    match result {
        Ok(stats) => {
            tracing::info!(
                lines = stats.lines,
                valid = stats.valid,
                invalid = stats.invalid,
                users = stats.users,
                "stream generated"
            );
            ExitCode::SUCCESS
        }
        Err(e) => write_failed(&Stream::output(&args.output).name(), &e),
    }
}
