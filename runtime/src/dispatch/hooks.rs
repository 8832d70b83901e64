//! Milestone hooks: what runs before the first and after the last transaction of a milestone.
use itc_primitives::Committee;

use crate::{
    ext::Ext,
    modules::{
        balances, chaincode,
        committee::{self, Component},
        market, system,
    },
    Result,
};

/// Before the transactions: install the elected committee if this milestone opens an epoch, and
/// credit the proposer's uptime.
pub fn on_initialize(ext: &mut Ext<'_>) -> Result<()> {
    let length = ext.params().epoch_length.max(1);
    if ext.now().is_multiple_of(length) {
        let epoch = ext.epoch();
        ext.deposit_event(system::Event::NewEpoch { epoch });
        committee::rotate(ext)?;
    }
    let proposer = ext.ctx().proposer;
    committee::adjust(ext, &proposer, Component::Uptime, 1)?;
    Ok(())
}

/// After the transactions: expire timed-out orders and jobs, pay the fees to the proposer,
/// advance the milestone counter, and elect the next committee if this milestone ends an epoch
/// (returned for the header).
pub fn on_finalize(ext: &mut Ext<'_>) -> Result<Option<Committee>> {
    market::on_milestone(ext)?;
    chaincode::on_milestone(ext)?;
    pay_fees(ext)?;
    let now = ext.now();
    system::NUMBER.put(ext, &now);
    let length = ext.params().epoch_length.max(1);
    if (now + 1).is_multiple_of(length) {
        let next_epoch = ext.epoch() + 1;
        return committee::elect(ext, next_epoch).map(Some);
    }
    Ok(None)
}

fn pay_fees(ext: &mut Ext<'_>) -> Result<()> {
    let fees = ext.take_fees();
    if fees == 0 {
        return Ok(());
    }
    let proposer = ext.ctx().proposer;
    let mut info = system::account(ext, &proposer)?;
    if info.is_empty() && fees < ext.params().existential_deposit {
        balances::burn_issuance(ext, fees)?;
        ext.deposit_event(system::Event::FeesBurned { amount: fees });
    } else {
        // Fees left their payers' accounts and are still counted in the issuance, so crediting
        // them cannot overflow the issuance.
        info.data.free = info.data.free.saturating_add(fees);
        system::set_account(ext, &proposer, &info);
        ext.deposit_event(system::Event::FeesPaid { proposer, amount: fees });
    }
    Ok(())
}
