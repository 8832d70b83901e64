//! The pending pool: what the DAG holds that no milestone confirmed yet, per signer and nonce,
//! and the admission checks of submitted transactions (signature, nonce window, fees).
//!
//! The DAG itself is the mempool (a vertex is pending from attachment to confirmation); this
//! index only answers "which nonces and fees of this account are pending" so that
//! `next_nonce` counts pending transactions and a client cannot queue more fees than it holds.
//!
//! [`Parked`] holds client transactions that arrived before their signer's previous nonce did
//! (Substrate's "future" queue): attached at once, such a transaction could execute before its
//! predecessor and fail (white flag). Parked, it is attached as soon as the predecessor's vertex
//! reaches this node, with that vertex as a parent, so every milestone executes the two in
//! nonce order.
use std::collections::{BTreeMap, HashMap, VecDeque};

use itc_dag::Difficulty;
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

/// Most transactions parked at once; more are refused ([`Error::ParkedFull`]).
pub const MAX_PARKED: usize = 4_096;

/// Dropped parked transactions remembered for `tx_status`, most recent first out last.
const MAX_DROPPED: usize = 1_024;

/// A client transaction waiting for its signer's previous nonce.
pub(crate) struct ParkedTx {
    pub tx: Transaction,
    pub tx_hash: Hash,
}

/// Client transactions waiting for their signer's previous nonce to reach the DAG (see the
/// module docs), in memory only: a restart forgets them, as it forgets the RPC calls.
#[derive(Default)]
pub(crate) struct Parked {
    by_key: BTreeMap<(AccountId, Nonce), ParkedTx>,
    by_tx: HashMap<Hash, (AccountId, Nonce)>,
    /// Arrival order, for expiry: (arrival ms, signer, nonce, tx hash). Entries whose
    /// transaction left earlier are skipped.
    arrivals: VecDeque<(u64, AccountId, Nonce, Hash)>,
    /// Why recently dropped transactions were dropped, and in which order.
    dropped: HashMap<Hash, String>,
    dropped_order: VecDeque<Hash>,
}

impl Parked {
    /// Parks `tx` (hash `tx_hash`) at `now_ms`.
    pub fn park(&mut self, tx: Transaction, tx_hash: Hash, now_ms: u64) -> Result<()> {
        if self.by_key.len() >= MAX_PARKED {
            return Err(Error::ParkedFull { nonce: tx.nonce, max: MAX_PARKED });
        }
        let key = (tx.signer, tx.nonce);
        self.arrivals.push_back((now_ms, tx.signer, tx.nonce, tx_hash));
        self.by_tx.insert(tx_hash, key);
        self.dropped.remove(&tx_hash);
        self.by_key.insert(key, ParkedTx { tx, tx_hash });
        Ok(())
    }

    /// Whether `signer`'s transaction with `nonce` is parked.
    pub fn contains(&self, signer: &AccountId, nonce: Nonce) -> bool {
        self.by_key.contains_key(&(*signer, nonce))
    }

    /// Takes `signer`'s parked transaction with `nonce` out, if any.
    pub fn take(&mut self, signer: &AccountId, nonce: Nonce) -> Option<ParkedTx> {
        let parked = self.by_key.remove(&(*signer, nonce))?;
        self.by_tx.remove(&parked.tx_hash);
        Some(parked)
    }

    /// Takes out the transactions parked at or before `now_ms - timeout_ms`.
    pub fn expire(&mut self, now_ms: u64, timeout_ms: u64) -> Vec<ParkedTx> {
        let mut expired = Vec::new();
        while let Some(&(at, signer, nonce, tx_hash)) = self.arrivals.front() {
            if now_ms < at.saturating_add(timeout_ms) {
                break;
            }
            self.arrivals.pop_front();
            if self.by_tx.get(&tx_hash) == Some(&(signer, nonce)) {
                expired.extend(self.take(&signer, nonce));
            }
        }
        if self.by_key.is_empty() {
            self.arrivals.clear();
        }
        expired
    }

    /// The nonce parked transaction `tx_hash` waits for, if it is parked.
    pub fn waiting_for(&self, tx_hash: &Hash) -> Option<Nonce> {
        self.by_tx.get(tx_hash).map(|(_, nonce)| nonce.saturating_sub(1))
    }

    /// Records why `tx_hash` left the queue without being attached.
    pub fn record_dropped(&mut self, tx_hash: Hash, reason: String) {
        if self.dropped.insert(tx_hash, reason).is_none() {
            self.dropped_order.push_back(tx_hash);
        }
        while self.dropped_order.len() > MAX_DROPPED {
            if let Some(old) = self.dropped_order.pop_front() {
                self.dropped.remove(&old);
            }
        }
    }

    /// Why `tx_hash` was dropped, if it was (among the last [`MAX_DROPPED`]).
    pub fn dropped(&self, tx_hash: &Hash) -> Option<&str> {
        self.dropped.get(tx_hash).map(String::as_str)
    }

    /// Number of parked transactions.
    pub fn len(&self) -> usize {
        self.by_key.len()
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
/// Returns the signer's finalised nonce.
pub(crate) fn check_admission<B: StateBackend>(
    state: &B,
    pending: &Pending,
    tx: &Transaction,
    nonce_window: u64,
) -> Result<Nonce> {
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
    Ok(info.nonce)
}

/// The PoW difficulties signers must meet under the latest state, with the parameters and the
/// security-level table read once for all of them (a gossip burst asks for every vertex's
/// signer; reading both per vertex was 1.5 % of a validator's CPU). `u32::MAX` (nothing passes)
/// where the state cannot be read, so a damaged state never admits unworked vertices.
pub(crate) struct Difficulties<'a> {
    view: Option<(Ext<'a>, Vec<u32>)>,
}

impl<'a> Difficulties<'a> {
    /// Reads the table of `state`.
    pub fn new<B: StateBackend>(state: &'a B) -> Self {
        let view = Ext::view(state, 0).and_then(|ext| {
            let table = system::SECURITY_LEVELS.get_or_default(&ext)?.into_inner();
            Ok((ext, table))
        });
        Difficulties { view: view.ok() }
    }
}

impl Difficulty for Difficulties<'_> {
    fn required_bits(&self, signer: &AccountId) -> u32 {
        let Some((ext, table)) = &self.view else { return u32::MAX };
        system::SECURITY_LEVEL_OF
            .get_or_default(ext, signer)
            .map_or(u32::MAX, |level| system::level_difficulty(table, level))
    }
}

/// The chain parameters under the latest state.
pub(crate) fn params_of<B: StateBackend>(state: &B) -> Result<Parameters> {
    Ok(Ext::view(state, 0)?.params().clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use itc_primitives::{blake2_256, Mortality, Signature};

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
    fn parked_queue_is_bounded_expires_in_arrival_order_and_remembers_drops() {
        let who = AccountId::default();
        let mut parked = Parked::default();
        let hash = |n: u64| Hash(blake2_256(&n.to_le_bytes()).0);
        for n in 0..MAX_PARKED as u64 {
            parked.park(tx(who, n + 1), hash(n + 1), n).unwrap();
        }
        let err = parked.park(tx(who, 0), hash(0), 0).unwrap_err();
        assert!(matches!(err, Error::ParkedFull { nonce: 0, max: MAX_PARKED }), "{err}");
        assert_eq!(parked.waiting_for(&hash(5)), Some(4));
        // Taken out early: its arrival entry is skipped by expiry.
        assert_eq!(parked.take(&who, 2).unwrap().tx_hash, hash(2));
        assert!(!parked.contains(&who, 2) && parked.contains(&who, 3));
        // Parked at 0, 1, 2 (nonces 1, 2, 3); at 1,000 + 2 with a 1,000 ms timeout, 1 and 3 go.
        let expired: Vec<Nonce> = parked.expire(1_002, 1_000).iter().map(|p| p.tx.nonce).collect();
        assert_eq!(expired, vec![1, 3]);
        assert_eq!(parked.len(), MAX_PARKED - 3);
        for n in 0..(MAX_DROPPED as u64 + 10) {
            parked.record_dropped(hash(10_000 + n), format!("gone {n}"));
        }
        assert_eq!(parked.dropped(&hash(10_000)), None, "the oldest records are forgotten");
        assert_eq!(parked.dropped(&hash(10_000 + MAX_DROPPED as u64 + 9)), Some("gone 1033"));
        // Parking again clears an old drop record.
        parked.take(&who, 4);
        parked.record_dropped(hash(4), "gone".into());
        parked.park(tx(who, 4), hash(4), 2_000).unwrap();
        assert_eq!(parked.dropped(&hash(4)), None);
        assert_eq!(parked.waiting_for(&hash(4)), Some(3));
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
