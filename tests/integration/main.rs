//! Integration tests, compiled as one binary. `support` starts the pipeline in-process the way
//! the CLI does; each module drives one capability from the outside.

mod support;

mod cli;
mod compiled;
mod failover;
mod kafka;
mod kafka_support;
mod net_cut;
mod personas;
mod reload;
mod restore;
mod resume;
mod rule_errors;
mod rulepack_activity;
mod rulepack_keywords;
mod rulepack_lifecycle;
mod rulepack_rfm;
