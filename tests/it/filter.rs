#![cfg(not(target_arch = "wasm32"))]
//! Property tests of the metadata filter language: `Filter::parse(..).matches(..)` agrees with a
//! naive evaluator written directly over `serde_json::Value`, junk never panics the parser, and
//! a segment's metadata index selects what the naive evaluator accepts, built or stored and read
//! back.

use larch::segment::postings::Postings;
use larch::{Error, Filter, Metadata};
use proptest::prelude::*;
use serde_json::{Map, Value as J, json};

const KEYS: [&str; 4] = ["a", "b", "c", "d"];
const WORDS: [&str; 3] = ["x", "y", "z"];
const OPERATORS: [&str; 13] = [
    "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$and", "$or", "$foo", "",
];

// ---- The naive evaluator ----------------------------------------------------------------------

/// Does `filter` (a valid filter object) accept `md`? Every key must hold: `$and` / `$or` over
/// their clauses, anything else is a field condition.
fn naive(filter: &J, md: &Map<String, J>) -> bool {
    let clauses = |v: &J| v.as_array().expect("$and/$or hold a list").clone();
    filter
        .as_object()
        .expect("a filter is an object")
        .iter()
        .all(|(key, cond)| match key.as_str() {
            "$and" => clauses(cond).iter().all(|c| naive(c, md)),
            "$or" => clauses(cond).iter().any(|c| naive(c, md)),
            _ => match cond {
                J::Object(ops) => ops.iter().all(|(op, arg)| naive_op(md.get(key), op, arg)),
                scalar => naive_op(md.get(key), "$eq", scalar),
            },
        })
}

/// One operator against a field's value (`None`: missing).
fn naive_op(value: Option<&J>, op: &str, arg: &J) -> bool {
    let num = value.and_then(|v| if v.is_number() { v.as_f64() } else { None });
    let bound = || arg.as_f64().expect("range operand is a number");
    let list = || arg.as_array().expect("$in operand is a list");
    match op {
        "$eq" => value.is_some_and(|v| naive_eq(v, arg)),
        "$ne" => !value.is_some_and(|v| naive_eq(v, arg)),
        "$gt" => num.is_some_and(|n| n > bound()),
        "$gte" => num.is_some_and(|n| n >= bound()),
        "$lt" => num.is_some_and(|n| n < bound()),
        "$lte" => num.is_some_and(|n| n <= bound()),
        "$in" => value.is_some_and(|v| list().iter().any(|a| naive_eq(v, a))),
        "$nin" => !value.is_some_and(|v| list().iter().any(|a| naive_eq(v, a))),
        "$exists" => value.is_some() == arg.as_bool().expect("$exists operand is a boolean"),
        other => panic!("unexpected operator {other}"),
    }
}

/// Equality of a metadata value and an operand: same type and value; numbers as `f64`; a list
/// of strings equals an operand when any element does.
fn naive_eq(value: &J, arg: &J) -> bool {
    match (value, arg) {
        (J::Array(items), _) => items.iter().any(|item| item == arg),
        (J::Number(a), J::Number(b)) => a.as_f64() == b.as_f64(),
        _ => value == arg,
    }
}

// ---- Strategies -------------------------------------------------------------------------------

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(&KEYS[..]).prop_map(String::from)
}

fn word() -> impl Strategy<Value = J> {
    prop::sample::select(&WORDS[..]).prop_map(|w| json!(w))
}

fn number() -> impl Strategy<Value = J> {
    prop::sample::select(vec![
        json!(-1),
        json!(0),
        json!(-0.0),
        json!(1),
        json!(1.0),
        json!(1.5),
        json!(2),
    ])
}

fn boolean() -> impl Strategy<Value = J> {
    any::<bool>().prop_map(J::Bool)
}

fn scalar() -> impl Strategy<Value = J> {
    prop_oneof![word(), number(), boolean()]
}

fn metadata() -> impl Strategy<Value = Map<String, J>> {
    let value = prop_oneof![
        word(),
        number(),
        boolean(),
        prop::collection::vec(word(), 0..3).prop_map(J::Array),
    ];
    prop::collection::vec((key(), value), 0..5).prop_map(|kv| kv.into_iter().collect())
}

/// A field's condition: a bare scalar (implicit `$eq`) or an object of 1–3 operators.
fn condition() -> impl Strategy<Value = J> {
    let op = prop_oneof![
        scalar().prop_map(|v| ("$eq", v)),
        scalar().prop_map(|v| ("$ne", v)),
        (
            prop::sample::select(&["$gt", "$gte", "$lt", "$lte"][..]),
            number()
        ),
        (
            prop::sample::select(&["$in", "$nin"][..]),
            prop::collection::vec(prop_oneof![word(), number()], 0..4).prop_map(J::Array),
        ),
        boolean().prop_map(|v| ("$exists", v)),
    ];
    let ops = prop::collection::vec(op, 1..4)
        .prop_map(|ops| J::Object(ops.into_iter().map(|(o, v)| (o.to_string(), v)).collect()));
    prop_oneof![scalar(), ops]
}

/// A non-empty filter object, `$and` / `$or` nested at most three deep.
fn clause() -> impl Strategy<Value = J> {
    let leaf = prop::collection::vec((key(), condition()), 1..3)
        .prop_map(|kv| J::Object(kv.into_iter().collect()));
    leaf.prop_recursive(3, 32, 3, |inner| {
        (
            prop::collection::vec((key(), condition()), 0..3),
            prop::option::of(prop::collection::vec(inner.clone(), 1..4)),
            prop::option::of(prop::collection::vec(inner, 1..4)),
        )
            .prop_filter_map("empty filter object", |(fields, and, or)| {
                let mut map: Map<String, J> = fields.into_iter().collect();
                if let Some(and) = and {
                    map.insert("$and".into(), J::Array(and));
                }
                if let Some(or) = or {
                    map.insert("$or".into(), J::Array(or));
                }
                (!map.is_empty()).then_some(J::Object(map))
            })
    })
}

fn filter() -> impl Strategy<Value = J> {
    prop_oneof![1 => Just(json!({})), 9 => clause()]
}

/// Arbitrary JSON whose object keys are often operators or field names.
fn junk() -> impl Strategy<Value = J> {
    let leaf = prop_oneof![
        Just(J::Null),
        boolean(),
        number(),
        word(),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(1e300)),
        Just(json!("")),
    ];
    let junk_key = prop_oneof![
        key(),
        prop::sample::select(&OPERATORS[..]).prop_map(String::from)
    ];
    leaf.prop_recursive(4, 48, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(J::Array),
            prop::collection::vec((junk_key.clone(), inner), 0..4)
                .prop_map(|kv| J::Object(kv.into_iter().collect())),
        ]
    })
}

// ---- Properties -------------------------------------------------------------------------------

fn to_metadata(md: &Map<String, J>) -> Metadata {
    Metadata::from_json(&J::Object(md.clone())).expect("generated metadata is valid")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn matches_agrees_with_naive_evaluator(f in filter(), md in metadata()) {
        let parsed = Filter::parse(&f);
        prop_assert!(parsed.is_ok(), "{f}: {:?}", parsed);
        let parsed = parsed.expect("checked");
        let want = naive(&f, &md);
        prop_assert_eq!(parsed.matches(Some(&to_metadata(&md))), want, "filter {} on {:?}", f, md);
        prop_assert_eq!(parsed.matches(None), naive(&f, &Map::new()), "filter {} on None", f);
        prop_assert_eq!(parsed.is_match_all(), f == json!({}));
    }

    #[test]
    fn junk_never_panics(j in junk(), md in metadata()) {
        match Filter::parse(&j) {
            // Whatever the parser accepts, the naive evaluator (which panics on anything
            // malformed) must understand and agree with.
            Ok(parsed) => {
                prop_assert_eq!(parsed.matches(Some(&to_metadata(&md))), naive(&j, &md), "{}", j);
                prop_assert_eq!(parsed.matches(None), naive(&j, &Map::new()), "{}", j);
            }
            Err(Error::InvalidFilter { .. }) => {}
            Err(other) => prop_assert!(false, "{j}: unexpected error {other:?}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Postings built from random records (some without metadata), and the same postings
    /// stored and read back, select exactly the records the naive evaluator accepts.
    #[test]
    fn stored_postings_select_what_the_naive_evaluator_accepts(
        records in prop::collection::vec(prop::option::of(metadata()), 0..120),
        filters in prop::collection::vec(filter(), 1..4),
    ) {
        let mds: Vec<Option<Metadata>> = records.iter().map(|r| r.as_ref().map(to_metadata)).collect();
        let built = Postings::build(mds.iter().map(Option::as_ref));
        let bytes = built.to_bytes();
        let decoded = Postings::from_bytes(&bytes, mds.len());
        prop_assert!(decoded.is_ok(), "{:?}", decoded.err());
        let decoded = decoded.expect("checked");
        prop_assert_eq!(decoded.to_bytes(), bytes);
        prop_assert!(decoded.heap_bytes() <= built.heap_bytes());
        prop_assert!(Postings::from_bytes(&built.to_bytes(), mds.len() + 1).is_err());
        let empty = Map::new();
        for f in &filters {
            let parsed = Filter::parse(f).expect("generated filters are valid");
            let want: Vec<u32> = records
                .iter()
                .enumerate()
                .filter(|(_, md)| naive(f, md.as_ref().unwrap_or(&empty)))
                .map(|(slot, _)| slot as u32)
                .collect();
            for (which, p) in [("built", &built), ("decoded", &decoded)] {
                let got: Vec<u32> = p.select(&parsed).iter().collect();
                prop_assert_eq!(&got, &want, "{} postings, filter {}", which, f);
            }
        }
    }
}
