//! Evaluation of a parsed filter against a record's metadata. Allocation-free.

use std::cmp::Ordering;

use super::{Node, Op, Scalar};
use crate::metadata::{Metadata, Value};

/// True when `node` accepts `metadata` (`None` behaves as empty metadata).
pub(super) fn matches(node: &Node, metadata: Option<&Metadata>) -> bool {
    match node {
        Node::And(children) => children.iter().all(|c| matches(c, metadata)),
        Node::Or(children) => children.iter().any(|c| matches(c, metadata)),
        Node::Field { key, op } => test(op, metadata.and_then(|m| m.get(key))),
    }
}

/// One operator against a field's value (`None`: the field is missing).
fn test(op: &Op, value: Option<&Value>) -> bool {
    match op {
        Op::Eq(s) => value.is_some_and(|v| equals(v, s)),
        Op::Ne(s) => !value.is_some_and(|v| equals(v, s)),
        Op::Gt(x) => number(value).is_some_and(|n| n > *x),
        Op::Gte(x) => number(value).is_some_and(|n| n >= *x),
        Op::Lt(x) => number(value).is_some_and(|n| n < *x),
        Op::Lte(x) => number(value).is_some_and(|n| n <= *x),
        Op::In(set) => value.is_some_and(|v| contains(set, v)),
        Op::Nin(set) => !value.is_some_and(|v| contains(set, v)),
        Op::Exists(present) => value.is_some() == *present,
    }
}

/// `$eq`: same type and value; a list of strings matches when any element does.
fn equals(value: &Value, scalar: &Scalar) -> bool {
    match (value, scalar) {
        (Value::String(a), Scalar::String(b)) => a == b,
        (Value::List(items), Scalar::String(b)) => items.iter().any(|a| a == b),
        (Value::Number(a), Scalar::Number(b)) => a == b,
        (Value::Bool(a), Scalar::Bool(b)) => a == b,
        _ => false,
    }
}

fn number(value: Option<&Value>) -> Option<f64> {
    match value {
        Some(Value::Number(n)) => Some(*n),
        _ => None,
    }
}

/// `$in`: `set` is sorted by [`order`]; a list matches when any element is in the set.
fn contains(set: &[Scalar], value: &Value) -> bool {
    match value {
        Value::String(s) => contains_str(set, s),
        Value::List(items) => items.iter().any(|s| contains_str(set, s)),
        Value::Number(n) => contains_number(set, *n),
        Value::Bool(_) => false,
    }
}

fn contains_str(set: &[Scalar], probe: &str) -> bool {
    set.binary_search_by(|s| match s {
        Scalar::String(s) => s.as_str().cmp(probe),
        Scalar::Number(_) | Scalar::Bool(_) => Ordering::Greater,
    })
    .is_ok()
}

fn contains_number(set: &[Scalar], probe: f64) -> bool {
    let probe = if probe == 0.0 { 0.0 } else { probe };
    set.binary_search_by(|s| match s {
        Scalar::String(_) => Ordering::Less,
        Scalar::Number(n) => n.total_cmp(&probe),
        Scalar::Bool(_) => Ordering::Greater,
    })
    .is_ok()
}

/// The total order of `$in` lists: strings, then numbers, then booleans.
pub(super) fn order(a: &Scalar, b: &Scalar) -> Ordering {
    fn rank(s: &Scalar) -> u8 {
        match s {
            Scalar::String(_) => 0,
            Scalar::Number(_) => 1,
            Scalar::Bool(_) => 2,
        }
    }
    match (a, b) {
        (Scalar::String(x), Scalar::String(y)) => x.cmp(y),
        (Scalar::Number(x), Scalar::Number(y)) => x.total_cmp(y),
        (Scalar::Bool(x), Scalar::Bool(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}
