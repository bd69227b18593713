//! A rule pack compiled for one worker's Rhai engine.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use rhai::{Caches, GlobalRuntimeState};
use rhai::{Dynamic, Engine, EvalAltResult, Module, Position, Scope, AST, INT};

use super::api::{self, EventRef, UserRef};
use super::budget::{Budget, CLOCK_EVERY};
use super::compiled::{self, Program, Stop};
use super::inline::inline_params;
use super::locate;
use super::params::Sections;
use super::terms;
use super::{Ctx, Limits, RuleErrorKind, RulePack, RuleRunError, RuleSource, RulesError};

pub use super::handler::{Execution, Handler};

/// The token the progress callback ends an over-budget call with.
const OVER_BUDGET: &str = "time budget";

/// One compiled rule with what its calls keep between events: the rule in compiled form when
/// it has one, the statement that calls each handler in the interpreter, and the rule's own
/// runtime state and function-resolution cache there. Keeping the cache means a native
/// function is looked up once per rule, not once per call.
struct Compiled {
    /// The compiled form, or why the rule runs interpreted.
    program: Result<Program, String>,
    /// The script as Rhai parsed it, to locate a broken limit (see [`locate`]).
    ast: AST,
    calls: [Option<AST>; 5],
    global: GlobalRuntimeState,
    caches: Caches,
}

/// Compiled rules, the engine they run on, and the context their native functions share.
pub struct RuleSet {
    engine: Engine,
    rules: Vec<Compiled>,
    names: Arc<[Arc<str>]>,
    ctx: Rc<RefCell<Ctx>>,
    scope: Scope<'static>,
    /// Scratch space of compiled handlers, kept between calls.
    stack: Vec<compiled::Value>,
    /// Compiled handler calls handed to the interpreter (see [`compiled`]).
    fallbacks: u64,
    /// The time budget of the interpreter's current call; its progress callback spends it.
    budget: Rc<Cell<Option<Budget>>>,
    /// Operations counted per handler call, when tests ask for them.
    operation_trace: Option<Vec<u64>>,
    pack: RulePack,
}

/// Whether the progress callback ended the call, perhaps deep in the functions it called.
fn ran_out_of_time(e: &EvalAltResult) -> bool {
    match e {
        EvalAltResult::ErrorTerminated(token, ..) => {
            token.clone().into_immutable_string().ok().as_deref() == Some(OVER_BUDGET)
        }
        EvalAltResult::ErrorInFunctionCall(.., inner, _) => ran_out_of_time(inner),
        _ => false,
    }
}

/// Whether `error` is the operation limit, also when it broke inside a script function.
fn ran_out_of_operations(error: &EvalAltResult) -> bool {
    match error {
        EvalAltResult::ErrorTooManyOperations(..) => true,
        EvalAltResult::ErrorInFunctionCall(.., inner, _) => ran_out_of_operations(inner),
        _ => false,
    }
}

/// The message of a call that ran past its time budget.
fn over_budget(limits: &Limits) -> RuleRunError {
    RuleRunError {
        kind: RuleErrorKind::Limit,
        message: format!(
            "ran past its time budget of {} ms per handler call (rules.time_budget)",
            limits.time_budget_ms
        ),
    }
}

/// The interpreter's progress callback stops a call that has spent its `budget`, looking at
/// the clock every [`CLOCK_EVERY`] operations.
pub(super) fn new_engine(pack: &RulePack, budget: &Rc<Cell<Option<Budget>>>) -> Engine {
    let limits = pack.limits;
    let mut engine = Engine::new();
    if limits.time_budget().is_some() {
        let budget = budget.clone();
        engine.on_progress(move |ops| {
            if ops % CLOCK_EVERY != 0 {
                return None;
            }
            let mut current = budget.get()?;
            let spent = current.spent();
            budget.set(Some(current));
            spent.then(|| Dynamic::from(OVER_BUDGET))
        });
    }
    engine.set_max_operations(limits.operations);
    engine.set_max_call_levels(limits.call_depth);
    engine.set_max_expr_depths(64, 64);
    engine.set_max_string_size(limits.string_bytes);
    engine.set_max_array_size(limits.array_len);
    engine.set_max_map_size(limits.map_len);
    engine.set_max_variables(256);
    engine.set_max_functions(256);
    engine.set_max_modules(0);
    engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
    engine.disable_symbol("eval");
    engine.set_strict_variables(true);
    engine.on_print(|text| tracing::debug!(target: "tagstream::rules::print", "{text}"));
    engine.on_debug(|text, source, pos| {
        tracing::debug!(target: "tagstream::rules::debug", source = source.unwrap_or(""), line = pos.line(), "{text}");
    });
    for (section, values) in &pack.params.sections {
        let mut module = Module::new();
        for (key, value) in values {
            let value = rhai::serde::to_dynamic(value).unwrap_or(Dynamic::UNIT);
            module.set_var(key.as_str(), value);
        }
        engine.register_static_module(section.as_str(), module.into());
    }
    engine
}

/// Compiles a script with its parameters inlined (see [`inline_params`]). Should the inlined
/// text not compile where the original does, the original is used: inlining is an
/// optimisation, never a change of meaning.
fn compile(engine: &Engine, source: &RuleSource, sections: &Sections) -> Result<AST, RulesError> {
    let inlined = inline_params(&source.text, sections);
    if let Ok(ast) = engine.compile(&inlined) {
        return Ok(ast);
    }
    let ast = engine.compile(&source.text).map_err(|e| {
        let (line, message) = super::syntax::explain(engine, &source.text, &e);
        RulesError::Compile {
            path: source.path.display().to_string(),
            line,
            message,
        }
    })?;
    tracing::warn!(rule = %source.name, "parameters not inlined: the inlined script does not compile");
    Ok(ast)
}

/// The line `fn name(` starts on in a script, if it is there.
pub(super) fn fn_line(text: &str, name: &str) -> Option<usize> {
    let re = regex::Regex::new(&format!(
        r"(?m)^[ \t]*(private[ \t]+)?fn[ \t]+{}[ \t]*\(",
        regex::escape(name)
    ))
    .expect("an escaped name makes a valid regex");
    re.find(text)
        .map(|m| text[..m.start()].matches('\n').count() + 1)
}

impl RuleSet {
    /// Compiles every rule of `pack` on a fresh engine.
    ///
    /// # Errors
    /// The first script that does not compile, with its file and line.
    pub fn compile(pack: &RulePack) -> Result<RuleSet, RulesError> {
        RuleSet::compile_for(pack, pack.execution)
    }

    /// As [`RuleSet::compile`], choosing how handlers run.
    ///
    /// # Errors
    /// The first script that does not compile, with its file and line.
    pub fn compile_for(pack: &RulePack, execution: Execution) -> Result<RuleSet, RulesError> {
        let names: Arc<[Arc<str>]> = pack
            .rules
            .iter()
            .map(|r| Arc::from(r.name.as_str()))
            .collect();
        let ctx = Rc::new(RefCell::new(Ctx::new(
            pack.catalogue.clone(),
            pack.params.clone(),
            names.clone(),
        )));
        let budget = Rc::new(Cell::new(None));
        let mut engine = new_engine(pack, &budget);
        api::register(&mut engine, &ctx);
        let mut scope = Scope::new();
        scope.push("event", EventRef);
        scope.push("user", UserRef);
        scope.push("now", 0 as INT);
        let switch_hashes = compiled::switch_hashing_matches(&engine);
        let mut rules = Vec::with_capacity(pack.rules.len());
        for source in pack.rules.iter() {
            let ast = compile(&engine, source, &pack.params.sections)?;
            let program = match execution {
                Execution::Compiled => Program::compile(&ast, switch_hashes).map_err(|why| {
                    tracing::debug!(rule = %source.name, reason = %why.0, "rule runs interpreted");
                    why.0
                }),
                Execution::Interpreted => Err("rules.execution = \"interpreted\"".to_string()),
            };
            let mut calls: [Option<AST>; 5] = Default::default();
            for f in ast.iter_functions() {
                for (i, h) in Handler::ALL.iter().enumerate() {
                    if f.name == h.name() {
                        if f.params.len() != h.arity() {
                            return Err(RulesError::Compile {
                                path: source.path.display().to_string(),
                                line: fn_line(&source.text, h.name()).unwrap_or(1),
                                message: format!(
                                    "{} must take 2 parameters, not {}",
                                    h.name(),
                                    f.params.len()
                                ),
                            });
                        }
                        let call = match h {
                            Handler::Tick => format!("{}(user, now)", h.name()),
                            _ => format!("{}(event, user)", h.name()),
                        };
                        let call = engine
                            .compile_with_scope(&scope, call)
                            .expect("a handler call compiles");
                        calls[i] = Some(call);
                    }
                }
            }
            let mut global = engine.new_global_runtime_state();
            global.lib.push(ast.shared_lib().clone());
            rules.push(Compiled {
                program,
                ast,
                calls,
                global,
                caches: Caches::new(),
            });
        }
        Ok(RuleSet {
            engine,
            rules,
            names,
            ctx,
            scope,
            stack: Vec::with_capacity(64),
            fallbacks: 0,
            budget,
            operation_trace: None,
            pack: pack.clone(),
        })
    }

    pub fn pack(&self) -> &RulePack {
        &self.pack
    }

    pub fn names(&self) -> &Arc<[Arc<str>]> {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn ctx(&self) -> &Rc<RefCell<Ctx>> {
        &self.ctx
    }

    pub fn has(&self, rule: usize, handler: Handler) -> bool {
        self.rules[rule].calls[handler as usize].is_some()
    }

    /// Calls of compiled handlers that the interpreter ran instead, since the rules compiled.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks
    }

    /// Whether rule `rule` runs compiled (else interpreted).
    pub fn is_compiled(&self, rule: usize) -> bool {
        self.rules[rule].program.is_ok()
    }

    /// Why rule `rule` runs interpreted: the first construct the compiled form does not cover.
    pub fn interpreted_because(&self, rule: usize) -> Option<&str> {
        self.rules[rule].program.as_ref().err().map(String::as_str)
    }

    /// Runs one handler of one rule. The context must hold the step (user, event or timer) and
    /// have begun the rule; `first` says no other handler of the rule ran in this step.
    ///
    /// # Errors
    /// A script error or a broken limit, with the line where it happened.
    pub fn call(&mut self, rule: usize, handler: Handler, first: bool) -> Result<(), RuleRunError> {
        if let Ok(program) = &self.rules[rule].program {
            let mut ctx = self.ctx.borrow_mut();
            if !first {
                ctx.save_handler();
            }
            let stop = match program.run(handler, &mut ctx, &self.pack.limits, &mut self.stack) {
                Ok(operations) => {
                    if let Some(trace) = &mut self.operation_trace {
                        trace.push(operations);
                    }
                    return Ok(());
                }
                Err(stop) => stop,
            };
            // Undo the handler's changes; the caller rolls back the rest of the rule.
            if !first {
                ctx.rollback_handler();
            }
            if stop == Stop::OverBudget {
                return Err(over_budget(&self.pack.limits));
            }
            // The interpreter runs the handler again from where it started, and reports.
            self.fallbacks += 1;
            if first {
                ctx.rollback_rule();
            }
        }
        self.interpret(rule, handler, first)
    }

    /// Records the operations of every handler call from now on, for tests that hold the
    /// compiled form's count to the interpreter's.
    pub fn trace_operations(&mut self) {
        self.operation_trace = Some(Vec::new());
    }

    /// Operations per handler call since [`RuleSet::trace_operations`]: the compiled form's
    /// count where it ran the call, the interpreter's where the interpreter did.
    pub fn operation_trace(&self) -> &[u64] {
        self.operation_trace.as_deref().unwrap_or_default()
    }

    fn interpret(
        &mut self,
        rule: usize,
        handler: Handler,
        first: bool,
    ) -> Result<(), RuleRunError> {
        if handler == Handler::Tick {
            let now = self.ctx.borrow().now;
            if let Some(v) = self.scope.get_mut("now") {
                *v = Dynamic::from_int(now);
            }
        }
        let compiled = &mut self.rules[rule];
        let Some(call) = &compiled.calls[handler as usize] else {
            return Ok(());
        };
        compiled.global.num_operations = 0;
        self.budget
            .set(self.pack.limits.time_budget().map(Budget::new));
        #[allow(deprecated)]
        let result = self.engine.eval_statements_raw(
            &mut compiled.global,
            &mut compiled.caches,
            &mut self.scope,
            call.statements(),
        );
        self.budget.set(None);
        if let Some(trace) = &mut self.operation_trace {
            trace.push(compiled.global.num_operations);
        }
        let result = result.map_err(|e| match *e {
            EvalAltResult::ErrorInFunctionCall(name, _, inner, _) if name == handler.name() => {
                inner
            }
            _ => e,
        });
        result.map(|_| ()).map_err(|mut e| {
            if ran_out_of_time(&e) {
                return over_budget(&self.pack.limits);
            }
            if e.is_system_exception() {
                if let Some(pos) = self.locate(rule, handler, first, &e) {
                    e.set_position(pos);
                }
            }
            // The one place a rule error becomes text (the compiled form hands every error to
            // the interpreter), so dead letters, `test` and `diff` all read script terms.
            terms::in_script_terms(&mut e);
            let mut message = e.to_string();
            if ran_out_of_operations(&e) {
                // Rhai says only "Too many operations": say how many, and the usual cause, on
                // its first line (the lines after it name the functions called on the way).
                let at = message.find('\n').unwrap_or(message.len());
                let why = format!(
                    ": more than the {} operations a handler call may run (a loop that never ends?)",
                    self.pack.limits.operations
                );
                message.insert_str(at, &why);
            }
            RuleRunError {
                kind: RuleErrorKind::of(&e),
                message,
            }
        })
    }

    /// Where in the rule's file a broken limit happened (see [`locate`]); runs the handler
    /// again, from the state it started with when this was the rule's first handler.
    fn locate(
        &mut self,
        rule: usize,
        handler: Handler,
        first: bool,
        err: &EvalAltResult,
    ) -> Option<Position> {
        let body = locate::body_of(&self.rules[rule].ast, handler.name())?;
        let now = {
            let mut ctx = self.ctx.borrow_mut();
            if first {
                ctx.rollback_rule();
            }
            ctx.now
        };
        let args = match handler {
            Handler::Tick => [Dynamic::from(UserRef), Dynamic::from_int(now)],
            _ => [Dynamic::from(EventRef), Dynamic::from(UserRef)],
        };
        let compiled = &mut self.rules[rule];
        // The second run is held to the same budget as the first.
        self.budget
            .set(self.pack.limits.time_budget().map(Budget::new));
        let again = locate::rerun(
            &self.engine,
            &mut compiled.global,
            &mut compiled.caches,
            &body,
            args,
        );
        self.budget.set(None);
        let again = again?;
        (std::mem::discriminant(&*again) == std::mem::discriminant(err)).then(|| again.position())
    }
}
