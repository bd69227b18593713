//! Lowering a rule's Rhai AST into compiled nodes: variables become frame slots, calls are
//! bound to a script function or a native, operators to their built-in meaning.
//!
//! Whatever is not understood here ([`Unsupported`]) leaves the whole rule to the interpreter,
//! so lowering never has to guess: closures, modules, `this`, `print`, assignments into
//! indexes or properties, and script functions that shadow a native by name all qualify.

use std::collections::HashMap;

use rhai::{ASTFlags, ASTNode, Expr as RExpr, FnCallExpr, ImmutableString, Stmt as RStmt};
use rhai::{Dynamic, Position, StmtBlock, Token, AST};

use super::natives::Native;
use super::unsupported::{calling, construct, unsupported, Lowered, Unsupported};
use super::value::{BinOp, V};
use super::{Expr, Func, Stmt, Switch};

mod chains;

/// Parameters and `let`s a compiled function may have (Rhai's engine allows 256 in scope).
const MAX_SLOTS: u16 = 64;

/// Script functions by name and arity, as calls resolve them.
pub struct FnTable(pub HashMap<(ImmutableString, usize), u16>);

/// Lowers every script function of a rule, in the order of [`AST::iter_fn_def`].
///
/// Rhai does not name the type of a function body, but [`AST::walk`] visits the top-level
/// statements of each body in that order; each statement is given to the function whose body
/// span contains it. A statement that cannot be placed leaves the rule to the interpreter.
/// `hash_check` says whether switch case hashes can be reproduced (see
/// [`super::switch_hashing_matches`]).
pub fn lower_rule(ast: &AST, fns: &FnTable, hash_check: bool) -> Lowered<Vec<Func>> {
    let defs: Vec<_> = ast.iter_fn_def().cloned().collect();
    let mut lowerers = Vec::with_capacity(defs.len());
    let mut spans = Vec::with_capacity(defs.len());
    for def in &defs {
        if def.this_type.is_some() {
            return unsupported("a typed method");
        }
        let mut lw = Lowerer {
            fns,
            scopes: vec![Vec::new()],
            slots: 0,
            constants: Vec::new(),
            hash_check,
        };
        for p in &def.params {
            lw.declare(p.clone())?;
        }
        lowerers.push((lw, Vec::new()));
        spans.push((at(def.body.start_position()), at(def.body.end_position())));
    }
    let main = ast.statements().len();
    let mut seen = 0;
    let mut current = 0;
    let mut failure = None;
    ast.walk(&mut |path: &[ASTNode]| {
        if path.len() != 1 {
            return true;
        }
        seen += 1;
        if seen <= main {
            return true;
        }
        let ASTNode::Stmt(stmt) = path[0] else {
            failure = Some(Unsupported("a body that is not statements".into()));
            return false;
        };
        let pos = at(stmt.position());
        let Some(i) = (current..spans.len()).find(|&i| spans[i].0 <= pos && pos <= spans[i].1)
        else {
            failure = Some(Unsupported(format!(
                "a statement at {pos:?} outside every body"
            )));
            return false;
        };
        current = i;
        let (lw, body) = &mut lowerers[i];
        match lw.stmt(stmt) {
            Ok(s) => {
                body.push(s);
                true
            }
            Err(e) => {
                failure = Some(e);
                false
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(defs
        .iter()
        .zip(lowerers)
        .map(|(def, (lw, body))| Func {
            params: def.params.len(),
            slots: lw.slots,
            body: body.into_boxed_slice(),
        })
        .collect())
}

/// A position as (line, column); `None` positions sort first and match no body.
fn at(pos: Position) -> (usize, usize) {
    (pos.line().unwrap_or(0), pos.position().unwrap_or(0))
}

struct Lowerer<'a> {
    fns: &'a FnTable,
    /// Names in scope, innermost block last; a `let` shadows by pushing again.
    scopes: Vec<Vec<(ImmutableString, u16)>>,
    slots: u16,
    /// Slots declared with `const`.
    constants: Vec<u16>,
    hash_check: bool,
}

impl Lowerer<'_> {
    /// A new slot for `name`. Rhai limits the variables in scope at once, not the `let`s of a
    /// function; far below that limit a function is left to the interpreter rather than
    /// counted exactly, and before its slot numbers could pass `u16` and wrap (a function
    /// of 70,000 `{ let a = 1; }` blocks is a valid script).
    fn declare(&mut self, name: ImmutableString) -> Lowered<u16> {
        if self.slots >= MAX_SLOTS {
            return unsupported(format!("a function with over {MAX_SLOTS} variables"));
        }
        let slot = self.slots;
        self.slots += 1;
        self.scopes
            .last_mut()
            .expect("a function has a scope")
            .push((name, slot));
        Ok(slot)
    }

    fn lookup(&self, name: &str) -> Lowered<u16> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|s| s.iter().rev())
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, slot)| *slot)
            .map_or_else(
                || {
                    unsupported(format!(
                        "variable `{name}` from outside the function (a global or a closure's capture)"
                    ))
                },
                Ok,
            )
    }

    fn block(&mut self, block: &StmtBlock) -> Lowered<Box<[Stmt]>> {
        self.scopes.push(Vec::new());
        let stmts = block
            .statements()
            .iter()
            .map(|s| self.stmt(s))
            .collect::<Lowered<Vec<_>>>();
        self.scopes.pop();
        Ok(stmts?.into_boxed_slice())
    }

    fn stmt(&mut self, stmt: &RStmt) -> Lowered<Stmt> {
        Ok(match stmt {
            RStmt::Noop(..) => Stmt::Expr(Expr::Const(V::Unit)),
            RStmt::Expr(e) => Stmt::Expr(self.expr(e)?),
            RStmt::FnCall(call, ..) => Stmt::Expr(self.call(call)?),
            RStmt::Block(b) => Stmt::Block(self.block(b)?),
            RStmt::Var(x, flags, ..) => {
                let (ident, init, _) = &**x;
                let init = self.expr(init)?;
                let slot = self.declare(ident.name.clone())?;
                if flags.intersects(ASTFlags::CONSTANT) {
                    self.constants.push(slot);
                }
                Stmt::Let(slot, init)
            }
            RStmt::Assignment(x) => {
                let (op, bin) = &**x;
                let RExpr::Variable(var, ..) = &bin.lhs else {
                    return unsupported("assignment into an index or property");
                };
                if !var.2.is_empty() {
                    return unsupported("assignment to a module variable");
                }
                let slot = self.lookup(&var.1)?;
                let rhs = self.expr(&bin.rhs)?;
                let op = match op.get_op_assignment_info() {
                    None => None,
                    Some((.., op, _)) => Some(
                        BinOp::from_token(op)
                            .ok_or_else(|| Unsupported(format!("operator-assignment {op}")))?,
                    ),
                };
                Stmt::Assign(slot, op, rhs)
            }
            RStmt::If(x, ..) => Stmt::If(
                self.expr(&x.expr)?,
                self.block(&x.body)?,
                self.block(&x.branch)?,
            ),
            RStmt::Switch(x, ..) => {
                if !self.hash_check {
                    return unsupported("switch (case hashes cannot be reproduced)");
                }
                let (value, cases) = &**x;
                let arms = cases
                    .expressions
                    .iter()
                    .map(|b| {
                        let guard = match &b.lhs {
                            RExpr::BoolConstant(true, ..) => None,
                            c => Some(self.expr(c)?),
                        };
                        Ok((guard, self.expr(&b.rhs)?))
                    })
                    .collect::<Lowered<Vec<_>>>()?;
                Stmt::Switch(Box::new(Switch {
                    value: self.expr(value)?,
                    arms: arms.into_boxed_slice(),
                    cases: cases
                        .cases
                        .iter()
                        .map(|(h, list)| (*h, list.blocks.iter().copied().collect()))
                        .collect(),
                    ranges: cases.ranges.iter().cloned().collect(),
                    default: cases.def_case,
                }))
            }
            RStmt::While(x, ..) => {
                let cond = match &x.expr {
                    RExpr::Unit(..) => Expr::Const(V::Bool(true)),
                    e => self.expr(e)?,
                };
                Stmt::While(cond, self.block(&x.body)?)
            }
            RStmt::Do(x, flags, ..) => {
                let cond = self.expr(&x.expr)?;
                let until = flags.intersects(ASTFlags::NEGATED);
                Stmt::DoWhile(self.block(&x.body)?, cond, until)
            }
            RStmt::For(x, ..) => {
                let (var, counter, flow) = &**x;
                let iter = self.expr(&flow.expr)?;
                self.scopes.push(Vec::new());
                let var_slot = self.declare(var.name.clone())?;
                let counter_slot = counter
                    .as_ref()
                    .map(|c| self.declare(c.name.clone()))
                    .transpose()?;
                let body = self.block(&flow.body);
                self.scopes.pop();
                Stmt::For(var_slot, counter_slot, iter, body?)
            }
            RStmt::BreakLoop(value, flags, ..) => {
                if value.is_some() {
                    return unsupported("a loop that breaks with a value");
                }
                if flags.intersects(ASTFlags::BREAK) {
                    Stmt::Break
                } else {
                    Stmt::Continue
                }
            }
            RStmt::Return(value, flags, ..) => {
                if flags.intersects(ASTFlags::BREAK) {
                    return unsupported("throw");
                }
                Stmt::Return(match value {
                    Some(e) => self.expr(e)?,
                    None => Expr::Const(V::Unit),
                })
            }
            other => return unsupported(construct(&format!("{other:?}"))),
        })
    }

    fn exprs(&mut self, items: &[RExpr]) -> Lowered<Box<[Expr]>> {
        items
            .iter()
            .map(|e| self.expr(e))
            .collect::<Lowered<Vec<_>>>()
            .map(Vec::into_boxed_slice)
    }

    fn expr(&mut self, expr: &RExpr) -> Lowered<Expr> {
        Ok(match expr {
            RExpr::Unit(..) => Expr::Const(V::Unit),
            RExpr::BoolConstant(b, ..) => Expr::Const(V::Bool(*b)),
            RExpr::IntegerConstant(i, ..) => Expr::Const(V::Int(*i)),
            RExpr::FloatConstant(f, ..) => Expr::Const(V::Float(**f)),
            RExpr::StringConstant(s, ..) => Expr::Const(V::Str(s.clone())),
            RExpr::DynamicConstant(d, ..) => constant(d)?,
            RExpr::InterpolatedString(parts, ..) => Expr::Interpolated(self.exprs(parts)?),
            RExpr::Array(items, ..) => Expr::Array(self.exprs(items)?),
            RExpr::Map(x, ..) => {
                let (fields, _) = &**x;
                let fields = fields
                    .iter()
                    .map(|(k, e)| Ok((k.name.clone(), self.expr(e)?)))
                    .collect::<Lowered<Vec<_>>>()?;
                Expr::Map(fields.into_boxed_slice())
            }
            RExpr::Variable(var, ..) => {
                if !var.2.is_empty() {
                    return unsupported(format!("module variable `{}::{}`", var.2, var.1));
                }
                Expr::Local(self.lookup(&var.1)?)
            }
            RExpr::Stmt(block) => Expr::Block(self.block(block)?),
            RExpr::FnCall(call, ..) => self.call(call)?,
            RExpr::Dot(x, flags, ..) => self.chain(&x.lhs, &x.rhs, true, *flags)?,
            RExpr::Index(x, flags, ..) => self.chain(&x.lhs, &x.rhs, false, *flags)?,
            RExpr::And(items, ..) => Expr::And(self.exprs(items)?),
            RExpr::Or(items, ..) => Expr::Or(self.exprs(items)?),
            other => return unsupported(construct(&format!("{other:?}"))),
        })
    }

    fn call_args(&mut self, call: &FnCallExpr) -> Lowered<Box<[Expr]>> {
        if !call.namespace.is_empty() {
            return unsupported(format!("module function `{}`", call.name));
        }
        if call.capture_parent_scope {
            return unsupported("a call that captures its scope");
        }
        self.exprs(&call.args)
    }

    fn call(&mut self, call: &FnCallExpr) -> Lowered<Expr> {
        let args = self.call_args(call)?;
        if let Some(op) = &call.op_token {
            return operator(op, args);
        }
        if let Some(&index) = self.fns.0.get(&(call.name.clone(), args.len())) {
            return Ok(Expr::Script(index, args));
        }
        let native = Native::parse(&call.name, args.len())
            .ok_or_else(|| Unsupported(calling("function", &call.name, args.len())))?;
        if native.mutates() {
            return unsupported(format!("`{}` called as a function", call.name));
        }
        Ok(Expr::Native(native, args))
    }
}

fn operator(op: &Token, args: Box<[Expr]>) -> Lowered<Expr> {
    let mut args = args.into_vec();
    match (op, args.len()) {
        (Token::Bang, 1) => Ok(Expr::Not(Box::new(args.remove(0)))),
        (Token::UnaryMinus | Token::Minus, 1) => Ok(Expr::Neg(Box::new(args.remove(0)))),
        (Token::UnaryPlus | Token::Plus, 1) => Ok(Expr::Plus(Box::new(args.remove(0)))),
        (_, 2) => {
            let op = BinOp::from_token(op).ok_or_else(|| Unsupported(format!("operator {op}")))?;
            let rhs = args.pop().expect("two arguments");
            let lhs = args.pop().expect("two arguments");
            Ok(Expr::Op(op, Box::new(lhs), Box::new(rhs)))
        }
        _ => unsupported(format!("operator {op}")),
    }
}

/// A constant folded by Rhai's optimiser (for example an inlined parameter list).
fn constant(d: &Dynamic) -> Lowered<Expr> {
    V::from_dynamic(d.clone()).map(Expr::Const).map_err(|_| {
        let ty = d.type_name();
        Unsupported(if ty.contains("RangeInclusive") {
            "a range (`a..=b`)".into()
        } else if ty.contains("Range") {
            "a range (`a..b`)".into()
        } else if ty == "Fn" {
            "a function pointer or closure".into()
        } else {
            format!("a value of type {}", ty.rsplit("::").next().unwrap_or(ty))
        })
    })
}
