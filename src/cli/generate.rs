//! `tagstream generate`: a generated behaviour-event stream written as JSON lines.

use std::io::Write;
use std::process::ExitCode;

use super::{runtime_error, GenerateArgs, EXIT_BROKEN_PIPE};

pub(super) fn generate(args: &GenerateArgs) -> ExitCode {
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
    let shown = if args.output == std::path::Path::new("-") {
        "stdout".to_string()
    } else {
        args.output.display().to_string()
    };
    let mut out = match crate::sink::file::open_output(&args.output) {
        Ok(out) => out,
        Err(e) => return runtime_error(format!("cannot write {shown}: {e}")),
    };
    let result =
        crate::generate::generate(&opts, &mut out).and_then(|stats| out.flush().map(|()| stats));
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
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(EXIT_BROKEN_PIPE),
        Err(e) => runtime_error(format!("writing {shown}: {e}")),
    }
}
