//! Ids near one that has no state, for `explain`'s "did you mean": the same id in other case or
//! with other whitespace first, then ids a typo or two away: a third of the id's length at
//! most, as for names, but at least one edit where names allow two (ids are many and alike, so
//! two edits from a short id is mostly a stranger). Users stream past one at a time, so only
//! the best few are kept, whatever the number of users.

use crate::rules::check::distance;

/// How many near ids are suggested at most.
pub const MAX_SUGGESTIONS: usize = 3;

/// The ids nearest to a wanted one among those offered.
#[derive(Debug)]
pub struct NearIds {
    wanted: String,
    folded: String,
    /// Edits an id may be away and still be suggested.
    limit: usize,
    /// `(rank, id)`, best first: rank 0 is the same id but for case and whitespace, else
    /// 1 + the edit distance, case and whitespace aside.
    best: Vec<(usize, String)>,
}

impl NearIds {
    pub fn new(wanted: &str) -> NearIds {
        NearIds {
            wanted: wanted.to_string(),
            folded: fold(wanted),
            // A third of the id, as for names; one edit for the shortest.
            limit: (fold(wanted).chars().count() / 3).max(1),
            best: Vec::new(),
        }
    }

    /// Considers `id`, an id that has state.
    pub fn offer(&mut self, id: &str) {
        if id == self.wanted {
            return;
        }
        // Case and whitespace do not count as edits.
        let folded = fold(id);
        let rank = if folded == self.folded {
            0
        } else {
            let (a, b) = (folded.chars().count(), self.folded.chars().count());
            if a.abs_diff(b) > self.limit {
                return;
            }
            match distance(&self.folded, &folded) {
                d if d <= self.limit => 1 + d,
                _ => return,
            }
        };
        let entry = (rank, id.to_string());
        if self.best.len() == MAX_SUGGESTIONS && self.best.last().is_some_and(|w| *w <= entry) {
            return;
        }
        let at = self.best.partition_point(|b| *b < entry);
        self.best.insert(at, entry);
        self.best.truncate(MAX_SUGGESTIONS);
    }

    /// The ids to suggest, best first (ties in id order, so the same state gives the same).
    pub fn into_ids(self) -> Vec<String> {
        self.best.into_iter().map(|(_, id)| id).collect()
    }
}

/// `; did you mean "a", "b" or "c"?` for `ids`, or nothing when there are none.
pub fn did_you_mean(ids: &[String]) -> String {
    let quoted: Vec<String> = ids.iter().map(|id| format!("{id:?}")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => format!("; did you mean {last}?"),
        Some((last, rest)) => format!("; did you mean {} or {last}?", rest.join(", ")),
    }
}

/// `id` in lower case without whitespace.
fn fold(id: &str) -> String {
    id.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn near(wanted: &str, ids: &[&str]) -> Vec<String> {
        let mut near = NearIds::new(wanted);
        for id in ids {
            near.offer(id);
        }
        near.into_ids()
    }

    #[test]
    fn the_same_id_in_other_case_or_spacing_comes_first() {
        assert_eq!(
            near("WM_1042 ", &["wm_1043", "wm_1042", "xx"]),
            ["wm_1042", "wm_1043"]
        );
    }

    #[test]
    fn at_most_three_typos_nearest_first_then_in_id_order() {
        let ids = [
            "wm_1049", "wm_1041", "wm_1142", "wm_10", "wm_1043", "zz_9999",
        ];
        assert_eq!(near("wm_1042", &ids), ["wm_1041", "wm_1043", "wm_1049"]);
        // The order users are read in does not matter.
        let mut reversed = ids;
        reversed.reverse();
        assert_eq!(
            near("wm_1042", &reversed),
            ["wm_1041", "wm_1043", "wm_1049"]
        );
    }

    #[test]
    fn strangers_and_the_id_itself_are_not_suggested() {
        assert!(near("wm_1042", &["persona_new_1", "o_1qMJ8VjiRRB"]).is_empty());
        assert!(near("u1", &["u1", "u234"]).is_empty());
        assert_eq!(near("u1", &["u2", "x9"]), ["u2"]);
    }

    #[test]
    fn suggestions_read_as_a_list() {
        let ids = |v: &[&str]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(did_you_mean(&[]), "");
        assert_eq!(did_you_mean(&ids(&["a"])), "; did you mean \"a\"?");
        assert_eq!(
            did_you_mean(&ids(&["a", "b", "c"])),
            "; did you mean \"a\", \"b\" or \"c\"?"
        );
    }
}
