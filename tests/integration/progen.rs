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

mod exprs;
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
}
