//! `[kafka]` values that passed `check` and failed only once a run waited on a broker, and
//! `[kafka.options]` librdkafka refuses only when it creates a client: each is refused (exit 2)
//! at the line or variable that holds it, by `check` and before a run or query starts.

use crate::support::{check_with, tagstream};

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
        let (code, err, _) =
            check_with(&format!("[kafka]\nbootstrap_servers = {servers:?}\n"), &[]);
        assert_eq!(code, Some(2), "{servers}: {err}");
        assert!(
            err.contains(&format!(
                "CONFIG:2: kafka.bootstrap_servers = {servers:?} must be host:port[,host:port] \
                 like \"10.0.0.5:9092\": {why}"
            )),
            "{servers}: {err}"
        );
    }
    let (code, err, _) = check_with(
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
        let (code, err, _) =
            check_with(&format!("[kafka]\nbootstrap_servers = {servers:?}\n"), &[]);
        assert_eq!(code, Some(0), "{servers}: {err}");
    }
}

/// Options librdkafka takes when it parses them but refuses when it creates a client: a SASL
/// mechanism this build lacks (it has no Kerberos), a CA file that is not there. `check`
/// creates the clients, without a broker (none runs here), and names the option's line.
#[test]
fn options_librdkafka_refuses_only_at_client_creation_fail_check_at_their_line() {
    let (code, err, _) = check_with(
        "[kafka.options]\n\"security.protocol\" = \"sasl_plaintext\"\n\"sasl.mechanisms\" = \"GSSAPI\"\n",
        &[],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.starts_with(
            "CONFIG:3: kafka.options.\"sasl.mechanisms\" = \"GSSAPI\": librdkafka cannot \
             create a client with it: No provider for SASL mechanism GSSAPI"
        ),
        "{err}"
    );
    let (code, err, _) = check_with(
        "[kafka]\nbootstrap_servers = \"127.0.0.1:1\"\n\n[kafka.options]\n\"security.protocol\" = \"ssl\"\n\"ssl.ca.location\" = \"/nonexistent/ca.pem\"\n",
        &[],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.starts_with(
            "CONFIG:6: kafka.options.\"ssl.ca.location\" = \"/nonexistent/ca.pem\": librdkafka \
             cannot create a client with it: ssl.ca.location failed"
        ),
        "{err}"
    );
    assert!(
        err.contains("(no such file: /nonexistent/ca.pem)\n"),
        "{err}"
    );
}

/// Set by the environment, the option is named by its variable; librdkafka's default
/// mechanism, refused, is said to be the default.
#[test]
fn an_option_refused_at_client_creation_names_its_variable() {
    let (code, err, _) = check_with(
        "",
        &[("TAGSTREAM_KAFKA__OPTIONS__SECURITY_PROTOCOL", "sasl_ssl")],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.starts_with(
            "environment variable TAGSTREAM_KAFKA__OPTIONS__SECURITY_PROTOCOL: \
             kafka.options.\"security.protocol\" = \"sasl_ssl\": librdkafka cannot create a \
             client with it: No provider for SASL mechanism GSSAPI"
        ),
        "{err}"
    );
    assert!(
        err.contains("(sasl.mechanisms is not set: librdkafka's default is GSSAPI;"),
        "{err}"
    );
}

/// `run` in Kafka mode refuses the same before it asks any broker anything: exit 2 at the
/// option's line, not a wait for a cluster nor a runtime failure once it is under way.
#[test]
fn run_refuses_an_option_refused_at_client_creation_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tagstream.toml");
    std::fs::write(
        &config,
        "[kafka]\nbootstrap_servers = \"127.0.0.1:1\"\n[kafka.options]\n\"security.protocol\" = \"ssl\"\n\"ssl.ca.location\" = \"/nonexistent/ca.pem\"\n[http]\nlisten = \"\"\n",
    )
    .unwrap();
    let mut child = tagstream()
        .arg("run")
        .arg("--config")
        .arg(&config)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A run that got past the check would wait for the cluster for ever: stop it to fail.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(":5: kafka.options.\"ssl.ca.location\" = \"/nonexistent/ca.pem\": librdkafka cannot create a client with it"),
        "{err}"
    );
    assert!(!err.contains("starting Kafka mode"), "{err}");
}

/// `segment` and `explain` read Kafka mode's changelog with the same options: one refused at
/// client creation is the same config error at its line, exit 2, not a Kafka failure (exit 1).
#[test]
fn queries_of_the_changelog_refuse_an_option_refused_at_client_creation() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tagstream.toml");
    std::fs::write(
        &config,
        "[kafka]\nbootstrap_servers = \"127.0.0.1:1\"\n[kafka.options]\n\"security.protocol\" = \"ssl\"\n\"ssl.ca.location\" = \"/nonexistent/ca.pem\"\n",
    )
    .unwrap();
    for args in [&["segment", "lifecycle/*"][..], &["explain", "u1"][..]] {
        let out = tagstream()
            .args(args)
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(":5: kafka.options.\"ssl.ca.location\" = \"/nonexistent/ca.pem\": librdkafka cannot create a client with it"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn the_whole_options_table_from_the_environment_says_how_to_set_one() {
    let (code, err, _) = check_with("", &[("TAGSTREAM_KAFKA__OPTIONS", "security.protocol=SSL")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "environment variable TAGSTREAM_KAFKA__OPTIONS: kafka.options is a table: set each \
             option as TAGSTREAM_KAFKA__OPTIONS__<NAME>"
        ),
        "{err}"
    );
    assert!(!err.contains("expected a map"), "{err}");
}
