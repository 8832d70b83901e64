//! The market's calls and its timeout hook.
use itc_primitives::{AccountId, MilestoneNumber};

use super::*;
use crate::{
    dispatch::{CallError, DispatchResult},
    modules::{
        access,
        committee::{self, Component},
        datasets::{self, Status},
    },
    Result,
};

impl Call {
    /// Executes the call for `who`.
    pub fn dispatch(self, ext: &mut Ext<'_>, who: AccountId) -> DispatchResult {
        match self {
            Call::List { dataset, title, tags, description, price } => {
                let d = datasets::get(ext, dataset)?;
                if d.owner != who {
                    return Err(datasets::Error::NotOwner.into());
                }
                if d.status != Status::Active {
                    return Err(datasets::Error::NotActive(dataset).into());
                }
                check_listing(&title, price)?;
                let listing = NEXT_LISTING.get_or_default(ext)?;
                let record =
                    Listing { seller: who, dataset, title, tags, description, price, active: true };
                LISTINGS.insert(ext, &listing, &record);
                NEXT_LISTING.put(ext, &(listing + 1));
                ext.deposit_event(Event::Listed { listing, dataset, price });
                Ok(())
            }
            Call::Update { listing, title, tags, description, price } => {
                let mut l = own_listing(ext, listing, &who)?;
                check_listing(&title, price)?;
                l.title = title;
                l.tags = tags;
                l.description = description;
                l.price = price;
                LISTINGS.insert(ext, &listing, &l);
                ext.deposit_event(Event::Updated { listing });
                Ok(())
            }
            Call::Delist { listing } => {
                let mut l = own_listing(ext, listing, &who)?;
                l.active = false;
                LISTINGS.insert(ext, &listing, &l);
                ext.deposit_event(Event::Delisted { listing });
                Ok(())
            }
            Call::Order { listing } => place_order(ext, who, listing),
            Call::AttestDelivery { order, cfrag_hashes } => {
                if !access::is_proxy(ext, &who)? {
                    return Err(access::Error::NotProxy.into());
                }
                let mut o = get_order(ext, order)?;
                if !matches!(o.state, OrderState::Open | OrderState::Delivered) {
                    return Err(Error::WrongState { order }.into());
                }
                if cfrag_hashes.is_empty() {
                    return Err(Error::NoCfrags.into());
                }
                if o.witnesses.iter().any(|w| w.proxy == who) {
                    return Err(Error::AlreadyAttested.into());
                }
                let mut witnesses = o.witnesses.to_vec();
                witnesses.push(Witness { proxy: who, cfrag_hashes });
                o.witnesses = BoundedVec::new(witnesses).map_err(|_| Error::TooManyWitnesses)?;
                if o.state == OrderState::Open {
                    o.state = OrderState::Delivered;
                    let deadline = ext.now().saturating_add(ext.params().confirm_timeout);
                    reschedule(ext, order, &mut o, deadline);
                }
                ORDERS.insert(ext, &order, &o);
                ext.deposit_event(Event::DeliveryAttested { order, proxy: who });
                Ok(())
            }
            Call::Confirm { order } => {
                let o = get_order(ext, order)?;
                if o.buyer != who {
                    return Err(Error::NotBuyer.into());
                }
                if !matches!(o.state, OrderState::Open | OrderState::Delivered) {
                    return Err(Error::WrongState { order }.into());
                }
                settle(ext, order, o, false)?;
                Ok(())
            }
            Call::Dispute { order, evidence } => {
                let mut o = get_order(ext, order)?;
                if o.buyer != who {
                    return Err(Error::NotBuyer.into());
                }
                if o.state != OrderState::Delivered {
                    return Err(Error::WrongState { order }.into());
                }
                o.state = OrderState::Disputed { evidence };
                let deadline = ext.now().saturating_add(ext.params().dispute_timeout);
                reschedule(ext, order, &mut o, deadline);
                ORDERS.insert(ext, &order, &o);
                ext.deposit_event(Event::Disputed { order });
                Ok(())
            }
            Call::Vote { order, for_buyer } => vote(ext, who, order, for_buyer),
        }
    }
}

fn check_listing(title: &[u8], price: u128) -> core::result::Result<(), Error> {
    if title.is_empty() {
        return Err(Error::EmptyTitle);
    }
    if price == 0 {
        return Err(Error::ZeroPrice);
    }
    Ok(())
}

fn own_listing(
    ext: &Ext<'_>,
    listing: ListingId,
    who: &AccountId,
) -> core::result::Result<Listing, CallError> {
    let l = LISTINGS.get(ext, &listing)?.ok_or(Error::UnknownListing(listing))?;
    if l.seller != *who {
        return Err(Error::NotSeller.into());
    }
    if !l.active {
        return Err(Error::Delisted(listing).into());
    }
    Ok(l)
}

fn get_order(ext: &Ext<'_>, order: OrderId) -> core::result::Result<Order, CallError> {
    Ok(ORDERS.get(ext, &order)?.ok_or(Error::UnknownOrder(order))?)
}

fn place_order(ext: &mut Ext<'_>, buyer: AccountId, listing: ListingId) -> DispatchResult {
    let l = LISTINGS.get(ext, &listing)?.ok_or(Error::UnknownListing(listing))?;
    if !l.active {
        return Err(Error::Delisted(listing).into());
    }
    if l.seller == buyer {
        return Err(Error::SelfPurchase.into());
    }
    if datasets::get(ext, l.dataset)?.status != Status::Active {
        return Err(datasets::Error::NotActive(l.dataset).into());
    }
    let order = NEXT_ORDER.get_or_default(ext)?;
    balances::reserve(ext, &buyer, ReserveId::Order(order), l.price)?;
    let deadline = ext.now().saturating_add(ext.params().delivery_timeout);
    let record = Order {
        listing,
        buyer,
        seller: l.seller,
        price: l.price,
        state: OrderState::Open,
        deadline,
        witnesses: BoundedVec::default(),
        votes: BoundedVec::default(),
    };
    ORDERS.insert(ext, &order, &record);
    DEADLINES.insert(ext, &(deadline, order), &());
    NEXT_ORDER.put(ext, &(order + 1));
    ext.deposit_event(Event::Ordered { order, listing, buyer, price: l.price });
    Ok(())
}

fn reschedule(ext: &mut Ext<'_>, id: OrderId, order: &mut Order, deadline: MilestoneNumber) {
    DEADLINES.remove(ext, &(order.deadline, id));
    order.deadline = deadline;
    DEADLINES.insert(ext, &(deadline, id), &());
}

/// Closes an open order: refunds the buyer or pays the seller; adjusts the witnesses'
/// reputations (confirmed delivery +1, refunded after a delivery claim −1).
fn settle(ext: &mut Ext<'_>, id: OrderId, mut order: Order, refund: bool) -> DispatchResult {
    let escrow = ReserveId::Order(id);
    if refund {
        balances::unreserve(ext, &order.buyer, escrow, order.price)?;
        order.state = OrderState::Refunded;
        ext.deposit_event(Event::Refunded { order: id });
    } else {
        balances::pay_from_reserve(ext, &order.buyer, escrow, &order.seller, order.price)?;
        order.state = OrderState::Completed;
        ext.deposit_event(Event::Completed { order: id });
    }
    for w in order.witnesses.iter() {
        committee::adjust(ext, &w.proxy, Component::ProxyReliability, if refund { -1 } else { 1 })?;
    }
    DEADLINES.remove(ext, &(order.deadline, id));
    ORDERS.insert(ext, &id, &order);
    Ok(())
}

fn vote(ext: &mut Ext<'_>, voter: AccountId, id: OrderId, for_buyer: bool) -> DispatchResult {
    let current = committee::current(ext)?
        .unwrap_or(itc_primitives::Committee { epoch: 0, members: BoundedVec::default() });
    if current.index_of(&voter).is_none() {
        return Err(Error::NotCommitteeMember.into());
    }
    let mut o = get_order(ext, id)?;
    if !matches!(o.state, OrderState::Disputed { .. }) {
        return Err(Error::WrongState { order: id }.into());
    }
    if o.votes.iter().any(|(v, _)| *v == voter) {
        return Err(Error::AlreadyVoted.into());
    }
    let mut votes = o.votes.to_vec();
    votes.push((voter, for_buyer));
    // At most one vote per member and the committee has at most MAX_VOTES members.
    o.votes = BoundedVec::new(votes).map_err(|_| Error::AlreadyVoted)?;
    ext.deposit_event(Event::Voted { order: id, voter, for_buyer });
    let side = o.votes.iter().filter(|(_, b)| *b == for_buyer).count();
    if side >= current.quorum() {
        for (member, vote) in o.votes.iter() {
            let delta = if *vote == for_buyer { 1 } else { -1 };
            committee::adjust(ext, member, Component::DisputeOutcomes, delta)?;
        }
        settle(ext, id, o, for_buyer)
    } else {
        ORDERS.insert(ext, &id, &o);
        Ok(())
    }
}

/// The timeout hook, run at the end of every milestone: settles the orders whose deadline is
/// this milestone (see the module docs for who gets the escrow).
pub fn on_milestone(ext: &mut Ext<'_>) -> Result<()> {
    let now = ext.now();
    for ((_, id), ()) in DEADLINES.iter_prefix(ext, &now)? {
        let Some(order) = ORDERS.get(ext, &id)? else {
            DEADLINES.remove(ext, &(now, id));
            continue;
        };
        let refund = !matches!(order.state, OrderState::Delivered);
        match settle(ext, id, order, refund) {
            Ok(()) => ext.deposit_event(Event::TimedOut { order: id, refunded: refund }),
            Err(CallError::State(e)) => return Err(e),
            // Paying a seller whose account vanished below the deposit cannot happen (sellers
            // pay fees, so their accounts exist); should it, the buyer is refunded instead.
            Err(CallError::Dispatch(_)) => {
                if let Some(order) = ORDERS.get(ext, &id)? {
                    if let Err(CallError::State(e)) = settle(ext, id, order, true) {
                        return Err(e);
                    }
                    ext.deposit_event(Event::TimedOut { order: id, refunded: true });
                }
            }
        }
    }
    Ok(())
}
