//! Where outputs go: JSON-lines files or stdout ([`file`]), Kafka topics ([`kafka`]), a query's
//! report replaced whole ([`replace`]).

pub mod file;
pub mod kafka;
pub mod replace;
