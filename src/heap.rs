//! Heap sizes: estimates of the bytes the engine's in-memory structures hold, for
//! [`Namespace::resident_bytes`](crate::namespace::Namespace::resident_bytes).
//!
//! They count buffer capacities and the node or bucket layouts of the standard collections;
//! allocator bookkeeping is not counted. Unlike anything stored, they depend on the target:
//! pointers and `String`s are twice as large natively as on wasm32.

use std::mem::size_of;

/// Entries of a `BTreeMap` node (`2 * B - 1` with `B = 6`).
const BTREE_NODE_ENTRIES: usize = 11;

/// Entries per node of a large `BTreeMap`, on average: nodes are split when full, so they
/// are between half full and full.
const BTREE_FILL: usize = 8;

/// Bytes of a vector's buffer.
pub(crate) fn vec<T>(v: &Vec<T>) -> usize {
    v.capacity() * size_of::<T>()
}

/// Bytes of a `BTreeMap<K, V>` node: its entries, plus the parent link and lengths.
fn btree_node<K, V>() -> usize {
    BTREE_NODE_ENTRIES * (size_of::<K>() + size_of::<V>()) + 2 * size_of::<usize>()
}

/// Node bytes one entry of a large `BTreeMap<K, V>` costs on average (internal nodes, one
/// per [`BTREE_FILL`] leaves, with their child links, included).
pub(crate) fn btree_entry<K, V>() -> usize {
    let leaf = btree_node::<K, V>();
    let internal = leaf + (BTREE_NODE_ENTRIES + 1) * size_of::<usize>();
    (leaf + internal / BTREE_FILL).div_ceil(BTREE_FILL)
}

/// Node bytes of a `BTreeMap<K, V>` of `len` entries (the keys' and values' own heap not
/// included): one leaf for up to 11 entries, [`btree_entry`] per entry beyond.
pub(crate) fn btree_map<K, V>(len: usize) -> usize {
    match len {
        0 => 0,
        n if n <= BTREE_NODE_ENTRIES => btree_node::<K, V>(),
        n => n * btree_entry::<K, V>(),
    }
}

/// Table bytes of a `HashMap<K, V>` of `capacity` ([`std::collections::HashMap::capacity`]):
/// a power of two of buckets, at most 7/8 full, each an entry and a control byte, plus one
/// group of control bytes.
pub(crate) fn hash_map<K, V>(capacity: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 8 {
        (capacity + 1).next_power_of_two().max(4)
    } else {
        (capacity * 8 / 7).next_power_of_two()
    };
    buckets * (size_of::<(K, V)>() + 1) + 16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn collections_cost_at_least_their_entries() {
        let entry = size_of::<String>() + size_of::<u32>();
        assert_eq!(btree_map::<String, u32>(0), 0);
        assert!(
            btree_map::<String, u32>(1) >= 11 * entry,
            "a leaf holds 11 slots"
        );
        assert!(btree_map::<String, u32>(1000) >= 1000 * entry);
        assert!(btree_map::<String, u32>(1000) <= 2000 * entry);
        let map: std::collections::HashMap<u32, u32> = (0..100).map(|i| (i, i)).collect();
        assert!(hash_map::<u32, u32>(map.capacity()) >= 100 * 9);
        assert_eq!(vec(&Vec::<u64>::with_capacity(10)), 80);
    }
}
