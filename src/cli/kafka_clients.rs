//! Creating the Kafka clients a run creates, without a broker, before anything starts.
//!
//! librdkafka takes some `[kafka.options]` settings when the config is parsed and refuses them
//! only when a client is created: a SASL mechanism this build of librdkafka lacks (`GSSAPI`
//! without Kerberos), a CA file that is not there. `check` and Kafka mode's `run` create the
//! group consumer and the producer first, with the configs the run creates them with but no
//! `bootstrap.servers` (so no broker is contacted, and none needs to be up), and report a
//! refusal as a config error at the option's line or environment variable.

use std::collections::BTreeMap;
use std::path::Path;

use rdkafka::consumer::BaseConsumer;
use rdkafka::error::KafkaError;
use rdkafka::producer::BaseProducer;
use rdkafka::ClientConfig;

use crate::config::{at_kafka_option, option_value_shown as shown, Config, ConfigError};
use crate::sink::kafka::producer_config;
use crate::source::kafka::group_consumer_config;
use crate::source::kafka::QuietContext;

/// Checks that librdkafka can create the run's consumer and producer with `config`'s options.
/// `path` is the config file it was read from, `vars` the `TAGSTREAM_*` variables, to name
/// the option to fix.
///
/// # Errors
/// The option librdkafka cannot create a client with, with librdkafka's reason; when no one
/// option is to blame, the options together.
pub fn check(config: &Config, path: &Path, vars: &[(String, String)]) -> Result<(), ConfigError> {
    let options = &config.kafka.options;
    let group_id = &config.kafka.group_id;
    let Some(why) = refusal(options, group_id) else {
        return Ok(());
    };
    let blamed = blame(options, &why, |fewer| refusal(fewer, group_id).is_none());
    let message = match blamed {
        Some(name) => {
            let value = &options[name];
            format!(
                "kafka.options.{name:?} = {}: librdkafka cannot create a client with it: \
                 {why}{}{}",
                shown(name, value),
                missing_file(name, value),
                default_mechanism(options, &why)
            )
        }
        None => format!("[kafka.options]: librdkafka cannot create a client with these: {why}"),
    };
    Err(at_kafka_option(path, vars, blamed, message))
}

/// Why librdkafka cannot create the group consumer or the producer with `options`, if not.
fn refusal(options: &BTreeMap<String, String>, group_id: &str) -> Option<String> {
    let mut base = ClientConfig::new();
    for (key, value) in options {
        // The clients are to know no broker.
        if key != "bootstrap.servers" && key != "metadata.broker.list" {
            base.set(key, value);
        }
    }
    let consumer = group_consumer_config(&base, group_id)
        .create_with_context::<_, BaseConsumer<QuietContext>>(QuietContext)
        .err();
    consumer
        .or_else(|| {
            producer_config(&base)
                .create_with_context::<_, BaseProducer<QuietContext>>(QuietContext)
                .err()
        })
        .map(|e| match e {
            KafkaError::ClientCreation(why) => why,
            other => other.to_string(),
        })
}

/// The option to blame for `why`: the one librdkafka names, else the one whose value it
/// names (`GSSAPI`), else the one without which the clients can be created (`fine` says).
fn blame<'a>(
    options: &'a BTreeMap<String, String>,
    why: &str,
    fine: impl Fn(&BTreeMap<String, String>) -> bool,
) -> Option<&'a str> {
    let lower = why.to_lowercase();
    let named = options
        .keys()
        .filter(|name| lower.contains(&name.to_lowercase()))
        .max_by_key(|name| name.len());
    let by_value = || {
        options
            .iter()
            .filter(|(_, v)| v.trim().len() >= 3 && lower.contains(&v.trim().to_lowercase()))
            .map(|(name, _)| name)
            .max_by_key(|name| options[*name].len())
    };
    let by_removal = || {
        options.keys().find(|name| {
            let mut fewer = options.clone();
            fewer.remove(*name);
            fine(&fewer)
        })
    };
    named
        .or_else(by_value)
        .or_else(by_removal)
        .map(String::as_str)
}

/// ` (no such file: PATH)` for a file option naming no file: librdkafka says only that
/// OpenSSL failed (`ssl.ca.location failed: error:…:system lib`).
fn missing_file(name: &str, value: &str) -> String {
    let file_option = name.ends_with(".location") || name == "sasl.kerberos.keytab";
    // `ssl.ca.location = "probe"` asks librdkafka to look in the usual places.
    if file_option && value != "probe" && !Path::new(value).exists() {
        format!(" (no such file: {value})")
    } else {
        String::new()
    }
}

/// A hint when a SASL mechanism is refused that the options do not name: librdkafka's default
/// (`GSSAPI`, Kerberos) is the one refused.
fn default_mechanism(options: &BTreeMap<String, String>, why: &str) -> &'static str {
    if why.contains("SASL mechanism") && !options.contains_key("sasl.mechanisms") {
        " (sasl.mechanisms is not set: librdkafka's default is GSSAPI; set it to the mechanism \
         the cluster uses, such as PLAIN or SCRAM-SHA-512)"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_client_librdkafka_can_create_is_not_refused() {
        assert_eq!(refusal(&options(&[]), "g"), None);
        let shipped = options(&[("session.timeout.ms", "6000"), ("acks", "1")]);
        assert_eq!(refusal(&shipped, "g"), None);
    }

    #[test]
    fn a_missing_ca_file_is_refused_and_blamed_on_its_option() {
        let opts = options(&[
            ("security.protocol", "ssl"),
            ("ssl.ca.location", "/nonexistent/ca.pem"),
        ]);
        let why = refusal(&opts, "g").expect("refused");
        assert!(why.contains("ssl.ca.location"), "{why}");
        let blamed = blame(&opts, &why, |o| refusal(o, "g").is_none());
        assert_eq!(blamed, Some("ssl.ca.location"));
    }

    #[test]
    fn blame_falls_back_to_values_then_to_removal() {
        let opts = options(&[("a.b", "GSSAPI"), ("c.d", "x"), ("e.f", "y")]);
        assert_eq!(
            blame(&opts, "No provider for SASL mechanism GSSAPI", |_| false),
            Some("a.b")
        );
        assert_eq!(blame(&opts, "bad", |o| !o.contains_key("e.f")), Some("e.f"));
        assert_eq!(blame(&opts, "bad", |_| false), None);
    }

    #[test]
    fn secrets_are_not_shown() {
        assert_eq!(shown("sasl.password", "hunter2"), "(value not shown)");
        assert_eq!(shown("sasl.mechanisms", "GSSAPI"), "\"GSSAPI\"");
    }
}
