use itc_primitives::{blake2_256, dataset::AnalyticsPolicy, BoundedVec, Hash};
use itc_runtime::{
    modules::{
        balances::{self, ReserveId},
        chaincode::{self, Call, Error, Event, JobResult, JobState},
        committee, datasets,
    },
    RuntimeEvent,
};

use crate::common::*;

const CODE: &[u8] = b"\0asm\x01\0\0\0 pretend chaincode";
const PAYMENT: u128 = 10_001;

fn code_hash() -> Hash {
    blake2_256(CODE)
}

fn submit(datasets: Vec<u64>, executors: u8, quorum: u8, epsilon_milli: u32) -> Call {
    Call::SubmitJob {
        code: code_hash(),
        datasets: BoundedVec::new(datasets).unwrap(),
        params: bounded(b"{\"group_by\":\"device\"}"),
        payment: PAYMENT,
        executors,
        quorum,
        epsilon_milli,
    }
}

fn result(output: u8, records: &[(u64, u64)], eps: u32) -> JobResult {
    JobResult {
        output_hash: Hash([output; 32]),
        records: BoundedVec::new(records.to_vec()).unwrap(),
        epsilon_spent_milli: eps,
    }
}

fn submit_result(job: u64, r: JobResult) -> Call {
    Call::SubmitResult { job, result: r }
}

/// Eve owns dataset 0 (2 intervals of 50 records), Ferdie dataset 1 (3 of 100); the code is
/// deployed; Dave (no executor of job 0) is the company. Job 0's executors are Alice, Bob and
/// Charlie (committee order, rotated by job id 0).
fn setup() -> Chain {
    let mut chain = ExtBuilder::default().params(|p| p.job_timeout = 50).build();
    chain.dataset(eve(), 2, 50);
    chain.dataset(ferdie(), 3, 100);
    chain.ok(dave(), Call::Deploy { code: CODE.to_vec() });
    chain
}

fn job(chain: &Chain, id: u64) -> chaincode::Job {
    chaincode::job(&chain.view(), id).unwrap().unwrap()
}

#[test]
fn deploy_stores_code_by_hash() {
    let mut chain = ExtBuilder::default().build();
    let events = chain.ok(dave(), Call::Deploy { code: CODE.to_vec() });
    assert_eq!(
        events,
        vec![RuntimeEvent::Chaincode(Event::Deployed {
            code: code_hash(),
            owner: dave(),
            size: CODE.len() as u32
        })]
    );
    assert_eq!(chaincode::code(&chain.view(), &code_hash()).unwrap(), Some(CODE.to_vec()));
}

#[test]
fn deploy_errors() {
    let mut chain = ExtBuilder::default().build();
    chain.fails(
        dave(),
        Call::Deploy { code: vec![1; 1025] },
        Error::CodeTooLarge { size: 1025, max: 1024 },
    );
    chain.fails(dave(), Call::Deploy { code: vec![] }, Error::EmptyCode);
    chain.ok(dave(), Call::Deploy { code: CODE.to_vec() });
    chain.fails(alice(), Call::Deploy { code: CODE.to_vec() }, Error::AlreadyDeployed(code_hash()));
}

#[test]
fn submit_job_escrows_payment_charges_budget_and_assigns_executors() {
    let mut chain = setup();
    let events = chain.ok(dave(), submit(vec![0, 1], 3, 2, 200));
    assert!(events.contains(&RuntimeEvent::Chaincode(Event::JobSubmitted {
        job: 0,
        executors: vec![alice(), bob(), charlie()]
    })));
    assert_eq!(balances::reserved_of(&chain.view(), &dave(), ReserveId::Job(0)).unwrap(), PAYMENT);
    assert_eq!(chaincode::budget_spent(&chain.view(), &dave(), 0).unwrap(), 200);
    assert_eq!(chaincode::budget_spent(&chain.view(), &dave(), 1).unwrap(), 200);
    // The next job's executors rotate by one.
    chain.ok(dave(), submit(vec![0], 2, 2, 0));
    assert_eq!(job(&chain, 1).executors.to_vec(), vec![bob(), charlie()]);
}

#[test]
fn submit_job_errors() {
    let mut chain = setup();
    let mut unknown = submit(vec![0], 3, 2, 10);
    if let Call::SubmitJob { code, .. } = &mut unknown {
        *code = Hash([0xAB; 32]);
    }
    chain.fails(dave(), unknown, Error::UnknownCode(Hash([0xAB; 32])));
    chain.fails(dave(), submit(vec![], 3, 2, 10), Error::NoDatasets);
    chain.fails(dave(), submit(vec![0, 0], 3, 2, 10), Error::DuplicateDataset(0));
    chain.fails(dave(), submit(vec![7], 3, 2, 10), datasets::Error::UnknownDataset(7));
    chain.fails(
        dave(),
        submit(vec![0], 3, 2, 1_001),
        Error::BudgetExhausted { dataset: 0, remaining: 1_000 },
    );
    chain.fails(
        dave(),
        submit(vec![0], 0, 0, 10),
        Error::BadExecutorCount { requested: 0, available: 4 },
    );
    chain.fails(
        dave(),
        submit(vec![0], 5, 3, 10),
        Error::BadExecutorCount { requested: 5, available: 4 },
    );
    chain.fails(dave(), submit(vec![0], 4, 2, 10), Error::BadQuorum { quorum: 2, executors: 4 });
    chain.fails(dave(), submit(vec![0], 3, 4, 10), Error::BadQuorum { quorum: 4, executors: 3 });
    let mut free = submit(vec![0], 3, 2, 10);
    if let Call::SubmitJob { payment, .. } = &mut free {
        *payment = 0;
    }
    chain.fails(dave(), free, Error::ZeroPayment);
    let other = AnalyticsPolicy {
        allowed_chaincode: BoundedVec::new(vec![Hash([1; 32])]).unwrap(),
        ..policy()
    };
    chain.ok(eve(), datasets::Call::SetPolicy { dataset: 0, policy: other });
    chain.fails(dave(), submit(vec![1, 0], 3, 2, 10), Error::CodeNotAllowed(0));
    chain.ok(ferdie(), datasets::Call::Retire { dataset: 1 });
    chain.fails(dave(), submit(vec![1], 3, 2, 10), datasets::Error::NotActive(1));
    // Budget: after spending 900, only 100 is left.
    let mut chain = setup();
    chain.ok(dave(), submit(vec![0], 3, 2, 900));
    chain.fails(
        dave(),
        submit(vec![0], 3, 2, 101),
        Error::BudgetExhausted { dataset: 0, remaining: 100 },
    );
    let mut poor = setup();
    let free = poor.free(&dave());
    poor.ok(dave(), balances::Call::Transfer { dest: alice(), amount: free - 50 });
    poor.fails(
        dave(),
        submit(vec![0], 3, 2, 10),
        balances::Error::InsufficientBalance { available: 48, required: PAYMENT },
    );
}

#[test]
fn quorum_settles_pays_owners_pro_rata_and_executors_and_reports_dissent() {
    let mut chain = setup();
    chain.ok(dave(), submit(vec![0, 1], 3, 2, 200));
    let before = |c: &Chain| {
        (
            c.free(&alice()),
            c.free(&bob()),
            c.free(&charlie()),
            c.free(&dave()),
            c.free(&eve()),
            c.free(&ferdie()),
        )
    };
    let (a, b, c, d, e, f) = before(&chain);
    let agreed = result(1, &[(0, 100), (1, 300)], 150);
    chain.ok(charlie(), submit_result(0, result(2, &[(0, 100), (1, 300)], 150)));
    chain.ok(alice(), submit_result(0, agreed.clone()));
    assert_eq!(job(&chain, 0).state, JobState::Pending);
    let events = chain.ok(bob(), submit_result(0, agreed));
    // 10% of 10_001 is 1_000: 500 to each agreeing executor. The owners share 9_001 pro rata to
    // 100 and 300 records: 2_250 and 6_750; the remaining 1 returns to the company.
    assert!(events.contains(&RuntimeEvent::Chaincode(Event::JobSettled {
        job: 0,
        output_hash: Hash([1; 32]),
        to_owners: 9_000,
        to_executors: 1_000
    })));
    assert!(events.contains(&RuntimeEvent::Chaincode(Event::ExecutorReported {
        job: 0,
        executor: charlie()
    })));
    assert_eq!(job(&chain, 0).state, JobState::Settled { output_hash: Hash([1; 32]) });
    let (a2, b2, c2, d2, e2, f2) = before(&chain);
    assert_eq!((a2, b2 + 1, c2 + 1), (a + 500 - 1, b + 500, c - 1 + 1), "fees of 1 per call");
    assert_eq!(d2, d + 1, "dust returned to the company");
    assert_eq!((e2, f2), (e + 2_250, f + 6_750));
    assert_eq!(balances::reserved_of(&chain.view(), &dave(), ReserveId::Job(0)).unwrap(), 0);
    // Budget: 200 declared, 150 spent.
    assert_eq!(chaincode::budget_spent(&chain.view(), &dave(), 0).unwrap(), 150);
    let rep = committee::REPUTATION.get(&chain.view(), &ferdie()).unwrap().unwrap();
    assert_eq!(rep.data_contribution, 1);
}

#[test]
fn disagreement_of_every_executor_refunds_the_job() {
    let mut chain = setup();
    chain.ok(dave(), submit(vec![0], 3, 2, 10));
    let d = chain.free(&dave());
    chain.ok(alice(), submit_result(0, result(1, &[(0, 100)], 5)));
    chain.ok(bob(), submit_result(0, result(2, &[(0, 100)], 5)));
    let events = chain.ok(charlie(), submit_result(0, result(3, &[(0, 100)], 5)));
    assert!(
        events.contains(&RuntimeEvent::Chaincode(Event::JobFailed { job: 0, timed_out: false }))
    );
    assert_eq!(chain.free(&dave()), d + PAYMENT);
    assert_eq!(job(&chain, 0).state, JobState::Failed);
}

#[test]
fn job_without_agreement_is_refunded_at_its_deadline() {
    let mut chain = setup();
    chain.ok(dave(), submit(vec![0], 3, 2, 10));
    let deadline = job(&chain, 0).deadline;
    let outs = chain.advance_to(deadline);
    assert!(outs
        .last()
        .unwrap()
        .hook_events
        .contains(&RuntimeEvent::Chaincode(Event::JobFailed { job: 0, timed_out: true })));
    assert_eq!(balances::reserved_of(&chain.view(), &dave(), ReserveId::Job(0)).unwrap(), 0);
    assert_eq!(
        chaincode::budget_spent(&chain.view(), &dave(), 0).unwrap(),
        10,
        "a failed job keeps its charge"
    );
}

#[test]
fn submit_result_errors() {
    let mut chain = setup();
    chain.ok(dave(), submit(vec![0, 1], 3, 2, 200));
    let good = result(1, &[(0, 100), (1, 300)], 150);
    chain.fails(alice(), submit_result(4, good.clone()), Error::UnknownJob(4));
    chain.fails(dave(), submit_result(0, good.clone()), Error::NotExecutor);
    chain.fails(
        alice(),
        submit_result(0, result(1, &[(1, 300), (0, 100)], 150)),
        Error::BadRecords,
    );
    chain.fails(alice(), submit_result(0, result(1, &[(0, 100)], 150)), Error::BadRecords);
    chain.fails(
        alice(),
        submit_result(0, result(1, &[(0, u64::MAX), (1, 1)], 150)),
        Error::BadRecords,
    );
    chain.fails(
        alice(),
        submit_result(0, result(1, &[(0, 100), (1, 300)], 201)),
        Error::EpsilonOverDeclared { spent: 201, declared: 200 },
    );
    chain.ok(alice(), submit_result(0, good.clone()));
    chain.fails(alice(), submit_result(0, good.clone()), Error::AlreadySubmitted);
    chain.ok(bob(), submit_result(0, good.clone()));
    chain.fails(charlie(), submit_result(0, good), Error::JobNotPending(0));
}
