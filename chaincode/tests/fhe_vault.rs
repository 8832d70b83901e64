//! FHE aggregates end to end on real TFHE: devices encrypt their kWh readings with the owner's
//! public key, an executor built from the owner's server key bytes alone loads the uploads into
//! [`VaultFhe`], the probe contract asks for aggregates over the encrypted column, the owner
//! decrypts, and the engine's guard adds the seeded noise and suppresses small groups, exactly as
//! for a plaintext aggregate.
//!
//! tfhe operations cost about 0.3 s each here: the dataset has eight records.
mod common;

use std::sync::Arc;

use common::*;
use itc_chaincode::{privacy::NoiseStream, ChaincodeEngine, EngineLimits, FheBackend, VaultFhe};
use itc_chaincode_sdk::{Aggregate, CmpOp, FheOp, HostError, Predicate, Query, QueryResult};
use itc_primitives::{
    dataset::{FieldDef, FieldType, Schema, Value},
    decode_untrusted, BoundedVec, Hash,
};
use itc_vault::fhe::{CompactColumn, FheDevice, FheExecutor, FheOwner, FhePublicKey, FheServerKey};
use parity_scale_codec::Encode;

/// The secret kWh readings of records 0..8, uploaded by two devices (records 0..5, then 5..8).
const KWH: [u32; 8] = [3, 9, 1, 12, 7, 4, 20, 6];
const DATASET: Hash = Hash([0xd5; 32]);

fn region(i: usize) -> &'static str {
    if i.is_multiple_of(2) {
        "north"
    } else {
        "south"
    }
}

/// The meter schema with `kwh` an FHE `u64` column (the engine never reads its values).
fn view() -> itc_chaincode::DatasetView {
    let mut defs = meter_schema().fields.into_inner();
    defs[3] = FieldDef { name: defs[3].name.clone(), ty: FieldType::U64, fhe: true };
    let rows = (0..KWH.len())
        .map(|i| {
            vec![
                Value::String(format!("dev-{i}")),
                Value::String(region(i).into()),
                Value::Timestamp(DAY0 * DAY),
                Value::U64(0),
                Value::String(format!("cust-{i}")),
            ]
        })
        .collect();
    itc_chaincode::DatasetView::new(
        DATASET,
        Schema { fields: BoundedVec::new(defs).unwrap() },
        policy(3, 1_000),
        Arc::new(rows),
    )
    .unwrap()
}

fn fhe(op: FheOp, filters: Vec<Predicate>) -> Query {
    Query {
        dataset: 0,
        filters,
        group_by: vec![],
        aggregate: Aggregate::Fhe { field: "kwh".into(), op },
        epsilon_milli: 100,
    }
}

fn in_region(r: &str) -> Vec<Predicate> {
    vec![Predicate::Cmp { field: "region".into(), op: CmpOp::Eq, value: r.into() }]
}

#[test]
fn fhe_aggregates_over_device_uploads_are_decrypted_by_the_owner_and_guarded() {
    let (owner, server_key, public_key) = FheOwner::generate().unwrap();
    // Devices and the executor get bytes only, as on other machines.
    let public = FhePublicKey::from_bytes(&public_key.to_bytes().unwrap()).unwrap();
    let device = FheDevice::new(&public).unwrap();
    let uploads: Vec<Vec<u8>> = [&KWH[..5], &KWH[5..]]
        .iter()
        .map(|values| device.encrypt_column(values).unwrap().to_bytes().unwrap())
        .collect();
    let server = FheServerKey::from_bytes(&server_key.to_bytes().unwrap()).unwrap();
    let mut backend = VaultFhe::new();
    backend.add_dataset(DATASET, FheExecutor::new(&server).unwrap(), Arc::new(owner));
    let mut len = 0;
    for upload in &uploads {
        len =
            backend.load_column(&DATASET, 3, &CompactColumn::from_bytes(upload).unwrap()).unwrap();
    }
    assert_eq!(len, KWH.len());

    // Straight through the port: the exact decrypted values, and clear errors.
    assert_eq!(backend.aggregate(&DATASET, 3, FheOp::Sum { hi: 10 }, &[1, 3, 6]), Ok(9 + 10 + 10));
    let unknown = backend.aggregate(&Hash([1; 32]), 3, FheOp::Sum { hi: 10 }, &[0]).unwrap_err();
    assert!(unknown.contains("no FHE keys") && unknown.contains("add_dataset"), "{unknown}");
    let no_column = backend.aggregate(&DATASET, 2, FheOp::Sum { hi: 10 }, &[0]).unwrap_err();
    assert!(no_column.contains("field 2") && no_column.contains("load_column"), "{no_column}");
    let out_of_range = backend.aggregate(&DATASET, 3, FheOp::Sum { hi: 1 }, &[8]).unwrap_err();
    assert!(out_of_range.contains("out of range"), "{out_of_range}");

    // Through a contract: noise and k-suppression as for plaintext aggregates.
    let engine =
        ChaincodeEngine::new(EngineLimits::default()).unwrap().with_fhe_backend(Arc::new(backend));
    let queries = vec![
        fhe(FheOp::Sum { hi: 10 }, in_region("south")),
        fhe(FheOp::CountAbove { threshold: 5 }, vec![]),
        // Only dev-0 matches: a group under k = 3.
        fhe(
            FheOp::Sum { hi: 10 },
            vec![Predicate::Cmp { field: "device".into(), op: CmpOp::Eq, value: "dev-0".into() }],
        ),
    ];
    let res = engine.execute(&wasm("probe"), &[view()], &ctx(41, vec![1_000], queries.encode()));
    let answers: Vec<Result<QueryResult, HostError>> =
        decode_untrusted(&res.unwrap().output).unwrap();
    let number =
        |a: &Result<QueryResult, HostError>| a.as_ref().unwrap().single().unwrap().number();
    let job = Hash([41; 32]);
    let south: u32 = (0..KWH.len()).filter(|i| region(*i) == "south").map(|i| KWH[i].min(10)).sum();
    assert_eq!(
        number(&answers[0]),
        Some(f64::from(south) + NoiseStream::new(&job, 0).laplace(100.0))
    );
    let above = KWH.iter().filter(|v| **v > 5).count() as f64;
    assert_eq!(number(&answers[1]), Some(above + NoiseStream::new(&job, 1).laplace(10.0)));
    assert!(answers[2].as_ref().unwrap().groups.is_empty(), "{:?}", answers[2]);
}
