//! What check says of an event field read where the event cannot have it.

use super::*;

/// `event.amount` in `on_chat` passed check and was `()` on every call: `> 100.0` never true,
/// `.contains(…)` on `event.text` in `on_order` a rule error on every order.
#[test]
fn a_field_of_another_event_type_in_a_typed_handler_is_an_error() {
    let f = Fixture::shipped_with(
        "fields.rhai",
        r#"fn on_chat(event, user) {
    if event.amount > 100.0 { tag("value/high"); }
    if event.text == "hi" { tag("value/low"); }
}
fn on_order(event, user) {
    let e = event;
    if e.text.contains("x") { tag("value/low"); }
    if event.status == "paid" && event.amount > 1.0 { tag("value/low"); }
}
fn on_event(event, user) {
    if event.type == "order" && event.amount > 1.0 { tag("value/low"); }
}
fn helper(event) { event.target }
"#,
        |p| p,
    );
    let c = f.check(&[]);
    let rule = f.path("rules/fields.rhai");
    find(
        &c,
        &format!("{rule}:2:"),
        "`event.amount` is () in on_chat, which only chat events call: `amount` is a field of \
         order events; read it in on_order, or in on_event where event.type is \"order\"",
    );
    find(
        &c,
        &format!("{rule}:7:"),
        "`event.text` is () in on_order, which only order events call: `text` is a field of \
         chat events",
    );
    let wrong: Vec<String> = shown(&c)
        .into_iter()
        .filter(|d| d.contains("which only"))
        .collect();
    assert_eq!(wrong.len(), 2, "{wrong:#?}");
}
