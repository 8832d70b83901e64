//! The DAG's storage port: vertices and their metadata by hash.
//!
//! The DAG keeps only the unpruned part of the graph in memory (see [`crate::Dag`]); every
//! attached vertex is also written here and stays after it is pruned from memory. The node
//! implements [`DagStore`] over RocksDB; [`MemoryStore`] serves tests, benches and tools.
//!
//! Stored metadata is SCALE ([`VertexMeta`]):
//! `tx_hash (32 bytes) ++ Option<Confirmation>` where `Confirmation = compact milestone ++
//! compact position`; `None` is `0x00`, `Some` is `0x01 ++ value`. Test vector: tx hash
//! `0x11…11`, confirmed by milestone 3 at position 5 encodes as `11×32 ++ 01 0c 14`.
use std::collections::HashMap;

use itc_primitives::{Hash, MilestoneNumber, Vertex};
use parity_scale_codec::{Decode, Encode};

use crate::Result;

/// Where a confirmed vertex sits in the deterministic order of the milestone that confirmed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Confirmation {
    /// The confirming milestone.
    #[codec(compact)]
    pub milestone: MilestoneNumber,
    /// Index in that milestone's ordered list (execution order).
    #[codec(compact)]
    pub position: u32,
}

/// What the DAG stores next to each vertex.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct VertexMeta {
    /// The transaction hash, cached so that reloading never re-hashes the transaction.
    pub tx_hash: Hash,
    /// Set once a milestone confirms the vertex.
    pub confirmation: Option<Confirmation>,
}

/// Storage of vertices and metadata. Implementations must make a `put_*` visible to the
/// following `get_*` on the same value.
pub trait DagStore {
    /// The vertex with this hash, if stored.
    fn get_vertex(&self, hash: &Hash) -> Result<Option<Vertex>>;
    /// The metadata of the vertex with this hash, if stored.
    fn get_meta(&self, hash: &Hash) -> Result<Option<VertexMeta>>;
    /// Whether a vertex with this hash is stored.
    fn contains(&self, hash: &Hash) -> Result<bool> {
        Ok(self.get_meta(hash)?.is_some())
    }
    /// Stores a newly attached vertex with its metadata.
    fn put_vertex(&mut self, hash: Hash, vertex: Vertex, meta: VertexMeta) -> Result<()>;
    /// Replaces the metadata of a stored vertex (on confirmation). The DAG calls it only for
    /// vertices of its graph, which it stored with [`DagStore::put_vertex`]; a store need not
    /// check that again.
    fn put_meta(&mut self, hash: Hash, meta: VertexMeta) -> Result<()>;
    /// Calls `f` once for every stored vertex's hash and metadata, in no particular order.
    fn for_each_meta(&self, f: &mut dyn FnMut(&Hash, &VertexMeta) -> Result<()>) -> Result<()>;
}

/// An in-memory [`DagStore`].
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    entries: HashMap<Hash, (Vertex, VertexMeta)>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of stored vertices.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl DagStore for MemoryStore {
    fn get_vertex(&self, hash: &Hash) -> Result<Option<Vertex>> {
        Ok(self.entries.get(hash).map(|(v, _)| v.clone()))
    }

    fn get_meta(&self, hash: &Hash) -> Result<Option<VertexMeta>> {
        Ok(self.entries.get(hash).map(|(_, m)| *m))
    }

    fn contains(&self, hash: &Hash) -> Result<bool> {
        Ok(self.entries.contains_key(hash))
    }

    fn put_vertex(&mut self, hash: Hash, vertex: Vertex, meta: VertexMeta) -> Result<()> {
        self.entries.insert(hash, (vertex, meta));
        Ok(())
    }

    fn put_meta(&mut self, hash: Hash, meta: VertexMeta) -> Result<()> {
        match self.entries.get_mut(&hash) {
            Some(entry) => {
                entry.1 = meta;
                Ok(())
            }
            None => Err(crate::Error::Store(format!(
                "metadata update for vertex {hash}, which is not stored"
            ))),
        }
    }

    fn for_each_meta(&self, f: &mut dyn FnMut(&Hash, &VertexMeta) -> Result<()>) -> Result<()> {
        for (hash, (_, meta)) in &self.entries {
            f(hash, meta)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use itc_primitives::decode_untrusted;

    #[test]
    fn vertex_meta_encoding_matches_documented_vector() {
        let meta = VertexMeta {
            tx_hash: Hash([0x11; 32]),
            confirmation: Some(Confirmation { milestone: 3, position: 5 }),
        };
        let expected = format!("{}010c14", "11".repeat(32));
        assert_eq!(hex::encode(meta.encode()), expected);
        assert_eq!(decode_untrusted::<VertexMeta>(&meta.encode()).unwrap(), meta);
        let pending = VertexMeta { tx_hash: Hash([0x11; 32]), confirmation: None };
        assert_eq!(hex::encode(pending.encode()), format!("{}00", "11".repeat(32)));
    }
}
