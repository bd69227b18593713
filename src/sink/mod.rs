//! Where outputs go: JSON-lines files or stdout ([`file`]), Kafka topics ([`kafka`]).

pub mod file;
pub mod kafka;
