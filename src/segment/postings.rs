//! A sealed segment's metadata index: for each field, the slots holding each string or boolean
//! value (a list's elements count as strings), the slots holding it at all, and its numbers in
//! sorted order. [`Postings::select`] turns any filter into the exact set of matching slots with
//! set operations on those lists, never looking at a record's metadata; a query does that once
//! per segment and then tests one bit per record the graph reaches.
//!
//! Postings are built from a segment's metadata ([`Postings::build`]) or decoded from their
//! stored bytes ([`Postings::from_bytes`], layout in [`format`]); both answer every filter
//! alike.

mod format;

use std::collections::HashMap;

use crate::error::Result;
use crate::filter::{Filter, Node, Op, Scalar};
use crate::heap;
use crate::metadata::{Metadata, Value};
use crate::sort::SmallSort;

/// A set of slots `0..len`, one bit each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotSet {
    words: Vec<u64>,
    len: usize,
}

impl SlotSet {
    /// No slot of `len`.
    pub(crate) fn empty(len: usize) -> Self {
        SlotSet {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }

    /// Every slot of `len`.
    pub(crate) fn full(len: usize) -> Self {
        let mut s = SlotSet {
            words: vec![u64::MAX; len.div_ceil(64)],
            len,
        };
        s.trim();
        s
    }

    /// The slots of an ascending (or any) list.
    fn from_slots(len: usize, slots: impl IntoIterator<Item = u32>) -> Self {
        let mut s = SlotSet::empty(len);
        for slot in slots {
            s.insert(slot);
        }
        s
    }

    /// Clears the bits past `len` in the last word.
    fn trim(&mut self) {
        if let Some(last) = self.words.last_mut()
            && !self.len.is_multiple_of(64)
        {
            *last &= (1u64 << (self.len % 64)) - 1;
        }
    }

    fn insert(&mut self, slot: u32) {
        let s = slot as usize;
        self.words[s / 64] |= 1 << (s % 64);
    }

    /// True when `slot` is in the set.
    #[inline]
    pub fn contains(&self, slot: u32) -> bool {
        let s = slot as usize;
        self.words
            .get(s / 64)
            .is_some_and(|w| w & (1 << (s % 64)) != 0)
    }

    /// The slots in the set, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                (w != 0).then(|| {
                    let bit = w.trailing_zeros();
                    w &= w - 1;
                    (i * 64) as u32 + bit
                })
            })
        })
    }

    /// Number of slots in the set.
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    fn union_with(&mut self, other: &SlotSet) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    fn intersect_with(&mut self, other: &SlotSet) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= b;
        }
    }

    /// Removes every slot whose bit is set in `words` (a bitmap of the same layout, such as
    /// a segment's tombstones).
    pub(crate) fn remove_words(&mut self, words: &[u64]) {
        for (a, b) in self.words.iter_mut().zip(words) {
            *a &= !b;
        }
    }

    fn complement(&mut self) {
        for w in &mut self.words {
            *w = !*w;
        }
        self.trim();
    }
}

/// A string or boolean value, as postings key it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Str(String),
    Bool(bool),
}

/// One field's postings.
#[derive(Debug, Clone, Default)]
struct Field {
    /// Slots holding each string (or list element) and boolean, ascending.
    values: HashMap<Key, Vec<u32>>,
    /// Slots holding the field at all, ascending.
    present: Vec<u32>,
    /// The numeric values, ascending (`-0` stored as `0`; ties in slot order).
    numbers: Vec<f64>,
    /// The slot of each of `numbers`.
    number_slots: Vec<u32>,
}

/// The metadata index of one segment (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct Postings {
    records: usize,
    fields: HashMap<String, Field>,
    /// [`Postings::heap_bytes`], computed on first use (only memory accounting asks).
    bytes: std::sync::OnceLock<usize>,
}

impl Postings {
    /// Indexes the metadata of every slot, in slot order.
    pub fn build<'a>(records: impl Iterator<Item = Option<&'a Metadata>>) -> Self {
        let mut p = Postings::default();
        let mut seen: Vec<&str> = Vec::new();
        for (slot, md) in records.enumerate() {
            p.records += 1;
            let Some(md) = md else { continue };
            let slot = slot as u32;
            for (k, v) in md.iter() {
                let field = match p.fields.get_mut(k) {
                    Some(f) => f,
                    None => p.fields.entry(k.to_string()).or_default(),
                };
                field.present.push(slot);
                let mut post = |key: Key| field.values.entry(key).or_default().push(slot);
                match v {
                    Value::String(s) => post(Key::Str(s.clone())),
                    Value::Bool(b) => post(Key::Bool(*b)),
                    Value::List(l) => {
                        seen.clear();
                        seen.extend(l.iter().map(String::as_str));
                        seen.small_sort();
                        seen.dedup();
                        for s in &seen {
                            post(Key::Str((*s).to_string()));
                        }
                    }
                    Value::Number(n) => {
                        field.numbers.push(normal(*n));
                        field.number_slots.push(slot);
                    }
                }
            }
        }
        // Sorted, and without the slack of growing (the decoded form has none either).
        for f in p.fields.values_mut() {
            let mut pairs: Vec<(f64, u32)> = (f.numbers.iter().copied())
                .zip(f.number_slots.iter().copied())
                .collect();
            // core's sort here: the one large sort of a build (every number of a segment; heapsort
            // made `Postings::build` ~20% slower at 60k records, benches/postings.rs).
            pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            (f.numbers, f.number_slots) = pairs.into_iter().unzip();
            f.present.shrink_to_fit();
            f.values.values_mut().for_each(Vec::shrink_to_fit);
        }
        p
    }

    /// Bytes held: the tables, field names, values and slot lists.
    pub fn heap_bytes(&self) -> usize {
        *self.bytes.get_or_init(|| self.count_bytes())
    }

    /// The stored form (see [`format`]): the same postings always give the same bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        format::encode(self)
    }

    /// Postings of a segment of `slots` records from bytes [`Postings::to_bytes`] wrote,
    /// validated in full: anything the layout rules out is
    /// [`Error::Corrupt`](crate::error::Error::Corrupt), never a panic, and nothing is
    /// allocated beyond what the bytes' length allows.
    pub fn from_bytes(bytes: &[u8], slots: usize) -> Result<Self> {
        format::decode(bytes, slots)
    }

    fn count_bytes(&self) -> usize {
        let field = |(name, f): (&String, &Field)| {
            let values: usize = f
                .values
                .iter()
                .map(|(k, slots)| {
                    let key = match k {
                        Key::Str(s) => s.capacity(),
                        Key::Bool(_) => 0,
                    };
                    key + heap::vec(slots)
                })
                .sum();
            name.capacity()
                + heap::hash_map::<Key, Vec<u32>>(f.values.capacity())
                + values
                + heap::vec(&f.present)
                + heap::vec(&f.numbers)
                + heap::vec(&f.number_slots)
        };
        heap::hash_map::<String, Field>(self.fields.capacity())
            + self.fields.iter().map(field).sum::<usize>()
    }

    /// The slots whose metadata `filter` matches: exactly the slots `s` with
    /// `filter.matches(metadata(s))`.
    pub fn select(&self, filter: &Filter) -> SlotSet {
        self.node(filter.root())
    }

    fn node(&self, node: &Node) -> SlotSet {
        let n = self.records;
        match node {
            Node::And(children) => {
                let mut out = SlotSet::full(n);
                for c in children {
                    out.intersect_with(&self.node(c));
                }
                out
            }
            Node::Or(children) => {
                let mut out = SlotSet::empty(n);
                for c in children {
                    out.union_with(&self.node(c));
                }
                out
            }
            Node::Field { key, op } => {
                let Some(field) = self.fields.get(key) else {
                    // Missing everywhere: only the negative operators match (every slot).
                    return match op {
                        Op::Ne(_) | Op::Nin(_) | Op::Exists(false) => SlotSet::full(n),
                        _ => SlotSet::empty(n),
                    };
                };
                let range = |lo: Bound, hi: Bound| {
                    SlotSet::from_slots(n, field.number_range(lo, hi).iter().copied())
                };
                let negate = |mut s: SlotSet| {
                    s.complement();
                    s
                };
                match op {
                    Op::Eq(v) => self.equal(field, v),
                    Op::Ne(v) => negate(self.equal(field, v)),
                    Op::Gt(x) => range(Bound::Above(*x), Bound::None),
                    Op::Gte(x) => range(Bound::AtLeast(*x), Bound::None),
                    Op::Lt(x) => range(Bound::None, Bound::Below(*x)),
                    Op::Lte(x) => range(Bound::None, Bound::AtMost(*x)),
                    Op::In(vs) => self.any_of(field, vs),
                    Op::Nin(vs) => negate(self.any_of(field, vs)),
                    Op::Exists(true) => SlotSet::from_slots(n, field.present.iter().copied()),
                    Op::Exists(false) => {
                        negate(SlotSet::from_slots(n, field.present.iter().copied()))
                    }
                }
            }
        }
    }

    /// `$eq`: strings also match list elements; numbers compare as numbers (`-0 == 0`).
    fn equal(&self, field: &Field, v: &Scalar) -> SlotSet {
        let n = self.records;
        match v {
            Scalar::String(s) => field.slots(&Key::Str(s.clone()), n),
            Scalar::Bool(b) => field.slots(&Key::Bool(*b), n),
            Scalar::Number(x) => SlotSet::from_slots(
                n,
                field
                    .number_range(Bound::AtLeast(*x), Bound::AtMost(*x))
                    .iter()
                    .copied(),
            ),
        }
    }

    /// `$in`: strings and numbers, as `$eq` does; booleans never match (as in evaluation).
    fn any_of(&self, field: &Field, vs: &[Scalar]) -> SlotSet {
        let mut out = SlotSet::empty(self.records);
        for v in vs.iter().filter(|v| !matches!(v, Scalar::Bool(_))) {
            out.union_with(&self.equal(field, v));
        }
        out
    }
}

impl Field {
    fn slots(&self, key: &Key, n: usize) -> SlotSet {
        SlotSet::from_slots(n, self.values.get(key).into_iter().flatten().copied())
    }

    /// The slots of the numbers between two bounds.
    fn number_range(&self, lo: Bound, hi: Bound) -> &[u32] {
        let nums = &self.numbers;
        let start = match lo {
            Bound::AtLeast(x) => nums.partition_point(|&v| v < x),
            Bound::Above(x) => nums.partition_point(|&v| v <= x),
            _ => 0,
        };
        let end = match hi {
            Bound::AtMost(x) => nums.partition_point(|&v| v <= x),
            Bound::Below(x) => nums.partition_point(|&v| v < x),
            _ => nums.len(),
        };
        &self.number_slots[start..end.max(start)]
    }
}

/// One end of a numeric range (`<` and `<=` compare floats as evaluation does).
#[derive(Debug, Clone, Copy)]
enum Bound {
    None,
    AtLeast(f64),
    Above(f64),
    AtMost(f64),
    Below(f64),
}

/// `-0` as `0`, so sorting by total order keeps numerically equal values together.
fn normal(x: f64) -> f64 {
    if x == 0.0 { 0.0 } else { x }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(mds: &[Option<Metadata>], fj: &serde_json::Value) {
        let p = Postings::build(mds.iter().map(Option::as_ref));
        let f = Filter::parse(fj).unwrap();
        let got = p.select(&f);
        for (slot, md) in mds.iter().enumerate() {
            assert_eq!(
                got.contains(slot as u32),
                f.matches(md.as_ref()),
                "{fj} at slot {slot}: {md:?}"
            );
        }
        let want = mds.iter().filter(|m| f.matches(m.as_ref())).count();
        assert_eq!(got.count(), want, "{fj}");
    }

    #[test]
    fn selects_exactly_what_evaluation_matches() {
        let mds: Vec<Option<Metadata>> = (0..130)
            .map(|i| {
                (i % 10 != 9).then(|| {
                    Metadata::from_json(&json!({
                        "g": format!("{}", i % 4),
                        "b": i % 2 == 0,
                        "l": ["x", "x", if i < 30 { "y" } else { "z" }],
                        "n": if i % 7 == 0 { -0.0 } else { (i % 13) as f64 - 3.5 },
                        "mixed": if i % 3 == 0 { json!("1") } else { json!(1) },
                    }))
                    .unwrap()
                })
            })
            .collect();
        for fj in [
            json!({"g": "1"}),
            json!({"g": {"$ne": "1"}}),
            json!({"g": {"$in": ["0", "3", "nope"]}}),
            json!({"g": {"$nin": ["0", "3"]}}),
            json!({"b": true}),
            json!({"l": "y"}),
            json!({"l": {"$ne": "x"}}),
            json!({"l": {"$in": ["y", "q"]}}),
            json!({"missing": "v"}),
            json!({"missing": {"$ne": "v"}}),
            json!({"missing": {"$exists": false}}),
            json!({"n": 0}),
            json!({"n": {"$ne": 0}}),
            json!({"n": {"$gt": 0}}),
            json!({"n": {"$gte": -2.5, "$lt": 4.5}}),
            json!({"n": {"$lte": -3.5}}),
            json!({"n": {"$in": [0, 1.5, "x"]}}),
            json!({"n": {"$nin": [0, 1.5]}}),
            json!({"mixed": 1}),
            json!({"mixed": "1"}),
            json!({"mixed": {"$gt": 0}}),
            json!({"g": {"$exists": true}}),
            json!({"$and": [{"g": "1"}, {"b": false}]}),
            json!({"$or": [{"g": "1"}, {"n": {"$lt": 0}}]}),
            json!({"$or": [{"$and": [{"g": "2"}, {"l": "y"}]}, {"missing": {"$exists": true}}]}),
            json!({}),
        ] {
            check(&mds, &fj);
        }
    }

    #[test]
    fn slot_sets_trim_past_len() {
        for len in [0, 1, 63, 64, 65, 130] {
            let mut s = SlotSet::empty(len);
            s.complement();
            assert_eq!(s.count(), len);
            assert_eq!(SlotSet::full(len).count(), len);
            assert!(!s.contains(len as u32));
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod props {
        use super::*;
        use proptest::prelude::*;

        fn value() -> impl Strategy<Value = serde_json::Value> {
            prop_oneof![
                prop::sample::select(vec!["a", "b", "c"]).prop_map(|s| json!(s)),
                (-3i32..4).prop_map(|n| json!(f64::from(n) / 2.0)),
                any::<bool>().prop_map(|b| json!(b)),
                prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 0..3)
                    .prop_map(|l| json!(l)),
            ]
        }

        fn scalar() -> impl Strategy<Value = serde_json::Value> {
            prop_oneof![
                prop::sample::select(vec!["a", "b", "c", "d"]).prop_map(|s| json!(s)),
                (-4i32..5).prop_map(|n| json!(f64::from(n) / 2.0)),
                any::<bool>().prop_map(|b| json!(b)),
            ]
        }

        fn leaf() -> impl Strategy<Value = serde_json::Value> {
            let field = prop::sample::select(vec!["f", "g", "h"]);
            let num = (-4i32..5).prop_map(|n| json!(f64::from(n) / 2.0));
            let list = prop::collection::vec(
                prop_oneof![
                    prop::sample::select(vec!["a", "b", "d"]).prop_map(|s| json!(s)),
                    (-2i32..3).prop_map(|n| json!(n)),
                ],
                1..3,
            )
            .prop_map(|l| json!(l));
            let op = prop_oneof![
                scalar().prop_map(|v| json!({"$eq": v})),
                scalar().prop_map(|v| json!({"$ne": v})),
                num.clone().prop_map(|v| json!({"$gt": v})),
                num.clone().prop_map(|v| json!({"$gte": v})),
                num.clone().prop_map(|v| json!({"$lt": v})),
                num.prop_map(|v| json!({"$lte": v})),
                list.clone().prop_map(|l| json!({"$in": l})),
                list.prop_map(|l| json!({"$nin": l})),
                any::<bool>().prop_map(|b| json!({"$exists": b})),
            ];
            (field, op).prop_map(|(f, op)| json!({ f: op }))
        }

        fn filter() -> impl Strategy<Value = serde_json::Value> {
            leaf().prop_recursive(3, 12, 3, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 1..4).prop_map(|c| json!({"$and": c})),
                    prop::collection::vec(inner, 1..4).prop_map(|c| json!({"$or": c})),
                ]
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
            /// Selection by postings equals evaluation, record by record, on random metadata
            /// (fields missing, of mixed types, lists) and random filters.
            #[test]
            fn selection_equals_evaluation(
                records in prop::collection::vec(
                    prop::option::of(prop::collection::btree_map(
                        prop::sample::select(vec!["f", "g", "h"]).prop_map(String::from),
                        value(),
                        0..3,
                    )),
                    0..150,
                ),
                fj in filter(),
            ) {
                let mds: Vec<Option<Metadata>> = records
                    .into_iter()
                    .map(|r| r.map(|m| Metadata::from_json(&json!(m)).unwrap()))
                    .collect();
                let Ok(f) = Filter::parse(&fj) else { return Ok(()); };
                let p = Postings::build(mds.iter().map(Option::as_ref));
                let got = p.select(&f);
                for (slot, md) in mds.iter().enumerate() {
                    prop_assert_eq!(got.contains(slot as u32), f.matches(md.as_ref()), "{} at {}", fj, slot);
                }
                prop_assert_eq!(got.count(), mds.iter().filter(|m| f.matches(m.as_ref())).count());
                let listed: Vec<u32> = got.iter().collect();
                let want: Vec<u32> = (0..mds.len() as u32).filter(|&s| f.matches(mds[s as usize].as_ref())).collect();
                prop_assert_eq!(listed, want);
                // Stored and read back, they select the same.
                let bytes = p.to_bytes();
                let decoded = Postings::from_bytes(&bytes, mds.len()).unwrap();
                prop_assert_eq!(decoded.select(&f), got);
                prop_assert_eq!(decoded.to_bytes(), bytes);
            }
        }
    }
}
