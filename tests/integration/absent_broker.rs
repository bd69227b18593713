//! No broker where the config or a flag points: each command says so in its own words, within
//! a bounded time, and Kafka mode's `/readyz` says what the start waits for.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{free_addr, http_get, send, stderr_of, tagstream};

#[test]
fn bench_with_a_bootstrap_where_no_broker_answers_says_so_before_any_stage() {
    let nobody = free_addr();
    let started = Instant::now();
    let out = tagstream()
        .args(["bench", "--quick", "--kafka", "--bootstrap", &nobody])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "error: --bootstrap {nobody}: no Kafka broker answered within 10 s"
        )),
        "{err}"
    );
    // Refused before the stages: no report, and not after the minute they and the admin
    // client's timeouts took.
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn readyz_names_the_cluster_kafka_mode_waits_for() {
    let nobody = free_addr();
    let http = free_addr();
    let mut child = tagstream()
        .arg("run")
        .env("TAGSTREAM_KAFKA__BOOTSTRAP_SERVERS", &nobody)
        .env("TAGSTREAM_HTTP__LISTEN", &http)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut body = String::new();
    while Instant::now() < deadline {
        if let Some((status, text)) = http_get(&http, "/readyz") {
            assert_eq!(status, 503, "{text}");
            body = text;
            if body.contains("not reachable") {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    send(&child, "TERM");
    let status = child.wait().unwrap();
    let err = stderr_of(&mut child);
    assert!(
        body.contains(&format!(
            "no partition assignment yet: cluster at {nobody} not reachable (kafka.bootstrap_servers)"
        )) && body.contains(&format!("waiting for the cluster at {nobody} to answer")),
        "{body}\n{err}"
    );
    assert_eq!(status.code(), Some(0), "{err}");
}
