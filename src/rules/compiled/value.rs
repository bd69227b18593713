//! Values of compiled handlers and the built-in operators on them, with Rhai's results.
//!
//! Every operator here computes exactly what Rhai's built-in operator computes for the same
//! operand types (checked integer arithmetic, float comparisons within a relative epsilon,
//! mixed integer/float arithmetic in floats). Any other combination is a [`Bail`]: the
//! interpreter then runs the handler and decides, error message included.

use std::fmt::Write;
use std::rc::Rc;

use rhai::{Dynamic, FloatWrapper, ImmutableString, Map, FLOAT, INT};

use crate::rules::api::KeywordHit;
use crate::rules::Limits;
use crate::state::OrderStats;

/// The compiled handler cannot finish the way Rhai would without help: its rule's changes are
/// undone and the interpreter runs the handler instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bail;

pub type Res<T> = Result<T, Bail>;

#[derive(Debug, Clone, Default)]
pub enum V {
    #[default]
    Unit,
    Bool(bool),
    Int(INT),
    Float(FLOAT),
    Str(ImmutableString),
    /// Arrays and maps are values in Rhai: shared here, copied when changed.
    Array(Rc<Vec<V>>),
    Map(Rc<Map>),
    Orders(Rc<OrderStats>),
    Hit(Rc<KeywordHit>),
    User,
    Event,
}

impl V {
    pub fn from_dynamic(d: Dynamic) -> Res<V> {
        if d.is_unit() {
            return Ok(V::Unit);
        }
        if let Ok(b) = d.as_bool() {
            return Ok(V::Bool(b));
        }
        if let Ok(i) = d.as_int() {
            return Ok(V::Int(i));
        }
        if let Ok(f) = d.as_float() {
            return Ok(V::Float(f));
        }
        if d.is_string() {
            return d.into_immutable_string().map(V::Str).map_err(|_| Bail);
        }
        if d.is_array() {
            let items = d.into_array().map_err(|_| Bail)?;
            let items = items.into_iter().map(V::from_dynamic).collect::<Res<_>>()?;
            return Ok(V::Array(Rc::new(items)));
        }
        if d.is_map() {
            return d.try_cast::<Map>().map(|m| V::Map(Rc::new(m))).ok_or(Bail);
        }
        Err(Bail)
    }

    /// The value as Rhai sees it, for natives that take Rhai values and for tag options.
    pub fn to_dynamic(&self) -> Res<Dynamic> {
        Ok(match self {
            V::Unit => Dynamic::UNIT,
            V::Bool(b) => Dynamic::from_bool(*b),
            V::Int(i) => Dynamic::from_int(*i),
            V::Float(f) => Dynamic::from_float(*f),
            V::Str(s) => Dynamic::from(s.clone()),
            V::Array(items) => {
                Dynamic::from_array(items.iter().map(V::to_dynamic).collect::<Res<_>>()?)
            }
            V::Map(m) => Dynamic::from_map((**m).clone()),
            V::Orders(_) | V::Hit(_) | V::User | V::Event => return Err(Bail),
        })
    }

    /// The value as Rhai measures it against the data limits: nested array items, map entries
    /// and string bytes.
    pub fn data_sizes(&self) -> Res<(usize, usize, usize)> {
        match self {
            V::Str(s) => Ok((0, 0, s.len())),
            V::Array(items) => array_sizes(items),
            V::Map(map) => map_sizes(map),
            _ => Ok((0, 0, 0)),
        }
    }

    pub fn as_bool(&self) -> Res<bool> {
        match self {
            V::Bool(b) => Ok(*b),
            _ => Err(Bail),
        }
    }

    /// An integer or a float, as Rhai's `FLOAT` parameters accept.
    pub fn as_number(&self) -> Res<FLOAT> {
        match self {
            V::Int(i) => Ok(*i as FLOAT),
            V::Float(f) => Ok(*f),
            _ => Err(Bail),
        }
    }

    pub fn opt_int(value: Option<i64>) -> V {
        value.map_or(V::Unit, V::Int)
    }

    /// Appends the value as string interpolation shows it (Rhai's `to_string`).
    pub fn write_to(&self, out: &mut String) -> Res<()> {
        match self {
            V::Str(s) => out.push_str(s),
            V::Int(i) => write!(out, "{i}").map_err(|_| Bail)?,
            V::Float(f) => write!(out, "{}", FloatWrapper::new(*f)).map_err(|_| Bail)?,
            V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            V::Unit => {}
            _ => return Err(Bail),
        }
        Ok(())
    }
}

/// The binary operators with built-in meanings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl BinOp {
    pub fn from_token(op: &rhai::Token) -> Option<BinOp> {
        use rhai::Token as T;
        Some(match op {
            T::Plus => BinOp::Add,
            T::Minus => BinOp::Sub,
            T::Multiply => BinOp::Mul,
            T::Divide => BinOp::Div,
            T::Modulo => BinOp::Rem,
            T::EqualsTo => BinOp::Eq,
            T::NotEqualsTo => BinOp::Ne,
            T::GreaterThan => BinOp::Gt,
            T::GreaterThanEqualsTo => BinOp::Ge,
            T::LessThan => BinOp::Lt,
            T::LessThanEqualsTo => BinOp::Le,
            _ => return None,
        })
    }

    #[inline(always)]
    pub fn apply(self, x: &V, y: &V, max_string: usize) -> Res<V> {
        match (x, y) {
            (V::Int(a), V::Int(b)) => self.ints(*a, *b),
            (V::Float(a), V::Float(b)) => self.floats(*a, *b),
            (V::Int(a), V::Float(b)) => self.floats(*a as FLOAT, *b),
            (V::Float(a), V::Int(b)) => self.floats(*a, *b as FLOAT),
            (V::Str(a), V::Str(b)) => self.strings(a, b, max_string),
            (V::Bool(a), V::Bool(b)) => self.compare(a.cmp(b)),
            (V::Unit, V::Unit) => self.compare(std::cmp::Ordering::Equal).map(|v| match self {
                // `() > ()` and the like are false in Rhai, not "equal".
                BinOp::Eq => v,
                _ => V::Bool(false),
            }),
            // Values of different types are never equal, nor ordered.
            (a, b) if std::mem::discriminant(a) != std::mem::discriminant(b) => match self {
                BinOp::Ne => Ok(V::Bool(true)),
                BinOp::Eq | BinOp::Gt | BinOp::Ge | BinOp::Lt | BinOp::Le => Ok(V::Bool(false)),
                _ => Err(Bail),
            },
            _ => Err(Bail),
        }
    }

    /// `x op= y`: `x` becomes `x op y`. A text that only `x` holds grows in place, as Rhai's
    /// `+=` appends to it: a text built by `+=` in a loop then takes linear time, as in the
    /// interpreter, rather than quadratic, and does not run past the time budget where the
    /// interpreter would not.
    pub fn assign(self, x: &mut V, y: &V, max_string: usize) -> Res<()> {
        if let (BinOp::Add, V::Str(a), V::Str(b)) = (self, &mut *x, y) {
            if max_string > 0 && a.len() + b.len() > max_string {
                return Err(Bail);
            }
            *a += b;
            return Ok(());
        }
        *x = self.apply(x, y, max_string)?;
        Ok(())
    }

    /// Checked, as Rhai's arithmetic: an overflow or a division by zero is Rhai's error to report.
    fn ints(self, a: INT, b: INT) -> Res<V> {
        let checked = match self {
            BinOp::Add => a.checked_add(b),
            BinOp::Sub => a.checked_sub(b),
            BinOp::Mul => a.checked_mul(b),
            BinOp::Div => a.checked_div(b),
            BinOp::Rem => a.checked_rem(b),
            _ => return self.compare(a.cmp(&b)),
        };
        checked.map(V::Int).ok_or(Bail)
    }

    fn floats(self, x: FLOAT, y: FLOAT) -> Res<V> {
        Ok(match self {
            BinOp::Add => V::Float(x + y),
            BinOp::Sub => V::Float(x - y),
            BinOp::Mul => V::Float(x * y),
            BinOp::Div => V::Float(x / y),
            BinOp::Rem => V::Float(x % y),
            _ => V::Bool(float_compare(self, x, y)),
        })
    }

    fn strings(self, a: &ImmutableString, b: &ImmutableString, max_string: usize) -> Res<V> {
        match self {
            BinOp::Add => {
                if max_string > 0 && a.len() + b.len() > max_string {
                    return Err(Bail);
                }
                Ok(V::Str(a + b))
            }
            BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => Err(Bail),
            _ => self.compare(a.as_str().cmp(b.as_str())),
        }
    }

    fn compare(self, ord: std::cmp::Ordering) -> Res<V> {
        use std::cmp::Ordering::{Equal, Greater, Less};
        Ok(V::Bool(match self {
            BinOp::Eq => ord == Equal,
            BinOp::Ne => ord != Equal,
            BinOp::Gt => ord == Greater,
            BinOp::Ge => ord != Less,
            BinOp::Lt => ord == Less,
            BinOp::Le => ord != Greater,
            _ => return Err(Bail),
        }))
    }
}

/// Rhai compares floats within a relative epsilon: values closer than `FLOAT::EPSILON` times
/// the larger magnitude are equal.
fn float_compare(op: BinOp, x: FLOAT, y: FLOAT) -> bool {
    let max = if x * y == 0.0 {
        1.0
    } else {
        x.abs().max(y.abs())
    };
    if max == 0.0 {
        return matches!(op, BinOp::Eq | BinOp::Ge | BinOp::Le);
    }
    let eps = FLOAT::EPSILON;
    match op {
        BinOp::Eq => (x - y).abs() / max <= eps,
        BinOp::Ne => (x - y).abs() / max > eps,
        BinOp::Gt => (x - y) / max > eps,
        BinOp::Ge => (x - y) / max > -eps,
        BinOp::Lt => (y - x) / max > eps,
        BinOp::Le => (y - x) / max > -eps,
        _ => unreachable!("only comparisons reach float_compare"),
    }
}

/// [`V::data_sizes`] of an array's items.
pub fn array_sizes(items: &[V]) -> Res<(usize, usize, usize)> {
    items.iter().try_fold((0, 0, 0), |(a, m, s), item| {
        let (ia, im, is) = item.data_sizes()?;
        Ok((a + ia + 1, m + im, s + is))
    })
}

/// [`V::data_sizes`] of a map's values, as Rhai counts them: an entry for each value, and
/// the values' own sizes.
fn map_sizes(map: &Map) -> Res<(usize, usize, usize)> {
    map.values().try_fold((0, 0, 0), |(a, m, s), value| {
        let (va, vm, vs) = dynamic_sizes(value)?;
        Ok((a + va, m + vm + 1, s + vs))
    })
}

/// The data sizes of a value held in a map, as Rhai counts them for an array, a map or a
/// string; a blob (never made by a compiled handler) is the interpreter's.
fn dynamic_sizes(value: &Dynamic) -> Res<(usize, usize, usize)> {
    if value.is_blob() {
        return Err(Bail);
    }
    if let Ok(s) = value.as_immutable_string_ref() {
        return Ok((0, 0, s.len()));
    }
    if let Ok(items) = value.as_array_ref() {
        return items.iter().try_fold((0, 0, 0), |(a, m, s), item| {
            let (ia, im, is) = dynamic_sizes(item)?;
            Ok((a + ia + 1, m + im, s + is))
        });
    }
    if let Ok(map) = value.as_map_ref() {
        return map_sizes(&map);
    }
    Ok((0, 0, 0))
}

/// Rhai's data limits on a value's (array items, map entries, string bytes); 0 is no limit.
pub fn within_limits(limits: &Limits, (arrays, maps, strings): (usize, usize, usize)) -> Res<()> {
    let over = |n: usize, max: usize| max > 0 && n > max;
    if over(arrays, limits.array_len)
        || over(maps, limits.map_len)
        || over(strings, limits.string_bytes)
    {
        return Err(Bail);
    }
    Ok(())
}

/// Unary minus, checked for integers as in Rhai.
pub fn negate(v: &V) -> Res<V> {
    match v {
        V::Int(i) => i.checked_neg().map(V::Int).ok_or(Bail),
        V::Float(f) => Ok(V::Float(-f)),
        _ => Err(Bail),
    }
}
