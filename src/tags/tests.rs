use std::sync::Arc;

use super::*;

fn catalogue() -> Catalogue {
    Catalogue::parse(
        "max_tags_per_user = 3\nscore_band = 0.5\n[groups.level]\nexclusive = true\ntags = [\"high\", \"low\"]\n[groups.intent]\nttl = \"1d\"\ntags = [\"price\", \"buy\"]\n[groups.vip]\n",
        "tags.toml",
    )
    .unwrap()
}

struct Fixture {
    catalogue: Catalogue,
    names: Vec<Arc<str>>,
    user: Arc<str>,
    trigger: Trigger,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            catalogue: catalogue(),
            names: vec![Arc::from("r0"), Arc::from("r1")],
            user: Arc::from("u1"),
            trigger: Trigger::Event(Arc::from("e1")),
        }
    }

    fn emitter(&self, now: i64) -> Emitter<'_> {
        Emitter {
            catalogue: &self.catalogue,
            rule_names: &self.names,
            user_id: &self.user,
            trigger: &self.trigger,
            now,
            seq: 0,
        }
    }

    fn add(&self, name: &str, score: Option<f64>) -> AddTag {
        AddTag {
            tag: self.catalogue.id(name).unwrap(),
            score,
            reason: "why".into(),
            ttl_ms: None,
        }
    }
}

fn ops(out: &[Output]) -> Vec<(String, Op)> {
    out.iter()
        .map(|o| match o {
            Output::Change(c) => (c.tag.to_string(), c.op),
            Output::Dead(_) => panic!("unexpected dead letter"),
        })
        .collect()
}

#[test]
fn exclusive_group_replaces_member_and_emits_both() {
    let f = Fixture::new();
    let (mut tags, mut out) = (Slots::default(), Vec::new());
    let mut em = f.emitter(10);
    em.add(&mut tags, 0, f.add("level/low", None), &mut out)
        .unwrap();
    em.add(&mut tags, 0, f.add("level/high", None), &mut out)
        .unwrap();
    assert_eq!(
        ops(&out),
        [
            ("level/low".into(), Op::Add),
            ("level/low".into(), Op::Remove),
            ("level/high".into(), Op::Add)
        ]
    );
    assert_eq!(tags.len(), 1);
}

#[test]
fn re_adding_in_same_band_emits_nothing_but_band_change_does() {
    let f = Fixture::new();
    let (mut tags, mut out) = (Slots::default(), Vec::new());
    let mut em = f.emitter(10);
    em.add(&mut tags, 0, f.add("vip", Some(4.1)), &mut out)
        .unwrap();
    em.add(&mut tags, 0, f.add("vip", Some(4.4)), &mut out)
        .unwrap();
    assert_eq!(out.len(), 1);
    em.add(&mut tags, 0, f.add("vip", Some(4.6)), &mut out)
        .unwrap();
    assert_eq!(
        ops(&out[1..]),
        [("vip".into(), Op::Remove), ("vip".into(), Op::Add)]
    );
    let Output::Change(last) = &out[2] else {
        unreachable!()
    };
    assert_eq!(last.score, Some(4.6));
}

#[test]
fn ttl_comes_from_catalogue_and_refresh_extends_it() {
    let f = Fixture::new();
    let (mut tags, mut out) = (Slots::default(), Vec::new());
    let expires = f
        .emitter(0)
        .add(&mut tags, 1, f.add("intent/price", None), &mut out)
        .unwrap();
    assert_eq!(expires, Some(86_400_000));
    let expires = f
        .emitter(1000)
        .add(&mut tags, 1, f.add("intent/price", None), &mut out)
        .unwrap();
    assert_eq!(expires, Some(86_401_000));
    assert_eq!(out.len(), 1, "a refresh emits nothing");
    let price = f.catalogue.id("intent/price").unwrap();
    assert!(
        !f.emitter(86_400_000).expire(&mut tags, price, &mut out),
        "the old expiry is stale"
    );
    assert!(f.emitter(86_401_000).expire(&mut tags, price, &mut out));
    let Output::Change(removal) = &out[1] else {
        unreachable!()
    };
    assert_eq!(
        (removal.op, removal.reason.as_str(), &*removal.rule),
        (Op::Remove, "expired", "r1")
    );
}

#[test]
fn limits_and_absent_removals() {
    let f = Fixture::new();
    let (mut tags, mut out) = (Slots::default(), Vec::new());
    let mut em = f.emitter(0);
    em.remove(
        &mut tags,
        0,
        f.catalogue.id("vip").unwrap(),
        String::new(),
        &mut out,
    );
    assert!(out.is_empty(), "removing an absent tag emits nothing");
    for name in ["vip", "intent/price", "intent/buy"] {
        em.add(&mut tags, 0, f.add(name, None), &mut out).unwrap();
    }
    assert_eq!(
        em.add(&mut tags, 0, f.add("level/low", None), &mut out),
        Err(TagError::TooMany(3))
    );
    let bad = AddTag {
        ttl_ms: Some(0),
        ..f.add("vip", None)
    };
    assert_eq!(
        em.add(&mut tags, 0, bad, &mut out),
        Err(TagError::BadTtl(0))
    );
}

#[test]
fn ids_are_deterministic_and_distinct_within_a_step() {
    let f = Fixture::new();
    let run = || {
        let (mut tags, mut out) = (Slots::default(), Vec::new());
        let mut em = f.emitter(5);
        em.add(&mut tags, 0, f.add("level/low", None), &mut out)
            .unwrap();
        em.add(&mut tags, 0, f.add("level/high", None), &mut out)
            .unwrap();
        out.into_iter()
            .map(|o| match o {
                Output::Change(c) => c.id,
                Output::Dead(_) => unreachable!(),
            })
            .collect::<Vec<_>>()
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b);
    assert_eq!(a.len(), 3);
    assert!(a[0] != a[1] && a[1] != a[2]);
}

#[test]
fn change_json_has_the_spec_fields() {
    let f = Fixture::new();
    let (mut tags, mut out) = (Slots::default(), Vec::new());
    f.emitter(1_795_000_000_000)
        .add(&mut tags, 1, f.add("vip", Some(0.87)), &mut out)
        .unwrap();
    let Output::Change(c) = &out[0] else {
        unreachable!()
    };
    let mut buf = Vec::new();
    c.write_json(&mut buf);
    let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
    for key in [
        "id",
        "user_id",
        "tag",
        "op",
        "score",
        "rule",
        "reason",
        "event_id",
        "ts",
        "expires_at",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["ts"], "2026-11-18T11:06:40Z");
    assert_eq!(v["score"], 0.87);
    assert_eq!(v["expires_at"], serde_json::Value::Null);
}
