//! The balance operations other modules call: transfer, reserve, pay from a reserve, slash,
//! lock. Each either fully succeeds or returns an error having written nothing.
use itc_primitives::{AccountId, Balance};

use super::{AccountData, Error, Event, LockId, ReserveId, LOCKS, RESERVES, TOTAL_ISSUANCE};
use crate::{dispatch::CallError, ext::Ext, modules::system, Result};

/// The balances of `who`.
pub fn balance_of(ext: &Ext<'_>, who: &AccountId) -> Result<AccountData> {
    Ok(system::account(ext, who)?.data)
}

/// The amount in `who`'s reserve `id`.
pub fn reserved_of(ext: &Ext<'_>, who: &AccountId, id: ReserveId) -> Result<Balance> {
    RESERVES.get_or_default(ext, &(*who, id))
}

/// The total issuance.
pub fn total_issuance(ext: &Ext<'_>) -> Result<Balance> {
    TOTAL_ISSUANCE.get_or_default(ext)
}

fn credit_check(ext: &Ext<'_>, to: &system::AccountInfo, amount: Balance) -> Result<(), Error> {
    let minimum = ext.params().existential_deposit;
    if to.is_empty() && amount < minimum {
        return Err(Error::BelowExistentialDeposit { amount, minimum });
    }
    Ok(())
}

/// Moves `amount` from `from`'s transferable balance to `to`, under the existential-deposit
/// rules. Emits nothing (callers emit their own event).
pub fn transfer(
    ext: &mut Ext<'_>,
    from: &AccountId,
    to: &AccountId,
    amount: Balance,
) -> Result<(), CallError> {
    if amount == 0 || from == to {
        return Err(Error::PointlessTransfer.into());
    }
    let mut sender = system::account(ext, from)?;
    let available = sender.data.transferable();
    if available < amount {
        return Err(Error::InsufficientBalance { available, required: amount }.into());
    }
    let minimum = ext.params().existential_deposit;
    let remaining = sender.data.total() - amount;
    if remaining > 0 && remaining < minimum {
        return Err(Error::WouldLeaveDust { remaining, minimum }.into());
    }
    let mut recipient = system::account(ext, to)?;
    credit_check(ext, &recipient, amount)?;
    recipient.data.free = recipient.data.free.checked_add(amount).ok_or(Error::Overflow)?;
    sender.data.free -= amount;
    system::set_account(ext, from, &sender);
    system::set_account(ext, to, &recipient);
    Ok(())
}

/// Moves `amount` of `who`'s transferable balance into its reserve `id`.
pub fn reserve(
    ext: &mut Ext<'_>,
    who: &AccountId,
    id: ReserveId,
    amount: Balance,
) -> Result<(), CallError> {
    let mut info = system::account(ext, who)?;
    let available = info.data.transferable();
    if available < amount {
        return Err(Error::InsufficientBalance { available, required: amount }.into());
    }
    if amount == 0 {
        return Ok(());
    }
    let held = reserved_of(ext, who, id)?;
    info.data.free -= amount;
    info.data.reserved = info.data.reserved.checked_add(amount).ok_or(Error::Overflow)?;
    RESERVES.insert(ext, &(*who, id), &(held.checked_add(amount).ok_or(Error::Overflow)?));
    system::set_account(ext, who, &info);
    ext.deposit_event(Event::Reserved { who: *who, id, amount });
    Ok(())
}

fn take_from_reserve(
    ext: &mut Ext<'_>,
    who: &AccountId,
    id: ReserveId,
    amount: Balance,
) -> Result<system::AccountInfo, CallError> {
    let held = reserved_of(ext, who, id)?;
    if held < amount {
        return Err(Error::InsufficientReserve { id, reserved: held, required: amount }.into());
    }
    let mut info = system::account(ext, who)?;
    info.data.reserved = info.data.reserved.saturating_sub(amount);
    if held == amount {
        RESERVES.remove(ext, &(*who, id));
    } else {
        RESERVES.insert(ext, &(*who, id), &(held - amount));
    }
    Ok(info)
}

/// Returns `amount` of `who`'s reserve `id` to its free balance.
pub fn unreserve(
    ext: &mut Ext<'_>,
    who: &AccountId,
    id: ReserveId,
    amount: Balance,
) -> Result<(), CallError> {
    if amount == 0 {
        return Ok(());
    }
    let mut info = take_from_reserve(ext, who, id, amount)?;
    info.data.free = info.data.free.checked_add(amount).ok_or(Error::Overflow)?;
    system::set_account(ext, who, &info);
    ext.deposit_event(Event::Unreserved { who: *who, id, amount });
    Ok(())
}

/// Returns the whole of `who`'s reserve `id` to its free balance; returns the amount.
pub fn unreserve_all(
    ext: &mut Ext<'_>,
    who: &AccountId,
    id: ReserveId,
) -> Result<Balance, CallError> {
    let amount = reserved_of(ext, who, id)?;
    unreserve(ext, who, id, amount)?;
    Ok(amount)
}

/// Pays `amount` out of `from`'s reserve `id` to `to`'s free balance (escrow release). Paying
/// an account that does not exist yet less than the existential deposit is refused.
pub fn pay_from_reserve(
    ext: &mut Ext<'_>,
    from: &AccountId,
    id: ReserveId,
    to: &AccountId,
    amount: Balance,
) -> Result<(), CallError> {
    if amount == 0 {
        return Ok(());
    }
    if from == to {
        return unreserve(ext, from, id, amount);
    }
    let mut recipient = system::account(ext, to)?;
    credit_check(ext, &recipient, amount)?;
    let payer = take_from_reserve(ext, from, id, amount)?;
    recipient.data.free = recipient.data.free.checked_add(amount).ok_or(Error::Overflow)?;
    system::set_account(ext, from, &payer);
    system::set_account(ext, to, &recipient);
    ext.deposit_event(Event::ReservePaid { from: *from, id, to: *to, amount });
    Ok(())
}

/// Burns up to `amount` of `who`'s reserve `id`; returns what was burned.
pub fn slash_reserved(
    ext: &mut Ext<'_>,
    who: &AccountId,
    id: ReserveId,
    amount: Balance,
) -> Result<Balance, CallError> {
    let amount = amount.min(reserved_of(ext, who, id)?);
    if amount == 0 {
        return Ok(0);
    }
    let info = take_from_reserve(ext, who, id, amount)?;
    system::set_account(ext, who, &info);
    let issuance = total_issuance(ext)?.saturating_sub(amount);
    TOTAL_ISSUANCE.put(ext, &issuance);
    ext.deposit_event(Event::Slashed { who: *who, id, amount });
    Ok(amount)
}

/// Sets (or replaces) lock `id` on `who` to `amount`; `frozen` becomes the largest lock.
pub fn set_lock(ext: &mut Ext<'_>, who: &AccountId, id: LockId, amount: Balance) -> Result<()> {
    if amount == 0 {
        LOCKS.remove(ext, &(*who, id));
    } else {
        LOCKS.insert(ext, &(*who, id), &amount);
    }
    refresh_frozen(ext, who)
}

/// Removes lock `id` from `who`.
pub fn remove_lock(ext: &mut Ext<'_>, who: &AccountId, id: LockId) -> Result<()> {
    set_lock(ext, who, id, 0)
}

fn refresh_frozen(ext: &mut Ext<'_>, who: &AccountId) -> Result<()> {
    let frozen = LOCKS.iter_prefix(ext, who)?.into_iter().map(|(_, v)| v).max().unwrap_or(0);
    let mut info = system::account(ext, who)?;
    info.data.frozen = frozen;
    system::set_account(ext, who, &info);
    Ok(())
}

/// Creates `amount` new units in `who`'s free balance (genesis and the fee payout only).
pub fn mint(ext: &mut Ext<'_>, who: &AccountId, amount: Balance) -> Result<(), CallError> {
    let mut info = system::account(ext, who)?;
    info.data.free = info.data.free.checked_add(amount).ok_or(Error::Overflow)?;
    let issuance = total_issuance(ext)?.checked_add(amount).ok_or(Error::Overflow)?;
    system::set_account(ext, who, &info);
    TOTAL_ISSUANCE.put(ext, &issuance);
    Ok(())
}

/// Destroys `amount` of issuance that has already left every account (fees in flight).
pub(crate) fn burn_issuance(ext: &mut Ext<'_>, amount: Balance) -> Result<()> {
    let issuance = total_issuance(ext)?.saturating_sub(amount);
    TOTAL_ISSUANCE.put(ext, &issuance);
    Ok(())
}
