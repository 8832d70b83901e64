//! RocksDB storage: the column families, a generic key-value adapter and the typed chain store.
//!
//! - [`KvStore`] is the generic adapter: get / prefix iteration per column family, and atomic
//!   [`Batch`]es committed with a [`Durability`]. The runtime's `StateBackend` and the DAG's
//!   `DagStore` ports are implemented on it by the driver.
//! - [`ChainStore`] is the typed API over SCALE-encoded `itc_primitives` types: vertices,
//!   finalised milestones with their certificates, receipts and the indexes that find them.
//!
//! # Durability
//! Every write goes through RocksDB's write-ahead log. Finalising a milestone
//! ([`ChainStore::apply_milestone`]) writes header, certificate, receipts, state changes and
//! indexes in **one** `WriteBatch` with `sync = true`: the batch is atomic (all or nothing after a
//! crash) and the call returns only after the WAL is fsynced, so the driver reports a milestone
//! final only once it survives `kill -9` and power loss. Gossiped vertices are written with the
//! WAL but without fsync ([`Durability::Relaxed`]): losing the newest ones in a power cut costs a
//! re-fetch, not safety. Consensus records are synced except those
//! `itc_consensus::PersistRecord::durability` calls buffered (a backup's prepares) and the
//! committed-milestone and checkpoint records, which the next finalised write syncs.
//!
//! # Layout (schema `itc-db/4`)
//! All integers in keys are big-endian so that byte order is numeric order; values are SCALE.
//!
//! | column | key | value |
//! |---|---|---|
//! | `vertices` | vertex hash (32) | `Vertex` |
//! | `milestones` | number (u64 BE) | `(MilestoneHeader, FinalityCertificate)` |
//! | `state` | runtime state key | runtime state value (flat, for reads and prefix iteration) |
//! | `state_tree` | backend-defined (JMT nodes, versioned values) | backend-defined |
//! | `receipts` | number (u64 BE) ++ position (u32 BE) | [`StoredReceipt`] |
//! | `indexes` | `b'm'` ++ milestone hash | number (u64 BE) |
//! | `indexes` | `b't'` ++ tx hash | [`TxLocation`] |
//! | `indexes` | `b'v'` ++ vertex hash | [`TxLocation`] |
//! | `indexes` | `b'e'` ++ epoch (u64 BE) | number (u64 BE) of the milestone whose `next_committee` starts that epoch |
//! | `meta` | `b"schema"` | UTF-8 schema name |
//! | `meta` | `b"finalized"` | `(number: u64, hash: Hash)` of the latest finalised milestone |
//! | `meta` | `b"clean-stop"` | `[1]`: the node stopped cleanly (WAL synced); the next start deletes it, synced, and lifts the consensus restart fence |
//! | `indexes` | `b'a'` ++ vertex hash | the DAG's `VertexMeta` (tx hash, confirmation) |
//! | `state_tree` | `b'n'` ++ Borsh(JMT node key) | Borsh(JMT node) |
//! | `state_tree` | `b'h'` ++ key hash (32) ++ (`u64::MAX` − JMT version) (u64 BE: newest first) | SCALE(`Option<value>`) |
//! | `state_tree` | `b'm'` ++ `b"version"` / `b"root"` ++ version (u64 BE) | latest state version / its root |
//! | `state_tree` | `b'm'` ++ `b"stale"` ++ JMT version (u64 BE) | SCALE(`Vec<Vec<u8>>`) of Borsh(JMT node key): the nodes that version replaced, deleted with the list once older than `state_pruning` versions |
//! | `state_tree` | `b'm'` ++ `b"hstale"` ++ JMT version (u64 BE) | SCALE(`Vec<Vec<u8>>`) of history keys (key hash (32) ++ inverted JMT version, as above): the value-history entries that version made obsolete, deleted likewise |
//! | `consensus` | sequence (u64 BE) | SCALE(`itc_consensus::PersistRecord`), in persist order |
//!
//! At every stable checkpoint the driver rewrites the `consensus` column with what
//! `itc_consensus::compact::compact` keeps (one atomic batch; sequence numbers keep growing), so
//! the log holds roughly the records since the last checkpoint plus the view-change messages.
//!
//! Test vectors: `TxLocation { milestone: 3, position: 5 }` encodes as `0c 05 00 00 00`
//! (compact 3, then u32 LE 5); the receipts key of milestone 1, position 2 is
//! `00 00 00 00 00 00 00 01 00 00 00 02`; the epoch key of epoch 2 is
//! `65 00 00 00 00 00 00 00 02`.
//!
//! Schema 2 added the epoch index (a restart resumes in the latest epoch without reading the
//! chain from genesis). Schema 3 keeps one list of stale keys per JMT version where schema 2
//! kept a marker per key (half the state tree's writes; `itc_runtime::state::kv`); schema 4
//! stores history versions inverted (a forward seek finds the entry in force). A database of an
//! older schema is refused: resync it.
mod chain;
mod kv;

pub use chain::{
    epoch_key, milestone_batch, receipt_key, ChainStore, MilestoneCommit, ReceiptRecord,
    StoredReceipt, TxLocation, SCHEMA,
};
pub use kv::{Batch, Durability, KeyValue, KvStore};

/// The column families. Their names are part of the on-disk format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Column {
    /// Vertices by hash.
    Vertices,
    /// Finalised milestone headers with their certificates, by number.
    Milestones,
    /// The runtime's flat state (key -> value).
    State,
    /// The state backend's authenticated structure (JMT nodes and value history).
    StateTree,
    /// Receipts by (milestone, position).
    Receipts,
    /// Look-ups by hash: milestone hash, tx hash, vertex hash.
    Indexes,
    /// Database metadata: schema, latest finalised milestone.
    Meta,
    /// The consensus replica's persist log, by sequence number.
    Consensus,
}

impl Column {
    /// Every column, in a fixed order.
    pub const ALL: [Column; 8] = [
        Column::Vertices,
        Column::Milestones,
        Column::State,
        Column::StateTree,
        Column::Receipts,
        Column::Indexes,
        Column::Meta,
        Column::Consensus,
    ];

    /// The column family's name on disk.
    pub const fn name(self) -> &'static str {
        match self {
            Column::Vertices => "vertices",
            Column::Milestones => "milestones",
            Column::State => "state",
            Column::StateTree => "state_tree",
            Column::Receipts => "receipts",
            Column::Indexes => "indexes",
            Column::Meta => "meta",
            Column::Consensus => "consensus",
        }
    }
}

#[cfg(test)]
mod tests;
