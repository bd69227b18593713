//! Shared helpers: the repo's rule pack, event builders, running a stream in-process, and
//! folding outputs into final tag sets (checking the fold's invariants on the way).

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use serde_json::json;
use tagstream::pipeline::file::run_stream;
use tagstream::rules::RulePack;
use tagstream::tags::{DeadLetter, Op, Output, TagChange};

pub const DAY: i64 = 86_400_000;
pub const HOUR: i64 = 3_600_000;
pub const MINUTE: i64 = 60_000;
/// 2026-09-01T00:00:00Z: the start of every test timeline.
pub const T0: i64 = 1_788_220_800_000;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binary, run from the repo with warnings-only logs. Test streams have synthetic event
/// times (from 2026-09-01), which may lie ahead of the wall clock wherever this runs, so the
/// future check is off; `clock.max_future` has its own tests (embedded.rs).
pub fn tagstream() -> Command {
    tagstream_in(&repo())
}

/// [`tagstream`] run from `cwd`.
pub fn tagstream_in(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tagstream"));
    cmd.current_dir(cwd)
        .env("TAGSTREAM_LOG", "warn")
        .env("TAGSTREAM_CLOCK__MAX_FUTURE", "off");
    cmd
}

/// `tagstream check --config FILE` with `text` as the config file, then `args`, with `vars`
/// set: the exit code, stderr and stdout, the config file's path written `CONFIG`.
pub fn check_config(
    text: &str,
    args: &[&str],
    vars: &[(&str, &str)],
) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tagstream.toml");
    std::fs::write(&config, text).unwrap();
    let mut cmd = tagstream();
    cmd.arg("check").arg("--config").arg(&config).args(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let shown = config.display().to_string();
    let text = |b: &[u8]| String::from_utf8_lossy(b).replace(&shown, "CONFIG");
    (out.status.code(), text(&out.stderr), text(&out.stdout))
}

/// [`check_config`] with no arguments after the config.
pub fn check_with(text: &str, vars: &[(&str, &str)]) -> (Option<i32>, String, String) {
    check_config(text, &[], vars)
}

/// `tagstream run` with `args` and no stdin.
pub fn run_args(args: &[&str]) -> std::process::Output {
    tagstream()
        .arg("run")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

/// The default rule pack shipped in the repo, with optional `TAGSTREAM_*` overrides.
pub fn pack_with(vars: &[(&str, &str)]) -> RulePack {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let root = repo();
    RulePack::load(
        &root.join("rules"),
        &root.join("config/tags.toml"),
        &root.join("config/params.toml"),
        &vars,
    )
    .expect("the shipped rule pack loads")
}

pub fn pack() -> RulePack {
    pack_with(&[])
}

/// A rule pack made of the shipped catalogue and parameters plus the given scripts.
pub fn pack_of(rules: &[(&str, &str)]) -> Result<RulePack, tagstream::rules::RulesError> {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in rules {
        std::fs::write(dir.path().join(format!("{name}.rhai")), text).unwrap();
    }
    let root = repo();
    RulePack::load(
        dir.path(),
        &root.join("config/tags.toml"),
        &root.join("config/params.toml"),
        &[],
    )
}

/// Outputs encoded as the sinks write them, one JSON line each.
pub fn encoded(out: &[Output]) -> Vec<String> {
    out.iter()
        .map(|o| {
            let mut buf = Vec::new();
            match o {
                Output::Change(c) => c.write_json(&mut buf),
                Output::Dead(d) => d.write_json(&mut buf),
            }
            String::from_utf8(buf).expect("outputs are UTF-8")
        })
        .collect()
}

pub fn chat(user: &str, ts: i64, text: &str) -> String {
    json!({"type": "chat", "user_id": user, "ts": ts, "text": text, "event_id": format!("c-{user}-{ts}")}).to_string()
}

pub fn click(user: &str, ts: i64) -> String {
    json!({"type": "click", "user_id": user, "ts": ts, "target": "item:1", "event_id": format!("k-{user}-{ts}")}).to_string()
}

pub fn order(user: &str, ts: i64, order_id: &str, amount: f64, promo: bool) -> String {
    json!({"type": "order", "user_id": user, "ts": ts, "order_id": order_id, "amount": amount, "promo": promo,
           "event_id": format!("o-{order_id}-paid")})
    .to_string()
}

pub fn refund(user: &str, ts: i64, order_id: &str) -> String {
    json!({"type": "order", "user_id": user, "ts": ts, "order_id": order_id, "amount": 0, "status": "refunded",
           "event_id": format!("o-{order_id}-refund")})
    .to_string()
}

/// An event of another user that only moves the clock to `ts`.
pub fn tick(ts: i64) -> String {
    click("clock", ts)
}

/// Everything a run produced.
#[derive(Debug, Default)]
pub struct Run {
    pub changes: Vec<TagChange>,
    pub dead: Vec<DeadLetter>,
}

impl Run {
    /// Final tags of `user`, folding the changes (panics if the fold's invariants break).
    pub fn tags(&self, user: &str) -> BTreeSet<String> {
        fold(&self.changes).remove(user).unwrap_or_default()
    }

    /// Changes of one user, as `(op, tag)` in order.
    pub fn ops(&self, user: &str) -> Vec<(Op, String)> {
        self.changes
            .iter()
            .filter(|c| &*c.user_id == user)
            .map(|c| (c.op, c.tag.to_string()))
            .collect()
    }

    /// The change that added `tag` to `user` last, if any.
    pub fn last_add(&self, user: &str, tag: &str) -> Option<&TagChange> {
        self.changes
            .iter()
            .rev()
            .find(|c| &*c.user_id == user && &*c.tag == tag && c.op == Op::Add)
    }
}

/// Runs lines through the pack as file mode does, end-of-input timers included.
pub fn run_lines(pack: &RulePack, lines: &[String]) -> Run {
    let text = lines.join("\n");
    let mut run = Run::default();
    run_stream(pack, text.as_bytes(), Arc::from("test.jsonl"), |outs| {
        for o in outs.drain(..) {
            match o {
                Output::Change(c) => run.changes.push(c),
                Output::Dead(d) => run.dead.push(d),
            }
        }
        Ok(())
    })
    .expect("stream runs");
    run
}

pub fn run(lines: &[String]) -> Run {
    run_lines(&pack(), lines)
}

/// Folds changes into tag sets per user. Panics when a change adds a held tag, removes an
/// absent one, or an exclusive group ever holds two members.
pub fn fold(changes: &[TagChange]) -> BTreeMap<String, BTreeSet<String>> {
    let exclusive = ["activity", "lifecycle", "rfm", "value"];
    let mut users: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for c in changes {
        let tags = users.entry(c.user_id.to_string()).or_default();
        match c.op {
            Op::Add => {
                assert!(
                    tags.insert(c.tag.to_string()),
                    "{} added while held: {c:?}",
                    c.tag
                );
                let group = c.tag.split('/').next().unwrap();
                if exclusive.contains(&group) {
                    let members = tags
                        .iter()
                        .filter(|t| t.split('/').next() == Some(group))
                        .count();
                    assert_eq!(
                        members, 1,
                        "exclusive group {group} holds {members} members after {c:?}"
                    );
                }
            }
            Op::Remove => assert!(
                tags.remove(&*c.tag),
                "{} removed while absent: {c:?}",
                c.tag
            ),
        }
    }
    users
}

/// Folds JSON-lines output text (as written by `tagstream run`).
pub fn fold_json_lines(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut users: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("output line is JSON");
        let user = v["user_id"].as_str().unwrap().to_string();
        let tag = v["tag"].as_str().unwrap().to_string();
        let tags = users.entry(user).or_default();
        match v["op"].as_str().unwrap() {
            "add" => assert!(tags.insert(tag.clone()), "{tag} added while held"),
            "remove" => assert!(tags.remove(&tag), "{tag} removed while absent"),
            op => panic!("unknown op {op}"),
        }
    }
    users.retain(|_, tags| !tags.is_empty());
    users
}

/// The lines `tagstream generate` writes with `opts`.
pub fn generated_lines(opts: &tagstream::generate::GenOptions) -> Vec<String> {
    let mut buf = Vec::new();
    tagstream::generate::generate(opts, &mut buf).unwrap();
    String::from_utf8(buf)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

pub fn write_lines(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// A small deterministic generator (Knuth's MMIX LCG).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Copies the files directly in `from` into `to` (created), leaving out subdirectories.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

/// A free loopback port (bound, then released).
pub fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

/// `GET path` → `(status, body)`, or `None` while nothing listens.
pub fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let timeout = std::time::Duration::from_secs(2);
    let mut s = std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), timeout).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let status = raw.split(' ').nth(1)?.parse().ok()?;
    let body = raw.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

/// Samples of a text exposition: `(name, labels, value)`.
pub fn samples(text: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (
                    name.to_string(),
                    rest.trim_end_matches('}')
                        .split("\",")
                        .filter(|kv| !kv.is_empty())
                        .map(|kv| {
                            let (k, v) = kv.split_once("=\"").unwrap();
                            (k.to_string(), v.trim_end_matches('"').to_string())
                        })
                        .collect(),
                ),
                None => (series.to_string(), BTreeMap::new()),
            };
            (name, labels, value.parse().unwrap())
        })
        .collect()
}

pub fn sum(
    s: &[(String, BTreeMap<String, String>, f64)],
    name: &str,
    filter: &[(&str, &str)],
) -> u64 {
    s.iter()
        .filter(|(n, l, _)| {
            n == name
                && filter
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| *v)
        .sum::<f64>() as u64
}

/// The child's stderr, read to its end.
pub fn stderr_of(child: &mut std::process::Child) -> String {
    use std::io::Read;
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    err
}

/// Sends the child a signal by name (`"TERM"`, `"HUP"`).
pub fn send(child: &std::process::Child, signal: &str) {
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -{signal} {}", child.id()))
        .status()
        .unwrap();
    assert!(status.success());
}

/// A rule set of one rule, `x.rhai`, whose handler is misspelt (`on_evnt`) in `dir/rules`: it
/// loads, and `check` finds an error (named like a handler) and a warning (no handler) in it.
pub fn misnamed_handler_rules(dir: &Path) -> PathBuf {
    let rules = dir.join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(
        rules.join("x.rhai"),
        "fn on_evnt(event, user) {\n    tag(\"intent/price\");\n}\n",
    )
    .unwrap();
    rules
}
