//! The executive: applies the ordered vertices of a milestone and commits the state.
//!
//! Per transaction, in milestone order:
//! 1. The signer's nonce must equal the transaction's, the mortality must allow this milestone,
//!    and the signer's free balance must cover the fee. Otherwise the transaction is
//!    [`Outcome::Invalid`] and changes nothing at all (no fee, no nonce).
//!    Signatures are NOT checked here: the DAG verified them before the vertex could be
//!    referenced by a milestone, and the runtime trusts vertex validation for them.
//! 2. The fee (`base + weight · fee_per_weight + call bytes · fee_per_byte + tip`) is withdrawn
//!    and the nonce incremented.
//! 3. The call is dispatched in its own overlay layer. If it fails the layer is dropped: a
//!    failed transaction changes only its fee and nonce (the white-flag rule), and its receipt
//!    says [`Outcome::Failed`] with the error.
//!
//! Hooks run before the first transaction (epoch rotation, uptime) and after the last (market
//! and job timeouts, the committee election at the end of an epoch, fee payout to the proposer).
//! Their events are committed as the hash of their SCALE encoding, appended as the last leaf of
//! the receipts tree: `receipts_root = merkle_root([hash(receipt_0), …, hash(receipt_n-1),
//! blake2b-256(SCALE(hook_events))])`.
use itc_primitives::{
    decode_untrusted, hash::hash_of, merkle::merkle_root, AccountId, Balance, Committee, Hash,
    Nonce, Transaction, Vertex,
};
use parity_scale_codec::{Decode, Encode};

use super::{hooks, CallError, DispatchError, RuntimeCall, RuntimeEvent, UNDECODABLE_CALL_WEIGHT};
use crate::{
    ext::{Ext, MilestoneContext},
    modules::system::{self, Parameters},
    state::StateBackend,
    Error, Result,
};

/// Why a transaction was not executed at all.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, thiserror::Error)]
pub enum InvalidTx {
    /// The nonce is not the signer's next nonce.
    #[codec(index = 0)]
    #[error("nonce {got} is not the signer's next nonce {expected}; resign with nonce {expected}")]
    BadNonce {
        /// The signer's next nonce.
        expected: Nonce,
        /// The transaction's nonce.
        got: Nonce,
    },
    /// The transaction's mortality ended before this milestone.
    #[codec(index = 1)]
    #[error("transaction was valid until milestone {until}, this is milestone {now}; resign it")]
    Expired {
        /// Its last valid milestone.
        until: u64,
        /// This milestone.
        now: u64,
    },
    /// The signer cannot pay the fee.
    #[codec(index = 2)]
    #[error("fee is {fee}, the signer has {free} free; top up the account")]
    CannotPayFee {
        /// The fee.
        fee: Balance,
        /// The signer's free balance.
        free: Balance,
    },
    /// The signer has used every nonce.
    #[codec(index = 3)]
    #[error("the signer has used every nonce")]
    NonceExhausted,
}

/// What happened to a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Outcome {
    /// The call succeeded.
    #[codec(index = 0)]
    Success,
    /// The call failed; only the fee and nonce changed.
    #[codec(index = 1)]
    Failed(DispatchError),
    /// The transaction was not executed; nothing changed.
    #[codec(index = 2)]
    Invalid(InvalidTx),
}

/// The receipt of one transaction. SCALE in field order; its hash is a leaf of the receipts
/// root.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Receipt {
    /// The transaction hash.
    pub tx_hash: Hash,
    /// The signer.
    pub signer: AccountId,
    /// The transaction's nonce.
    #[codec(compact)]
    pub nonce: Nonce,
    /// What happened.
    pub outcome: Outcome,
    /// The fee paid (0 when invalid).
    #[codec(compact)]
    pub fee: Balance,
    /// Events of the call (none when it failed or was invalid).
    pub events: Vec<RuntimeEvent>,
}

impl Receipt {
    /// blake2b-256 of the SCALE encoding.
    pub fn hash(&self) -> Hash {
        hash_of(self)
    }
}

/// The result of applying a milestone: what goes into its header, and the receipts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MilestoneOutcome {
    /// One receipt per vertex, in order.
    pub receipts: Vec<Receipt>,
    /// Events of the milestone's hooks.
    pub hook_events: Vec<RuntimeEvent>,
    /// For `MilestoneHeader::receipts_root`.
    pub receipts_root: Hash,
    /// For `MilestoneHeader::state_root`.
    pub state_root: Hash,
    /// For `MilestoneHeader::epoch`.
    pub epoch: u64,
    /// For `MilestoneHeader::next_committee`: set on the last milestone of an epoch.
    pub next_committee: Option<Committee>,
}

/// The fee of a call of `weight` with `len` encoded bytes and `tip`.
pub fn compute_fee(params: &Parameters, weight: u64, len: usize, tip: Balance) -> Balance {
    params
        .base_fee
        .saturating_add(Balance::from(weight).saturating_mul(params.fee_per_weight))
        .saturating_add((len as Balance).saturating_mul(params.fee_per_byte))
        .saturating_add(tip)
}

/// Applies milestone `ctx.number` (its vertices in execution order) on top of the backend's
/// latest version (which must be `ctx.number - 1`) and commits the result as version
/// `ctx.number`.
///
/// Errors only if the state cannot be read or written; every problem with a transaction is
/// recorded in its receipt instead.
pub fn apply_milestone<B: StateBackend>(
    backend: &mut B,
    ctx: MilestoneContext,
    vertices: &[Vertex],
) -> Result<MilestoneOutcome> {
    let number = ctx.number;
    if number == 0 || backend.version() != Some(number - 1) {
        return Err(Error::VersionGap { current: backend.version(), requested: number });
    }
    let (receipts, hook_events, epoch, next_committee, changes) = {
        let mut ext = Ext::new(&*backend, ctx)?;
        hooks::on_initialize(&mut ext)?;
        let mut hook_events = ext.take_events();
        ext.commit_tx();
        let mut receipts = Vec::with_capacity(vertices.len());
        for vertex in vertices {
            receipts.push(apply_transaction(&mut ext, &vertex.tx)?);
        }
        let next_committee = hooks::on_finalize(&mut ext)?;
        hook_events.extend(ext.take_events());
        let epoch = ext.epoch();
        (receipts, hook_events, epoch, next_committee, ext.into_changes())
    };
    for (key, value) in changes {
        match value {
            Some(value) => backend.put(key, value),
            None => backend.delete(&key),
        }
    }
    let state_root = backend.commit(number)?;
    let mut leaves: Vec<Hash> = receipts.iter().map(Receipt::hash).collect();
    leaves.push(hash_of(&hook_events));
    Ok(MilestoneOutcome {
        receipts_root: merkle_root(&leaves),
        receipts,
        hook_events,
        state_root,
        epoch,
        next_committee,
    })
}

/// Applies one transaction: checks, fee, dispatch (white-flag on failure).
pub fn apply_transaction(ext: &mut Ext<'_>, tx: &Transaction) -> Result<Receipt> {
    let mut receipt = Receipt {
        tx_hash: tx.hash(),
        signer: tx.signer,
        nonce: tx.nonce,
        outcome: Outcome::Success,
        fee: 0,
        events: Vec::new(),
    };
    let invalid = |mut receipt: Receipt, why: InvalidTx| {
        receipt.outcome = Outcome::Invalid(why);
        Ok(receipt)
    };
    let mut info = system::account(ext, &tx.signer)?;
    if tx.nonce != info.nonce {
        return invalid(receipt, InvalidTx::BadNonce { expected: info.nonce, got: tx.nonce });
    }
    let now = ext.now();
    if !tx.mortality.is_alive_at(now) {
        let until = match tx.mortality {
            itc_primitives::Mortality::Mortal { until } => until,
            itc_primitives::Mortality::Immortal => u64::MAX,
        };
        return invalid(receipt, InvalidTx::Expired { until, now });
    }
    let call = decode_untrusted::<RuntimeCall>(&tx.call).ok();
    let weight = call.as_ref().map_or(UNDECODABLE_CALL_WEIGHT, RuntimeCall::weight);
    let fee = compute_fee(ext.params(), weight, tx.call.len(), tx.tip);
    if info.data.free < fee {
        return invalid(receipt, InvalidTx::CannotPayFee { fee, free: info.data.free });
    }
    let Some(next_nonce) = info.nonce.checked_add(1) else {
        return invalid(receipt, InvalidTx::NonceExhausted);
    };
    info.nonce = next_nonce;
    info.data.free -= fee;
    system::set_account(ext, &tx.signer, &info);
    ext.add_fee(fee);
    ext.commit_tx();
    receipt.fee = fee;

    receipt.outcome = match call {
        None => Outcome::Failed(DispatchError::UndecodableCall),
        Some(call) => match call.dispatch(ext, tx.signer) {
            Ok(()) => {
                ext.commit_tx();
                Outcome::Success
            }
            Err(CallError::Dispatch(e)) => {
                ext.rollback_tx();
                Outcome::Failed(e)
            }
            Err(CallError::State(e)) => return Err(e),
        },
    };
    receipt.events = ext.take_events();
    Ok(receipt)
}
