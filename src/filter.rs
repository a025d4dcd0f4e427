//! Pinecone's metadata filter language: parsing and evaluation.
//!
//! A filter is a JSON object. Its keys are field names (`{"genre": "drama"}`, shorthand for
//! `{"genre": {"$eq": "drama"}}`; or `{"price": {"$gte": 10, "$lte": 50}}`) and the logical
//! operators `$and` / `$or`, each holding a non-empty list of filter objects. Several keys in
//! one object, and several operators on one field, combine with AND. `{}` matches everything.
//!
//! [`Filter::parse`] (in `filter/parse.rs`) validates the JSON and builds a typed tree of
//! [`Node`]s; [`Filter::matches`] (in `filter/eval.rs`) evaluates it against a record's
//! [`Metadata`] without allocating.
//!
//! Semantics, following Pinecone:
//! - `$eq` / `$in` on a list-of-strings field match when any element matches; `$ne` / `$nin`
//!   are their exact negations (a list matches `{"$ne": x}` only when no element equals `x`).
//! - Type mismatches never match `$eq` / `$in` / range operators (`"2020"` is not `2020`), so
//!   they always match `$ne` / `$nin`. Range operators only ever match numbers.
//! - A missing field matches `$ne`, `$nin` and `$exists: false`, and nothing else. A record
//!   without metadata behaves as one with empty metadata.

mod eval;
mod parse;

use crate::error::Result;
use crate::metadata::Metadata;
use crate::sort::SmallSort;

/// Most values a `$in` / `$nin` operand may hold.
pub const MAX_IN_VALUES: usize = 10_000;

/// Deepest nesting of `$and` / `$or` accepted (guards the stack against hostile input).
pub const MAX_DEPTH: usize = 64;

/// A parsed, validated filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    root: Node,
}

/// One node of a filter's tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Every child matches (an empty `And` matches everything).
    And(Vec<Node>),
    /// At least one child matches.
    Or(Vec<Node>),
    /// One comparison on one metadata field.
    Field { key: String, op: Op },
}

/// A comparison operator with its operand.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Eq(Scalar),
    Ne(Scalar),
    Gt(f64),
    Gte(f64),
    Lt(f64),
    Lte(f64),
    /// Sorted (strings, then numbers) and deduplicated by the parser, for binary search.
    In(Vec<Scalar>),
    /// Sorted and deduplicated like [`Op::In`].
    Nin(Vec<Scalar>),
    Exists(bool),
}

/// A single operand value.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    String(String),
    Number(f64),
    Bool(bool),
}

impl Filter {
    /// Parses and validates a filter; every malformed filter is an
    /// [`Error::InvalidFilter`](crate::error::Error::InvalidFilter) naming where and why.
    /// `{}` matches every record.
    pub fn parse(json: &serde_json::Value) -> Result<Filter> {
        parse::parse(json).map(|root| Filter { root })
    }

    /// A filter that matches every record (the same as parsing `{}`).
    pub fn match_all() -> Filter {
        Filter {
            root: Node::And(Vec::new()),
        }
    }

    /// True when the filter accepts every record (`{}`).
    pub fn is_match_all(&self) -> bool {
        matches!(&self.root, Node::And(children) if children.is_empty())
    }

    /// Evaluates the filter against a record's metadata (`None`: the record has none).
    pub fn matches(&self, metadata: Option<&Metadata>) -> bool {
        eval::matches(&self.root, metadata)
    }

    /// The root of the filter's tree.
    pub fn root(&self) -> &Node {
        &self.root
    }

    /// The distinct field names the filter refers to, in sorted order.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        fn walk<'a>(node: &'a Node, out: &mut Vec<&'a str>) {
            match node {
                Node::And(children) | Node::Or(children) => {
                    children.iter().for_each(|c| walk(c, out));
                }
                Node::Field { key, .. } => out.push(key),
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut out);
        out.small_sort();
        out.dedup();
        out.into_iter()
    }
}

impl Default for Filter {
    fn default() -> Self {
        Filter::match_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use serde_json::json;

    fn md(json: serde_json::Value) -> Metadata {
        Metadata::from_json(&json).unwrap()
    }

    fn check(filter: serde_json::Value, metadata: serde_json::Value) -> bool {
        let f = Filter::parse(&filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
        f.matches(Some(&md(metadata)))
    }

    fn err(filter: serde_json::Value) -> (String, String) {
        match Filter::parse(&filter) {
            Err(Error::InvalidFilter { path, reason }) => (path, reason),
            other => panic!("{filter}: expected InvalidFilter, got {other:?}"),
        }
    }

    #[test]
    fn empty_filter_matches_everything() {
        let f = Filter::parse(&json!({})).unwrap();
        assert!(f.is_match_all());
        assert!(f.matches(None));
        assert!(f.matches(Some(&md(json!({"a": 1})))));
        assert!(!Filter::parse(&json!({"a": 1})).unwrap().is_match_all());
        assert_eq!(Filter::default(), f);
    }

    #[test]
    fn eq_and_implicit_eq() {
        let m = json!({"genre": "drama", "year": 2020, "live": true});
        assert!(check(json!({"genre": "drama"}), m.clone()));
        assert!(check(json!({"genre": {"$eq": "drama"}}), m.clone()));
        assert!(!check(json!({"genre": "comedy"}), m.clone()));
        assert!(check(json!({"year": 2020}), m.clone()));
        assert!(check(json!({"year": 2020.0}), m.clone()));
        assert!(!check(json!({"year": "2020"}), m.clone()));
        assert!(check(json!({"live": true}), m.clone()));
        assert!(!check(json!({"live": false}), m.clone()));
        assert!(!check(json!({"live": 1}), m.clone()));
        assert!(!check(json!({"missing": "x"}), m));
    }

    #[test]
    fn ne() {
        let m = json!({"genre": "drama", "year": 2020});
        assert!(!check(json!({"genre": {"$ne": "drama"}}), m.clone()));
        assert!(check(json!({"genre": {"$ne": "comedy"}}), m.clone()));
        assert!(check(json!({"year": {"$ne": "2020"}}), m.clone()));
        assert!(check(json!({"missing": {"$ne": 1}}), m.clone()));
        assert!(!check(json!({"year": {"$ne": 2020}}), m));
    }

    #[test]
    fn ranges() {
        let m = json!({"year": 2020, "title": "b", "live": true, "tags": ["a"]});
        assert!(check(json!({"year": {"$gt": 2019}}), m.clone()));
        assert!(!check(json!({"year": {"$gt": 2020}}), m.clone()));
        assert!(check(json!({"year": {"$gte": 2020}}), m.clone()));
        assert!(check(json!({"year": {"$lt": 2020.5}}), m.clone()));
        assert!(!check(json!({"year": {"$lt": 2020}}), m.clone()));
        assert!(check(json!({"year": {"$lte": 2020}}), m.clone()));
        assert!(check(
            json!({"year": {"$gte": 2010, "$lte": 2020}}),
            m.clone()
        ));
        assert!(!check(
            json!({"year": {"$gte": 2010, "$lt": 2020}}),
            m.clone()
        ));
        for key in ["title", "live", "tags", "missing"] {
            for op in ["$gt", "$gte", "$lt", "$lte"] {
                let mut f = serde_json::Map::new();
                f.insert(key.into(), json!({ op: 0 }));
                assert!(
                    !check(serde_json::Value::Object(f), m.clone()),
                    "{key} {op}"
                );
            }
        }
    }

    #[test]
    fn in_and_nin() {
        let m = json!({"genre": "drama", "year": 2020, "live": true});
        assert!(check(
            json!({"genre": {"$in": ["comedy", "drama"]}}),
            m.clone()
        ));
        assert!(!check(json!({"genre": {"$in": ["comedy", 1]}}), m.clone()));
        assert!(check(json!({"year": {"$in": ["2020", 2020]}}), m.clone()));
        assert!(!check(json!({"year": {"$in": ["2020"]}}), m.clone()));
        assert!(!check(json!({"live": {"$in": ["true", 1]}}), m.clone()));
        assert!(check(json!({"live": {"$nin": ["true", 1]}}), m.clone()));
        assert!(!check(json!({"genre": {"$nin": ["drama"]}}), m.clone()));
        assert!(check(json!({"genre": {"$nin": ["comedy"]}}), m.clone()));
        assert!(!check(json!({"missing": {"$in": ["x"]}}), m.clone()));
        assert!(check(json!({"missing": {"$nin": ["x"]}}), m.clone()));
        assert!(!check(json!({"genre": {"$in": []}}), m.clone()));
        assert!(check(json!({"genre": {"$nin": []}}), m));
        let zero = json!({"z": 0.0});
        assert!(check(json!({"z": {"$in": [-0.0]}}), zero.clone()));
        assert!(check(json!({"z": {"$in": [0]}}), json!({"z": -0.0})));
        let many: Vec<_> = (0..1000).rev().map(|i| json!(format!("v{i}"))).collect();
        assert!(check(json!({"s": {"$in": many}}), json!({"s": "v500"})));
    }

    #[test]
    fn exists() {
        let m = json!({"genre": "drama", "tags": ["a"], "n": 0, "b": false});
        for key in ["genre", "tags", "n", "b"] {
            let mut f = serde_json::Map::new();
            f.insert(key.into(), json!({"$exists": true}));
            assert!(check(serde_json::Value::Object(f), m.clone()), "{key}");
        }
        assert!(!check(json!({"missing": {"$exists": true}}), m.clone()));
        assert!(check(json!({"missing": {"$exists": false}}), m.clone()));
        assert!(!check(json!({"genre": {"$exists": false}}), m));
    }

    #[test]
    fn and_or_and_implicit_and() {
        let m = json!({"genre": "drama", "year": 2020});
        assert!(check(json!({"genre": "drama", "year": 2020}), m.clone()));
        assert!(!check(json!({"genre": "drama", "year": 2021}), m.clone()));
        assert!(check(
            json!({"$or": [{"genre": "comedy"}, {"year": 2020}]}),
            m.clone()
        ));
        assert!(!check(
            json!({"$or": [{"genre": "comedy"}, {"year": 1}]}),
            m.clone()
        ));
        assert!(check(
            json!({"$and": [{"genre": "drama"}, {"year": 2020}]}),
            m.clone()
        ));
        let nested = json!({"$and": [{"$or": [{"genre": "x"}, {"genre": "drama"}]}, {"year": {"$gt": 2000}}], "genre": {"$ne": "y"}});
        assert!(check(nested, m));
    }

    #[test]
    fn documented_list_examples() {
        let m = json!({"genre": ["comedy", "documentary"]});
        assert!(check(json!({"genre": "comedy"}), m.clone()));
        assert!(check(
            json!({"genre": {"$in": ["documentary", "action"]}}),
            m.clone()
        ));
        assert!(check(
            json!({"$and": [{"genre": "comedy"}, {"genre": "documentary"}]}),
            m.clone()
        ));
        assert!(!check(
            json!({"$and": [{"genre": "comedy"}, {"genre": "drama"}]}),
            m.clone()
        ));
        assert!(!check(json!({"genre": {"$ne": "comedy"}}), m.clone()));
        assert!(check(json!({"genre": {"$ne": "drama"}}), m.clone()));
        assert!(!check(
            json!({"genre": {"$nin": ["drama", "comedy"]}}),
            m.clone()
        ));
        assert!(check(json!({"genre": {"$nin": ["drama"]}}), m));
    }

    #[test]
    fn no_metadata_is_empty_metadata() {
        let f = |j: serde_json::Value| Filter::parse(&j).unwrap().matches(None);
        assert!(!f(json!({"a": 1})));
        assert!(f(json!({"a": {"$ne": 1}})));
        assert!(f(json!({"a": {"$nin": [1]}})));
        assert!(f(json!({"a": {"$exists": false}})));
        assert!(!f(json!({"a": {"$exists": true}})));
    }

    #[test]
    fn fields_lists_referenced_keys() {
        let f = Filter::parse(&json!({"b": 1, "$or": [{"a": 1}, {"b": {"$gt": 1, "$lt": 3}}]}));
        assert_eq!(f.unwrap().fields().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn errors() {
        let cases = [
            (json!({"genre": {"$foo": 1}}), "genre.$foo", "unknown"),
            (json!({"$foo": [{"a": 1}]}), "$foo", "unknown"),
            (
                json!({"genre": {"$in": "drama"}}),
                "genre.$in",
                "must be a list",
            ),
            (
                json!({"genre": {"$nin": 1}}),
                "genre.$nin",
                "must be a list",
            ),
            (json!({"genre": {"$in": [true]}}), "genre.$in[0]", "boolean"),
            (
                json!({"genre": {"$in": ["a", null]}}),
                "genre.$in[1]",
                "null",
            ),
            (json!({"genre": {"$in": [["a"]]}}), "genre.$in[0]", "list"),
            (json!({"year": {"$gt": "2020"}}), "year.$gt", "\"2020\""),
            (json!({"year": {"$lte": true}}), "year.$lte", "number"),
            (json!({"year": {"$exists": 1}}), "year.$exists", "boolean"),
            (json!({"year": {"$eq": [1]}}), "year.$eq", "list"),
            (json!({"genre": ["a", "b"]}), "genre", "$in"),
            (json!({"genre": null}), "genre", "null"),
            (json!({"genre": {"$ne": null}}), "genre.$ne", "null"),
            (json!({"genre": {"a": 1}}), "genre", "object"),
            (json!({"genre": {"$eq": {"a": 1}}}), "genre.$eq", "object"),
            (json!({"genre": {}}), "genre", "empty"),
            (json!({"$and": []}), "$and", "empty"),
            (json!({"$or": {}}), "$or", "list"),
            (json!({"$and": [1]}), "$and[0]", "object"),
            (json!({"$and": [{}]}), "$and[0]", "empty"),
            (
                json!({"$and": [{"a": 1}, {"y": {"$gt": "x"}}]}),
                "$and[1].y.$gt",
                "number",
            ),
            (json!({"$eq": 1}), "$eq", "field"),
            (
                json!({"genre": {"$and": [{"a": 1}]}}),
                "genre.$and",
                "field",
            ),
            (json!([{"a": 1}]), "", "object"),
            (json!(null), "", "object"),
        ];
        for (filter, want_path, want_reason) in cases {
            let (path, reason) = err(filter.clone());
            assert_eq!(path, want_path, "{filter}: {reason}");
            assert!(reason.contains(want_reason), "{filter}: {reason}");
        }
    }

    #[test]
    fn in_limit() {
        let ok: Vec<_> = (0..MAX_IN_VALUES).map(|i| json!(i)).collect();
        assert!(Filter::parse(&json!({"a": {"$in": ok}})).is_ok());
        let big: Vec<_> = (0..=MAX_IN_VALUES).map(|i| json!(i)).collect();
        let (path, reason) = err(json!({"a": {"$nin": big}}));
        assert_eq!(path, "a.$nin");
        assert!(reason.contains("10000"), "{reason}");
    }

    #[test]
    fn depth_limit() {
        let mut f = json!({"a": 1});
        for _ in 0..MAX_DEPTH + 1 {
            f = json!({ "$and": [f] });
        }
        let (_, reason) = err(f);
        assert!(reason.contains("deep"), "{reason}");
    }
}
