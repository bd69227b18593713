//! The expressions of a generated rule: values of the kind asked for (now and then of another),
//! built from operators, indexes, method chains, conditionals, blocks, script-function calls and
//! the rule API's reads, down to literals and variables in scope.

use super::{text, Gen, Kind, Node, Scope, Var};

impl Gen {
    /// `if cond { a } else { b }` as a value of `kind`.
    pub(super) fn if_expr(&mut self, scope: &Scope, kind: Kind, depth: u32) -> Node {
        let cond = self.expr_of(scope, Kind::Bool, depth);
        let a = self.expr_of(scope, kind, depth);
        let b = self.expr_of(scope, kind, depth);
        Node::Seq(vec![
            text("if "),
            cond,
            text(" { "),
            a,
            text(" } else { "),
            b,
            text(" }"),
        ])
    }

    /// A value `emit` can write into a reason: not an array.
    pub(super) fn scalar(&mut self, scope: &Scope, depth: u32) -> Node {
        let kind = *self.pick(&[Kind::Int, Kind::Float, Kind::Str, Kind::Bool]);
        self.expr_of(scope, kind, depth)
    }

    pub(super) fn any_expr(&mut self, scope: &Scope, depth: u32) -> Node {
        let kind = self.kind();
        self.expr_of(scope, kind, depth)
    }

    /// An expression that usually gives a value of `kind`; now and then any kind at all.
    pub(super) fn expr_of(&mut self, scope: &Scope, kind: Kind, depth: u32) -> Node {
        // Conditions stay boolean: Rhai rejects a condition that is a literal of another type.
        if kind != Kind::Bool && self.chance(if self.loose { 3 } else { 1 }) {
            let other = self.kind();
            return Node::Expr(Box::new(self.typed(scope, other, depth)));
        }
        Node::Expr(Box::new(self.typed(scope, kind, depth)))
    }

    /// `f` called with the variable `name` first and `arg` second, as a method (`name.f(arg)`)
    /// or as a function (`f(name, arg)`): either way Rhai reads the variable after `arg`.
    fn call_on(&mut self, name: &str, f: &str, arg: Node) -> Node {
        let head = if self.chance(50) {
            format!("{name}.{f}(")
        } else {
            format!("{f}({name}, ")
        };
        Node::Seq(vec![text(head), arg, text(")")])
    }

    /// Now and then `arg` preceded by an assignment to `receiver` (a variable of `kind`), as the
    /// argument of a call on that variable: Rhai reads the receiver only after the arguments.
    fn maybe_assigning(
        &mut self,
        scope: &Scope,
        receiver: &str,
        kind: Kind,
        arg: Node,
        depth: u32,
    ) -> Node {
        let assignable = scope.vars.iter().any(|v| v.name == receiver && !v.constant);
        if !assignable || !self.chance(30) {
            return arg;
        }
        let value = self.expr_of(scope, kind, depth);
        Node::Seq(vec![
            text(format!("{{ {receiver} = ")),
            value,
            text("; "),
            arg,
            text(" }"),
        ])
    }

    /// A variable that may be assigned to (not a constant).
    pub(super) fn assignable(&mut self, scope: &Scope) -> Option<Var> {
        let vars: Vec<&Var> = scope.vars.iter().filter(|v| !v.constant).collect();
        (!vars.is_empty()).then(|| (*self.pick(&vars)).clone())
    }

    pub(super) fn var_of(&mut self, scope: &Scope, kind: Kind) -> Option<String> {
        let names: Vec<&Var> = scope.vars.iter().filter(|v| v.kind == kind).collect();
        (!names.is_empty()).then(|| self.pick(&names).name.clone())
    }

    /// A value of `kind`; in a function without `user`, one that does not name it.
    fn typed(&mut self, scope: &Scope, kind: Kind, depth: u32) -> Node {
        let node = self.typed_any(scope, kind, depth);
        if !scope.user && node.source().contains("user") {
            return self.leaf(scope, kind);
        }
        node
    }

    fn typed_any(&mut self, scope: &Scope, kind: Kind, depth: u32) -> Node {
        if depth == 0 || self.chance(30) {
            return self.leaf(scope, kind);
        }
        let d = depth - 1;
        if self.chance(8) {
            if let Some(call) = self.script_call(scope, kind, d) {
                return call;
            }
        }
        if scope.fns.iter().any(|f| f.name == "deep") && self.chance(5) {
            return text(format!("deep({})", 10 + self.below(30)));
        }
        if self.chance(4) {
            if let Some(var) = self.assignable(scope) {
                // An assignment inside an expression: whatever else reads the variable must
                // see it changed exactly where Rhai does (a method's arguments before its
                // receiver, the left operand before the right, an index before its target).
                let value = self.expr_of(scope, var.kind, d);
                let result = self.expr_of(scope, kind, d);
                return Node::Seq(vec![
                    text(format!("{{ {} = ", var.name)),
                    value,
                    text("; "),
                    result,
                    text(" }"),
                ]);
            }
        }
        if kind == Kind::Map {
            return self.map_value(scope, depth);
        }
        if self.chance(25) {
            return self.shape(scope, kind, d);
        }
        match kind {
            Kind::Int => match self.below(13) {
                0..=3 => {
                    let op = *self.pick(&["+", "-", "*", "/", "%"]);
                    self.binary(scope, Kind::Int, op, d)
                }
                4 => {
                    let inner = self.expr_of(scope, Kind::Int, d);
                    Node::Seq(vec![text("-("), inner, text(")")])
                }
                5 => {
                    let arr = self.expr_of(scope, Kind::Ints, d);
                    let index = if self.chance(25) {
                        self.expr_of(scope, Kind::Int, d)
                    } else {
                        text(*self.pick(&["0", "1", "-1"]))
                    };
                    Node::Seq(vec![text("("), arr, text(")["), index, text("]")])
                }
                6 => {
                    // An index, then a method or a further index on the item.
                    let arr = self
                        .var_of(scope, Kind::Nested)
                        .unwrap_or("[[1, 2], [3]]".into());
                    let i = self.below(2);
                    let tail = *self.pick(&[
                        "[0]",
                        "[0]",
                        "[-1]",
                        "[0].hours()",
                        "[1].minutes() / 1000",
                        "[0].days() % 1000",
                        ".len()",
                    ]);
                    text(format!("{arr}[{i}]{tail}"))
                }
                7 => {
                    let value = self.expr_of(scope, Kind::Float, d);
                    Node::Seq(vec![text("("), value, text(").floor().to_int()")])
                }
                8 => {
                    let s = self.expr_of(scope, Kind::Str, d);
                    Node::Seq(vec![text("("), s, text(").len()")])
                }
                9 => self.if_expr(scope, Kind::Int, d),
                10 => self.switch(scope, false),
                11 => {
                    // A call with the variable first and an argument after it.
                    let Some(name) = self.var_of(scope, Kind::Int) else {
                        return self.leaf(scope, Kind::Int);
                    };
                    let thresholds = self.expr_of(scope, Kind::Ints, d);
                    let thresholds = self.maybe_assigning(scope, &name, Kind::Int, thresholds, d);
                    self.call_on(&name, "grade_at_least", thresholds)
                }
                _ => {
                    let inner = self.expr_of(scope, Kind::Int, d);
                    let name = self.fresh("t");
                    Node::Seq(vec![
                        text(format!("{{ let {name} = ")),
                        inner,
                        text(format!("; {name} * 2 + 1 }}")),
                    ])
                }
            },
            Kind::Float => match self.below(5) {
                0 | 1 => {
                    let op = *self.pick(&["+", "-", "*", "/"]);
                    self.binary(scope, Kind::Float, op, d)
                }
                2 => {
                    let value = self.expr_of(scope, Kind::Int, d);
                    Node::Seq(vec![text("("), value, text(").to_float() / 3")])
                }
                3 => {
                    let Some(name) = self.var_of(scope, Kind::Float) else {
                        return self.leaf(scope, Kind::Float);
                    };
                    let digits = self.expr_of(scope, Kind::Int, d);
                    let digits = self.maybe_assigning(scope, &name, Kind::Float, digits, d);
                    self.call_on(&name, "round_to", digits)
                }
                _ => {
                    let value = self.expr_of(scope, Kind::Float, d);
                    let method = *self.pick(&[".floor()", ".ceiling()", ".round()"]);
                    Node::Seq(vec![
                        text("round_to("),
                        value,
                        text(format!("{method}, 2)")),
                    ])
                }
            },
            Kind::Str => match self.below(3) {
                0 => self.binary(scope, Kind::Str, "+", d),
                1 => {
                    let value = self.any_expr(scope, d);
                    Node::Seq(vec![text("`<${"), value, text("}>`")])
                }
                _ => self.leaf(scope, Kind::Str),
            },
            Kind::Bool => match self.below(5) {
                0 | 1 => {
                    let kind = *self.pick(&[Kind::Int, Kind::Float, Kind::Str]);
                    let op = *self.pick(&["==", "!=", "<", "<=", ">", ">="]);
                    self.binary(scope, kind, op, d)
                }
                2 => {
                    let op = *self.pick(&["&&", "||"]);
                    self.binary(scope, Kind::Bool, op, d)
                }
                3 => {
                    let inner = self.expr_of(scope, Kind::Bool, d);
                    Node::Seq(vec![text("!("), inner, text(")")])
                }
                _ => text(*self.pick(&[
                    "user.has(\"intent/purchase\")",
                    "user.has(\"activity/high\")",
                    "user.get(\"k0\") == ()",
                ])),
            },
            Kind::Ints => match self.below(3) {
                0 => {
                    let a = self.expr_of(scope, Kind::Int, d);
                    let b = self.expr_of(scope, Kind::Int, d);
                    Node::Seq(vec![text("["), a, text(", "), b, text("]")])
                }
                _ => self.leaf(scope, Kind::Ints),
            },
            Kind::Nested => {
                let a = self.expr_of(scope, Kind::Ints, d);
                Node::Seq(vec![text("["), a, text(", [7, 30]]")])
            }
            Kind::Map => unreachable!("maps are made by map_value"),
        }
    }

    fn binary(&mut self, scope: &Scope, kind: Kind, op: &str, depth: u32) -> Node {
        let a = self.expr_of(scope, kind, depth);
        // Mostly a divisor that is not zero; now and then anything.
        let b = if matches!(op, "/" | "%") && self.chance(80) {
            text(*self.pick(&["3", "7", "-2", "2.5", "-1", "0.5"]))
        } else {
            self.expr_of(scope, kind, depth)
        };
        Node::Seq(vec![text("("), a, text(format!(" {op} ")), b, text(")")])
    }
}
