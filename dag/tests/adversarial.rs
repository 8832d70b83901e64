//! Hostile input is rejected or bounded, never a panic: malformed bytes, huge parent lists,
//! cycle attempts, orphan floods, duplicates.
mod common;

use common::*;
use itc_dag::{Attachment, Confidence, Error};
use itc_primitives::{blake2_256, Hash, Vertex};
use parity_scale_codec::{Compact, Encode};
use proptest::prelude::*;

fn assert_malformed(result: itc_dag::Result<itc_dag::InsertOutcome>) {
    match result {
        Err(Error::Malformed(reason)) => assert!(!reason.is_empty()),
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn every_truncation_and_trailing_byte_is_malformed() {
    let mut dag = dag();
    let bytes = vertex(0, &[genesis()]).encode();
    for len in 0..bytes.len() {
        assert_malformed(dag.insert_bytes(&bytes[..len], &EASY));
    }
    let mut long = bytes.clone();
    long.push(0);
    assert_malformed(dag.insert_bytes(&long, &EASY));
    assert!(dag.store().is_empty());
    assert_eq!(dag.orphan_count(), 0);
}

#[test]
fn nine_parents_or_a_huge_parent_count_are_malformed() {
    let mut dag = dag();
    let tx = signed_tx(&pair(1), 0, vec![]);
    let nine: Vec<Hash> = (0..9u8).map(|i| Hash([i; 32])).collect();
    let mut bytes = tx.encode();
    nine.encode_to(&mut bytes);
    0u64.encode_to(&mut bytes);
    assert_malformed(dag.insert_bytes(&bytes, &EASY));
    // A length prefix of u32::MAX with nothing behind it: rejected before any allocation.
    let mut bytes = tx.encode();
    Compact(u32::MAX).encode_to(&mut bytes);
    assert_malformed(dag.insert_bytes(&bytes, &EASY));
}

#[test]
fn oversized_bytes_are_rejected_before_decoding() {
    let mut dag = dag_with(|c| c.max_vertex_bytes = 1024);
    let garbage = vec![0xff; 1025];
    assert_eq!(
        dag.insert_bytes(&garbage, &EASY).unwrap_err(),
        Error::TooLarge { hash: None, size: 1025, max: 1024 }
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn random_bytes_never_panic_and_change_nothing(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut dag = dag();
        if let Ok(outcome) = dag.insert_bytes(&bytes, &EASY) {
            // Only a genuinely valid vertex could get here; random bytes are not one.
            prop_assert!(false, "random bytes accepted: {:?}", outcome);
        }
        prop_assert!(dag.store().is_empty());
        prop_assert_eq!(dag.orphan_count(), 0);
    }
}

#[test]
fn vertex_naming_a_child_that_does_not_exist_never_attaches() {
    // A cycle would need a vertex to name a descendant's hash, which depends on its own hash.
    // The closest an attacker gets is naming a hash that does not exist (yet): the vertex waits
    // as an orphan, bounded by the pool, and a vertex approving it waits behind it.
    let mut dag = dag();
    let phantom = blake2_256(b"a child that was never made");
    let a = vertex(0, &[phantom]);
    let b = vertex(1, &[a.hash()]);
    let out_a = dag.insert(a.clone(), &EASY).unwrap();
    assert_eq!(out_a.attachment, Attachment::Orphaned { missing: vec![phantom] });
    let out_b = dag.insert(b.clone(), &EASY).unwrap();
    // b waits for a, which is already an orphan: nothing new to fetch.
    assert_eq!(out_b.attachment, Attachment::Orphaned { missing: vec![] });
    assert_eq!(dag.wanted(), vec![phantom]);
    assert!(dag.tips().is_empty());
    assert_eq!(dag.confidence(&a.hash()).unwrap(), Confidence::Orphan);
    assert!(dag.store().is_empty());
    // A milestone cannot confirm it either.
    assert_eq!(dag.confirm(1, &[b.hash()]).unwrap_err(), Error::UnknownTip { hash: b.hash() });
}

#[test]
fn orphan_flood_is_bounded_by_count_and_evicts_oldest_first() {
    let mut dag = dag_with(|c| c.max_orphans = 10);
    let mut hashes = Vec::new();
    let mut evicted = Vec::new();
    for n in 0..25u64 {
        let missing = blake2_256(&n.to_le_bytes());
        let v = vertex(n, &[missing]);
        hashes.push(v.hash());
        let out = dag.insert(v, &EASY).unwrap();
        assert!(dag.orphan_count() <= 10);
        evicted.extend(out.evicted);
    }
    assert_eq!(dag.orphan_count(), 10);
    assert_eq!(evicted, hashes[..15].to_vec());
    assert_eq!(dag.confidence(&hashes[14]).unwrap(), Confidence::Unknown);
    assert_eq!(dag.confidence(&hashes[15]).unwrap(), Confidence::Orphan);
    assert_eq!(dag.wanted().len(), 10);
}

#[test]
fn orphan_flood_is_bounded_by_bytes() {
    let size = vertex(0, &[Hash([1; 32])]).encoded_size();
    let mut dag = dag_with(|c| {
        c.max_vertex_bytes = size;
        c.max_orphan_bytes = 3 * size;
    });
    for n in 0..20u64 {
        dag.insert(vertex(n, &[blake2_256(&n.to_le_bytes())]), &EASY).unwrap();
        assert!(dag.orphan_bytes() <= 3 * size);
    }
    assert_eq!(dag.orphan_count(), 3);
    assert_eq!(dag.orphan_bytes(), 3 * size);
}

#[test]
fn orphans_are_released_recursively_when_the_root_arrives() {
    let mut dag = dag();
    let a = vertex(0, &[genesis()]);
    let b = vertex(1, &[a.hash()]);
    let c = vertex(2, &[b.hash()]);
    let d = vertex(3, &[c.hash(), a.hash()]);
    for v in [&d, &c, &b] {
        assert!(matches!(
            dag.insert(v.clone(), &EASY).unwrap().attachment,
            Attachment::Orphaned { .. }
        ));
    }
    assert_eq!(dag.wanted(), vec![a.hash()]);
    let out = dag.insert(a.clone(), &EASY).unwrap();
    assert_eq!(out.attachment, Attachment::Attached);
    assert_eq!(out.released, vec![b.hash(), c.hash(), d.hash()]);
    assert_eq!(dag.orphan_count(), 0);
    assert!(dag.wanted().is_empty());
    assert_eq!(dag.tips(), vec![d.hash()]);
}

#[test]
fn duplicates_are_rejected_while_orphaned_attached_and_pruned() {
    let mut dag = dag_with(|c| c.prune_after = 0);
    let missing = blake2_256(b"missing");
    let orphan = vertex(0, &[missing]);
    dag.insert(orphan.clone(), &EASY).unwrap();
    assert_eq!(
        dag.insert(orphan.clone(), &EASY).unwrap_err(),
        Error::Duplicate { hash: orphan.hash() }
    );
    let a = vertex(1, &[genesis()]);
    let b = vertex(2, &[a.hash()]);
    dag.insert(a.clone(), &EASY).unwrap();
    dag.insert(b.clone(), &EASY).unwrap();
    dag.confirm(1, &[a.hash()]).unwrap();
    dag.confirm(2, &[b.hash()]).unwrap();
    assert!(!dag.is_in_memory(&a.hash()), "confirmed one milestone ago with prune_after 0");
    assert_eq!(dag.insert(a.clone(), &EASY).unwrap_err(), Error::Duplicate { hash: a.hash() });
}

#[test]
fn a_vertex_cannot_reach_the_pool_without_a_valid_signature() {
    let mut dag = dag();
    let mut v: Vertex = vertex(0, &[blake2_256(b"unknown")]);
    v.tx.call.push(7);
    assert!(matches!(dag.insert(v, &EASY), Err(Error::BadSignature { .. })));
    assert_eq!(dag.orphan_count(), 0);
}
