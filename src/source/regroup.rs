//! Re-forming a consumer group whose coordinator left partitions without an owner.
//!
//! Once a rebalance completes, a group coordinator has handed every partition of the subscribed
//! topics to some member. tansu 0.6 does not always: when a survivor's heartbeat is what reveals
//! a dead member, tansu drops the member but keeps the group's generation and its previous
//! assignment, so the survivor rejoins and gets back only its own partitions; the dead member's
//! partitions then belong to nobody until the group changes for another reason (and when the
//! dead member was the group's leader, no rebalance completes until a member leaves).
//! docs/kafka.md has the details.
//!
//! The watch notices this from outside the protocol: the coordinator reports the group stable,
//! yet this member holds fewer partitions of an input topic than an even split among the
//! group's members gives every member. Seen on two looks in a row, the consumer leaves the group
//! and joins again ([`GroupContext::regroup`]); leaving makes the coordinator form the group
//! anew, and the new leader assigns every partition. On a coordinator that works (Apache Kafka)
//! the condition does not arise, and the watch only looks.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};

use super::kafka::GroupContext;

/// How often the group is looked at during the first [`CLOSE_WATCH`] after an assignment.
const LOOK_EVERY: Duration = Duration::from_millis(500);
/// After an assignment the group is looked at every [`LOOK_EVERY`] this long, then every
/// [`LOOK_SLOWLY`]: the defect shows right after a rebalance.
const CLOSE_WATCH: Duration = Duration::from_secs(30);
const LOOK_SLOWLY: Duration = Duration::from_secs(30);
/// The least time between two requests to re-form the group.
const REGROUP_BACKOFF: Duration = Duration::from_secs(10);
/// How long one look at the group may take.
const LOOK_TIMEOUT: Duration = Duration::from_secs(2);

/// What the coordinator says about the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sight {
    /// The group is stable: no rebalance under way.
    pub stable: bool,
    /// Members the coordinator counts.
    pub members: usize,
}

/// The rule, apart from the broker: decides from successive looks whether the group needs
/// forming anew.
#[derive(Debug)]
pub struct Watch {
    topics: Vec<String>,
    /// Partitions of each input topic (input topics are co-partitioned).
    partitions: usize,
    /// The assignment seen short on the previous look, with its assignment count.
    strike: Option<(u64, BTreeSet<(String, i32)>)>,
}

impl Watch {
    pub fn new(topics: &[String], partitions: i32) -> Watch {
        Watch {
            topics: topics.to_vec(),
            partitions: partitions.max(0) as usize,
            strike: None,
        }
    }

    /// Whether `held`, not empty, gives this member fewer partitions of some input topic than
    /// an even split among `members` gives each.
    pub fn short(&self, members: usize, held: &BTreeSet<(String, i32)>) -> bool {
        // Holding nothing is what a member looks like while it joins (tansu keeps a follower
        // waiting 3 s on each join, with the group already stable); the defect leaves a
        // survivor holding its previous partitions.
        if members == 0 || held.is_empty() {
            return false;
        }
        let share = self.partitions / members;
        self.topics
            .iter()
            .any(|t| held.iter().filter(|(topic, _)| topic == t).count() < share)
    }

    /// Takes one look: `assignments` counts the assignments this member received so far,
    /// `held` is its assignment now. True when this look and the previous one both saw a
    /// stable group in which this member is short, with no assignment in between.
    pub fn look(
        &mut self,
        assignments: u64,
        sight: Option<Sight>,
        held: BTreeSet<(String, i32)>,
    ) -> bool {
        let short = sight.is_some_and(|s| s.stable && self.short(s.members, &held));
        if !short {
            self.strike = None;
            return false;
        }
        let again = self
            .strike
            .as_ref()
            .is_some_and(|(n, before)| *n == assignments && *before == held);
        if again {
            self.strike = None;
        } else {
            self.strike = Some((assignments, held));
        }
        again
    }
}

/// Asks the coordinator about `group`; `None` when it does not answer or does not know it.
fn sight(consumer: &BaseConsumer<GroupContext>, group: &str) -> Option<Sight> {
    let list = match consumer.fetch_group_list(Some(group), LOOK_TIMEOUT) {
        Ok(list) => list,
        Err(e) => {
            tracing::debug!(error = %e, "group description unavailable");
            return None;
        }
    };
    list.groups()
        .iter()
        .find(|g| g.name() == group)
        .map(|g| Sight {
            stable: g.state().eq_ignore_ascii_case("stable"),
            members: g.members().len(),
        })
}

/// Looks at the group until `stop`, asking the consumer thread to leave and rejoin (through
/// [`GroupContext::regroup`]) when the coordinator left this member short.
pub fn run(
    consumer: &BaseConsumer<GroupContext>,
    group: &str,
    topics: &[String],
    partitions: i32,
    stop: &AtomicBool,
) {
    let context = consumer.context();
    let mut watch = Watch::new(topics, partitions);
    let mut seen = context.assignments.load(Ordering::SeqCst);
    let mut assigned_at = Instant::now();
    let mut next = Instant::now() + LOOK_EVERY;
    let mut last_regroup: Option<Instant> = None;
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(100));
        let now = Instant::now();
        let assignments = context.assignments.load(Ordering::SeqCst);
        if assignments != seen {
            seen = assignments;
            assigned_at = now;
            next = now + LOOK_EVERY;
            continue;
        }
        if now < next || context.regroup.load(Ordering::SeqCst) {
            continue;
        }
        next = now
            + if assigned_at.elapsed() < CLOSE_WATCH {
                LOOK_EVERY
            } else {
                LOOK_SLOWLY
            };
        let held: BTreeSet<(String, i32)> = match consumer.assignment() {
            Ok(tpl) => tpl
                .elements()
                .iter()
                .map(|e| (e.topic().to_string(), e.partition()))
                .collect(),
            Err(_) => continue,
        };
        let look = sight(consumer, group);
        if watch.look(assignments, look, held.clone())
            && last_regroup.is_none_or(|t| t.elapsed() >= REGROUP_BACKOFF)
        {
            let partitions: BTreeSet<i32> = held.iter().map(|(_, p)| *p).collect();
            tracing::warn!(
                members = look.map_or(0, |s| s.members),
                held = ?partitions,
                "the group coordinator left partitions without an owner; leaving the group and joining again"
            );
            last_regroup = Some(Instant::now());
            context.regroup.store(true, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(partitions: &[i32]) -> BTreeSet<(String, i32)> {
        partitions
            .iter()
            .map(|p| ("events".to_string(), *p))
            .collect()
    }

    fn stable(members: usize) -> Option<Sight> {
        Some(Sight {
            stable: true,
            members,
        })
    }

    #[test]
    fn an_even_share_or_more_is_not_short() {
        let w = Watch::new(&["events".to_string()], 4);
        assert!(!w.short(2, &held(&[0, 1])));
        assert!(!w.short(1, &held(&[0, 1, 2, 3])));
        // 4 partitions over 3 members: every member gets at least one.
        assert!(!w.short(3, &held(&[3])));
        // More members than partitions: a member may hold none.
        assert!(!w.short(5, &held(&[])));
        assert!(!w.short(0, &held(&[])));
        // Nor is a member that holds nothing yet (joining).
        assert!(!w.short(1, &held(&[])));
    }

    #[test]
    fn a_sole_member_holding_part_of_a_topic_is_short() {
        let w = Watch::new(&["events".to_string()], 4);
        assert!(w.short(1, &held(&[2, 3])));
        assert!(w.short(2, &held(&[3])));
    }

    #[test]
    fn every_input_topic_is_counted_on_its_own() {
        let w = Watch::new(&["a".to_string(), "b".to_string()], 2);
        let both: BTreeSet<(String, i32)> = [("a".to_string(), 0), ("a".to_string(), 1)]
            .into_iter()
            .collect();
        assert!(w.short(1, &both), "topic b is not held at all");
    }

    #[test]
    fn two_short_looks_in_a_row_without_a_new_assignment_ask_to_regroup() {
        let mut w = Watch::new(&["events".to_string()], 4);
        assert!(!w.look(3, stable(1), held(&[2, 3])));
        assert!(w.look(3, stable(1), held(&[2, 3])));
        // The strike is used up: it takes two more looks.
        assert!(!w.look(3, stable(1), held(&[2, 3])));
        assert!(w.look(3, stable(1), held(&[2, 3])));
    }

    #[test]
    fn a_rebalance_between_looks_or_a_group_in_flux_starts_over() {
        let mut w = Watch::new(&["events".to_string()], 4);
        assert!(!w.look(3, stable(1), held(&[2, 3])));
        assert!(!w.look(4, stable(1), held(&[2, 3])), "new assignment");
        assert!(!w.look(
            4,
            Some(Sight {
                stable: false,
                members: 1
            }),
            held(&[2, 3])
        ));
        assert!(!w.look(4, stable(1), held(&[2, 3])));
        assert!(!w.look(4, None, held(&[2, 3])), "no answer");
        assert!(!w.look(4, stable(1), held(&[2])));
        assert!(!w.look(4, stable(1), held(&[3])), "assignment changed");
        assert!(!w.look(4, stable(2), held(&[0, 1])));
        assert!(!w.look(4, stable(2), held(&[0, 1])), "not short");
    }
}
