//! Fuzzing inside the normal test run: seeded and bounded, so it is repeatable and quick. The
//! decoder and the whole core (the default rule pack) get arbitrary bytes and valid-looking
//! events with one thing wrong, and the committed corpus of nasty inputs (`fuzz/corpus/nasty`).
//! Every input must end as a valid event or a dead letter, without a panic or a stall.
//!
//! `TAGSTREAM_FUZZ_SEED` and `TAGSTREAM_FUZZ_ITERS` run it longer or elsewhere; the open-ended
//! fuzzer is the `fuzz/` crate (`cargo fuzz run decode`, `cargo fuzz run core`).

use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use tagstream::core::Processor;
use tagstream::decode::{
    decode, Body, DecodeError, Source, END_TS_MS, MAX_USER_ID_BYTES, MIN_TS_MS,
};
use tagstream::state::Partition;
use tagstream::tags::Output;

use crate::support::*;

fn seed() -> u64 {
    std::env::var("TAGSTREAM_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7a65_5eed)
}

/// Iterations of each loop: a few thousand by default, any number when asked.
fn iterations(default: u64) -> u64 {
    std::env::var("TAGSTREAM_FUZZ_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Runs `f` on another thread and fails if it panics or takes longer than `limit`.
fn bounded<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("stalled: not done within {limit:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("panicked (seed {})", seed()),
    }
}

/// Values that break assumptions: edges of numbers, times and sizes.
fn nasty_value(rng: &mut Lcg) -> Value {
    match rng.below(16) {
        0 => Value::Null,
        1 => json!(1e308),
        2 => json!(-0.0),
        3 => json!(u64::MAX),
        4 => json!(i64::MIN),
        5 => json!(""),
        6 => json!("x".repeat(10_000)),
        7 => json!([[[[[[[[1]]]]]]]]),
        8 => json!({"a": {"b": {"c": []}}}),
        9 => json!(true),
        10 => json!("2099-12-31T23:59:59.999Z"),
        11 => json!("1999-12-31T23:59:59Z"),
        12 => json!(MIN_TS_MS + rng.below(1_000) as i64 - 500),
        13 => json!(END_TS_MS + rng.below(1_000) as i64 - 500),
        14 => json!("\u{0}\u{1}\u{2028}\u{fffd}"),
        _ => json!(-1),
    }
}

/// A valid event of a random type, user and time.
fn valid_event(rng: &mut Lcg) -> Value {
    let user = format!("u{}", rng.below(50));
    let ts = T0 + rng.below(200) as i64 * HOUR;
    let texts = ["多少钱", "想购买", "退款", "hello", "price?"];
    match rng.below(3) {
        0 => json!({"type": "chat", "user_id": user, "ts": ts,
                    "text": texts[rng.below(texts.len() as u64) as usize]}),
        1 => json!({"type": "click", "user_id": user, "ts": ts, "target": "item:1"}),
        _ => json!({"type": "order", "user_id": user, "ts": ts,
                    "order_id": format!("o{}", rng.below(30)), "amount": rng.below(5_000),
                    "promo": rng.below(2) == 0,
                    "status": if rng.below(6) == 0 { "refunded" } else { "paid" }}),
    }
}

/// A valid event with one field changed, added or removed, or its bytes damaged.
fn valid_looking(rng: &mut Lcg) -> Vec<u8> {
    let mut event = valid_event(rng);
    let fields = [
        "type", "user_id", "ts", "event_id", "text", "target", "order_id", "amount", "status",
        "promo", "room_id", "extra",
    ];
    let obj: &mut Map<String, Value> = event.as_object_mut().expect("an object");
    match rng.below(4) {
        0 => {
            let key = fields[rng.below(fields.len() as u64) as usize];
            obj.insert(key.to_string(), nasty_value(rng));
        }
        1 => {
            let key = fields[rng.below(fields.len() as u64) as usize];
            obj.remove(key);
        }
        _ => {}
    }
    let mut bytes = serde_json::to_vec(&event).expect("serialises");
    if rng.below(3) == 0 && !bytes.is_empty() {
        for _ in 0..=rng.below(3) {
            let at = rng.below(bytes.len() as u64) as usize;
            match rng.below(3) {
                0 => bytes[at] = rng.below(256) as u8,
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, pick(rng, b"{}[]\",:\\\x00\xff")),
            }
            if bytes.is_empty() {
                break;
            }
        }
    }
    bytes
}

fn pick(rng: &mut Lcg, from: &[u8]) -> u8 {
    from[rng.below(from.len() as u64) as usize]
}

/// Arbitrary bytes, often with JSON's punctuation.
fn arbitrary(rng: &mut Lcg) -> Vec<u8> {
    let len = rng.below(200) as usize;
    (0..len)
        .map(|_| match rng.below(3) {
            0 => pick(rng, b"{}[]\",:0123456789.eE-tfn\\ "),
            _ => rng.below(256) as u8,
        })
        .filter(|b| *b != b'\n')
        .collect()
}

/// What a decoded event must satisfy whatever the input was.
fn assert_sound(bytes: &[u8], result: &Result<tagstream::decode::Event, DecodeError>) {
    let Ok(event) = result else { return };
    let shown = String::from_utf8_lossy(bytes);
    assert!(
        !event.user_id.is_empty() && event.user_id.len() <= MAX_USER_ID_BYTES,
        "{shown}"
    );
    assert!((MIN_TS_MS..END_TS_MS).contains(&event.ts), "{shown}");
    if let Body::Order { amount, .. } = event.body {
        assert!(amount.is_finite() && amount >= 0.0, "{shown}");
    }
}

#[test]
fn the_decoder_takes_arbitrary_and_valid_looking_bytes() {
    let (seed, n) = (seed(), iterations(20_000));
    bounded(Duration::from_secs(120), move || {
        let mut rng = Lcg(seed);
        let source = Source::File {
            name: "fuzz".into(),
            line: 1,
        };
        let (mut valid, mut invalid) = (0, 0);
        for _ in 0..n {
            for bytes in [arbitrary(&mut rng), valid_looking(&mut rng)] {
                let result = decode(&bytes, &source);
                assert_sound(&bytes, &result);
                match result {
                    Ok(_) => valid += 1,
                    Err(e) => {
                        assert!(!e.to_string().is_empty() && !e.kind().is_empty());
                        invalid += 1;
                    }
                }
            }
        }
        // The generator reaches both sides, or it tests nothing.
        assert!(
            valid > n / 4 && invalid > n,
            "valid {valid}, invalid {invalid}"
        );
    });
}

/// Runs lines through one processor with the default pack; every record must end as processed
/// or as its own dead letter, and the changes must fold (no double add, one member per
/// exclusive group).
fn run_core(lines: Vec<Vec<u8>>) -> (u64, u64) {
    let pack = pack();
    bounded(Duration::from_secs(180), move || {
        let mut processor = Processor::new(&pack).unwrap();
        let mut part = Partition::new();
        let mut changes = Vec::new();
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let source = Source::File {
                name: "fuzz".into(),
                line: i as u64 + 1,
            };
            let before = processor.stats.decode_errors;
            processor.process_record(&mut part, line, &source, &mut out);
            let rejected = processor.stats.decode_errors > before;
            let own = out.iter().any(|o| {
                matches!(o, Output::Dead(d) if d.source == source.to_string() && d.rule.is_none())
            });
            assert_eq!(rejected, own, "{}", String::from_utf8_lossy(line));
            for o in out.drain(..) {
                if let Output::Change(c) = o {
                    changes.push(c);
                }
            }
        }
        processor.finish(&mut part, &mut out);
        changes.extend(out.into_iter().filter_map(|o| match o {
            Output::Change(c) => Some(c),
            Output::Dead(_) => None,
        }));
        fold(&changes);
        let s = &processor.stats;
        assert_eq!(s.events + s.decode_errors, lines.len() as u64);
        (s.events, s.decode_errors)
    })
}

#[test]
fn the_core_takes_arbitrary_and_valid_looking_streams() {
    let mut rng = Lcg(seed() ^ 0xc0de);
    let n = iterations(4_000);
    let lines: Vec<Vec<u8>> = (0..n)
        .map(|i| match i % 4 {
            0 => arbitrary(&mut rng),
            1 => valid_looking(&mut rng),
            _ => serde_json::to_vec(&valid_event(&mut rng)).unwrap(),
        })
        .collect();
    let (events, errors) = run_core(lines);
    assert!(
        events > n / 2 && errors > n / 4,
        "events {events}, errors {errors}"
    );
}

#[test]
fn every_nasty_input_of_the_corpus_is_a_valid_event_or_a_dead_letter() {
    let dir = repo().join("fuzz/corpus/nasty");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    assert!(entries.len() >= 50, "the corpus is in {}", dir.display());
    let source = Source::File {
        name: "corpus".into(),
        line: 1,
    };
    let mut lines = Vec::new();
    for path in &entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(path).unwrap();
        let result = bounded(Duration::from_secs(10), {
            let (bytes, source) = (bytes.clone(), source.clone());
            move || decode(&bytes, &source)
        });
        assert_sound(&bytes, &result);
        if name.starts_with("dead_") {
            assert!(result.is_err(), "{name} must be a dead letter");
        } else if name.starts_with("valid_") {
            assert!(result.is_ok(), "{name} must be valid: {:?}", result.err());
        } else {
            assert!(
                name.starts_with("either_"),
                "{name}: dead_, valid_ or either_"
            );
        }
        lines.push(bytes);
    }
    let total = lines.len() as u64;
    let (events, errors) = run_core(lines);
    assert_eq!(events + errors, total);
}
