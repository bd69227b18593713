//! A generator of whole random rules — statements, not only expressions — for holding the
//! compiled handlers to Rhai's interpreter, and a shrinker that cuts a failing rule down to
//! what still fails.
//!
//! A rule is generated as a [`Node`] tree so that the shrinker can delete statements and
//! replace expressions without knowing Rhai's grammar. Programs mostly type-check (values of
//! the kind an operator expects), with a share of deliberate mismatches, overflows, indexes
//! out of range and endless loops, because the compiled form must hand exactly those to the
//! interpreter.
//!
//! Here: the tree, the shrinker, and the generator's state and whole rules; the generator's
//! statements are in [`statements`], its expressions in [`exprs`].

mod api;
mod exprs;
mod loops;
mod maps;
mod shapes;
mod statements;

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
    /// An object map; only in rules that use maps ([`Gen::kind`]).
    Map,
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
    /// `user` is in scope (not in functions that do not take it).
    user: bool,
    /// `out` collects values to report (handlers only).
    out: bool,
    /// Inside a loop: `break` and `continue` are allowed.
    in_loop: bool,
    /// Inside a script function: `return` is allowed.
    in_fn: bool,
    /// Script functions callable from here.
    fns: Vec<Sig>,
    depth: u32,
}

/// A script function as callers see it.
#[derive(Debug, Clone)]
struct Sig {
    name: String,
    /// `user` comes first, before the plain arguments.
    user: bool,
    /// The kinds of the plain arguments.
    params: Vec<Kind>,
    /// What it gives, when the generator knows.
    result: Option<Kind>,
}

/// Recursive functions (one pair calling each other, the first defined before the second),
/// added to some rules whole: each with its parameters and result.
const LIBRARY: [(&str, &[Kind], Kind, &str); 7] = [
    (
        "fib",
        &[Kind::Int],
        Kind::Int,
        "fn fib(n) { if n < 2 { n } else { fib(n - 1) + fib(n - 2) } }",
    ),
    (
        "rep",
        &[Kind::Str, Kind::Int],
        Kind::Str,
        "fn rep(s, n) { if n <= 0 { s } else { rep(s + \"ab\", n - 1) } }",
    ),
    (
        "total",
        &[Kind::Ints, Kind::Int],
        Kind::Int,
        "fn total(a, i) { if i >= a.len() { 0 } else { a[i] + total(a, i + 1) } }",
    ),
    (
        "is_even",
        &[Kind::Int],
        Kind::Bool,
        "fn is_even(n) { if n == 0 { true } else { is_odd(n - 1) } }\n\
      fn is_odd(n) { if n == 0 { false } else { is_even(n - 1) } }",
    ),
    (
        "first_over",
        &[Kind::Ints, Kind::Int],
        Kind::Int,
        "fn first_over(a, k) { for x in a { if x > k { return x; } } return; }",
    ),
    (
        "label",
        &[Kind::Int],
        Kind::Str,
        "fn label(x) { switch x { 0 => \"zero\", 1..10 => \"small\", \
      10..=100 if x % 2 == 0 => { let h = x / 2; `half ${h}` }, _ => `big ${x}` } }",
    ),
    (
        "shadow",
        &[Kind::Int],
        Kind::Int,
        "fn shadow(x) { let x = x * 2; let r = { let x = x + 1; x } + { let y = x; y }; r }",
    ),
];

pub struct Gen {
    rng: Lcg,
    next_var: u32,
    /// This rule may use constructs the compiled form hands to the interpreter (a few rules
    /// do, so that handing over is checked without leaving most rules interpreted).
    handovers: bool,
    /// This rule reads values that may be `()` or of another kind, and passes arguments the
    /// API refuses: most of its calls are the interpreter's, so only some rules do.
    loose: bool,
    /// This rule holds object maps in variables, passes them to functions and reads them.
    maps: bool,
    /// This rule has a loop that grows a value up to a data limit (one at most).
    grown: bool,
}

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen {
            rng: Lcg(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
            next_var: 0,
            handovers: false,
            loose: false,
            maps: false,
            grown: false,
        }
    }

    /// A kind for a variable, a parameter or a value of any kind: a map now and then in the
    /// rules that use maps.
    fn kind(&mut self) -> Kind {
        if self.maps && self.chance(15) {
            Kind::Map
        } else {
            *self.pick(&KINDS)
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

    /// One of `items`, by value.
    fn one_of(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len() as u64) as usize]
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.next_var += 1;
        format!("{prefix}{}", self.next_var)
    }

    /// A whole rule: up to three script functions (each may call the earlier ones), `on_event`
    /// and sometimes `on_tick`, each handler reporting what it computed through `emit`.
    pub fn rule(&mut self) -> Node {
        self.handovers = self.chance(10);
        self.loose = self.chance(15);
        self.maps = self.chance(10);
        self.grown = false;
        let mut parts = Vec::new();
        let mut fns: Vec<Sig> = Vec::new();
        for (name, params, result, source) in LIBRARY {
            if self.chance(12) {
                parts.push(text(format!("{source}\n")));
                fns.push(Sig {
                    name: name.into(),
                    user: false,
                    params: params.to_vec(),
                    result: Some(result),
                });
            }
        }
        for i in 0..self.below(4) {
            let name = format!("f{i}");
            // Most functions take `user`; some take only plain values, or nothing at all.
            let user = self.chance(70);
            let arity = if user {
                1 + self.below(2)
            } else {
                self.below(3)
            } as usize;
            let params: Vec<Var> = (0..arity)
                .map(|p| Var {
                    name: format!("p{p}"),
                    kind: self.kind(),
                    constant: false,
                })
                .collect();
            let mut scope = Scope {
                vars: params.clone(),
                event: false,
                user,
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
            let mut names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
            if user {
                names.insert(0, "user");
            }
            parts.push(Node::Seq(vec![
                text(format!("fn {name}({}) ", names.join(", "))),
                Node::Block(body),
                text("\n"),
            ]));
            fns.push(Sig {
                name,
                user,
                params: params.iter().map(|p| p.kind).collect(),
                result: None,
            });
        }
        if self.chance(15) {
            // Recursion deep enough, now and then, to meet the call-depth limit.
            parts.push(text(
                "fn deep(n) { if n <= 0 { 0 } else { 1 + deep(n - 1) } }\n",
            ));
            fns.push(Sig {
                name: "deep".into(),
                user: false,
                params: vec![Kind::Int],
                result: Some(Kind::Int),
            });
        }
        for handler in ["on_chat", "on_order", "on_event", "on_tick"] {
            let chance = match handler {
                "on_event" => 100,
                "on_tick" => 40,
                _ => 20,
            };
            if !self.chance(chance) {
                continue;
            }
            // `now`, the time of the tick, is a parameter like any other.
            let tick = vec![Var {
                name: "now".into(),
                kind: Kind::Int,
                constant: false,
            }];
            let mut scope = Scope {
                vars: if handler == "on_tick" {
                    tick
                } else {
                    Vec::new()
                },
                event: handler != "on_tick",
                user: true,
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
                "fn on_tick(user, now) ".to_string()
            } else {
                format!("fn {handler}(event, user) ")
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
}
