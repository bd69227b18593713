//! Static checks of one rule script, on the AST Rhai's parser produces: the walk over it, which
//! hands each call to [`calls`](super::calls) and each chain to [`members`](super::members);
//! handlers; parameter reads; and literal arguments the API would reject at run time
//! ([`literals`](super::literals)).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use regex::Regex;
use rhai::{ASTNode, Engine, Expr, Module, OptimizationLevel, Position, Stmt, AST};

use super::api::{suggest, Api};
use super::{fallback_parts, Diagnostic};
use crate::decode::EventType;
use crate::rules::set::{fn_line, new_engine, Handler};
use crate::rules::{api as script_api, Ctx, Limits, Params, RulePack, RuleSource};
use crate::tags::Catalogue;

/// What a parameter read needs of its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Only to exist.
    Any,
    /// A duration: milliseconds, or text like `"7d"`.
    Duration,
    /// A number.
    Number,
    /// An array of numbers.
    Numbers,
    /// An array of at least this many items (the script indexes it).
    MinLen(usize),
}

/// A `section::key` a script reads.
#[derive(Debug, Clone)]
pub struct ParamUse {
    pub section: String,
    pub key: String,
    pub line: usize,
    pub need: Need,
    /// Whether `section::key` is written at this line; `false` for a use through a variable
    /// bound to it (`let w = activity::weight_chat; … w > 0.5`), which tells what the value
    /// must be but is not where a misspelt name is to be fixed.
    pub written: bool,
}

/// What the checker learnt about a rule, for the checks across rules and parameters.
#[derive(Debug, Clone)]
pub struct RuleFacts {
    pub name: String,
    pub path: String,
    /// Whether the script parsed (nothing below is known when it did not).
    pub parsed: bool,
    pub handlers: usize,
    pub params: Vec<ParamUse>,
    /// Tags added by literal name, with the line.
    pub tags_added: Vec<(String, usize)>,
    /// Whether it calls `event.keyword_hits()` (reads the `[keywords]` tables).
    pub reads_keywords: bool,
}

/// Checks every rule; returns what was learnt about each.
pub fn check_rules(
    rules: &[RuleSource],
    catalogue: Option<&Catalogue>,
    params: Option<&Params>,
    out: &mut Vec<Diagnostic>,
) -> Vec<RuleFacts> {
    let (fallback_catalogue, fallback_params) = fallback_parts();
    let pack = RulePack {
        rules: Arc::new(Vec::new()),
        catalogue: catalogue.cloned().map_or(fallback_catalogue, Arc::new),
        params: params.cloned().map_or(fallback_params, Arc::new),
        limits: Limits::default(),
        execution: crate::rules::Execution::Compiled,
        // Only for the engine that checks scripts: no output is made.
        version: Arc::from(""),
    };
    let mut engine = new_engine(&pack, &std::rc::Rc::new(std::cell::Cell::new(None)));
    let shared = std::rc::Rc::new(std::cell::RefCell::new(Ctx::new(
        pack.catalogue.clone(),
        pack.params.clone(),
        Arc::from(Vec::<Arc<str>>::new()),
    )));
    script_api::register(&mut engine, &shared);
    // Nothing folded away: every call the operator wrote is still in the AST.
    engine.set_optimization_level(OptimizationLevel::None);
    // A path to a section the parameters lack still parses, so that it is reported as a
    // missing parameter rather than as the first and only syntax error of its file.
    let path_root = Regex::new(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*::").expect("static regex compiles");
    let mut roots: Vec<String> = rules
        .iter()
        .flat_map(|r| path_root.captures_iter(&r.text).map(|c| c[1].to_string()))
        .collect();
    roots.sort();
    roots.dedup();
    for root in roots {
        if !pack.params.sections.contains_key(&root) {
            engine.register_static_module(root.as_str(), Module::new().into());
        }
    }
    let api = Api::new(&engine);
    rules
        .iter()
        .map(|rule| check_rule(&engine, &api, rule, catalogue, out))
        .collect()
}

fn check_rule(
    engine: &Engine,
    api: &Api,
    rule: &RuleSource,
    catalogue: Option<&Catalogue>,
    out: &mut Vec<Diagnostic>,
) -> RuleFacts {
    let path = rule.path.display().to_string();
    let mut facts = RuleFacts {
        name: rule.name.clone(),
        path: path.clone(),
        parsed: false,
        handlers: 0,
        params: Vec::new(),
        tags_added: Vec::new(),
        reads_keywords: false,
    };
    let ast = match engine.compile(&rule.text) {
        Ok(ast) => ast,
        Err(e) => {
            let (line, message) = crate::rules::syntax::explain(engine, &rule.text, &e);
            if message.starts_with("Undefined variable") {
                for (line, name, n) in super::handlers::handler_arities(&rule.text) {
                    let expected = super::handlers::handler_params(&name);
                    out.push(Diagnostic::error(
                        &path,
                        Some(line),
                        format!("handler `{name}` must take 2 parameters {expected}, not {n}"),
                    ));
                }
            }
            out.push(Diagnostic::error(&path, Some(line), message));
            return facts;
        }
    };
    facts.parsed = true;
    let mut walker = Walker {
        api,
        catalogue,
        path: &path,
        text: &rule.text,
        out,
        script_fns: BTreeMap::new(),
        types: HashMap::new(),
        locals: HashMap::new(),
        loops: Vec::new(),
        event_type: None,
        facts: &mut facts,
    };
    walker.walk(&ast);
    for label in super::literals::switch_labels(&rule.text) {
        if label.on_event_type {
            if EventType::parse(&label.text).is_none() {
                walker.out.push(Diagnostic::error(
                    &path,
                    Some(label.line),
                    format!(
                        "unknown event type {:?} (chat, click, order){}",
                        label.text,
                        suggest(&label.text, ["chat", "click", "order"])
                    ),
                ));
            }
        } else if let Some(catalogue) = catalogue.filter(|c| c.id(&label.text).is_none()) {
            // A tag-shaped label: `switch level { "activity/hihg" => … }`.
            let line = u16::try_from(label.line).unwrap_or(u16::MAX);
            walker.undeclared_tag_shaped(catalogue, &label.text, Position::new(line, 1));
        }
    }
    facts
}

pub(super) struct Walker<'a> {
    pub(super) api: &'a Api,
    pub(super) catalogue: Option<&'a Catalogue>,
    pub(super) path: &'a str,
    pub(super) text: &'a str,
    pub(super) out: &'a mut Vec<Diagnostic>,
    /// Script functions: name → parameter counts.
    pub(super) script_fns: BTreeMap<String, Vec<usize>>,
    /// Variables of the current function known to hold a handle (`user` → `User`).
    pub(super) types: HashMap<String, String>,
    /// Variables of the current function bound to a parameter (`let w = rfm::weights`).
    pub(super) locals: HashMap<String, (String, String)>,
    /// Loops whose variable holds a known type, innermost last: the `for` statement, its
    /// variable, and the type the name had before the loop (restored when the walk leaves it).
    pub(super) loops: Vec<(*const Stmt, String, Option<String>)>,
    /// The one event type the current function is called with: `chat` in `on_chat`.
    pub(super) event_type: Option<&'static str>,
    pub(super) facts: &'a mut RuleFacts,
}

/// A position as (line, column) for ordering; `None` sorts first.
fn at(pos: Position) -> (usize, usize) {
    (pos.line().unwrap_or(0), pos.position().unwrap_or(0))
}

impl Walker<'_> {
    pub(super) fn error(&mut self, pos: Position, message: String) {
        let line = pos.line();
        self.out.push(Diagnostic::error(self.path, line, message));
    }

    pub(super) fn warning(&mut self, pos: Position, message: String) {
        let line = pos.line();
        self.out.push(Diagnostic::warning(self.path, line, message));
    }

    /// The line `fn name(` is on, else the body's.
    pub(super) fn fn_line(&self, name: &str, body: Position) -> Option<usize> {
        fn_line(self.text, name).or(body.line())
    }

    fn walk(&mut self, ast: &AST) {
        let defs: Vec<_> = ast.iter_fn_def().cloned().collect();
        for def in &defs {
            self.script_fns
                .entry(def.name.to_string())
                .or_default()
                .push(def.params.len());
        }
        let mut spans = Vec::with_capacity(defs.len());
        for def in &defs {
            spans.push((at(def.body.start_position()), at(def.body.end_position())));
            self.check_handler(&def.name, &def.params, def.body.start_position());
        }
        let main = ast.statements().len();
        let mut seen = 0;
        let mut current: Option<usize> = None;
        ast.walk(&mut |path: &[ASTNode]| {
            if path.len() == 1 {
                seen += 1;
                if seen > main {
                    let pos = match path[0] {
                        ASTNode::Stmt(s) => at(s.position()),
                        ASTNode::Expr(e) => at(e.position()),
                        _ => (0, 0),
                    };
                    let found = (current.unwrap_or(0)..spans.len())
                        .find(|&i| spans[i].0 <= pos && pos <= spans[i].1);
                    if found != current {
                        current = found;
                        self.enter(found.map(|i| &*defs[i]));
                    }
                }
            }
            self.visit(path);
            true
        });
    }

    /// Starts a function: which of its variables hold the `user` and `event` handles.
    fn enter(&mut self, def: Option<&rhai::ScriptFuncDef>) {
        self.types.clear();
        self.locals.clear();
        self.loops.clear();
        self.event_type = None;
        let Some(def) = def else { return };
        let params: Vec<&str> = def.params.iter().map(|p| p.as_str()).collect();
        let handler = Handler::ALL.iter().find(|h| h.name() == def.name.as_str());
        self.event_type = match handler {
            Some(Handler::Chat) => Some("chat"),
            Some(Handler::Click) => Some("click"),
            Some(Handler::Order) => Some("order"),
            _ => None,
        };
        let roles: Vec<(usize, &str)> = match handler {
            Some(Handler::Tick) => vec![(0, "User")],
            Some(_) => vec![(0, "Event"), (1, "User")],
            None => params
                .iter()
                .enumerate()
                .filter_map(|(i, p)| match *p {
                    "user" => Some((i, "User")),
                    "event" => Some((i, "Event")),
                    _ => None,
                })
                .collect(),
        };
        for (i, ty) in roles {
            if let Some(p) = params.get(i) {
                if self.api.types.contains(ty) {
                    self.types.insert(p.to_string(), ty.to_string());
                }
            }
        }
    }

    fn visit(&mut self, path: &[ASTNode]) {
        let Some(node) = path.last() else { return };
        self.leave_loops(path);
        match node {
            ASTNode::Stmt(stmt @ Stmt::For(x, ..)) => {
                let (var, _, flow) = &**x;
                let name = var.name.to_string();
                let before = match self.item_type(&flow.expr) {
                    Some(ty) => self.types.insert(name.clone(), ty),
                    None => self.types.remove(&name),
                };
                self.loops.push((std::ptr::from_ref(stmt), name, before));
            }
            ASTNode::Stmt(Stmt::FnCall(call, pos)) => self.call(call, *pos),
            ASTNode::Stmt(Stmt::Var(x, ..)) => {
                let (ident, init, _) = &**x;
                match self.param_of(init) {
                    Some((section, key, _)) => {
                        self.locals.insert(ident.name.to_string(), (section, key));
                    }
                    None => {
                        self.locals.remove(ident.name.as_str());
                    }
                }
                // `let year = user.paid_orders(…)`: `year.cont` is checked as the chain is.
                match self.value_type(init) {
                    Some(ty) => self.types.insert(ident.name.to_string(), ty),
                    None => self.types.remove(ident.name.as_str()),
                };
            }
            // Assigned something else, a variable is no longer known to hold its type.
            ASTNode::Stmt(Stmt::Assignment(x)) => {
                if let Expr::Variable(v, ..) = &x.1.lhs {
                    self.types.remove(v.1.as_str());
                }
            }
            ASTNode::Expr(e) => match e {
                Expr::StringConstant(s, pos) => self.maybe_written(path, s, *pos),
                Expr::FnCall(call, pos) => self.call(call, *pos),
                Expr::Variable(x, _, pos) if !x.2.is_empty() => {
                    let segments: Vec<&str> = x.2.path.iter().map(|i| i.name.as_str()).collect();
                    if segments.len() == 1 {
                        self.use_param(segments[0], &x.1, *pos, Need::Any, true);
                    } else {
                        self.error(
                            *pos,
                            format!(
                                "`{}::{}`: parameters are read as `section::key`",
                                segments.join("::"),
                                x.1
                            ),
                        );
                    }
                }
                Expr::Dot(b, ..) if !is_chain_link(path, e) => {
                    let recv = self.type_of(&b.lhs);
                    self.chain(recv, &b.rhs);
                }
                Expr::Index(b, _, pos) => {
                    if let (Some((s, k, written)), Expr::IntegerConstant(i, _)) =
                        (self.param_of(&b.lhs), &b.rhs)
                    {
                        if *i >= 0 {
                            let need = Need::MinLen(*i as usize + 1);
                            self.use_param(&s, &k, *pos, need, written);
                        }
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }

    /// Gives back the names of loop variables whose loop the walk has left (`path` no longer
    /// runs through it) the types they had before.
    fn leave_loops(&mut self, path: &[ASTNode]) {
        while let Some((stmt, ..)) = self.loops.last() {
            let inside = path
                .iter()
                .any(|n| matches!(n, ASTNode::Stmt(s) if std::ptr::eq(*s, *stmt)));
            if inside {
                return;
            }
            if let Some((_, name, before)) = self.loops.pop() {
                match before {
                    Some(ty) => self.types.insert(name, ty),
                    None => self.types.remove(&name),
                };
            }
        }
    }

    /// The parameter an expression reads, directly (`true`: `section::key` is written there)
    /// or through a `let` bound to it (`false`).
    fn param_of(&self, e: &Expr) -> Option<(String, String, bool)> {
        match e {
            Expr::Variable(x, ..) if x.2.path.len() == 1 => {
                Some((x.2.path[0].name.to_string(), x.1.to_string(), true))
            }
            Expr::Variable(x, ..) if x.2.is_empty() => self
                .locals
                .get(x.1.as_str())
                .map(|(s, k)| (s.clone(), k.clone(), false)),
            _ => None,
        }
    }

    fn use_param(&mut self, section: &str, key: &str, pos: Position, need: Need, written: bool) {
        self.facts.params.push(ParamUse {
            section: section.to_string(),
            key: key.to_string(),
            line: pos.line().unwrap_or(1),
            need,
            written,
        });
    }

    /// Records what an argument that is a parameter needs.
    pub(super) fn arg_needs(&mut self, arg: Option<&Expr>, need: Need) {
        if let Some(arg) = arg {
            if let Some((s, k, written)) = self.param_of(arg) {
                self.use_param(&s, &k, arg.position(), need, written);
            }
        }
    }
}

/// Whether `e` is the right-hand part of an enclosing `.` (a later link of a chain).
fn is_chain_link(path: &[ASTNode], e: &Expr) -> bool {
    match path.len().checked_sub(2).map(|i| &path[i]) {
        Some(ASTNode::Expr(Expr::Dot(b, ..))) => std::ptr::eq(&b.rhs, e),
        Some(ASTNode::Expr(Expr::Index(b, ..))) => std::ptr::eq(&b.rhs, e),
        _ => false,
    }
}
