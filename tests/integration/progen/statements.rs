//! The statements of a generated rule: bindings and assignments, `if`, loops that end by their
//! own counter (unless shrunk or skipped into endless ones), `switch`, `break`/`continue` and
//! `return` where they are allowed, and calls of the rule API.

use super::{text, Gen, Kind, Node, Scope, Var};

impl Gen {
    pub(super) fn statements(&mut self, scope: &mut Scope, n: usize) -> Vec<Node> {
        (0..n).map(|_| self.statement(scope)).collect()
    }

    fn block(&mut self, scope: &Scope, in_loop: bool) -> Node {
        let mut inner = scope.clone();
        inner.depth += 1;
        inner.in_loop |= in_loop;
        let n = if inner.depth > 2 {
            1
        } else {
            1 + self.below(3) as usize
        };
        Node::Block(self.statements(&mut inner, n))
    }

    fn statement(&mut self, scope: &mut Scope) -> Node {
        let nested = scope.depth < 3;
        loop {
            match self.below(24) {
                0..=3 => {
                    let kind = self.kind();
                    let value = self.expr_of(scope, kind, 2);
                    let constant = self.chance(20);
                    let name = self.fresh("v");
                    let keyword = if constant { "const" } else { "let" };
                    scope.vars.push(Var {
                        name: name.clone(),
                        kind,
                        constant,
                    });
                    return Node::Seq(vec![text(format!("{keyword} {name} = ")), value, text(";")]);
                }
                4 | 5 => {
                    let vars: Vec<Var> =
                        scope.vars.iter().filter(|v| !v.constant).cloned().collect();
                    if vars.is_empty() {
                        continue;
                    }
                    let var = self.pick(&vars).clone();
                    let op = match var.kind {
                        Kind::Int | Kind::Float => *self.pick(&["=", "+=", "-=", "*=", "/=", "%="]),
                        Kind::Str => *self.pick(&["=", "+="]),
                        _ => "=",
                    };
                    let value = self.expr_of(scope, var.kind, 2);
                    return Node::Seq(vec![text(format!("{} {op} ", var.name)), value, text(";")]);
                }
                6 | 7 if scope.out => {
                    let value = self.scalar(scope, 2);
                    return Node::Seq(vec![text("out.push("), value, text(");")]);
                }
                8 if nested => {
                    let cond = self.expr_of(scope, Kind::Bool, 2);
                    let then = self.block(scope, false);
                    let mut parts = vec![text("if "), cond, text(" "), then];
                    if self.chance(50) {
                        parts.push(text(" else "));
                        parts.push(self.block(scope, false));
                    }
                    return Node::Seq(parts);
                }
                9 | 10 if nested => return self.a_loop(scope),
                11 if nested => return self.switch(scope, true),
                12 if scope.in_loop => {
                    let cond = self.expr_of(scope, Kind::Bool, 1);
                    let jump = if self.chance(50) { "break" } else { "continue" };
                    return Node::Seq(vec![text("if "), cond, text(format!(" {{ {jump}; }}"))]);
                }
                13 if scope.in_fn => {
                    let cond = self.expr_of(scope, Kind::Bool, 1);
                    let value = self.any_expr(scope, 1);
                    return Node::Seq(vec![
                        text("if "),
                        cond,
                        text(" { return "),
                        value,
                        text("; }"),
                    ]);
                }
                14 | 15 => return self.api_statement(scope),
                17..=20 => {
                    if self.maps && self.chance(35) {
                        if let Some(s) = self.map_statement(scope) {
                            return s;
                        }
                    }
                    if let Some(s) = self.shape_statement(scope) {
                        return s;
                    }
                }
                16 => {
                    // A changing method on a variable, constants included.
                    let arrays: Vec<Var> = scope
                        .vars
                        .iter()
                        .filter(|v| v.kind == Kind::Ints)
                        .cloned()
                        .collect();
                    if arrays.is_empty() {
                        continue;
                    }
                    let var = self.pick(&arrays).clone();
                    let item = self.expr_of(scope, Kind::Int, 1);
                    return Node::Seq(vec![text(format!("{}.push(", var.name)), item, text(");")]);
                }
                _ => {
                    if self.chance(8) {
                        return self.odd_statement(scope);
                    }
                    let value = self.any_expr(scope, 2);
                    return Node::Seq(vec![value, text(";")]);
                }
            }
        }
    }

    /// A loop that ends by its own counter, unless a deleted or skipped increment (or Rhai's
    /// `continue` in a `do` loop) makes it endless: the operation limit then stops it.
    fn a_loop(&mut self, scope: &mut Scope) -> Node {
        if self.chance(15) {
            if let Some(other) = self.other_loop(scope) {
                return other;
            }
        }
        let counter = self.fresh("c");
        let bound = 1 + self.below(5);
        let body = self.block(scope, true);
        let step = text(format!("{counter} += 1;"));
        let (head, tail) = match self.below(6) {
            0 => (format!("while {counter} < {bound} "), String::new()),
            1 => {
                let arr = self.expr_of(scope, Kind::Ints, 1);
                let var = self.fresh("x");
                let pattern = if self.chance(50) {
                    var.clone()
                } else {
                    format!("({var}, {})", self.fresh("i"))
                };
                let mut inner = scope.clone();
                inner.vars.push(Var {
                    name: var,
                    kind: Kind::Int,
                    constant: false,
                });
                inner.in_loop = true;
                inner.depth += 1;
                let mut stmts = vec![step];
                let n = 1 + self.below(2) as usize;
                stmts.extend(self.statements(&mut inner, n));
                return Node::Seq(vec![
                    text(format!("let {counter} = 0; for {pattern} in ")),
                    arr,
                    text(" "),
                    Node::Block(stmts),
                ]);
            }
            2 => (
                "loop ".to_string(),
                format!("if {counter} >= {bound} {{ break; }}"),
            ),
            3 => ("do ".into(), format!(" while {counter} < {bound};")),
            4 => ("do ".into(), format!(" until {counter} >= {bound};")),
            _ => (format!("while {counter} <= {bound} "), String::new()),
        };
        let Node::Block(mut stmts) = body else {
            unreachable!("a block")
        };
        stmts.insert(0, step);
        if head == "loop " {
            stmts.insert(1, text(tail.clone()));
        }
        let mut parts = vec![
            text(format!("let {counter} = 0; {head}")),
            Node::Block(stmts),
        ];
        if head.starts_with("do") {
            parts.push(text(tail));
        }
        Node::Seq(parts)
    }

    pub(super) fn switch(&mut self, scope: &Scope, statement: bool) -> Node {
        let on_int = self.chance(60);
        let value = if on_int {
            self.expr_of(scope, Kind::Int, 1)
        } else {
            self.expr_of(scope, Kind::Str, 1)
        };
        let mut parts = vec![text("switch "), value, text(" {\n")];
        let mut cases: Vec<String> = Vec::new();
        for _ in 0..1 + self.below(4) {
            let case = if on_int {
                match self.below(6) {
                    0 => format!("{}..{}", self.below(4), 2 + self.below(6)),
                    1 => format!("{}..={}", self.below(4), 2 + self.below(6)),
                    // Cases of other types: an integer never matches them.
                    2 if self.chance(30) => {
                        (*self.pick(&["1.0", "()", "true", "\"2\"", "-0.0"])).to_string()
                    }
                    _ => format!("{}", self.below(8) as i64 - 2),
                }
            } else {
                format!("{:?}", self.pick(&["chat", "click", "order", "", "a"]))
            };
            if !cases.contains(&case) {
                cases.push(case);
            }
        }
        // Rhai takes plain cases before ranges.
        cases.sort_by_key(|c| c.contains(".."));
        for case in cases {
            parts.push(text(case));
            if self.chance(30) {
                parts.push(text(" if "));
                parts.push(self.expr_of(scope, Kind::Bool, 1));
            }
            parts.push(text(" => "));
            parts.push(self.arm(scope, statement));
            parts.push(text(",\n"));
        }
        if self.chance(70) {
            parts.push(text("_ => "));
            parts.push(self.arm(scope, statement));
            parts.push(text(",\n"));
        }
        parts.push(text("}"));
        if statement {
            parts.push(text(";"));
        }
        Node::Seq(parts)
    }

    fn arm(&mut self, scope: &Scope, statement: bool) -> Node {
        if statement && scope.in_loop && self.chance(20) {
            return text(*self.pick(&["{ break; }", "{ continue; }"]));
        }
        if !statement && self.chance(20) {
            // An arm of another kind, or a block of statements ending in a value.
            let mut inner = scope.clone();
            inner.depth = 3;
            let mut stmts = self.statements(&mut inner, 1);
            stmts.push(self.any_expr(&inner, 1));
            return Node::Block(stmts);
        }
        if statement && scope.out {
            let value = self.scalar(scope, 1);
            Node::Seq(vec![text("{ out.push("), value, text("); }")])
        } else {
            self.expr_of(scope, Kind::Int, 1)
        }
    }
}
