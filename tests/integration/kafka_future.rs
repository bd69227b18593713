//! `clock.max_future` in Kafka mode: a message stamped far ahead of the wall clock is a dead
//! letter on the dead-letter topic, and the partition's clock does not move.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::kafka_support::*;
use crate::support::*;

#[test]
fn a_message_from_the_future_is_a_dead_letter_and_does_not_move_the_partitions_clock() {
    let Some(bootstrap) = bootstrap() else { return };
    let topics = Topics::new(&bootstrap, 1);
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let lines = vec![
        chat("early", wall - 2 * DAY, "大家好"),
        click("mallory", wall + 200 * DAY),
        chat("late", wall - DAY, "多少钱"),
    ];
    produce_lines(&bootstrap, &topics.input, 1, &lines);
    let processor = topics.spawn_with("max-future", &[("TAGSTREAM_CLOCK__MAX_FUTURE", "1h")]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let (tags, dead) = loop {
        let tags = fold_outputs(&read_topic(&bootstrap, &topics.output));
        let dead = read_topic(&bootstrap, &topics.dead);
        if (tags.contains_key("late") && !dead.is_empty()) || Instant::now() > deadline {
            break (tags, dead);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    processor.stop();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(
        dead[0].contains("ahead of the wall clock") && dead[0].contains("mallory"),
        "{}",
        dead[0]
    );
    assert!(!tags.contains_key("mallory"), "{tags:?}");
    for user in ["early", "late"] {
        let held = &tags[user];
        assert!(held.contains("lifecycle/new"), "{user}: {held:?}");
        assert!(!held.contains("lifecycle/churned"), "{user}: {held:?}");
    }
}
