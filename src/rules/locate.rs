//! Where a broken limit happened.
//!
//! Rhai passes its "system" errors (too many operations, stack overflow, data too large) up
//! through every script function call and overwrites their position with each call site on
//! the way, so a limit broken anywhere in a handler is reported at the statement that called
//! the handler: line 1, position 1 of the call the engine compiled, in no file at all. When
//! that happens, the handler runs once more with its body's statements evaluated directly —
//! not called — so the error keeps a position in the rule's own file: the statement of the
//! handler where it happened, or, when it happened inside a helper function, the handler's
//! statement that called it. This runs only after a rule has already failed.

use rhai::{ASTNode, Caches, Dynamic, Engine, EvalAltResult, GlobalRuntimeState, Position};
use rhai::{ImmutableString, Scope, Stmt, AST};

/// A handler's body as statements, with its parameter names.
pub struct Body {
    params: Vec<ImmutableString>,
    statements: Vec<Stmt>,
}

/// The body of script function `name`, found the way [`super::compiled`] finds bodies: each
/// top-level statement [`AST::walk`] visits after the main ones belongs to the function
/// whose body span contains it.
pub fn body_of(ast: &AST, name: &str) -> Option<Body> {
    let at = |pos: Position| (pos.line().unwrap_or(0), pos.position().unwrap_or(0));
    let def = ast.iter_fn_def().find(|d| d.name.as_str() == name)?;
    let span = (at(def.body.start_position()), at(def.body.end_position()));
    let main = ast.statements().len();
    let mut seen = 0;
    let mut statements = Vec::new();
    ast.walk(&mut |path: &[ASTNode]| {
        if path.len() == 1 {
            seen += 1;
            if let (true, ASTNode::Stmt(stmt)) = (seen > main, path[0]) {
                let pos = at(stmt.position());
                if span.0 <= pos && pos <= span.1 {
                    statements.push(stmt.clone());
                }
            }
        }
        true
    });
    Some(Body {
        params: def.params.iter().cloned().collect(),
        statements,
    })
}

/// Runs `body` with `args` bound to its parameters and returns the system error it raises
/// with its position, if it raises one that has a position.
pub fn rerun(
    engine: &Engine,
    global: &mut GlobalRuntimeState,
    caches: &mut Caches,
    body: &Body,
    args: [Dynamic; 2],
) -> Option<Box<EvalAltResult>> {
    let mut scope = Scope::new();
    for (name, value) in body.params.iter().zip(args) {
        scope.push_dynamic(name.clone(), value);
    }
    global.num_operations = 0;
    #[allow(deprecated)]
    let result = engine.eval_statements_raw(global, caches, &mut scope, &body.statements);
    match result {
        Err(e) if e.is_system_exception() && !e.position().is_none() => Some(e),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_its_own_statements() {
        let engine = Engine::new();
        let ast = engine
            .compile("let x = 1;\nfn a(p, q) {\n  let y = p;\n  y + q\n}\nfn b() { 2 }\n")
            .unwrap();
        let body = body_of(&ast, "a").unwrap();
        assert_eq!(body.params, ["p", "q"]);
        assert_eq!(body.statements.len(), 2);
        assert_eq!(body.statements[0].position().line(), Some(3));
        assert!(body_of(&ast, "c").is_none());
    }
}
