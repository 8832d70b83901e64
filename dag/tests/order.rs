//! Milestone confirmation: the past cone less what is confirmed, ordered parents first with ties
//! by hash, identical under any arrival order.
mod common;

use std::collections::{BTreeSet, HashMap};

use common::*;
use itc_dag::{Confidence, Confirmation, DagStore, Error};
use itc_primitives::{blake2_256, Hash, Vertex};
use proptest::prelude::*;

#[test]
fn diamond_orders_parents_first_and_ties_by_hash() {
    let mut dag = dag();
    let a = vertex(0, &[genesis()]);
    let b = vertex(1, &[genesis()]);
    let c = vertex(2, &[a.hash(), b.hash()]);
    for v in [&a, &b, &c] {
        dag.insert(v.clone(), &EASY).unwrap();
    }
    let (first, second) =
        if a.hash() < b.hash() { (a.hash(), b.hash()) } else { (b.hash(), a.hash()) };
    assert_eq!(dag.past_cone_order(&[c.hash()]).unwrap(), vec![first, second, c.hash()]);
    let order = dag.confirm(1, &[c.hash()]).unwrap();
    assert_eq!(order, vec![first, second, c.hash()]);
    for (position, hash) in order.iter().enumerate() {
        let meta = dag.store().get_meta(hash).unwrap().unwrap();
        let expected = Confirmation { milestone: 1, position: position as u32 };
        assert_eq!(meta.confirmation, Some(expected));
        assert_eq!(dag.confidence(hash).unwrap(), Confidence::Confirmed(expected));
    }
}

#[test]
fn second_milestone_confirms_only_what_the_first_did_not() {
    let mut dag = dag();
    assert!(!dag.has_unconfirmed(), "a new DAG holds only its entry point");
    let a = vertex(0, &[genesis()]);
    let b = vertex(1, &[a.hash()]);
    let c = vertex(2, &[genesis()]);
    let d = vertex(3, &[b.hash(), c.hash()]);
    for v in [&a, &b, &c, &d] {
        dag.insert(v.clone(), &EASY).unwrap();
    }
    assert!(dag.has_unconfirmed());
    assert_eq!(dag.confirm(1, &[b.hash()]).unwrap(), vec![a.hash(), b.hash()]);
    assert!(dag.has_unconfirmed(), "c and d still wait");
    assert_eq!(dag.unconfirmed_tips(), vec![d.hash()]);
    assert!(dag.knows(&a.hash()).unwrap() && !dag.knows(&Hash([7; 32])).unwrap());
    assert_eq!(dag.confirm(2, &[d.hash()]).unwrap(), vec![c.hash(), d.hash()]);
    assert!(!dag.has_unconfirmed(), "the tip d is confirmed, so is everything");
    assert!(dag.unconfirmed_tips().is_empty());
    // Naming confirmed tips again confirms nothing new.
    assert_eq!(dag.confirm(3, &[d.hash(), a.hash()]).unwrap(), Vec::<Hash>::new());
    assert_eq!(dag.latest_milestone(), 3);
}

#[test]
fn confirm_rejects_unknown_tips_and_old_milestone_numbers() {
    let mut dag = dag();
    let a = vertex(0, &[genesis()]);
    dag.insert(a.clone(), &EASY).unwrap();
    let unknown = blake2_256(b"nope");
    assert_eq!(
        dag.confirm(1, &[a.hash(), unknown]).unwrap_err(),
        Error::UnknownTip { hash: unknown }
    );
    // The failed attempt changed nothing.
    assert_eq!(
        dag.confidence(&a.hash()).unwrap(),
        Confidence::Pending { weight: 1, saturated: false }
    );
    dag.confirm(1, &[a.hash()]).unwrap();
    assert_eq!(
        dag.confirm(1, &[a.hash()]).unwrap_err(),
        Error::MilestoneOutOfOrder { number: 1, latest: 1 }
    );
}

/// The specification, written naively: repeatedly place the smallest-hash vertex all of whose
/// cone parents are placed.
fn reference_order(vertices: &[Vertex], tips: &[Hash], confirmed: &BTreeSet<Hash>) -> Vec<Hash> {
    let by_hash: HashMap<Hash, &Vertex> = vertices.iter().map(|v| (v.hash(), v)).collect();
    let mut cone = BTreeSet::new();
    let mut stack: Vec<Hash> = tips.to_vec();
    while let Some(h) = stack.pop() {
        if confirmed.contains(&h) || !by_hash.contains_key(&h) || !cone.insert(h) {
            continue;
        }
        stack.extend(by_hash[&h].parents.iter().copied());
    }
    let mut placed: Vec<Hash> = Vec::new();
    while placed.len() < cone.len() {
        let next = cone
            .iter()
            .filter(|h| !placed.contains(h))
            .find(|h| by_hash[*h].parents.iter().all(|p| !cone.contains(p) || placed.contains(p)))
            .copied()
            .unwrap();
        placed.push(next);
    }
    placed
}

/// A random DAG: vertex i approves 1–3 distinct earlier vertices (or genesis).
fn random_dag(shape: &[(u8, u8, u8)]) -> Vec<Vertex> {
    let mut vertices: Vec<Vertex> = Vec::new();
    for (i, &(k, x, y)) in shape.iter().enumerate() {
        let mut parents: Vec<Hash> = Vec::new();
        for pick in [x, y, x.wrapping_mul(7).wrapping_add(y)].into_iter().take(1 + (k % 3) as usize)
        {
            let h = if i == 0 { genesis() } else { vertices[pick as usize % i].hash() };
            if !parents.contains(&h) {
                parents.push(h);
            }
        }
        vertices.push(vertex(i as u64, &parents));
    }
    vertices
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn order_is_identical_under_any_arrival_order(
        shape in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 1..40),
        arrival_seeds in proptest::collection::vec(any::<u64>(), 3),
        split in any::<prop::sample::Index>(),
    ) {
        let vertices = random_dag(&shape);
        let first_tip = vertices[split.index(vertices.len())].hash();
        let mut results = Vec::new();
        for seed in arrival_seeds {
            // A seeded shuffle of the arrival order; children often arrive before parents.
            let mut arrival: Vec<usize> = (0..vertices.len()).collect();
            let mut state = seed | 1;
            for i in (1..arrival.len()).rev() {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                arrival.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let mut dag = dag();
            for &i in &arrival {
                dag.insert(vertices[i].clone(), &EASY).unwrap();
            }
            prop_assert_eq!(dag.orphan_count(), 0);
            let tips = dag.tips();
            let m1 = dag.confirm(1, &[first_tip]).unwrap();
            let m2 = dag.confirm(2, &tips).unwrap();
            results.push((m1, m2));
        }
        let confirmed_first: BTreeSet<Hash> = results[0].0.iter().copied().collect();
        prop_assert_eq!(&results[0].0, &reference_order(&vertices, &[first_tip], &BTreeSet::new()));
        let all_tips: Vec<Hash> = vertices.iter().map(Vertex::hash).collect();
        prop_assert_eq!(&results[0].1, &reference_order(&vertices, &all_tips, &confirmed_first));
        prop_assert_eq!(results[0].0.len() + results[0].1.len(), vertices.len());
        for r in &results[1..] {
            prop_assert_eq!(r, &results[0]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// Pipelining orders milestone `n + 1` before `n` is applied: the order computed as if `n`'s
    /// vertices were confirmed must be the one `confirm(n + 1)` returns once they are.
    #[test]
    fn order_after_an_unapplied_milestone_is_the_order_confirm_gives(
        shape in proptest::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 1..40),
        split in any::<prop::sample::Index>(),
    ) {
        let vertices = random_dag(&shape);
        let first_tip = vertices[split.index(vertices.len())].hash();
        let mut dag = dag();
        for v in &vertices {
            dag.insert(v.clone(), &EASY).unwrap();
        }
        let tips = dag.tips();
        let first = dag.past_cone_order(&[first_tip]).unwrap();
        let predicted = dag.past_cone_order_after(&tips, &first).unwrap();
        prop_assert_eq!(dag.confirm(1, &[first_tip]).unwrap(), first);
        prop_assert_eq!(dag.confirm(2, &tips).unwrap(), predicted);
    }
}

#[test]
fn order_after_differs_from_filtering_the_full_order() {
    // Search small DAGs for the case the docs of `past_cone_order_after` warn about, so the
    // test shows the reduced-graph order is not a filtered full order.
    let mut found = false;
    for seed in 0..500u64 {
        let a = vertex(seed * 3, &[genesis()]);
        let b = vertex(seed * 3 + 1, &[genesis()]);
        let c = vertex(seed * 3 + 2, &[a.hash()]);
        let mut dag = dag();
        for v in [&a, &b, &c] {
            dag.insert(v.clone(), &EASY).unwrap();
        }
        let tips = [b.hash(), c.hash()];
        let full: Vec<Hash> =
            dag.past_cone_order(&tips).unwrap().into_iter().filter(|h| *h != a.hash()).collect();
        let after = dag.past_cone_order_after(&tips, &[a.hash()]).unwrap();
        assert_eq!(
            after,
            reference_order(&[a.clone(), b.clone(), c.clone()], &tips, &[a.hash()].into())
        );
        if full != after {
            found = true;
            break;
        }
    }
    assert!(found, "no seed separated the two orders");
}
