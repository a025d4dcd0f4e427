//! A small unstable sort for the engine's own sorts (the npm package's size, issue 17).
//!
//! core's `sort_unstable` (ipnsort) costs ~2.2 KB of wasm per instantiation; this heapsort is
//! instantiated once per element type (the comparator is a `dyn FnMut`), O(n log n) in the
//! worst case, without allocation. Equal elements are not kept in input order (as with
//! `sort_unstable`); the order is the same on every target.

use std::cmp::Ordering;

/// `sort_unstable`, `sort_unstable_by` and `sort_unstable_by_key` as a heapsort.
pub(crate) trait SmallSort<T> {
    fn small_sort(&mut self)
    where
        T: Ord;
    fn small_sort_by(&mut self, cmp: impl FnMut(&T, &T) -> Ordering);
    fn small_sort_by_key<K: Ord>(&mut self, key: impl FnMut(&T) -> K);
}

impl<T> SmallSort<T> for [T] {
    fn small_sort(&mut self)
    where
        T: Ord,
    {
        heapsort(self, &mut |a: &T, b: &T| a.cmp(b));
    }

    fn small_sort_by(&mut self, mut cmp: impl FnMut(&T, &T) -> Ordering) {
        heapsort(self, &mut cmp);
    }

    fn small_sort_by_key<K: Ord>(&mut self, mut key: impl FnMut(&T) -> K) {
        heapsort(self, &mut |a: &T, b: &T| key(a).cmp(&key(b)));
    }
}

fn sift_down<T>(v: &mut [T], mut node: usize, end: usize, cmp: &mut dyn FnMut(&T, &T) -> Ordering) {
    loop {
        let mut child = 2 * node + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && cmp(&v[child], &v[child + 1]) == Ordering::Less {
            child += 1;
        }
        if cmp(&v[node], &v[child]) != Ordering::Less {
            return;
        }
        v.swap(node, child);
        node = child;
    }
}

fn heapsort<T>(v: &mut [T], cmp: &mut dyn FnMut(&T, &T) -> Ordering) {
    let n = v.len();
    if n <= 16 {
        for i in 1..n {
            let mut j = i;
            while j > 0 && cmp(&v[j - 1], &v[j]) == Ordering::Greater {
                v.swap(j - 1, j);
                j -= 1;
            }
        }
        return;
    }
    for i in (0..n / 2).rev() {
        sift_down(v, i, n, cmp);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift_down(v, 0, end, cmp);
    }
}

/// `collect()` into a `BTreeMap` or `BTreeSet` by inserting one item at a time. std's
/// `FromIterator` for them sorts the items (a stable sort) and bulk-builds the tree: ~3 KB of
/// wasm per element type, where inserting reuses the map's own `insert`. Equal keys end as
/// with `collect()`: the last value wins.
pub(crate) trait CollectTree: Iterator + Sized {
    fn collect_map<K: Ord, V>(self) -> std::collections::BTreeMap<K, V>
    where
        Self: Iterator<Item = (K, V)>,
    {
        let mut m = std::collections::BTreeMap::new();
        for (k, v) in self {
            m.insert(k, v);
        }
        m
    }

    fn collect_set<T: Ord>(self) -> std::collections::BTreeSet<T>
    where
        Self: Iterator<Item = T>,
    {
        let mut s = std::collections::BTreeSet::new();
        for x in self {
            s.insert(x);
        }
        s
    }
}

impl<I: Iterator> CollectTree for I {}

#[cfg(test)]
mod tests {
    use super::SmallSort;

    #[test]
    fn sorts_like_core() {
        let mut seed = 12345u64;
        for n in [0usize, 1, 2, 3, 15, 16, 17, 100, 1000, 4097] {
            let mut v: Vec<u32> = (0..n)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (seed >> 40) as u32 % 97
                })
                .collect();
            let mut expected = v.clone();
            expected.sort_unstable();
            v.small_sort();
            assert_eq!(v, expected, "n = {n}");
            let mut by_key: Vec<(u32, u32)> = v.iter().map(|&x| (x % 7, x)).collect();
            by_key.small_sort_by_key(|p| std::cmp::Reverse(*p));
            assert!(by_key.windows(2).all(|w| w[0] >= w[1]));
        }
    }
}
