use itc_primitives::{hash::hash_of, merkle::merkle_root, Hash, Mortality, Transaction, Vertex};
use itc_runtime::{
    apply_milestone,
    modules::{balances, system},
    DispatchError, Error, InvalidTx, MilestoneContext, Outcome, RuntimeCall, StateBackend,
};
use parity_scale_codec::Encode;

use crate::common::*;

fn transfer(dest: itc_primitives::AccountId, amount: u128) -> balances::Call {
    balances::Call::Transfer { dest, amount }
}

/// Keys whose values differ between two states.
fn diff(a: &Chain, b: &Chain) -> Vec<Vec<u8>> {
    let (da, db) = (a.dump(), b.dump());
    let mut keys: Vec<Vec<u8>> = da.keys().chain(db.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    keys.into_iter().filter(|k| da.get(k) != db.get(k)).collect()
}

#[test]
fn bad_nonce_changes_nothing_at_all() {
    let mut with = ExtBuilder::default().build();
    let mut without = ExtBuilder::default().build();
    let out = with.apply(vec![tx(bob(), 5, transfer(alice(), 100))]);
    let empty = without.apply(vec![]);
    assert_eq!(
        out.receipts[0].outcome,
        Outcome::Invalid(InvalidTx::BadNonce { expected: 0, got: 5 })
    );
    assert_eq!(out.receipts[0].fee, 0);
    assert_eq!(out.state_root, empty.state_root);
}

#[test]
fn expired_and_unpayable_transactions_change_nothing() {
    let mut with = ExtBuilder::default().balance(nobody(1), 10).build();
    let mut without = ExtBuilder::default().balance(nobody(1), 10).build();
    with.advance_to(3);
    without.advance_to(3);
    let mut expired = tx(bob(), 0, transfer(alice(), 100));
    expired.mortality = Mortality::Mortal { until: 3 };
    let mut poor = tx(nobody(1), 0, transfer(alice(), 100));
    poor.tip = 10;
    let out = with.apply(vec![expired, poor]);
    let empty = without.apply(vec![]);
    assert_eq!(out.receipts[0].outcome, Outcome::Invalid(InvalidTx::Expired { until: 3, now: 4 }));
    assert_eq!(
        out.receipts[1].outcome,
        Outcome::Invalid(InvalidTx::CannotPayFee { fee: 11, free: 10 })
    );
    assert_eq!(out.state_root, empty.state_root);
}

#[test]
fn mortal_transaction_runs_until_its_last_milestone() {
    let mut chain = ExtBuilder::default().build();
    let mut t = tx(bob(), 0, transfer(alice(), 100));
    t.mortality = Mortality::Mortal { until: 1 };
    assert_eq!(chain.apply(vec![t]).receipts[0].outcome, Outcome::Success);
}

#[test]
fn failed_transaction_changes_only_fee_and_nonce() {
    let mut with = ExtBuilder::default().build();
    let mut without = ExtBuilder::default().build();
    let bob_before = with.free(&bob());
    let out = with.apply(vec![tx(bob(), 0, transfer(alice(), u128::MAX))]);
    without.apply(vec![]);
    assert!(matches!(out.receipts[0].outcome, Outcome::Failed(DispatchError::Module(_))));
    assert_eq!(out.receipts[0].fee, 1);
    assert!(out.receipts[0].events.is_empty());
    assert_eq!(with.nonce(&bob()), 1);
    assert_eq!(with.free(&bob()), bob_before - 1);
    // Only Bob's account and the issuance (the fee was burned: the proposer has no account).
    let changed = diff(&with, &without);
    assert_eq!(changed, vec![system::ACCOUNT.key(&bob()), balances::TOTAL_ISSUANCE.key()]);
}

#[test]
fn undecodable_call_pays_its_fee_and_fails() {
    let mut chain = ExtBuilder::default().build();
    let mut t = tx(bob(), 0, transfer(alice(), 1));
    t.call = vec![0x63, 0x00];
    let out = chain.apply(vec![t]);
    assert_eq!(out.receipts[0].outcome, Outcome::Failed(DispatchError::UndecodableCall));
    assert_eq!(out.receipts[0].fee, 1);
    assert_eq!(chain.nonce(&bob()), 1);
}

#[test]
fn fee_is_base_plus_weight_plus_bytes_plus_tip_and_goes_to_the_proposer() {
    let mut chain = ExtBuilder::default()
        .params(|p| {
            p.base_fee = 7;
            p.fee_per_weight = 2;
            p.fee_per_byte = 3;
        })
        .build();
    chain.proposer = ferdie();
    let call = RuntimeCall::from(transfer(alice(), 100));
    let expected = 7 + call.weight() as u128 * 2 + call.encode().len() as u128 * 3 + 5;
    let ferdie_before = chain.free(&ferdie());
    let mut t = tx(bob(), 0, call);
    t.tip = 5;
    let out = chain.apply(vec![t]);
    assert_eq!(out.receipts[0].fee, expected);
    assert_eq!(chain.free(&ferdie()), ferdie_before + expected);
    assert!(out.hook_events.contains(&itc_runtime::RuntimeEvent::System(
        system::Event::FeesPaid { proposer: ferdie(), amount: expected }
    )));
}

#[test]
fn receipts_root_commits_to_receipts_and_hook_events() {
    let mut chain = ExtBuilder::default().build();
    let out =
        chain.apply(vec![tx(bob(), 0, transfer(alice(), 100)), tx(bob(), 1, transfer(alice(), 1))]);
    let mut leaves: Vec<Hash> = out.receipts.iter().map(|r| r.hash()).collect();
    leaves.push(hash_of(&out.hook_events));
    assert_eq!(out.receipts_root, merkle_root(&leaves));
    assert_eq!(out.receipts[1].outcome, Outcome::Success);
}

#[test]
fn nonces_order_transactions_within_a_milestone() {
    let mut chain = ExtBuilder::default().build();
    let out = chain.apply(vec![
        tx(bob(), 1, transfer(alice(), 100)),
        tx(bob(), 0, transfer(alice(), 100)),
        tx(bob(), 1, transfer(alice(), 100)),
    ]);
    let outcomes: Vec<_> = out.receipts.iter().map(|r| r.outcome.clone()).collect();
    assert_eq!(
        outcomes,
        vec![
            Outcome::Invalid(InvalidTx::BadNonce { expected: 0, got: 1 }),
            Outcome::Success,
            Outcome::Success
        ]
    );
    assert_eq!(chain.nonce(&bob()), 2);
}

#[test]
fn same_vertices_give_the_same_roots_in_independent_runs() {
    let genesis = Hash([7; 32]);
    let signed = |who: &itc_primitives::AccountId, nonce, call: RuntimeCall| {
        let t = Transaction::signed(
            pair_of(who),
            genesis,
            nonce,
            Mortality::Immortal,
            0,
            call.encode(),
        );
        vertex(t)
    };
    let vertices: Vec<Vertex> = vec![
        signed(&bob(), 0, transfer(charlie(), 1_000).into()),
        signed(&charlie(), 0, transfer(dave(), 2_000).into()),
        signed(&dave(), 0, system::Call::SetSecurityLevel { level: 1 }.into()),
        signed(&eve(), 3, transfer(bob(), 1).into()),
        signed(&bob(), 1, transfer(nobody(9), 50).into()),
    ];
    let run = || {
        let mut chain = ExtBuilder::default().build();
        let ctx = MilestoneContext { genesis_hash: genesis, ..chain.next_ctx() };
        let out = apply_milestone(&mut chain.backend, ctx, &vertices).unwrap();
        (out.state_root, out.receipts_root, out.receipts)
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b);
    assert_eq!(a.2[3].outcome, Outcome::Invalid(InvalidTx::BadNonce { expected: 0, got: 3 }));
}

#[test]
fn state_proofs_verify_against_the_milestone_root() {
    let mut chain = ExtBuilder::default().build();
    let out = chain.apply(vec![tx(bob(), 0, transfer(nobody(3), 500))]);
    let key = system::ACCOUNT.key(&nobody(3));
    let proof = chain.backend.prove(&key, chain.number()).unwrap();
    proof.verify(&out.state_root).unwrap();
    let info: system::AccountInfo =
        itc_primitives::decode_untrusted(proof.value.as_ref().unwrap()).unwrap();
    assert_eq!(info.data.free, 500);
    let absent = chain.backend.prove(&system::ACCOUNT.key(&nobody(4)), chain.number()).unwrap();
    assert_eq!(absent.value, None);
    absent.verify(&out.state_root).unwrap();
    let before = chain.backend.prove(&key, chain.number() - 1).unwrap();
    assert_eq!(before.value, None);
    assert!(before.verify(&out.state_root).is_err());
}

#[test]
fn milestones_must_be_applied_in_order() {
    let mut chain = ExtBuilder::default().build();
    let ctx = MilestoneContext { number: 2, ..chain.next_ctx() };
    assert_eq!(
        apply_milestone(&mut chain.backend, ctx, &[]).unwrap_err(),
        Error::VersionGap { current: Some(0), requested: 2 }
    );
}

#[test]
fn an_account_at_the_last_nonce_cannot_transact() {
    let chain = ExtBuilder::default().build();
    let mut ext = itc_runtime::Ext::new(&chain.backend, chain.next_ctx()).unwrap();
    let mut info = system::account(&ext, &bob()).unwrap();
    info.nonce = u64::MAX;
    system::set_account(&mut ext, &bob(), &info);
    let receipt = itc_runtime::dispatch::apply_transaction(
        &mut ext,
        &tx(bob(), u64::MAX, transfer(alice(), 1)),
    )
    .unwrap();
    assert_eq!(receipt.outcome, Outcome::Invalid(InvalidTx::NonceExhausted));
    assert_eq!(system::account(&ext, &bob()).unwrap(), info);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

    /// Arbitrary call bytes never panic the runtime: they decode as some call (which then
    /// succeeds or fails) or are recorded as undecodable; the fee is always paid.
    #[test]
    fn arbitrary_call_bytes_never_panic(call in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
        let mut chain = ExtBuilder::default().build();
        let mut t = tx(bob(), 0, transfer(alice(), 1));
        t.call = call;
        let out = chain.apply(vec![t]);
        proptest::prop_assert!(!matches!(out.receipts[0].outcome, Outcome::Invalid(_)));
        proptest::prop_assert_eq!(chain.nonce(&bob()), 1);
    }
}
