//! The result of a shadow replay, and its two renderings: text for an operator, JSON for tools
//! (`docs/diff.md` documents it field by field; `docs/schema/diff-report.json` is its schema).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

/// Everything `tagstream diff` reports. Field order is the JSON order.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The input as named on the command line.
    pub input: String,
    pub lines: u64,
    /// Lines that are not valid events (dead letters on both sides alike).
    pub invalid_lines: u64,
    pub users: u64,
    pub base: SideSummary,
    pub new: SideSummary,
    /// Users whose tags at the end differ in at least one tag.
    pub users_differing: u64,
    /// Tag changes made by one side and not by the other, after the same input record.
    pub changes_differing: u64,
    /// One entry per tag with any difference, by tag name.
    pub tags: Vec<TagDiff>,
    /// The first invalid line (`source: reason`), for [`Report::nothing_compared`].
    #[serde(skip)]
    pub first_invalid: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SideSummary {
    /// The rules directory.
    pub rules: String,
    pub rule_names: Vec<String>,
    pub changes: u64,
    /// Tags held by all users together at the end.
    pub held: u64,
    /// Rule errors (dead letters naming a rule) per rule; rules without errors are left out.
    pub rule_errors: BTreeMap<String, u64>,
    pub first_rule_error: Option<RuleError>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleError {
    pub rule: String,
    pub error: String,
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TagDiff {
    pub tag: String,
    /// Users holding the tag at the end with the new rules and not with the base.
    pub gained: u64,
    /// Users holding the tag at the end with the base rules and not with the new.
    pub lost: u64,
    pub held_base: u64,
    pub held_new: u64,
    pub changes_only_base: u64,
    pub changes_only_new: u64,
    pub samples: Vec<Sample>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Gained,
    Lost,
    /// The tag ends the same, its changes on the way differ.
    Changed,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub user_id: String,
    pub kind: Kind,
    pub base: SideView,
    pub new: SideView,
}

/// One side's account of a sample user's tag.
#[derive(Debug, Clone, Serialize)]
pub struct SideView {
    /// For `gained` and `lost`: the tag's last change (`null`: never changed). For `changed`:
    /// the side's first change that the other side did not make (`null`: none).
    pub change: Option<Change>,
    /// Tags of the same group the user holds at the end.
    pub holds: Vec<Held>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub op: &'static str,
    pub rule: String,
    pub reason: String,
    pub ts: String,
    pub score: Option<f64>,
    pub expires_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Held {
    pub tag: String,
    pub rule: String,
    pub reason: String,
    pub since: String,
}

impl Report {
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty() && self.base.rule_errors == self.new.rule_errors
    }

    /// Why the replay compared nothing, when it did not: an empty input, or one without a
    /// single valid event (tag changes or another file given as `--input`). "No difference"
    /// would then say nothing of the rules.
    pub fn nothing_compared(&self) -> Option<String> {
        if self.lines == 0 {
            return Some(format!("nothing compared: {} holds no lines", self.input));
        }
        (self.invalid_lines == self.lines).then(|| {
            format!(
                "nothing compared: none of the {} lines of {} is a valid event (first: {}); \
                 --input takes recorded events, JSON lines as `tagstream run --input` reads them",
                self.lines,
                self.input,
                self.first_invalid.as_deref().unwrap_or("?")
            )
        })
    }

    pub fn to_json(&self) -> String {
        // Plain strings, numbers and maps with string keys always serialise.
        serde_json::to_string_pretty(self).expect("report serialises")
    }

    /// The operator's view: totals side by side, one line per differing tag, then samples.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let (b, n) = (&self.base, &self.new);
        // Writing into a String cannot fail.
        let mut w = |line: String| writeln!(s, "{line}").expect("write to String");
        w(format!("base: {} ({})", b.rules, b.rule_names.join(", ")));
        w(format!("new:  {} ({})", n.rules, n.rule_names.join(", ")));
        w(format!(
            "input: {}: {} lines, {} invalid, {} users",
            self.input, self.lines, self.invalid_lines, self.users
        ));
        w(String::new());
        w(format!("{:<24}{:>12}{:>12}", "", "base", "new"));
        w(format!(
            "{:<24}{:>12}{:>12}",
            "tag changes", b.changes, n.changes
        ));
        w(format!(
            "{:<24}{:>12}{:>12}",
            "tags held at the end", b.held, n.held
        ));
        let errors = |side: &SideSummary| side.rule_errors.values().sum::<u64>();
        w(format!(
            "{:<24}{:>12}{:>12}",
            "rule errors",
            errors(b),
            errors(n)
        ));
        for (label, side) in [("base", b), ("new", n)] {
            if let Some(e) = &side.first_rule_error {
                w(format!(
                    "  first rule error ({label}): {} at {}: {}",
                    e.rule, e.source, e.error
                ));
            }
        }
        w(String::new());
        if let Some(why) = self.nothing_compared() {
            w(why);
            return s;
        }
        if self.tags.is_empty() {
            w("no difference: both rule sets make the same tag changes for every record".into());
            if b.rule_errors != n.rule_errors {
                w("(but their rule errors differ, see above)".into());
            }
            return s;
        }
        w(format!(
            "{} with different tags at the end; {} differing tag {}",
            crate::cli::plural(self.users_differing, "user", "users"),
            self.changes_differing,
            if self.changes_differing == 1 {
                "change"
            } else {
                "changes"
            }
        ));
        w(String::new());
        w(format!(
            "{:<32}{:>8}{:>8}{:>20}{:>30}",
            "tag", "gained", "lost", "held: base → new", "changes only in base / new"
        ));
        for t in &self.tags {
            w(format!(
                "{:<32}{:>8}{:>8}{:>20}{:>30}",
                t.tag,
                t.gained,
                t.lost,
                format!("{} → {}", t.held_base, t.held_new),
                format!("{} / {}", t.changes_only_base, t.changes_only_new)
            ));
        }
        for t in self.tags.iter().filter(|t| !t.samples.is_empty()) {
            w(String::new());
            w(format!("{}:", t.tag));
            for sample in &t.samples {
                let mark = match sample.kind {
                    Kind::Gained => "+",
                    Kind::Lost => "-",
                    Kind::Changed => "~",
                };
                let kind = serde_json::to_value(sample.kind).expect("kind serialises");
                w(format!(
                    "  {mark} {} ({})",
                    sample.user_id,
                    kind.as_str().unwrap_or_default()
                ));
                w(format!("      base: {}", side_line(&sample.base)));
                w(format!("      new:  {}", side_line(&sample.new)));
            }
        }
        s
    }
}

fn side_line(view: &SideView) -> String {
    let mut line = match &view.change {
        Some(c) => {
            let score = c.score.map(|s| format!(", score {s}")).unwrap_or_default();
            let expires = c
                .expires_at
                .as_ref()
                .map(|t| format!(", expires {t}"))
                .unwrap_or_default();
            format!(
                "{} by {} at {}: {:?}{score}{expires}",
                c.op, c.rule, c.ts, c.reason
            )
        }
        None => "no change".to_string(),
    };
    if view.holds.is_empty() {
        line.push_str("; holds none of its group");
    } else {
        let held: Vec<String> = view
            .holds
            .iter()
            .map(|h| format!("{} ({}: {:?})", h.tag, h.rule, h.reason))
            .collect();
        line.push_str("; holds ");
        line.push_str(&held.join(", "));
    }
    line
}
