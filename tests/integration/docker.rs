//! The Dockerfile, as far as a machine without a Docker engine can check it: its build command
//! is the test script's, it has a build stage and a small runtime stage running as a non-root
//! user, and the release binary runs the way the image runs it — as an unprivileged user, from
//! the image's working directory, or with rules and config from mounted paths — and answers
//! `/livez` on the address the image sets.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::*;

fn dockerfile() -> String {
    std::fs::read_to_string(repo().join("Dockerfile")).unwrap()
}

/// The instructions of the Dockerfile, continuation lines joined, comments dropped.
fn instructions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                if !current.trim().is_empty() {
                    out.push(current.trim().to_string());
                }
                current.clear();
            }
        }
    }
    out
}

/// The `cargo build` command in `text`, as whitespace-separated words.
fn cargo_build(text: &str) -> Vec<String> {
    let at = text.find("cargo build").expect("a cargo build command");
    text[at..]
        .split(['\n', '&', ';'])
        .next()
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn the_image_builds_with_the_test_scripts_command_in_two_stages_as_a_non_root_user() {
    let steps = instructions(&dockerfile());
    let froms: Vec<&String> = steps.iter().filter(|s| s.starts_with("FROM ")).collect();
    assert_eq!(
        froms.len(),
        2,
        "a build stage and a runtime stage: {froms:?}"
    );
    assert!(
        froms[0].contains("rust:") && froms[0].ends_with("AS build"),
        "{}",
        froms[0]
    );
    assert!(
        froms[1].contains("-slim") || froms[1].contains("distroless"),
        "{}",
        froms[1]
    );

    // The toolchain of the build stage is at least the crate's rust-version.
    let image = froms[0].split_whitespace().nth(1).unwrap();
    let version = |v: &str| -> Vec<u32> { v.split('.').map(|p| p.parse().unwrap()).collect() };
    let tag = image.trim_start_matches("rust:").split('-').next().unwrap();
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let wanted = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .unwrap()
        .trim_matches('"');
    assert!(
        version(tag) >= version(wanted),
        "{image} builds a crate needing {wanted}"
    );

    let run = steps
        .iter()
        .find(|s| s.starts_with("RUN ") && s.contains("cargo build"))
        .expect("the build step");
    let script = std::fs::read_to_string(repo().join("scripts/test.sh")).unwrap();
    assert_eq!(
        cargo_build(run),
        cargo_build(&script),
        "the test script's build command"
    );

    let runtime = &steps[steps.iter().position(|s| s == froms[1]).unwrap()..];
    let user = runtime
        .iter()
        .rev()
        .find_map(|s| s.strip_prefix("USER "))
        .expect("the runtime stage sets a user");
    assert!(!["root", "0"].contains(&user.trim()), "runs as {user}");
    assert!(runtime
        .iter()
        .any(|s| s.starts_with("ENTRYPOINT [\"tagstream\"]")));
    for dir in ["rules", "config"] {
        assert!(
            runtime.iter().any(|s| s == &format!("COPY {dir} ./{dir}")),
            "the image ships {dir}/ in its working directory"
        );
    }
}

/// Copies `from` (a directory of plain files) into `to`, readable by everyone.
fn open_to_all(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Whether this process runs as root (from /proc; no libc needed).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|u| u.split_whitespace().next() == Some("0"))
        })
        .unwrap_or(false)
}

/// The binary, started as the image starts it: an unprivileged user (nobody, when this runs as
/// root and `setpriv` exists), in `workdir`.
fn as_image(binary: &Path, workdir: &Path) -> Command {
    let mut cmd = if is_root() && Path::new("/usr/bin/setpriv").exists() {
        let mut c = Command::new("/usr/bin/setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(binary);
        c
    } else {
        Command::new(binary)
    };
    cmd.current_dir(workdir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("TAGSTREAM_LOG", "warn");
    cmd
}

fn run_sample(mut cmd: Command) -> String {
    let mut child = cmd
        .args(["run", "--input", "-", "--output", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let sample = std::fs::read(repo().join("examples/sample.jsonl")).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || stdin.write_all(&sample));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_binary_runs_as_the_image_runs_it_unprivileged_with_mounted_rules_and_config() {
    let root = tempfile::tempdir().unwrap();
    open_to_all(root.path());
    // /app with the image's layout, /usr/local/bin/tagstream, and a mount elsewhere.
    let app = root.path().join("app");
    copy_dir(&repo().join("rules"), &app.join("rules"));
    copy_dir(&repo().join("config"), &app.join("config"));
    std::fs::create_dir_all(app.join("state")).unwrap();
    let binary: PathBuf = root.path().join("tagstream");
    std::fs::copy(env!("CARGO_BIN_EXE_tagstream"), &binary).unwrap();
    let mount = root.path().join("mnt");
    copy_dir(&repo().join("rules"), &mount.join("my-rules"));
    copy_dir(&repo().join("config"), &mount.join("etc"));
    let config = std::fs::read_to_string(mount.join("etc/tagstream.toml"))
        .unwrap()
        .replace(
            "\"rules\"",
            &format!("\"{}\"", mount.join("my-rules").display()),
        )
        .replace("\"config/", &format!("\"{}/", mount.join("etc").display()));
    std::fs::write(mount.join("etc/tagstream.toml"), config).unwrap();
    for dir in [
        &app,
        &app.join("rules"),
        &app.join("config"),
        &mount,
        &mount.join("my-rules"),
        &mount.join("etc"),
    ] {
        open_to_all(dir);
    }

    // `docker run tagstream check`, from the image's working directory.
    let out = as_image(&binary, &app).arg("check").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("4 rules"));

    // The example of the Dockerfile's header: embedded mode over stdin.
    let from_app = run_sample(as_image(&binary, &app));
    let tags = fold_json_lines(&from_app);
    assert!(tags.len() > 50, "{} users tagged", tags.len());

    // Rules and config mounted elsewhere, named by flag or by environment, from a directory
    // that holds neither.
    let out = as_image(&binary, root.path())
        .args(["check", "--config"])
        .arg(mount.join("etc/tagstream.toml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut by_env = as_image(&binary, root.path());
    by_env
        .env("TAGSTREAM_RULES__DIR", mount.join("my-rules"))
        .env("TAGSTREAM_RULES__CATALOGUE", mount.join("etc/tags.toml"))
        .env("TAGSTREAM_RULES__PARAMS", mount.join("etc/params.toml"));
    assert_eq!(
        run_sample(by_env),
        from_app,
        "the same tags from mounted paths"
    );

    // Without them, a directory that holds no config is a usage error naming what is missing.
    let out = as_image(&binary, root.path())
        .arg("check")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("config/tags.toml"));
}

/// The image's default command, Kafka mode, with the image's environment: `/livez` answers on
/// the address the Dockerfile sets (its port swapped for a free one), with or without a broker.
#[test]
fn the_image_s_kafka_run_answers_livez_on_the_address_it_sets() {
    let env: Vec<(String, String)> = instructions(&dockerfile())
        .iter()
        .filter_map(|i| i.strip_prefix("ENV "))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let listen = env
        .iter()
        .find(|(k, _)| k == "TAGSTREAM_HTTP__LISTEN")
        .map(|(_, v)| v.clone())
        .expect("the image sets TAGSTREAM_HTTP__LISTEN");
    let (host, _) = listen.rsplit_once(':').unwrap();
    assert_eq!(host, "0.0.0.0", "reachable from outside the container");
    let port = std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let broker = std::env::var("TAGSTREAM_TEST_BOOTSTRAP").unwrap_or_else(|_| "127.0.0.1:1".into());
    let mut cmd = as_image(Path::new(env!("CARGO_BIN_EXE_tagstream")), &repo());
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .env("TAGSTREAM_HTTP__LISTEN", format!("{host}:{port}"))
        .env("TAGSTREAM_KAFKA__BOOTSTRAP_SERVERS", &broker)
        .env("TAGSTREAM_KAFKA__GROUP_ID", format!("docker-{port}"))
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let live = loop {
        match http_get(&format!("127.0.0.1:{port}"), "/livez") {
            Some((status, _)) => break status,
            None if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            None => break 0,
        }
    };
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert_eq!(live, 200, "{}", String::from_utf8_lossy(&out.stderr));
}
