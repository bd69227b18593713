//! Pipelines: drive the [`crate::core::Processor`] from a source to a sink: [`file`] is the
//! embedded mode (JSON lines in and out, no broker), [`kafka`] the production mode;
//! [`reload`] hands both a new rule set between two events.

pub mod file;
pub mod kafka;
pub mod paths;
pub mod reload;
pub mod saved;
pub mod sharded;
pub mod signals;
