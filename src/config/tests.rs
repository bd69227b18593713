//! The engine config: defaults, the shipped file, overrides, and the errors an operator meets.

use super::*;

fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn write(text: &str) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    file
}

#[test]
fn defaults_when_file_is_absent() {
    let config = Config::load(Path::new("/nonexistent/tagstream.toml"), false, &[]).unwrap();
    assert_eq!(config, Config::default());
    assert!(Config::load(Path::new("/nonexistent/tagstream.toml"), true, &[]).is_err());
}

#[test]
fn env_overrides_file_values() {
    let file = write("[kafka]\nbootstrap_servers = \"a:1\"\n[clock]\nidle_after = \"10s\"\n");
    let config = Config::load(
        file.path(),
        true,
        &vars(&[
            ("TAGSTREAM_KAFKA__BOOTSTRAP_SERVERS", "10.0.0.5:9092"),
            ("TAGSTREAM_KAFKA__INPUT_TOPICS", "chat,clicks,orders"),
            ("TAGSTREAM_CLOCK__IDLE_FOLLOWS_WALL_CLOCK", "false"),
            ("TAGSTREAM_KAFKA__OPTIONS__SECURITY_PROTOCOL", "SASL_SSL"),
        ]),
    )
    .unwrap();
    assert_eq!(config.kafka.bootstrap_servers, "10.0.0.5:9092");
    assert_eq!(config.kafka.input_topics, ["chat", "clicks", "orders"]);
    assert!(!config.clock.idle_follows_wall_clock);
    assert_eq!(config.idle_after_ms(), 10_000);
    assert_eq!(config.kafka.options["security.protocol"], "SASL_SSL");
}

#[test]
fn unknown_keys_are_errors_with_line() {
    let file = write("[kafka]\ngroup_id = \"g\"\n\n\nbootstrap = \"x\"\n");
    let err = Config::load(file.path(), true, &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("bootstrap"), "{err}");
    assert!(err.contains(":5:"), "{err}");
    let err = Config::load(
        Path::new("/nonexistent"),
        false,
        &vars(&[("TAGSTREAM_KAFKA__NOPE", "1")]),
    )
    .unwrap_err();
    assert!(matches!(err, ConfigError::Env { .. }), "{err}");
}

#[test]
fn bad_values_are_rejected() {
    let err = Config::load(
        Path::new("/nonexistent"),
        false,
        &vars(&[("TAGSTREAM_CLOCK__IDLE_FOLLOWS_WALL_CLOCK", "maybe")]),
    );
    assert!(err.is_err());
    let file = write("[clock]\nidle_after = \"soon\"\n");
    assert!(Config::load(file.path(), true, &[]).is_err());
    for listen in ["9898", "localhost", "127.0.0.1:99999", ":9898"] {
        let err = Config::load(
            Path::new("/nonexistent"),
            false,
            &vars(&[("TAGSTREAM_HTTP__LISTEN", listen)]),
        );
        assert!(err.is_err(), "{listen}");
    }
    let off = Config::load(
        Path::new("/nonexistent"),
        false,
        &vars(&[("TAGSTREAM_HTTP__LISTEN", "")]),
    );
    assert_eq!(off.unwrap().http.listen, "");
}

#[test]
fn a_bad_value_names_where_it_came_from() {
    let file = write("# engine\n[rules]\ntime_budget = \"5\"\n");
    let err = Config::load(file.path(), true, &[])
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!(
            "{}:3: rules.time_budget = \"5\" must be a duration over 0 like \"50ms\", or \"off\"; a number needs its unit, e.g. \"5s\" (units: ms, s, m, h, d, w)",
            file.path().display()
        )
    );
    let err = Config::load(
        Path::new("/nonexistent"),
        false,
        &vars(&[("TAGSTREAM_RULES__TIME_BUDGET", "5")]),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "environment variable TAGSTREAM_RULES__TIME_BUDGET: rules.time_budget = \"5\" must be a duration over 0 like \"50ms\", or \"off\"; a number needs its unit, e.g. \"5s\" (units: ms, s, m, h, d, w)"
    );
    // No budget is spelt "off", not a zero that would read as one.
    for zero in ["0ms", "0s", "0"] {
        let load = Config::load(
            Path::new("/nonexistent"),
            false,
            &vars(&[("TAGSTREAM_RULES__TIME_BUDGET", zero)]),
        );
        assert!(load.is_err(), "{zero}");
    }
    let err = Config::load(
        Path::new("/nonexistent"),
        false,
        &vars(&[("TAGSTREAM_KAFKA__GROUPID", "g")]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.ends_with(
            "unknown key `groupid` in section [kafka]; did you mean TAGSTREAM_KAFKA__GROUP_ID?"
        ),
        "{err}"
    );
}

/// An override with one underscore between section and key would be ignored without a
/// word: it is refused with the spelling meant. A misspelt section is named as such.
#[test]
fn misspelt_overrides_are_refused_with_the_spelling_meant() {
    let load = |name: &str, value: &str| {
        Config::load(Path::new("/nonexistent"), false, &vars(&[(name, value)]))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    assert_eq!(
        load("TAGSTREAM_CLOCK_MAX_FUTURE", "1h").unwrap_err(),
        "environment variable TAGSTREAM_CLOCK_MAX_FUTURE: a section and its key are joined by \
         two underscores; did you mean TAGSTREAM_CLOCK__MAX_FUTURE?"
    );
    assert_eq!(
        load("TAGSTREAM_KAFKA_GROUP_ID", "g").unwrap_err(),
        "environment variable TAGSTREAM_KAFKA_GROUP_ID: a section and its key are joined by \
         two underscores; did you mean TAGSTREAM_KAFKA__GROUP_ID?"
    );
    // A key without its section, or run together with it.
    assert_eq!(
        load("TAGSTREAM_BOOTSTRAP_SERVERS", "h:9092").unwrap_err(),
        "environment variable TAGSTREAM_BOOTSTRAP_SERVERS: names no section: an override is \
         TAGSTREAM_<SECTION>__<KEY>; did you mean TAGSTREAM_KAFKA__BOOTSTRAP_SERVERS?"
    );
    assert!(load("TAGSTREAM_STATEDIR", "/x")
        .unwrap_err()
        .ends_with("did you mean TAGSTREAM_STATE__DIR?"));
    assert!(load("TAGSTREAM_DIR", "/x")
        .unwrap_err()
        .ends_with("did you mean TAGSTREAM_RULES__DIR or TAGSTREAM_STATE__DIR?"));
    // Variables of the process itself, and ones naming no section or key, are not overrides.
    for name in [
        "TAGSTREAM_LOG",
        "TAGSTREAM_LOG_FORMAT",
        "TAGSTREAM_TEST_BOOTSTRAP",
        "TAGSTREAM_PROGRAMS",
    ] {
        assert_eq!(load(name, "x"), Ok(()), "{name}");
    }
}

/// A value of the wrong type, in the file or in an override, is told in words rather than
/// serde's (`invalid type: integer `30`, expected a string`), by the key that holds it and
/// at its own line.
#[test]
fn wrong_types_are_told_in_plain_words() {
    let load = |text: &str| {
        let file = write(text);
        let err = Config::load(file.path(), true, &[])
            .unwrap_err()
            .to_string();
        err.replace(&file.path().display().to_string(), "f")
    };
    assert_eq!(
        load("[clock]\n# wall clock\nidle_after = 30\n"),
        "f:3: clock.idle_after must be text in quotes, not 30"
    );
    assert_eq!(
        load("[kafka]\ninput_topics = \"orders\"\n"),
        "f:2: kafka.input_topics must be a list in brackets, not \"orders\""
    );
    assert_eq!(
        load("[kafka.options]\n\"session.timeout.ms\" = 6000\n"),
        "f:2: kafka.options.\"session.timeout.ms\" must be text in quotes, not 6000"
    );
    assert_eq!(
        load("[rules]\ndir = [\"rules\"]\n"),
        "f:2: rules.dir must be a path in quotes, not a list"
    );
    assert_eq!(
        load("[clock]\nidle_follows_wall_clock = \"yes\"\n"),
        "f:2: clock.idle_follows_wall_clock must be true or false, not \"yes\""
    );
    assert_eq!(
        load("[kafka]\ngroupid = \"g\"\n")
            .split(", expected")
            .next(),
        Some("f:2: unknown key `groupid`")
    );
    let err = Config::load(
        Path::new("/nonexistent"),
        false,
        &vars(&[("TAGSTREAM_CLOCK__IDLE_FOLLOWS_WALL_CLOCK", "maybe")]),
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "environment variable TAGSTREAM_CLOCK__IDLE_FOLLOWS_WALL_CLOCK: \"maybe\" is not \
         true or false (or yes/no, on/off, 1/0)"
    );
}

#[test]
fn max_future_defaults_to_an_hour_and_can_be_turned_off() {
    let config = Config::load(Path::new("/nonexistent"), false, &[]).unwrap();
    assert_eq!(config.max_future_ms(), Some(3_600_000));
    for (value, expected) in [("off", None), ("15m", Some(900_000)), ("0s", Some(0))] {
        let config = Config::load(
            Path::new("/nonexistent"),
            false,
            &vars(&[("TAGSTREAM_CLOCK__MAX_FUTURE", value)]),
        )
        .unwrap();
        assert_eq!(config.max_future_ms(), expected, "{value}");
    }
    let file = write("[clock]\nmax_future = \"soon\"\n");
    let err = Config::load(file.path(), true, &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("clock.max_future"), "{err}");
}

#[test]
fn a_conflict_is_placed_where_it_was_made() {
    let file = write("[kafka]\ninput_topics = [\"events\"]\noutput_topic = \"tag-changes\"\n");
    // The file alone is fine; the variable makes the conflict, and is named for it.
    let err = Config::load(
        file.path(),
        true,
        &vars(&[("TAGSTREAM_KAFKA__INPUT_TOPICS", "tag-changes")]),
    )
    .unwrap_err();
    let ConfigError::Env { var, message } = &err else {
        panic!("not placed at the variable: {err}");
    };
    assert_eq!(var, "TAGSTREAM_KAFKA__INPUT_TOPICS");
    assert!(
        message.contains("is also in kafka.input_topics"),
        "{message}"
    );
    // A conflict written in the file is placed at the file's line.
    let file = write("[kafka]\ninput_topics = [\"tag-changes\"]\noutput_topic = \"tag-changes\"\n");
    let err = Config::load(file.path(), true, &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains(":3:"), "{err}");
    // Both sides from variables: the key the message starts with, in any letter case.
    let err = Config::load(
        Path::new("/nonexistent"),
        false,
        &vars(&[
            ("TAGSTREAM_KAFKA__DEAD_LETTER_TOPIC", "out"),
            ("TAGSTREAM_kafka__output_topic", "out"),
        ]),
    )
    .unwrap_err();
    let ConfigError::Env { var, .. } = &err else {
        panic!("not placed at a variable: {err}");
    };
    assert_eq!(var, "TAGSTREAM_KAFKA__DEAD_LETTER_TOPIC");
}
