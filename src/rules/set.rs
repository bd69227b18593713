//! A rule pack compiled for one worker's Rhai engine.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use rhai::{Caches, GlobalRuntimeState};
use rhai::{Dynamic, Engine, EvalAltResult, Module, Scope, AST, INT};

use super::api::{self, EventRef, UserRef};
use super::compiled::{self, Program};
use super::inline::inline_params;
use super::params::Sections;
use super::{Ctx, RuleErrorKind, RulePack, RuleRunError, RuleSource, RulesError};
use crate::decode::EventType;

/// The handlers a rule may define.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    Chat,
    Click,
    Order,
    Event,
    Tick,
}

impl Handler {
    pub const ALL: [Handler; 5] = [
        Handler::Chat,
        Handler::Click,
        Handler::Order,
        Handler::Event,
        Handler::Tick,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Handler::Chat => "on_chat",
            Handler::Click => "on_click",
            Handler::Order => "on_order",
            Handler::Event => "on_event",
            Handler::Tick => "on_tick",
        }
    }

    fn arity(self) -> usize {
        2
    }

    pub fn for_type(kind: EventType) -> Handler {
        match kind {
            EventType::Chat => Handler::Chat,
            EventType::Click => Handler::Click,
            EventType::Order => Handler::Order,
        }
    }
}

/// How handlers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Execution {
    /// Compiled where the rule allows it (see [`compiled`]), interpreted otherwise.
    Compiled,
    /// Always by Rhai's interpreter: the reference the compiled form is tested against.
    Interpreted,
}

/// One compiled rule with what its calls keep between events: the rule in compiled form when
/// it has one, the statement that calls each handler in the interpreter, and the rule's own
/// runtime state and function-resolution cache there. Keeping the cache means a native
/// function is looked up once per rule, not once per call.
struct Compiled {
    /// The compiled form, or why the rule runs interpreted.
    program: Result<Program, String>,
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
    pack: RulePack,
}

fn new_engine(pack: &RulePack) -> Engine {
    let limits = pack.limits;
    let mut engine = Engine::new();
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
    let ast = engine
        .compile(&source.text)
        .map_err(|e| RulesError::Compile {
            path: source.path.display().to_string(),
            line: e.position().line().unwrap_or(1),
            message: e.err_type().to_string(),
        })?;
    tracing::warn!(rule = %source.name, "parameters not inlined: the inlined script does not compile");
    Ok(ast)
}

impl RuleSet {
    /// Compiles every rule of `pack` on a fresh engine.
    ///
    /// # Errors
    /// The first script that does not compile, with its file and line.
    pub fn compile(pack: &RulePack) -> Result<RuleSet, RulesError> {
        RuleSet::compile_for(pack, Execution::Compiled)
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
        let mut engine = new_engine(pack);
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
                Execution::Interpreted => Err("interpreted by request".to_string()),
            };
            let mut calls: [Option<AST>; 5] = Default::default();
            for f in ast.iter_functions() {
                for (i, h) in Handler::ALL.iter().enumerate() {
                    if f.name == h.name() {
                        if f.params.len() != h.arity() {
                            return Err(RulesError::Compile {
                                path: source.path.display().to_string(),
                                line: 1,
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
            if program
                .run(handler, &mut ctx, &self.pack.limits, &mut self.stack)
                .is_ok()
            {
                return Ok(());
            }
            // The interpreter runs the handler again from where it started, and reports.
            self.fallbacks += 1;
            if first {
                ctx.rollback_rule();
            } else {
                ctx.rollback_handler();
            }
        }
        self.interpret(rule, handler)
    }

    fn interpret(&mut self, rule: usize, handler: Handler) -> Result<(), RuleRunError> {
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
        #[allow(deprecated)]
        let result = self.engine.eval_statements_raw(
            &mut compiled.global,
            &mut compiled.caches,
            &mut self.scope,
            call.statements(),
        );
        let result = result.map_err(|e| match *e {
            EvalAltResult::ErrorInFunctionCall(name, _, inner, _) if name == handler.name() => {
                inner
            }
            _ => e,
        });
        result.map(|_| ()).map_err(|e| RuleRunError {
            kind: RuleErrorKind::of(&e),
            message: e.to_string(),
        })
    }
}
