//! Object maps in generated rules (only in rules that use maps): literals, nested and holding
//! arrays, in variables and parameters, returned by functions; their reads (properties,
//! indexes, missing keys, `len`, `keys`, `values`, `contains`, `in`, equality with maps and
//! other values, `to_string`, `type_of`, interpolation) and their changes (property and index
//! assignments, operator-assignments, `remove`, `clear`, `mixin`, `+=`), loops over their keys
//! and values, a map as a `switch` value, and the event's extra fields (`event.fields`).
//!
//! Reads of missing keys give `()`, and a map meets operators of every kind: both tiers must
//! report the same values and the same errors.

use super::{text, Gen, Kind, Node, Scope, Var};

/// Keys of generated maps: plain names, names of properties the rule API knows elsewhere, a
/// key that is no identifier, and the empty key.
const KEYS: [&str; 7] = ["a", "b", "\"b c\"", "count", "amount", "x", "\"\""];

/// A key as a text: `"a"` for the key `a`.
fn quoted(key: &str) -> String {
    if key.starts_with('"') {
        key.to_string()
    } else {
        format!("{key:?}")
    }
}

impl Gen {
    /// A key as an index (`m["a"]`), or as a property: `m.count` and `m.amount` (names the
    /// compiled form knows as properties of other values), `m.a` only in rules that may hand
    /// over (the compiled form does not read other names as properties).
    fn access(&mut self, key: &str) -> String {
        let known = matches!(key, "count" | "amount");
        if !key.starts_with('"') && (known || self.handovers) && self.chance(60) {
            format!(".{key}")
        } else {
            format!("[{}]", quoted(key))
        }
    }

    /// A map literal: up to three distinct keys, values of the plain kinds, now and then an
    /// array or another map.
    pub(super) fn map_literal(&mut self, scope: &Scope, d: u32) -> Node {
        let mut parts = vec![text("#{")];
        let mut used = Vec::new();
        for _ in 0..self.below(4) {
            let key = *self.pick(&KEYS);
            if used.contains(&key) {
                continue;
            }
            if !used.is_empty() {
                parts.push(text(", "));
            }
            used.push(key);
            let kind = match self.below(10) {
                0..=3 => Kind::Int,
                4 => Kind::Float,
                5 | 6 => Kind::Str,
                7 => Kind::Bool,
                8 => Kind::Ints,
                _ if d > 0 => Kind::Map,
                _ => Kind::Int,
            };
            parts.push(text(format!("{key}: ")));
            parts.push(self.expr_of(scope, kind, d.saturating_sub(1)));
        }
        parts.push(text("}"));
        Node::Seq(parts)
    }

    /// A map-valued expression: a literal, a variable, two maps joined, a map changed in a
    /// block, one of two maps, a map out of an array, or the event's extra fields.
    pub(super) fn map_value(&mut self, scope: &Scope, d: u32) -> Node {
        if d == 0 || self.chance(30) {
            return self.leaf(scope, Kind::Map);
        }
        let d = d - 1;
        match self.below(8) {
            0 | 1 => self.map_literal(scope, d + 1),
            2 => {
                let a = self.expr_of(scope, Kind::Map, d);
                let b = self.expr_of(scope, Kind::Map, d);
                Node::Seq(vec![text("("), a, text(" + "), b, text(")")])
            }
            3 if self.handovers => {
                // A copy changed: the map it came from stays as it was.
                let m = self.expr_of(scope, Kind::Map, d);
                let t = self.fresh("m");
                let key = *self.pick(&KEYS);
                let at = self.access(key);
                let value = self.scalar(scope, d);
                Node::Seq(vec![
                    text(format!("{{ let {t} = ")),
                    m,
                    text(format!("; {t}{at} = ")),
                    value,
                    text(format!("; {t} }}")),
                ])
            }
            4 => self.if_expr(scope, Kind::Map, d),
            5 => {
                let m = self.expr_of(scope, Kind::Map, d);
                let i = text(*self.pick(&["0", "-1", "1"]));
                Node::Seq(vec![text("["), m, text(", #{}]["), i, text("]")])
            }
            6 if scope.event && self.handovers => text(*self.pick(&[
                "event.fields",
                "event.fields.meta",
                "event.fields + #{a: 1}",
            ])),
            _ => self.map_literal(scope, d + 1),
        }
    }

    /// A map as an operand: a variable in scope, or any map expression in parentheses.
    fn map_operand(&mut self, scope: &Scope, d: u32) -> Node {
        if let Some(name) = self.var_of(scope, Kind::Map) {
            if self.chance(60) {
                return text(name);
            }
        }
        let m = self.expr_of(scope, Kind::Map, d);
        Node::Seq(vec![text("("), m, text(")")])
    }

    /// A read of a map that gives (mostly) `kind`; `None` when there is none of that kind.
    /// Methods the compiled form lacks (`keys`, `contains`, `to_string`, …) and `in` only in
    /// rules that may hand over.
    pub(super) fn map_read(&mut self, scope: &Scope, kind: Kind, d: u32) -> Option<Node> {
        let m = self.map_operand(scope, d);
        let key = *self.pick(&KEYS);
        let at = self.access(key);
        let wide = self.handovers;
        let tail = |t: &str| Some(Node::Seq(vec![m.clone(), text(t.to_string())]));
        let wrap = |head: &str, t: &str| {
            Some(Node::Seq(vec![
                text(head.to_string()),
                m.clone(),
                text(t.to_string()),
            ]))
        };
        match kind {
            Kind::Int => match self.below(8) {
                0 => tail(".len()"),
                1 => wrap("len(", ")"),
                2 => tail(&at),
                3 if wide => tail(self.one_of(&[".keys().len()", ".values().len()"])),
                4 => tail(self.one_of(&["[\"x\"].len()", "[\"x\"][0]", "[\"x\"][-1]"])),
                5 if wide => tail(self.one_of(&[".x[0]", ".x.len()", ".y.z"])),
                6 => {
                    // An index of a text computed at run time.
                    let k = self.expr_of(scope, Kind::Str, d);
                    Some(Node::Seq(vec![m.clone(), text("["), k, text("]")]))
                }
                _ => tail(self.one_of(&[".count", "[\"a\"]", "[\"count\"]"])),
            },
            Kind::Float => tail(self.one_of(&[".amount", "[\"amount\"]", "[\"b\"]"])),
            Kind::Str => match self.below(6) {
                0 | 1 => wrap("`${", "}`"),
                2 if wide => wrap("type_of(", ")"),
                3 => wrap("`<${", &format!("{at}}}>`")),
                4 if wide => {
                    let (head, t) = *self.pick(&[("to_debug(", ")"), ("", ".to_string()")]);
                    wrap(head, t)
                }
                _ => tail(&at),
            },
            Kind::Bool => match self.below(7) {
                0 | 1 => {
                    let other = if self.chance(70) {
                        self.map_operand(scope, d)
                    } else {
                        self.any_expr(scope, d)
                    };
                    let op = *self.pick(&["==", "!=", "==", "<"]);
                    Some(Node::Seq(vec![
                        text("("),
                        m.clone(),
                        text(format!(" {op} ")),
                        other,
                        text(")"),
                    ]))
                }
                2 if wide => {
                    let k = if self.chance(70) {
                        text(quoted(key))
                    } else {
                        self.expr_of(scope, Kind::Str, d)
                    };
                    Some(Node::Seq(vec![
                        text("("),
                        k,
                        text(" in "),
                        m.clone(),
                        text(")"),
                    ]))
                }
                3 if wide => tail(&format!(".contains({})", quoted(key))),
                4 if wide => tail(".is_empty()"),
                2..=5 => wrap("(", &format!("{at} == ())")),
                _ => wrap("(", ".len() > 1)"),
            },
            Kind::Ints => {
                if wide && self.chance(50) {
                    tail(self.one_of(&[".keys()", ".values()", ".x", ".values() + [1]"]))
                } else {
                    let item = tail(&at)?;
                    Some(Node::Seq(vec![text("["), item, text(", 1]")]))
                }
            }
            Kind::Nested => wrap("[", "[\"x\"], [1]]"),
            Kind::Map => None,
        }
    }

    /// A change of a map variable (not a constant: Rhai refuses that rule), a loop over its keys
    /// or values, or a `switch` on it; `None` when no map is in scope.
    pub(super) fn map_statement(&mut self, scope: &mut Scope) -> Option<Node> {
        let maps: Vec<Var> = scope
            .vars
            .iter()
            .filter(|v| v.kind == Kind::Map && !v.constant)
            .cloned()
            .collect();
        if maps.is_empty() {
            return None;
        }
        let var = self.pick(&maps).clone();
        let m = var.name.clone();
        if !self.handovers || self.chance(30) {
            return Some(self.map_statement_compiled(scope, &m));
        }
        let key = *self.pick(&KEYS);
        let at = self.access(key);
        Some(match self.below(11) {
            0 | 1 => {
                let kind = *self.pick(&[Kind::Int, Kind::Str, Kind::Float, Kind::Ints]);
                let value = self.expr_of(scope, kind, 1);
                Node::Seq(vec![text(format!("{m}{at} = ")), value, text(";")])
            }
            2 => {
                let k = self.expr_of(scope, Kind::Str, 1);
                let value = self.scalar(scope, 1);
                Node::Seq(vec![
                    text(format!("{m}[")),
                    k,
                    text("] = "),
                    value,
                    text(";"),
                ])
            }
            3 => {
                let op = *self.pick(&["+=", "-=", "*="]);
                let value = self.expr_of(scope, Kind::Int, 1);
                Node::Seq(vec![text(format!("{m}{at} {op} ")), value, text(";")])
            }
            4 => text(format!(
                "{m}{};",
                self.pick(&[
                    ".remove(\"a\")",
                    ".remove(\"zz\")",
                    ".clear()",
                    ".x.push(1)"
                ])
            )),
            5 => {
                let other = self.map_literal(scope, 1);
                let how = *self.pick(&[".mixin(", ".fill_with(", " += ", " = #{} + "]);
                let close = if how.starts_with('.') { ");" } else { ";" };
                Node::Seq(vec![text(format!("{m}{how}")), other, text(close)])
            }
            6 => {
                // A map inside a map, read and changed through both.
                let value = self.scalar(scope, 1);
                Node::Seq(vec![
                    text(format!("{m}.y = #{{z: 1}}; {m}.y.z = ")),
                    value,
                    text(";"),
                ])
            }
            7 | 8 if scope.out => {
                let x = self.fresh("k");
                let over = *self.pick(&["keys", "values"]);
                self.loop_pushing(scope, &x, &format!("{m}.{over}()"))
            }
            9 if scope.out => {
                let a = self.scalar(scope, 1);
                let b = self.scalar(scope, 1);
                Node::Seq(vec![
                    text(format!("switch {m} {{ 1 => out.push(")),
                    a,
                    text("), _ => out.push("),
                    b,
                    text(") };"),
                ])
            }
            10 => {
                // A map passed on: the callee's changes stay in its copy.
                let value = self.any_expr(scope, 1);
                let t = self.fresh("m");
                scope.vars.push(Var {
                    name: t.clone(),
                    kind: Kind::Map,
                    constant: false,
                });
                Node::Seq(vec![
                    text(format!("let {t} = {m}; {t}{at} = ")),
                    value,
                    text(";"),
                ])
            }
            _ => self.map_statement_compiled(scope, &m),
        })
    }

    /// `for x in over { out.push(x); … }` with one or two statements more in the body.
    fn loop_pushing(&mut self, scope: &Scope, x: &str, over: &str) -> Node {
        let mut inner = scope.clone();
        inner.in_loop = true;
        inner.depth += 1;
        let n = 1 + self.below(2) as usize;
        let mut body = vec![text(format!("out.push({x});"))];
        body.extend(self.statements(&mut inner, n));
        Node::Seq(vec![text(format!("for {x} in {over} ")), Node::Block(body)])
    }

    /// A statement on the map variable `m` that the compiled form takes: a new value, a map
    /// joined to it, a loop over an array it holds (or over the map itself: an error), a
    /// `switch` on it, a copy given a new value.
    fn map_statement_compiled(&mut self, scope: &mut Scope, m: &str) -> Node {
        match self.below(6) {
            0 => {
                let other = self.map_literal(scope, 1);
                let how = *self.pick(&[" += ", " = #{} + ", " = "]);
                let tail = if how == " = " {
                    String::new()
                } else {
                    format!(" + {m}")
                };
                Node::Seq(vec![
                    text(format!("{m}{how}")),
                    other,
                    text(format!("{tail};")),
                ])
            }
            1 if scope.out => {
                let x = self.fresh("x");
                let over = *self.pick(&["[\"x\"]", "[\"x\"]", ""]);
                self.loop_pushing(scope, &x, &format!("{m}{over}"))
            }
            2 if scope.out => {
                let a = self.scalar(scope, 1);
                let b = self.scalar(scope, 1);
                Node::Seq(vec![
                    text(format!("switch {m} {{ 1 => out.push(")),
                    a,
                    text("), () => out.push(\"unit\"), _ => out.push("),
                    b,
                    text(") };"),
                ])
            }
            3 => {
                let t = self.fresh("m");
                let value = self.map_literal(scope, 1);
                scope.vars.push(Var {
                    name: t.clone(),
                    kind: Kind::Map,
                    constant: false,
                });
                Node::Seq(vec![
                    text(format!("let {t} = {m}; {t} = ")),
                    value,
                    text(";"),
                ])
            }
            _ => {
                let value = self.map_value(scope, 2);
                Node::Seq(vec![text(format!("{m} = ")), value, text(";")])
            }
        }
    }
}
