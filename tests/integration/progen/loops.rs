//! Loops beyond the counted ones of [`super::statements`]: over the characters of a text, over
//! ranges (`a..b`, `a..=b`, `range(a, b)`, `range(a, b, step)` with steps of every sign, empty
//! ranges included), over an array the loop changes; loops that grow a text, an array or a map
//! up to and past the engine's data limits (64 KiB of text, 10,000 array items, 1,000 map
//! entries); and the rarer statements: `;` alone, blocks, `let` without a value, unary `+`,
//! `&&` chains and chained comparisons.

use super::{text, Gen, Kind, Node, Scope, Var};

impl Gen {
    /// One of the wider loops, or `None` when none fits here.
    pub(super) fn other_loop(&mut self, scope: &mut Scope) -> Option<Node> {
        match self.below(6) {
            0 => Some(self.loop_over_text(scope)),
            1 if self.handovers => Some(self.loop_over_range(scope)),
            2 | 3 => self.loop_changing_its_array(scope),
            // One loop at most in a rule: they are long, and one shows where the limit meets.
            _ if !self.grown => {
                self.grown = true;
                Some(self.growing_loop(scope))
            }
            _ => None,
        }
    }

    /// The body of a loop: a counter step, `first`, then a statement or two of `inner`.
    fn loop_body(&mut self, scope: &Scope, inner: Option<Var>, first: Vec<Node>) -> Node {
        let mut inner_scope = scope.clone();
        inner_scope.in_loop = true;
        inner_scope.depth += 1;
        inner_scope.vars.extend(inner);
        let mut body = first;
        let n = 1 + self.below(2) as usize;
        body.extend(self.statements(&mut inner_scope, n));
        Node::Block(body)
    }

    fn loop_over_text(&mut self, scope: &Scope) -> Node {
        let s = self.expr_of(scope, Kind::Str, 1);
        let ch = self.fresh("ch");
        let counter = self.fresh("c");
        let (pattern, first) = if self.chance(40) {
            let i = self.fresh("i");
            (format!("({ch}, {i})"), format!("{counter} += {i};"))
        } else {
            (ch.clone(), format!("{counter} += 1;"))
        };
        let mut first = vec![text(first)];
        if scope.out {
            first.push(text(format!("out.push({ch});")));
        }
        let body = self.loop_body(scope, None, first);
        Node::Seq(vec![
            text(format!("let {counter} = 0; for {pattern} in ")),
            s,
            text(" "),
            body,
        ])
    }

    /// Handed to the interpreter: the compiled form does not take ranges.
    fn loop_over_range(&mut self, scope: &Scope) -> Node {
        let a = self.expr_of(scope, Kind::Int, 1);
        let b = text(*self.pick(&["0", "3", "-2", "7"]));
        let (open, mid, close) = *self.pick(&[
            ("", "..", ""),
            ("", "..=", ""),
            ("range(", ", ", ")"),
            ("range(", ", ", ", 2)"),
            ("range(", ", ", ", -1)"),
            ("range(", ", ", ", 0)"),
        ]);
        let i = self.fresh("i");
        let var = Var {
            name: i.clone(),
            kind: Kind::Int,
            constant: false,
        };
        let first = if scope.out {
            vec![text(format!("out.push({i});"))]
        } else {
            Vec::new()
        };
        let body = self.loop_body(scope, Some(var), first);
        Node::Seq(vec![
            text(format!("for {i} in {open}(")),
            a,
            text(format!(" % 10){mid}")),
            b,
            text(format!("{close} ")),
            body,
        ])
    }

    /// A loop over an array variable that the loop pushes onto or replaces: the loop goes
    /// over the array as it was.
    fn loop_changing_its_array(&mut self, scope: &Scope) -> Option<Node> {
        let arrays: Vec<Var> = scope
            .vars
            .iter()
            .filter(|v| v.kind == Kind::Ints && !v.constant)
            .cloned()
            .collect();
        if arrays.is_empty() {
            return None;
        }
        let a = self.pick(&arrays).name.clone();
        let x = self.fresh("x");
        let change = self
            .pick(&[
                format!("{a}.push({x});"),
                format!("{a}.push({x} * 2); {a}.push(0);"),
                format!("{a} = [{x}];"),
                format!("{a} = {a} + [{x}];"),
            ])
            .clone();
        let var = Var {
            name: x.clone(),
            kind: Kind::Int,
            constant: false,
        };
        let body = self.loop_body(scope, Some(var), vec![text(change)]);
        Some(Node::Seq(vec![text(format!("for {x} in {a} ")), body]))
    }

    /// A loop that grows a value to about a data limit: just under it, at it or just over.
    fn growing_loop(&mut self, scope: &mut Scope) -> Node {
        let v = self.fresh("g");
        let c = self.fresh("c");
        let maps = self.maps && self.handovers;
        let (init, step, bound, kind) = match self.below(if maps { 6 } else { 5 }) {
            0 | 1 => {
                // Doubled texts: 8 bytes reach 64 KiB in 13 steps, 1 byte in 16, and 6 bytes
                // (two characters of three bytes) pass it in 14.
                let (init, at) =
                    *self.pick(&[("\"abcdefgh\"", 13), ("\"x\"", 16), ("\"多少\"", 14)]);
                let step = self
                    .pick(&[
                        format!("{v} += {v};"),
                        format!("{v} = {v} + {v};"),
                        format!("{v} = `${{{v}}}${{{v}}}`;"),
                    ])
                    .clone();
                (
                    init.to_string(),
                    step,
                    at - 1 + self.below(3),
                    Some(Kind::Str),
                )
            }
            2 => {
                // About the most the compiled form grows an array itself (256 items); the
                // array limit is met by the array that holds itself, below, in fewer steps.
                let bound = *self.pick(&[255, 256, 257, 300]);
                (
                    "[]".into(),
                    format!("{v}.push({c});"),
                    bound,
                    Some(Kind::Ints),
                )
            }
            3 => {
                // An array that holds itself: 2^(n+1) - 1 items after n pushes.
                (
                    "[1]".into(),
                    format!("{v}.push({v});"),
                    11 + self.below(3),
                    None,
                )
            }
            4 => {
                // 100 bytes a push: the texts' bytes reach 64 KiB at 656 items.
                let hundred = "0123456789".repeat(10);
                let bound = *self.pick(&[655, 656, 700]);
                (
                    "[]".into(),
                    format!("{v}.push(\"{hundred}\");"),
                    bound,
                    None,
                )
            }
            _ => {
                // Map entries set by index: the interpreter's (the compiled form hands over
                // assignments into indexes).
                let bound = *self.pick(&[999, 1000, 1001]);
                (
                    "#{}".into(),
                    format!("{v}[`k${{{c}}}`] = {c};"),
                    bound,
                    Some(Kind::Map),
                )
            }
        };
        if let Some(kind) = kind {
            scope.vars.push(Var {
                name: v.clone(),
                kind,
                constant: false,
            });
        }
        let report = if scope.out {
            format!(" out.push({v}.len());")
        } else {
            String::new()
        };
        text(format!(
            "let {v} = {init}; let {c} = 0; while {c} < {bound} {{ {c} += 1; {step} }}{report}"
        ))
    }

    /// `;` alone, a block, a `let` without a value (given one later), unary `+`, a chain of
    /// `&&` or `||` without parentheses, or a chained comparison.
    pub(super) fn odd_statement(&mut self, scope: &mut Scope) -> Node {
        match self.below(6) {
            0 => text(";"),
            1 if scope.depth < 3 => {
                let mut inner = scope.clone();
                inner.depth += 1;
                let n = 1 + self.below(2) as usize;
                Node::Block(self.statements(&mut inner, n))
            }
            2 => {
                let kind = self.kind();
                let value = self.expr_of(scope, kind, 1);
                let name = self.fresh("v");
                scope.vars.push(Var {
                    name: name.clone(),
                    kind,
                    constant: false,
                });
                Node::Seq(vec![
                    text(format!("let {name}; {name} = ")),
                    value,
                    text(";"),
                ])
            }
            3 => {
                let kind = *self.pick(&[Kind::Int, Kind::Float]);
                let value = self.expr_of(scope, kind, 1);
                self.bound(scope, kind, vec![text("+("), value, text(")")])
            }
            4 => {
                let op = *self.pick(&[" && ", " || "]);
                let mut parts = Vec::new();
                for i in 0..3 {
                    if i > 0 {
                        parts.push(text(op));
                    }
                    parts.push(self.expr_of(scope, Kind::Bool, 1));
                }
                self.bound(scope, Kind::Bool, parts)
            }
            _ => {
                let a = self.expr_of(scope, Kind::Int, 1);
                let b = self.expr_of(scope, Kind::Int, 1);
                let op = *self.pick(&["<", ">=", "=="]);
                let parts = vec![a, text(" < "), b, text(format!(" {op} true"))];
                self.bound(scope, Kind::Bool, parts)
            }
        }
    }

    /// `let v = parts;` with `v` in scope from here on.
    fn bound(&mut self, scope: &mut Scope, kind: Kind, parts: Vec<Node>) -> Node {
        let name = self.fresh("v");
        scope.vars.push(Var {
            name: name.clone(),
            kind,
            constant: false,
        });
        let mut all = vec![text(format!("let {name} = "))];
        all.extend(parts);
        all.push(text(";"));
        Node::Seq(all)
    }
}
