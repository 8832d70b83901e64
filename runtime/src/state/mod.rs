//! Authenticated state: the [`StateBackend`] port, its in-memory adapter, state proofs, and the
//! transactional overlay that execution writes to.
//!
//! The state is a key-value map whose keys and values are bytes (see [`crate::storage`] for how
//! the modules lay out their keys). Its commitment is a Jellyfish Merkle Tree (the `jmt` crate,
//! from Diem, kept by Penumbra) over `blake2b-256(key) -> value`, with blake2b-256 as the tree's
//! hash function. JMT has no ordered iteration over the original keys, so every backend keeps an
//! ordered key index beside the tree for prefix iteration.
//!
//! State is versioned by milestone number: genesis commits version 0, milestone `n` version `n`.
//! Versions are consecutive. The root of version `n` goes into milestone `n`'s
//! `MilestoneHeader::state_root`.
//!
//! [`MemoryBackend`] keeps everything in memory; [`JmtBackend`] keeps it in any ordered
//! key-value database behind the [`KvStore`] port (the node's RocksDB adapter implements it).
//!
//! Execution never writes to the backend directly: it writes to an [`Overlay`] during the
//! milestone and the dispatcher hands the accumulated changes to the backend once, at the end, so
//! the tree is updated once per milestone (the bulk of the cost of a state root).
mod kv;
mod memory;
mod overlay;
mod proof;

pub use kv::{Column, JmtBackend, KvStore, MemoryKv, Write};
pub use memory::MemoryBackend;
pub use overlay::Overlay;
pub use proof::{key_hash, Blake2bHasher, StateProof};

use itc_primitives::Hash;

use crate::Result;

/// A key-value pair as returned by prefix iteration.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// The storage port of the runtime: an authenticated, versioned key-value map.
///
/// Reads see the latest committed version plus any writes staged since. Writes are staged until
/// [`StateBackend::commit`], which authenticates them as the next version and returns its root.
/// [`MemoryBackend`] is the reference implementation; the node implements the same trait over its
/// database. Every implementation must give the same root for the same contents: the root of a
/// JMT holding `blake2b-256(key) -> value` for every pair ([`key_hash`]), hashed with
/// [`Blake2bHasher`]. A JMT root depends only on the tree's contents, not on the JMT versions
/// an implementation uses internally, and its proofs verify with [`StateProof::verify`].
pub trait StateBackend {
    /// The value at `key`, or `None`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Every pair whose key starts with `prefix`, in ascending key order.
    fn iter_prefix(&self, prefix: &[u8]) -> Result<Vec<KeyValue>>;
    /// Stages `key = value` for the next commit.
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>);
    /// Stages the removal of `key` for the next commit.
    fn delete(&mut self, key: &[u8]);
    /// Authenticates the staged writes as `version` (the latest version plus one, or 0 for the
    /// first commit) and returns the new state root.
    fn commit(&mut self, version: u64) -> Result<Hash>;
    /// The latest committed version, `None` before the first commit.
    fn version(&self) -> Option<u64>;
    /// The state root of a committed `version`.
    fn root(&self, version: u64) -> Result<Hash>;
    /// A proof of the value (or absence) of `key` at a committed `version`.
    fn prove(&self, key: &[u8], version: u64) -> Result<StateProof>;
}
