//! The resume check driven through a fake broker log, served honestly and with tansu 0.6's
//! mid-batch defect.

use std::time::Instant;

use rdkafka::Offset;

use super::{Resume, Verdict, QUIET};

/// A partition's log as record batches: `[start, end)` offset ranges, with holes where a
/// transaction marker or retention left no record.
struct FakeLog {
    batches: Vec<(i64, i64)>,
    /// Serve a fetch from inside a batch from the next batch, as tansu 0.6 does.
    defective: bool,
}

impl FakeLog {
    /// Batches of `size` records from `start` to `end`.
    fn even(start: i64, end: i64, size: i64, defective: bool) -> FakeLog {
        let batches = (start..end)
            .step_by(size as usize)
            .map(|s| (s, (s + size).min(end)))
            .collect();
        FakeLog { batches, defective }
    }

    fn offsets(&self) -> impl Iterator<Item = i64> + '_ {
        self.batches.iter().flat_map(|&(s, e)| s..e)
    }

    /// What a fetch from `from` returns, in order, to the end of the log.
    fn fetch(&self, from: Offset) -> Vec<i64> {
        let log_start = self.batches.first().map_or(0, |b| b.0);
        let from = match from {
            Offset::Beginning => log_start,
            Offset::Offset(at) => at.max(log_start),
            other => panic!("the check seeks to offsets only, not {other:?}"),
        };
        let start = if self.defective {
            match self.batches.iter().find(|&&(s, e)| s < from && from < e) {
                Some(&(_, e)) => e,
                None => from,
            }
        } else {
            from
        };
        self.offsets().filter(|&o| o >= start).collect()
    }
}

/// Resumes at `asked` against `log` until the log is drained; returns the records handed to
/// the worker and the number of seeks.
fn drive(log: &FakeLog, asked: Option<i64>) -> (Vec<i64>, usize) {
    let mut resume = Resume::default();
    let mut now = Instant::now();
    resume.expect("events", 0, asked, now);
    let mut position = asked.map_or(Offset::Beginning, Offset::Offset);
    let (mut delivered, mut seeks) = (Vec::new(), 0);
    'fetch: for _ in 0..32 {
        for at in log.fetch(position) {
            match resume.check("events", 0, at, now) {
                Verdict::Deliver => delivered.push(at),
                Verdict::Skip => {}
                Verdict::SeekBack(to) => {
                    position = to;
                    seeks += 1;
                    continue 'fetch;
                }
            }
        }
        now += QUIET;
        let quiet = resume.quiet(now);
        let Some((topic, partition, to)) = quiet.first().cloned() else {
            return (delivered, seeks);
        };
        assert_eq!((topic.as_str(), partition), ("events", 0));
        // Only a partition with nothing delivered yet is still checked.
        assert!(delivered.is_empty());
        position = to;
        seeks += 1;
    }
    panic!("the resume check kept seeking");
}

fn expected(log: &FakeLog, from: i64) -> Vec<i64> {
    log.offsets().filter(|&o| o >= from).collect()
}

#[test]
fn an_honest_fetch_resumes_at_the_committed_offset_without_seeking() {
    let log = FakeLog::even(0, 10_000, 500, false);
    for asked in [1, 1234, 5000, 9_999] {
        let (delivered, seeks) = drive(&log, Some(asked));
        assert_eq!(delivered, expected(&log, asked), "resume at {asked}");
        assert_eq!(seeks, 0, "an honest broker needs no seek back (at {asked})");
    }
}

#[test]
fn a_fetch_that_skips_to_the_next_batch_is_caught_and_nothing_is_lost() {
    // Measured on tansu 0.6: committed 1234, first record delivered 2161.
    let log = FakeLog::even(0, 20_000, 927, true);
    for asked in [1234, 927 * 3 + 1, 19_000] {
        let (delivered, seeks) = drive(&log, Some(asked));
        assert_eq!(delivered, expected(&log, asked), "resume at {asked}");
        assert!(seeks >= 1, "the skip was seen (at {asked})");
    }
}

#[test]
fn huge_batches_walk_back_to_the_beginning() {
    // One batch of 100k records: every seek inside it lands beyond the committed offset.
    let log = FakeLog {
        batches: vec![(0, 100_000), (100_000, 100_010)],
        defective: true,
    };
    let (delivered, seeks) = drive(&log, Some(50_000));
    assert_eq!(delivered, expected(&log, 50_000));
    assert!(seeks >= 2, "walked back in steps: {seeks}");
}

#[test]
fn a_swallowed_last_batch_is_found_once_the_partition_stays_quiet() {
    // The committed offset lies in the last batch: a defective fetch returns nothing at all.
    let log = FakeLog::even(0, 3_000, 1_000, true);
    let (delivered, seeks) = drive(&log, Some(2_500));
    assert_eq!(delivered, expected(&log, 2_500));
    assert!(seeks >= 1);
}

#[test]
fn an_idle_partition_on_an_honest_broker_settles_after_one_look_back() {
    let log = FakeLog::even(0, 3_000, 1_000, false);
    let (delivered, seeks) = drive(&log, Some(3_000));
    assert!(delivered.is_empty());
    assert_eq!(
        seeks, 1,
        "one seek back shows records before the committed offset"
    );
}

#[test]
fn holes_and_retention_are_not_mistaken_for_lost_records() {
    // A transaction marker at the committed offset: the first record is the one after it.
    let marker = FakeLog {
        batches: vec![(0, 700), (701, 1_500)],
        defective: false,
    };
    let (delivered, _) = drive(&marker, Some(700));
    assert_eq!(delivered, expected(&marker, 700));
    // Retention deleted everything up to 5000, beyond the committed offset.
    let retained = FakeLog::even(5_000, 6_000, 100, false);
    let (delivered, _) = drive(&retained, Some(100));
    assert_eq!(delivered, expected(&retained, 5_000));
}

#[test]
fn nothing_committed_reads_from_the_beginning_unchecked() {
    let log = FakeLog::even(0, 2_000, 300, true);
    let (delivered, seeks) = drive(&log, None);
    assert_eq!(delivered, expected(&log, 0));
    assert_eq!(seeks, 0);
}

#[test]
fn a_revoked_partition_is_no_longer_checked() {
    let mut resume = Resume::default();
    let now = Instant::now();
    resume.expect("events", 3, Some(10), now);
    resume.forget("events", 3);
    assert!(resume.is_empty());
    assert_eq!(resume.check("events", 3, 99, now), Verdict::Deliver);
}
