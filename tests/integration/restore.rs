//! Checkpoint and restore mid-stream: a partition rebuilt from its snapshot records must
//! continue exactly as the partition it was taken from.

use std::sync::Arc;

use tagstream::core::Processor;
use tagstream::decode::Source;
use tagstream::state::snapshot::{Applied, Meta, UserRecord};
use tagstream::state::Partition;
use tagstream::tags::Output;

use crate::support::*;

fn changes(outputs: &[Output]) -> Vec<String> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Change(c) => {
                let mut buf = Vec::new();
                c.write_json(&mut buf);
                Some(String::from_utf8(buf).unwrap())
            }
            Output::Dead(_) => None,
        })
        .collect()
}

/// Rebuilds a partition from the records a checkpoint would write.
fn round_trip(part: &Partition) -> Partition {
    let applied = Applied::new();
    let meta = Meta::decode(
        &Meta {
            clock: part.clock(),
            applied: applied.clone(),
        }
        .encode(),
    )
    .unwrap();
    let mut restored = Partition::new();
    restored.restore_clock(meta.clock);
    for u in 0..part.user_count() as u32 {
        let bytes = UserRecord::encode(&applied, &part.user(u));
        let record = UserRecord::decode(&bytes).unwrap();
        assert_eq!(
            UserRecord::encode(&applied, &record.state),
            bytes,
            "a user record survives the round trip"
        );
        restored.restore_user(part.id(u), record.state);
    }
    restored
}

#[test]
fn a_restored_partition_continues_exactly_like_the_original() {
    let text = std::fs::read_to_string(repo().join("examples/sample.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let pack = pack();
    let name: Arc<str> = Arc::from("sample");
    let run = |cut: Option<usize>| {
        let mut processor = Processor::new(&pack).unwrap();
        let mut part = Partition::new();
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if Some(i) == cut {
                part = round_trip(&part);
            }
            let source = Source::File {
                name: name.clone(),
                line: i as u64 + 1,
            };
            processor.process_record(&mut part, line.as_bytes(), &source, &mut out);
        }
        processor.finish(&mut part, &mut out);
        changes(&out)
    };
    let straight = run(None);
    for cut in [lines.len() / 4, lines.len() / 2, lines.len() * 3 / 4] {
        let restored = run(Some(cut));
        let first_diff = straight.iter().zip(&restored).position(|(a, b)| a != b);
        assert!(
            first_diff.is_none() && straight.len() == restored.len(),
            "cut at {cut}: first difference at change {first_diff:?}: {:?} vs {:?}",
            first_diff.map(|i| &straight[i]),
            first_diff.map(|i| &restored[i])
        );
    }
}
