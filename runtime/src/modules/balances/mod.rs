//! Balances: ITC transfers, the existential deposit, named reserves (escrow and stakes) and
//! locks.
//!
//! An account's [`AccountData`] lives inside its `system` record (as in Substrate), so a transfer
//! reads and writes one key per party. `reserved` is the sum of the account's named reserves
//! ([`RESERVES`]); escrow is a named reserve (an order, a job) so every module can prove its
//! escrow equals its open obligations. `frozen` is the largest lock: transfers may not take
//! `free` below it.
//!
//! Existential deposit: a transfer may not create an account with less than the deposit, nor
//! leave the sender with a total (free + reserved) strictly between 0 and the deposit. Accounts
//! are never reaped while their nonce is non-zero (the nonce protects against replay).
mod ops;

pub use ops::*;

use itc_primitives::{AccountId, Balance};
use parity_scale_codec::{Decode, Encode};

use crate::{
    dispatch::{DispatchResult, Weight},
    ext::Ext,
    modules::system,
    storage::{StorageMap, StorageValue},
};

/// Module index of balances in [`crate::RuntimeCall`].
pub const MODULE_INDEX: u8 = 1;

/// Balances of one account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct AccountData {
    /// Spendable funds (less `frozen`).
    #[codec(compact)]
    pub free: Balance,
    /// Funds held in named reserves.
    #[codec(compact)]
    pub reserved: Balance,
    /// The largest lock: `free` may not be transferred below it.
    #[codec(compact)]
    pub frozen: Balance,
}

impl AccountData {
    /// free + reserved.
    pub fn total(&self) -> Balance {
        self.free.saturating_add(self.reserved)
    }

    /// What a transfer may move: free less frozen.
    pub fn transferable(&self) -> Balance {
        self.free.saturating_sub(self.frozen)
    }
}

/// Why funds are reserved. SCALE: one index byte, then the id if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Encode, Decode)]
pub enum ReserveId {
    /// Escrow of a market order (price).
    #[codec(index = 0)]
    Order(u64),
    /// Escrow of a chaincode job (payment).
    #[codec(index = 1)]
    Job(u64),
    /// Stake of a re-encryption proxy.
    #[codec(index = 2)]
    ProxyStake,
    /// Stake of a committee candidate.
    #[codec(index = 3)]
    CandidateStake,
}

/// An 8-byte lock identifier.
pub type LockId = [u8; 8];

/// `[1, 0]`: the total issuance.
pub const TOTAL_ISSUANCE: StorageValue<Balance> = StorageValue::new(MODULE_INDEX, 0);
/// `[1, 1] ++ account ++ reserve id`: a named reserve.
pub const RESERVES: StorageMap<(AccountId, ReserveId), Balance> = StorageMap::new(MODULE_INDEX, 1);
/// `[1, 2] ++ account ++ lock id`: a lock.
pub const LOCKS: StorageMap<(AccountId, LockId), Balance> = StorageMap::new(MODULE_INDEX, 2);

/// Balances calls.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Call {
    /// Moves `amount` of the signer's free balance to `dest`.
    #[codec(index = 0)]
    Transfer {
        /// The recipient.
        dest: AccountId,
        /// The amount.
        #[codec(compact)]
        amount: Balance,
    },
    /// Moves all of the signer's transferable balance to `dest`.
    #[codec(index = 1)]
    TransferAll {
        /// The recipient.
        dest: AccountId,
    },
}

/// Balances events.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Event {
    /// Funds moved.
    #[codec(index = 0)]
    Transfer {
        /// The sender.
        from: AccountId,
        /// The recipient.
        to: AccountId,
        /// The amount.
        amount: Balance,
    },
    /// Funds were put in a named reserve.
    #[codec(index = 1)]
    Reserved {
        /// The account.
        who: AccountId,
        /// The reserve.
        id: ReserveId,
        /// The amount.
        amount: Balance,
    },
    /// Funds left a named reserve back to free.
    #[codec(index = 2)]
    Unreserved {
        /// The account.
        who: AccountId,
        /// The reserve.
        id: ReserveId,
        /// The amount.
        amount: Balance,
    },
    /// Reserved funds were paid to another account.
    #[codec(index = 3)]
    ReservePaid {
        /// The payer.
        from: AccountId,
        /// The reserve.
        id: ReserveId,
        /// The payee.
        to: AccountId,
        /// The amount.
        amount: Balance,
    },
    /// Reserved funds were slashed (burned).
    #[codec(index = 4)]
    Slashed {
        /// The account.
        who: AccountId,
        /// The reserve.
        id: ReserveId,
        /// The amount.
        amount: Balance,
    },
}

/// Balances errors.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, thiserror::Error)]
pub enum Error {
    /// The account's transferable balance is below what the operation needs.
    #[codec(index = 0)]
    #[error("transferable balance is {available}, {required} is needed; top up the account")]
    InsufficientBalance {
        /// Transferable balance (free less frozen).
        available: Balance,
        /// What was needed.
        required: Balance,
    },
    /// The transfer would create an account holding less than the existential deposit.
    #[codec(index = 1)]
    #[error("{amount} would create an account below the existential deposit {minimum}; send more")]
    BelowExistentialDeposit {
        /// The amount sent.
        amount: Balance,
        /// The existential deposit.
        minimum: Balance,
    },
    /// The transfer would leave the sender with dust (0 < total < existential deposit).
    #[codec(index = 2)]
    #[error("the sender would keep {remaining}, below the existential deposit {minimum}; send everything or less")]
    WouldLeaveDust {
        /// What would remain.
        remaining: Balance,
        /// The existential deposit.
        minimum: Balance,
    },
    /// A transfer of zero, or to oneself.
    #[codec(index = 3)]
    #[error("a transfer must move a positive amount to another account")]
    PointlessTransfer,
    /// The named reserve holds less than the operation needs.
    #[codec(index = 4)]
    #[error("reserve {id:?} holds {reserved}, {required} is needed")]
    InsufficientReserve {
        /// The reserve.
        id: ReserveId,
        /// What it holds.
        reserved: Balance,
        /// What was needed.
        required: Balance,
    },
    /// A balance would overflow u128.
    #[codec(index = 5)]
    #[error("balance overflow")]
    Overflow,
}

impl Call {
    /// The weight of the call.
    pub fn weight(&self) -> Weight {
        match self {
            Call::Transfer { .. } => 10_000,
            Call::TransferAll { .. } => 12_000,
        }
    }

    /// Executes the call for `who`.
    pub fn dispatch(self, ext: &mut Ext<'_>, who: AccountId) -> DispatchResult {
        let (dest, amount) = match self {
            Call::Transfer { dest, amount } => (dest, amount),
            Call::TransferAll { dest } => (dest, system::account(ext, &who)?.data.transferable()),
        };
        transfer(ext, &who, &dest, amount)?;
        ext.deposit_event(Event::Transfer { from: who, to: dest, amount });
        Ok(())
    }
}

/// Invariants: total issuance equals the sum of every account's free + reserved; each account's
/// `reserved` equals the sum of its named reserves and `frozen` its largest lock.
pub fn try_state(ext: &Ext<'_>) -> core::result::Result<(), String> {
    let e = |e: crate::Error| e.to_string();
    let accounts = system::ACCOUNT.iter(ext).map_err(e)?;
    let mut sum: Balance = 0;
    for (who, info) in &accounts {
        sum = sum.checked_add(info.data.total()).ok_or("issuance overflows")?;
        let reserves: Balance =
            RESERVES.iter_prefix(ext, who).map_err(e)?.iter().map(|(_, v)| *v).sum();
        if reserves != info.data.reserved {
            return Err(format!(
                "{who}: reserved {} but named reserves sum to {reserves}",
                info.data.reserved
            ));
        }
        let frozen =
            LOCKS.iter_prefix(ext, who).map_err(e)?.iter().map(|(_, v)| *v).max().unwrap_or(0);
        if frozen != info.data.frozen {
            return Err(format!("{who}: frozen {} but largest lock is {frozen}", info.data.frozen));
        }
    }
    for ((who, id), amount) in RESERVES.iter(ext).map_err(e)? {
        if amount == 0 {
            return Err(format!("{who}: empty reserve {id:?} is stored"));
        }
        if !accounts.iter().any(|(a, _)| *a == who) {
            return Err(format!("reserve {id:?} of {who} who has no account"));
        }
    }
    let issuance = TOTAL_ISSUANCE.get_or_default(ext).map_err(e)?;
    if issuance != sum {
        return Err(format!("total issuance {issuance} but balances sum to {sum}"));
    }
    Ok(())
}
