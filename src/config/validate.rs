//! The engine config's values checked together once it is read: each error names its key
//! (`section.key`), for [`Config::load`](super::Config::load) to place at its line or variable.

use super::{duration, option_value_shown, Config};

/// An invalid value, as [`Config::validate`] finds it.
pub(super) struct Invalid {
    /// The key whose value is wrong (`section.key`), where the message is placed.
    pub key: &'static str,
    /// The key it conflicts with: when only that one is set by a variable, the variable is
    /// the place to blame.
    pub with: Option<&'static str>,
    pub message: String,
}

impl Config {
    /// The first invalid value: its key (`section.key`), the other key it conflicts with if
    /// any, and what is wrong with it.
    pub(super) fn validate(&self) -> Result<(), Invalid> {
        // The message starts with the key, so the key is written once.
        let invalid = |key: &'static str, problem: String| {
            Err(Invalid {
                key,
                with: None,
                message: format!("{key}{problem}"),
            })
        };
        // Two keys that cannot hold these values together: either may be the one to change.
        let conflict = |key: &'static str, with: &'static str, problem: String| {
            Err(Invalid {
                key,
                with: Some(with),
                message: format!("{key}{problem}"),
            })
        };
        if duration::parse_duration_ms(&self.clock.idle_after).is_none() {
            return invalid(
                "clock.idle_after",
                format!(
                    " = {:?} must be a duration like \"30s\"{}",
                    self.clock.idle_after,
                    duration::why_not(&self.clock.idle_after)
                ),
            );
        }
        if self.time_budget_ms().is_none() {
            return invalid(
                "rules.time_budget",
                format!(
                    " = {:?} must be a duration over 0 like \"50ms\", or \"off\"{}",
                    self.rules.time_budget,
                    duration::why_not(&self.rules.time_budget)
                ),
            );
        }
        if self.execution().is_none() {
            let names = crate::rules::Execution::NAMES;
            let written = self.rules.execution.trim().to_ascii_lowercase();
            let near = crate::rules::check::nearest(&written, names)
                .map(|name| format!("; did you mean {name:?}?"))
                .unwrap_or_default();
            return invalid(
                "rules.execution",
                format!(
                    " = {:?} must be {:?} or {:?}{near}",
                    self.rules.execution, names[0], names[1]
                ),
            );
        }
        if duration::parse_limit_ms(&self.clock.max_future).is_none() {
            return invalid(
                "clock.max_future",
                format!(
                    " = {:?} must be a duration like \"1h\", or \"off\"{}",
                    self.clock.max_future,
                    duration::why_not(&self.clock.max_future)
                ),
            );
        }
        // An empty path is the working directory to the file system: `: No such file or
        // directory` for a rules path, and the state of every run kept wherever it started.
        for (key, path) in [
            ("rules.dir", &self.rules.dir),
            ("rules.catalogue", &self.rules.catalogue),
            ("rules.params", &self.rules.params),
            ("state.dir", &self.state.dir),
        ] {
            if path.as_os_str().is_empty() {
                return invalid(key, " must not be empty".into());
            }
        }
        if self.kafka.input_topics.is_empty()
            || self.kafka.input_topics.iter().any(|t| t.is_empty())
        {
            return invalid("kafka.input_topics", " must name at least one topic".into());
        }
        for (key, value) in [
            ("kafka.bootstrap_servers", &self.kafka.bootstrap_servers),
            ("kafka.output_topic", &self.kafka.output_topic),
            ("kafka.dead_letter_topic", &self.kafka.dead_letter_topic),
            ("kafka.group_id", &self.kafka.group_id),
        ] {
            if value.is_empty() {
                return invalid(key, " must not be empty".into());
            }
        }
        if let Some(why) = bootstrap_servers_error(&self.kafka.bootstrap_servers) {
            return invalid(
                "kafka.bootstrap_servers",
                format!(
                    " = {:?} must be host:port[,host:port] like \"10.0.0.5:9092\": {why}",
                    self.kafka.bootstrap_servers
                ),
            );
        }
        let topics = self
            .kafka
            .input_topics
            .iter()
            .map(|t| ("kafka.input_topics", t));
        let outputs = [
            ("kafka.output_topic", &self.kafka.output_topic),
            ("kafka.dead_letter_topic", &self.kafka.dead_letter_topic),
        ];
        for (key, topic) in topics.chain(outputs) {
            if !is_topic_name(topic) {
                return invalid(
                    key,
                    format!(" {topic:?} is not a Kafka topic name: {TOPIC_NAME}"),
                );
            }
        }
        let changelog = self.changelog_topic();
        if !is_topic_name(&changelog) {
            return invalid(
                "kafka.group_id",
                format!(
                    " {:?} names the changelog topic {changelog:?}, which is not a Kafka topic \
                     name: {TOPIC_NAME}",
                    self.kafka.group_id
                ),
            );
        }
        // Reading an output back as input: tag changes would all be dead letters, and dead
        // letters read back would each make another, for ever.
        for (key, topic, what) in [
            (
                "kafka.output_topic",
                &self.kafka.output_topic,
                "its own tag changes back as events",
            ),
            (
                "kafka.dead_letter_topic",
                &self.kafka.dead_letter_topic,
                "its own dead letters back as events, each making another",
            ),
        ] {
            if self.kafka.input_topics.contains(topic) {
                return conflict(
                    key,
                    "kafka.input_topics",
                    format!(
                        " {topic:?} is also in kafka.input_topics: tagstream would read {what}"
                    ),
                );
            }
        }
        // One topic for both: a reader of tag changes would get dead letters among them.
        if self.kafka.dead_letter_topic == self.kafka.output_topic {
            return conflict(
                "kafka.dead_letter_topic",
                "kafka.output_topic",
                format!(
                    " {:?} is also kafka.output_topic: dead letters would reach the readers of \
                     tag changes as if they were tag changes",
                    self.kafka.dead_letter_topic
                ),
            );
        }
        if !self.http.listen.is_empty() && !is_host_port(&self.http.listen) {
            return invalid(
                "http.listen",
                format!(
                    " {:?} must be host:port like \"127.0.0.1:9898\", or \"\" for off",
                    self.http.listen
                ),
            );
        }
        Ok(())
    }

    /// The first `[kafka.options]` entry librdkafka refuses (an unknown property, a value it
    /// does not take): its name and librdkafka's reason. Checked without connecting, so that
    /// `check` finds it and `run` refuses it as a config error rather than at client creation.
    pub(super) fn kafka_option_error(&self) -> Option<(String, String)> {
        self.kafka.options.iter().find_map(|(name, value)| {
            let why = match set_by_tagstream(name) {
                Some(why) => why.to_string(),
                None => {
                    let mut one = rdkafka::ClientConfig::new();
                    one.set(name, value);
                    match one.create_native_config() {
                        Ok(_) => return None,
                        Err(rdkafka::error::KafkaError::ClientConfig(_, why, ..)) => {
                            format!("librdkafka refuses it: {why}")
                        }
                        Err(e) => e.to_string(),
                    }
                }
            };
            let shown = option_value_shown(name, value);
            Some((
                name.clone(),
                format!("kafka.options.{name:?} = {shown}: {why}"),
            ))
        })
    }
}

/// A librdkafka option tagstream sets itself, which `[kafka.options]` may not set: from a key
/// of its own, which logs and errors name (the option would win over it, or lose, without a
/// word), or to a value at-least-once delivery depends on.
pub struct SetByTagstream {
    pub name: &'static str,
    /// The value the group consumer is always created with; `None` when a key gives it.
    pub value: Option<&'static str>,
    /// Why it may not be set, for the error refusing it.
    pub why: &'static str,
}

/// Every option tagstream sets itself: the one list both the refusal at load
/// ([`Config::load`]) and the group consumer's settings (`source::kafka`) are made from, so
/// that an option forced on the consumer is never one a config could set and see ignored.
pub const SET_BY_TAGSTREAM: [SetByTagstream; 6] = [
    SetByTagstream::by_key("bootstrap.servers", BOOTSTRAP),
    SetByTagstream::by_key("metadata.broker.list", BOOTSTRAP),
    SetByTagstream::by_key(
        "group.id",
        "set kafka.group_id instead, which also names the changelog topic",
    ),
    SetByTagstream::forced("enable.auto.commit", "false", COMMIT),
    SetByTagstream::forced("enable.auto.offset.store", "false", COMMIT),
    SetByTagstream::forced("enable.partition.eof", "false", "tagstream sets it itself"),
];

const BOOTSTRAP: &str =
    "set kafka.bootstrap_servers instead, the address tagstream's logs and errors name";
const COMMIT: &str = "tagstream sets it to false: an offset is committed only once every output \
                      of its message is delivered";

impl SetByTagstream {
    const fn by_key(name: &'static str, why: &'static str) -> Self {
        SetByTagstream {
            name,
            value: None,
            why,
        }
    }

    const fn forced(name: &'static str, value: &'static str, why: &'static str) -> Self {
        SetByTagstream {
            name,
            value: Some(value),
            why,
        }
    }
}

/// Why librdkafka option `name` may not be set under `[kafka.options]`, when tagstream sets it
/// itself ([`SET_BY_TAGSTREAM`]).
fn set_by_tagstream(name: &str) -> Option<&'static str> {
    SET_BY_TAGSTREAM
        .iter()
        .find(|option| option.name == name)
        .map(|option| option.why)
}

/// The protocol prefixes librdkafka takes on a broker (`SSL://host:port`), upper case.
const BROKER_PROTOCOLS: [&str; 4] = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];

/// Why `servers` is not a list of brokers as librdkafka reads them, `host:port` entries
/// separated by commas, each maybe after a protocol (`SSL://`). An entry librdkafka would not
/// connect to (`http://host:9092`, a URL) or would connect to somewhere not meant (an empty
/// entry) only failed once a run waited on a broker that never answered. A port is asked for
/// although librdkafka would take 9092: the address the logs name is then the one used.
fn bootstrap_servers_error(servers: &str) -> Option<String> {
    servers.split(',').enumerate().find_map(|(i, entry)| {
        let entry = entry.trim();
        if entry.is_empty() {
            return Some(format!("entry {} is empty", i + 1));
        }
        let address = match entry.split_once("://") {
            Some((scheme, rest)) => {
                if !BROKER_PROTOCOLS.contains(&scheme.to_ascii_uppercase().as_str()) {
                    return Some(format!(
                        "{entry:?} starts with {scheme}://, not a Kafka protocol (a prefix, when \
                         there is one, is {}://)",
                        BROKER_PROTOCOLS.join("://, ")
                    ));
                }
                rest
            }
            None => entry,
        };
        if address.contains('/') {
            return Some(format!("{entry:?} has a path; a broker is host:port"));
        }
        (!is_broker_address(address))
            .then(|| format!("{entry:?} is not a host, or host:port with a port up to 65535"))
    })
}

/// A broker's address as librdkafka takes it: `host:port` (`[::1]:9092` too), or a host alone,
/// which it connects to on Kafka's port, 9092.
fn is_broker_address(addr: &str) -> bool {
    let host_alone = !addr.is_empty()
        && addr
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    let ipv6_alone = addr.len() > 2 && addr.starts_with('[') && addr.ends_with(']');
    is_host_port(addr) || host_alone || ipv6_alone
}

/// What a Kafka topic name may hold, as brokers check it.
const TOPIC_NAME: &str = "letters, digits, '.', '_' and '-' only, at most 249 of them";

/// Whether a broker takes `topic` as a topic name: 1 to 249 of `[a-zA-Z0-9._-]`, not `.` or
/// `..`. A name it refuses is a topic it never creates: a run would wait for it, or retry its
/// records, for ever.
fn is_topic_name(topic: &str) -> bool {
    (1..=249).contains(&topic.len())
        && topic != "."
        && topic != ".."
        && topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// `host:port` with a port number (`[::1]:9898` too).
pub fn is_host_port(addr: &str) -> bool {
    addr.rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}
