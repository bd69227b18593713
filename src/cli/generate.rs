//! `tagstream generate`: a generated behaviour-event stream written as JSON lines.

use std::io::Write;
use std::process::ExitCode;

use super::{runtime_error, usage_error, write_failed, GenerateArgs};
use crate::config::duration::DAY_MS;
use crate::decode::END_TS_MS;
use crate::pipeline::paths::Stream;

pub(super) fn generate(args: &GenerateArgs) -> ExitCode {
    // Event times must come before the decoder's end of time (2100-01-01).
    let end = args.start + i64::from(args.days) * DAY_MS;
    if end > END_TS_MS {
        let fit = (END_TS_MS - args.start) / DAY_MS;
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
            // Said as `run` says it: a missing folder or a folder given for the file.
            let path = &args.output;
            let why = crate::sink::file::why_not_created(path, crate::sink::file::OUTPUT_TAKES);
            return runtime_error(format_args!("cannot create {}{why}: {e}", path.display()));
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
