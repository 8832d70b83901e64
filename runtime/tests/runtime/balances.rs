use itc_runtime::{
    modules::balances::{self, Call, Error, Event, ReserveId},
    Ext, RuntimeEvent,
};

use crate::common::*;

#[test]
fn transfer_moves_funds_and_charges_the_fee() {
    let mut chain = ExtBuilder::default().build();
    let (a, b) = (chain.free(&alice()), chain.free(&bob()));
    let events = chain.ok(alice(), Call::Transfer { dest: bob(), amount: 500 });
    assert_eq!(
        events,
        vec![RuntimeEvent::Balances(Event::Transfer { from: alice(), to: bob(), amount: 500 })]
    );
    assert_eq!(chain.free(&alice()), a - 500 - 1);
    assert_eq!(chain.free(&bob()), b + 500);
}

#[test]
fn transfer_creates_an_account_at_the_existential_deposit() {
    let mut chain = ExtBuilder::default().build();
    chain.ok(alice(), Call::Transfer { dest: nobody(1), amount: 10 });
    assert_eq!(chain.free(&nobody(1)), 10);
}

#[test]
fn transfer_all_empties_the_transferable_balance() {
    let mut chain = ExtBuilder::default().build();
    let e = chain.free(&eve());
    chain.ok(eve(), Call::TransferAll { dest: ferdie() });
    assert_eq!(chain.free(&eve()), 0);
    assert_eq!(chain.free(&ferdie()), 1_000_000 * UNIT + e - 1);
}

#[test]
fn transfer_errors() {
    let mut chain = ExtBuilder::default().balance(nobody(2), 100).build();
    chain.fails(
        nobody(2),
        Call::Transfer { dest: bob(), amount: 100 },
        Error::InsufficientBalance { available: 99, required: 100 },
    );
    chain.fails(
        alice(),
        Call::Transfer { dest: nobody(3), amount: 9 },
        Error::BelowExistentialDeposit { amount: 9, minimum: 10 },
    );
    // nobody(2) has 98 left after two fees; sending 90 would leave 8 < 10.
    chain.fails(
        nobody(2),
        Call::Transfer { dest: bob(), amount: 90 },
        Error::WouldLeaveDust { remaining: 8, minimum: 10 },
    );
    chain.fails(alice(), Call::Transfer { dest: bob(), amount: 0 }, Error::PointlessTransfer);
    chain.fails(alice(), Call::Transfer { dest: alice(), amount: 5 }, Error::PointlessTransfer);
}

#[test]
fn issuance_overflow_is_refused_at_genesis() {
    // Balances are bounded by the issuance, so only minting can overflow.
    let builder =
        ExtBuilder::default().balance(nobody(4), u128::MAX / 2).balance(nobody(5), u128::MAX / 2);
    let mut backend = itc_runtime::MemoryBackend::new();
    let err = itc_runtime::build_genesis(&mut backend, builder.config()).unwrap_err();
    assert_eq!(err, itc_runtime::Error::Genesis(format!("balances: {}", Error::Overflow)));
}

#[test]
fn locks_freeze_funds_and_reserves_move_escrow() {
    let chain = ExtBuilder::default().build();
    let mut ext = Ext::new(&chain.backend, chain.next_ctx()).unwrap();
    let free = balances::balance_of(&ext, &bob()).unwrap().free;
    balances::set_lock(&mut ext, &bob(), *b"testlock", free - 100).unwrap();
    assert_eq!(balances::balance_of(&ext, &bob()).unwrap().transferable(), 100);
    let err = balances::transfer(&mut ext, &bob(), &alice(), 101).unwrap_err();
    assert!(matches!(
        err,
        itc_runtime::CallError::Dispatch(itc_runtime::DispatchError::Module(
            itc_runtime::ModuleError::Balances(Error::InsufficientBalance {
                available: 100,
                required: 101
            })
        ))
    ));
    balances::remove_lock(&mut ext, &bob(), *b"testlock").unwrap();
    assert_eq!(balances::balance_of(&ext, &bob()).unwrap().frozen, 0);

    balances::reserve(&mut ext, &bob(), ReserveId::Order(7), 1_000).unwrap();
    assert_eq!(balances::reserved_of(&ext, &bob(), ReserveId::Order(7)).unwrap(), 1_000);
    let err = balances::pay_from_reserve(&mut ext, &bob(), ReserveId::Order(7), &alice(), 1_001);
    assert!(matches!(
        err,
        Err(itc_runtime::CallError::Dispatch(itc_runtime::DispatchError::Module(
            itc_runtime::ModuleError::Balances(Error::InsufficientReserve {
                reserved: 1_000,
                required: 1_001,
                ..
            })
        )))
    ));
    let alice_before = balances::balance_of(&ext, &alice()).unwrap().free;
    balances::pay_from_reserve(&mut ext, &bob(), ReserveId::Order(7), &alice(), 600).unwrap();
    assert_eq!(balances::balance_of(&ext, &alice()).unwrap().free, alice_before + 600);
    assert_eq!(balances::unreserve_all(&mut ext, &bob(), ReserveId::Order(7)).unwrap(), 400);
    let issuance = balances::total_issuance(&ext).unwrap();
    balances::reserve(&mut ext, &bob(), ReserveId::Job(1), 50).unwrap();
    assert_eq!(balances::slash_reserved(&mut ext, &bob(), ReserveId::Job(1), 80).unwrap(), 50);
    assert_eq!(balances::total_issuance(&ext).unwrap(), issuance - 50);
    itc_runtime::dispatch::try_state(&ext).unwrap();
}
