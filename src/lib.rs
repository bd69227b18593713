//! tagstream: a rules-driven auto-tagging stream processor.
//!
//! Behaviour events (chat messages, clicks, orders) come in, per-user state is kept, operator
//! written Rhai rules decide tags, and tag changes go out.
//!
//! # Layout
//!
//! One module per pipeline stage, in the order an event flows through them:
//!
//! - [`source`]: where records come from — JSON lines ([`source::file`]) or Kafka.
//! - [`decode`]: bytes → typed [`decode::Event`], or a dead letter with a precise reason.
//! - [`state`]: the per-user profile (windows, order ledger, tags, variables, timers) and the
//!   [`state::Partition`] owning a set of users, its event-time clock and its due queue.
//! - [`rules`]: the Rhai engine, the script API, limits; a [`rules::RulePack`] is the rule set
//!   as a value that can be swapped between events. Handlers run compiled from Rhai's AST, with
//!   Rhai's interpreter as the reference and the fallback (`rules/compiled`).
//! - [`tags`]: the catalogue, exclusive groups, TTLs, score bands; turns rule calls into
//!   [`tags::TagChange`]s.
//! - [`sink`]: where outputs go — JSON lines ([`sink::file`]) or Kafka.
//!
//! [`core`] ties decode → state → rules → tags into one pure, synchronous step with no I/O and
//! no clock of its own; [`pipeline`] drives it from a source to a sink (file mode, Kafka mode).
//! [`config`] and [`cli`] sit beside them; [`generate`] makes realistic test streams; [`hash`] is
//! the stable hash behind change ids, order keys and shards.
//! [`metrics`] is the observability beside the pipeline: Prometheus metrics, `/livez` and
//! `/readyz` over HTTP, the log set-up.
//! [`bench`] (`tagstream bench`) measures each layer's throughput and memory over one;
//! [`diff`] (`tagstream diff`) replays a stream through two rule sets and reports what differs.
//! [`testing`] (`tagstream test`) runs rule test files through [`core`]; `tagstream check`
//! is [`rules::check`].
//! [`query`] (`tagstream segment`, `tagstream explain`) reads users back out of saved state
//! ([`state::store`], written by embedded mode with `--state DIR`) or the Kafka changelog.
//!
//! The path of an event: `source` reads a record → `core::Processor::process_record` decodes
//! it, fires the timers the event's time passes, folds it into the user's state, runs each
//! rule's handlers → `tags` turns the rules' `tag()`/`untag()` into changes → `sink` writes them.

pub mod bench;
pub mod cli;
pub mod config;
pub mod core;
pub mod decode;
pub mod diff;
pub mod generate;
pub mod hash;
pub mod metrics;
pub mod pipeline;
pub mod query;
pub mod rules;
pub mod sink;
pub mod source;
pub mod state;
pub mod tags;
pub mod testing;
