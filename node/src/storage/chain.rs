//! The typed chain store: vertices, finalised milestones, receipts and their indexes.
use std::path::Path;

use itc_primitives::{
    decode_untrusted, Committee, FinalityCertificate, Hash, MilestoneHeader, MilestoneNumber,
    Vertex,
};
use parity_scale_codec::{Decode, Encode};

use super::{Batch, Column, Durability, KvStore};
use crate::{Error, Result};

/// The schema this build reads and writes; stored under `meta/schema`.
pub const SCHEMA: &str = "itc-db/4";

const META_SCHEMA: &[u8] = b"schema";
const META_FINALIZED: &[u8] = b"finalized";
/// Present (value `[1]`) from a clean shutdown until the next start takes it: the consensus
/// log was complete and synced when the node stopped.
const META_CLEAN_STOP: &[u8] = b"clean-stop";
const IDX_MILESTONE: u8 = b'm';
const IDX_TX: u8 = b't';
const IDX_VERTEX: u8 = b'v';
const IDX_EPOCH: u8 = b'e';

/// The `indexes` key under which the milestone that hands over to `epoch`'s committee is found.
pub fn epoch_key(epoch: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = IDX_EPOCH;
    k[1..].copy_from_slice(&epoch.to_be_bytes());
    k
}

/// Where a transaction (or its vertex) was executed: milestone and position in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct TxLocation {
    /// The milestone that finalised it.
    #[codec(compact)]
    pub milestone: MilestoneNumber,
    /// Its index in that milestone's execution order.
    pub position: u32,
}

/// One receipt as the driver hands it to [`ChainStore::apply_milestone`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptRecord {
    /// The transaction's hash.
    pub tx_hash: Hash,
    /// The hash of the vertex that carried it.
    pub vertex_hash: Hash,
    /// The runtime's SCALE-encoded receipt (outcome, fee, events); opaque to the store.
    pub receipt: Vec<u8>,
}

/// A receipt as stored: the receipt bytes with the hashes that identify it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct StoredReceipt {
    /// The transaction's hash.
    pub tx_hash: Hash,
    /// The hash of the vertex that carried it.
    pub vertex_hash: Hash,
    /// The runtime's SCALE-encoded receipt.
    pub receipt: Vec<u8>,
}

/// Everything that finalising one milestone writes, applied atomically and durably.
#[derive(Clone, Debug)]
pub struct MilestoneCommit {
    /// The finalised header.
    pub header: MilestoneHeader,
    /// Its finality certificate (already verified against the committee by the driver).
    pub certificate: FinalityCertificate,
    /// Receipts in execution order; position `i` is the `i`-th executed vertex.
    pub receipts: Vec<ReceiptRecord>,
    /// Changes to the flat state: `Some(value)` writes, `None` deletes.
    pub state_changes: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    /// Further writes that must land in the same batch (the state backend's tree nodes, the
    /// DAG's vertex metadata): column, key, `Some(value)` or `None` to delete.
    pub extra: Vec<(Column, Vec<u8>, Option<Vec<u8>>)>,
}

/// The typed chain store over [`KvStore`]. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ChainStore {
    kv: KvStore,
}

fn decode<T: Decode>(column: Column, key: &[u8], bytes: &[u8]) -> Result<T> {
    decode_untrusted(bytes).map_err(|e| Error::Corrupt {
        column: column.name(),
        key: hex::encode(key),
        reason: e.to_string(),
    })
}

fn index_key(tag: u8, hash: &Hash) -> Vec<u8> {
    let mut k = Vec::with_capacity(33);
    k.push(tag);
    k.extend_from_slice(&hash.0);
    k
}

/// The `receipts` key of (milestone, position).
pub fn receipt_key(milestone: MilestoneNumber, position: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&milestone.to_be_bytes());
    k[8..].copy_from_slice(&position.to_be_bytes());
    k
}

impl ChainStore {
    /// Opens the store at `path`, creating it (with the current schema) if empty; refuses a
    /// database written with another schema.
    pub fn open(path: &Path) -> Result<Self> {
        let kv = KvStore::open(path)?;
        match kv.get(Column::Meta, META_SCHEMA)? {
            None => {
                let mut b = Batch::new();
                b.put(Column::Meta, META_SCHEMA, SCHEMA.as_bytes());
                kv.commit(b, Durability::Sync)?;
            }
            Some(found) if found == SCHEMA.as_bytes() => {}
            Some(found) => {
                return Err(Error::SchemaMismatch {
                    path: path.to_path_buf(),
                    found: String::from_utf8_lossy(&found).into_owned(),
                    expected: SCHEMA.into(),
                })
            }
        }
        Ok(ChainStore { kv })
    }

    /// Records a clean stop, after the last write of a stopping node: syncs the WAL (so every
    /// buffered write, the consensus log's relaxed records among them, is durable), then writes
    /// the clean-stop marker, synced.
    pub fn mark_clean_stop(&self) -> Result<()> {
        self.kv.sync_wal()?;
        let mut b = Batch::new();
        b.put(Column::Meta, META_CLEAN_STOP, [1u8]);
        self.kv.commit(b, Durability::Sync)
    }

    /// Whether the node stopped cleanly last time ([`ChainStore::mark_clean_stop`]), consuming
    /// the marker: it is deleted, synced, before this returns, so a crash of this run is never
    /// taken for a clean stop. Call once at start, before any consensus write.
    pub fn take_clean_stop(&self) -> Result<bool> {
        if self.kv.get(Column::Meta, META_CLEAN_STOP)?.is_none() {
            return Ok(false);
        }
        let mut b = Batch::new();
        b.delete(Column::Meta, META_CLEAN_STOP);
        self.kv.commit(b, Durability::Sync)?;
        Ok(true)
    }

    /// The underlying key-value store (for the state backend and DAG store adapters).
    pub fn kv(&self) -> &KvStore {
        &self.kv
    }

    /// Stores a vertex under its hash (WAL, no fsync: a lost vertex is re-fetched) and returns
    /// the hash.
    pub fn put_vertex(&self, vertex: &Vertex) -> Result<Hash> {
        let hash = vertex.hash();
        let mut b = Batch::new();
        b.put(Column::Vertices, hash.0, vertex.encode());
        self.kv.commit(b, Durability::Relaxed)?;
        Ok(hash)
    }

    /// The vertex with this hash, if stored.
    pub fn vertex(&self, hash: &Hash) -> Result<Option<Vertex>> {
        self.kv
            .get(Column::Vertices, &hash.0)?
            .map(|bytes| decode(Column::Vertices, &hash.0, &bytes))
            .transpose()
    }

    /// Whether a vertex with this hash is stored.
    pub fn has_vertex(&self, hash: &Hash) -> Result<bool> {
        Ok(self.kv.get(Column::Vertices, &hash.0)?.is_some())
    }

    /// The latest finalised milestone's number and hash, `None` before genesis is stored.
    pub fn finalized(&self) -> Result<Option<(MilestoneNumber, Hash)>> {
        self.kv
            .get(Column::Meta, META_FINALIZED)?
            .map(|bytes| decode(Column::Meta, META_FINALIZED, &bytes))
            .transpose()
    }

    /// The finalised milestone `number` with its certificate.
    pub fn milestone(
        &self,
        number: MilestoneNumber,
    ) -> Result<Option<(MilestoneHeader, FinalityCertificate)>> {
        let key = number.to_be_bytes();
        self.kv
            .get(Column::Milestones, &key)?
            .map(|bytes| decode(Column::Milestones, &key, &bytes))
            .transpose()
    }

    /// The receipts of finalised milestone `number`, in execution order.
    pub fn receipts(&self, number: MilestoneNumber) -> Result<Vec<StoredReceipt>> {
        self.kv
            .iter_prefix(Column::Receipts, &number.to_be_bytes())?
            .into_iter()
            .map(|(key, bytes)| decode(Column::Receipts, &key, &bytes))
            .collect()
    }

    /// Appends records to the consensus persist log with `durability` (PBFT sends a message
    /// only once what it depends on is durable: use [`Durability::Sync`] unless a later synced
    /// write covers the records before anything depends on them), in one atomic write with
    /// `extra` (the vertices the records may name, so they are as durable). Returns the next
    /// sequence number.
    pub fn append_consensus(
        &self,
        next_seq: u64,
        records: &[Vec<u8>],
        extra: Vec<(Column, Vec<u8>, Option<Vec<u8>>)>,
        durability: Durability,
    ) -> Result<u64> {
        let mut b = Batch::of(extra);
        let seq = consensus_batch(next_seq, records, &mut b);
        self.kv.commit(b, durability)?;
        Ok(seq)
    }

    /// Replaces the consensus persist log, whose live entries are the sequence numbers
    /// `start..next`, with `keep` (in order), atomically: those entries are deleted and `keep`
    /// is written from `next` on, so sequence numbers only grow. Returns the next sequence
    /// number; `keep` starts at `next`. Not fsynced: if the rewrite is lost in a crash the old
    /// log, which restores the same replica, is still there. The entries are deleted by key, not
    /// found by a scan: a log rewritten at every checkpoint leaves a trail of deletions that a
    /// scan from the start would wade through, longer with every rewrite.
    pub fn rewrite_consensus(&self, start: u64, next: u64, keep: &[Vec<u8>]) -> Result<u64> {
        let mut b = Batch::new();
        for seq in start..next {
            b.delete(Column::Consensus, seq.to_be_bytes());
        }
        let seq = consensus_batch(next, keep, &mut b);
        self.kv.commit(b, Durability::Relaxed)?;
        Ok(seq)
    }

    /// The consensus persist log, in order, as raw records (decode them with the consensus
    /// crate), and the next sequence number (0 for an empty log). Scans the whole column: for
    /// a restart; a running node reads from the first live entry ([`Self::consensus_log_from`]).
    pub fn consensus_log(&self) -> Result<(Vec<Vec<u8>>, u64)> {
        let (entries, next) = self.consensus_entries(0)?;
        Ok((entries.into_iter().map(|(_, v)| v).collect(), next.unwrap_or(0)))
    }

    /// The log's records from sequence number `start` on (seeking past the deleted entries
    /// before it), and the next sequence number (`start` if there are none).
    pub fn consensus_log_from(&self, start: u64) -> Result<(Vec<Vec<u8>>, u64)> {
        let (entries, next) = self.consensus_entries(start)?;
        Ok((entries.into_iter().map(|(_, v)| v).collect(), next.unwrap_or(start)))
    }

    /// The sequence numbers of the live log, `first..next` (`0..0` when empty).
    pub fn consensus_span(&self) -> Result<(u64, u64)> {
        let (entries, next) = self.consensus_entries(0)?;
        match (entries.first(), next) {
            (Some((key, _)), Some(next)) => Ok((log_seq_of(key)?, next)),
            _ => Ok((0, 0)),
        }
    }

    fn consensus_entries(&self, start: u64) -> Result<(Vec<super::kv::KeyValue>, Option<u64>)> {
        let entries = self.kv.iter_from(Column::Consensus, &start.to_be_bytes())?;
        let next = match entries.last() {
            None => None,
            Some((key, _)) => Some(log_seq_of(key)? + 1),
        };
        Ok((entries, next))
    }

    /// Every committee a finalised milestone handed over to, in epoch order, with that
    /// milestone's number and hash (the base of the committee's epoch).
    pub fn committees(&self) -> Result<Vec<(MilestoneNumber, Hash, Committee)>> {
        let mut out = Vec::new();
        for (key, value) in self.kv.iter_prefix(Column::Indexes, &[IDX_EPOCH])? {
            let corrupt = |reason: String| Error::Corrupt {
                column: Column::Indexes.name(),
                key: hex::encode(&key),
                reason,
            };
            let bytes: [u8; 8] = value.as_slice().try_into().map_err(|_| {
                corrupt(format!("{} bytes, not a u64 milestone number", value.len()))
            })?;
            let number = MilestoneNumber::from_be_bytes(bytes);
            let (header, _) = self
                .milestone(number)?
                .ok_or_else(|| corrupt(format!("milestone {number} is not stored")))?;
            let committee = header
                .next_committee
                .clone()
                .ok_or_else(|| corrupt(format!("milestone {number} hands over to no committee")))?;
            out.push((number, header.hash(), committee));
        }
        Ok(out)
    }

    /// The number of the finalised milestone with this header hash.
    pub fn milestone_number(&self, hash: &Hash) -> Result<Option<MilestoneNumber>> {
        let key = index_key(IDX_MILESTONE, hash);
        self.kv
            .get(Column::Indexes, &key)?
            .map(|bytes| {
                let arr: [u8; 8] = bytes.as_slice().try_into().map_err(|_| Error::Corrupt {
                    column: Column::Indexes.name(),
                    key: hex::encode(&key),
                    reason: format!(
                        "expected an 8-byte milestone number, found {} bytes",
                        bytes.len()
                    ),
                })?;
                Ok(u64::from_be_bytes(arr))
            })
            .transpose()
    }

    /// Where the transaction with this hash was finalised.
    pub fn tx_location(&self, tx_hash: &Hash) -> Result<Option<TxLocation>> {
        self.location(IDX_TX, tx_hash)
    }

    /// Where the vertex with this hash was finalised.
    pub fn vertex_location(&self, vertex_hash: &Hash) -> Result<Option<TxLocation>> {
        self.location(IDX_VERTEX, vertex_hash)
    }

    fn location(&self, tag: u8, hash: &Hash) -> Result<Option<TxLocation>> {
        let key = index_key(tag, hash);
        self.kv
            .get(Column::Indexes, &key)?
            .map(|bytes| decode(Column::Indexes, &key, &bytes))
            .transpose()
    }

    /// The receipt at (milestone, position).
    pub fn receipt(&self, location: TxLocation) -> Result<Option<StoredReceipt>> {
        let key = receipt_key(location.milestone, location.position);
        self.kv
            .get(Column::Receipts, &key)?
            .map(|bytes| decode(Column::Receipts, &key, &bytes))
            .transpose()
    }

    /// The receipt of the finalised transaction with this hash, with where it was finalised.
    pub fn receipt_of_tx(&self, tx_hash: &Hash) -> Result<Option<(TxLocation, StoredReceipt)>> {
        let Some(loc) = self.tx_location(tx_hash)? else { return Ok(None) };
        match self.receipt(loc)? {
            Some(r) => Ok(Some((loc, r))),
            None => Err(Error::Corrupt {
                column: Column::Receipts.name(),
                key: hex::encode(receipt_key(loc.milestone, loc.position)),
                reason: format!(
                    "index points at milestone {} position {} but no receipt is there",
                    loc.milestone, loc.position
                ),
            }),
        }
    }

    /// A value of the flat state.
    pub fn state(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.kv.get(Column::State, key)
    }

    /// Writes a finalised milestone: header, certificate, receipts, state changes, indexes and
    /// the new `finalized` pointer, in one atomic batch, fsynced before returning.
    ///
    /// Checks that the milestone extends the stored chain (number = finalised + 1 and parent =
    /// finalised hash; genesis is number 0 on an empty store) and that the certificate names this
    /// header. Verifying the certificate's signatures against the committee is the caller's job.
    pub fn apply_milestone(&self, commit: &MilestoneCommit) -> Result<Hash> {
        self.apply_milestones(std::slice::from_ref(commit))
    }

    /// [`ChainStore::apply_milestone`] for consecutive milestones, in one atomic, fsynced batch
    /// (the state changes of a later one may already be folded into an earlier one's). Returns
    /// the last one's hash.
    pub fn apply_milestones(&self, commits: &[MilestoneCommit]) -> Result<Hash> {
        self.apply_milestones_logged(commits, 0, &[]).map(|(hash, _)| hash)
    }

    /// [`ChainStore::apply_milestones`] plus consensus records appended as
    /// [`ChainStore::append_consensus`] would, all in the one fsynced batch: a node that has
    /// records to persist when it writes a finalised milestone (the primary's next pre-prepare)
    /// pays one fsync, not two. Returns the last milestone's hash and the next sequence number.
    pub fn apply_milestones_logged(
        &self,
        commits: &[MilestoneCommit],
        next_seq: u64,
        records: &[Vec<u8>],
    ) -> Result<(Hash, u64)> {
        let mut tip = self.finalized()?;
        let mut b = Batch::new();
        for commit in commits {
            tip = Some(milestone_batch(tip, commit, &mut b)?);
        }
        let (_, hash) = tip.ok_or_else(|| Error::BadMilestone("no milestone to apply".into()))?;
        let seq = consensus_batch(next_seq, records, &mut b);
        self.kv.commit(b, Durability::Sync)?;
        Ok((hash, seq))
    }
}

/// The sequence number a consensus log key holds.
fn log_seq_of(key: &[u8]) -> Result<u64> {
    let array: [u8; 8] = key.try_into().map_err(|_| Error::Corrupt {
        column: Column::Consensus.name(),
        key: hex::encode(key),
        reason: "a log key is 8 bytes".into(),
    })?;
    Ok(u64::from_be_bytes(array))
}

/// Adds `records` to the consensus log from sequence number `next_seq` on; returns the next.
fn consensus_batch(next_seq: u64, records: &[Vec<u8>], b: &mut Batch) -> u64 {
    let mut seq = next_seq;
    for record in records {
        b.put(Column::Consensus, seq.to_be_bytes(), record.clone());
        seq += 1;
    }
    seq
}

/// Adds the writes of finalising `commit` on top of the stored tip `tip` (`None` = empty store)
/// to `b`; returns the new tip. See [`ChainStore::apply_milestone`] for the checks.
pub fn milestone_batch(
    tip: Option<(MilestoneNumber, Hash)>,
    commit: &MilestoneCommit,
    b: &mut Batch,
) -> Result<(MilestoneNumber, Hash)> {
    let header = &commit.header;
    let hash = header.hash();
    let (expected_number, expected_parent) = match tip {
        None => (0, Hash::ZERO),
        Some((n, h)) => (
            n.checked_add(1)
                .ok_or_else(|| Error::BadMilestone("milestone number overflow".into()))?,
            h,
        ),
    };
    if header.number != expected_number {
        return Err(Error::BadMilestone(format!(
            "milestone {} does not follow the stored chain, whose next number is {expected_number}; \
             apply milestones in order",
            header.number
        )));
    }
    if header.parent != expected_parent {
        return Err(Error::BadMilestone(format!(
            "milestone {} has parent {} but the stored milestone {} is {}; it is on another fork",
            header.number,
            header.parent.to_hex(),
            expected_number.saturating_sub(1),
            expected_parent.to_hex()
        )));
    }
    let cert = &commit.certificate;
    if cert.header_hash != hash || cert.number != header.number {
        return Err(Error::BadMilestone(format!(
            "certificate is for milestone {} ({}) but the header is milestone {} ({})",
            cert.number,
            cert.header_hash.to_hex(),
            header.number,
            hash.to_hex()
        )));
    }
    let count = u32::try_from(commit.receipts.len())
        .map_err(|_| Error::BadMilestone("more than 2^32 receipts".into()))?;

    b.put(Column::Milestones, header.number.to_be_bytes(), (header, cert).encode());
    b.put(Column::Indexes, index_key(IDX_MILESTONE, &hash), header.number.to_be_bytes());
    if let Some(next) = &header.next_committee {
        b.put(Column::Indexes, epoch_key(next.epoch), header.number.to_be_bytes());
    }
    for (position, r) in (0..count).zip(&commit.receipts) {
        let loc = TxLocation { milestone: header.number, position }.encode();
        let stored = StoredReceipt {
            tx_hash: r.tx_hash,
            vertex_hash: r.vertex_hash,
            receipt: r.receipt.clone(),
        };
        b.put(Column::Receipts, receipt_key(header.number, position), stored.encode());
        b.put(Column::Indexes, index_key(IDX_TX, &r.tx_hash), loc.clone());
        b.put(Column::Indexes, index_key(IDX_VERTEX, &r.vertex_hash), loc);
    }
    for (key, value) in &commit.state_changes {
        b.write(Column::State, key.clone(), value.clone());
    }
    for (column, key, value) in &commit.extra {
        b.write(*column, key.clone(), value.clone());
    }
    b.put(Column::Meta, META_FINALIZED, (header.number, hash).encode());
    Ok((header.number, hash))
}
