//! The RPC port over the running validator: queries read it under the mutex; submissions go to
//! the driver, which owns every change.
use std::sync::{Arc, Mutex, MutexGuard};

use itc_dag::Confidence;
use itc_primitives::decode_untrusted;
use itc_primitives::{AccountId, Hash, MilestoneNumber, Nonce, Transaction, Vertex};
use itc_runtime::{Outcome, StateBackend};
use parity_scale_codec::Encode;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::driver::{Command, Shared};
use crate::network;
use crate::rpc::{
    AccountInfo, ApiError, ApiResult, Bytes, ChainApi, FinalizedMilestone, Health, MilestoneId,
    PeerInfo, StateProofView, TxStatus, VertexInfo,
};
use crate::storage::ChainStore;

/// [`ChainApi`] for a running node.
pub(crate) struct NodeApi {
    pub shared: Arc<Mutex<Shared>>,
    pub commands: mpsc::Sender<Command>,
    pub store: ChainStore,
    pub client: network::Client,
    pub finalized: broadcast::Sender<FinalizedMilestone>,
    pub committee_size: usize,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

fn stopped() -> ApiError {
    ApiError::Unavailable("the node is shutting down; retry against another node".into())
}

/// Client mistakes are `Rejected`; failures of this node are `Internal`.
fn submission_error(e: itc_chain::Error) -> ApiError {
    use itc_chain::Error as E;
    match e {
        E::Runtime(_) | E::Consensus(_) | E::MissingVertex(_) | E::Divergence { .. } => internal(e),
        E::Dag(itc_dag::Error::Store(_)) => internal(e),
        other => ApiError::Rejected(other.to_string()),
    }
}

impl NodeApi {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn submit(
        &self,
        make: impl FnOnce(oneshot::Sender<itc_chain::Result<Hash>>) -> Command,
    ) -> ApiResult<Hash> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?.map_err(submission_error)
    }

    fn stored_milestone(&self, number: MilestoneNumber) -> ApiResult<Option<FinalizedMilestone>> {
        let Some((header, certificate)) = self.store.milestone(number).map_err(internal)? else {
            return Ok(None);
        };
        let transactions =
            self.store.receipts(number).map_err(internal)?.into_iter().map(|r| r.tx_hash).collect();
        Ok(Some(FinalizedMilestone { header, certificate, transactions }))
    }
}

impl ChainApi for NodeApi {
    async fn submit_transaction(&self, tx: Transaction) -> ApiResult<Hash> {
        self.submit(|reply| Command::SubmitTransaction(tx, reply)).await
    }

    async fn submit_vertex(&self, vertex: Vertex) -> ApiResult<Hash> {
        let bytes = vertex.encode();
        self.submit(|reply| Command::SubmitVertex(bytes, reply)).await
    }

    async fn next_nonce(&self, account: AccountId) -> ApiResult<Nonce> {
        self.lock().v.next_nonce(&account).map_err(internal)
    }

    async fn account(&self, account: AccountId) -> ApiResult<Option<AccountInfo>> {
        let info = self.lock().v.account(&account).map_err(internal)?;
        Ok((!info.is_empty()).then_some(AccountInfo {
            nonce: info.nonce,
            free: info.data.free,
            reserved: info.data.reserved,
        }))
    }

    async fn state_proof(
        &self,
        key: Vec<u8>,
        at: Option<MilestoneNumber>,
    ) -> ApiResult<StateProofView> {
        let shared = self.lock();
        let state = shared.v.state();
        let latest = state.version().unwrap_or(0);
        let at = at.unwrap_or(latest);
        if at > latest {
            return Err(ApiError::Rejected(format!(
                "milestone {at} is not finalised yet; the latest is {latest}"
            )));
        }
        let state_root = state
            .root(at)
            .map_err(|e| ApiError::Rejected(format!("no state kept for milestone {at}: {e}")))?;
        let proof = state.prove(&key, at).map_err(internal)?;
        Ok(StateProofView {
            at,
            state_root,
            key: Bytes(key),
            value: proof.value.clone().map(Bytes),
            proof: Bytes(proof.encode()),
        })
    }

    async fn milestone(&self, id: MilestoneId) -> ApiResult<Option<FinalizedMilestone>> {
        let number = match id {
            MilestoneId::Number(n) => Some(n),
            MilestoneId::Hash(h) => self.store.milestone_number(&h).map_err(internal)?,
        };
        match number {
            Some(n) => self.stored_milestone(n),
            None => Ok(None),
        }
    }

    async fn finalized(&self) -> ApiResult<Option<FinalizedMilestone>> {
        match self.store.finalized().map_err(internal)? {
            Some((n, _)) => self.stored_milestone(n),
            None => Ok(None),
        }
    }

    fn subscribe_finalized(&self) -> broadcast::Receiver<FinalizedMilestone> {
        self.finalized.subscribe()
    }

    async fn vertex(&self, hash: Hash) -> ApiResult<Option<VertexInfo>> {
        let shared = self.lock();
        let Some(vertex) = shared.v.vertex(&hash).map_err(internal)? else {
            return Ok(None);
        };
        let (cumulative_weight, finalized_in) =
            match shared.v.dag().confidence(&hash).map_err(internal)? {
                Confidence::Confirmed(c) => (0, Some(c.milestone)),
                Confidence::Pending { weight, .. } => (u64::from(weight), None),
                Confidence::Orphan | Confidence::Unknown => (0, None),
            };
        Ok(Some(VertexInfo { vertex, cumulative_weight, finalized_in }))
    }

    async fn tips(&self) -> ApiResult<Vec<Hash>> {
        Ok(self.lock().v.tips())
    }

    /// Finality is reported from the database only: a transaction is `finalized` (or `failed`)
    /// once its milestone is durable, never earlier.
    async fn tx_status(&self, tx_hash: Hash) -> ApiResult<TxStatus> {
        if let Some((loc, stored)) = self.store.receipt_of_tx(&tx_hash).map_err(internal)? {
            let receipt: itc_runtime::Receipt = decode_untrusted(&stored.receipt)
                .map_err(|e| internal(format!("stored receipt of {tx_hash} is damaged: {e}")))?;
            return Ok(match receipt.outcome {
                Outcome::Success => TxStatus::Finalized {
                    milestone: loc.milestone,
                    position: loc.position,
                    receipt: Bytes(stored.receipt),
                },
                Outcome::Failed(e) => TxStatus::Failed {
                    reason: format!("failed: {e}"),
                    milestone: Some(loc.milestone),
                },
                Outcome::Invalid(e) => TxStatus::Failed {
                    reason: format!("not executed: {e}"),
                    milestone: Some(loc.milestone),
                },
            });
        }
        let status = self.lock().v.tx_status(&tx_hash).map_err(internal)?;
        Ok(match status {
            itc_chain::TxStatus::Unknown => TxStatus::Unknown,
            itc_chain::TxStatus::Parked { waiting_for } => TxStatus::Parked { waiting_for },
            itc_chain::TxStatus::Dropped { reason } => TxStatus::Failed { reason, milestone: None },
            itc_chain::TxStatus::Pending { confidence, .. } => {
                let (weight, saturated) = match confidence {
                    Confidence::Pending { weight, saturated } => (weight, saturated),
                    _ => (0, false),
                };
                // A heuristic for wallets: approvals saturate towards certainty.
                let confidence =
                    if saturated { 0.99 } else { 1.0 - 1.0 / (1.0 + f64::from(weight)) };
                TxStatus::Pending { confidence, cumulative_weight: u64::from(weight) }
            }
            // Applied, but its milestone is being written: not final until it is durable.
            itc_chain::TxStatus::Finalized { .. } | itc_chain::TxStatus::Failed { .. } => {
                TxStatus::Pending { confidence: 1.0, cumulative_weight: 0 }
            }
        })
    }

    async fn health(&self) -> ApiResult<Health> {
        let shared = self.lock();
        Ok(Health {
            peers: shared.peers.len(),
            is_syncing: false,
            should_have_peers: self.committee_size > 1,
            finalized: shared.v.finalized_number(),
        })
    }

    async fn peers(&self) -> ApiResult<Vec<PeerInfo>> {
        let peers = self.client.peers().await.map_err(internal)?;
        Ok(peers
            .into_iter()
            .map(|p| PeerInfo { peer_id: p.to_string(), addresses: Vec::new() })
            .collect())
    }

    async fn banned_peers(&self) -> ApiResult<Vec<String>> {
        let banned = self.client.banned().await.map_err(internal)?;
        Ok(banned.iter().map(ToString::to_string).collect())
    }
}
