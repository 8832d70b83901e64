//! A DAG reopened from its store holds the same vertices, tips, confirmations and milestone
//! state, and goes on to confirm the next milestone identically.
mod common;

use common::*;
use itc_dag::{Dag, DagConfig, DagStore, Error, MemoryStore};
use itc_primitives::{blake2_256, Hash};

#[test]
fn restored_dag_matches_the_original_and_confirms_identically() {
    let mut config = DagConfig::new(genesis());
    config.prune_after = 1;
    let mut dag = Dag::new(config.clone(), MemoryStore::new()).unwrap();
    let mut all: Vec<Hash> = vec![genesis()];
    let mut milestone_tips = Vec::new();
    for n in 0..30u64 {
        let parents: Vec<Hash> = {
            let a = all[all.len() - 1];
            let b = all[(n as usize * 5) % all.len()];
            if a == b {
                vec![a]
            } else {
                vec![a, b]
            }
        };
        let v = vertex(n, &parents);
        all.push(v.hash());
        dag.insert(v, &EASY).unwrap();
        if n % 10 == 9 {
            milestone_tips = vec![*all.last().unwrap()];
            dag.confirm(n / 10 + 1, &milestone_tips).unwrap();
        }
    }
    for n in 30..35u64 {
        let v = vertex(n, &[*all.last().unwrap()]);
        all.push(v.hash());
        dag.insert(v, &EASY).unwrap();
    }
    let mut restored = Dag::restore(config, dag.store().clone(), &[], &milestone_tips).unwrap();
    assert_eq!(restored.latest_milestone(), 3);
    assert_eq!(restored.tips(), dag.tips());
    assert_eq!(restored.in_memory(), dag.in_memory());
    for h in &all {
        assert_eq!(restored.is_in_memory(h), dag.is_in_memory(h), "{h}");
        assert_eq!(restored.confidence(h).unwrap(), dag.confidence(h).unwrap(), "{h}");
    }
    assert_eq!(restored.select_tips(2, [5; 32]).unwrap(), dag.select_tips(2, [5; 32]).unwrap());
    let tips = dag.tips();
    assert_eq!(restored.confirm(4, &tips).unwrap(), dag.confirm(4, &tips).unwrap());
    assert_eq!(restored.in_memory(), dag.in_memory());
}

#[test]
fn restore_reports_a_store_missing_a_parent() {
    let mut store = MemoryStore::new();
    let v = vertex(0, &[blake2_256(b"never stored")]);
    let meta = itc_dag::VertexMeta { tx_hash: v.tx.hash(), confirmation: None };
    store.put_vertex(v.hash(), v, meta).unwrap();
    let err = Dag::restore(DagConfig::new(genesis()), store, &[], &[]).err().unwrap();
    assert!(matches!(err, Error::Store(ref m) if m.contains("not stored")), "{err}");
}
