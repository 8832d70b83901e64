use itc_primitives::{BoundedVec, Hash};
use itc_runtime::{
    modules::{
        access,
        balances::{self, ReserveId},
        committee, datasets,
        market::{self, Call, Error, Event, OrderState},
    },
    RuntimeEvent,
};

use crate::common::*;

const PRICE: u128 = 5_000;

fn list(dataset: u64, title: &[u8], price: u128) -> Call {
    Call::List {
        dataset,
        title: bounded(title),
        tags: BoundedVec::new(vec![bounded(b"energy")]).unwrap(),
        description: bounded(b"hourly smart-meter readings"),
        price,
    }
}

fn update(listing: u64, title: &[u8], price: u128) -> Call {
    Call::Update {
        listing,
        title: bounded(title),
        tags: BoundedVec::default(),
        description: bounded(b"new"),
        price,
    }
}

fn cfrags() -> BoundedVec<Hash, 64> {
    BoundedVec::new(vec![Hash([9; 32])]).unwrap()
}

/// Bob lists dataset 0 (listing 0); Eve is a proxy; Ferdie orders (order 0).
fn ordered() -> Chain {
    let mut chain = ExtBuilder::default().build();
    let id = chain.dataset(bob(), 1, 10);
    chain.ok(bob(), list(id, b"meters", PRICE));
    chain.ok(eve(), access::Call::RegisterProxy { stake: test_params().min_proxy_stake });
    chain.ok(ferdie(), Call::Order { listing: 0 });
    chain
}

fn order(chain: &Chain) -> market::Order {
    market::ORDERS.get(&chain.view(), &0).unwrap().unwrap()
}

#[test]
fn list_update_delist() {
    let mut chain = ExtBuilder::default().build();
    let id = chain.dataset(bob(), 0, 0);
    let events = chain.ok(bob(), list(id, b"meters", PRICE));
    assert_eq!(
        events,
        vec![RuntimeEvent::Market(Event::Listed { listing: 0, dataset: id, price: PRICE })]
    );
    let events = chain.ok(bob(), update(0, b"meters v2", 7));
    assert_eq!(events, vec![RuntimeEvent::Market(Event::Updated { listing: 0 })]);
    let l = market::LISTINGS.get(&chain.view(), &0).unwrap().unwrap();
    assert_eq!((l.title.to_vec(), l.price, l.active), (b"meters v2".to_vec(), 7, true));
    let events = chain.ok(bob(), Call::Delist { listing: 0 });
    assert_eq!(events, vec![RuntimeEvent::Market(Event::Delisted { listing: 0 })]);
    assert!(!market::LISTINGS.get(&chain.view(), &0).unwrap().unwrap().active);
}

#[test]
fn listing_errors() {
    let mut chain = ExtBuilder::default().build();
    let id = chain.dataset(bob(), 0, 0);
    chain.fails(bob(), list(id, b"", PRICE), Error::EmptyTitle);
    chain.fails(bob(), list(id, b"t", 0), Error::ZeroPrice);
    chain.fails(charlie(), list(id, b"t", PRICE), datasets::Error::NotOwner);
    chain.fails(bob(), list(4, b"t", PRICE), datasets::Error::UnknownDataset(4));
    chain.ok(bob(), list(id, b"t", PRICE));
    chain.fails(bob(), update(3, b"t", 1), Error::UnknownListing(3));
    chain.fails(charlie(), update(0, b"t", 1), Error::NotSeller);
    chain.fails(bob(), update(0, b"", 1), Error::EmptyTitle);
    chain.fails(bob(), update(0, b"t", 0), Error::ZeroPrice);
    chain.fails(charlie(), Call::Delist { listing: 0 }, Error::NotSeller);
    chain.fails(bob(), Call::Delist { listing: 3 }, Error::UnknownListing(3));
    chain.ok(bob(), Call::Delist { listing: 0 });
    chain.fails(bob(), Call::Delist { listing: 0 }, Error::Delisted(0));
    chain.fails(bob(), update(0, b"t", 1), Error::Delisted(0));
    chain.ok(bob(), datasets::Call::Retire { dataset: id });
    chain.fails(bob(), list(id, b"t", PRICE), datasets::Error::NotActive(id));
}

#[test]
fn order_puts_the_price_in_escrow() {
    let chain = ordered();
    let o = order(&chain);
    assert_eq!((o.buyer, o.seller, o.price, o.state), (ferdie(), bob(), PRICE, OrderState::Open));
    assert_eq!(
        balances::reserved_of(&chain.view(), &ferdie(), ReserveId::Order(0)).unwrap(),
        PRICE
    );
}

#[test]
fn order_errors() {
    let mut chain = ExtBuilder::default().balance(nobody(1), 100).build();
    let id = chain.dataset(bob(), 0, 0);
    chain.ok(bob(), list(id, b"t", PRICE));
    chain.fails(charlie(), Call::Order { listing: 8 }, Error::UnknownListing(8));
    chain.fails(bob(), Call::Order { listing: 0 }, Error::SelfPurchase);
    chain.fails(
        nobody(1),
        Call::Order { listing: 0 },
        balances::Error::InsufficientBalance { available: 99, required: PRICE },
    );
    chain.ok(bob(), datasets::Call::Retire { dataset: id });
    chain.fails(charlie(), Call::Order { listing: 0 }, datasets::Error::NotActive(id));
    chain.ok(bob(), Call::Delist { listing: 0 });
    chain.fails(charlie(), Call::Order { listing: 0 }, Error::Delisted(0));
}

#[test]
fn attest_then_confirm_pays_the_seller_and_credits_the_witness() {
    let mut chain = ordered();
    let events = chain.ok(eve(), Call::AttestDelivery { order: 0, cfrag_hashes: cfrags() });
    assert_eq!(
        events,
        vec![RuntimeEvent::Market(Event::DeliveryAttested { order: 0, proxy: eve() })]
    );
    assert_eq!(order(&chain).state, OrderState::Delivered);
    let bob_before = chain.free(&bob());
    let events = chain.ok(ferdie(), Call::Confirm { order: 0 });
    assert!(events.contains(&RuntimeEvent::Market(Event::Completed { order: 0 })));
    assert_eq!(chain.free(&bob()), bob_before + PRICE);
    assert_eq!(chain.reserved(&ferdie()), 0);
    assert_eq!(order(&chain).state, OrderState::Completed);
    let rep = committee::REPUTATION.get(&chain.view(), &eve()).unwrap().unwrap();
    assert_eq!(rep.proxy_reliability, 1);
}

#[test]
fn attest_errors() {
    let mut chain = ordered();
    chain.fails(
        charlie(),
        Call::AttestDelivery { order: 0, cfrag_hashes: cfrags() },
        access::Error::NotProxy,
    );
    chain.fails(
        eve(),
        Call::AttestDelivery { order: 4, cfrag_hashes: cfrags() },
        Error::UnknownOrder(4),
    );
    chain.fails(
        eve(),
        Call::AttestDelivery { order: 0, cfrag_hashes: BoundedVec::default() },
        Error::NoCfrags,
    );
    chain.ok(eve(), Call::AttestDelivery { order: 0, cfrag_hashes: cfrags() });
    chain.fails(
        eve(),
        Call::AttestDelivery { order: 0, cfrag_hashes: cfrags() },
        Error::AlreadyAttested,
    );
    chain.ok(ferdie(), Call::Confirm { order: 0 });
    chain.ok(charlie(), access::Call::RegisterProxy { stake: test_params().min_proxy_stake });
    chain.fails(
        charlie(),
        Call::AttestDelivery { order: 0, cfrag_hashes: cfrags() },
        Error::WrongState { order: 0 },
    );
}

#[test]
fn an_order_takes_at_most_sixteen_witnesses() {
    let mut builder = ExtBuilder::default();
    for i in 0..17 {
        builder = builder.balance(nobody(100 + i), 1_000 * UNIT);
    }
    let mut chain = builder.build();
    let id = chain.dataset(bob(), 1, 10);
    chain.ok(bob(), list(id, b"meters", PRICE));
    chain.ok(ferdie(), Call::Order { listing: 0 });
    let stake = test_params().min_proxy_stake;
    let txs: Vec<_> =
        (0..17).map(|i| tx(nobody(100 + i), 0, access::Call::RegisterProxy { stake })).collect();
    chain.apply(txs);
    let txs: Vec<_> = (0..16)
        .map(|i| tx(nobody(100 + i), 1, Call::AttestDelivery { order: 0, cfrag_hashes: cfrags() }))
        .collect();
    assert!(chain.apply(txs).receipts.iter().all(|r| r.outcome == itc_runtime::Outcome::Success));
    chain.fails(
        nobody(116),
        Call::AttestDelivery { order: 0, cfrag_hashes: cfrags() },
        Error::TooManyWitnesses,
    );
}

#[test]
fn confirm_errors() {
    let mut chain = ordered();
    chain.fails(charlie(), Call::Confirm { order: 0 }, Error::NotBuyer);
    chain.fails(ferdie(), Call::Confirm { order: 3 }, Error::UnknownOrder(3));
    chain.ok(ferdie(), Call::Confirm { order: 0 });
    chain.fails(ferdie(), Call::Confirm { order: 0 }, Error::WrongState { order: 0 });
}

#[test]
fn dispute_errors() {
    let mut chain = ordered();
    let evidence = bounded::<1024>(b"chunk 3 fails its proof");
    chain.fails(
        ferdie(),
        Call::Dispute { order: 0, evidence: evidence.clone() },
        Error::WrongState { order: 0 },
    );
    chain.ok(eve(), Call::AttestDelivery { order: 0, cfrag_hashes: cfrags() });
    chain.fails(charlie(), Call::Dispute { order: 0, evidence: evidence.clone() }, Error::NotBuyer);
    chain.fails(
        ferdie(),
        Call::Dispute { order: 2, evidence: evidence.clone() },
        Error::UnknownOrder(2),
    );
    let events = chain.ok(ferdie(), Call::Dispute { order: 0, evidence: evidence.clone() });
    assert_eq!(events, vec![RuntimeEvent::Market(Event::Disputed { order: 0 })]);
    assert_eq!(order(&chain).state, OrderState::Disputed { evidence });
}

fn disputed() -> Chain {
    let mut chain = ordered();
    chain.ok(eve(), Call::AttestDelivery { order: 0, cfrag_hashes: cfrags() });
    chain.ok(ferdie(), Call::Dispute { order: 0, evidence: bounded(b"bad chunk") });
    chain
}

#[test]
fn committee_quorum_for_the_buyer_refunds_and_scores_voters() {
    let mut chain = disputed();
    let ferdie_before = chain.free(&ferdie());
    chain.ok(alice(), Call::Vote { order: 0, for_buyer: true });
    chain.ok(bob(), Call::Vote { order: 0, for_buyer: false });
    chain.ok(charlie(), Call::Vote { order: 0, for_buyer: true });
    assert!(order(&chain).state.is_open(), "2 of 4 is below the quorum of 3");
    let events = chain.ok(dave(), Call::Vote { order: 0, for_buyer: true });
    assert!(events.contains(&RuntimeEvent::Market(Event::Refunded { order: 0 })));
    assert_eq!(order(&chain).state, OrderState::Refunded);
    assert_eq!(chain.free(&ferdie()), ferdie_before + PRICE);
    let rep = |who| committee::REPUTATION.get(&chain.view(), &who).unwrap().unwrap_or_default();
    assert_eq!(rep(alice()).dispute_outcomes, 1);
    assert_eq!(rep(dave()).dispute_outcomes, 1);
    assert_eq!(rep(bob()).dispute_outcomes, 0, "voted against the majority (saturates at 0)");
}

#[test]
fn committee_quorum_for_the_seller_pays_the_seller() {
    let mut chain = disputed();
    let bob_before = chain.free(&bob());
    for member in [alice(), charlie(), dave()] {
        chain.ok(member, Call::Vote { order: 0, for_buyer: false });
    }
    assert_eq!(order(&chain).state, OrderState::Completed);
    assert_eq!(chain.free(&bob()), bob_before + PRICE);
}

#[test]
fn vote_errors() {
    let mut chain = ordered();
    chain.fails(alice(), Call::Vote { order: 0, for_buyer: true }, Error::WrongState { order: 0 });
    chain.ok(eve(), Call::AttestDelivery { order: 0, cfrag_hashes: cfrags() });
    chain.ok(ferdie(), Call::Dispute { order: 0, evidence: bounded(b"bad chunk") });
    chain.fails(eve(), Call::Vote { order: 0, for_buyer: true }, Error::NotCommitteeMember);
    chain.fails(alice(), Call::Vote { order: 9, for_buyer: true }, Error::UnknownOrder(9));
    chain.ok(alice(), Call::Vote { order: 0, for_buyer: true });
    chain.fails(alice(), Call::Vote { order: 0, for_buyer: false }, Error::AlreadyVoted);
}

#[test]
fn undelivered_order_is_refunded_at_its_deadline() {
    let mut chain = ordered();
    let deadline = order(&chain).deadline;
    assert_eq!(deadline, chain.number() + test_params().delivery_timeout);
    chain.advance_to(deadline - 1);
    assert!(order(&chain).state.is_open());
    let out = chain.apply(vec![]);
    assert!(out
        .hook_events
        .contains(&RuntimeEvent::Market(Event::TimedOut { order: 0, refunded: true })));
    assert_eq!(order(&chain).state, OrderState::Refunded);
    assert_eq!(chain.reserved(&ferdie()), 0);
}

#[test]
fn delivered_order_is_released_to_the_seller_at_its_deadline() {
    let mut chain = ordered();
    chain.ok(eve(), Call::AttestDelivery { order: 0, cfrag_hashes: cfrags() });
    let bob_before = chain.free(&bob());
    let deadline = order(&chain).deadline;
    let outs = chain.advance_to(deadline);
    assert!(outs
        .last()
        .unwrap()
        .hook_events
        .contains(&RuntimeEvent::Market(Event::TimedOut { order: 0, refunded: false })));
    assert_eq!(order(&chain).state, OrderState::Completed);
    assert_eq!(chain.free(&bob()), bob_before + PRICE);
}

#[test]
fn unresolved_dispute_is_refunded_at_its_deadline() {
    let mut chain = disputed();
    chain.ok(alice(), Call::Vote { order: 0, for_buyer: false });
    let deadline = order(&chain).deadline;
    chain.advance_to(deadline);
    assert_eq!(order(&chain).state, OrderState::Refunded);
}
