//! Shapes beyond the plain ones of [`super::exprs`] and [`super::statements`]: values of one kind
//! meeting another (comparisons, `+` with a text, operator-assignments of every mix), the edges
//! of integer and float arithmetic, texts with several `${…}` parts, lengths and indexes of
//! arrays and texts, calls of script functions of every arity, shadowing `let`s, nested loops,
//! loops over the event's keyword hits, and constructs the compiled form hands to the
//! interpreter (`in`, `**`, bit operators, string methods) so that handing over is checked too.

use super::{text, Gen, Kind, Node, Scope, Var};

impl Gen {
    /// A call of a script function in scope that gives `kind` (or a kind the generator does not
    /// know), `user` first when it takes it.
    pub(super) fn script_call(&mut self, scope: &Scope, kind: Kind, d: u32) -> Option<Node> {
        let sigs: Vec<_> = scope
            .fns
            .iter()
            .filter(|f| f.result.is_none_or(|r| r == kind) && f.name != "deep")
            .filter(|f| scope.user || !f.user)
            .cloned()
            .collect();
        if sigs.is_empty() {
            return None;
        }
        let sig = self.pick(&sigs).clone();
        let mut parts = vec![text(format!("{}(", sig.name))];
        let mut first = true;
        if sig.user {
            parts.push(text("user"));
            first = false;
        }
        for kind in sig.params {
            if !first {
                parts.push(text(", "));
            }
            first = false;
            let arg = self.expr_of(scope, kind, d);
            // The recursive functions recurse as deep as an integer argument says: kept
            // between 1 and 9 but in loose rules.
            if kind == Kind::Int && sig.result.is_some() && !self.loose {
                parts.extend([text("("), arg, text(" % 5 + 5)")]);
            } else {
                parts.push(arg);
            }
        }
        parts.push(text(")"));
        Some(Node::Seq(parts))
    }

    /// A kind for a value compared with another: arrays (whose comparison is the
    /// interpreter's) only in loose rules.
    fn some_kind(&mut self) -> Kind {
        if self.loose {
            self.kind()
        } else {
            *self.pick(&[Kind::Int, Kind::Float, Kind::Str, Kind::Bool])
        }
    }

    /// One of the wider shapes of `kind`.
    pub(super) fn shape(&mut self, scope: &Scope, kind: Kind, d: u32) -> Node {
        if self.maps && self.chance(15) {
            if let Some(read) = self.map_read(scope, kind, d) {
                return read;
            }
        }
        match kind {
            Kind::Int => match self.below(9) {
                0 => {
                    let arr = self.expr_of(scope, Kind::Ints, d);
                    let f = *self.pick(&["(", "len("]);
                    if f == "len(" {
                        Node::Seq(vec![text("len("), arr, text(")")])
                    } else {
                        Node::Seq(vec![text("("), arr, text(").len()")])
                    }
                }
                1 => {
                    let nested = self.expr_of(scope, Kind::Nested, d);
                    let i = if self.loose {
                        self.expr_of(scope, Kind::Int, d)
                    } else {
                        text(*self.pick(&["0", "-1"]))
                    };
                    let j = text(*self.pick(&["0", "-1", "1"]));
                    Node::Seq(vec![
                        text("("),
                        nested,
                        text(")["),
                        i,
                        text("]["),
                        j,
                        text("]"),
                    ])
                }
                2 => {
                    // The edges of checked integer arithmetic.
                    let a = self.expr_of(scope, Kind::Int, d);
                    let tail = if !self.loose || self.chance(85) {
                        *self.pick(&[" / -1", " % -1", " * -1", " - 1", " + 1"])
                    } else {
                        *self.pick(&[" % 0", " / 0"])
                    };
                    Node::Seq(vec![text("("), a, text(format!("{tail})"))])
                }
                3 if self.handovers => {
                    // Operators the compiled form hands to the interpreter.
                    let a = self.expr_of(scope, Kind::Int, d);
                    let b = self.expr_of(scope, Kind::Int, d);
                    let op = *self.pick(&["<<", ">>", "&", "|", "^", "**"]);
                    Node::Seq(vec![text("("), a, text(format!(" {op} ")), b, text(")")])
                }
                4 if scope.event => text(*self.pick(&[
                    "event.keyword_hits().len()",
                    "event.keyword_hits()[0].hits",
                    "event.text.len()",
                    "user.tags.len()",
                ])),
                5 => {
                    let s = self.expr_of(scope, Kind::Str, d);
                    Node::Seq(vec![text("len("), s, text(")")])
                }
                6 => {
                    let a = self.expr_of(scope, Kind::Int, d);
                    let b = self.expr_of(scope, Kind::Float, d);
                    let op = *self.pick(&["+", "-", "*", "/", "%"]);
                    Node::Seq(vec![
                        text("(("),
                        a,
                        text(format!(" {op} ")),
                        b,
                        text(").to_int())"),
                    ])
                }
                _ => self.api_call(scope, Kind::Int),
            },
            Kind::Float => match self.below(5) {
                0 => {
                    // Mixed integer and float arithmetic, in either order.
                    let a = self.expr_of(scope, Kind::Int, d);
                    let b = self.expr_of(scope, Kind::Float, d);
                    let op = *self.pick(&["+", "-", "*", "/", "%"]);
                    let (a, b) = if self.chance(50) { (a, b) } else { (b, a) };
                    Node::Seq(vec![text("("), a, text(format!(" {op} ")), b, text(")")])
                }
                1 => {
                    let x = self.expr_of(scope, Kind::Float, d);
                    let digits = text(*self.pick(&["-2", "0", "3", "20", "100"]));
                    Node::Seq(vec![text("round_to("), x, text(", "), digits, text(")")])
                }
                2 => {
                    let x = self.expr_of(scope, Kind::Float, d);
                    let tail = *self.pick(&[
                        " % 0.0",
                        " / 0.0",
                        " * 1e300",
                        ").to_int().to_float(",
                        ").floor().ceiling(",
                    ]);
                    Node::Seq(vec![text("("), x, text(format!("{tail})"))])
                }
                3 => {
                    let x = self.expr_of(scope, Kind::Float, d);
                    Node::Seq(vec![text("-("), x, text(")")])
                }
                _ => self.api_call(scope, Kind::Float),
            },
            Kind::Str => match self.below(7) {
                0 | 1 => {
                    // Several parts, literal text between them, now and then nested.
                    let mut parts = vec![text("`")];
                    for i in 0..1 + self.below(3) {
                        parts.push(text(*self.pick(&["", "a", " ", "-", "$", "{}"])));
                        let value = if i == 0 && self.chance(20) {
                            let inner = self.scalar(scope, d);
                            Node::Seq(vec![text("`(${"), inner, text("})`")])
                        } else if self.chance(90) {
                            self.scalar(scope, d)
                        } else {
                            self.any_expr(scope, d)
                        };
                        parts.extend([text("${"), value, text("}")]);
                    }
                    parts.push(text("`"));
                    Node::Seq(parts)
                }
                2 => {
                    // A text and a value of any kind: Rhai's concatenation.
                    let s = self.expr_of(scope, Kind::Str, d);
                    let other = if self.loose {
                        self.any_expr(scope, d)
                    } else {
                        self.expr_of(scope, Kind::Str, d)
                    };
                    let (a, b) = if self.chance(50) {
                        (s, other)
                    } else {
                        (other, s)
                    };
                    Node::Seq(vec![text("("), a, text(" + "), b, text(")")])
                }
                3 => self.hit_property(scope),
                4 if self.handovers => {
                    // Text methods and indexes the compiled form hands to the interpreter.
                    let s = self.expr_of(scope, Kind::Str, d);
                    let tail = *self.pick(&[
                        ".to_upper()",
                        ".sub_string(1)",
                        "[0]",
                        ".trim()",
                        ".index_of(\"a\")",
                    ]);
                    Node::Seq(vec![text("("), s, text(format!("){tail}"))])
                }
                5 => self.api_call(scope, Kind::Str),
                _ => {
                    let x = self.scalar(scope, d);
                    Node::Seq(vec![text("`${"), x, text("}`")])
                }
            },
            Kind::Bool => match self.below(5) {
                0 | 1 => {
                    // Values of two kinds compared: never equal, never ordered.
                    let ka = self.some_kind();
                    let kb = self.some_kind();
                    let a = self.expr_of(scope, ka, d);
                    let b = if self.chance(15) {
                        text("()")
                    } else {
                        self.expr_of(scope, kb, d)
                    };
                    let op = *self.pick(&["==", "!=", "<", "<=", ">", ">="]);
                    Node::Seq(vec![text("("), a, text(format!(" {op} ")), b, text(")")])
                }
                2 if self.handovers => {
                    // `in`: the interpreter's.
                    let x = self.expr_of(scope, Kind::Int, d);
                    let arr = self.expr_of(scope, Kind::Ints, d);
                    Node::Seq(vec![text("("), x, text(" in "), arr, text(")")])
                }
                3 => {
                    // Two values of one kind, equal or not.
                    let kind = self.some_kind();
                    let a = self.expr_of(scope, kind, d);
                    let b = self.expr_of(scope, kind, d);
                    let op = *self.pick(&["==", "!="]);
                    Node::Seq(vec![text("("), a, text(format!(" {op} ")), b, text(")")])
                }
                _ => self.api_call(scope, Kind::Bool),
            },
            Kind::Ints => match self.below(6) {
                0 => {
                    let mut parts = vec![text("[")];
                    for i in 0..self.below(4) {
                        if i > 0 {
                            parts.push(text(", "));
                        }
                        let kind = if self.chance(80) {
                            Kind::Int
                        } else {
                            self.kind()
                        };
                        parts.push(self.expr_of(scope, kind, d));
                    }
                    parts.push(text("]"));
                    Node::Seq(parts)
                }
                1..=4 => {
                    let nested = self.expr_of(scope, Kind::Nested, d);
                    let i = text(*self.pick(&["0", "1", "-1"]));
                    Node::Seq(vec![text("("), nested, text(")["), i, text("]")])
                }
                _ => {
                    let a = self.expr_of(scope, Kind::Ints, d);
                    let b = self.expr_of(scope, Kind::Ints, d);
                    Node::Seq(vec![text("("), a, text(" + "), b, text(")")])
                }
            },
            Kind::Nested => {
                let a = self.expr_of(scope, Kind::Ints, d);
                let b = self.expr_of(scope, Kind::Ints, d);
                Node::Seq(vec![text("["), a, text(", "), b, text("]")])
            }
            Kind::Map => self.map_value(scope, d),
        }
    }

    /// One of the wider statements, or `None` when none fits here.
    pub(super) fn shape_statement(&mut self, scope: &mut Scope) -> Option<Node> {
        match self.below(8) {
            0 | 1 => {
                // A `let` of a name already in scope, of any kind: it shadows the old one.
                if scope.vars.is_empty() {
                    return None;
                }
                let old = self.pick(&scope.vars.clone()).clone();
                let kind = self.kind();
                let value = self.expr_of(scope, kind, 2);
                scope.vars.retain(|v| v.name != old.name);
                scope.vars.push(Var {
                    name: old.name.clone(),
                    kind,
                    constant: false,
                });
                Some(Node::Seq(vec![
                    text(format!("let {} = ", old.name)),
                    value,
                    text(";"),
                ]))
            }
            2 | 3 => {
                // An operator-assignment of any value to a variable of any kind.
                let var = self.assignable(scope)?;
                let arithmetic = matches!(var.kind, Kind::Int | Kind::Float);
                if !self.loose && !arithmetic && var.kind != Kind::Str {
                    return None;
                }
                let op = if !self.loose && var.kind == Kind::Str {
                    "+="
                } else if !self.handovers || self.chance(80) {
                    *self.pick(&["+=", "-=", "*=", "/=", "%="])
                } else {
                    *self.pick(&["**=", "<<=", "&=", "|="])
                };
                let value = if !self.loose || self.chance(60) {
                    self.expr_of(scope, var.kind, 2)
                } else {
                    self.any_expr(scope, 2)
                };
                Some(Node::Seq(vec![
                    text(format!("{} {op} ", var.name)),
                    value,
                    text(";"),
                ]))
            }
            4 if scope.depth < 3 => {
                // Nested loops over an array of arrays; a jump leaves the inner one.
                let nested = self.expr_of(scope, Kind::Nested, 1);
                let row = self.fresh("r");
                let x = self.fresh("x");
                let mut inner = scope.clone();
                inner.depth += 2;
                inner.in_loop = true;
                inner.vars.push(Var {
                    name: row.clone(),
                    kind: Kind::Ints,
                    constant: false,
                });
                inner.vars.push(Var {
                    name: x.clone(),
                    kind: Kind::Int,
                    constant: false,
                });
                let cond = self.expr_of(&inner, Kind::Bool, 1);
                let jump = *self.pick(&["break", "continue"]);
                let n = 1 + self.below(2) as usize;
                let mut body = vec![Node::Seq(vec![
                    text("if "),
                    cond,
                    text(format!(" {{ {jump}; }}")),
                ])];
                body.extend(self.statements(&mut inner, n));
                Some(Node::Seq(vec![
                    text(format!("for {row} in ")),
                    nested,
                    text(format!(" {{ for {x} in {row} ")),
                    Node::Block(body),
                    text(" }"),
                ]))
            }
            5 if scope.out && scope.event => {
                let h = self.fresh("h");
                let show = self
                    .pick(&[
                        "`${h.tag}:${h.word}:${h.hits}:${h.within}:${h.ttl}`",
                        "h.hits + h.within",
                        "h.word.len()",
                        "h.ttl",
                    ])
                    .replace("h.", &format!("{h}."));
                Some(text(format!(
                    "for {h} in event.keyword_hits() {{ out.push({show}); }}"
                )))
            }
            6 if scope.depth < 3 => {
                // A `return` from wherever, handlers included (which then tag nothing more).
                let cond = self.expr_of(scope, Kind::Bool, 1);
                let value = if scope.in_fn && self.chance(70) {
                    self.any_expr(scope, 1)
                } else {
                    text("")
                };
                Some(Node::Seq(vec![
                    text("if "),
                    cond,
                    text(" { return "),
                    value,
                    text("; }"),
                ]))
            }
            _ => {
                // A push of a value of any kind, now and then onto a variable of another kind.
                let var = self.assignable(scope)?;
                if var.kind != Kind::Ints && (!self.loose || self.chance(80)) {
                    return None;
                }
                let item = self.any_expr(scope, 1);
                Some(Node::Seq(vec![
                    text(format!("{}.push(", var.name)),
                    item,
                    text(");"),
                ]))
            }
        }
    }
}
