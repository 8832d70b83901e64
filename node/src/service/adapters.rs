//! The protocol cores' storage ports over RocksDB: the runtime's [`itc_runtime::KvStore`]
//! (under the authenticated state, [`NodeState`]) and the DAG's [`itc_dag::DagStore`].
//!
//! **State.** [`DbState`] reads RocksDB through an in-memory overlay and writes only to the
//! overlay. The validator executes milestones on clones of the state (speculatively, before a
//! milestone commits); a clone copies the overlay and shares the database handle, so abandoned
//! executions leave the database untouched. Once a milestone is applied, the driver takes the
//! overlay ([`DbState::take_writes`]) and writes it in the same fsynced batch as the milestone
//! itself, so state and chain never disagree after a crash. A clone made before the driver
//! took the writes still holds them (the primary executes its next proposal on the state it
//! just applied); every write is stamped from a clock the clones share, and a take returns only
//! the writes newer than the last take, so nothing is written twice and the overlay stays the
//! size of one milestone's writes. Layout: the runtime's `Values`
//! column is the `state` column family; `Nodes`, `History` and `Meta` share `state_tree` under
//! the one-byte prefixes `n`, `h` and `m`.
//!
//! **DAG.** [`DbDag`] keeps vertices in `vertices` (SCALE `Vertex`) and the DAG's metadata in
//! `indexes` under prefix `a`. Writes wait in a buffer (read through, like the state's overlay)
//! until the driver takes them ([`DbDag::take_writes`]): in the batch of its next consensus
//! record or finalised milestone (so a logged proposal never names a vertex the database lacks),
//! else through the WAL without fsync at the next tick (20 ms) or once
//! [`DbDag::pending`] reaches a bound. A vertex lost in a crash before then (or in a power cut
//! before the next fsync) is one this node gossiped or received, and is fetched again.
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use itc_dag::{DagStore, VertexMeta};
use itc_primitives::{decode_untrusted, Hash, Vertex};
use itc_runtime::state::{Column as StateColumn, JmtBackend};
use parity_scale_codec::{Decode, Encode};

use crate::storage::{Column, KvStore};

/// The node's authenticated state: the runtime's JMT backend over [`DbState`].
pub type NodeState = JmtBackend<DbState>;

/// A write for [`crate::storage::MilestoneCommit::extra`].
pub type DbWrite = (Column, Vec<u8>, Option<Vec<u8>>);

const DAG_META: u8 = b'a';

fn place(column: StateColumn) -> (Column, Option<u8>) {
    match column {
        StateColumn::Values => (Column::State, None),
        StateColumn::Nodes => (Column::StateTree, Some(b'n')),
        StateColumn::History => (Column::StateTree, Some(b'h')),
        StateColumn::Meta => (Column::StateTree, Some(b'm')),
    }
}

fn db_key(column: StateColumn, key: &[u8]) -> (Column, Vec<u8>) {
    let (cf, tag) = place(column);
    let mut k = Vec::with_capacity(key.len() + 1);
    k.extend(tag);
    k.extend_from_slice(key);
    (cf, k)
}

fn backend(e: crate::Error) -> itc_runtime::Error {
    itc_runtime::Error::Backend(e.to_string())
}

/// The runtime's key-value port over RocksDB plus an overlay of unflushed writes (see the
/// module docs).
#[derive(Debug)]
pub struct DbState {
    kv: KvStore,
    /// Each write with its stamp from `clock`.
    overlay: BTreeMap<(StateColumn, Vec<u8>), Stamped>,
    clock: Arc<WriteClock>,
}

/// A value written (`None`: deleted) and its stamp.
type Stamped = (u64, Option<Vec<u8>>);

/// Stamps shared by a state and its clones.
#[derive(Debug, Default)]
struct WriteClock {
    /// The last stamp given.
    last: AtomicU64,
    /// The newest stamp taken by [`DbState::take_writes`]: older writes are in the database.
    taken: AtomicU64,
}

/// A clone leaves out the writes already taken (they are in the database): the primary clones
/// the state it just applied before the driver takes its writes, so without this the overlay
/// of each proposal would carry every earlier milestone's writes, and cloning it would cost
/// more with every milestone.
impl Clone for DbState {
    fn clone(&self) -> Self {
        let taken = self.clock.taken.load(Ordering::Acquire);
        let overlay = self
            .overlay
            .iter()
            .filter(|(_, (stamp, _))| *stamp > taken)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        DbState { kv: self.kv.clone(), overlay, clock: self.clock.clone() }
    }
}

impl DbState {
    /// The state kept in `kv`.
    pub fn new(kv: KvStore) -> Self {
        DbState { kv, overlay: BTreeMap::new(), clock: Arc::default() }
    }

    /// Takes the writes made since the last call (on this state or any clone of it), as
    /// database writes. Writes a clone took already are dropped, not returned again.
    pub fn take_writes(&mut self) -> Vec<DbWrite> {
        let taken = self.clock.taken.load(Ordering::Acquire);
        let overlay = std::mem::take(&mut self.overlay);
        let newest = overlay.values().map(|(stamp, _)| *stamp).max().unwrap_or(0);
        self.clock.taken.fetch_max(newest, Ordering::AcqRel);
        overlay
            .into_iter()
            .filter(|(_, (stamp, _))| *stamp > taken)
            .map(|((column, key), (_, value))| {
                let (cf, k) = db_key(column, &key);
                (cf, k, value)
            })
            .collect()
    }

    /// Number of writes waiting in the overlay.
    pub fn unflushed(&self) -> usize {
        self.overlay.len()
    }
}

impl itc_runtime::KvStore for DbState {
    fn get(&self, column: StateColumn, key: &[u8]) -> itc_runtime::Result<Option<Vec<u8>>> {
        if let Some((_, v)) = self.overlay.get(&(column, key.to_vec())) {
            return Ok(v.clone());
        }
        let (cf, k) = db_key(column, key);
        self.kv.get(cf, &k).map_err(backend)
    }

    fn iter_prefix(
        &self,
        column: StateColumn,
        prefix: &[u8],
    ) -> itc_runtime::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let (cf, p) = db_key(column, prefix);
        let skip = p.len() - prefix.len();
        let mut out: BTreeMap<Vec<u8>, Vec<u8>> = self
            .kv
            .iter_prefix(cf, &p)
            .map_err(backend)?
            .into_iter()
            .map(|(k, v)| (k[skip..].to_vec(), v))
            .collect();
        for ((_, k), (_, v)) in self
            .overlay
            .range((column, prefix.to_vec())..)
            .take_while(|((c, k), _)| *c == column && k.starts_with(prefix))
        {
            match v {
                Some(v) => out.insert(k.clone(), v.clone()),
                None => out.remove(k),
            };
        }
        Ok(out.into_iter().collect())
    }

    fn first_at_least(
        &self,
        column: StateColumn,
        prefix: &[u8],
        lower: &[u8],
    ) -> itc_runtime::Result<Option<(Vec<u8>, Vec<u8>)>> {
        let (cf, p) = db_key(column, prefix);
        let (_, l) = db_key(column, lower);
        let tag = p.len() - prefix.len();
        // Stored keys the overlay writes (or deletes) are decided by the overlay.
        let stored = self
            .kv
            .first_at_least(cf, &p, &l, |k| self.overlay.contains_key(&(column, k[tag..].to_vec())))
            .map_err(backend)?
            .map(|(k, v)| (k[tag..].to_vec(), v));
        let from = lower.max(prefix);
        let overlaid = self
            .overlay
            .range((column, from.to_vec())..)
            .take_while(|((c, k), _)| *c == column && k.starts_with(prefix))
            .find_map(|((_, k), (_, v))| v.as_ref().map(|v| (k.clone(), v.clone())));
        Ok(match (stored, overlaid) {
            (Some(s), Some(o)) => Some(if s.0 < o.0 { s } else { o }),
            (s, o) => s.or(o),
        })
    }

    fn write(&mut self, batch: Vec<itc_runtime::state::Write>) -> itc_runtime::Result<()> {
        for (column, key, value) in batch {
            let stamp = self.clock.last.fetch_add(1, Ordering::AcqRel) + 1;
            self.overlay.insert((column, key), (stamp, value));
        }
        Ok(())
    }
}

fn dag_err(e: impl std::fmt::Display) -> itc_dag::Error {
    itc_dag::Error::Store(e.to_string())
}

fn meta_key(hash: &Hash) -> Vec<u8> {
    let mut k = Vec::with_capacity(33);
    k.push(DAG_META);
    k.extend_from_slice(&hash.0);
    k
}

fn decode_stored<T: Decode>(what: &str, hash: &Hash, bytes: &[u8]) -> itc_dag::Result<T> {
    decode_untrusted(bytes).map_err(|e| {
        dag_err(format!("stored {what} of {hash} does not decode ({e}); the database is damaged"))
    })
}

/// The DAG's store port over RocksDB (see the module docs).
#[derive(Clone, Debug)]
pub struct DbDag {
    kv: KvStore,
    /// Writes not yet taken by the driver, by column and key.
    pending: BTreeMap<(Column, Vec<u8>), Vec<u8>>,
}

impl DbDag {
    /// The DAG kept in `kv`.
    pub fn new(kv: KvStore) -> Self {
        DbDag { kv, pending: BTreeMap::new() }
    }

    /// Takes the buffered writes, as database writes.
    pub fn take_writes(&mut self) -> Vec<DbWrite> {
        std::mem::take(&mut self.pending).into_iter().map(|((cf, k), v)| (cf, k, Some(v))).collect()
    }

    /// Writes waiting to be taken.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    fn read(&self, column: Column, key: &[u8]) -> itc_dag::Result<Option<Vec<u8>>> {
        match self.pending.get(&(column, key.to_vec())) {
            Some(v) => Ok(Some(v.clone())),
            None => self.kv.get(column, key).map_err(dag_err),
        }
    }
}

impl DagStore for DbDag {
    fn get_vertex(&self, hash: &Hash) -> itc_dag::Result<Option<Vertex>> {
        match self.read(Column::Vertices, &hash.0)? {
            Some(bytes) => Ok(Some(decode_stored("vertex", hash, &bytes)?)),
            None => Ok(None),
        }
    }

    fn get_meta(&self, hash: &Hash) -> itc_dag::Result<Option<VertexMeta>> {
        match self.read(Column::Indexes, &meta_key(hash))? {
            Some(bytes) => Ok(Some(decode_stored("vertex metadata", hash, &bytes)?)),
            None => Ok(None),
        }
    }

    fn put_vertex(&mut self, hash: Hash, vertex: Vertex, meta: VertexMeta) -> itc_dag::Result<()> {
        self.pending.insert((Column::Vertices, hash.0.to_vec()), vertex.encode());
        self.pending.insert((Column::Indexes, meta_key(&hash)), meta.encode());
        Ok(())
    }

    fn put_meta(&mut self, hash: Hash, meta: VertexMeta) -> itc_dag::Result<()> {
        // No read to check the vertex is stored: the DAG confirms only vertices of its graph,
        // each stored by `put_vertex` first (that read was 1.5 % of a validator's CPU).
        self.pending.insert((Column::Indexes, meta_key(&hash)), meta.encode());
        Ok(())
    }

    fn for_each_meta(
        &self,
        f: &mut dyn FnMut(&Hash, &VertexMeta) -> itc_dag::Result<()>,
    ) -> itc_dag::Result<()> {
        let mut metas: BTreeMap<Vec<u8>, Vec<u8>> = self
            .kv
            .iter_prefix(Column::Indexes, &[DAG_META])
            .map_err(dag_err)?
            .into_iter()
            .collect();
        for ((column, key), bytes) in &self.pending {
            if *column == Column::Indexes && key.first() == Some(&DAG_META) {
                metas.insert(key.clone(), bytes.clone());
            }
        }
        for (key, bytes) in metas {
            let array: [u8; 32] = key[1..].try_into().map_err(|_| {
                dag_err("a vertex metadata key is 33 bytes; the database is damaged")
            })?;
            let hash = Hash(array);
            let meta = decode_stored("vertex metadata", &hash, &bytes)?;
            f(&hash, &meta)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use itc_runtime::{KvStore as _, MemoryBackend, StateBackend};

    use super::*;
    use crate::storage::{Batch, Durability};

    fn open() -> (tempfile::TempDir, KvStore) {
        let dir = tempfile::tempdir().unwrap();
        let kv = KvStore::open(dir.path()).unwrap();
        (dir, kv)
    }

    /// The database-backed state gives the memory backend's roots and reads, leaves the database
    /// untouched until its writes are taken, and reopens at the flushed version.
    #[test]
    fn db_state_matches_memory_and_flushes_only_when_asked() {
        let (_dir, kv) = open();
        let mut mem = MemoryBackend::new();
        let mut db = NodeState::open(DbState::new(kv.clone())).unwrap();
        for version in 0..4u64 {
            for i in 0..30u64 {
                let key = format!("acct/{}", (i * 7 + version) % 40).into_bytes();
                if (i + version) % 5 == 0 {
                    mem.delete(&key);
                    db.delete(&key);
                } else {
                    let value = (i * version).to_le_bytes().to_vec();
                    mem.put(key.clone(), value.clone());
                    db.put(key, value);
                }
            }
            assert_eq!(mem.commit(version).unwrap(), db.commit(version).unwrap());
            assert_eq!(mem.iter_prefix(b"acct/").unwrap(), db.iter_prefix(b"acct/").unwrap());
            if version == 1 {
                // A speculative clone commits a version the database never sees.
                let mut fork = db.clone();
                fork.put(b"acct/x".to_vec(), vec![1]);
                fork.commit(2).unwrap();
                assert_eq!(NodeState::open(DbState::new(kv.clone())).unwrap().version(), None);
            }
        }
        let writes = db.store_mut().take_writes();
        assert!(!writes.is_empty());
        assert_eq!(db.store().unflushed(), 0);
        kv.commit(Batch::of(writes), Durability::Sync).unwrap();
        let reopened = NodeState::open(DbState::new(kv.clone())).unwrap();
        assert_eq!(reopened.version(), Some(3));
        assert_eq!(reopened.root(3).unwrap(), mem.root(3).unwrap());
        assert_eq!(reopened.iter_prefix(b"acct/").unwrap(), mem.iter_prefix(b"acct/").unwrap());
        let proof = reopened.prove(b"acct/3", 3).unwrap();
        assert_eq!(proof, mem.prove(b"acct/3", 3).unwrap());
        // Raw access: nothing leaks across columns.
        let s = DbState::new(kv);
        assert!(s.iter_prefix(StateColumn::Nodes, b"acct/").unwrap().is_empty());
    }

    /// The primary executes its next proposal on a clone of the state it just applied, before
    /// the driver takes that state's writes: the clone's take must return only its own writes,
    /// however many milestones go round this way (they used to pile up, each milestone
    /// rewriting every earlier one's).
    #[test]
    fn a_clone_made_before_a_take_does_not_return_the_taken_writes_again() {
        let (_dir, kv) = open();
        let flush = |writes: &[DbWrite]| {
            kv.commit(Batch::of(writes.iter().cloned()), Durability::Sync).unwrap();
        };
        let mut applied = NodeState::open(DbState::new(kv.clone())).unwrap();
        applied.put(b"k0".to_vec(), vec![0]);
        applied.commit(0).unwrap();
        let mut taken: Vec<DbWrite> = Vec::new();
        for version in 1..20u64 {
            // The next milestone executes on a clone, then the applied one's writes are taken.
            let mut next = applied.clone();
            next.put(format!("k{version}").into_bytes(), vec![version as u8]);
            next.commit(version).unwrap();
            let writes = applied.store_mut().take_writes();
            assert!(!writes.is_empty());
            let again = writes.iter().filter(|w| taken.contains(w)).count();
            assert_eq!(again, 0, "version {version} rewrites {again} writes taken before");
            // One key and its tree path: a bounded number, whatever the version.
            assert!(writes.len() < 16, "version {version}: {} writes", writes.len());
            flush(&writes);
            taken.extend(writes);
            applied = next;
            // The applied state's clone (the next proposal) carries only untaken writes.
            assert!(applied.clone().store().unflushed() < 16, "version {version}");
        }
        flush(&applied.store_mut().take_writes());
        assert_eq!(applied.store().unflushed(), 0);
        let reopened = NodeState::open(DbState::new(kv.clone())).unwrap();
        assert_eq!(reopened.version(), Some(19));
        assert_eq!(reopened.root(19).unwrap(), applied.root(19).unwrap());
        for k in 0..20u64 {
            let key = format!("k{k}").into_bytes();
            assert_eq!(reopened.get(&key).unwrap(), Some(vec![k as u8]));
        }
    }

    /// The forward seek the state's value history uses gives what a scan of the prefix gives,
    /// whichever of the database and the overlay holds the keys (and the overlay's deletions
    /// hide stored keys).
    #[test]
    fn first_at_least_merges_the_database_and_the_overlay() {
        let (_dir, kv) = open();
        let mut s = DbState::new(kv.clone());
        let put =
            |k: &str| (StateColumn::History, k.as_bytes().to_vec(), Some(k.as_bytes().to_vec()));
        s.write(vec![put("a1"), put("a3"), put("a5"), put("b1")]).unwrap();
        kv.commit(Batch::of(s.take_writes()), Durability::Relaxed).unwrap();
        s.write(vec![put("a4"), (StateColumn::History, b"a3".to_vec(), None), put("a0")]).unwrap();
        s.write(vec![(StateColumn::Meta, b"a9".to_vec(), Some(vec![9]))]).unwrap();
        for lower in ["", "0", "a", "a0", "a2", "a3", "a4", "a45", "a5", "a6", "b0", "b1", "c"] {
            let scan = s
                .iter_prefix(StateColumn::History, b"a")
                .unwrap()
                .into_iter()
                .find(|(k, _)| k.as_slice() >= lower.as_bytes());
            let seek = s.first_at_least(StateColumn::History, b"a", lower.as_bytes()).unwrap();
            assert_eq!(seek, scan, "lower {lower}");
        }
        let key =
            |seek: Option<(Vec<u8>, Vec<u8>)>| seek.map(|(k, _)| String::from_utf8(k).unwrap());
        assert_eq!(
            key(s.first_at_least(StateColumn::History, b"a", b"a2").unwrap()),
            Some("a4".into()),
            "a3 is deleted in the overlay"
        );
        assert_eq!(
            key(s.first_at_least(StateColumn::History, b"a", b"a45").unwrap()),
            Some("a5".into())
        );
        assert_eq!(
            key(s.first_at_least(StateColumn::History, b"b", b"").unwrap()),
            Some("b1".into())
        );
        assert_eq!(s.first_at_least(StateColumn::History, b"a", b"a6").unwrap(), None);
        assert_eq!(s.first_at_least(StateColumn::Meta, b"b", b"a").unwrap(), None);
    }

    fn metas(store: &DbDag) -> Vec<(Hash, VertexMeta)> {
        let mut seen = Vec::new();
        store
            .for_each_meta(&mut |h, m| {
                seen.push((*h, *m));
                Ok(())
            })
            .unwrap();
        seen
    }

    #[test]
    fn db_dag_round_trips_and_reports_damage() {
        let (_dir, kv) = open();
        let mut store = DbDag::new(kv.clone());
        let pair = itc_primitives::Pair::from_string("//Alice", None).unwrap();
        let tx = itc_chain::sim::transfer(&pair, Hash::ZERO, 0, pair.public(), 1);
        let vertex = Vertex { tx, parents: Default::default(), pow_nonce: 0 };
        let hash = vertex.hash();
        let meta = VertexMeta { tx_hash: vertex.tx.hash(), confirmation: None };
        assert_eq!(store.get_vertex(&hash).unwrap(), None);
        store.put_vertex(hash, vertex.clone(), meta).unwrap();
        assert_eq!(store.get_vertex(&hash).unwrap(), Some(vertex.clone()));
        assert_eq!(store.get_meta(&hash).unwrap(), Some(meta));
        assert_eq!(metas(&store), vec![(hash, meta)]);
        // Buffered until taken: the database holds nothing yet, then everything.
        assert_eq!(DbDag::new(kv.clone()).get_vertex(&hash).unwrap(), None);
        let writes = store.take_writes();
        assert_eq!(writes.len(), 2);
        kv.commit(Batch::of(writes), Durability::Relaxed).unwrap();
        let mut reopened = DbDag::new(kv.clone());
        assert_eq!(reopened.get_vertex(&hash).unwrap(), Some(vertex));
        let confirmation = itc_dag::Confirmation { milestone: 3, position: 1 };
        let confirmed = VertexMeta { confirmation: Some(confirmation), ..meta };
        reopened.put_meta(hash, confirmed).unwrap();
        assert_eq!(metas(&reopened), vec![(hash, confirmed)], "the buffered write shadows");
        kv.put(Column::Vertices, &hash.0, &[0xff, 0xff]).unwrap();
        let err = reopened.get_vertex(&hash).unwrap_err().to_string();
        assert!(err.contains("damaged"), "{err}");
    }
}
