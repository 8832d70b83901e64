use itc_primitives::{BoundedVec, Hash};
use itc_runtime::{
    modules::{
        access::{self, Call, Error, Event, GrantProxy},
        datasets,
    },
    RuntimeEvent,
};

use crate::common::*;

fn stake() -> u128 {
    test_params().min_proxy_stake
}

fn proxies(who: &[itc_primitives::AccountId]) -> BoundedVec<GrantProxy, 16> {
    BoundedVec::new(
        who.iter()
            .enumerate()
            .map(|(i, p)| GrantProxy { proxy: *p, kfrag_commitment: Hash([i as u8 + 1; 32]) })
            .collect(),
    )
    .unwrap()
}

fn grant_call(dataset: u64, expires: u64, threshold: u8, ps: &[itc_primitives::AccountId]) -> Call {
    Call::Grant {
        dataset,
        grantees: BoundedVec::new(vec![dave()]).unwrap(),
        first_interval: 0,
        last_interval: 1,
        expires,
        threshold,
        proxies: proxies(ps),
    }
}

/// Bob owns dataset 0 with 3 intervals; Eve and Ferdie are proxies.
fn setup() -> (Chain, u64) {
    let mut chain = ExtBuilder::default().build();
    let id = chain.dataset(bob(), 3, 10);
    chain.ok(eve(), Call::RegisterProxy { stake: stake() });
    chain.ok(ferdie(), Call::RegisterProxy { stake: stake() });
    (chain, id)
}

#[test]
fn register_and_deregister_proxy() {
    let mut chain = ExtBuilder::default().build();
    let events = chain.ok(eve(), Call::RegisterProxy { stake: stake() });
    assert!(events
        .contains(&RuntimeEvent::Access(Event::ProxyRegistered { who: eve(), stake: stake() })));
    assert_eq!(chain.reserved(&eve()), stake());
    assert!(access::is_proxy(&chain.view(), &eve()).unwrap());
    let events = chain.ok(eve(), Call::DeregisterProxy);
    assert!(events
        .contains(&RuntimeEvent::Access(Event::ProxyDeregistered { who: eve(), stake: stake() })));
    assert_eq!(chain.reserved(&eve()), 0);
}

#[test]
fn proxy_registry_errors() {
    let mut chain = ExtBuilder::default().balance(nobody(1), 5 * UNIT).build();
    chain.fails(eve(), Call::DeregisterProxy, Error::NotProxy);
    chain.fails(
        eve(),
        Call::RegisterProxy { stake: stake() - 1 },
        Error::StakeTooLow { stake: stake() - 1, minimum: stake() },
    );
    chain.fails(
        nobody(1),
        Call::RegisterProxy { stake: stake() },
        itc_runtime::modules::balances::Error::InsufficientBalance {
            available: 5 * UNIT - 1,
            required: stake(),
        },
    );
    chain.ok(eve(), Call::RegisterProxy { stake: stake() });
    chain.fails(eve(), Call::RegisterProxy { stake: stake() }, Error::AlreadyProxy);
}

#[test]
fn grant_is_live_for_its_range_until_expiry_and_revocation() {
    let (mut chain, id) = setup();
    let expires = chain.number() + 3;
    let events = chain.ok(bob(), grant_call(id, expires, 2, &[eve(), ferdie()]));
    assert_eq!(
        events,
        vec![RuntimeEvent::Access(Event::Granted { grant: 0, dataset: id, expires })]
    );
    let now = chain.number();
    let v = chain.view();
    assert!(access::is_grant_live(&v, 0, 1, now).unwrap());
    assert!(!access::is_grant_live(&v, 0, 2, now).unwrap(), "interval 2 is outside 0..=1");
    assert!(access::is_grant_live(&v, 0, 0, expires).unwrap());
    assert!(!access::is_grant_live(&v, 0, 0, expires + 1).unwrap(), "expired");
    assert!(!access::is_grant_live(&v, 7, 0, now).unwrap(), "no such grant");
    assert_eq!(
        access::may_reencrypt(&v, 0, &ferdie(), &dave(), 1, now).unwrap(),
        Some(Hash([2; 32]))
    );
    assert_eq!(
        access::may_reencrypt(&v, 0, &charlie(), &dave(), 1, now).unwrap(),
        None,
        "not its proxy"
    );
    assert_eq!(
        access::may_reencrypt(&v, 0, &eve(), &charlie(), 1, now).unwrap(),
        None,
        "not a grantee"
    );
    drop(v);
    let events = chain.ok(bob(), Call::Revoke { grant: 0 });
    assert_eq!(events, vec![RuntimeEvent::Access(Event::Revoked { grant: 0 })]);
    let now = chain.number();
    assert!(!access::is_grant_live(&chain.view(), 0, 1, now).unwrap());
    assert_eq!(access::may_reencrypt(&chain.view(), 0, &eve(), &dave(), 1, now).unwrap(), None);
}

#[test]
fn forgetting_the_dataset_kills_its_grants_and_deregistered_proxies_stop() {
    let (mut chain, id) = setup();
    chain.ok(bob(), grant_call(id, 100, 1, &[eve(), ferdie()]));
    chain.ok(eve(), Call::DeregisterProxy);
    let now = chain.number();
    assert_eq!(access::may_reencrypt(&chain.view(), 0, &eve(), &dave(), 0, now).unwrap(), None);
    assert!(access::may_reencrypt(&chain.view(), 0, &ferdie(), &dave(), 0, now).unwrap().is_some());
    chain.ok(bob(), datasets::Call::Forget { dataset: id });
    assert!(!access::is_grant_live(&chain.view(), 0, 0, now).unwrap());
}

#[test]
fn grant_errors() {
    let (mut chain, id) = setup();
    chain.fails(bob(), grant_call(9, 100, 1, &[eve()]), datasets::Error::UnknownDataset(9));
    chain.fails(charlie(), grant_call(id, 100, 1, &[eve()]), datasets::Error::NotOwner);
    let mut no_grantee = grant_call(id, 100, 1, &[eve()]);
    if let Call::Grant { grantees, .. } = &mut no_grantee {
        *grantees = BoundedVec::default();
    }
    chain.fails(bob(), no_grantee, Error::NoGrantees);
    let mut range = grant_call(id, 100, 1, &[eve()]);
    if let Call::Grant { first_interval, .. } = &mut range {
        *first_interval = 2;
    }
    chain.fails(bob(), range, Error::BadIntervalRange { first: 2, last: 1 });
    let next = chain.number() + 1;
    chain.fails(
        bob(),
        grant_call(id, 1, 1, &[eve()]),
        Error::AlreadyExpired { expires: 1, now: next },
    );
    chain.fails(
        bob(),
        grant_call(id, 100, 0, &[eve()]),
        Error::BadThreshold { threshold: 0, proxies: 1 },
    );
    chain.fails(
        bob(),
        grant_call(id, 100, 3, &[eve(), ferdie()]),
        Error::BadThreshold { threshold: 3, proxies: 2 },
    );
    chain.fails(bob(), grant_call(id, 100, 1, &[eve(), charlie()]), Error::BadProxy(charlie()));
    chain.fails(bob(), grant_call(id, 100, 1, &[eve(), eve()]), Error::BadProxy(eve()));
    chain.ok(bob(), datasets::Call::Retire { dataset: id });
    chain.fails(bob(), grant_call(id, 100, 1, &[eve()]), datasets::Error::NotActive(id));
}

#[test]
fn revoke_errors() {
    let (mut chain, id) = setup();
    chain.ok(bob(), grant_call(id, 100, 1, &[eve()]));
    chain.fails(bob(), Call::Revoke { grant: 5 }, Error::UnknownGrant(5));
    chain.fails(charlie(), Call::Revoke { grant: 0 }, Error::NotGrantOwner);
    chain.ok(bob(), Call::Revoke { grant: 0 });
    chain.fails(bob(), Call::Revoke { grant: 0 }, Error::AlreadyRevoked(0));
}
