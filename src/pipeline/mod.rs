//! Pipelines: drive the [`crate::core::Processor`] from a source to a sink: [`file`] is the
//! embedded mode (JSON lines in and out, no broker), [`kafka`] the production mode.

pub mod file;
pub mod kafka;
pub mod paths;
pub mod sharded;
pub mod signals;
