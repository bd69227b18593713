//! `[kafka]` values that passed `check` and failed only once a run waited on a broker: each is
//! refused (exit 2) at the line or variable that holds it.

use crate::support::tagstream;

/// `tagstream check --config FILE` with `text` as the config and `vars` set.
fn check_with(text: &str, vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tagstream.toml");
    std::fs::write(&config, text).unwrap();
    let mut cmd = tagstream();
    cmd.arg("check").arg("--config").arg(&config);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).replace(&config.display().to_string(), "CONFIG");
    (out.status.code(), err)
}

/// librdkafka reads `host:port` entries, each maybe after a Kafka protocol (`SSL://`): a URL
/// of another protocol, an entry without a port and an empty entry passed `check`, and a run
/// then waited on a broker it could not reach.
#[test]
fn bootstrap_servers_that_are_not_host_port_lists_are_refused_at_their_line() {
    let cases = [
        (
            "http://x:9092",
            "\"http://x:9092\" starts with http://, not a Kafka protocol",
        ),
        (
            "https://x:9092",
            "\"https://x:9092\" starts with https://, not a Kafka protocol",
        ),
        (
            "a:9092,b:90x2",
            "\"b:90x2\" is not a host, or host:port with a port up to 65535",
        ),
        (
            "a:99999",
            "\"a:99999\" is not a host, or host:port with a port up to 65535",
        ),
        ("a:9092,,b:9092", "entry 2 is empty"),
        ("x:9092/kafka", "\"x:9092/kafka\" has a path"),
    ];
    for (servers, why) in cases {
        let (code, err) = check_with(&format!("[kafka]\nbootstrap_servers = {servers:?}\n"), &[]);
        assert_eq!(code, Some(2), "{servers}: {err}");
        assert!(
            err.contains(&format!(
                "CONFIG:2: kafka.bootstrap_servers = {servers:?} must be host:port[,host:port] \
                 like \"10.0.0.5:9092\": {why}"
            )),
            "{servers}: {err}"
        );
    }
    let (code, err) = check_with(
        "",
        &[("TAGSTREAM_KAFKA__BOOTSTRAP_SERVERS", "http://x:9092")],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "environment variable TAGSTREAM_KAFKA__BOOTSTRAP_SERVERS: kafka.bootstrap_servers = \
             \"http://x:9092\" must be host:port[,host:port]"
        ),
        "{err}"
    );
}

/// What librdkafka takes still passes: lists, spaces after commas, IPv6, protocol prefixes and
/// hosts without a port.
#[test]
fn bootstrap_server_lists_librdkafka_takes_pass() {
    for servers in [
        "10.0.0.5:9092",
        "a:9092, b:9093",
        "[::1]:9092",
        "SSL://broker:9093,plaintext://other:9092",
        "SASL_SSL://broker:9094",
        // A host alone is reached on Kafka's port, 9092.
        "kafka",
        "kafka-0.kafka.svc, kafka-1.kafka.svc:9093",
        "[::1]",
    ] {
        let (code, err) = check_with(&format!("[kafka]\nbootstrap_servers = {servers:?}\n"), &[]);
        assert_eq!(code, Some(0), "{servers}: {err}");
    }
}
