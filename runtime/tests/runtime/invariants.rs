//! Random call sequences over every module never break an invariant (checked by `try_state`
//! after every milestone), and replaying the same sequence gives the same state root.
//! `PROPTEST_CASES` raises the number of sequences (default 16, to keep the suite fast).
use itc_primitives::{AccountId, BoundedVec, Hash};
use itc_runtime::{
    modules::{access, balances, chaincode, committee, datasets, market},
    RuntimeCall, StateBackend,
};
use proptest::prelude::*;

use crate::common::*;

#[derive(Clone, Debug)]
enum Op {
    Transfer(usize, usize, u128),
    TransferAll(usize, usize),
    Register(usize),
    Append(usize, u64, u64, u64),
    Retire(usize, u64),
    Forget(usize, u64),
    RegisterProxy(usize, u128),
    DeregisterProxy(usize),
    Grant(usize, u64, usize, u8),
    Revoke(usize, u64),
    List(usize, u64, u128),
    Delist(usize, u64),
    Order(usize, u64),
    Attest(usize, u64),
    Confirm(usize, u64),
    Dispute(usize, u64),
    Vote(usize, u64, bool),
    Deploy(usize, u8),
    SubmitJob(usize, u64, u8, u8, u32),
    SubmitResult(usize, u64, u8, u64),
    RegisterCandidate(usize, u128),
    Unregister(usize),
    Advance(u64),
    BadNonce(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0usize..6;
    let id = 0u64..4;
    prop_oneof![
        (who.clone(), who.clone(), 0u128..2_000_000 * UNIT)
            .prop_map(|(a, b, x)| Op::Transfer(a, b, x)),
        (who.clone(), who.clone()).prop_map(|(a, b)| Op::TransferAll(a, b)),
        who.clone().prop_map(Op::Register),
        (who.clone(), id.clone(), 0u64..3, 0u64..200)
            .prop_map(|(a, d, i, r)| Op::Append(a, d, i, r)),
        (who.clone(), id.clone()).prop_map(|(a, d)| Op::Retire(a, d)),
        (who.clone(), id.clone()).prop_map(|(a, d)| Op::Forget(a, d)),
        (who.clone(), 5 * UNIT..20 * UNIT).prop_map(|(a, s)| Op::RegisterProxy(a, s)),
        who.clone().prop_map(Op::DeregisterProxy),
        (who.clone(), id.clone(), who.clone(), 0u8..3)
            .prop_map(|(a, d, p, m)| Op::Grant(a, d, p, m)),
        (who.clone(), id.clone()).prop_map(|(a, g)| Op::Revoke(a, g)),
        (who.clone(), id.clone(), 0u128..10_000).prop_map(|(a, d, p)| Op::List(a, d, p)),
        (who.clone(), id.clone()).prop_map(|(a, l)| Op::Delist(a, l)),
        (who.clone(), id.clone()).prop_map(|(a, l)| Op::Order(a, l)),
        (who.clone(), id.clone()).prop_map(|(a, o)| Op::Attest(a, o)),
        (who.clone(), id.clone()).prop_map(|(a, o)| Op::Confirm(a, o)),
        (who.clone(), id.clone()).prop_map(|(a, o)| Op::Dispute(a, o)),
        (who.clone(), id.clone(), any::<bool>()).prop_map(|(a, o, b)| Op::Vote(a, o, b)),
        (who.clone(), 0u8..2).prop_map(|(a, c)| Op::Deploy(a, c)),
        (who.clone(), id.clone(), 0u8..5, 0u8..5, 0u32..600)
            .prop_map(|(a, d, n, q, e)| Op::SubmitJob(a, d, n, q, e)),
        (who.clone(), id.clone(), 0u8..2, 0u64..200)
            .prop_map(|(a, j, o, r)| Op::SubmitResult(a, j, o, r)),
        (who.clone(), 50 * UNIT..300 * UNIT).prop_map(|(a, s)| Op::RegisterCandidate(a, s)),
        who.clone().prop_map(Op::Unregister),
        (1u64..7).prop_map(Op::Advance),
        who.prop_map(Op::BadNonce),
    ]
}

fn account(i: usize) -> AccountId {
    [alice(), bob(), charlie(), dave(), eve(), ferdie()][i]
}

fn code(c: u8) -> Vec<u8> {
    vec![c + 1; 16]
}

fn call(chain: &Chain, op: &Op) -> Option<(AccountId, RuntimeCall)> {
    let c: RuntimeCall = match op.clone() {
        Op::Transfer(_, b, x) => balances::Call::Transfer { dest: account(b), amount: x }.into(),
        Op::TransferAll(_, b) => balances::Call::TransferAll { dest: account(b) }.into(),
        Op::Register(_) => datasets::Call::Register { schema: schema(), policy: policy() }.into(),
        Op::Append(_, d, i, r) => {
            // Mostly the right index; sometimes one too far (an error the sequence must survive).
            let next =
                datasets::dataset(&chain.view(), d).ok().flatten().map_or(0, |x| x.intervals);
            append_call(d, next + u64::from(i == 2), r).into()
        }
        Op::Retire(_, d) => datasets::Call::Retire { dataset: d }.into(),
        Op::Forget(_, d) => datasets::Call::Forget { dataset: d }.into(),
        Op::RegisterProxy(_, s) => access::Call::RegisterProxy { stake: s }.into(),
        Op::DeregisterProxy(_) => access::Call::DeregisterProxy.into(),
        Op::Grant(_, d, p, m) => access::Call::Grant {
            dataset: d,
            grantees: BoundedVec::new(vec![account(p)]).unwrap(),
            first_interval: 0,
            last_interval: 2,
            expires: chain.number() + 5,
            threshold: m,
            proxies: BoundedVec::new(vec![access::GrantProxy {
                proxy: account(p),
                kfrag_commitment: Hash([1; 32]),
            }])
            .unwrap(),
        }
        .into(),
        Op::Revoke(_, g) => access::Call::Revoke { grant: g }.into(),
        Op::List(_, d, p) => market::Call::List {
            dataset: d,
            title: bounded(b"t"),
            tags: BoundedVec::default(),
            description: BoundedVec::default(),
            price: p,
        }
        .into(),
        Op::Delist(_, l) => market::Call::Delist { listing: l }.into(),
        Op::Order(_, l) => market::Call::Order { listing: l }.into(),
        Op::Attest(_, o) => market::Call::AttestDelivery {
            order: o,
            cfrag_hashes: BoundedVec::new(vec![Hash([2; 32])]).unwrap(),
        }
        .into(),
        Op::Confirm(_, o) => market::Call::Confirm { order: o }.into(),
        Op::Dispute(_, o) => market::Call::Dispute { order: o, evidence: bounded(b"e") }.into(),
        Op::Vote(_, o, b) => market::Call::Vote { order: o, for_buyer: b }.into(),
        Op::Deploy(_, c) => chaincode::Call::Deploy { code: code(c) }.into(),
        Op::SubmitJob(_, d, n, q, e) => chaincode::Call::SubmitJob {
            code: itc_primitives::blake2_256(&code(0)),
            datasets: BoundedVec::new(vec![d]).unwrap(),
            params: BoundedVec::default(),
            payment: 1_000 + u128::from(e),
            executors: n,
            quorum: q,
            epsilon_milli: e,
        }
        .into(),
        Op::SubmitResult(_, j, o, r) => {
            let d =
                chaincode::job(&chain.view(), j).ok().flatten().map_or(0, |job| job.datasets[0]);
            chaincode::Call::SubmitResult {
                job: j,
                result: chaincode::JobResult {
                    output_hash: Hash([o; 32]),
                    records: BoundedVec::new(vec![(d, r)]).unwrap(),
                    epsilon_spent_milli: 0,
                },
            }
            .into()
        }
        Op::RegisterCandidate(_, s) => committee::Call::RegisterCandidate { stake: s }.into(),
        Op::Unregister(_) => committee::Call::Unregister.into(),
        Op::Advance(_) | Op::BadNonce(_) => return None,
    };
    let who = match op {
        Op::Transfer(a, ..)
        | Op::TransferAll(a, _)
        | Op::Register(a)
        | Op::Append(a, ..)
        | Op::Retire(a, _)
        | Op::Forget(a, _)
        | Op::RegisterProxy(a, _)
        | Op::DeregisterProxy(a)
        | Op::Grant(a, ..)
        | Op::Revoke(a, _)
        | Op::List(a, ..)
        | Op::Delist(a, _)
        | Op::Order(a, _)
        | Op::Attest(a, _)
        | Op::Confirm(a, _)
        | Op::Dispute(a, _)
        | Op::Vote(a, ..)
        | Op::Deploy(a, _)
        | Op::SubmitJob(a, ..)
        | Op::SubmitResult(a, ..)
        | Op::RegisterCandidate(a, _)
        | Op::Unregister(a) => *a,
        Op::Advance(_) | Op::BadNonce(_) => return None,
    };
    Some((account(who), c))
}

/// Applies the ops, one milestone each; `Chain::apply` checks every invariant after each.
fn run(ops: &[Op]) -> (Hash, usize) {
    let mut chain = ExtBuilder::default()
        .params(|p| {
            p.min_candidate_stake = 100 * UNIT;
            p.epoch_length = 7;
        })
        .build();
    let mut successes = 0;
    for op in ops {
        match op {
            Op::Advance(k) => {
                chain.advance_to(chain.number() + k);
            }
            Op::BadNonce(a) => {
                let who = account(*a);
                let bad = chain.nonce(&who) + 1;
                let out = chain.apply(vec![tx(
                    who,
                    bad,
                    balances::Call::Transfer { dest: alice(), amount: 1 },
                )]);
                assert!(matches!(out.receipts[0].outcome, itc_runtime::Outcome::Invalid(_)));
            }
            _ => {
                if let Some((who, c)) = call(&chain, op) {
                    let outcome = chain.call(who, c).outcome;
                    if outcome == itc_runtime::Outcome::Success {
                        successes += 1;
                    } else if std::env::var("ITC_TRACE").is_ok() {
                        eprintln!("{op:?}: {outcome:?}");
                    }
                }
            }
        }
    }
    (chain.backend.root(chain.number()).unwrap(), successes)
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(16)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn random_call_sequences_keep_every_invariant(ops in proptest::collection::vec(op(), 1..40)) {
        let (root, _) = run(&ops);
        let (again, _) = run(&ops);
        prop_assert_eq!(root, again, "replay gives the same root");
    }
}

#[test]
fn a_scripted_sequence_exercises_every_module_under_the_invariants() {
    use Op::*;
    let ops = vec![
        Register(1),
        Append(1, 0, 0, 100),
        Append(1, 0, 1, 50),
        RegisterProxy(4, 10 * UNIT),
        Grant(1, 0, 4, 1),
        List(1, 0, 5_000),
        Order(5, 0),
        Attest(4, 0),
        Dispute(5, 0),
        Vote(0, 0, true),
        Vote(2, 0, true),
        Vote(3, 0, true),
        Order(5, 0),
        Attest(4, 1),
        Deploy(2, 0),
        SubmitJob(5, 0, 3, 2, 100),
        SubmitResult(0, 0, 1, 80),
        SubmitResult(2, 0, 1, 80),
        RegisterCandidate(4, 100 * UNIT),
        Advance(6),
        Forget(1, 0),
        Revoke(1, 0),
        Unregister(4),
        Transfer(5, 3, 77),
        BadNonce(2),
    ];
    let (root, successes) = run(&ops);
    assert_eq!(run(&ops).0, root);
    // Every call succeeds except Eve's Unregister: order 1, which she witnessed, was released at
    // its deadline (proxy reliability +1), so the next election seated her instead of Bob (score
    // 0) and she must serve her term. Advance and BadNonce are not calls.
    assert_eq!(successes, ops.len() - 3);
}
