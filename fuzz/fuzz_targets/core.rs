//! The whole core with the shipped rule pack: each input is a stream of lines into a fresh
//! partition. Every line ends as processed or as its own dead letter; nothing panics.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tagstream::core::Processor;
use tagstream::decode::Source;
use tagstream::rules::RulePack;
use tagstream::state::Partition;

thread_local! {
    static PROCESSOR: std::cell::RefCell<Processor> = {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let pack = RulePack::load(
            &root.join("rules"),
            &root.join("config/tags.toml"),
            &root.join("config/params.toml"),
            &[],
        )
        .expect("the shipped rule pack loads");
        std::cell::RefCell::new(Processor::new(&pack).expect("the shipped rules compile"))
    };
}

fuzz_target!(|bytes: &[u8]| {
    PROCESSOR.with(|p| {
        let mut processor = p.borrow_mut();
        let mut part = Partition::new();
        let mut out = Vec::new();
        let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        let before = processor.stats.events + processor.stats.decode_errors;
        for (i, line) in lines.iter().enumerate() {
            let source = Source::File {
                name: "fuzz".into(),
                line: i as u64 + 1,
            };
            processor.process_record(&mut part, line, &source, &mut out);
            out.clear();
        }
        processor.finish(&mut part, &mut out);
        let after = processor.stats.events + processor.stats.decode_errors;
        assert_eq!(after - before, lines.len() as u64);
    });
});
