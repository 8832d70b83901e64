//! Dispatch: the outer call, event and error enums over all modules, and the executive that
//! applies a milestone ([`apply_milestone`]).
//!
//! Module indices are stable and part of the wire format: system 0, balances 1, datasets 2,
//! access 3, market 4, chaincode 5, committee 6. A transaction's `call` is
//! `SCALE(RuntimeCall)`: the module index byte, the call index byte, then the call's fields.
mod executive;
mod hooks;

pub use executive::{
    apply_milestone, apply_transaction, compute_fee, InvalidTx, MilestoneOutcome, Outcome, Receipt,
};

use itc_primitives::AccountId;
use parity_scale_codec::{Decode, Encode};

use crate::{ext::Ext, modules::*, Error};

/// The weight of a call: an abstract measure of its execution cost; the fee is
/// `base_fee + weight · fee_per_weight + call bytes · fee_per_byte + tip`.
pub type Weight = u64;

/// Weight charged for a call that does not decode (it still pays for its bytes).
pub const UNDECODABLE_CALL_WEIGHT: Weight = 1_000;

/// The result of a call.
pub type DispatchResult = core::result::Result<(), CallError>;

/// A call of any module.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum RuntimeCall {
    /// See [`system::Call`].
    #[codec(index = 0)]
    System(system::Call),
    /// See [`balances::Call`].
    #[codec(index = 1)]
    Balances(balances::Call),
    /// See [`datasets::Call`].
    #[codec(index = 2)]
    Datasets(datasets::Call),
    /// See [`access::Call`].
    #[codec(index = 3)]
    Access(access::Call),
    /// See [`market::Call`].
    #[codec(index = 4)]
    Market(market::Call),
    /// See [`chaincode::Call`].
    #[codec(index = 5)]
    Chaincode(chaincode::Call),
    /// See [`committee::Call`].
    #[codec(index = 6)]
    Committee(committee::Call),
}

/// An event of any module.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum RuntimeEvent {
    /// See [`system::Event`].
    #[codec(index = 0)]
    System(system::Event),
    /// See [`balances::Event`].
    #[codec(index = 1)]
    Balances(balances::Event),
    /// See [`datasets::Event`].
    #[codec(index = 2)]
    Datasets(datasets::Event),
    /// See [`access::Event`].
    #[codec(index = 3)]
    Access(access::Event),
    /// See [`market::Event`].
    #[codec(index = 4)]
    Market(market::Event),
    /// See [`chaincode::Event`].
    #[codec(index = 5)]
    Chaincode(chaincode::Event),
    /// See [`committee::Event`].
    #[codec(index = 6)]
    Committee(committee::Event),
}

/// An error of any module.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, thiserror::Error)]
pub enum ModuleError {
    /// See [`system::Error`].
    #[codec(index = 0)]
    #[error("system: {0}")]
    System(system::Error),
    /// See [`balances::Error`].
    #[codec(index = 1)]
    #[error("balances: {0}")]
    Balances(balances::Error),
    /// See [`datasets::Error`].
    #[codec(index = 2)]
    #[error("datasets: {0}")]
    Datasets(datasets::Error),
    /// See [`access::Error`].
    #[codec(index = 3)]
    #[error("access: {0}")]
    Access(access::Error),
    /// See [`market::Error`].
    #[codec(index = 4)]
    #[error("market: {0}")]
    Market(market::Error),
    /// See [`chaincode::Error`].
    #[codec(index = 5)]
    #[error("chaincode: {0}")]
    Chaincode(chaincode::Error),
    /// See [`committee::Error`].
    #[codec(index = 6)]
    #[error("committee: {0}")]
    Committee(committee::Error),
}

/// Why a transaction's call failed (it still paid its fee and used its nonce).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, thiserror::Error)]
pub enum DispatchError {
    /// The call bytes are not a valid `SCALE(RuntimeCall)`.
    #[codec(index = 0)]
    #[error("the call does not decode as a runtime call; check the module and call indices")]
    UndecodableCall,
    /// A module refused the call.
    #[codec(index = 1)]
    #[error("{0}")]
    Module(ModuleError),
}

/// What a module call returns on failure: a dispatch error (recorded, white-flag) or a state
/// failure (fatal: the milestone cannot be applied).
#[derive(Debug)]
pub enum CallError {
    /// The call was refused; recorded in the receipt.
    Dispatch(DispatchError),
    /// The state backend failed.
    State(Error),
}

impl From<Error> for CallError {
    fn from(e: Error) -> Self {
        CallError::State(e)
    }
}

impl From<ModuleError> for CallError {
    fn from(e: ModuleError) -> Self {
        CallError::Dispatch(DispatchError::Module(e))
    }
}

macro_rules! module_conversions {
    ($($module:ident => $variant:ident),* $(,)?) => {$(
        impl From<$module::Error> for ModuleError {
            fn from(e: $module::Error) -> Self {
                ModuleError::$variant(e)
            }
        }
        impl From<$module::Error> for CallError {
            fn from(e: $module::Error) -> Self {
                CallError::Dispatch(DispatchError::Module(ModuleError::$variant(e)))
            }
        }
        impl From<$module::Event> for RuntimeEvent {
            fn from(e: $module::Event) -> Self {
                RuntimeEvent::$variant(e)
            }
        }
        impl From<$module::Call> for RuntimeCall {
            fn from(c: $module::Call) -> Self {
                RuntimeCall::$variant(c)
            }
        }
    )*};
}

module_conversions!(system => System, balances => Balances, datasets => Datasets,
    access => Access,
    market => Market,
    chaincode => Chaincode,
    committee => Committee);

impl RuntimeCall {
    /// The weight of the call.
    pub fn weight(&self) -> Weight {
        match self {
            RuntimeCall::System(c) => c.weight(),
            RuntimeCall::Balances(c) => c.weight(),
            RuntimeCall::Datasets(c) => c.weight(),
            RuntimeCall::Access(c) => c.weight(),
            RuntimeCall::Market(c) => c.weight(),
            RuntimeCall::Chaincode(c) => c.weight(),
            RuntimeCall::Committee(c) => c.weight(),
        }
    }

    /// Executes the call for the signer `who`. Signatures were checked by the DAG before the
    /// vertex was ordered; the runtime trusts vertex validation for them.
    pub fn dispatch(self, ext: &mut Ext<'_>, who: AccountId) -> DispatchResult {
        match self {
            RuntimeCall::System(c) => c.dispatch(ext, who),
            RuntimeCall::Balances(c) => c.dispatch(ext, who),
            RuntimeCall::Datasets(c) => c.dispatch(ext, who),
            RuntimeCall::Access(c) => c.dispatch(ext, who),
            RuntimeCall::Market(c) => c.dispatch(ext, who),
            RuntimeCall::Chaincode(c) => c.dispatch(ext, who),
            RuntimeCall::Committee(c) => c.dispatch(ext, who),
        }
    }
}

/// Runs every module's `try_state` invariant check over the state `ext` sees.
pub fn try_state(ext: &Ext<'_>) -> core::result::Result<(), String> {
    system::try_state(ext).map_err(|e| format!("system: {e}"))?;
    balances::try_state(ext).map_err(|e| format!("balances: {e}"))?;
    datasets::try_state(ext).map_err(|e| format!("datasets: {e}"))?;
    access::try_state(ext).map_err(|e| format!("access: {e}"))?;
    market::try_state(ext).map_err(|e| format!("market: {e}"))?;
    chaincode::try_state(ext).map_err(|e| format!("chaincode: {e}"))?;
    committee::try_state(ext).map_err(|e| format!("committee: {e}"))?;
    Ok(())
}
