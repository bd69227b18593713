//! Integration tests, compiled as one binary. `support` starts the pipeline in-process the way
//! the CLI does; each module drives one capability from the outside.

mod support;

mod absent_broker;
mod cli;
mod compiled;
mod compiled_limits;
mod compiled_random;
mod config_mistakes;
mod diff;
mod diff_usage;
mod docker;
mod docs;
mod docs_commands;
mod docs_references;
mod docs_support;
mod embedded;
mod failover;
mod fuzz;
mod guards;
mod hostile;
mod kafka;
mod kafka_future;
mod kafka_support;
mod memory;
mod metrics;
mod misuse;
mod net_cut;
mod personas;
mod pipes;
mod progen;
mod programs;
mod query;
mod query_kafka;
mod reload;
mod restore;
mod resume;
mod rule_errors;
mod rule_tests;
mod rulepack_activity;
mod rulepack_keywords;
mod rulepack_lifecycle;
mod rulepack_rfm;
mod saved_state;
mod schemas;
mod terminal;
