//! A reusable visited set: one generation stamp per slot.
//!
//! Clearing is one increment of the current generation, so a query costs nothing for the slots
//! it does not touch (a `HashSet` would hash every insert; a `Vec<bool>` would be refilled per
//! query). The array is refilled only when the 32-bit generation wraps.

/// Visited marks for slots `0..capacity`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Visited {
    marks: Vec<u32>,
    generation: u32,
}

impl Visited {
    /// Forgets every mark and makes room for `n` slots.
    #[inline]
    pub(crate) fn clear(&mut self, n: usize) {
        if self.marks.len() < n {
            self.marks.resize(n, 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.marks.fill(0);
            self.generation = 1;
        }
    }

    /// Marks `slot`; true when it was not marked yet. Slots beyond the capacity given to
    /// [`Visited::clear`] count as already visited (they are never walked into).
    #[inline]
    pub(crate) fn insert(&mut self, slot: u32) -> bool {
        match self.marks.get_mut(slot as usize) {
            Some(m) if *m != self.generation => {
                *m = self.generation;
                true
            }
            _ => false,
        }
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.marks.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn marks_last_until_cleared_and_survive_wraparound() {
        let mut v = Visited::default();
        v.clear(4);
        assert!(v.insert(1));
        assert!(!v.insert(1));
        assert!(!v.insert(9), "out of range counts as visited");
        v.clear(4);
        assert!(v.insert(1));
        v.generation = u32::MAX;
        v.marks[2] = 1;
        v.clear(4);
        assert_eq!(v.generation, 1);
        assert!(v.insert(2), "a wrapped generation refills the marks");
        assert!(v.bytes() >= 16);
    }
}
