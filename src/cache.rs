//! A map bounded by bytes with least-recently-used eviction, shared by the two caches of the calendar
//! side: users' rendered calendars ([`crate::calendar::store`]) and CalDAV answers
//! ([`crate::caldav`]). Both hold values of very different sizes (a 5-event calendar and a 2 000-event
//! one; a 300-byte PROPFIND answer and a 1 MB REPORT), so a budget counted in entries either wastes
//! memory or holds too little: each entry is charged its own size plus a fixed overhead.
//!
//! Written here rather than taken from a crate: general-purpose LRU crates bound the number of entries,
//! and the weighted ones approximate recency (CLOCK, S3-FIFO) and bring their own concurrency; what is
//! needed is sixty lines over `HashMap` and `BTreeMap`, under the caller's lock.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// Entries with their size, evicted least recently used first once their total exceeds the budget.
/// Not synchronised: callers keep it behind a mutex.
pub struct ByteLru<K, V> {
    budget: usize,
    /// Largest charge kept: one entry must not evict most of the others.
    max_entry: usize,
    /// Charged per entry beside the value's own size: the key and the bookkeeping.
    overhead: usize,
    /// Value, its charged size, and the tick of its last use.
    entries: HashMap<K, (V, usize, u64)>,
    /// Tick of last use → key; the first entry is the least recently used.
    by_use: BTreeMap<u64, K>,
    tick: u64,
    bytes: usize,
}

impl<K: Eq + Hash + Clone, V: Clone> ByteLru<K, V> {
    /// A cache holding at most `budget` bytes, each entry charged `overhead` beside its size, none
    /// charged more than `max_entry`.
    pub fn new(budget: usize, overhead: usize, max_entry: usize) -> Self {
        ByteLru {
            budget,
            max_entry: max_entry.min(budget),
            overhead,
            entries: HashMap::new(),
            by_use: BTreeMap::new(),
            tick: 0,
            bytes: 0,
        }
    }

    /// The value under `key`, which becomes the most recently used.
    pub fn get(&mut self, key: &K) -> Option<V> {
        self.get_mut(key).map(|v| v.clone())
    }

    /// The value under `key`, to update in place (its size must not change), which becomes the most
    /// recently used.
    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.tick += 1;
        let tick = self.tick;
        let (value, _, used) = self.entries.get_mut(key)?;
        self.by_use.remove(used);
        *used = tick;
        self.by_use.insert(tick, key.clone());
        Some(value)
    }

    /// The value under `key` without changing its recency.
    pub fn peek(&self, key: &K) -> Option<&V> {
        self.entries.get(key).map(|(v, _, _)| v)
    }

    /// Keeps `value` (of `size` bytes) under `key`, replacing what was there, then evicts least
    /// recently used entries until the budget holds. A value charged more than `max_entry` is not
    /// kept (it would evict many others for one); returns whether it was.
    pub fn put(&mut self, key: K, value: V, size: usize) -> bool {
        let cost = size + self.overhead;
        if cost > self.max_entry {
            self.remove(&key);
            return false;
        }
        self.tick += 1;
        let tick = self.tick;
        if let Some((_, old_cost, used)) = self.entries.insert(key.clone(), (value, cost, tick)) {
            self.by_use.remove(&used);
            self.bytes -= old_cost;
        }
        self.by_use.insert(tick, key);
        self.bytes += cost;
        while self.bytes > self.budget {
            let Some((_, oldest)) = self.by_use.pop_first() else { break };
            if let Some((_, old_cost, _)) = self.entries.remove(&oldest) {
                self.bytes -= old_cost;
            }
        }
        true
    }

    /// Forgets `key`.
    pub fn remove(&mut self, key: &K) {
        if let Some((_, cost, used)) = self.entries.remove(key) {
            self.by_use.remove(&used);
            self.bytes -= cost;
        }
    }

    /// Bytes charged (never above the budget).
    pub fn footprint(&self) -> usize {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used_within_the_budget() {
        let mut lru = ByteLru::new(800, 0, 100);
        for k in 0..8 {
            assert!(lru.put(k, k, 100));
        }
        assert_eq!((lru.len(), lru.footprint()), (8, 800));
        assert_eq!(lru.get(&0), Some(0), "0 becomes the most recently used");
        lru.put(8, 8, 100);
        assert_eq!(lru.get(&1), None, "1 was the least recently used");
        assert!(lru.get(&0).is_some() && lru.get(&8).is_some() && lru.get(&2).is_some());
        // A larger value evicts as many as needed, oldest first (3 and 4 here).
        lru.put(9, 9, 100);
        lru.put(10, 10, 100);
        assert_eq!(lru.get(&3), None);
        assert_eq!(lru.get(&4), None);
        assert_eq!(lru.footprint(), 800);
    }

    #[test]
    fn replacing_recharges_and_oversized_values_are_refused() {
        let mut lru = ByteLru::new(8000, 24, 1000);
        lru.put("a", 1, 100);
        lru.put("a", 2, 10);
        assert_eq!((lru.len(), lru.footprint(), lru.peek(&"a")), (1, 34, Some(&2)));
        assert!(!lru.put("a", 3, 1000), "above the largest entry");
        assert!(lru.is_empty(), "the stale value under the key is dropped too");
        assert_eq!(lru.footprint(), 0);
        lru.put("b", 1, 50);
        lru.remove(&"b");
        assert_eq!(lru.footprint(), 0);
    }
}
