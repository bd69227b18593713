//! What `docs/` refers to exists: relative links lead to files and headings of the
//! repository, the API reference names every function the engine registers, and the scrape
//! config targets the shipped port (and is one Prometheus takes).

use std::collections::BTreeSet;
use std::process::Command;

use crate::docs_support::*;
use crate::support::*;

/// A heading's anchor as Markdown renderers make it: lower case, punctuation dropped, spaces
/// to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Relative links point at files of the repository, and at headings that exist; nothing links
/// outside it.
#[test]
fn links_stay_inside_the_repository() {
    let link = regex::Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    let readme = repo().join("README.md");
    for path in markdown_files().into_iter().chain([readme.clone()]) {
        let text = std::fs::read_to_string(&path).unwrap();
        // The README is read from the repository root.
        let base = if path == readme { repo() } else { docs_dir() };
        for cap in link.captures_iter(&text) {
            let target = &cap[1];
            assert!(
                !target.contains("://") && !target.starts_with("mailto:"),
                "{}: links outside the repository: {target}",
                path.display()
            );
            let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
            let linked = if file.is_empty() {
                path.clone()
            } else {
                base.join(file)
            };
            assert!(linked.exists(), "{}: broken link {target}", path.display());
            if !anchor.is_empty() {
                let headings = std::fs::read_to_string(&linked).unwrap();
                let found = headings
                    .lines()
                    .filter_map(|l| l.strip_prefix('#'))
                    .any(|h| slug(h.trim_start_matches('#')) == anchor);
                assert!(
                    found,
                    "{}: no heading for #{anchor} in {file}",
                    path.display()
                );
            }
        }
        assert!(!text.contains("../shared"), "{}", path.display());
    }
}

/// Every function, method and property the engine registers for scripts is in the API
/// reference: names are read from where they are registered, so a new one without docs fails.
#[test]
fn the_api_reference_names_every_registered_function() {
    let reference = std::fs::read_to_string(docs_dir().join("rules.md")).unwrap();
    let registered = regex::Regex::new(r#"register_(?:fn|get)\(\s*"(\w+)""#).unwrap();
    let field = regex::Regex::new(r#"\("(\w+)", \|e\|"#).unwrap();
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(repo().join("src/rules/api")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for cap in registered
            .captures_iter(&text)
            .chain(field.captures_iter(&text))
        {
            names.insert(cap[1].to_string());
        }
    }
    // Registered in a loop over names: the time units.
    names.extend(["days", "hours", "minutes"].map(String::from));
    assert!(names.len() > 50, "{names:?}");
    let word = |n: &str| regex::Regex::new(&format!(r"[`.]{n}\b")).unwrap();
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !word(n).is_match(&reference))
        .collect();
    assert!(missing.is_empty(), "rules.md does not document {missing:?}");
    for handler in ["on_chat", "on_click", "on_order", "on_event", "on_tick"] {
        assert!(reference.contains(&format!("`{handler}(")), "{handler}");
    }
}

/// The scrape config of the monitoring guide scrapes the shipped port, and Prometheus takes it
/// (`promtool check config`, when promtool is installed).
#[test]
fn the_scrape_config_is_one_prometheus_takes() {
    let blocks = all_blocks();
    let block = blocks
        .iter()
        .find(|b| b.lang == "yaml" && b.has("scrape"))
        .expect("a ```yaml scrape block");
    let config = std::fs::read_to_string(repo().join("config/tagstream.toml")).unwrap();
    let port = config
        .lines()
        .find_map(|l| l.trim().strip_prefix("listen = \""))
        .and_then(|rest| rest.split('"').next())
        .and_then(|addr| addr.rsplit_once(':'))
        .map(|(_, port)| port.to_string())
        .expect("http.listen in config/tagstream.toml");
    assert!(
        block.body.contains(&format!(":{port}\"")),
        "{}: targets not on the shipped port {port}",
        block.at()
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prometheus.yml");
    std::fs::write(&file, &block.body).unwrap();
    match Command::new("promtool")
        .arg("check")
        .arg("config")
        .arg(&file)
        .output()
    {
        Err(_) => eprintln!("promtool not installed: `promtool check config` skipped"),
        Ok(out) => assert!(
            out.status.success(),
            "{}: promtool check config: {}{}",
            block.at(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}
