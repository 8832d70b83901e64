use itc_primitives::{milestone::commit_payload, Hash};
use itc_runtime::{
    modules::{
        balances::ReserveId,
        committee::{
            self, Call, Component, EquivocationProof, Error, Event, Reputation, SignedCommit,
        },
    },
    Ext, RuntimeEvent,
};

use crate::common::*;

fn stake() -> u128 {
    test_params().min_candidate_stake
}

#[test]
fn register_reserves_the_stake() {
    let mut chain = ExtBuilder::default().build();
    let events = chain.ok(eve(), Call::RegisterCandidate { stake: stake() });
    assert!(events.contains(&RuntimeEvent::Committee(Event::CandidateRegistered {
        who: eve(),
        stake: stake()
    })));
    assert_eq!(chain.reserved(&eve()), stake());
}

#[test]
fn register_errors() {
    let mut chain = ExtBuilder::default().balance(nobody(1), 50 * UNIT).build();
    chain.fails(alice(), Call::RegisterCandidate { stake: stake() }, Error::AlreadyCandidate);
    chain.fails(
        eve(),
        Call::RegisterCandidate { stake: stake() - 1 },
        Error::StakeTooLow { stake: stake() - 1, minimum: stake() },
    );
    chain.fails(
        nobody(1),
        Call::RegisterCandidate { stake: stake() },
        itc_runtime::modules::balances::Error::InsufficientBalance {
            available: 50 * UNIT - 1,
            required: stake(),
        },
    );
}

#[test]
fn unregister_returns_the_stake() {
    let mut chain = ExtBuilder::default().build();
    chain.ok(eve(), Call::RegisterCandidate { stake: stake() });
    let events = chain.ok(eve(), Call::Unregister);
    assert!(events
        .contains(&RuntimeEvent::Committee(Event::CandidateLeft { who: eve(), stake: stake() })));
    assert_eq!(chain.reserved(&eve()), 0);
}

#[test]
fn unregister_errors() {
    let mut chain = ExtBuilder::default().build();
    chain.fails(eve(), Call::Unregister, Error::NotCandidate);
    chain.fails(alice(), Call::Unregister, Error::InCommittee);
}

fn commit(
    signer: &itc_primitives::AccountId,
    number: u64,
    view: u64,
    header: Hash,
) -> SignedCommit {
    SignedCommit {
        header_hash: header,
        signature: pair_of(signer).sign(&commit_payload(number, view, &header)),
    }
}

#[test]
fn equivocation_is_slashed_and_reputation_reset() {
    let mut chain = ExtBuilder::default().build();
    {
        let mut ext = Ext::new(&chain.backend, chain.next_ctx()).unwrap();
        committee::adjust(&mut ext, &bob(), Component::ProxyReliability, 5).unwrap();
    }
    let call = Call::ReportEquivocation {
        proof: Box::new(EquivocationProof {
            offender: bob(),
            number: 3,
            view: 0,
            first: commit(&bob(), 3, 0, Hash([1; 32])),
            second: commit(&bob(), 3, 0, Hash([2; 32])),
        }),
    };
    let issuance = itc_runtime::modules::balances::total_issuance(&chain.view()).unwrap();
    let events = chain.ok(eve(), call.clone());
    let slashed = stake() / 10;
    assert!(events.contains(&RuntimeEvent::Committee(Event::Punished {
        offender: bob(),
        slashed,
        reporter: eve()
    })));
    // The stake fell below the minimum, so the candidacy ended and the rest came back.
    assert!(committee::CANDIDATES.get(&chain.view(), &bob()).unwrap().is_none());
    assert_eq!(chain.reserved(&bob()), 0);
    assert_eq!(
        committee::REPUTATION.get(&chain.view(), &bob()).unwrap(),
        Some(Reputation::default())
    );
    // Slashed stake is burned (and one fee: the proposer has no account).
    let after = itc_runtime::modules::balances::total_issuance(&chain.view()).unwrap();
    assert_eq!(after, issuance - slashed - 1);
    // The same evidence twice.
    chain.fails(eve(), call, Error::AlreadyPunished);
}

#[test]
fn equivocation_keeps_a_candidate_with_enough_stake() {
    let mut chain = ExtBuilder::default().build();
    chain.ok(eve(), Call::RegisterCandidate { stake: 3 * stake() });
    chain.ok(
        alice(),
        Call::ReportEquivocation {
            proof: Box::new(EquivocationProof {
                offender: eve(),
                number: 1,
                view: 2,
                first: commit(&eve(), 1, 2, Hash([1; 32])),
                second: commit(&eve(), 1, 2, Hash([2; 32])),
            }),
        },
    );
    let c = committee::CANDIDATES.get(&chain.view(), &eve()).unwrap().unwrap();
    assert_eq!(c.stake, 3 * stake() - 3 * stake() / 10);
    assert_eq!(
        itc_runtime::modules::balances::reserved_of(
            &chain.view(),
            &eve(),
            ReserveId::CandidateStake
        )
        .unwrap(),
        c.stake
    );
}

#[test]
fn equivocation_evidence_errors() {
    let mut chain = ExtBuilder::default().build();
    let same = Call::ReportEquivocation {
        proof: Box::new(EquivocationProof {
            offender: bob(),
            number: 3,
            view: 0,
            first: commit(&bob(), 3, 0, Hash([1; 32])),
            second: commit(&bob(), 3, 0, Hash([1; 32])),
        }),
    };
    chain.fails(eve(), same, Error::InvalidEvidence);
    let forged = Call::ReportEquivocation {
        proof: Box::new(EquivocationProof {
            offender: bob(),
            number: 3,
            view: 0,
            first: commit(&bob(), 3, 0, Hash([1; 32])),
            second: commit(&charlie(), 3, 0, Hash([2; 32])),
        }),
    };
    chain.fails(eve(), forged, Error::InvalidEvidence);
    let other_view = Call::ReportEquivocation {
        proof: Box::new(EquivocationProof {
            offender: bob(),
            number: 3,
            view: 0,
            first: commit(&bob(), 3, 0, Hash([1; 32])),
            second: commit(&bob(), 3, 1, Hash([2; 32])),
        }),
    };
    chain.fails(eve(), other_view, Error::InvalidEvidence);
    let not_candidate = Call::ReportEquivocation {
        proof: Box::new(EquivocationProof {
            offender: ferdie(),
            number: 3,
            view: 0,
            first: commit(&ferdie(), 3, 0, Hash([1; 32])),
            second: commit(&ferdie(), 3, 0, Hash([2; 32])),
        }),
    };
    chain.fails(eve(), not_candidate, Error::NotCandidate);
}

#[test]
fn epoch_end_elects_by_reputation_and_next_epoch_installs_it() {
    let mut chain = ExtBuilder::default().params(|p| p.committee_size = 2).build();
    chain.ok(eve(), Call::RegisterCandidate { stake: stake() });
    chain.proposer = eve();
    chain.advance_to(6);
    chain.proposer = charlie();
    chain.advance_to(8);
    // Milestone 9 ends epoch 0 (epoch_length 10): Eve (5 milestones proposed) and Charlie (3,
    // with milestone 9) outrank Bob and Dave (0), and Alice (0).
    let out = chain.apply(vec![]);
    let next = out.next_committee.expect("milestone 9 ends the epoch");
    assert_eq!(next.epoch, 1);
    assert_eq!(next.members.to_vec(), vec![eve(), charlie()]);
    assert_eq!(committee::current(&chain.view()).unwrap().unwrap().epoch, 0);
    let out = chain.apply(vec![]);
    assert_eq!(out.epoch, 1);
    assert!(out.next_committee.is_none());
    let current = committee::current(&chain.view()).unwrap().unwrap();
    assert_eq!(current, next);
    assert!(committee::next_committee(&chain.view()).unwrap().is_none());
    // Alice left the committee and may now unregister.
    chain.ok(alice(), Call::Unregister);
}
