//! Stable sorting with one compiled copy of the sort.
//!
//! `slice::sort_by` is monomorphised per element type *and* comparator: 3–4 KB of WASM for
//! each call site. [`sort_by`] sorts a list of indices through a `dyn` comparator instead, so
//! every caller shares one copy of the sort, then moves the elements into that order. The
//! result is exactly what `slice::sort_by` gives (a stable sort by the same comparator).
//!
//! `collect()` into a `BTreeMap`/`BTreeSet` sorts its input the same way (one copy of the sort
//! per key type); [`btree_set`] and [`btree_map`] build the same collections by inserting.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// `v.sort_by(cmp)`, sharing one sort implementation with every other caller.
pub fn sort_by<T>(v: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    if v.len() < 2 {
        return;
    }
    let order = sorted_indices(v.len(), &mut |a, b| cmp(&v[a], &v[b]));
    permute(v, order);
}

/// `v.sort_by_key(key)` (the key is computed per comparison, as there).
pub fn sort_by_key<T, K: Ord>(v: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(v, |a, b| key(a).cmp(&key(b)));
}

/// `v.sort()`.
pub fn sort<T: Ord>(v: &mut [T]) {
    sort_by(v, T::cmp);
}

/// `iter.collect::<BTreeSet<_>>()`, without the sort.
pub fn btree_set<T: Ord>(iter: impl IntoIterator<Item = T>) -> BTreeSet<T> {
    let mut set = BTreeSet::new();
    set.extend(iter);
    set
}

/// `iter.collect::<BTreeMap<_, _>>()` (the last value of a repeated key wins, as there),
/// without the sort.
pub fn btree_map<K: Ord, V>(iter: impl IntoIterator<Item = (K, V)>) -> BTreeMap<K, V> {
    let mut map = BTreeMap::new();
    map.extend(iter);
    map
}

/// `0..n` stably sorted by `cmp` over the indices.
#[inline(never)]
fn sorted_indices(n: usize, cmp: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| cmp(a, b));
    idx
}

/// Reorders `v` in place so that the new `v[j]` is the old `v[order[j]]`, one cycle of the
/// permutation at a time.
fn permute<T>(v: &mut [T], mut order: Vec<usize>) {
    const DONE: usize = usize::MAX;
    for start in 0..v.len() {
        if order[start] == DONE {
            continue;
        }
        // Invariant: v[j] holds the old v[start]; the rest of the cycle is untouched.
        let mut j = start;
        loop {
            let k = order[j];
            order[j] = DONE;
            if k == start {
                break;
            }
            v.swap(j, k);
            j = k;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (no dependency): many lengths and many ties.
    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 33
    }

    #[test]
    fn same_order_as_the_standard_stable_sort() {
        let mut seed = 7;
        for len in 0..200 {
            // (key, original position): equal keys must keep their relative order.
            let v: Vec<(u64, usize)> = (0..len).map(|i| (lcg(&mut seed) % 7, i)).collect();
            let mut ours = v.clone();
            sort_by(&mut ours, |a, b| a.0.cmp(&b.0));
            let mut std = v.clone();
            std.sort_by_key(|a| a.0);
            assert_eq!(ours, std, "length {len}");
            let mut ours = v.clone();
            sort_by_key(&mut ours, |a| std::cmp::Reverse(a.0));
            let mut std = v;
            std.sort_by_key(|a| std::cmp::Reverse(a.0));
            assert_eq!(ours, std, "length {len}, by key");
        }
    }

    #[test]
    fn sorts_owned_strings() {
        let mut v: Vec<String> = ["b/2.jpg", "a.jpg", "b/10.jpg", "", "a.jpg"]
            .map(String::from)
            .to_vec();
        sort(&mut v);
        assert_eq!(v, ["", "a.jpg", "a.jpg", "b/10.jpg", "b/2.jpg"]);
    }

    #[test]
    fn btree_builders_equal_collect() {
        let mut seed = 11;
        let pairs: Vec<(u64, usize)> = (0..300).map(|i| (lcg(&mut seed) % 40, i)).collect();
        // Repeated keys: the last value wins in both.
        assert_eq!(
            btree_map(pairs.iter().copied()),
            pairs.iter().copied().collect::<BTreeMap<_, _>>()
        );
        assert_eq!(
            btree_set(pairs.iter().map(|p| p.0)),
            pairs.iter().map(|p| p.0).collect::<BTreeSet<_>>()
        );
    }
}
