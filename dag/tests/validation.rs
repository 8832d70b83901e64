//! Every vertex check fails with its own error; valid vertices attach; batches verify together.
mod common;

use common::*;
use itc_dag::{Attachment, DagStore, Error, FixedDifficulty};
use itc_primitives::{BoundedVec, Hash, Vertex};

#[test]
fn valid_vertex_attaches_and_is_stored() {
    let mut dag = dag();
    let v = vertex(0, &[genesis()]);
    let hash = v.hash();
    let outcome = dag.insert(v.clone(), &EASY).unwrap();
    assert_eq!(outcome.hash, hash);
    assert_eq!(outcome.attachment, Attachment::Attached);
    assert_eq!(dag.tips(), vec![hash]);
    assert_eq!(dag.store().get_vertex(&hash).unwrap(), Some(v));
    assert_eq!(dag.store().get_meta(&hash).unwrap().unwrap().confirmation, None);
}

#[test]
fn signature_for_another_chain_is_rejected() {
    let mut dag = dag();
    let mut v = vertex(0, &[genesis()]);
    let p = pair(1);
    v.tx.signature = p.sign_deterministic(&v.tx.payload(Hash([9; 32])).signing_bytes());
    let hash = v.hash();
    assert_eq!(dag.insert(v, &EASY).unwrap_err(), Error::BadSignature { hash, signer: p.public() });
    assert!(dag.store().is_empty());
}

#[test]
fn oversized_vertex_is_rejected_as_value_and_as_bytes() {
    let mut dag = dag_with(|c| c.max_vertex_bytes = 500);
    let tx = signed_tx(&pair(1), 0, vec![0; 600]);
    let v = Vertex { tx, parents: BoundedVec::new(vec![genesis()]).unwrap(), pow_nonce: 0 };
    let size = parity_scale_codec::Encode::encoded_size(&v);
    let hash = v.hash();
    assert_eq!(
        dag.insert(v.clone(), &EASY).unwrap_err(),
        Error::TooLarge { hash: Some(hash), size, max: 500 }
    );
    let bytes = parity_scale_codec::Encode::encode(&v);
    assert_eq!(
        dag.insert_bytes(&bytes, &EASY).unwrap_err(),
        Error::TooLarge { hash: None, size, max: 500 }
    );
}

#[test]
fn zero_parents_is_rejected() {
    let mut dag = dag();
    let tx = signed_tx(&pair(1), 0, vec![]);
    let v = Vertex { tx, parents: BoundedVec::default(), pow_nonce: 0 };
    let hash = v.hash();
    assert_eq!(dag.insert(v, &EASY).unwrap_err(), Error::ParentCount { hash, count: 0 });
}

#[test]
fn repeated_parent_is_rejected() {
    let mut dag = dag();
    let a = vertex(0, &[genesis()]);
    let a_hash = a.hash();
    dag.insert(a, &EASY).unwrap();
    let tx = signed_tx(&pair(1), 1, vec![]);
    let v = Vertex {
        tx,
        parents: BoundedVec::new(vec![a_hash, genesis(), a_hash]).unwrap(),
        pow_nonce: 0,
    };
    let hash = v.hash();
    assert_eq!(dag.insert(v, &EASY).unwrap_err(), Error::DuplicateParent { hash, parent: a_hash });
}

#[test]
fn pow_must_meet_the_signers_level() {
    let device = pair(1);
    let gateway = pair(2);
    let device_key = device.public();
    // The device chose security level "12 bits"; the gateway needs none.
    let levels = move |who: &itc_primitives::AccountId| if *who == device_key { 12 } else { 0 };
    let mut dag = dag();
    // Find an attachment with fewer than 12 leading zero bits.
    let mut weak = vertex_with(&device, 0, &[genesis()], 0);
    while weak.hash().leading_zero_bits() >= 12 {
        weak.pow_nonce += 1;
    }
    let hash = weak.hash();
    let err = dag.insert(weak, &levels).unwrap_err();
    assert_eq!(
        err,
        Error::InsufficientPow {
            hash,
            signer: device_key,
            leading_zero_bits: hash.leading_zero_bits(),
            required: 12
        }
    );
    assert!(err.to_string().contains("Vertex::mine"), "{err}");
    let strong = vertex_with(&device, 0, &[genesis()], 12);
    assert!(strong.hash().leading_zero_bits() >= 12);
    dag.insert(strong, &levels).unwrap();
    let mut cheap = vertex_with(&gateway, 0, &[genesis()], 0);
    while cheap.hash().leading_zero_bits() >= 12 {
        cheap.pow_nonce += 1;
    }
    dag.insert(cheap, &levels).unwrap();
    assert_eq!(dag.tips().len(), 2);
}

#[test]
fn duplicate_vertex_is_rejected() {
    let mut dag = dag();
    let v = vertex(0, &[genesis()]);
    dag.insert(v.clone(), &EASY).unwrap();
    assert_eq!(dag.insert(v.clone(), &EASY).unwrap_err(), Error::Duplicate { hash: v.hash() });
    let bytes = parity_scale_codec::Encode::encode(&v);
    assert_eq!(dag.insert_bytes(&bytes, &EASY).unwrap_err(), Error::Duplicate { hash: v.hash() });
}

#[test]
fn batch_rejects_only_the_bad_signature() {
    let mut dag = dag();
    let mut vertices: Vec<Vertex> = (0..6).map(|n| vertex(n, &[genesis()])).collect();
    vertices[3].tx.nonce = 99; // the signature no longer covers the payload
    let bad = vertices[3].hash();
    let results = dag.insert_batch(vertices.clone(), &EASY);
    assert_eq!(results.len(), 6);
    for (i, result) in results.iter().enumerate() {
        if i == 3 {
            assert_eq!(
                result.clone().unwrap_err(),
                Error::BadSignature { hash: bad, signer: pair(1).public() }
            );
        } else {
            assert_eq!(result.as_ref().unwrap().attachment, Attachment::Attached);
        }
    }
    assert_eq!(dag.tips().len(), 5);
}

#[test]
fn batch_with_children_before_parents_attaches_everything() {
    let mut dag = dag();
    let a = vertex(0, &[genesis()]);
    let b = vertex(1, &[a.hash()]);
    let c = vertex(2, &[b.hash(), a.hash()]);
    let results = dag.insert_batch(vec![c.clone(), b.clone(), a.clone(), a.clone()], &EASY);
    assert_eq!(
        results[0].as_ref().unwrap().attachment,
        Attachment::Orphaned { missing: vec![b.hash(), a.hash()] }
    );
    assert_eq!(results[2].as_ref().unwrap().released, vec![b.hash(), c.hash()]);
    assert_eq!(results[3].clone().unwrap_err(), Error::Duplicate { hash: a.hash() });
    assert_eq!(dag.tips(), vec![c.hash()]);
    assert_eq!(dag.orphan_count(), 0);
}

#[test]
fn different_difficulty_per_signer_in_a_batch() {
    let mut dag = dag();
    let v = vertex_with(&pair(3), 0, &[genesis()], 4);
    let results = dag.insert_batch(vec![v.clone()], &FixedDifficulty(4));
    assert!(results[0].is_ok());
}
