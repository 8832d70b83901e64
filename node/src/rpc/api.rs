//! The port the RPC server calls: [`ChainApi`], and the JSON shapes it answers with.
//!
//! The driver implements [`ChainApi`] over its mempool, DAG, state and store; the RPC layer only
//! parses parameters, calls the trait and serialises the answer. Balances travel as decimal
//! strings (JSON numbers lose precision above 2^53), bytes as `0x`-prefixed hex, hashes and
//! accounts as in `itc_primitives`' serde (hex hash, SS58 account).
use std::future::Future;

use itc_primitives::{
    AccountId, Balance, FinalityCertificate, Hash, MilestoneHeader, MilestoneNumber, Nonce,
    Transaction, Vertex,
};
use parity_scale_codec::Encode;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// Why the node refused or could not answer a call. The message goes to the caller verbatim, so
/// it must say what was wrong and what to do (`"nonce 7 already used; next nonce is 8"`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The submission is invalid (bad signature, stale nonce, not enough balance for the fee).
    #[error("{0}")]
    Rejected(String),
    /// The node cannot answer now (still syncing, shutting down, pool full); retry later.
    #[error("{0}")]
    Unavailable(String),
    /// A node-side failure (database error); the node's log has details.
    #[error("{0}")]
    Internal(String),
}

/// Result of a [`ChainApi`] call.
pub type ApiResult<T> = std::result::Result<T, ApiError>;

/// Bytes shown as `0x`-prefixed lower-case hex in JSON.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&itc_primitives::hash::to_hex0x(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        itc_primitives::hash::from_hex0x(&s).map(Bytes).map_err(serde::de::Error::custom)
    }
}

mod balance_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// An account's state as `state_getAccount` returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountInfo {
    /// The nonce its next transaction must carry (finalised state).
    pub nonce: Nonce,
    /// Spendable balance, in the smallest unit, as a decimal string.
    #[serde(with = "balance_string")]
    pub free: Balance,
    /// Reserved (locked) balance, as a decimal string.
    #[serde(with = "balance_string")]
    pub reserved: Balance,
}

/// A state proof as `state_getProof` returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateProofView {
    /// The milestone whose state the proof is against.
    pub at: MilestoneNumber,
    /// That milestone's state root (certified by its finality certificate).
    pub state_root: Hash,
    /// The proven key.
    pub key: Bytes,
    /// Its value, or `None` for a proof of absence.
    pub value: Option<Bytes>,
    /// The runtime's SCALE-encoded proof.
    pub proof: Bytes,
}

/// A finalised milestone: header and certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinalizedMilestone {
    /// The header.
    pub header: MilestoneHeader,
    /// Its finality certificate.
    pub certificate: FinalityCertificate,
    /// The hashes of the transactions it confirmed, in execution order.
    pub transactions: Vec<Hash>,
}

/// How a milestone appears in JSON: decoded fields for people, SCALE for light clients.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MilestoneView {
    /// The milestone number.
    pub number: MilestoneNumber,
    /// The header hash.
    pub hash: Hash,
    /// The header, field by field.
    pub header: MilestoneHeader,
    /// The certificate, field by field.
    pub certificate: FinalityCertificate,
    /// `SCALE((header, certificate))`, what a light client verifies.
    pub encoded: Bytes,
    /// The hashes of the transactions it confirmed, in execution order.
    pub transactions: Vec<Hash>,
}

impl From<&FinalizedMilestone> for MilestoneView {
    fn from(m: &FinalizedMilestone) -> Self {
        MilestoneView {
            number: m.header.number,
            hash: m.header.hash(),
            header: m.header.clone(),
            certificate: m.certificate.clone(),
            encoded: Bytes((&m.header, &m.certificate).encode()),
            transactions: m.transactions.clone(),
        }
    }
}

/// Which milestone `chain_getMilestone` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MilestoneId {
    /// By number.
    Number(MilestoneNumber),
    /// By header hash.
    Hash(Hash),
}

/// A vertex with what the node knows about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VertexInfo {
    /// The vertex.
    pub vertex: Vertex,
    /// How many vertices approve it (directly or indirectly).
    pub cumulative_weight: u64,
    /// The milestone that finalised it, if any.
    pub finalized_in: Option<MilestoneNumber>,
}

/// How `dag_getVertex` shows a vertex.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VertexView {
    /// The vertex hash.
    pub hash: Hash,
    /// The transaction's hash.
    pub tx_hash: Hash,
    /// The vertex, field by field.
    pub vertex: Vertex,
    /// `SCALE(vertex)`.
    pub encoded: Bytes,
    /// How many vertices approve it.
    pub cumulative_weight: u64,
    /// The milestone that finalised it, if any.
    pub finalized_in: Option<MilestoneNumber>,
}

impl From<&VertexInfo> for VertexView {
    fn from(v: &VertexInfo) -> Self {
        VertexView {
            hash: v.vertex.hash(),
            tx_hash: v.vertex.tx.hash(),
            vertex: v.vertex.clone(),
            encoded: Bytes(v.vertex.encode()),
            cumulative_weight: v.cumulative_weight,
            finalized_in: v.finalized_in,
        }
    }
}

/// Where a transaction stands, as `tx_status` returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum TxStatus {
    /// The node has never seen it (or it was dropped before attaching).
    Unknown,
    /// In the DAG, not yet finalised.
    #[serde(rename_all = "camelCase")]
    Pending {
        /// Confirmation confidence in [0, 1] derived from cumulative weight.
        confidence: f64,
        /// Cumulative weight of its vertex.
        cumulative_weight: u64,
    },
    /// Waiting at the node for the signer's previous nonce, before it is attached: it joins the
    /// DAG when a vertex with that nonce reaches the node, or is dropped (`failed`) after 30 s.
    #[serde(rename_all = "camelCase")]
    Parked {
        /// The nonce it waits for.
        waiting_for: Nonce,
    },
    /// Finalised and executed successfully.
    #[serde(rename_all = "camelCase")]
    Finalized {
        /// The finalising milestone.
        milestone: MilestoneNumber,
        /// Its position in that milestone's execution order.
        position: u32,
        /// The runtime's SCALE-encoded receipt.
        receipt: Bytes,
    },
    /// Refused by the node, or finalised but failed in execution (white-flag: it changed nothing
    /// but its fee).
    #[serde(rename_all = "camelCase")]
    Failed {
        /// Why.
        reason: String,
        /// The milestone that executed it, if it got that far.
        milestone: Option<MilestoneNumber>,
    },
}

/// What `system_health` returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// Connected peers.
    pub peers: usize,
    /// Whether the node is catching up with the network.
    pub is_syncing: bool,
    /// Whether this node is expected to have peers (false on a `--dev` chain).
    pub should_have_peers: bool,
    /// The latest finalised milestone number.
    pub finalized: MilestoneNumber,
}

/// One entry of `system_peers`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerInfo {
    /// The libp2p peer id.
    pub peer_id: String,
    /// Addresses the node knows for it.
    pub addresses: Vec<String>,
}

/// What the RPC server needs from the node. The driver implements it; every method must answer
/// promptly (no waiting for finality), and errors must say what to do.
///
/// Implement the methods as `async fn`; the returned futures must be `Send`.
pub trait ChainApi: Send + Sync + 'static {
    /// Validates a signed transaction (signature, nonce window, balance for fees), attaches it
    /// (tip selection + PoW) and returns its hash.
    fn submit_transaction(&self, tx: Transaction) -> impl Future<Output = ApiResult<Hash>> + Send;
    /// Validates an already attached vertex and gossips it; returns its hash.
    fn submit_vertex(&self, vertex: Vertex) -> impl Future<Output = ApiResult<Hash>> + Send;
    /// The nonce the account's next transaction should carry, counting pending ones.
    fn next_nonce(&self, account: AccountId) -> impl Future<Output = ApiResult<Nonce>> + Send;
    /// The account's finalised state; `None` if it does not exist.
    fn account(
        &self,
        account: AccountId,
    ) -> impl Future<Output = ApiResult<Option<AccountInfo>>> + Send;
    /// A proof of `key`'s value at milestone `at` (the latest finalised one if `None`).
    fn state_proof(
        &self,
        key: Vec<u8>,
        at: Option<MilestoneNumber>,
    ) -> impl Future<Output = ApiResult<StateProofView>> + Send;
    /// A finalised milestone by number or hash.
    fn milestone(
        &self,
        id: MilestoneId,
    ) -> impl Future<Output = ApiResult<Option<FinalizedMilestone>>> + Send;
    /// The latest finalised milestone (`None` before genesis).
    fn finalized(&self) -> impl Future<Output = ApiResult<Option<FinalizedMilestone>>> + Send;
    /// A receiver of every milestone finalised from now on.
    fn subscribe_finalized(&self) -> broadcast::Receiver<FinalizedMilestone>;
    /// A vertex by hash.
    fn vertex(&self, hash: Hash) -> impl Future<Output = ApiResult<Option<VertexInfo>>> + Send;
    /// The current DAG tips.
    fn tips(&self) -> impl Future<Output = ApiResult<Vec<Hash>>> + Send;
    /// Where a transaction stands.
    fn tx_status(&self, tx_hash: Hash) -> impl Future<Output = ApiResult<TxStatus>> + Send;
    /// Node health.
    fn health(&self) -> impl Future<Output = ApiResult<Health>> + Send;
    /// Connected peers.
    fn peers(&self) -> impl Future<Output = ApiResult<Vec<PeerInfo>>> + Send;
    /// The peer ids this node banned (see `network::Client::ban`).
    fn banned_peers(&self) -> impl Future<Output = ApiResult<Vec<String>>> + Send;
}
