use super::*;
use crate::state::snapshot::encode_state;

fn user_with(events: u32, hits: usize) -> UserState {
    let mut state = UserState {
        first_by_type: [1, 2, 3],
        last_by_type: [4, 5, 6],
        events,
        ..UserState::default()
    };
    let key = crate::state::vars::intern("partition.test.hits").unwrap();
    let hits: Vec<i64> = (0..hits as i64).collect();
    state.vars.push((key, crate::state::Var::Hits(hits.into())));
    state
}

#[test]
fn with_user_reads_hot_and_compact_users_as_user_does() {
    let mut part = Partition::with_hot_limit(1);
    let (big, small) = (part.find_or_add("big"), part.find_or_add("small"));
    part.put_user(big, Box::new(user_with(9, 40)));
    part.put_user(small, Box::new(user_with(2, 3)));
    let hot = part.find_or_add("hot");
    part.put_user(hot, Box::new(user_with(1, 1)));
    assert_eq!(part.compact_users(), 2, "big and small went compact");
    // The scratch first holds the larger user, then is reused for the smaller one: nothing
    // of the first may show through.
    let mut scratch = UserState::default();
    for u in [big, small, hot, big, small] {
        let seen = part.with_user(u, &mut scratch, encode_state);
        assert_eq!(seen, encode_state(&part.user(u)), "user {u}");
    }
}
