use itc_primitives::{blake2_256, dataset::FieldType, BoundedVec, Hash};
use itc_runtime::{
    modules::datasets::{self, Call, Error, Event, Status},
    RuntimeEvent,
};

use crate::common::*;

#[test]
fn register_stores_schema_and_policy() {
    let mut chain = ExtBuilder::default().build();
    let events = chain.ok(bob(), Call::Register { schema: schema(), policy: policy() });
    assert_eq!(
        events,
        vec![RuntimeEvent::Datasets(Event::Registered { dataset: 0, owner: bob() })]
    );
    let d = datasets::dataset(&chain.view(), 0).unwrap().unwrap();
    assert_eq!(
        (d.owner, d.schema, d.policy, d.status),
        (bob(), schema(), policy(), Status::Active)
    );
}

#[test]
fn register_errors() {
    let mut chain = ExtBuilder::default().build();
    let mut bad_schema = schema();
    bad_schema.fields =
        BoundedVec::new(vec![bad_schema.fields[0].clone(), bad_schema.fields[0].clone()]).unwrap();
    chain.fails(
        bob(),
        Call::Register { schema: bad_schema, policy: policy() },
        Error::InvalidSchema { reason: "field name `device` appears twice".into() },
    );
    let mut fhe = schema();
    let mut fields = fhe.fields.to_vec();
    fields[0].fhe = true;
    assert_eq!(fields[0].ty, FieldType::String);
    fhe.fields = BoundedVec::new(fields).unwrap();
    chain.fails(
        bob(),
        Call::Register { schema: fhe, policy: policy() },
        Error::InvalidSchema {
            reason:
                "field `device` is FHE-encrypted but not u64; only u64 (u32-valued) columns can be"
                    .into(),
        },
    );
    chain.fails(
        bob(),
        Call::Register {
            schema: schema(),
            policy: itc_primitives::dataset::AnalyticsPolicy { k: 0, ..policy() },
        },
        Error::InvalidPolicy,
    );
    chain.fails(
        bob(),
        Call::Register {
            schema: schema(),
            policy: itc_primitives::dataset::AnalyticsPolicy { hll_precision: 19, ..policy() },
        },
        Error::InvalidPolicy,
    );
}

#[test]
fn append_interval_in_order() {
    let mut chain = ExtBuilder::default().build();
    let id = chain.dataset(bob(), 0, 0);
    let events = chain.ok(bob(), append_call(id, 0, 100));
    assert_eq!(
        events,
        vec![RuntimeEvent::Datasets(Event::IntervalAppended {
            dataset: id,
            index: 0,
            chunk_root: Hash([1; 32]),
            records: 100
        })]
    );
    chain.ok(bob(), append_call(id, 1, 50));
    let d = datasets::dataset(&chain.view(), id).unwrap().unwrap();
    assert_eq!((d.intervals, d.records), (2, 150));
    let iv = datasets::interval(&chain.view(), id, 1).unwrap().unwrap();
    assert_eq!(iv.records, 50);
    assert_eq!(iv.uris[0].to_vec(), b"otp://local/chunk0".to_vec());
}

#[test]
fn append_interval_errors() {
    let mut chain = ExtBuilder::default().build();
    let id = chain.dataset(bob(), 1, 10);
    chain.fails(bob(), append_call(99, 0, 1), Error::UnknownDataset(99));
    chain.fails(charlie(), append_call(id, 1, 1), Error::NotOwner);
    chain.fails(bob(), append_call(id, 3, 1), Error::WrongIntervalIndex { expected: 1, got: 3 });
    chain.fails(bob(), append_call(id, 1, 0), Error::EmptyInterval);
    let mut no_uri = append_call(id, 1, 1);
    if let Call::AppendInterval { uris, .. } = &mut no_uri {
        *uris = BoundedVec::default();
    }
    chain.fails(bob(), no_uri, Error::EmptyInterval);
    chain.ok(bob(), Call::Retire { dataset: id });
    chain.fails(bob(), append_call(id, 1, 1), Error::NotActive(id));
}

#[test]
fn set_policy_and_its_errors() {
    let mut chain = ExtBuilder::default().build();
    let id = chain.dataset(bob(), 0, 0);
    let new = itc_primitives::dataset::AnalyticsPolicy { k: 10, ..policy() };
    let events = chain.ok(bob(), Call::SetPolicy { dataset: id, policy: new.clone() });
    assert_eq!(events, vec![RuntimeEvent::Datasets(Event::PolicyChanged { dataset: id })]);
    assert_eq!(datasets::dataset(&chain.view(), id).unwrap().unwrap().policy, new);
    chain.fails(charlie(), Call::SetPolicy { dataset: id, policy: policy() }, Error::NotOwner);
    chain.fails(
        bob(),
        Call::SetPolicy {
            dataset: id,
            policy: itc_primitives::dataset::AnalyticsPolicy { k: 0, ..policy() },
        },
        Error::InvalidPolicy,
    );
    chain.fails(bob(), Call::SetPolicy { dataset: 7, policy: policy() }, Error::UnknownDataset(7));
    chain.ok(bob(), Call::Retire { dataset: id });
    chain.fails(bob(), Call::SetPolicy { dataset: id, policy: policy() }, Error::NotActive(id));
}

#[test]
fn retire_and_its_errors() {
    let mut chain = ExtBuilder::default().build();
    let id = chain.dataset(bob(), 0, 0);
    chain.fails(charlie(), Call::Retire { dataset: id }, Error::NotOwner);
    let events = chain.ok(bob(), Call::Retire { dataset: id });
    assert_eq!(events, vec![RuntimeEvent::Datasets(Event::Retired { dataset: id })]);
    chain.fails(bob(), Call::Retire { dataset: id }, Error::NotActive(id));
    chain.fails(bob(), Call::Retire { dataset: 5 }, Error::UnknownDataset(5));
}

#[test]
fn forget_shreds_capsules_and_records_it() {
    let mut chain = ExtBuilder::default().build();
    let id = chain.dataset(bob(), 2, 10);
    let capsule_hash = blake2_256(&[0xCA; 98]);
    let mut concat = capsule_hash.0.to_vec();
    concat.extend_from_slice(&capsule_hash.0);
    let digest = blake2_256(&concat);
    let events = chain.ok(bob(), Call::Forget { dataset: id });
    assert_eq!(
        events,
        vec![RuntimeEvent::Datasets(Event::Forgotten {
            dataset: id,
            intervals: 2,
            capsules_digest: digest
        })]
    );
    let record = datasets::SHREDDED.get(&chain.view(), &id).unwrap().unwrap();
    assert_eq!((record.intervals, record.capsules_digest, record.at), (2, digest, chain.number()));
    assert!(datasets::interval(&chain.view(), id, 0).unwrap().unwrap().capsule.is_empty());
    chain.fails(bob(), Call::Forget { dataset: id }, Error::AlreadyForgotten(id));
    chain.fails(charlie(), Call::Forget { dataset: id }, Error::NotOwner);
    chain.fails(bob(), Call::Forget { dataset: 9 }, Error::UnknownDataset(9));
}
