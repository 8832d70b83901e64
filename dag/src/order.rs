//! The past cone of a milestone's tips, less what is confirmed, in deterministic order.
//!
//! Order: topological (every vertex after its parents), and among the vertices whose parents are
//! all placed, the smallest hash first (Kahn's algorithm with a min-heap). The result depends only
//! on the cone's vertices and parent links, which the hashes fix, so every node computes the same
//! list whatever order the vertices arrived in.
use std::{cmp::Reverse, collections::BinaryHeap};

use itc_primitives::Hash;

use crate::graph::Graph;

const NOT_IN_CONE: u32 = u32::MAX;

/// The unconfirmed past cone of `tips` (indices of in-memory nodes), ordered.
pub(crate) fn past_cone_order(graph: &Graph, tips: &[u32]) -> Vec<u32> {
    past_cone_order_excluding(graph, tips, &[])
}

/// [`past_cone_order`] as if the nodes of `excluded` were confirmed too: the order the cone
/// will have once a milestone confirming exactly them is applied. (Dropping them from the
/// full order would not do: the heap may then place the survivors differently.)
pub(crate) fn past_cone_order_excluding(graph: &Graph, tips: &[u32], excluded: &[u32]) -> Vec<u32> {
    let mut skip = vec![false; graph.slots()];
    for &e in excluded {
        if let Some(s) = skip.get_mut(e as usize) {
            *s = true;
        }
    }
    let open = |i: u32| graph.node(i).confirmed.is_none() && !skip[i as usize];
    // pending[i]: NOT_IN_CONE, or the number of i's cone parents not yet placed.
    let mut pending = vec![NOT_IN_CONE; graph.slots()];
    let mut members = Vec::new();
    let mut stack = Vec::new();
    for &t in tips {
        if open(t) && pending[t as usize] == NOT_IN_CONE {
            pending[t as usize] = 0;
            members.push(t);
            stack.push(t);
        }
    }
    while let Some(i) = stack.pop() {
        for &p in graph.parents(i) {
            if pending[p as usize] == NOT_IN_CONE && open(p) {
                pending[p as usize] = 0;
                members.push(p);
                stack.push(p);
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<(Hash, u32)>> = BinaryHeap::new();
    for &m in &members {
        let in_cone =
            graph.parents(m).iter().filter(|&&p| pending[p as usize] != NOT_IN_CONE).count();
        pending[m as usize] = in_cone as u32;
        if in_cone == 0 {
            ready.push(Reverse((graph.node(m).hash, m)));
        }
    }
    let mut order = Vec::with_capacity(members.len());
    while let Some(Reverse((_, i))) = ready.pop() {
        order.push(i);
        for &c in &graph.node(i).children {
            let slot = &mut pending[c as usize];
            if *slot != NOT_IN_CONE {
                *slot -= 1;
                if *slot == 0 {
                    ready.push(Reverse((graph.node(c).hash, c)));
                }
            }
        }
    }
    order
}
