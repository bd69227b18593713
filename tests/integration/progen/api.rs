//! The rule API in generated rules: the leaves of every kind (literals at the edges of their
//! type, the user's and the event's properties, absent event fields included), calls of every
//! native with arguments generated like any other (durations as numbers or texts, names the
//! catalogue may lack), and the calls that change tags, variables and timers.

use super::{text, Gen, Kind, Node, Scope};

/// Tags of the catalogue, and one it lacks, known only at run time (a literal the catalogue
/// lacks stops the rule from loading): its use is a rule error both ways.
const TAGS: [&str; 6] = [
    "\"intent/purchase\"",
    "\"service/complaint\"",
    "\"activity/high\"",
    "\"activity/low\"",
    "\"trait/price-sensitive\"",
    "(user.id + \"/x\")",
];

/// Event types, and two that are not (a rule error in `user.count` and the like).
const EVENT_TYPES: [&str; 5] = ["\"chat\"", "\"click\"", "\"order\"", "\"view\"", "\"\""];

impl Gen {
    pub(super) fn leaf(&mut self, scope: &Scope, kind: Kind) -> Node {
        if self.chance(55) {
            if let Some(name) = self.var_of(scope, kind) {
                return text(name);
            }
        }
        // Now and then a read that may well be `()` (an absent field, a variable not set, an
        // order never made) or a value of another kind: most such calls are the interpreter's.
        let mut options = if self.loose && self.chance(15) {
            Self::loose_leaves(scope, kind)
        } else {
            Self::leaves(scope, kind)
        };
        if !scope.user {
            options.retain(|o| !o.contains("user"));
        }
        if options.is_empty() {
            options = Self::leaves(scope, kind);
            options.retain(|o| !o.contains("user"));
        }
        text(*self.pick(&options))
    }

    /// Leaves that give a value of their kind.
    fn leaves(scope: &Scope, kind: Kind) -> Vec<&'static str> {
        let mut options = match kind {
            Kind::Int => vec![
                "0",
                "1",
                "2",
                "-3",
                "7",
                "1000",
                "9223372036854775807",
                "(-9223372036854775807 - 1)",
                "user.events",
                "user.count(\"chat\", days(7))",
                "user.count(\"click\", days(14), days(7))",
                "user.paid_orders().count",
                "user.paid_orders(days(365)).count",
                "user.paid_orders().promo",
                "user.since_last()",
                "user.age()",
                "user.first_seen",
                "user.last_seen",
                "user.tags.len()",
                "now() % 100000",
                "duration(\"90m\")",
                "user.record_hit(\"h\", days(7))",
                "grade_at_least(user.events, [10, 5, 3, 2])",
                "grade_at_most(user.since_last(), [days(1), days(7)])",
                // The handle in a variable of its own.
                "{ let u = user; u.events + u.tags.len() }",
                // An order summary in a variable, read as a local's properties.
                "{ let o = user.paid_orders(); o.count + o.promo }",
            ],
            Kind::Float => vec![
                "0.0",
                "-0.0",
                "0.5",
                "-1.25",
                "1e10",
                "1e21",
                "1e-7",
                "0.1",
                "(0.0 / 0.0)",
                "(1.0 / 0.0)",
                "(-1e308 * 10.0)",
                "123456789012.5",
                "user.decayed(\"s\", days(7))",
                "as_days(user.age())",
                "user.paid_orders().amount",
                "user.paid_orders().average",
                "user.paid_orders().promo_share",
                "{ let o = user.paid_orders(days(30)); o.amount + o.average }",
            ],
            Kind::Str => vec![
                "\"\"",
                "\"a\"",
                "\"chat\"",
                "\"多少钱\"",
                "\"7d\"",
                "user.id",
                "user.tag_in(\"activity\")",
                "user.tag_in(\"intent\")",
            ],
            Kind::Bool => vec![
                "true",
                "false",
                "user.has(\"intent/purchase\")",
                "user.has(\"activity/high\")",
                "user.get(\"k0\") == ()",
            ],
            Kind::Ints => vec!["[1, 2, 3]", "[-1, 5]", "[4, 0, 9]", "[]", "[0]"],
            Kind::Nested => vec!["[[1, 2], [3]]", "[[5]]", "[[], [0, -1, 2]]"],
            Kind::Map => vec![
                "#{}",
                "#{a: 1}",
                "#{a: 1, \"b c\": \"x\"}",
                "#{count: 2, amount: 1.5, b: \"多\"}",
                "#{x: [1, 2], y: #{z: 3}}",
                "#{\"\": 0, a: ()}",
            ],
        };
        if scope.event {
            options.extend(match kind {
                Kind::Int => &["event.ts % 1000", "event.ts"][..],
                Kind::Str => &[
                    "event.type",
                    "event.type + \"!\"",
                    "event.id",
                    "event.user_id",
                    "{ let e = event; e.type }",
                ][..],
                Kind::Bool => &["event.paid", "event.text == ()"][..],
                _ => &[][..],
            });
        }
        options
    }

    /// Leaves that may give `()` or a value of another kind.
    fn loose_leaves(scope: &Scope, kind: Kind) -> Vec<&'static str> {
        let mut options = match kind {
            Kind::Int => vec![
                "user.paid_orders().last",
                "user.paid_orders(\"2d\").first",
                "user.first_seen(\"order\")",
                "user.last_seen(\"chat\")",
                "user.window_exit(\"chat\", \"7d\")",
                "user.count_below_at(\"click\", days(3), 1)",
                "user.decay_below_at(\"s\", days(7), 0.5)",
                "user.get(\"k1\")",
                // Properties of another receiver, and a hit held in a variable.
                "user.amount",
                "event.count",
                "{ let o = user.paid_orders(); o.ttl }",
                "{ let h = event.keyword_hits()[0]; h.hits + h.within }",
            ],
            Kind::Float => vec!["user.get(\"k2\")"],
            Kind::Str => vec!["user.get(\"k0\")", "()"],
            Kind::Bool => vec!["user.get(\"k0\") != ()"],
            Kind::Ints => vec!["user.tags", "[1, \"a\", 2.5]", "[()]", "[[1], 2]"],
            Kind::Nested => vec!["[[1, 2], 3]", "[\"ab\", [1]]"],
            Kind::Map => vec!["#{a: \"1\", x: 5}", "#{count: -1.5, amount: 3}"],
        };
        if scope.event {
            // Fields of other event types are `()`: present on some events, absent on others.
            options.extend(match kind {
                Kind::Int | Kind::Float => &["event.amount", "event.amount * 2"][..],
                Kind::Str => &[
                    "event.text",
                    "event.target",
                    "event.order_id",
                    "event.status",
                    "event.room_id",
                    "event.channel",
                    "event.category",
                    "event.staff_id",
                ][..],
                Kind::Bool => &["event.promo"][..],
                Kind::Ints => &["event.keyword_hits()"][..],
                Kind::Nested | Kind::Map => &[][..],
            });
        }
        options
    }

    /// An event type; now and then one that is not (a rule error).
    fn event_type(&mut self) -> &'static str {
        if !self.loose || self.chance(90) {
            EVENT_TYPES[self.below(3) as usize]
        } else {
            EVENT_TYPES[self.below(EVENT_TYPES.len() as u64) as usize]
        }
    }

    /// A tag name; now and then one the catalogue lacks (a rule error).
    fn tag_name(&mut self) -> &'static str {
        if !self.loose || self.chance(92) {
            TAGS[self.below(TAGS.len() as u64 - 1) as usize]
        } else {
            TAGS[TAGS.len() - 1]
        }
    }

    /// A duration argument: milliseconds, a text the API parses (or does not), or a float.
    fn duration_arg(&mut self, scope: &Scope) -> Node {
        match self.below(6) {
            0 => {
                let n = self.expr_of(scope, Kind::Int, 1);
                let unit = *self.pick(&["days", "hours", "minutes"]);
                Node::Seq(vec![text(format!("{unit}(")), n, text(")")])
            }
            1 => text(*self.pick(&["\"7d\"", "\"36h\"", "\"0s\"", "\"15m\""])),
            2 => self.expr_of(scope, Kind::Int, 1),
            3 if self.loose && self.chance(30) => {
                text(*self.pick(&["2.5", "-1", "\"bogus\"", "\"\""]))
            }
            _ => text(*self.pick(&["days(7)", "days(30)", "hours(12)"])),
        }
    }

    /// A call of a native of the rule API with generated arguments, giving `kind` when the
    /// arguments are what it takes.
    pub(super) fn api_call(&mut self, scope: &Scope, kind: Kind) -> Node {
        let call = self.api_call_on_user(scope, kind);
        self.now_and_then_a_function(call)
    }

    /// `user.f(a)` as `f(user, a)` now and then: Rhai makes such a call like the method call,
    /// reading `user` after the other arguments.
    fn now_and_then_a_function(&mut self, call: Node) -> Node {
        if !self.chance(20) {
            return call;
        }
        let as_function = |t: &str| -> Option<String> {
            let rest = t.strip_prefix("user.")?;
            let (name, args) = rest.split_once('(')?;
            let comma = if args.starts_with(')') { "" } else { ", " };
            Some(format!("{name}(user{comma}{args}"))
        };
        match call {
            Node::Text(t) => Node::Text(as_function(&t).unwrap_or(t)),
            Node::Seq(mut parts) => {
                if let Some(Node::Text(t)) = parts.first_mut() {
                    if let Some(f) = as_function(t) {
                        *t = f;
                    }
                }
                Node::Seq(parts)
            }
            other => other,
        }
    }

    fn api_call_on_user(&mut self, scope: &Scope, kind: Kind) -> Node {
        match kind {
            Kind::Int => match self.below(7) {
                0 => {
                    let t = self.event_type();
                    let w = self.duration_arg(scope);
                    Node::Seq(vec![text(format!("user.count({t}, ")), w, text(")")])
                }
                1 => {
                    let t = self.event_type();
                    let w = self.duration_arg(scope);
                    let f = *self.pick(&["window_exit", "first_seen", "last_seen"]);
                    if f == "window_exit" {
                        Node::Seq(vec![text(format!("user.{f}({t}, ")), w, text(")")])
                    } else {
                        text(format!("user.{f}({t})"))
                    }
                }
                2 => {
                    let w = self.duration_arg(scope);
                    let n = self.expr_of(scope, Kind::Int, 1);
                    Node::Seq(vec![
                        text("user.count_below_at(\"chat\", "),
                        w,
                        text(", "),
                        n,
                        text(")"),
                    ])
                }
                3 => {
                    let s = self.expr_of(scope, Kind::Str, 1);
                    Node::Seq(vec![text("duration("), s, text(")")])
                }
                4 => {
                    let x = self.expr_of(scope, Kind::Float, 1);
                    let arr = self.expr_of(scope, Kind::Ints, 1);
                    let f = *self.pick(&["grade_at_least", "grade_at_most"]);
                    Node::Seq(vec![text(format!("{f}(")), x, text(", "), arr, text(")")])
                }
                5 => {
                    // Natives as functions or as methods, whichever the script writes.
                    let n = self.expr_of(scope, Kind::Int, 1);
                    let f = *self.pick(&["days", "hours", "minutes"]);
                    if self.chance(30) {
                        Node::Seq(vec![text("("), n, text(format!(").{f}()"))])
                    } else {
                        Node::Seq(vec![text(format!("{f}(")), n, text(")")])
                    }
                }
                6 if self.chance(40) => {
                    let x = self.expr_of(scope, Kind::Float, 1);
                    let (head, tail) = *self.pick(&[
                        ("to_int(", ")"),
                        ("to_int(floor(", "))"),
                        ("ceiling(", ").to_int()"),
                        ("round(", ").to_int()"),
                    ]);
                    Node::Seq(vec![text(head), x, text(tail)])
                }
                _ => {
                    let w = self.duration_arg(scope);
                    let field = *self.pick(&["count", "promo", "last", "first"]);
                    Node::Seq(vec![
                        text("user.paid_orders("),
                        w,
                        text(format!(").{field}")),
                    ])
                }
            },
            Kind::Float => match self.below(3) {
                0 => {
                    let w = self.duration_arg(scope);
                    Node::Seq(vec![text("user.decayed(\"s\", "), w, text(")")])
                }
                1 => {
                    let n = self.expr_of(scope, Kind::Int, 1);
                    let (head, tail) = *self.pick(&[
                        ("as_days(", ")"),
                        ("(", ").as_days()"),
                        ("to_float(", ")"),
                        ("floor(to_float(", "))"),
                        ("round(as_days(", "))"),
                    ]);
                    Node::Seq(vec![text(head), n, text(tail)])
                }
                _ => {
                    let w = self.duration_arg(scope);
                    let field = *self.pick(&["amount", "average", "promo_share"]);
                    Node::Seq(vec![
                        text("user.paid_orders("),
                        w,
                        text(format!(").{field}")),
                    ])
                }
            },
            Kind::Str => {
                let group = *self.pick(&["\"activity\"", "\"intent\"", "user.id"]);
                text(format!("user.tag_in({group})"))
            }
            Kind::Bool => {
                let tag = self.tag_name();
                text(format!("user.has({tag})"))
            }
            _ => self.leaf(scope, kind),
        }
    }

    /// A keyword hit's property, through an index or a loop over the event's hits.
    pub(super) fn hit_property(&mut self, scope: &Scope) -> Node {
        // Only a chat has hits: an index into the hits of another event is out of range.
        if !scope.event || !self.loose {
            return self.leaf(scope, Kind::Str);
        }
        let prop = *self.pick(&["tag", "word", "hits", "within", "ttl"]);
        let index = *self.pick(&["0", "0", "-1", "1"]);
        text(format!("event.keyword_hits()[{index}].{prop}"))
    }

    /// Tag options: a map literal, now and then with a key or a value the API refuses.
    pub(super) fn tag_options(&mut self, scope: &Scope) -> Node {
        let mut parts = vec![text("#{")];
        let keys = ["reason", "score", "ttl", "reason", "bogus"];
        let mut used = Vec::new();
        for _ in 0..1 + self.below(3) {
            let key = *self.pick(&keys);
            if used.contains(&key) {
                continue;
            }
            used.push(key);
            if parts.len() > 1 {
                parts.push(text(", "));
            }
            parts.push(text(format!("{key}: ")));
            parts.push(match key {
                "score" => self.expr_of(scope, Kind::Float, 1),
                "ttl" => self.duration_arg(scope),
                _ => self.scalar(scope, 1),
            });
        }
        parts.push(text("}"));
        Node::Seq(parts)
    }

    pub(super) fn api_statement(&mut self, scope: &Scope) -> Node {
        let statement = self.api_statement_on_user(scope);
        self.now_and_then_a_function(statement)
    }

    fn api_statement_on_user(&mut self, scope: &Scope) -> Node {
        if !scope.user {
            let value = self.any_expr(scope, 1);
            return Node::Seq(vec![value, text(";")]);
        }
        let key = format!("\"k{}\"", self.below(3));
        let tag = self.tag_name();
        match self.below(10) {
            0 => {
                let value = if !self.loose || self.chance(95) {
                    self.scalar(scope, 1)
                } else {
                    self.any_expr(scope, 1)
                };
                Node::Seq(vec![text(format!("user.set({key}, ")), value, text(");")])
            }
            1 => text(format!("user.unset({key});")),
            2 => {
                let reason = self.expr_of(scope, Kind::Str, 1);
                Node::Seq(vec![text(format!("tag({tag}, ")), reason, text(");")])
            }
            3 => {
                let options = self.tag_options(scope);
                Node::Seq(vec![text(format!("tag({tag}, ")), options, text(");")])
            }
            4 => match self.below(4) {
                0 => text(format!("untag({tag});")),
                1 => {
                    let reason = self.expr_of(scope, Kind::Str, 1);
                    Node::Seq(vec![text(format!("untag({tag}, ")), reason, text(");")])
                }
                2 => text(format!("tag({tag});")),
                _ => text(*self.pick(&[
                    "untag_group(\"activity\", \"gone\");",
                    "untag_group(user.id, \"gone\");",
                    "user.cancel_wake();",
                ])),
            },
            5 => {
                let w = self.duration_arg(scope);
                Node::Seq(vec![text("user.wake_in("), w, text(");")])
            }
            6 if !self.loose => {
                let days = 1 + self.below(9);
                text(if self.chance(50) {
                    format!("user.wake_at(now() + days({days}));")
                } else {
                    format!("user.wake_at_earliest([(), now() + hours({days})]);")
                })
            }
            6 => {
                let at = self.expr_of(scope, Kind::Int, 1);
                let (head, tail) = *self.pick(&[
                    ("user.wake_at(now() + ", ");"),
                    ("user.wake_at_earliest([(), now() + ", "]);"),
                    ("user.wake_at(", ");"),
                ]);
                Node::Seq(vec![text(head), at, text(tail)])
            }
            7 => {
                let w = self.duration_arg(scope);
                Node::Seq(vec![text("user.record_hit(\"h\", "), w, text(");")])
            }
            8 => {
                let w = self.duration_arg(scope);
                let amount = self.expr_of(scope, Kind::Float, 1);
                Node::Seq(vec![
                    text("user.decay_add(\"s\", "),
                    w,
                    text(", "),
                    amount,
                    text(");"),
                ])
            }
            _ => {
                let value = self.any_expr(scope, 1);
                Node::Seq(vec![value, text(";")])
            }
        }
    }
}
