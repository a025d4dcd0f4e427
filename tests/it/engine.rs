//! Engine-level behaviour through the Rust API (also run on wasm32 under Node).

use larch::db::{DeleteSelector, Query, QuerySource};
use larch::namespace::QueryVector;
use larch::{Db, Filter, IndexConfig, Metadata, Metric, Record};
use serde_json::json;

use crate::wasm_test;

fn rec(id: &str, values: &[f32], md: Option<serde_json::Value>) -> Record {
    Record {
        id: id.into(),
        values: values.to_vec(),
        sparse_values: None,
        metadata: md.map(|m| Metadata::from_json(&m).unwrap()),
    }
}

fn query(values: &[f32], k: usize, filter: Option<serde_json::Value>) -> Query {
    Query {
        vector: QuerySource::Vector(QueryVector {
            values: Some(values.to_vec()),
            sparse_values: None,
        }),
        top_k: k,
        filter: filter.map(|f| Filter::parse(&f).unwrap()),
        include_values: true,
        include_metadata: true,
    }
}

wasm_test! {
    fn tenants_are_isolated_and_scores_follow_the_metric() {
        let mut db = Db::new();
        db.create_index(IndexConfig::dense("ix", 3, Metric::Euclidean)).unwrap();
        let ix = db.index_mut("ix").unwrap();
        ix.upsert("t1", vec![rec("x", &[1.0, 0.0, 0.0], None), rec("y", &[3.0, 0.0, 0.0], None)])
            .unwrap();
        ix.upsert("t2", vec![rec("z", &[1.0, 0.0, 0.0], None)]).unwrap();
        let m = ix.query("t1", &query(&[0.0, 0.0, 0.0], 10, None)).unwrap();
        let got: Vec<(&str, f32)> = m.iter().map(|m| (m.id.as_str(), m.score)).collect();
        assert_eq!(got, vec![("x", 1.0), ("y", 9.0)]);
        let m = ix.query("t2", &query(&[0.0, 0.0, 0.0], 10, None)).unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].id, "z");
    }
}

wasm_test! {
    fn filters_apply_before_top_k() {
        let mut db = Db::new();
        db.create_index(IndexConfig::dense("ix", 2, Metric::DotProduct)).unwrap();
        let ix = db.index_mut("ix").unwrap();
        let records = (0..50)
            .map(|i| rec(&format!("r{i:02}"), &[i as f32, 1.0], Some(json!({"even": i % 2 == 0}))))
            .collect();
        ix.upsert("", records).unwrap();
        let m = ix.query("__default__", &query(&[1.0, 0.0], 3, Some(json!({"even": false})))).unwrap();
        let ids: Vec<&str> = m.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, vec!["r49", "r47", "r45"]);
        assert_eq!(m[0].metadata.as_ref().unwrap().to_json(), json!({"even": false}));
    }
}

wasm_test! {
    fn cosine_scores_are_normalised() {
        let mut db = Db::new();
        db.create_index(IndexConfig::dense("ix", 2, Metric::Cosine)).unwrap();
        let ix = db.index_mut("ix").unwrap();
        ix.upsert("n", vec![rec("a", &[2.0, 0.0], None), rec("b", &[1.0, 1.0], None)]).unwrap();
        let m = ix.query("n", &query(&[5.0, 0.0], 2, None)).unwrap();
        assert_eq!(m[0].id, "a");
        assert!((m[0].score - 1.0).abs() < 1e-6);
        assert!((m[1].score - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
    }
}

wasm_test! {
    fn delete_all_then_query_is_empty_and_namespace_gone() {
        let mut db = Db::new();
        db.create_index(IndexConfig::dense("ix", 2, Metric::Cosine)).unwrap();
        let ix = db.index_mut("ix").unwrap();
        ix.upsert("n", vec![rec("a", &[1.0, 0.0], None)]).unwrap();
        assert_eq!(ix.delete("n", &DeleteSelector::All).unwrap(), 1);
        assert!(ix.query("n", &query(&[1.0, 0.0], 1, None)).unwrap().is_empty());
        assert!(ix.namespace("n").unwrap().is_none());
        assert!(ix.stats(None).unwrap().namespaces.is_empty());
    }
}
