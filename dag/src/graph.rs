//! The in-memory index of the unpruned DAG: an arena of nodes linked by index.
//!
//! Each node caches what the hot paths need (hash, tx hash, parent and child indices, weight,
//! confirmation, the newest milestone its parents reach), so insertion, weight updates, ordering
//! and tip selection never touch the store or re-hash anything. Slots of pruned nodes are reused;
//! pruning unlinks a node from its neighbours first, so stored indices are always live.
use std::collections::{BTreeSet, HashMap};

use itc_primitives::{Hash, MilestoneNumber, MAX_PARENTS};

/// One vertex (or entry point) in memory: the fields the weight walk does not touch.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub hash: Hash,
    pub tx_hash: Hash,
    pub children: Vec<u32>,
    pub confirmed: Option<MilestoneNumber>,
    /// Newest milestone reached by the parents when attached (for lazy-tip detection).
    pub root: MilestoneNumber,
    /// An entry point (genesis or snapshot root): confirmed, no vertex, never pruned.
    pub entry: bool,
    /// Whether an attached vertex approves it (a tip is a node nobody approves yet).
    pub approved: bool,
}

/// The fields of a node the per-insertion weight walk reads, packed apart (44 bytes) so that the
/// walk touches one cache line per vertex.
#[derive(Clone, Copy, Debug)]
struct Hot {
    parents: [u32; MAX_PARENTS],
    n_parents: u8,
    confirmed: bool,
    /// Cumulative weight: 1 + number of attached vertices approving it (saturates at the cap).
    weight: u32,
    stamp: u32,
}

impl Hot {
    fn new(parents: &[u32], confirmed: bool) -> Self {
        let mut fixed = [0u32; MAX_PARENTS];
        let n = parents.len().min(MAX_PARENTS);
        fixed[..n].copy_from_slice(&parents[..n]);
        Hot { parents: fixed, n_parents: n as u8, confirmed, weight: 1, stamp: 0 }
    }

    fn parents(&self) -> &[u32] {
        &self.parents[..self.n_parents as usize]
    }
}

impl Node {
    /// The newest milestone a vertex approving this one reaches through it.
    pub fn freshness(&self) -> MilestoneNumber {
        self.confirmed.unwrap_or(self.root)
    }
}

/// The arena.
#[derive(Clone, Debug, Default)]
pub(crate) struct Graph {
    nodes: Vec<Node>,
    hot: Vec<Hot>,
    free: Vec<u32>,
    index: HashMap<Hash, u32>,
    /// Hashes of live vertices nobody approves, in hash order (deterministic iteration). Entry
    /// points are not tips.
    pub tips: BTreeSet<Hash>,
    stamp: u32,
    stack: Vec<u32>,
}

impl Graph {
    /// The index of `hash`, if in memory.
    pub fn get(&self, hash: &Hash) -> Option<u32> {
        self.index.get(hash).copied()
    }

    /// The node at `idx` (which must be live).
    pub fn node(&self, idx: u32) -> &Node {
        &self.nodes[idx as usize]
    }

    /// In-memory parents of `idx`.
    pub fn parents(&self, idx: u32) -> &[u32] {
        self.hot[idx as usize].parents()
    }

    /// Cumulative weight of `idx` (frozen once confirmed).
    pub fn weight(&self, idx: u32) -> u32 {
        self.hot[idx as usize].weight
    }

    /// Number of arena slots (live or free); every index is below it.
    pub fn slots(&self) -> usize {
        self.nodes.len()
    }

    /// Number of live nodes.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Adds an entry point confirmed by `milestone`. Returns its index.
    pub fn add_entry(&mut self, hash: Hash, milestone: MilestoneNumber) -> u32 {
        if let Some(idx) = self.get(&hash) {
            return idx;
        }
        let node = Node {
            hash,
            tx_hash: Hash::ZERO,
            children: Vec::new(),
            confirmed: Some(milestone),
            root: milestone,
            entry: true,
            approved: false,
        };
        self.alloc(node, Hot::new(&[], true))
    }

    /// Attaches a vertex whose in-memory parents are `parents` and adds one unit of weight to
    /// every unconfirmed, unsaturated ancestor. Returns its index.
    pub fn attach(
        &mut self,
        hash: Hash,
        tx_hash: Hash,
        parents: &[u32],
        root: MilestoneNumber,
        weight_cap: u32,
    ) -> u32 {
        let node = Node {
            hash,
            tx_hash,
            children: Vec::new(),
            confirmed: None,
            root,
            entry: false,
            approved: false,
        };
        let idx = self.alloc(node, Hot::new(parents, false));
        for &p in parents {
            let parent = &mut self.nodes[p as usize];
            parent.children.push(idx);
            if !parent.approved {
                parent.approved = true;
                let parent_hash = parent.hash;
                self.tips.remove(&parent_hash);
            }
        }
        self.tips.insert(hash);
        self.add_weight(idx, weight_cap);
        idx
    }

    /// Cumulative weight, incrementally: the new vertex approves each of its unconfirmed
    /// ancestors once. The walk stops at confirmed vertices (their weight is final) and at
    /// saturated ones (an ancestor weighs at least as much as its descendant, so everything
    /// behind a saturated vertex is saturated too).
    fn add_weight(&mut self, from: u32, cap: u32) {
        let stamp = self.next_stamp();
        let Graph { hot, stack, .. } = self;
        stack.clear();
        stack.extend_from_slice(hot[from as usize].parents());
        while let Some(i) = stack.pop() {
            let h = &mut hot[i as usize];
            if h.stamp == stamp {
                continue;
            }
            h.stamp = stamp;
            if h.confirmed || h.weight >= cap {
                continue;
            }
            h.weight += 1;
            stack.extend_from_slice(&h.parents[..h.n_parents as usize]);
        }
    }

    /// Records that some vertex approves `idx` (used when that vertex is not in memory).
    pub fn mark_approved(&mut self, idx: u32) {
        self.nodes[idx as usize].approved = true;
    }

    /// Marks `idx` confirmed by `milestone`.
    pub fn set_confirmed(&mut self, idx: u32, milestone: MilestoneNumber) {
        self.nodes[idx as usize].confirmed = Some(milestone);
        self.hot[idx as usize].confirmed = true;
    }

    /// Removes a node from memory, unlinking it from its neighbours. Entry points stay.
    pub fn remove(&mut self, hash: &Hash) -> bool {
        let Some(idx) = self.get(hash) else { return false };
        if self.nodes[idx as usize].entry {
            return false;
        }
        let children = std::mem::take(&mut self.nodes[idx as usize].children);
        let parents: Vec<u32> = self.hot[idx as usize].parents().to_vec();
        self.hot[idx as usize].n_parents = 0;
        for p in parents {
            self.nodes[p as usize].children.retain(|&c| c != idx);
        }
        for c in children {
            let child = &mut self.hot[c as usize];
            let n = child.n_parents as usize;
            if let Some(pos) = child.parents[..n].iter().position(|&p| p == idx) {
                child.parents.copy_within(pos + 1..n, pos);
                child.n_parents -= 1;
            }
        }
        self.index.remove(hash);
        self.tips.remove(hash);
        self.free.push(idx);
        true
    }

    fn alloc(&mut self, node: Node, hot: Hot) -> u32 {
        let hash = node.hash;
        let idx = match self.free.pop() {
            Some(idx) => {
                self.nodes[idx as usize] = node;
                self.hot[idx as usize] = hot;
                idx
            }
            None => {
                self.nodes.push(node);
                self.hot.push(hot);
                (self.nodes.len() - 1) as u32
            }
        };
        self.index.insert(hash, idx);
        idx
    }

    fn next_stamp(&mut self) -> u32 {
        if self.stamp == u32::MAX {
            for h in &mut self.hot {
                h.stamp = 0;
            }
            self.stamp = 0;
        }
        self.stamp += 1;
        self.stamp
    }
}
