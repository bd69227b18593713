//! SIGINT and SIGTERM in embedded mode: the run finishes the record in hand, writes out whole
//! lines, reports how far it got and exits 130 or 143. A second signal while the first is
//! being honoured ends the process at once. SIGHUP reloads the rules where a run has hot reload
//! ([`super::reload`]); elsewhere it is logged and ignored, never the end of a run and its
//! state.

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};

pub const SIGINT: i32 = 2;
pub const SIGTERM: i32 = 15;

/// Set to the number of the first signal received; 0 until then.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicI32>);

impl Stop {
    /// A stop that never fires (tests, library callers).
    pub fn never() -> Stop {
        Stop::default()
    }

    /// Takes over SIGINT and SIGTERM for the rest of the process, on a thread of its own, and
    /// SIGHUP too when `ignore_hangup` (a run without hot reload, whose SIGHUP would otherwise
    /// end the process with nothing saved).
    ///
    /// # Errors
    /// The handlers or the thread cannot be set up.
    pub fn on_signals(ignore_hangup: bool) -> io::Result<Stop> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?;
        // Registered here, before any input is read, so no signal is missed.
        let (mut int, mut term, mut hup) = {
            let _entered = runtime.enter();
            (
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
                match ignore_hangup {
                    true => Some(signal(SignalKind::hangup())?),
                    false => None,
                },
            )
        };
        let stop = Stop::default();
        let flag = stop.0.clone();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                runtime.block_on(async move {
                    loop {
                        let hangup = async {
                            match hup.as_mut() {
                                Some(hup) => hup.recv().await,
                                None => std::future::pending().await,
                            }
                        };
                        let got = tokio::select! {
                            _ = int.recv() => SIGINT,
                            _ = term.recv() => SIGTERM,
                            _ = hangup => {
                                tracing::warn!(
                                    "SIGHUP ignored: this run keeps the rules it started with \
                                     (hot reload is for Kafka mode and --input - without --state); \
                                     SIGTERM or SIGINT stops it"
                                );
                                continue;
                            }
                        };
                        if flag.swap(got, Ordering::SeqCst) != 0 {
                            std::process::exit(128 + got);
                        }
                    }
                });
            })?;
        Ok(stop)
    }

    /// The signal that asked to stop, if any.
    pub fn signal(&self) -> Option<i32> {
        match self.0.load(Ordering::Relaxed) {
            0 => None,
            n => Some(n),
        }
    }

    /// Name of a signal this handles.
    pub fn name(signal: i32) -> &'static str {
        match signal {
            SIGINT => "SIGINT",
            SIGTERM => "SIGTERM",
            _ => "signal",
        }
    }
}
