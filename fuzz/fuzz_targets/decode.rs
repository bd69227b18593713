//! The decoder on arbitrary bytes: it never panics, and what it accepts is sound.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tagstream::decode::{decode, Body, Source, END_TS_MS, MAX_USER_ID_BYTES, MIN_TS_MS};

fuzz_target!(|bytes: &[u8]| {
    let source = Source::File {
        name: "fuzz".into(),
        line: 1,
    };
    if let Ok(event) = decode(bytes, &source) {
        assert!(!event.user_id.is_empty() && event.user_id.len() <= MAX_USER_ID_BYTES);
        assert!((MIN_TS_MS..END_TS_MS).contains(&event.ts));
        if let Body::Order { amount, .. } = event.body {
            assert!(amount.is_finite() && amount >= 0.0);
        }
    }
});
