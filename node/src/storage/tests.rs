//! Storage tests: durability across reopen, atomic milestone application, corrupt records.
use itc_primitives::{
    BoundedVec, FinalityCertificate, Hash, MilestoneHeader, Mortality, Public, Signature,
    Transaction, Vertex,
};
use parity_scale_codec::Encode;

use super::*;
use crate::Error;

fn vertex(nonce: u64) -> Vertex {
    Vertex {
        tx: Transaction {
            signer: Public([7; 32]),
            nonce,
            mortality: Mortality::Immortal,
            tip: 0,
            call: vec![1, 2, 3],
            signature: Signature([9; 64]),
        },
        parents: BoundedVec::new(vec![Hash([1; 32])]).unwrap(),
        pow_nonce: 42,
    }
}

fn milestone(number: u64, parent: Hash) -> (MilestoneHeader, FinalityCertificate) {
    let header = MilestoneHeader {
        number,
        parent,
        epoch: 0,
        tips: BoundedVec::new(vec![Hash([number as u8; 32])]).unwrap(),
        ordered_root: Hash([2; 32]),
        vertex_count: 1,
        state_root: Hash([3; 32]),
        receipts_root: Hash([4; 32]),
        timestamp_ms: 1_700_000_000_000 + number,
        proposer: Public([5; 32]),
        next_committee: None,
    };
    let cert = FinalityCertificate {
        number,
        view: 0,
        header_hash: header.hash(),
        signatures: BoundedVec::new(vec![(Public([5; 32]), Signature([6; 64]))]).unwrap(),
    };
    (header, cert)
}

fn commit_for(number: u64, parent: Hash, v: &Vertex) -> MilestoneCommit {
    let (header, certificate) = milestone(number, parent);
    MilestoneCommit {
        header,
        certificate,
        receipts: vec![ReceiptRecord {
            tx_hash: v.tx.hash(),
            vertex_hash: v.hash(),
            receipt: vec![0, 0xAA],
        }],
        state_changes: vec![(b"balances/alice".to_vec(), Some(100u128.encode()))],
        extra: vec![(Column::StateTree, b"node/1".to_vec(), Some(vec![1]))],
    }
}

#[test]
fn finalised_milestones_and_vertices_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let v = vertex(0);
    let (h0, h1);
    {
        let store = ChainStore::open(dir.path()).unwrap();
        assert_eq!(store.finalized().unwrap(), None);
        assert_eq!(store.put_vertex(&v).unwrap(), v.hash());
        h0 = store.apply_milestone(&commit_for(0, Hash::ZERO, &v)).unwrap();
        let mut c1 = commit_for(1, h0, &vertex(1));
        c1.state_changes =
            vec![(b"balances/alice".to_vec(), None), (b"balances/bob".to_vec(), Some(vec![5]))];
        h1 = store.apply_milestone(&c1).unwrap();
    } // dropped: RocksDB closes; everything must come back from disk.
    let store = ChainStore::open(dir.path()).unwrap();
    assert_eq!(store.finalized().unwrap(), Some((1, h1)));
    assert_eq!(store.vertex(&v.hash()).unwrap(), Some(v.clone()));
    let (header, cert) = store.milestone(0).unwrap().unwrap();
    assert_eq!(header.hash(), h0);
    assert_eq!(cert.header_hash, h0);
    assert_eq!(store.milestone_number(&h1).unwrap(), Some(1));
    let (loc, receipt) = store.receipt_of_tx(&v.tx.hash()).unwrap().unwrap();
    assert_eq!(loc, TxLocation { milestone: 0, position: 0 });
    assert_eq!(receipt.receipt, vec![0, 0xAA]);
    assert_eq!(store.vertex_location(&v.hash()).unwrap(), Some(loc));
    assert_eq!(store.state(b"balances/alice").unwrap(), None, "deleted by milestone 1");
    assert_eq!(store.state(b"balances/bob").unwrap(), Some(vec![5]));
    assert_eq!(store.kv().get(Column::StateTree, b"node/1").unwrap(), Some(vec![1]));
}

#[test]
fn milestone_that_does_not_extend_the_chain_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChainStore::open(dir.path()).unwrap();
    let v = vertex(0);
    let err = store.apply_milestone(&commit_for(1, Hash::ZERO, &v)).unwrap_err();
    assert!(err.to_string().contains("next number is 0"), "{err}");
    let h0 = store.apply_milestone(&commit_for(0, Hash::ZERO, &v)).unwrap();
    let err = store.apply_milestone(&commit_for(1, Hash([9; 32]), &v)).unwrap_err();
    assert!(err.to_string().contains("another fork"), "{err}");
    let mut bad_cert = commit_for(1, h0, &vertex(1));
    bad_cert.certificate.header_hash = Hash([8; 32]);
    let err = store.apply_milestone(&bad_cert).unwrap_err();
    assert!(err.to_string().contains("certificate is for milestone 1"), "{err}");
    assert_eq!(store.finalized().unwrap(), Some((0, h0)));
    assert_eq!(store.tx_location(&vertex(1).tx.hash()).unwrap(), None);
}

#[test]
fn corrupt_records_give_errors_naming_column_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChainStore::open(dir.path()).unwrap();
    let v = vertex(0);
    store.kv().put(Column::Vertices, &v.hash().0, &[0xFF, 0x01]).unwrap();
    let err = store.vertex(&v.hash()).unwrap_err();
    assert!(matches!(err, Error::Corrupt { column: "vertices", .. }), "{err}");
    assert!(err.to_string().contains(&hex::encode(v.hash().0)), "{err}");
    assert!(err.to_string().contains("resync"), "{err}");

    // A valid record with trailing garbage is also rejected (decode_untrusted).
    let (header, cert) = milestone(0, Hash::ZERO);
    let mut bytes = (&header, &cert).encode();
    bytes.push(0);
    store.kv().put(Column::Milestones, &0u64.to_be_bytes(), &bytes).unwrap();
    assert!(matches!(store.milestone(0), Err(Error::Corrupt { column: "milestones", .. })));
    store.kv().put(Column::Meta, b"finalized", &[1, 2, 3]).unwrap();
    assert!(matches!(store.finalized(), Err(Error::Corrupt { column: "meta", .. })));
    store.kv().put(Column::Indexes, &[b'm'; 33], &[1, 2]).unwrap();
    assert!(store.milestone_number(&Hash([b'm'; 32])).is_err());
}

#[test]
fn database_of_another_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let kv = KvStore::open(dir.path()).unwrap();
        kv.put(Column::Meta, b"schema", b"itc-db/0").unwrap();
    }
    let err = ChainStore::open(dir.path()).unwrap_err();
    assert!(matches!(err, Error::SchemaMismatch { .. }), "{err}");
    assert!(err.to_string().contains("itc-db/0"), "{err}");
}

#[test]
fn kv_prefix_iteration_is_ordered_and_bounded_and_batches_are_atomic_per_commit() {
    let dir = tempfile::tempdir().unwrap();
    let kv = KvStore::open(dir.path()).unwrap();
    let mut b = Batch::new();
    b.put(Column::State, b"acc/b".to_vec(), b"2".to_vec());
    b.put(Column::State, b"acc/a".to_vec(), b"1".to_vec());
    b.put(Column::State, b"acd/z".to_vec(), b"x".to_vec());
    b.put(Column::State, b"ac".to_vec(), b"p".to_vec());
    b.put(Column::Indexes, b"acc/c".to_vec(), b"other column".to_vec());
    assert_eq!(b.len(), 5);
    kv.commit(b, Durability::Sync).unwrap();
    let got = kv.iter_prefix(Column::State, b"acc/").unwrap();
    assert_eq!(got, vec![(b"acc/a".to_vec(), b"1".to_vec()), (b"acc/b".to_vec(), b"2".to_vec())]);
    assert_eq!(kv.iter_prefix(Column::State, b"").unwrap().len(), 4);
    let mut b = Batch::new();
    b.delete(Column::State, b"acc/a".to_vec());
    b.put(Column::State, b"acc/c".to_vec(), b"3".to_vec());
    kv.commit(b, Durability::Relaxed).unwrap();
    let keys: Vec<_> =
        kv.iter_prefix(Column::State, b"acc/").unwrap().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, vec![b"acc/b".to_vec(), b"acc/c".to_vec()]);
    assert_eq!(kv.last(Column::State).unwrap().unwrap().0, b"acd/z".to_vec());
    kv.delete(Column::State, b"acd/z").unwrap();
    assert_eq!(kv.get(Column::State, b"acd/z").unwrap(), None);
}

#[test]
fn storage_format_test_vectors() {
    assert_eq!(hex::encode(TxLocation { milestone: 3, position: 5 }.encode()), "0c05000000");
    assert_eq!(hex::encode(receipt_key(1, 2)), "000000000000000100000002");
    assert_eq!(hex::encode(epoch_key(2)), "650000000000000002");
    let names: Vec<_> = Column::ALL.iter().map(|c| c.name()).collect();
    assert_eq!(
        names,
        [
            "vertices",
            "milestones",
            "state",
            "state_tree",
            "receipts",
            "indexes",
            "meta",
            "consensus"
        ]
    );
    assert_eq!(SCHEMA, "itc-db/4");
}

#[test]
fn milestones_of_one_batch_land_together_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChainStore::open(dir.path()).unwrap();
    let commit = |n: u64, parent: Hash| commit_for(n, parent, &vertex(n));
    let genesis = commit(0, Hash::ZERO);
    let one = commit(1, genesis.header.hash());
    let two = commit(2, one.header.hash());
    store.apply_milestones(&[genesis.clone(), one.clone()]).unwrap();
    assert_eq!(store.finalized().unwrap(), Some((1, one.header.hash())));
    // A batch with a gap is refused as a whole: nothing of it lands.
    let three = commit(3, two.header.hash());
    assert!(store.apply_milestones(&[two.clone(), three.clone(), three.clone()]).is_err());
    assert_eq!(store.finalized().unwrap(), Some((1, one.header.hash())));
    assert_eq!(store.consensus_log().unwrap(), (Vec::new(), 0));
    assert_eq!(
        store.append_consensus(0, &[vec![1], vec![2, 3]], Vec::new(), Durability::Sync).unwrap(),
        2
    );
    assert_eq!(store.consensus_log().unwrap(), (vec![vec![1], vec![2, 3]], 2));
    assert_eq!(store.consensus_span().unwrap(), (0, 2));
    // Compaction replaces the live entries 0..2; sequence numbers keep growing, appends follow.
    assert_eq!(store.rewrite_consensus(0, 2, &[vec![2, 3]]).unwrap(), 3);
    assert_eq!(store.consensus_log().unwrap(), (vec![vec![2, 3]], 3));
    assert_eq!(store.consensus_span().unwrap(), (2, 3));
    // Extra writes land in the same batch.
    let extra = vec![(Column::Vertices, vec![7; 32], Some(vec![1, 2]))];
    assert_eq!(store.append_consensus(3, &[vec![4]], extra, Durability::Relaxed).unwrap(), 4);
    assert_eq!(store.kv().get(Column::Vertices, &[7; 32]).unwrap(), Some(vec![1, 2]));
    assert_eq!(store.consensus_log().unwrap(), (vec![vec![2, 3], vec![4]], 4));
    assert_eq!(store.consensus_log_from(2).unwrap(), (vec![vec![2, 3], vec![4]], 4));
    assert_eq!(store.consensus_log_from(3).unwrap(), (vec![vec![4]], 4));
    assert_eq!(store.consensus_log_from(9).unwrap(), (Vec::new(), 9));
    assert_eq!(store.rewrite_consensus(2, 4, &[]).unwrap(), 4);
    assert_eq!(store.consensus_log().unwrap(), (Vec::new(), 0));
    assert_eq!(store.consensus_span().unwrap(), (0, 0));
    // A milestone and consensus records in one batch: both land, or (a gap) neither does.
    let four = commit(4, three.header.hash());
    assert!(store.apply_milestones_logged(&[four], 0, &[vec![9]]).is_err());
    assert_eq!(store.consensus_log().unwrap(), (Vec::new(), 0));
    let (hash, next) =
        store.apply_milestones_logged(std::slice::from_ref(&two), 0, &[vec![5], vec![6]]).unwrap();
    assert_eq!((hash, next), (two.header.hash(), 2));
    assert_eq!(store.finalized().unwrap(), Some((2, two.header.hash())));
    assert_eq!(store.consensus_log().unwrap(), (vec![vec![5], vec![6]], 2));
}

#[test]
fn the_clean_stop_marker_survives_a_reopen_and_is_taken_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = ChainStore::open(dir.path()).unwrap();
        assert!(!store.take_clean_stop().unwrap(), "a new database did not stop cleanly");
        // A relaxed write, then the clean stop that syncs it.
        store.put_vertex(&vertex(3)).unwrap();
        store.mark_clean_stop().unwrap();
    }
    let store = ChainStore::open(dir.path()).unwrap();
    assert!(store.vertex(&vertex(3).hash()).unwrap().is_some());
    assert!(store.take_clean_stop().unwrap());
    assert!(!store.take_clean_stop().unwrap(), "taken: a crash of this run is not a clean stop");
    drop(store);
    let store = ChainStore::open(dir.path()).unwrap();
    assert!(!store.take_clean_stop().unwrap(), "the taking was durable");
}
