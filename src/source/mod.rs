//! Where input records come from: JSON-lines files or stdin ([`file`]), Kafka topics ([`kafka`]).

pub mod file;
pub mod kafka;
pub mod regroup;
pub mod resume;
mod route;
