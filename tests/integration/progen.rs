//! A generator of whole random rules — statements, not only expressions — for holding the
//! compiled handlers to Rhai's interpreter, and a shrinker that cuts a failing rule down to
//! what still fails.
//!
//! A rule is generated as a [`Node`] tree so that the shrinker can delete statements and
//! replace expressions without knowing Rhai's grammar. Programs mostly type-check (values of
//! the kind an operator expects), with a share of deliberate mismatches, overflows, indexes
//! out of range and endless loops, because the compiled form must hand exactly those to the
//! interpreter.

use crate::support::Lcg;

/// A piece of a generated rule.
#[derive(Debug, Clone)]
pub enum Node {
    Text(String),
    /// Pieces written one after the other.
    Seq(Vec<Node>),
    /// Statements between braces; the shrinker deletes them one by one.
    Block(Vec<Node>),
    /// An expression the shrinker may replace by a plain value.
    Expr(Box<Node>),
}

impl Node {
    pub fn render(&self, out: &mut String) {
        match self {
            Node::Text(t) => out.push_str(t),
            Node::Seq(items) => items.iter().for_each(|n| n.render(out)),
            Node::Block(stmts) => {
                out.push_str("{\n");
                for s in stmts {
                    s.render(out);
                    out.push('\n');
                }
                out.push('}');
            }
            Node::Expr(e) => e.render(out),
        }
    }

    pub fn source(&self) -> String {
        let mut out = String::new();
        self.render(&mut out);
        out
    }

    /// Places the shrinker can change, in a fixed order.
    fn sites(&self) -> usize {
        match self {
            Node::Text(_) => 0,
            Node::Seq(items) => items.iter().map(Node::sites).sum(),
            Node::Block(stmts) => stmts.len() + stmts.iter().map(Node::sites).sum::<usize>(),
            Node::Expr(e) => 1 + e.sites(),
        }
    }

    /// The tree with site `k` simplified: a statement deleted, or an expression replaced by
    /// `0`. `None` when `k` is past the last site.
    fn simplified(&self, k: &mut usize) -> Option<Node> {
        match self {
            Node::Text(_) => None,
            Node::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Some(new) = item.simplified(k) {
                        let mut items = items.clone();
                        items[i] = new;
                        return Some(Node::Seq(items));
                    }
                }
                None
            }
            Node::Block(stmts) => {
                if *k < stmts.len() {
                    let mut stmts = stmts.clone();
                    stmts.remove(*k);
                    return Some(Node::Block(stmts));
                }
                *k -= stmts.len();
                for (i, s) in stmts.iter().enumerate() {
                    if let Some(new) = s.simplified(k) {
                        let mut stmts = stmts.clone();
                        stmts[i] = new;
                        return Some(Node::Block(stmts));
                    }
                }
                None
            }
            Node::Expr(e) => {
                if *k == 0 {
                    return match &**e {
                        Node::Text(t) if t == "0" => None,
                        _ => Some(Node::Expr(Box::new(text("0")))),
                    };
                }
                *k -= 1;
                e.simplified(k).map(|new| Node::Expr(Box::new(new)))
            }
        }
    }
}

/// Cuts `program` down while `fails` holds: deletes statements and simplifies expressions,
/// one site at a time, until no single change still fails. `fails` must be false for
/// programs that do not compile.
pub fn shrink(program: Node, fails: &mut dyn FnMut(&str) -> bool) -> Node {
    let mut best = program;
    loop {
        let mut improved = false;
        let mut k = 0;
        while k < best.sites() {
            let Some(candidate) = best.simplified(&mut k.clone()) else {
                break;
            };
            if fails(&candidate.source()) {
                best = candidate;
                improved = true;
            } else {
                k += 1;
            }
        }
        if !improved {
            return best;
        }
    }
}

fn text(t: impl Into<String>) -> Node {
    Node::Text(t.into())
}

/// What a variable holds, as far as the generator knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Float,
    Str,
    Bool,
    Ints,
    Nested,
}

const KINDS: [Kind; 6] = [
    Kind::Int,
    Kind::Float,
    Kind::Str,
    Kind::Bool,
    Kind::Ints,
    Kind::Nested,
];

#[derive(Debug, Clone)]
struct Var {
    name: String,
    kind: Kind,
    constant: bool,
}

/// Where code is being generated: what is in scope and what may appear.
#[derive(Clone)]
struct Scope {
    vars: Vec<Var>,
    /// `event` is in scope (not in `on_tick`).
    event: bool,
    /// `out` collects values to report (handlers only).
    out: bool,
    /// Inside a loop: `break` and `continue` are allowed.
    in_loop: bool,
    /// Inside a script function: `return` is allowed.
    in_fn: bool,
    /// Script functions callable from here: name and the kinds of their plain arguments.
    fns: Vec<(String, Vec<Kind>)>,
    depth: u32,
}

pub struct Gen {
    rng: Lcg,
    next_var: u32,
}

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen {
            rng: Lcg(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
            next_var: 0,
        }
    }

    fn below(&mut self, n: u64) -> u64 {
        self.rng.below(n)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.next_var += 1;
        format!("{prefix}{}", self.next_var)
    }

    /// A whole rule: up to three script functions (each may call the earlier ones), `on_event`
    /// and sometimes `on_tick`, each handler reporting what it computed through `emit`.
    pub fn rule(&mut self) -> Node {
        let mut parts = Vec::new();
        let mut fns: Vec<(String, Vec<Kind>)> = Vec::new();
        for i in 0..self.below(4) {
            let name = format!("f{i}");
            let arity = 1 + self.below(2) as usize;
            let params: Vec<Var> = (0..arity)
                .map(|p| Var {
                    name: format!("p{p}"),
                    kind: *self.pick(&KINDS),
                    constant: false,
                })
                .collect();
            let mut scope = Scope {
                vars: params.clone(),
                event: false,
                out: false,
                in_loop: false,
                in_fn: true,
                fns: fns.clone(),
                depth: 0,
            };
            let n = 1 + self.below(4) as usize;
            let mut body = self.statements(&mut scope, n);
            let result = self.any_expr(&scope, 2);
            body.push(result);
            let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
            parts.push(Node::Seq(vec![
                text(format!("fn {name}(user, {}) ", names.join(", "))),
                Node::Block(body),
                text("\n"),
            ]));
            fns.push((name, params.iter().map(|p| p.kind).collect()));
        }
        if self.chance(15) {
            // Recursion deep enough, now and then, to meet the call-depth limit.
            parts.push(text(
                "fn deep(n) { if n <= 0 { 0 } else { 1 + deep(n - 1) } }\n",
            ));
            fns.push(("deep".into(), Vec::new()));
        }
        for handler in ["on_event", "on_tick"] {
            if handler == "on_tick" && !self.chance(40) {
                continue;
            }
            let mut scope = Scope {
                vars: Vec::new(),
                event: handler == "on_event",
                out: true,
                in_loop: false,
                in_fn: false,
                fns: fns.clone(),
                depth: 0,
            };
            let mut body = vec![text("let out = [];")];
            let n = 3 + self.below(8) as usize;
            body.extend(self.statements(&mut scope, n));
            body.push(text("emit(out);"));
            let signature = if handler == "on_tick" {
                "fn on_tick(user, now) "
            } else {
                "fn on_event(event, user) "
            };
            parts.push(Node::Seq(vec![
                text(signature),
                Node::Block(body),
                text("\n"),
            ]));
        }
        parts.push(text(
            "fn emit(out) {\n    let text = \"\";\n    for p in out { text += `${p};`; }\n    \
             untag(\"intent/price\");\n    tag(\"intent/price\", text);\n}\n",
        ));
        Node::Seq(parts)
    }

    fn statements(&mut self, scope: &mut Scope, n: usize) -> Vec<Node> {
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
            match self.below(20) {
                0..=3 => {
                    let kind = *self.pick(&KINDS);
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
                    let value = self.any_expr(scope, 2);
                    return Node::Seq(vec![value, text(";")]);
                }
            }
        }
    }

    /// A loop that ends by its own counter, unless a deleted or skipped increment (or Rhai's
    /// `continue` in a `do` loop) makes it endless: the operation limit then stops it.
    fn a_loop(&mut self, scope: &mut Scope) -> Node {
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

    fn switch(&mut self, scope: &Scope, statement: bool) -> Node {
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
                match self.below(4) {
                    0 => format!("{}..{}", self.below(4), 2 + self.below(6)),
                    1 => format!("{}..={}", self.below(4), 2 + self.below(6)),
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
        if statement && scope.out {
            let value = self.scalar(scope, 1);
            Node::Seq(vec![text("{ out.push("), value, text("); }")])
        } else {
            self.expr_of(scope, Kind::Int, 1)
        }
    }

    fn api_statement(&mut self, scope: &Scope) -> Node {
        let key = format!("\"k{}\"", self.below(3));
        match self.below(7) {
            0 => {
                let value = self.scalar(scope, 1);
                Node::Seq(vec![text(format!("user.set({key}, ")), value, text(");")])
            }
            1 => text(format!("user.unset({key});")),
            2 => {
                let tag = *self.pick(&[
                    "\"intent/purchase\"",
                    "\"service/complaint\"",
                    "\"activity/high\"",
                ]);
                let reason = self.expr_of(scope, Kind::Str, 1);
                Node::Seq(vec![text(format!("tag({tag}, ")), reason, text(");")])
            }
            3 => text(*self.pick(&[
                "untag(\"intent/purchase\");",
                "untag_group(\"activity\", \"gone\");",
                "user.cancel_wake();",
            ])),
            4 => text(*self.pick(&[
                "user.wake_in(\"1d\");",
                "user.wake_in(\"6h\");",
                "user.wake_at(now() + days(2));",
            ])),
            5 => text(*self.pick(&[
                "user.record_hit(\"h\", days(7));",
                "user.decay_add(\"s\", days(7), 1.5);",
            ])),
            _ => {
                let value = self.any_expr(scope, 1);
                Node::Seq(vec![value, text(";")])
            }
        }
    }

    /// A value `emit` can write into a reason: not an array.
    fn scalar(&mut self, scope: &Scope, depth: u32) -> Node {
        let kind = *self.pick(&[Kind::Int, Kind::Float, Kind::Str, Kind::Bool]);
        self.expr_of(scope, kind, depth)
    }

    fn any_expr(&mut self, scope: &Scope, depth: u32) -> Node {
        let kind = *self.pick(&KINDS);
        self.expr_of(scope, kind, depth)
    }

    /// An expression that usually gives a value of `kind`; now and then any kind at all.
    fn expr_of(&mut self, scope: &Scope, kind: Kind, depth: u32) -> Node {
        // Conditions stay boolean: Rhai rejects a condition that is a literal of another type.
        if kind != Kind::Bool && self.chance(3) {
            let other = *self.pick(&KINDS);
            return Node::Expr(Box::new(self.typed(scope, other, depth)));
        }
        Node::Expr(Box::new(self.typed(scope, kind, depth)))
    }

    fn var_of(&mut self, scope: &Scope, kind: Kind) -> Option<String> {
        let names: Vec<&Var> = scope.vars.iter().filter(|v| v.kind == kind).collect();
        (!names.is_empty()).then(|| self.pick(&names).name.clone())
    }

    fn typed(&mut self, scope: &Scope, kind: Kind, depth: u32) -> Node {
        if depth == 0 || self.chance(30) {
            return self.leaf(scope, kind);
        }
        let d = depth - 1;
        if scope.fns.iter().any(|f| !f.1.is_empty()) && self.chance(8) {
            let calls: Vec<&(String, Vec<Kind>)> =
                scope.fns.iter().filter(|f| !f.1.is_empty()).collect();
            let (name, kinds) = (*self.pick(&calls)).clone();
            let mut parts = vec![text(format!("{name}(user"))];
            for kind in kinds {
                parts.push(text(", "));
                parts.push(self.expr_of(scope, kind, d));
            }
            parts.push(text(")"));
            return Node::Seq(parts);
        }
        if scope.fns.iter().any(|f| f.0 == "deep") && self.chance(5) {
            return text(format!("deep({})", 10 + self.below(30)));
        }
        match kind {
            Kind::Int => match self.below(12) {
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
                9 => {
                    let cond = self.expr_of(scope, Kind::Bool, d);
                    let a = self.expr_of(scope, Kind::Int, d);
                    let b = self.expr_of(scope, Kind::Int, d);
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
                10 => self.switch(scope, false),
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
            Kind::Float => match self.below(4) {
                0 | 1 => {
                    let op = *self.pick(&["+", "-", "*", "/"]);
                    self.binary(scope, Kind::Float, op, d)
                }
                2 => {
                    let value = self.expr_of(scope, Kind::Int, d);
                    Node::Seq(vec![text("("), value, text(").to_float() / 3")])
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
        }
    }

    fn binary(&mut self, scope: &Scope, kind: Kind, op: &str, depth: u32) -> Node {
        let a = self.expr_of(scope, kind, depth);
        // Mostly a divisor that is not zero; now and then anything.
        let b = if matches!(op, "/" | "%") && self.chance(80) {
            text(*self.pick(&["3", "7", "-2", "2.5"]))
        } else {
            self.expr_of(scope, kind, depth)
        };
        Node::Seq(vec![text("("), a, text(format!(" {op} ")), b, text(")")])
    }

    fn leaf(&mut self, scope: &Scope, kind: Kind) -> Node {
        if self.chance(55) {
            if let Some(name) = self.var_of(scope, kind) {
                return text(name);
            }
        }
        let event = scope.event;
        let options: Vec<&str> = match kind {
            Kind::Int => {
                let mut v = vec![
                    "0",
                    "1",
                    "2",
                    "-3",
                    "7",
                    "1000",
                    "9223372036854775807",
                    "user.events",
                    "user.count(\"chat\", days(7))",
                    "user.count(\"click\", days(14), days(7))",
                    "user.paid_orders().count",
                    "user.paid_orders(days(365)).count",
                    "user.since_last()",
                    "now() % 100000",
                    "user.record_hit(\"h\", days(7))",
                    "grade_at_least(user.events, [10, 5, 3, 2])",
                ];
                if event {
                    v.extend(["event.ts % 1000", "event.ts"]);
                }
                v
            }
            Kind::Float => vec![
                "0.0",
                "0.5",
                "-1.25",
                "1e10",
                "0.1",
                "user.decayed(\"s\", days(7))",
                "as_days(user.age())",
                "user.paid_orders().amount",
            ],
            Kind::Str => {
                let mut v = vec![
                    "\"\"",
                    "\"a\"",
                    "\"chat\"",
                    "\"多少钱\"",
                    "user.id",
                    "user.tag_in(\"activity\")",
                ];
                if event {
                    v.extend(["event.type", "event.type + \"!\""]);
                }
                v
            }
            Kind::Bool => vec!["true", "false"],
            Kind::Ints => {
                if self.chance(10) {
                    vec!["[]", "[0]", "user.tags"]
                } else {
                    vec!["[1, 2, 3]", "[-1, 5]", "[4, 0, 9]"]
                }
            }
            Kind::Nested => vec!["[[1, 2], [3]]", "[[5]]"],
        };
        text(*self.pick(&options))
    }
}
