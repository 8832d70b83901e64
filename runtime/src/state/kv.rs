//! [`JmtBackend`]: the [`StateBackend`] over any ordered key-value database, through the
//! [`KvStore`] port. The node implements [`KvStore`] for its database (four column families
//! and an atomic batch write) and gets the authenticated state, roots and proofs from here;
//! [`MemoryKv`] is the in-memory store used to test it.
//!
//! Layout (bytes, stable):
//! - [`Column::Values`]: state key → latest value (the ordered key index for prefix iteration);
//! - [`Column::Nodes`]: Borsh(JMT `NodeKey`) → Borsh(JMT `Node`);
//! - [`Column::History`]: key hash (32) ++ (`u64::MAX` − JMT version) (u64 big-endian, so a
//!   key's entries run newest first) → SCALE(`Option<value>`); the entry of JMT version 2 ends
//!   in `fffffffffffffffd`;
//! - [`Column::Meta`]: `b"version"` → SCALE(u64) latest state version; `b"root" ++ version (u64
//!   big-endian)` → its 32-byte root; with pruning, `b"stale" ++ JMT version (u64 big-endian)`
//!   → SCALE(`Vec<Vec<u8>>`) of Borsh(JMT `NodeKey`): the nodes that JMT version replaced, and
//!   `b"hstale" ++ JMT version (u64 big-endian)` → SCALE(`Vec<Vec<u8>>`) of history keys (40
//!   bytes each): the history entries that version made obsolete (a key's previous entry, or a
//!   deletion's own entry, which no tree reads). Test vector: the node list of JMT version 2
//!   naming the keys `0a0b` and `0c` is key `7374616c65 0000000000000002`, value
//!   `08 08 0a0b 04 0c`.
//!
//! Pruning ([`JmtBackend::keep_versions`]): committing state version `v` also deletes the nodes
//! and history entries that no tree from state version `v - keep` on reads (those replaced at
//! or before JMT version `2 (v - keep) + 1`), in the same atomic write, so proofs stay
//! available for the last `keep + 1` versions and neither column grows with history: a key
//! keeps the entries of the versions still provable plus the one in force at the oldest. Roots
//! of every version are kept. An archive keeps all.
//!
//! JMT versions are internal: state version `v` is stored as JMT versions `2v` (upserts, batch
//! inserted) and `2v + 1` (deletions), exactly as [`super::MemoryBackend`] does, so both give
//! identical roots and proofs.
use std::collections::BTreeMap;

use itc_primitives::Hash;
use jmt::{
    storage::{LeafNode, Node, NodeBatch, NodeKey, TreeReader, TreeUpdateBatch},
    JellyfishMerkleTree, KeyHash, OwnedValue, Version,
};
use parity_scale_codec::Encode;

use super::{
    proof::{key_hash, Blake2bHasher},
    KeyValue, StateBackend, StateProof,
};
use crate::{Error, Result};

/// A column family of the state database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Column {
    /// Latest values by state key.
    Values,
    /// JMT nodes.
    Nodes,
    /// JMT value history.
    History,
    /// Latest version and the root of every version.
    Meta,
}

/// One write of a batch: `None` deletes.
pub type Write = (Column, Vec<u8>, Option<Vec<u8>>);

/// The database port: point reads, ordered prefix scans and atomic batch writes.
pub trait KvStore {
    /// The value at `key` in `column`.
    fn get(&self, column: Column, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Every pair of `column` whose key starts with `prefix`, ascending by key.
    fn iter_prefix(&self, column: Column, prefix: &[u8]) -> Result<Vec<KeyValue>>;
    /// Applies every write, atomically (all or nothing, also across a crash).
    fn write(&mut self, batch: Vec<Write>) -> Result<()>;
    /// The pair of `column` with the smallest key that starts with `prefix` and is at least
    /// `lower`. A database answers it with one forward seek; the default scans the prefix.
    fn first_at_least(
        &self,
        column: Column,
        prefix: &[u8],
        lower: &[u8],
    ) -> Result<Option<KeyValue>> {
        Ok(self.iter_prefix(column, prefix)?.into_iter().find(|(k, _)| k.as_slice() >= lower))
    }
}

/// A [`KvStore`] in memory (tests, and a reference for database adapters).
#[derive(Clone, Default)]
pub struct MemoryKv {
    columns: BTreeMap<(Column, Vec<u8>), Vec<u8>>,
}

impl KvStore for MemoryKv {
    fn get(&self, column: Column, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.columns.get(&(column, key.to_vec())).cloned())
    }

    fn iter_prefix(&self, column: Column, prefix: &[u8]) -> Result<Vec<KeyValue>> {
        Ok(self
            .columns
            .range((column, prefix.to_vec())..)
            .take_while(|((c, k), _)| *c == column && k.starts_with(prefix))
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }

    fn write(&mut self, batch: Vec<Write>) -> Result<()> {
        for (column, key, value) in batch {
            match value {
                Some(v) => self.columns.insert((column, key), v),
                None => self.columns.remove(&(column, key)),
            };
        }
        Ok(())
    }

    fn first_at_least(
        &self,
        column: Column,
        prefix: &[u8],
        lower: &[u8],
    ) -> Result<Option<KeyValue>> {
        // Keys with the prefix start at the prefix itself: seek to whichever bound is higher.
        let from = lower.max(prefix);
        Ok(self
            .columns
            .range((column, from.to_vec())..)
            .next()
            .filter(|((c, k), _)| *c == column && k.starts_with(prefix))
            .map(|((_, k), v)| (k.clone(), v.clone())))
    }
}

fn borsh_bytes<T: borsh::BorshSerialize>(value: &T) -> Result<Vec<u8>> {
    borsh::to_vec(value).map_err(|e| Error::Backend(format!("encode JMT node: {e}")))
}

/// A history entry's key: the key hash, then the JMT version inverted (`u64::MAX - version`,
/// big-endian), so a key's entries run newest first and the one in force at a version is found
/// with a forward seek (a reverse one cost half as much again).
fn history_key(key_hash: &KeyHash, version: Version) -> Vec<u8> {
    let mut k = key_hash.0.to_vec();
    k.extend_from_slice(&(u64::MAX - version).to_be_bytes());
    k
}

fn stale_key(jmt_version: Version) -> Vec<u8> {
    let mut k = b"stale".to_vec();
    k.extend_from_slice(&jmt_version.to_be_bytes());
    k
}

fn history_stale_key(jmt_version: Version) -> Vec<u8> {
    let mut k = b"hstale".to_vec();
    k.extend_from_slice(&jmt_version.to_be_bytes());
    k
}

/// The history entry of `key_hash` in force at JMT version `max_version` (its key and
/// SCALE-encoded value), if any.
fn history_at<S: KvStore>(
    store: &S,
    key_hash: &KeyHash,
    max_version: Version,
) -> Result<Option<KeyValue>> {
    store.first_at_least(Column::History, &key_hash.0, &history_key(key_hash, max_version))
}

fn root_key(version: u64) -> Vec<u8> {
    let mut k = b"root".to_vec();
    k.extend_from_slice(&version.to_be_bytes());
    k
}

/// Reads JMT nodes from the store, seeing a not-yet-written batch first.
struct Reader<'a, S> {
    store: &'a S,
    pending: Option<&'a NodeBatch>,
}

impl<S: KvStore> TreeReader for Reader<'_, S> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        if let Some(node) = self.pending.and_then(|b| b.get_node(node_key)) {
            return Ok(Some(node.clone()));
        }
        let key = borsh::to_vec(node_key)?;
        match self.store.get(Column::Nodes, &key)? {
            Some(bytes) => Ok(Some(borsh::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    fn get_value_option(
        &self,
        max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        if let Some(batch) = self.pending {
            let newest = batch
                .values()
                .range((0, key_hash)..=(max_version, key_hash))
                .rev()
                .find(|((_, k), _)| *k == key_hash);
            if let Some((_, value)) = newest {
                return Ok(value.clone());
            }
        }
        match history_at(self.store, &key_hash, max_version)? {
            Some((_, v)) => Ok(itc_primitives::decode_untrusted::<Option<Vec<u8>>>(&v)?),
            None => Ok(None),
        }
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        // Only used when restoring a tree from a snapshot; a full scan is acceptable there.
        let mut best: Option<(NodeKey, LeafNode)> = None;
        for (k, v) in self.store.iter_prefix(Column::Nodes, &[])? {
            if let Node::Leaf(leaf) = borsh::from_slice::<Node>(&v)? {
                if best.as_ref().is_none_or(|(_, b)| leaf.key_hash() > b.key_hash()) {
                    best = Some((borsh::from_slice(&k)?, leaf));
                }
            }
        }
        Ok(best)
    }
}

/// An authenticated state over a [`KvStore`]. Cloning it clones the store handle and the staged
/// writes (cheap for a store that is a shared handle plus an overlay, as the node's is).
#[derive(Clone)]
pub struct JmtBackend<S> {
    store: S,
    staged: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    version: Option<u64>,
    keep: Option<u64>,
}

impl<S: KvStore> JmtBackend<S> {
    /// Opens the state kept in `store` (empty or previously committed).
    pub fn open(store: S) -> Result<Self> {
        let version = match store.get(Column::Meta, b"version")? {
            Some(bytes) => Some(
                itc_primitives::decode_untrusted::<u64>(&bytes)
                    .map_err(|e| Error::Backend(format!("stored version: {e}")))?,
            ),
            None => None,
        };
        Ok(JmtBackend { store, staged: BTreeMap::new(), version, keep: None })
    }

    /// Prunes as it commits: keeps proofs for the latest `keep + 1` versions only (see the
    /// module docs). Without it every version stays provable (an archive).
    pub fn keep_versions(mut self, keep: u64) -> Self {
        self.keep = Some(keep);
        self
    }

    /// The oldest version proofs can still be made for.
    pub fn oldest_provable(&self) -> Option<u64> {
        let current = self.version?;
        Some(self.keep.map_or(0, |keep| current.saturating_sub(keep)))
    }

    /// The underlying store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The underlying store, mutably: for a store that buffers committed writes (the node's),
    /// to take them. Writing through it bypasses the tree: the state root no longer matches.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// The writes of `batch`'s nodes and values; with pruning, what they make obsolete goes in
    /// `stale` (see [`StaleLists`]).
    fn node_writes(
        &self,
        batch: &TreeUpdateBatch,
        stale: &mut StaleLists,
        out: &mut Vec<Write>,
    ) -> Result<()> {
        for (key, node) in batch.node_batch.nodes() {
            out.push((Column::Nodes, borsh_bytes(key)?, Some(borsh_bytes(node)?)));
        }
        for ((version, key_hash), value) in batch.node_batch.values() {
            let entry = history_key(key_hash, *version);
            if self.keep.is_some() {
                // The key's previous entry serves the trees before `version` only; a deletion's
                // own entry serves none (no tree from `version` on holds the key).
                let previous = match version.checked_sub(1) {
                    Some(before) => history_at(&self.store, key_hash, before)?,
                    None => None,
                };
                let obsolete = previous.map(|(k, _)| k).into_iter();
                let list = stale.entry((Stale::History, *version)).or_default();
                list.extend(obsolete.chain(value.is_none().then(|| entry.clone())));
            }
            out.push((Column::History, entry, Some(value.encode())));
        }
        if self.keep.is_some() {
            for node in &batch.stale_node_index_batch {
                let list = stale.entry((Stale::Nodes, node.stale_since_version)).or_default();
                list.push(borsh_bytes(&node.node_key)?);
            }
        }
        Ok(())
    }

    /// Writes each list of `stale`, appended to the one already stored for its version if any
    /// (a commit only adds to its own two JMT versions, so normally there is none).
    fn stale_writes(&self, stale: StaleLists, out: &mut Vec<Write>) -> Result<()> {
        for ((kind, jmt_version), mut keys) in stale {
            if keys.is_empty() {
                continue;
            }
            if let Some(stored) = self.stale_list(kind, jmt_version)? {
                keys.splice(0..0, stored);
            }
            out.push((Column::Meta, kind.list_key(jmt_version), Some(keys.encode())));
        }
        Ok(())
    }

    /// The stale list of `kind` stored for JMT version `jmt_version`, if any.
    fn stale_list(&self, kind: Stale, jmt_version: Version) -> Result<Option<Vec<Vec<u8>>>> {
        let Some(bytes) = self.store.get(Column::Meta, &kind.list_key(jmt_version))? else {
            return Ok(None);
        };
        itc_primitives::decode_untrusted::<Vec<Vec<u8>>>(&bytes).map(Some).map_err(|e| {
            Error::Backend(format!(
                "stored stale list ({kind:?}) of JMT version {jmt_version} does not decode ({e}); \
                 the database is damaged"
            ))
        })
    }

    /// Deletes the nodes and history entries replaced at JMT versions `2 (version - keep)` and
    /// `+ 1`, and their stale lists: no tree from state version `version - keep` on reads
    /// them. Every commit prunes the next two JMT versions, so together they prune everything.
    fn prune_writes(&self, version: u64, out: &mut Vec<Write>) -> Result<()> {
        let Some(oldest) = self.keep.and_then(|keep| version.checked_sub(keep)) else {
            return Ok(());
        };
        for jmt_version in [2 * oldest, 2 * oldest + 1] {
            for kind in [Stale::Nodes, Stale::History] {
                let Some(keys) = self.stale_list(kind, jmt_version)? else { continue };
                out.extend(keys.into_iter().map(|key| (kind.column(), key, None)));
                out.push((Column::Meta, kind.list_key(jmt_version), None));
            }
        }
        Ok(())
    }
}

/// What a stale list names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Stale {
    /// JMT nodes (keys of [`Column::Nodes`]).
    Nodes,
    /// Value-history entries (keys of [`Column::History`]).
    History,
}

impl Stale {
    /// Where the list of JMT version `jmt_version` is kept in [`Column::Meta`].
    fn list_key(self, jmt_version: Version) -> Vec<u8> {
        match self {
            Stale::Nodes => stale_key(jmt_version),
            Stale::History => history_stale_key(jmt_version),
        }
    }

    fn column(self) -> Column {
        match self {
            Stale::Nodes => Column::Nodes,
            Stale::History => Column::History,
        }
    }
}

/// The keys each JMT version made obsolete, by kind and version: one stored list per version
/// and kind rather than one marker per key, so pruning a version writes two values and reads
/// two, where markers doubled the tree's writes (a marker per replaced node or entry, and its
/// deletion later).
type StaleLists = BTreeMap<(Stale, Version), Vec<Vec<u8>>>;

impl<S: KvStore> StateBackend for JmtBackend<S> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.staged.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.store.get(Column::Values, key),
        }
    }

    fn iter_prefix(&self, prefix: &[u8]) -> Result<Vec<KeyValue>> {
        let mut out: BTreeMap<Vec<u8>, Vec<u8>> =
            self.store.iter_prefix(Column::Values, prefix)?.into_iter().collect();
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
        let expected = self.version.map_or(0, |v| v + 1);
        if version != expected {
            return Err(Error::VersionGap { current: self.version, requested: version });
        }
        let backend = |e: anyhow::Error| Error::Backend(format!("{e:#}"));
        let mut puts = Vec::new();
        let mut deletes = Vec::new();
        for (k, v) in &self.staged {
            match v {
                Some(v) => puts.push((key_hash(k), v.clone())),
                None => deletes.push((key_hash(k), None)),
            }
        }
        let reader = Reader { store: &self.store, pending: None };
        let tree = JellyfishMerkleTree::<_, Blake2bHasher>::new(&reader);
        let first = if puts.is_empty() {
            tree.put_value_set(Vec::new(), 2 * version).map_err(backend)?.1
        } else {
            tree.batch_put_value_sets(vec![puts], None, 2 * version).map_err(backend)?.1
        };
        let reader = Reader { store: &self.store, pending: Some(&first.node_batch) };
        let tree = JellyfishMerkleTree::<_, Blake2bHasher>::new(&reader);
        let (root, second) = tree.put_value_set(deletes, 2 * version + 1).map_err(backend)?;
        let root = Hash(root.0);

        let mut writes = Vec::new();
        let mut stale = StaleLists::new();
        self.node_writes(&first, &mut stale, &mut writes)?;
        self.node_writes(&second, &mut stale, &mut writes)?;
        self.stale_writes(stale, &mut writes)?;
        self.prune_writes(version, &mut writes)?;
        for (k, v) in std::mem::take(&mut self.staged) {
            writes.push((Column::Values, k, v));
        }
        writes.push((Column::Meta, root_key(version), Some(root.0.to_vec())));
        writes.push((Column::Meta, b"version".to_vec(), Some(version.encode())));
        self.store.write(writes)?;
        self.version = Some(version);
        Ok(root)
    }

    fn version(&self) -> Option<u64> {
        self.version
    }

    fn root(&self, version: u64) -> Result<Hash> {
        let bytes = self
            .store
            .get(Column::Meta, &root_key(version))?
            .ok_or(Error::UnknownVersion(version))?;
        let array: [u8; 32] = bytes.try_into().map_err(|_| {
            Error::Backend(format!("stored root of version {version} is not 32 bytes"))
        })?;
        Ok(Hash(array))
    }

    fn prove(&self, key: &[u8], version: u64) -> Result<StateProof> {
        self.root(version)?;
        if self.oldest_provable().is_some_and(|oldest| version < oldest) {
            return Err(Error::UnknownVersion(version));
        }
        let reader = Reader { store: &self.store, pending: None };
        let (value, proof) = JellyfishMerkleTree::<_, Blake2bHasher>::new(&reader)
            .get_with_proof(key_hash(key), 2 * version + 1)
            .map_err(|e| Error::Backend(format!("{e:#}")))?;
        StateProof::from_jmt(version, key.to_vec(), value, &proof)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MemoryBackend;

    /// Applies the same writes to both backends and checks roots, reads and proofs agree.
    #[test]
    fn database_backend_matches_the_memory_backend_and_survives_reopening() {
        let mut mem = MemoryBackend::new();
        let mut db = JmtBackend::open(MemoryKv::default()).unwrap();
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for version in 0..6u64 {
            for _ in 0..40 {
                let key = format!("k/{}", next() % 60).into_bytes();
                if next() % 4 == 0 {
                    mem.delete(&key);
                    db.delete(&key);
                } else {
                    let value = next().to_le_bytes().to_vec();
                    mem.put(key.clone(), value.clone());
                    db.put(key, value);
                }
            }
            assert_eq!(
                mem.commit(version).unwrap(),
                db.commit(version).unwrap(),
                "version {version}"
            );
            assert_eq!(mem.iter_prefix(b"k/").unwrap(), db.iter_prefix(b"k/").unwrap());
        }
        let db = JmtBackend::open(db.store().clone()).unwrap();
        assert_eq!(db.version(), Some(5));
        for i in 0..60 {
            let key = format!("k/{i}").into_bytes();
            for version in [2, 5] {
                let p = db.prove(&key, version).unwrap();
                assert_eq!(p, mem.prove(&key, version).unwrap());
                p.verify(&db.root(version).unwrap()).unwrap();
            }
        }
        assert_eq!(db.root(6), Err(Error::UnknownVersion(6)));
    }

    /// A store with only the required methods: `first_at_least` is the trait's scan.
    struct Scanning(MemoryKv);

    impl KvStore for Scanning {
        fn get(&self, column: Column, key: &[u8]) -> Result<Option<Vec<u8>>> {
            self.0.get(column, key)
        }
        fn iter_prefix(&self, column: Column, prefix: &[u8]) -> Result<Vec<KeyValue>> {
            self.0.iter_prefix(column, prefix)
        }
        fn write(&mut self, batch: Vec<Write>) -> Result<()> {
            self.0.write(batch)
        }
    }

    #[test]
    fn the_memory_store_seeks_as_the_default_scan_does() {
        let mut store = Scanning(MemoryKv::default());
        let put = |k: &str| (Column::History, k.as_bytes().to_vec(), Some(vec![1]));
        store.write(vec![put("a1"), put("a3"), put("b0"), put("b2"), put("c")]).unwrap();
        store.write(vec![(Column::Meta, b"a2".to_vec(), Some(vec![2]))]).unwrap();
        for prefix in ["", "a", "b", "c", "d"] {
            for lower in ["", "0", "a", "a2", "a3", "a9", "b", "b1", "b3", "c", "z"] {
                let seek = |s: &dyn KvStore| {
                    s.first_at_least(Column::History, prefix.as_bytes(), lower.as_bytes()).unwrap()
                };
                assert_eq!(seek(&store.0), seek(&store), "prefix {prefix:?}, lower {lower:?}");
            }
        }
        let found = store.0.first_at_least(Column::History, b"a", b"a2").unwrap();
        assert_eq!(found.map(|(k, _)| k), Some(b"a3".to_vec()));
        assert_eq!(store.0.first_at_least(Column::History, b"a", b"a4").unwrap(), None);
        // The history key's layout: newest first.
        let k = KeyHash([7; 32]);
        assert!(history_key(&k, 5) < history_key(&k, 4));
        assert_eq!(hex::encode(&history_key(&k, 2)[32..]), "fffffffffffffffd");
    }

    #[test]
    fn pruning_keeps_the_recent_proofs_and_bounds_the_node_column() {
        let mut archive = JmtBackend::open(MemoryKv::default()).unwrap();
        let mut pruned = JmtBackend::open(MemoryKv::default()).unwrap().keep_versions(3);
        let write = |db: &mut JmtBackend<MemoryKv>, version: u64| {
            for i in 0..10u64 {
                let key = format!("k/{}", (version * 7 + i) % 25).into_bytes();
                if (version + i).is_multiple_of(9) {
                    db.delete(&key);
                } else {
                    db.put(key, (version * 100 + i).to_le_bytes().to_vec());
                }
            }
        };
        for version in 0..40u64 {
            write(&mut archive, version);
            write(&mut pruned, version);
            assert_eq!(archive.commit(version), pruned.commit(version), "version {version}");
        }
        let count = |db: &JmtBackend<MemoryKv>, column: Column| {
            db.store().columns.keys().filter(|(c, _)| *c == column).count()
        };
        let nodes = |db: &JmtBackend<MemoryKv>| count(db, Column::Nodes);
        assert!(
            nodes(&pruned) * 4 < nodes(&archive),
            "pruned {} nodes, archive {}",
            nodes(&pruned),
            nodes(&archive)
        );
        // Each of the 25 keys keeps at most the entries of the 4 provable versions plus the one
        // in force at the oldest; the archive keeps all 400.
        let history = |db: &JmtBackend<MemoryKv>| count(db, Column::History);
        assert_eq!(history(&archive), 400);
        assert!(history(&pruned) <= 25 * 5, "pruned history {}", history(&pruned));
        assert_eq!(pruned.oldest_provable(), Some(36));
        for i in 0..25 {
            let key = format!("k/{i}").into_bytes();
            for version in 36..40 {
                let proof = pruned.prove(&key, version).unwrap();
                assert_eq!(proof, archive.prove(&key, version).unwrap());
                proof.verify(&pruned.root(version).unwrap()).unwrap();
            }
        }
        assert_eq!(pruned.prove(b"k/0", 35), Err(Error::UnknownVersion(35)));
        // Stale lists remain only for the JMT versions of state versions 37 to 39 (not yet
        // pruned): two kinds, two JMT versions each, at most.
        let lists = pruned
            .store()
            .columns
            .keys()
            .filter(|(c, k)| {
                *c == Column::Meta && (k.starts_with(b"stale") || k.starts_with(b"hstale"))
            })
            .count();
        assert!((1..=12).contains(&lists), "{lists} stale lists");
        // Roots of pruned versions stay; a reopened store goes on committing and pruning.
        assert_eq!(pruned.root(3), archive.root(3));
        let mut reopened = JmtBackend::open(pruned.store().clone()).unwrap().keep_versions(3);
        write(&mut reopened, 40);
        write(&mut archive, 40);
        assert_eq!(reopened.commit(40), archive.commit(40));
        let proof = reopened.prove(b"k/5", 40).unwrap();
        proof.verify(&reopened.root(40).unwrap()).unwrap();
    }

    /// The stored stale lists' layout (module docs), and a damaged list is an error that says
    /// so when its version is pruned.
    #[test]
    fn stale_lists_have_the_documented_layout_and_damage_is_reported() {
        assert_eq!(hex::encode(stale_key(2)), "7374616c650000000000000002");
        assert_eq!(hex::encode(history_stale_key(2)), "687374616c650000000000000002");
        assert_eq!(hex::encode(vec![vec![0x0a_u8, 0x0b], vec![0x0c]].encode()), "08080a0b040c");

        let mut db = JmtBackend::open(MemoryKv::default()).unwrap().keep_versions(1);
        for version in 0..3u64 {
            db.put(b"k".to_vec(), version.to_le_bytes().to_vec());
            db.commit(version).unwrap();
        }
        // State version 3 prunes JMT versions 4 and 5 (state version 2's).
        let stored = db.store().get(Column::Meta, &stale_key(4)).unwrap().unwrap();
        let keys: Vec<Vec<u8>> = itc_primitives::decode_untrusted(&stored).unwrap();
        assert!(!keys.is_empty());
        assert!(keys.iter().all(|k| db.store().get(Column::Nodes, k).unwrap().is_some()));
        let mut damaged = db.clone();
        damaged.store.write(vec![(Column::Meta, stale_key(4), Some(vec![0xff]))]).unwrap();
        damaged.put(b"k".to_vec(), vec![3]);
        let err = damaged.commit(3).unwrap_err().to_string();
        assert!(err.contains("stale list") && err.contains("damaged"), "{err}");
        db.put(b"k".to_vec(), vec![3]);
        db.commit(3).unwrap();
        assert_eq!(db.store().get(Column::Meta, &stale_key(4)).unwrap(), None);
        assert!(keys.iter().all(|k| db.store().get(Column::Nodes, k).unwrap().is_none()));
    }
}
