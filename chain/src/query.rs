//! Read-only queries for the RPC: nonces, accounts, transaction status, milestones, tips,
//! vertices, and certified milestones to serve to laggards.
use itc_consensus::Pbft;
use itc_dag::{Confidence, Dag, DagStore};
use itc_primitives::{
    AccountId, Committee, FinalityCertificate, Hash, MilestoneHeader, MilestoneNumber, Nonce,
    Vertex,
};
use itc_runtime::{modules::system::AccountInfo, Ext, Outcome, Receipt, StateBackend};

use crate::{ChainConfig, Finalized, Result, Validator};

/// Where a transaction stands, for `tx_status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxStatus {
    /// Not known to this node.
    Unknown,
    /// In the DAG, not yet confirmed by a milestone.
    Pending {
        /// The vertex carrying it.
        vertex: Hash,
        /// Its confirmation confidence (cumulative weight, or orphan).
        confidence: Confidence,
    },
    /// Waiting here for the signer's previous nonce before it is attached (not in the DAG).
    Parked {
        /// The nonce it waits for.
        waiting_for: Nonce,
    },
    /// Left the parked queue without being attached (never executed, nothing changed).
    Dropped {
        /// Why, in words.
        reason: String,
    },
    /// Confirmed and executed successfully.
    Finalized {
        /// The milestone that confirmed it.
        milestone: MilestoneNumber,
        /// Its position in the milestone's order.
        position: u32,
        /// Its receipt.
        receipt: Receipt,
    },
    /// Confirmed but failed (only the fee and nonce changed) or not executed (nothing changed).
    Failed {
        /// The milestone that confirmed it.
        milestone: MilestoneNumber,
        /// Its position in the milestone's order.
        position: u32,
        /// Its receipt.
        receipt: Receipt,
        /// Why, in words.
        reason: String,
    },
}

impl TxStatus {
    /// Whether the transaction is final (finalised or failed).
    pub fn is_final(&self) -> bool {
        matches!(self, TxStatus::Finalized { .. } | TxStatus::Failed { .. })
    }
}

impl<S: DagStore, B: StateBackend + Clone> Validator<S, B> {
    /// This validator's key.
    pub fn id(&self) -> AccountId {
        self.me
    }

    /// The genesis milestone (number 0).
    pub fn genesis_header(&self) -> &MilestoneHeader {
        &self.genesis.header
    }

    /// The genesis hash (transactions sign over it).
    pub fn genesis_hash(&self) -> Hash {
        self.genesis.hash()
    }

    /// The account's record in the latest finalised state.
    pub fn account(&self, who: &AccountId) -> Result<AccountInfo> {
        let ext = Ext::view(&self.state, 0)?;
        Ok(itc_runtime::modules::system::account(&ext, who)?)
    }

    /// The nonce the account's next transaction should carry: its finalised nonce, past every
    /// consecutive pending one.
    pub fn next_nonce(&self, who: &AccountId) -> Result<Nonce> {
        let nonce = self.account(who)?.nonce;
        Ok(self.pending.next_free(who, nonce))
    }

    /// Where transaction `tx_hash` stands.
    pub fn tx_status(&self, tx_hash: &Hash) -> Result<TxStatus> {
        if let Some(&(milestone, position)) = self.tx_index.get(tx_hash) {
            let receipt =
                self.milestone(milestone).and_then(|m| m.receipts.get(position as usize)).cloned();
            if let Some(receipt) = receipt {
                let reason = match &receipt.outcome {
                    Outcome::Success => None,
                    Outcome::Failed(e) => Some(format!("failed: {e}")),
                    Outcome::Invalid(e) => Some(format!("not executed: {e}")),
                };
                return Ok(match reason {
                    None => TxStatus::Finalized { milestone, position, receipt },
                    Some(reason) => TxStatus::Failed { milestone, position, receipt, reason },
                });
            }
        }
        if let Some(vertex) = self.pending.vertex_of_tx(tx_hash) {
            let confidence = self.dag.confidence(&vertex)?;
            return Ok(TxStatus::Pending { vertex, confidence });
        }
        if let Some(waiting_for) = self.parked.waiting_for(tx_hash) {
            return Ok(TxStatus::Parked { waiting_for });
        }
        if let Some(reason) = self.parked.dropped(tx_hash) {
            return Ok(TxStatus::Dropped { reason: reason.to_owned() });
        }
        Ok(TxStatus::Unknown)
    }

    /// Finalised milestone `number`, with its certificate and receipts, if it is one of the
    /// last [`crate::ChainConfig::retain_milestones`] (older ones are in the node's store).
    pub fn milestone(&self, number: MilestoneNumber) -> Option<&Finalized> {
        let index = number.checked_sub(self.window_base.number + 1)?;
        self.milestones.get(usize::try_from(index).ok()?)
    }

    /// Finalised milestone by header hash (within the retained window).
    pub fn milestone_by_hash(&self, hash: &Hash) -> Option<&Finalized> {
        self.by_hash.get(hash).and_then(|n| self.milestone(*n))
    }

    /// The latest finalised milestone, `None` at genesis.
    pub fn latest_finalized(&self) -> Option<&Finalized> {
        self.milestones.back()
    }

    /// Up to `max` certified milestones from `from` on, to serve a laggard beyond what the
    /// replica keeps in memory; empty if `from` is older than the retained window (the node's
    /// store serves those).
    pub fn certified_range(
        &self,
        from: MilestoneNumber,
        max: usize,
    ) -> Vec<(MilestoneHeader, FinalityCertificate)> {
        let Some(start) = from.max(1).checked_sub(self.window_base.number + 1) else {
            return Vec::new();
        };
        self.milestones
            .iter()
            .skip(usize::try_from(start).unwrap_or(usize::MAX))
            .take(max)
            .map(|m| (m.header.clone(), m.certificate.clone()))
            .collect()
    }

    /// The current DAG tips.
    pub fn tips(&self) -> Vec<Hash> {
        self.dag.tips()
    }

    /// A vertex by hash (from the DAG store), to answer peers' fetches and `dag_getVertex`.
    pub fn vertex(&self, hash: &Hash) -> Result<Option<Vertex>> {
        Ok(self.dag.store().get_vertex(hash)?)
    }

    /// The committee of `epoch`, if known.
    pub fn committee(&self, epoch: u64) -> Option<&Committee> {
        self.committees.get(&epoch)
    }

    /// Number of pending (attached, unconfirmed) vertices.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }

    /// The latest finalised state (for proofs: `state().prove(key, version)`).
    pub fn state(&self) -> &B {
        &self.state
    }

    /// The latest finalised state, mutably, for the node's storage adapter to take the writes
    /// that applying milestones left in it (see the node's state backend). Writing state through
    /// it breaks consensus: every change must come from a milestone.
    pub fn state_mut(&mut self) -> &mut B {
        &mut self.state
    }

    /// The DAG's store, mutably: for the node to flush a store that buffers its writes (what
    /// it holds must not change).
    pub fn dag_store_mut(&mut self) -> &mut S {
        self.dag.store_mut()
    }

    /// The DAG.
    pub fn dag(&self) -> &Dag<S> {
        &self.dag
    }

    /// The DAG's tips that await confirmation (see [`Dag::unconfirmed_tips`]).
    pub fn unconfirmed_tips(&self) -> Vec<Hash> {
        self.dag.unconfirmed_tips()
    }

    /// Whether the vertex is known here: attached, stored or waiting as an orphan.
    pub fn knows_vertex(&self, hash: &Hash) -> Result<bool> {
        Ok(self.dag.knows(hash)?)
    }

    /// The configuration this validator runs with.
    pub fn config(&self) -> &ChainConfig {
        &self.cfg
    }

    /// The PBFT replica (view, status, statistics).
    pub fn consensus(&self) -> &Pbft {
        &self.pbft
    }
}
