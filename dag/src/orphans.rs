//! The orphan pool: valid vertices whose parents are not attached yet.
//!
//! Bounded by count and by encoded bytes; when full, the oldest orphan is evicted first. The pool
//! knows which parent hashes its orphans wait for, so the node can fetch them, and releases an
//! orphan once its last missing parent is attached ([`crate::Dag`] then attaches it, which may
//! release further orphans). Only vertices that passed every stateless check, signature included,
//! enter the pool, so a flood costs the sender signatures and PoW.
use std::collections::{BTreeMap, HashMap, HashSet};

use itc_primitives::Hash;

use crate::validate::PreparedVertex;

struct Orphan {
    vertex: PreparedVertex,
    seq: u64,
    missing: Vec<Hash>,
}

/// A bounded pool of orphans.
pub struct OrphanPool {
    max_count: usize,
    max_bytes: usize,
    entries: HashMap<Hash, Orphan>,
    by_age: BTreeMap<u64, Hash>,
    waiting: HashMap<Hash, HashSet<Hash>>,
    bytes: usize,
    next_seq: u64,
}

impl OrphanPool {
    /// An empty pool holding at most `max_count` orphans and `max_bytes` encoded bytes.
    pub fn new(max_count: usize, max_bytes: usize) -> Self {
        OrphanPool {
            max_count,
            max_bytes,
            entries: HashMap::new(),
            by_age: BTreeMap::new(),
            waiting: HashMap::new(),
            bytes: 0,
            next_seq: 0,
        }
    }

    /// Number of orphans held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Encoded bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether the vertex `hash` waits here.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.entries.contains_key(hash)
    }

    /// The parents `hash` still waits for, if it is an orphan.
    pub fn missing_of(&self, hash: &Hash) -> Option<&[Hash]> {
        self.entries.get(hash).map(|o| o.missing.as_slice())
    }

    /// Hashes that orphans wait for and that are not orphans themselves: what to fetch. Sorted.
    pub fn wanted(&self) -> Vec<Hash> {
        let mut out: Vec<Hash> =
            self.waiting.keys().filter(|h| !self.entries.contains_key(h)).copied().collect();
        out.sort_unstable();
        out
    }

    /// Adds an orphan waiting for `missing` (non-empty, not yet attached). Returns the hashes of
    /// the orphans evicted to respect the bounds, oldest first (possibly the new one itself if
    /// the pool holds nothing).
    pub fn insert(&mut self, vertex: PreparedVertex, missing: Vec<Hash>) -> Vec<Hash> {
        let hash = vertex.hash;
        if self.entries.contains_key(&hash) {
            return Vec::new();
        }
        for parent in &missing {
            self.waiting.entry(*parent).or_default().insert(hash);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.bytes += vertex.encoded_len;
        self.by_age.insert(seq, hash);
        self.entries.insert(hash, Orphan { vertex, seq, missing });
        let mut evicted = Vec::new();
        while self.entries.len() > self.max_count || self.bytes > self.max_bytes {
            let Some((_, oldest)) = self.by_age.pop_first() else { break };
            self.remove(&oldest);
            evicted.push(oldest);
        }
        evicted
    }

    /// `parent` was attached: removes and returns the orphans that no longer miss anything, in
    /// arrival order.
    pub fn release(&mut self, parent: &Hash) -> Vec<PreparedVertex> {
        let Some(waiters) = self.waiting.remove(parent) else {
            return Vec::new();
        };
        let mut ready: Vec<(u64, Hash)> = Vec::new();
        for waiter in waiters {
            if let Some(orphan) = self.entries.get_mut(&waiter) {
                orphan.missing.retain(|m| m != parent);
                if orphan.missing.is_empty() {
                    ready.push((orphan.seq, waiter));
                }
            }
        }
        ready.sort_unstable();
        ready
            .into_iter()
            .filter_map(|(seq, hash)| {
                self.by_age.remove(&seq);
                self.remove(&hash)
            })
            .collect()
    }

    fn remove(&mut self, hash: &Hash) -> Option<PreparedVertex> {
        let orphan = self.entries.remove(hash)?;
        self.by_age.remove(&orphan.seq);
        self.bytes -= orphan.vertex.encoded_len;
        for parent in &orphan.missing {
            if let Some(set) = self.waiting.get_mut(parent) {
                set.remove(hash);
                if set.is_empty() {
                    self.waiting.remove(parent);
                }
            }
        }
        Some(orphan.vertex)
    }
}
