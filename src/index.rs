//! Search structures over one namespace's records.
//!
//! `flat` is the exact scan (memtable, small segments, selective filters and the recall oracle);
//! `sparse` scores sparse vectors.

pub mod flat;
pub mod sparse;
