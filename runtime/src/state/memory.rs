//! [`MemoryBackend`]: the in-memory [`StateBackend`], used by tests, benchmarks and `--dev`
//! nodes that do not persist.
//!
//! It keeps the latest values in an ordered map (which is also the key index for prefix
//! iteration), the JMT nodes in a hash map (point lookups only; nothing iterates it in an order
//! that reaches an output), and the root of every version. By default every version stays
//! provable; [`MemoryBackend::keep_versions`] bounds the history, pruning the nodes and values
//! only older versions need, as a long-running node must.
use std::collections::{BTreeMap, HashMap, VecDeque};

use itc_primitives::Hash;
use jmt::{
    storage::{LeafNode, Node, NodeKey, TreeReader, TreeUpdateBatch},
    JellyfishMerkleTree, KeyHash, OwnedValue, Version,
};

use super::{
    proof::{key_hash, Blake2bHasher},
    KeyValue, StateBackend, StateProof,
};
use crate::{Error, Result};

/// The JMT node store of a [`MemoryBackend`].
#[derive(Clone, Default)]
struct TreeStore {
    nodes: HashMap<NodeKey, Node>,
    /// Per key hash, its values by ascending version (`None` = deleted at that version).
    values: HashMap<KeyHash, Vec<(Version, Option<OwnedValue>)>>,
    /// Nodes replaced at a JMT version, in ascending version order (for pruning).
    stale: VecDeque<(Version, NodeKey)>,
    /// JMT versions below this are no longer readable (pruned).
    pruned_below: Version,
}

// `jmt`'s storage traits return `anyhow::Result`; the adapter is the only place it appears.
impl TreeReader for TreeStore {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        Ok(self.nodes.get(node_key).cloned())
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        Ok(self.values.get(&key_hash).and_then(|history| {
            history
                .iter()
                .rev()
                .find(|(v, _)| *v <= max_version)
                .and_then(|(_, value)| value.clone())
        }))
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        // Only used when restoring a tree from a snapshot; a linear scan is fine there.
        let mut best: Option<(NodeKey, LeafNode)> = None;
        for (key, node) in &self.nodes {
            if let Node::Leaf(leaf) = node {
                let better = best
                    .as_ref()
                    .is_none_or(|(best_key, b)| (leaf.key_hash(), key) > (b.key_hash(), best_key));
                if better {
                    best = Some((key.clone(), leaf.clone()));
                }
            }
        }
        Ok(best)
    }
}

impl TreeStore {
    fn apply(&mut self, batch: TreeUpdateBatch) {
        let node_batch = batch.node_batch;
        for (key, node) in node_batch.nodes() {
            self.nodes.insert(key.clone(), node.clone());
        }
        let cut = self.pruned_below;
        for ((version, key_hash), value) in node_batch.values() {
            let history = self.values.entry(*key_hash).or_default();
            history.push((*version, value.clone()));
            // Keep the newest entry at or below the oldest readable version, and all after it.
            if let Some(keep_from) = history.iter().rposition(|(v, _)| *v <= cut) {
                history.drain(..keep_from);
            }
        }
        self.stale.extend(
            batch.stale_node_index_batch.into_iter().map(|s| (s.stale_since_version, s.node_key)),
        );
    }

    /// Makes JMT versions below `oldest` unreadable and frees what only they used.
    fn prune_below(&mut self, oldest: Version) {
        self.pruned_below = self.pruned_below.max(oldest);
        // A node stale since version s belongs to trees before s only.
        while self.stale.front().is_some_and(|(since, _)| *since <= self.pruned_below) {
            if let Some((_, key)) = self.stale.pop_front() {
                self.nodes.remove(&key);
            }
        }
    }
}

/// The JMT version holding the complete state of `version` (see [`MemoryBackend::commit`]).
fn jmt_version(version: u64) -> Version {
    2 * version + 1
}

type ValueSet = Vec<(KeyHash, Option<OwnedValue>)>;

/// Splits staged writes into upserts and deletions, keyed by JMT key hash.
fn split_writes(
    staged: &BTreeMap<Vec<u8>, Option<Vec<u8>>>,
) -> (Vec<(KeyHash, OwnedValue)>, ValueSet) {
    let mut puts = Vec::new();
    let mut deletes = Vec::new();
    for (k, v) in staged {
        match v {
            Some(v) => puts.push((key_hash(k), v.clone())),
            None => deletes.push((key_hash(k), None)),
        }
    }
    (puts, deletes)
}

/// An authenticated state held in memory. See [`StateBackend`].
#[derive(Clone, Default)]
pub struct MemoryBackend {
    /// The latest committed values, ordered: the key index for prefix iteration.
    values: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Writes staged for the next commit (`None` = delete).
    staged: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    tree: TreeStore,
    /// `roots[v]` is the root of version `v`.
    roots: Vec<Hash>,
    /// How many recent versions stay provable (`None`: all).
    keep: Option<u64>,
}

impl MemoryBackend {
    /// An empty state with no committed version.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of keys in the latest committed state.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the latest committed state has no keys.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Keeps only the latest `keep` versions provable (at least 1), freeing older tree nodes
    /// as milestones commit; `None` keeps every version (the default).
    pub fn keep_versions(&mut self, keep: Option<u64>) {
        self.keep = keep.map(|k| k.max(1));
    }

    /// The oldest version that can still be proven.
    pub fn oldest_version(&self) -> Option<u64> {
        let latest = self.version()?;
        Some(self.keep.map_or(0, |k| (latest + 1).saturating_sub(k)))
    }

    fn jmt(&self) -> JellyfishMerkleTree<'_, TreeStore, Blake2bHasher> {
        JellyfishMerkleTree::new(&self.tree)
    }
}

impl StateBackend for MemoryBackend {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.staged.get(key) {
            Some(staged) => Ok(staged.clone()),
            None => Ok(self.values.get(key).cloned()),
        }
    }

    fn iter_prefix(&self, prefix: &[u8]) -> Result<Vec<KeyValue>> {
        let mut out: BTreeMap<Vec<u8>, Vec<u8>> = self
            .values
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (k, v) in
            self.staged.range(prefix.to_vec()..).take_while(|(k, _)| k.starts_with(prefix))
        {
            match v {
                Some(v) => out.insert(k.clone(), v.clone()),
                None => out.remove(k),
            };
        }
        Ok(out.into_iter().collect())
    }

    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.staged.insert(key, Some(value));
    }

    fn delete(&mut self, key: &[u8]) {
        self.staged.insert(key.to_vec(), None);
    }

    fn commit(&mut self, version: u64) -> Result<Hash> {
        let expected = self.roots.len() as u64;
        if version != expected {
            return Err(Error::VersionGap { current: self.version(), requested: version });
        }
        let staged = std::mem::take(&mut self.staged);
        let (puts, deletes) = split_writes(&staged);
        let backend = |e: anyhow::Error| Error::Backend(format!("{e:#}"));
        // JMT's batch insertion hashes each new node once per commit (the per-key path rehashes
        // the path to the root for every key), but it cannot delete. So each state version `v`
        // is two JMT versions: the upserts at 2v, the deletions at 2v + 1. The root depends only
        // on the tree's contents, so any backend that stores the same pairs has the same root.
        if puts.is_empty() {
            let (_, batch) = self.jmt().put_value_set(Vec::new(), 2 * version).map_err(backend)?;
            self.tree.apply(batch);
        } else {
            let (_, batch) =
                self.jmt().batch_put_value_sets(vec![puts], None, 2 * version).map_err(backend)?;
            self.tree.apply(batch);
        }
        let (root, batch) = self.jmt().put_value_set(deletes, 2 * version + 1).map_err(backend)?;
        self.tree.apply(batch);
        for (k, v) in staged {
            match v {
                Some(v) => self.values.insert(k, v),
                None => self.values.remove(&k),
            };
        }
        let root = Hash(root.0);
        self.roots.push(root);
        if let Some(oldest) = self.oldest_version().filter(|_| self.keep.is_some()) {
            self.tree.prune_below(jmt_version(oldest));
        }
        Ok(root)
    }

    fn version(&self) -> Option<u64> {
        (self.roots.len() as u64).checked_sub(1)
    }

    fn root(&self, version: u64) -> Result<Hash> {
        usize::try_from(version)
            .ok()
            .and_then(|v| self.roots.get(v))
            .copied()
            .ok_or(Error::UnknownVersion(version))
    }

    fn prove(&self, key: &[u8], version: u64) -> Result<StateProof> {
        self.root(version)?;
        if self.oldest_version().is_some_and(|oldest| version < oldest) {
            return Err(Error::UnknownVersion(version));
        }
        let (value, proof) = self
            .jmt()
            .get_with_proof(key_hash(key), jmt_version(version))
            .map_err(|e| Error::Backend(format!("{e:#}")))?;
        StateProof::from_jmt(version, key.to_vec(), value, &proof)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_of_presence_and_absence_verify_against_the_root() {
        let mut b = MemoryBackend::new();
        for i in 0u32..50 {
            b.put(format!("key{i}").into_bytes(), i.to_le_bytes().to_vec());
        }
        let root0 = b.commit(0).unwrap();
        b.delete(b"key7");
        b.put(b"key8".to_vec(), b"changed".to_vec());
        let root1 = b.commit(1).unwrap();
        assert_ne!(root0, root1);

        let p = b.prove(b"key3", 1).unwrap();
        assert_eq!(p.value, Some(3u32.to_le_bytes().to_vec()));
        p.verify(&root1).unwrap();
        assert!(p.verify(&root0).is_err(), "a proof is bound to its version's root");
        b.prove(b"key3", 0).unwrap().verify(&root0).unwrap();

        let p = b.prove(b"key8", 1).unwrap();
        assert_eq!(p.value.as_deref(), Some(&b"changed"[..]));
        p.verify(&root1).unwrap();
        assert!(p.verify(&root0).is_err(), "key8 changed, old root must reject");

        let absent = b.prove(b"key7", 1).unwrap();
        assert_eq!(absent.value, None);
        absent.verify(&root1).unwrap();
        let old = b.prove(b"key7", 0).unwrap();
        assert_eq!(old.value, Some(7u32.to_le_bytes().to_vec()));
        old.verify(&root0).unwrap();

        let mut forged = b.prove(b"key3", 1).unwrap();
        forged.value = Some(b"forged".to_vec());
        assert!(forged.verify(&root1).is_err());
        let mut garbage = b.prove(b"key3", 1).unwrap();
        garbage.proof = vec![1, 2, 3];
        assert!(garbage.verify(&root1).is_err());
    }

    #[test]
    fn prefix_iteration_is_ordered_and_sees_staged_writes() {
        let mut b = MemoryBackend::new();
        b.put(b"a/2".to_vec(), b"2".to_vec());
        b.put(b"a/1".to_vec(), b"1".to_vec());
        b.put(b"b/1".to_vec(), b"x".to_vec());
        b.commit(0).unwrap();
        b.put(b"a/0".to_vec(), b"0".to_vec());
        b.delete(b"a/2");
        let keys: Vec<Vec<u8>> =
            b.iter_prefix(b"a/").unwrap().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec![b"a/0".to_vec(), b"a/1".to_vec()]);
        assert_eq!(b.get(b"a/2").unwrap(), None);
        assert_eq!(b.get(b"a/0").unwrap(), Some(b"0".to_vec()));
    }

    #[test]
    fn pruned_history_keeps_recent_proofs_and_bounds_memory() {
        let mut pruned = MemoryBackend::new();
        pruned.keep_versions(Some(2));
        let mut full = MemoryBackend::new();
        for v in 0u64..20 {
            for i in 0u64..30 {
                let key = format!("k{}", (i * 7 + v) % 40).into_bytes();
                if i % 5 == 0 {
                    pruned.delete(&key);
                    full.delete(&key);
                } else {
                    pruned.put(key.clone(), (v * 100 + i).to_le_bytes().to_vec());
                    full.put(key, (v * 100 + i).to_le_bytes().to_vec());
                }
            }
            assert_eq!(pruned.commit(v).unwrap(), full.commit(v).unwrap());
        }
        assert_eq!(pruned.oldest_version(), Some(18));
        assert!(pruned.tree.nodes.len() < full.tree.nodes.len() / 3);
        for i in 0..40 {
            let key = format!("k{i}").into_bytes();
            for v in [18, 19] {
                let p = pruned.prove(&key, v).unwrap();
                assert_eq!(p, full.prove(&key, v).unwrap());
                p.verify(&pruned.root(v).unwrap()).unwrap();
            }
        }
        assert_eq!(pruned.prove(b"k1", 17), Err(Error::UnknownVersion(17)));
    }

    #[test]
    fn versions_must_be_consecutive() {
        let mut b = MemoryBackend::new();
        assert_eq!(b.commit(1), Err(Error::VersionGap { current: None, requested: 1 }));
        b.commit(0).unwrap();
        assert_eq!(b.commit(0), Err(Error::VersionGap { current: Some(0), requested: 0 }));
        let r1 = b.commit(1).unwrap();
        assert_eq!(b.root(1).unwrap(), r1);
        assert_eq!(b.root(5), Err(Error::UnknownVersion(5)));
        assert!(matches!(b.prove(b"x", 5), Err(Error::UnknownVersion(5))));
    }

    #[test]
    fn same_writes_give_same_root_regardless_of_staging_order() {
        let mut a = MemoryBackend::new();
        let mut b = MemoryBackend::new();
        for i in 0u8..20 {
            a.put(vec![i], vec![i; 3]);
            b.put(vec![19 - i], vec![19 - i; 3]);
        }
        assert_eq!(a.commit(0).unwrap(), b.commit(0).unwrap());
    }
}
