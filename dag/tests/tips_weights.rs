//! Tips, cumulative weight, tip selection (weighted walk, lazy tips, uniform fallback), pruning.
mod common;

use std::collections::BTreeSet;

use common::*;
use itc_dag::{Attachment, Confidence, DagStore};
use itc_primitives::Hash;

fn seed(n: u8) -> [u8; 32] {
    [n; 32]
}

#[test]
fn tips_are_the_unapproved_vertices() {
    let mut dag = dag();
    assert_eq!(dag.tips(), Vec::<Hash>::new(), "entry points are not tips");
    assert_eq!(dag.select_tips(2, seed(0)).unwrap(), vec![genesis()]);
    let a = vertex(0, &[genesis()]);
    let b = vertex(1, &[genesis()]);
    dag.insert(a.clone(), &EASY).unwrap();
    dag.insert(b.clone(), &EASY).unwrap();
    let expected: BTreeSet<Hash> = [a.hash(), b.hash()].into();
    assert_eq!(dag.tips().into_iter().collect::<BTreeSet<_>>(), expected);
    let c = vertex(2, &[a.hash(), b.hash()]);
    dag.insert(c.clone(), &EASY).unwrap();
    assert_eq!(dag.tips(), vec![c.hash()]);
}

#[test]
fn cumulative_weight_counts_approvers_once_each() {
    let mut dag = dag();
    let a = vertex(0, &[genesis()]);
    let b = vertex(1, &[a.hash()]);
    let c = vertex(2, &[a.hash()]);
    let d = vertex(3, &[b.hash(), c.hash()]);
    for v in [&a, &b, &c, &d] {
        dag.insert(v.clone(), &EASY).unwrap();
    }
    // d approves a through two paths but counts once.
    assert_eq!(dag.weight(&a.hash()), Some(4));
    assert_eq!(dag.weight(&b.hash()), Some(2));
    assert_eq!(dag.weight(&c.hash()), Some(2));
    assert_eq!(dag.weight(&d.hash()), Some(1));
    assert_eq!(
        dag.confidence(&a.hash()).unwrap(),
        Confidence::Pending { weight: 4, saturated: false }
    );
}

#[test]
fn confirmed_weights_freeze_and_pending_ones_keep_growing() {
    let mut dag = dag();
    let a = vertex(0, &[genesis()]);
    let b = vertex(1, &[a.hash()]);
    dag.insert(a.clone(), &EASY).unwrap();
    dag.insert(b.clone(), &EASY).unwrap();
    dag.confirm(1, &[a.hash()]).unwrap();
    let c = vertex(2, &[b.hash()]);
    dag.insert(c, &EASY).unwrap();
    assert_eq!(dag.weight(&a.hash()), Some(2), "frozen at confirmation");
    assert_eq!(dag.weight(&b.hash()), Some(2));
}

#[test]
fn weight_saturates_at_the_cap() {
    let mut dag = dag_with(|c| c.weight_cap = 3);
    let mut chain = vec![genesis()];
    for n in 0..8 {
        let v = vertex(n, &[*chain.last().unwrap()]);
        chain.push(v.hash());
        dag.insert(v, &EASY).unwrap();
    }
    let weights: Vec<u32> = chain[1..].iter().map(|h| dag.weight(h).unwrap()).collect();
    assert_eq!(weights, vec![3, 3, 3, 3, 3, 3, 2, 1]);
    assert_eq!(
        dag.confidence(&chain[1]).unwrap(),
        Confidence::Pending { weight: 3, saturated: true }
    );
}

#[test]
fn tip_selection_replays_from_its_seed_and_returns_distinct_tips() {
    let mut dag = dag();
    let mut hashes = vec![genesis()];
    for n in 0..30u64 {
        let p1 = hashes[(n as usize * 7) % hashes.len()];
        let p2 = hashes[hashes.len() - 1];
        let parents: Vec<Hash> = if p1 == p2 { vec![p1] } else { vec![p1, p2] };
        let v = vertex(n, &parents);
        hashes.push(v.hash());
        dag.insert(v, &EASY).unwrap();
    }
    let tips: BTreeSet<Hash> = dag.tips().into_iter().collect();
    for s in 0..10 {
        let chosen = dag.select_tips(4, seed(s)).unwrap();
        assert_eq!(chosen, dag.select_tips(4, seed(s)).unwrap());
        assert!(!chosen.is_empty() && chosen.len() <= 4);
        assert_eq!(chosen.iter().collect::<BTreeSet<_>>().len(), chosen.len());
        assert!(chosen.iter().all(|h| tips.contains(h)), "{chosen:?} not all tips");
    }
}

/// genesis ← h0 ← h1 … (a heavy chain, each also approved by a side vertex) and genesis ← light.
fn heavy_and_light(alpha: f64) -> (itc_dag::Dag<itc_dag::MemoryStore>, Hash, Hash) {
    let mut dag = dag_with(|c| c.alpha = alpha);
    let light = vertex(1000, &[genesis()]);
    dag.insert(light.clone(), &EASY).unwrap();
    let mut head = genesis();
    for n in 0..10u64 {
        let v = vertex(n, &[head]);
        head = v.hash();
        dag.insert(v, &EASY).unwrap();
    }
    (dag, head, light.hash())
}

#[test]
fn high_alpha_follows_the_heavy_branch() {
    let (dag, heavy_tip, _) = heavy_and_light(5.0);
    for s in 0..20 {
        assert_eq!(dag.select_tips(1, seed(s)).unwrap(), vec![heavy_tip]);
    }
}

#[test]
fn zero_alpha_walks_uniformly_and_reaches_light_tips() {
    let (dag, heavy_tip, light_tip) = heavy_and_light(0.0);
    let picks: BTreeSet<Hash> = (0..40).map(|s| dag.select_tips(1, seed(s)).unwrap()[0]).collect();
    assert_eq!(picks, [heavy_tip, light_tip].into());
}

/// A vertex approving only genesis, then `milestones` milestones confirming a separate chain.
fn dag_with_stale_tip(
    lazy_after: u64,
    milestones: u64,
    max_walk_steps: usize,
) -> (itc_dag::Dag<itc_dag::MemoryStore>, Hash, Vec<Hash>) {
    let mut dag = dag_with(|c| {
        c.lazy_after = lazy_after;
        c.max_walk_steps = max_walk_steps;
    });
    let stale = vertex(500, &[genesis()]);
    dag.insert(stale.clone(), &EASY).unwrap();
    let mut head = genesis();
    let mut chain = Vec::new();
    for m in 1..=milestones {
        let v = vertex(m, &[head]);
        head = v.hash();
        chain.push(head);
        dag.insert(v, &EASY).unwrap();
        dag.confirm(m, &[head]).unwrap();
    }
    (dag, stale.hash(), chain)
}

#[test]
fn lazy_tips_are_never_selected_even_by_the_uniform_fallback() {
    // max_walk_steps = 0: every walk that needs a step falls back to the uniform choice.
    let (mut dag, stale, _) = dag_with_stale_tip(2, 4, 0);
    let fresh_a = vertex(900, &[dag.tips().into_iter().find(|h| *h != stale).unwrap()]);
    let fresh_b = vertex(901, &[fresh_a.parents[0]]);
    dag.insert(fresh_a.clone(), &EASY).unwrap();
    dag.insert(fresh_b.clone(), &EASY).unwrap();
    assert!(dag.is_lazy_tip(&stale));
    assert!(!dag.is_lazy_tip(&fresh_a.hash()));
    let mut picked = BTreeSet::new();
    for s in 0..40 {
        let chosen = dag.select_tips(2, seed(s)).unwrap();
        assert!(!chosen.contains(&stale));
        picked.extend(chosen);
    }
    assert_eq!(picked, [fresh_a.hash(), fresh_b.hash()].into());
}

#[test]
fn a_tip_is_not_lazy_within_the_window() {
    let (dag, stale, _) = dag_with_stale_tip(2, 2, 100);
    assert!(!dag.is_lazy_tip(&stale));
    let (dag, stale, _) = dag_with_stale_tip(2, 3, 100);
    assert!(dag.is_lazy_tip(&stale));
}

#[test]
fn with_only_lazy_tips_selection_approves_the_latest_milestone() {
    let (dag, stale, chain) = dag_with_stale_tip(1, 5, 100);
    // The chain head is confirmed by the latest milestone and is a tip itself.
    for s in 0..10 {
        let chosen = dag.select_tips(2, seed(s)).unwrap();
        assert_eq!(chosen, vec![*chain.last().unwrap()]);
        assert!(!chosen.contains(&stale));
    }
}

#[test]
fn confirmed_vertices_leave_memory_after_k_milestones_and_stay_in_the_store() {
    let (mut dag, _, chain) = {
        let mut dag = dag_with(|c| {
            c.prune_after = 2;
            c.lazy_after = 2;
        });
        let mut head = genesis();
        let mut chain = Vec::new();
        for m in 1..=5u64 {
            let v = vertex(m, &[head]);
            head = v.hash();
            chain.push(head);
            dag.insert(v, &EASY).unwrap();
            dag.confirm(m, &[head]).unwrap();
        }
        (dag, (), chain)
    };
    // Latest is 5: milestones 1 and 2 are more than 2 behind.
    let in_memory: Vec<bool> = chain.iter().map(|h| dag.is_in_memory(h)).collect();
    assert_eq!(in_memory, vec![false, false, true, true, true]);
    assert!(dag.is_in_memory(&genesis()), "entry points are never pruned");
    for (i, h) in chain.iter().enumerate() {
        assert!(dag.store().get_vertex(h).unwrap().is_some());
        assert!(
            matches!(dag.confidence(h).unwrap(), Confidence::Confirmed(c) if c.milestone == i as u64 + 1)
        );
    }
    // A late vertex approving a pruned one still attaches, and a milestone may name it.
    let late = vertex(77, &[chain[0]]);
    assert_eq!(dag.insert(late.clone(), &EASY).unwrap().attachment, Attachment::Attached);
    assert!(dag.is_lazy_tip(&late.hash()));
    assert_eq!(dag.confirm(6, &[chain[0], late.hash()]).unwrap(), vec![late.hash()]);
}

#[test]
fn tip_selection_does_not_depend_on_arrival_order() {
    // A wide DAG: each vertex approves two of the ten before it, so vertices have several
    // approvers whose arrival order differs between the two DAGs.
    let mut vertices = Vec::new();
    let mut hashes = vec![genesis()];
    for n in 0..40usize {
        let w = hashes.len().min(10);
        let base = hashes.len() - w;
        let a = hashes[base + (n * 7) % w];
        let b = hashes[base + (n * 3 + 1) % w];
        let v = vertex(n as u64, &if a == b { vec![a] } else { vec![a, b] });
        hashes.push(v.hash());
        vertices.push(v);
    }
    let mut in_order = dag_with(|c| c.alpha = 0.0);
    let mut shuffled = dag_with(|c| c.alpha = 0.0);
    for v in &vertices {
        in_order.insert(v.clone(), &EASY).unwrap();
    }
    let mut arrival: Vec<usize> = (0..vertices.len()).collect();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for i in (1..arrival.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        arrival.swap(i, (state % (i as u64 + 1)) as usize);
    }
    for i in arrival {
        shuffled.insert(vertices[i].clone(), &EASY).unwrap();
    }
    assert_eq!(in_order.tips(), shuffled.tips());
    for s in 0..20 {
        assert_eq!(
            in_order.select_tips(3, seed(s)).unwrap(),
            shuffled.select_tips(3, seed(s)).unwrap()
        );
    }
}
