//! A map bounded by bytes with least-recently-used eviction, used by the two caches of the calendar
//! side, users' rendered calendars ([`crate::calendar::store`]) and CalDAV answers
//! ([`crate::caldav`]), and (counting entries) by the directory's answers. The calendar side's values
//! have very different sizes (a 5-event calendar and a 2 000-event one; a 300-byte PROPFIND answer and
//! a 1 MB REPORT), so a budget counted in entries either wastes memory or holds too little: each entry
//! is charged its own size plus a fixed overhead.
//!
//! A cache can also be made scan-resistant ([`ByteLru::scan_resistant`]): once full, it keeps a new
//! entry only when its key was asked for recently already. Calendar clients of a large site each poll
//! every 15 to 60 minutes, so most calendars are asked for once in a long while: keeping each of them
//! pushed out the calendars in steady use for one that would be evicted before its next poll, and the
//! turnover left the allocator holding tens of megabytes freed in passing.
//!
//! Written here rather than taken from a crate: general-purpose LRU crates bound the number of entries,
//! and the weighted ones approximate recency (CLOCK, S3-FIFO) and bring their own concurrency; what is
//! needed is a hundred lines over `HashMap`, `BTreeMap` and `VecDeque`, under the caller's lock.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hash, RandomState};

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
    /// Set when scan-resistant: the keys recently refused.
    doorkeeper: Option<Doorkeeper>,
}

/// The keys a full scan-resistant cache recently refused (their hashes), oldest first: a key asked
/// for again while still here is kept. Holds [`Doorkeeper::KEYS_PER_ENTRY`] times the number of
/// entries, so a key counts as asked for again when it comes back before the cache has turned over a
/// few times, within [`Doorkeeper::MIN_KEYS`] and [`Doorkeeper::MAX_KEYS`] (about 24 bytes each, beside
/// the budget: 400 KB at most).
struct Doorkeeper {
    hasher: RandomState,
    order: VecDeque<u64>,
    seen: HashSet<u64>,
}

impl Doorkeeper {
    const MIN_KEYS: usize = 256;
    const MAX_KEYS: usize = 16_384;
    const KEYS_PER_ENTRY: usize = 4;

    /// Whether `key` was refused recently; if not, remembers it (a key is remembered once, however
    /// often it is asked for, and forgotten in the order it came).
    fn admits(&mut self, key: &impl Hash, entries: usize) -> bool {
        let hash = self.hasher.hash_one(key);
        if self.seen.contains(&hash) {
            return true;
        }
        let keep = (entries * Self::KEYS_PER_ENTRY).clamp(Self::MIN_KEYS, Self::MAX_KEYS);
        while self.order.len() >= keep {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.order.push_back(hash);
        self.seen.insert(hash);
        false
    }
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
            doorkeeper: None,
        }
    }

    /// Like [`ByteLru::new`], but once full it keeps a new key only when it was [`ByteLru::put`]
    /// recently already (see the module's documentation): a stream of keys asked for once does not
    /// push out the entries in use. Replacing a key already kept, and keeping one while there is room,
    /// happen at once; a key let in stays known while the doorkeeper remembers it, so it comes back
    /// at once after an eviction.
    pub fn scan_resistant(budget: usize, overhead: usize, max_entry: usize) -> Self {
        let doorkeeper = Doorkeeper { hasher: RandomState::new(), order: VecDeque::new(), seen: HashSet::new() };
        ByteLru { doorkeeper: Some(doorkeeper), ..Self::new(budget, overhead, max_entry) }
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
    /// kept (it would evict many others for one), nor, in a full scan-resistant cache, one whose key
    /// was not refused recently; returns whether it was kept.
    pub fn put(&mut self, key: K, value: V, size: usize) -> bool {
        let cost = size + self.overhead;
        if cost > self.max_entry {
            self.remove(&key);
            return false;
        }
        if let Some(doorkeeper) = &mut self.doorkeeper
            && self.bytes + cost > self.budget
            && !self.entries.contains_key(&key)
            && !doorkeeper.admits(&key, self.entries.len())
        {
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

    #[test]
    fn a_scan_resistant_cache_keeps_a_new_key_only_at_its_second_put_once_full() {
        let mut lru = ByteLru::scan_resistant(400, 0, 100);
        for k in 0..4 {
            assert!(lru.put(k, k, 100), "room: kept at once");
        }
        assert!(!lru.put(4, 4, 100), "full: a key seen for the first time is refused");
        assert_eq!((lru.len(), lru.footprint()), (4, 400));
        assert!(lru.get(&0).is_some() && lru.get(&3).is_some(), "nothing was evicted for it");
        assert!(lru.put(4, 4, 100), "asked for again: kept");
        assert_eq!(lru.get(&1), None, "evicting the least recently used");
        assert!(lru.put(4, 40, 100) && lru.peek(&4) == Some(&40), "a kept key is replaced at once");
        assert!(!lru.put(5, 5, 200), "above the largest entry, whatever the doorkeeper says");
        // Room again: kept at once.
        lru.remove(&2);
        assert!(lru.put(6, 6, 100));
    }

    #[test]
    fn a_stream_of_keys_asked_for_once_leaves_the_entries_in_use_alone() {
        let mut lru = ByteLru::scan_resistant(1000, 0, 100);
        let hot = 0..10;
        for k in hot.clone() {
            lru.put(k, k, 100);
        }
        // A cycle through more keys than the doorkeeper remembers (each comes back after 10 000
        // others), with the hot keys asked for meanwhile.
        for round in 0..3 {
            for k in 100..10_100 {
                assert!(!lru.put(k, k, 100), "round {round}: key {k} kept");
                if k % 50 == 0 {
                    assert!(lru.get(&(k % 10)).is_some());
                }
            }
        }
        assert!(hot.clone().all(|k| lru.peek(&k).is_some()), "every hot entry is still kept");
        assert!(lru.doorkeeper.as_ref().is_some_and(|d| d.order.len() <= Doorkeeper::MIN_KEYS));
        // A plain cache would have kept the stream and lost the hot entries.
        let mut plain = ByteLru::new(1000, 0, 100);
        for k in hot.clone().chain(100..200) {
            plain.put(k, k, 100);
        }
        assert!(hot.clone().all(|k| plain.peek(&k).is_none()));
    }
}
