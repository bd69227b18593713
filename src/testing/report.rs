//! How a failing case reads: diffs of expected against actual, and offsets in the units test
//! files use.

use super::spec::DeadSpec;
use crate::config::duration::{DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS};
use crate::tags::DeadLetter;

pub(super) fn dead_matches(s: &DeadSpec, d: &&DeadLetter) -> bool {
    s.error.as_deref().is_none_or(|e| d.error.contains(e))
        && s.rule
            .as_deref()
            .is_none_or(|r| d.rule.as_deref() == Some(r))
}

pub(super) fn show_dead_spec(s: &DeadSpec) -> String {
    format!(
        "dead letter{}{}",
        s.rule
            .as_deref()
            .map(|r| format!(" of rule {r}"))
            .unwrap_or_default(),
        s.error
            .as_deref()
            .map(|e| format!(" containing {e:?}"))
            .unwrap_or_default()
    )
}

pub(super) fn show_dead(d: &&DeadLetter) -> String {
    format!(
        "dead letter{}: {}",
        d.rule
            .as_deref()
            .map(|r| format!(" of rule {r}"))
            .unwrap_or_default(),
        d.error
    )
}

/// A diff of `expected` against `actual` as lines: `  ` both, `- ` expected only, `+ ` actual
/// only; the longest common subsequence under `matches` is kept in place.
pub(super) fn align<S, A>(
    expected: &[S],
    actual: &[A],
    matches: impl Fn(&S, &A) -> bool,
    show_s: impl Fn(&S) -> String,
    show_a: impl Fn(&A) -> String,
) -> Vec<String> {
    let (n, m) = (expected.len(), actual.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if matches(&expected[i], &actual[j]) {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut lines = Vec::new();
    while i < n || j < m {
        if i < n && j < m && matches(&expected[i], &actual[j]) && lcs[i][j] == lcs[i + 1][j + 1] + 1
        {
            lines.push(format!("  {}", show_a(&actual[j])));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            lines.push(format!("- {}", show_s(&expected[i])));
            i += 1;
        } else {
            lines.push(format!("+ {}", show_a(&actual[j])));
            j += 1;
        }
    }
    if lines.is_empty() {
        lines.push("  (none)".into());
    }
    lines
}

/// `+3d`, `+2d12h`, `-1h`, `+0s`: an offset in the units test files use.
pub fn offset(ms: i64) -> String {
    let sign = if ms < 0 { '-' } else { '+' };
    let mut rest = ms.unsigned_abs();
    if rest == 0 {
        return "+0s".into();
    }
    let mut text = String::from(sign);
    for (unit, size) in [
        ("d", DAY_MS),
        ("h", HOUR_MS),
        ("m", MINUTE_MS),
        ("s", SECOND_MS),
        ("ms", 1),
    ] {
        let size = size as u64;
        if rest >= size {
            text.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_read_like_test_files() {
        assert_eq!(offset(0), "+0s");
        assert_eq!(offset(3 * DAY_MS), "+3d");
        assert_eq!(offset(-(2 * DAY_MS + 12 * HOUR_MS)), "-2d12h");
        assert_eq!(offset(1_500), "+1s500ms");
    }

    #[test]
    fn align_keeps_common_lines_and_marks_the_rest() {
        let show = |s: &&str| s.to_string();
        let diff = align(
            &["a", "b", "c"],
            &["a", "x", "c"],
            |s, a| s == a,
            show,
            show,
        );
        assert_eq!(diff, ["  a", "- b", "+ x", "  c"]);
        let diff = align::<&str, &str>(&[], &[], |s, a| s == a, show, show);
        assert_eq!(diff, ["  (none)"]);
    }
}
