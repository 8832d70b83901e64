//! The pending pool: what the DAG holds that no milestone confirmed yet, per signer and nonce,
//! and the admission checks of submitted transactions (signature, nonce window, fees).
//!
//! The DAG itself is the mempool (a vertex is pending from attachment to confirmation); this
//! index only answers "which nonces and fees of this account are pending" so that
//! `next_nonce` counts pending transactions and a client cannot queue more fees than it holds.
use std::collections::{BTreeMap, HashMap};

use itc_primitives::{decode_untrusted, AccountId, Balance, Hash, Nonce, Transaction};
use itc_runtime::{
    dispatch::UNDECODABLE_CALL_WEIGHT, modules::system, Ext, Parameters, RuntimeCall, StateBackend,
};

use crate::{Error, Result};

/// A pending transaction of one signer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PendingTx {
    vertex: Hash,
    fee: Balance,
}

/// Pending (attached, unconfirmed) transactions indexed by signer and nonce.
#[derive(Default)]
pub(crate) struct Pending {
    by_account: HashMap<AccountId, BTreeMap<Nonce, PendingTx>>,
    by_vertex: HashMap<Hash, (AccountId, Nonce, Hash)>,
    by_tx: HashMap<Hash, Hash>,
}

impl Pending {
    /// Records an attached vertex (tx hash `tx_hash`).
    pub fn insert(&mut self, vertex: Hash, tx_hash: Hash, tx: &Transaction, fee: Balance) {
        self.by_vertex.insert(vertex, (tx.signer, tx.nonce, tx_hash));
        self.by_tx.insert(tx_hash, vertex);
        self.by_account
            .entry(tx.signer)
            .or_default()
            .entry(tx.nonce)
            .or_insert(PendingTx { vertex, fee });
    }

    /// The vertex carrying `signer`'s pending transaction with `nonce`, if any.
    pub fn vertex_of(&self, signer: &AccountId, nonce: Nonce) -> Option<Hash> {
        self.by_account.get(signer)?.get(&nonce).map(|p| p.vertex)
    }

    /// The vertex carrying the pending transaction `tx_hash`, if any.
    pub fn vertex_of_tx(&self, tx_hash: &Hash) -> Option<Hash> {
        self.by_tx.get(tx_hash).copied()
    }

    /// Forgets a confirmed vertex.
    pub fn remove(&mut self, vertex: &Hash) {
        if let Some((signer, nonce, tx_hash)) = self.by_vertex.remove(vertex) {
            if self.by_tx.get(&tx_hash) == Some(vertex) {
                self.by_tx.remove(&tx_hash);
            }
            if let Some(nonces) = self.by_account.get_mut(&signer) {
                if nonces.get(&nonce).is_some_and(|p| p.vertex == *vertex) {
                    nonces.remove(&nonce);
                }
                if nonces.is_empty() {
                    self.by_account.remove(&signer);
                }
            }
        }
    }

    /// Drops the signer's entries below its finalised nonce (their nonce was used by another
    /// transaction; they will be recorded as invalid if a milestone ever confirms them).
    pub fn prune_below(&mut self, signer: &AccountId, nonce: Nonce) {
        if let Some(nonces) = self.by_account.get_mut(signer) {
            let keep = nonces.split_off(&nonce);
            *nonces = keep;
            if nonces.is_empty() {
                self.by_account.remove(signer);
            }
        }
    }

    /// Whether `signer` has a pending transaction with `nonce`.
    pub fn contains(&self, signer: &AccountId, nonce: Nonce) -> bool {
        self.by_account.get(signer).is_some_and(|n| n.contains_key(&nonce))
    }

    /// The first nonce at or after `from` with no pending transaction of `signer`.
    pub fn next_free(&self, signer: &AccountId, from: Nonce) -> Nonce {
        let mut next = from;
        if let Some(nonces) = self.by_account.get(signer) {
            for (&n, _) in nonces.range(from..) {
                if n != next {
                    break;
                }
                next = next.saturating_add(1);
            }
        }
        next
    }

    /// Sum of the fees of `signer`'s pending transactions at or after `from`.
    pub fn pending_fees(&self, signer: &AccountId, from: Nonce) -> Balance {
        self.by_account
            .get(signer)
            .map_or(0, |n| n.range(from..).map(|(_, p)| p.fee).fold(0, Balance::saturating_add))
    }

    /// Whether `vertex` is pending.
    pub fn has_vertex(&self, vertex: &Hash) -> bool {
        self.by_vertex.contains_key(vertex)
    }

    /// Number of pending vertices.
    pub fn len(&self) -> usize {
        self.by_vertex.len()
    }
}

/// The fee `tx` pays under `params` (the runtime's formula).
pub(crate) fn fee_of(params: &Parameters, tx: &Transaction) -> Balance {
    let weight = decode_untrusted::<RuntimeCall>(&tx.call)
        .map_or(UNDECODABLE_CALL_WEIGHT, |call| call.weight());
    itc_runtime::dispatch::compute_fee(params, weight, tx.call.len(), tx.tip)
}

/// The mempool's admission checks of a client's transaction against the latest state and the
/// pending pool: nonce window, mortality, fees. Returns the fee. The signature is the caller's
/// to check (in batches for client bursts; the DAG checks ready vertices').
pub(crate) fn check_admission<B: StateBackend>(
    state: &B,
    pending: &Pending,
    tx: &Transaction,
    nonce_window: u64,
) -> Result<Balance> {
    let ext = Ext::view(state, 0)?;
    let info = system::account(&ext, &tx.signer)?;
    let next = pending.next_free(&tx.signer, info.nonce);
    if tx.nonce < info.nonce {
        return Err(Error::NonceUsed { nonce: tx.nonce, next });
    }
    if pending.contains(&tx.signer, tx.nonce) {
        return Err(Error::NoncePending { nonce: tx.nonce, next });
    }
    if tx.nonce - info.nonce >= nonce_window {
        return Err(Error::NonceTooFar {
            nonce: tx.nonce,
            account_nonce: info.nonce,
            window: nonce_window,
            next,
        });
    }
    let next_milestone = ext.now();
    if !tx.mortality.is_alive_at(next_milestone) {
        let until = match tx.mortality {
            itc_primitives::Mortality::Mortal { until } => until,
            itc_primitives::Mortality::Immortal => u64::MAX,
        };
        return Err(Error::Expired { until, next: next_milestone });
    }
    let fee = fee_of(ext.params(), tx);
    let pending_fees = pending.pending_fees(&tx.signer, info.nonce);
    if info.data.free < fee.saturating_add(pending_fees) {
        return Err(Error::CannotPayFee { fee, free: info.data.free, pending: pending_fees });
    }
    Ok(fee)
}

/// The PoW difficulty `who` must meet under the latest state; `u32::MAX` (nothing passes) if
/// the state cannot be read, so a damaged state never admits unworked vertices.
pub(crate) fn difficulty_of<B: StateBackend>(state: &B, who: &AccountId) -> u32 {
    Ext::view(state, 0).and_then(|ext| system::pow_difficulty(&ext, who)).unwrap_or(u32::MAX)
}

/// The chain parameters under the latest state.
pub(crate) fn params_of<B: StateBackend>(state: &B) -> Result<Parameters> {
    Ok(Ext::view(state, 0)?.params().clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use itc_primitives::{Mortality, Signature};

    fn tx(signer: AccountId, nonce: Nonce) -> Transaction {
        Transaction {
            signer,
            nonce,
            mortality: Mortality::Immortal,
            tip: 0,
            call: vec![],
            signature: Signature::default(),
        }
    }

    #[test]
    fn next_free_skips_consecutive_pending_nonces_and_fees_add_up() {
        let who = AccountId::default();
        let mut pending = Pending::default();
        for (i, nonce) in [3u64, 4, 6].into_iter().enumerate() {
            pending.insert(Hash([i as u8; 32]), Hash([10 + i as u8; 32]), &tx(who, nonce), 5);
        }
        assert_eq!(pending.next_free(&who, 3), 5);
        assert_eq!(pending.next_free(&who, 2), 2);
        assert_eq!(pending.pending_fees(&who, 4), 10);
        assert_eq!(pending.vertex_of_tx(&Hash([11; 32])), Some(Hash([1; 32])));
        pending.remove(&Hash([0; 32]));
        assert!(!pending.contains(&who, 3));
        assert_eq!(pending.vertex_of_tx(&Hash([10; 32])), None);
        pending.prune_below(&who, 5);
        assert!(!pending.contains(&who, 4));
        assert!(pending.contains(&who, 6));
        assert_eq!(pending.pending_fees(&who, 0), 5);
    }

    #[test]
    fn a_second_vertex_with_the_same_nonce_does_not_evict_the_first() {
        let who = AccountId::default();
        let mut pending = Pending::default();
        pending.insert(Hash([1; 32]), Hash([11; 32]), &tx(who, 0), 5);
        pending.insert(Hash([2; 32]), Hash([12; 32]), &tx(who, 0), 5);
        pending.remove(&Hash([2; 32]));
        assert!(pending.contains(&who, 0), "removing the duplicate keeps the original");
        pending.remove(&Hash([1; 32]));
        assert!(!pending.contains(&who, 0));
        assert_eq!(pending.len(), 0);
    }
}
