//! The validating parser: JSON filter → [`Node`] tree.
//!
//! Error paths name where the problem is, JSON-pointer style: `genre.$in`, `genre.$in[3]`,
//! `$and[1].year.$gt`. Reasons name the offending value.

use serde_json::{Map, Value as J};

use super::eval::order;
use super::{MAX_DEPTH, MAX_IN_VALUES, Node, Op, Scalar};
use crate::error::{Error, Result};
use crate::metadata::json_kind;
use crate::sort::SmallSort;

/// `return Err(InvalidFilter { path, reason: format!(..) })`.
macro_rules! bail {
    ($path:expr, $($reason:tt)+) => {
        return Err(Error::InvalidFilter { path: $path.to_string(), reason: format!($($reason)+) })
    };
}

/// Parses a whole filter. `{}` becomes an empty [`Node::And`], which matches everything.
pub(super) fn parse(json: &J) -> Result<Node> {
    match json {
        J::Object(map) => parse_object(map, "", 0),
        other => bail!("", "a filter must be a JSON object, got {}", show(other)),
    }
}

/// A filter object: field names and `$and` / `$or`, combined with AND.
fn parse_object(map: &Map<String, J>, path: &str, depth: usize) -> Result<Node> {
    let mut nodes = Vec::with_capacity(map.len());
    for (key, value) in map {
        let here = join(path, key);
        match key.as_str() {
            "$and" => {
                for child in parse_clauses(key, value, &here, depth)? {
                    match child {
                        Node::And(grandchildren) => nodes.extend(grandchildren),
                        other => nodes.push(other),
                    }
                }
            }
            "$or" => nodes.push(simplify(Node::Or(parse_clauses(key, value, &here, depth)?))),
            op if is_comparison(op) => bail!(
                here,
                "'{op}' is a comparison operator and must be applied to a field, \
                 as in {{\"field\": {{\"{op}\": ...}}}}"
            ),
            op if op.starts_with('$') => bail!(
                here,
                "unknown operator '{op}'; expected a field name, '$and' or '$or'"
            ),
            _ => parse_field(key, value, &here, &mut nodes)?,
        }
    }
    Ok(simplify(Node::And(nodes)))
}

/// The operand of `$and` / `$or`: a non-empty list of non-empty filter objects.
fn parse_clauses(op: &str, value: &J, path: &str, depth: usize) -> Result<Vec<Node>> {
    if depth >= MAX_DEPTH {
        bail!(
            path,
            "filter is nested too deeply (at most {MAX_DEPTH} levels of $and/$or)"
        );
    }
    let items = match value {
        J::Array(items) if !items.is_empty() => items,
        J::Array(_) => bail!(
            path,
            "'{op}' must hold a non-empty list of filter objects, got []"
        ),
        other => bail!(
            path,
            "'{op}' must hold a non-empty list of filter objects, got {}",
            show(other)
        ),
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let here = format!("{path}[{i}]");
        match item {
            J::Object(map) if map.is_empty() => {
                bail!(here, "an empty filter object is not allowed inside '{op}'")
            }
            J::Object(map) => out.push(parse_object(map, &here, depth + 1)?),
            other => bail!(
                here,
                "each '{op}' clause must be a filter object, got {}",
                show(other)
            ),
        }
    }
    Ok(out)
}

/// One field: a bare value (implicit `$eq`) or an object of operators, combined with AND.
fn parse_field(key: &str, value: &J, path: &str, out: &mut Vec<Node>) -> Result<()> {
    let field = |op| Node::Field {
        key: key.to_string(),
        op,
    };
    let ops = match value {
        J::Object(ops) if ops.is_empty() => {
            bail!(path, "a field's operator object must not be empty")
        }
        J::Object(ops) => ops,
        J::Array(_) => bail!(
            path,
            "a field's value must be a string, number or boolean, got {}; \
             use {{\"$in\": [...]}} to match any of several values",
            show(value)
        ),
        scalar => {
            out.push(field(Op::Eq(parse_scalar("$eq", scalar, path)?)));
            return Ok(());
        }
    };
    for (op, arg) in ops {
        let here = join(path, op);
        out.push(field(match op.as_str() {
            "$eq" => Op::Eq(parse_scalar(op, arg, &here)?),
            "$ne" => Op::Ne(parse_scalar(op, arg, &here)?),
            "$gt" => Op::Gt(parse_number(op, arg, &here)?),
            "$gte" => Op::Gte(parse_number(op, arg, &here)?),
            "$lt" => Op::Lt(parse_number(op, arg, &here)?),
            "$lte" => Op::Lte(parse_number(op, arg, &here)?),
            "$in" => Op::In(parse_list(op, arg, &here)?),
            "$nin" => Op::Nin(parse_list(op, arg, &here)?),
            "$exists" => match arg {
                J::Bool(b) => Op::Exists(*b),
                other => bail!(
                    here,
                    "'$exists' operand must be a boolean, got {}",
                    show(other)
                ),
            },
            "$and" | "$or" => {
                bail!(
                    here,
                    "'{op}' cannot be applied to a field; use it at the filter level"
                )
            }
            unknown if unknown.starts_with('$') => bail!(here, "unknown operator '{unknown}'"),
            _ => bail!(
                path,
                "expected operators such as $eq or $in, got {}; \
                 metadata values cannot be objects",
                show(value)
            ),
        }));
    }
    Ok(())
}

fn parse_scalar(op: &str, value: &J, path: &str) -> Result<Scalar> {
    match value {
        J::String(s) => Ok(Scalar::String(s.clone())),
        J::Bool(b) => Ok(Scalar::Bool(*b)),
        J::Number(n) => number(n, op, path).map(Scalar::Number),
        other => bail!(
            path,
            "'{op}' operand must be a string, number or boolean, got {}",
            show(other)
        ),
    }
}

fn parse_number(op: &str, value: &J, path: &str) -> Result<f64> {
    match value {
        J::Number(n) => number(n, op, path),
        other => bail!(path, "'{op}' operand must be a number, got {}", show(other)),
    }
}

/// A `$in` / `$nin` operand, sorted and deduplicated for binary search.
fn parse_list(op: &str, value: &J, path: &str) -> Result<Vec<Scalar>> {
    let J::Array(items) = value else {
        bail!(
            path,
            "'{op}' operand must be a list of strings or numbers, got {}",
            show(value)
        );
    };
    if items.len() > MAX_IN_VALUES {
        let len = items.len();
        bail!(
            path,
            "'{op}' holds {len} values; at most {MAX_IN_VALUES} are allowed"
        );
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let here = format!("{path}[{i}]");
        out.push(match item {
            J::String(s) => Scalar::String(s.clone()),
            J::Number(n) => Scalar::Number(number(n, op, &here)?),
            other => bail!(
                here,
                "'{op}' values must be strings or numbers, got {}",
                show(other)
            ),
        });
    }
    out.small_sort_by(order);
    out.dedup_by(|a, b| order(a, b).is_eq());
    Ok(out)
}

/// A finite `f64`, with `-0.0` folded into `0.0` so sorted `$in` lists find both.
fn number(n: &serde_json::Number, op: &str, path: &str) -> Result<f64> {
    match n.as_f64() {
        Some(f) if f.is_finite() => Ok(if f == 0.0 { 0.0 } else { f }),
        _ => bail!(path, "'{op}' operand {n} is not a finite 64-bit float"),
    }
}

/// An `And` / `Or` of one node is that node.
fn simplify(node: Node) -> Node {
    match node {
        Node::And(mut v) | Node::Or(mut v) if v.len() == 1 => v.pop().unwrap_or(Node::And(v)),
        other => other,
    }
}

fn is_comparison(op: &str) -> bool {
    matches!(
        op,
        "$eq" | "$ne" | "$gt" | "$gte" | "$lt" | "$lte" | "$in" | "$nin" | "$exists"
    )
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The value's kind and (abbreviated) JSON text, for error messages: `a string "2020"`.
fn show(value: &J) -> String {
    const MAX: usize = 60;
    if value.is_null() {
        return "null".into();
    }
    let mut text = value.to_string();
    if text.len() > MAX {
        let cut = (0..=MAX)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
    format!("{} {text}", json_kind(value))
}
