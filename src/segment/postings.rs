//! Per-segment metadata counts: for each field, how many records hold each string or boolean
//! value. They give the selectivity of `$eq` / `$ne` / `$in` / `$nin` filters on such values,
//! and of `$and` / `$or` combinations of them (assuming independence), without evaluating the
//! filter; a graph query uses the estimate to choose between the graph and an exact scan.

use std::collections::HashMap;

use crate::filter::{Filter, Node, Op, Scalar};
use crate::metadata::{Metadata, Value};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Str(String),
    Bool(bool),
}

/// Record counts per (field, string or boolean value) of one segment.
#[derive(Debug, Clone, Default)]
pub(crate) struct Postings {
    records: usize,
    counts: HashMap<String, HashMap<Key, u32>>,
}

impl Postings {
    /// Counts the metadata of every record (a list counts once per distinct element).
    pub(crate) fn build<'a>(records: impl Iterator<Item = Option<&'a Metadata>>) -> Self {
        let mut p = Postings::default();
        let mut seen: Vec<&str> = Vec::new();
        for md in records {
            p.records += 1;
            let Some(md) = md else { continue };
            for (k, v) in md.iter() {
                match v {
                    Value::String(s) => p.bump(k, Key::Str(s.clone())),
                    Value::Bool(b) => p.bump(k, Key::Bool(*b)),
                    Value::List(l) => {
                        seen.clear();
                        seen.extend(l.iter().map(String::as_str));
                        seen.sort_unstable();
                        seen.dedup();
                        for s in &seen {
                            p.bump(k, Key::Str((*s).to_string()));
                        }
                    }
                    Value::Number(_) => {}
                }
            }
        }
        p
    }

    fn bump(&mut self, field: &str, key: Key) {
        let per = match self.counts.get_mut(field) {
            Some(per) => per,
            None => self.counts.entry(field.to_string()).or_default(),
        };
        *per.entry(key).or_insert(0) += 1;
    }

    fn count(&self, field: &str, value: &Scalar) -> Option<usize> {
        let key = match value {
            Scalar::String(s) => Key::Str(s.clone()),
            Scalar::Bool(b) => Key::Bool(*b),
            Scalar::Number(_) => return None,
        };
        Some(
            self.counts
                .get(field)
                .and_then(|per| per.get(&key))
                .map_or(0, |&c| c as usize),
        )
    }

    /// The share of records `filter` matches, when the counts can tell: exact for `$eq` /
    /// `$ne` on strings and booleans and for `$in` / `$nin` on scalar fields (an upper bound
    /// for `$in` on lists), a product for `$and` and a capped sum for `$or`. `None` when the
    /// filter uses numbers, ranges or `$exists`.
    pub(crate) fn estimate(&self, filter: &Filter) -> Option<f32> {
        if self.records == 0 {
            return None;
        }
        self.node(filter.root())
    }

    fn node(&self, node: &Node) -> Option<f32> {
        let n = self.records as f32;
        match node {
            Node::And(children) => children
                .iter()
                .try_fold(1.0f32, |acc, c| Some(acc * self.node(c)?)),
            Node::Or(children) => children
                .iter()
                .try_fold(0.0f32, |acc, c| Some((acc + self.node(c)?).min(1.0))),
            Node::Field { key, op } => {
                let share = |values: &[Scalar]| -> Option<f32> {
                    let mut sum = 0usize;
                    for v in values {
                        sum += self.count(key, v)?;
                    }
                    Some((sum as f32 / n).min(1.0))
                };
                match op {
                    Op::Eq(v) => share(std::slice::from_ref(v)),
                    Op::Ne(v) => share(std::slice::from_ref(v)).map(|f| 1.0 - f),
                    Op::In(vs) => share(vs),
                    Op::Nin(vs) => share(vs).map(|f| 1.0 - f),
                    _ => None,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn estimates_are_exact_on_strings_and_booleans() {
        let mds: Vec<Option<Metadata>> = (0..100)
            .map(|i| {
                (i % 10 != 9).then(|| {
                    Metadata::from_json(&json!({
                        "g": format!("{}", i % 4),
                        "b": i % 2 == 0,
                        "l": ["x", "x", if i < 30 { "y" } else { "z" }],
                        "n": i,
                    }))
                    .unwrap()
                })
            })
            .collect();
        let p = Postings::build(mds.iter().map(Option::as_ref));
        let exact = |f: &Filter| {
            mds.iter().filter(|m| f.matches(m.as_ref())).count() as f32 / mds.len() as f32
        };
        for fj in [
            json!({"g": "1"}),
            json!({"g": {"$ne": "1"}}),
            json!({"g": {"$in": ["0", "3", "nope"]}}),
            json!({"g": {"$nin": ["0", "3"]}}),
            json!({"b": true}),
            json!({"l": "y"}),
            json!({"l": {"$ne": "x"}}),
            json!({"missing": "v"}),
        ] {
            let f = Filter::parse(&fj).unwrap();
            let e = p.estimate(&f).unwrap();
            assert!((e - exact(&f)).abs() < 1e-6, "{fj}: {e} vs {}", exact(&f));
        }
        for fj in [
            json!({"n": 3}),
            json!({"n": {"$gt": 3}}),
            json!({"g": {"$exists": true}}),
        ] {
            assert_eq!(p.estimate(&Filter::parse(&fj).unwrap()), None, "{fj}");
        }
        let and = Filter::parse(&json!({"$and": [{"g": "1"}, {"b": false}]})).unwrap();
        assert!(p.estimate(&and).is_some());
        let mixed = Filter::parse(&json!({"$or": [{"g": "1"}, {"n": 2}]})).unwrap();
        assert_eq!(p.estimate(&mixed), None);
    }
}
