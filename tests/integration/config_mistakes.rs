//! Engine-config mistakes that once passed `check` and failed only later, or failed naming the
//! wrong place: each is refused by `check` (exit 2) at the line or variable that holds it.

use crate::support::{check_with, tagstream};

#[test]
fn a_kafka_option_librdkafka_does_not_know_fails_check_at_its_line() {
    let (code, err, _) = check_with(
        "[kafka.options]\n\"session.timeout.ms\" = \"6000\"\n\"sesion.timeout.ms\" = \"6000\"\n",
        &[],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "CONFIG:3: kafka.options.\"sesion.timeout.ms\" = \"6000\": librdkafka refuses it: \
             No such configuration property: \"sesion.timeout.ms\""
        ),
        "{err}"
    );
}

#[test]
fn a_misspelt_secret_option_is_refused_without_its_value() {
    let (code, err, out) = check_with(
        "[kafka.options]\n\"ssl.keystore.passwords\" = \"hunter2-do-not-print\"\n",
        &[],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "CONFIG:2: kafka.options.\"ssl.keystore.passwords\" = (value not shown): librdkafka \
             refuses it: No such configuration property"
        ),
        "{err}"
    );
    assert!(
        !err.contains("hunter2") && !out.contains("hunter2"),
        "{err}{out}"
    );
}

#[test]
fn a_kafka_option_value_librdkafka_does_not_take_names_its_variable() {
    let (code, err, _) = check_with(
        "",
        &[("TAGSTREAM_KAFKA__OPTIONS__SESSION_TIMEOUT_MS", "six")],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "environment variable TAGSTREAM_KAFKA__OPTIONS__SESSION_TIMEOUT_MS: \
             kafka.options.\"session.timeout.ms\" = \"six\": librdkafka refuses it"
        ),
        "{err}"
    );
}

#[test]
fn run_refuses_a_bad_kafka_option_as_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tagstream.toml");
    std::fs::write(
        &config,
        "[kafka.options]\n\"sesion.timeout.ms\" = \"6000\"\n[http]\nlisten = \"\"\n",
    )
    .unwrap();
    let out = tagstream()
        .arg("run")
        .arg("--config")
        .arg(&config)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(":2: kafka.options.\"sesion.timeout.ms\""),
        "{err}"
    );
}

#[test]
fn an_output_topic_that_is_also_an_input_topic_is_refused() {
    let (code, err, _) = check_with(
        "[kafka]\ninput_topics = [\"events\", \"tags\"]\noutput_topic = \"tags\"\n",
        &[],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "CONFIG:3: kafka.output_topic \"tags\" is also in kafka.input_topics: tagstream \
             would read its own tag changes back as events"
        ),
        "{err}"
    );
    let (code, err, _) = check_with(
        "",
        &[
            ("TAGSTREAM_KAFKA__INPUT_TOPICS", "events,dead"),
            ("TAGSTREAM_KAFKA__DEAD_LETTER_TOPIC", "dead"),
        ],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "environment variable TAGSTREAM_KAFKA__DEAD_LETTER_TOPIC: kafka.dead_letter_topic \
             \"dead\" is also in kafka.input_topics"
        ),
        "{err}"
    );
}

#[test]
fn an_empty_bootstrap_servers_is_refused() {
    let (code, err, _) = check_with("[kafka]\nbootstrap_servers = \"\"\n", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("CONFIG:2: kafka.bootstrap_servers must not be empty"),
        "{err}"
    );
}

#[test]
fn the_shipped_options_pass() {
    let config = crate::support::repo().join("config/tagstream.toml");
    let text = std::fs::read_to_string(config).unwrap();
    let (code, err, out) = check_with(&text, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("ok: "), "{out}");
}

/// A value of the wrong type under `[kafka.options]` is refused naming its key; a secret's
/// value stays out of the message, as it does for an option librdkafka refuses.
#[test]
fn a_secret_option_of_the_wrong_type_is_refused_without_its_value() {
    let (code, err, out) = check_with("[kafka.options]\n\"ssl.key.password\" = 739184\n", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("CONFIG:2: kafka.options.\"ssl.key.password\" must be text in quotes"),
        "{err}"
    );
    assert!(
        !err.contains("739184") && !out.contains("739184"),
        "{err}{out}"
    );
    // Not a secret: the value helps.
    let (code, err, _) = check_with("[kafka.options]\n\"session.timeout.ms\" = 6000\n", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("must be text in quotes, not 6000"), "{err}");
}

/// Options tagstream sets itself were taken without a word and then ignored (`group.id`, the
/// commit settings at-least-once depends on) or silently won over their own key while the logs
/// named the other (`bootstrap.servers`).
#[test]
fn options_tagstream_sets_itself_are_refused_with_the_key_to_use() {
    let cases = [
        (
            "bootstrap.servers",
            "10.0.0.5:9092",
            "set kafka.bootstrap_servers instead",
        ),
        (
            "metadata.broker.list",
            "10.0.0.5:9092",
            "set kafka.bootstrap_servers instead",
        ),
        ("group.id", "other", "set kafka.group_id instead"),
        ("enable.auto.commit", "true", "tagstream sets it to false"),
        (
            "enable.auto.offset.store",
            "true",
            "tagstream sets it to false",
        ),
    ];
    for (name, value, says) in cases {
        let (code, err, _) =
            check_with(&format!("[kafka.options]\n\"{name}\" = \"{value}\"\n"), &[]);
        assert_eq!(code, Some(2), "{name}: {err}");
        assert!(
            err.contains(&format!("CONFIG:2: kafka.options.\"{name}\"")) && err.contains(says),
            "{name}: {err}"
        );
    }
    let (code, err, _) = check_with("", &[("TAGSTREAM_KAFKA__OPTIONS__GROUP_ID", "other")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "environment variable TAGSTREAM_KAFKA__OPTIONS__GROUP_ID: kafka.options.\"group.id\""
        ) && err.contains("set kafka.group_id instead"),
        "{err}"
    );
}

/// An empty path setting said only `: No such file or directory`, naming nothing; an empty
/// `state.dir` kept the state of embedded runs in whatever directory the run started in.
#[test]
fn an_empty_path_setting_is_refused_naming_its_key() {
    for key in ["dir", "catalogue", "params"] {
        let (code, err, _) = check_with(&format!("[rules]\n{key} = \"\"\n"), &[]);
        assert_eq!(code, Some(2), "{key}: {err}");
        assert!(
            err.contains(&format!("CONFIG:2: rules.{key} must not be empty")),
            "{key}: {err}"
        );
    }
    let (code, err, _) = check_with("", &[("TAGSTREAM_RULES__DIR", "")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("environment variable TAGSTREAM_RULES__DIR: rules.dir must not be empty"),
        "{err}"
    );
    let (code, err, _) = check_with("[state]\ndir = \"\"\nembedded = true\n", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("CONFIG:2: state.dir must not be empty"),
        "{err}"
    );
    // And a run does not leave its state in the working directory.
    let dir = tempfile::tempdir().unwrap();
    crate::support::copy_dir(
        &crate::support::repo().join("rules"),
        &dir.path().join("rules"),
    );
    crate::support::copy_dir(
        &crate::support::repo().join("config"),
        &dir.path().join("config"),
    );
    let out = crate::support::tagstream_in(dir.path())
        .args(["run", "--input", "-", "--output", "/dev/null"])
        .env("TAGSTREAM_STATE__DIR", "")
        .env("TAGSTREAM_STATE__EMBEDDED", "true")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.path().join("tagstream.state").exists());
    assert!(!dir.path().join("tagstream.lock").exists());
}

/// A topic name Kafka refuses passed `check`; a run would wait for ever on a topic no broker
/// can create, or retry its records for ever (`message.timeout.ms = 0`).
#[test]
fn a_topic_name_kafka_refuses_is_refused_at_its_line() {
    let (code, err, _) = check_with("[kafka]\noutput_topic = \"tag changes\"\n", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "CONFIG:2: kafka.output_topic \"tag changes\" is not a Kafka topic name: \
             letters, digits, '.', '_' and '-' only, at most 249 of them"
        ),
        "{err}"
    );
    let (code, err, _) = check_with("", &[("TAGSTREAM_KAFKA__INPUT_TOPICS", "chat,clicks!")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "environment variable TAGSTREAM_KAFKA__INPUT_TOPICS: kafka.input_topics \"clicks!\" \
             is not a Kafka topic name"
        ),
        "{err}"
    );
    // The group id names the changelog topic.
    let (code, err, _) = check_with("[kafka]\ngroup_id = \"tag stream\"\n", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "CONFIG:2: kafka.group_id \"tag stream\" names the changelog topic \
             \"tag stream-state-changelog\", which is not a Kafka topic name"
        ),
        "{err}"
    );
    let (code, err, _) = check_with("[kafka]\ndead_letter_topic = \"..\"\n", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("is not a Kafka topic name"), "{err}");
}

/// A file saved in another encoding said `stream did not contain valid UTF-8`: Rust's words,
/// with no line. Each file `check` reads now says where the first bad byte is.
#[test]
fn a_file_that_is_not_utf8_is_named_at_the_line_of_its_first_bad_byte() {
    let (code, err, _) = check_with("[clock]\n# caf\u{e9}\nidle_after = \"30s\"\n", &[]);
    assert_eq!(code, Some(0), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    crate::support::copy_dir(&crate::support::repo().join("rules"), &rules);
    std::fs::create_dir(rules.join("tests")).unwrap();
    let latin1 = b"# caf\xe9\n".to_vec();
    let files = [
        (dir.path().join("tagstream.toml"), "--config"),
        (dir.path().join("tags.toml"), "--catalogue"),
        (rules.join("vip.rhai"), "--rules"),
        (rules.join("tests/vip.toml"), "--rules"),
    ];
    for (file, flag) in &files {
        let mut text = b"\n\n".to_vec();
        text.extend_from_slice(&latin1);
        std::fs::write(file, &text).unwrap();
        let arg = if *flag == "--rules" {
            rules.clone()
        } else {
            file.clone()
        };
        let out = tagstream()
            .arg("check")
            .arg(flag)
            .arg(&arg)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", file.display());
        assert!(
            err.contains(&format!(
                "{}:3: not valid UTF-8 (byte 0xE9 at column 6): save the file as UTF-8",
                file.display()
            )),
            "{}: {err}",
            file.display()
        );
        assert!(!err.contains("stream did not contain"), "{err}");
        std::fs::remove_file(file).unwrap();
    }
}

/// `output_topic` and `dead_letter_topic` both "tags" passed check: the consumers of tag changes
/// would have read every dead letter as a tag change.
#[test]
fn one_topic_for_tag_changes_and_dead_letters_is_refused() {
    let (code, err, _) = check_with(
        "[kafka]\noutput_topic = \"tags\"\ndead_letter_topic = \"tags\"\n",
        &[],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "CONFIG:3: kafka.dead_letter_topic \"tags\" is also kafka.output_topic: dead letters \
             would reach the readers of tag changes as if they were tag changes"
        ),
        "{err}"
    );
    let (code, err, _) = check_with("", &[("TAGSTREAM_KAFKA__DEAD_LETTER_TOPIC", "tag-changes")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(
            "environment variable TAGSTREAM_KAFKA__DEAD_LETTER_TOPIC: kafka.dead_letter_topic"
        ),
        "{err}"
    );
}
