//! System: accounts and nonces, chain parameters, the security-level table (PoW difficulty per
//! level), and the milestone counter. Fees, nonces and mortality are applied by the dispatcher
//! ([`crate::dispatch`]) with the parameters kept here.
//!
//! Events are not kept in state (as Substrate does per block): each transaction's events are in
//! its receipt, the hooks' events in the milestone outcome, and the receipts root commits to
//! both. The epoch is `milestone number / epoch_length` (`epoch_length` is fixed at genesis).
mod params;

pub use params::Parameters;

use itc_primitives::{blake2_256, AccountId, BoundedVec, Hash, MilestoneNumber, Nonce};
use parity_scale_codec::{Decode, Encode};

use crate::{
    dispatch::{DispatchResult, Weight},
    ext::Ext,
    modules::balances::AccountData,
    storage::{StorageMap, StorageValue},
    Result,
};

/// Module index of system in [`crate::RuntimeCall`].
pub const MODULE_INDEX: u8 = 0;
/// At most this many bytes in a remark.
pub const MAX_REMARK: usize = 1024;
/// At most this many security levels.
pub const MAX_SECURITY_LEVELS: usize = 16;

/// An account's record: its nonce and balances.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct AccountInfo {
    /// The nonce the account's next transaction must carry.
    #[codec(compact)]
    pub nonce: Nonce,
    /// Its balances.
    pub data: AccountData,
}

impl AccountInfo {
    /// Whether the record holds nothing and need not be stored.
    pub fn is_empty(&self) -> bool {
        *self == AccountInfo::default()
    }
}

/// `[0, 0] ++ account`: every account's [`AccountInfo`].
pub const ACCOUNT: StorageMap<AccountId, AccountInfo> = StorageMap::new(MODULE_INDEX, 0);
/// `[0, 1]`: the chain [`Parameters`].
pub const PARAMETERS: StorageValue<Parameters> = StorageValue::new(MODULE_INDEX, 1);
/// `[0, 2]`: the number of the last executed milestone.
pub const NUMBER: StorageValue<MilestoneNumber> = StorageValue::new(MODULE_INDEX, 2);
/// `[0, 3]`: PoW difficulty (leading zero bits of a vertex hash) per security level.
pub const SECURITY_LEVELS: StorageValue<BoundedVec<u32, MAX_SECURITY_LEVELS>> =
    StorageValue::new(MODULE_INDEX, 3);
/// `[0, 4] ++ account`: the security level an account chose (default 0).
pub const SECURITY_LEVEL_OF: StorageMap<AccountId, u8> = StorageMap::new(MODULE_INDEX, 4);

/// System calls.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Call {
    /// Records a note on chain (only its hash appears in the event).
    #[codec(index = 0)]
    Remark {
        /// The note.
        data: BoundedVec<u8, MAX_REMARK>,
    },
    /// Chooses the signer's security level, i.e. the PoW difficulty its vertices must meet.
    #[codec(index = 1)]
    SetSecurityLevel {
        /// An index into the security-level table.
        level: u8,
    },
}

/// System events.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Event {
    /// A remark was recorded.
    #[codec(index = 0)]
    Remarked {
        /// Who made it.
        who: AccountId,
        /// blake2b-256 of the remark.
        hash: Hash,
    },
    /// An account chose a security level.
    #[codec(index = 1)]
    SecurityLevelSet {
        /// The account.
        who: AccountId,
        /// The level.
        level: u8,
        /// Its PoW difficulty.
        difficulty: u32,
    },
    /// The milestone's fees went to its proposer.
    #[codec(index = 2)]
    FeesPaid {
        /// The proposer.
        proposer: AccountId,
        /// The amount.
        amount: u128,
    },
    /// The milestone's fees were burned (the proposer has no account and they are below the
    /// existential deposit).
    #[codec(index = 3)]
    FeesBurned {
        /// The amount.
        amount: u128,
    },
    /// A new epoch started.
    #[codec(index = 4)]
    NewEpoch {
        /// The epoch number.
        epoch: u64,
    },
}

/// System errors.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, thiserror::Error)]
pub enum Error {
    /// The requested security level is not in the table.
    #[codec(index = 0)]
    #[error("security level {level} does not exist; levels are 0..{levels}")]
    UnknownSecurityLevel {
        /// The requested level.
        level: u8,
        /// How many levels exist.
        levels: u8,
    },
}

impl Call {
    /// The weight of the call.
    pub fn weight(&self) -> Weight {
        match self {
            Call::Remark { data } => 1_000 + data.len() as Weight,
            Call::SetSecurityLevel { .. } => 5_000,
        }
    }

    /// Executes the call for `who`.
    pub fn dispatch(self, ext: &mut Ext<'_>, who: AccountId) -> DispatchResult {
        match self {
            Call::Remark { data } => {
                ext.deposit_event(Event::Remarked { who, hash: blake2_256(&data) });
                Ok(())
            }
            Call::SetSecurityLevel { level } => {
                let table = SECURITY_LEVELS.get_or_default(ext)?;
                let difficulty = *table
                    .get(usize::from(level))
                    .ok_or(Error::UnknownSecurityLevel { level, levels: table.len() as u8 })?;
                SECURITY_LEVEL_OF.insert(ext, &who, &level);
                ext.deposit_event(Event::SecurityLevelSet { who, level, difficulty });
                Ok(())
            }
        }
    }
}

/// The account record of `who` (default if it has none).
pub fn account(ext: &Ext<'_>, who: &AccountId) -> Result<AccountInfo> {
    ACCOUNT.get_or_default(ext, who)
}

/// Stores the record of `who`, removing it when empty.
pub fn set_account(ext: &mut Ext<'_>, who: &AccountId, info: &AccountInfo) {
    if info.is_empty() {
        ACCOUNT.remove(ext, who);
    } else {
        ACCOUNT.insert(ext, who, info);
    }
}

/// The PoW difficulty `who`'s vertices must meet: the difficulty of its security level (level 0
/// if it chose none). The DAG asks this before accepting a vertex.
pub fn pow_difficulty(ext: &Ext<'_>, who: &AccountId) -> Result<u32> {
    let table = SECURITY_LEVELS.get_or_default(ext)?;
    Ok(level_difficulty(&table, SECURITY_LEVEL_OF.get_or_default(ext, who)?))
}

/// The difficulty of security level `level` in `table` ([`SECURITY_LEVELS`]): level 0's for a
/// level the table lacks, 0 for an empty table. For callers that read the table once for many
/// accounts; [`pow_difficulty`] is the one-account form.
pub fn level_difficulty(table: &[u32], level: u8) -> u32 {
    table.get(usize::from(level)).or_else(|| table.first()).copied().unwrap_or(0)
}

/// Invariants: parameters exist and are sane, the security table is non-empty, and every
/// account's chosen level is in the table.
pub fn try_state(ext: &Ext<'_>) -> core::result::Result<(), String> {
    let params = PARAMETERS.get(ext).map_err(|e| e.to_string())?.ok_or("no parameters")?;
    params.validate()?;
    let table = SECURITY_LEVELS.get_or_default(ext).map_err(|e| e.to_string())?;
    if table.is_empty() {
        return Err("security-level table is empty".into());
    }
    for (who, level) in SECURITY_LEVEL_OF.iter(ext).map_err(|e| e.to_string())? {
        if usize::from(level) >= table.len() {
            return Err(format!("{who} has security level {level}, table has {}", table.len()));
        }
    }
    Ok(())
}
