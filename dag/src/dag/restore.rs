//! Rebuilding the in-memory DAG from the store after a restart.
//!
//! Orphans are not stored (peers send them again); everything else is: the unconfirmed vertices
//! and those confirmed within the last [`DagConfig::prune_after`] milestones are loaded back,
//! parents first, and the confirmations are re-applied from the stored metadata.
use std::collections::{BTreeSet, HashMap};

use itc_primitives::{Hash, MilestoneNumber, Vertex};

use super::Dag;
use crate::{store::VertexMeta, DagConfig, DagStore, Error, Result};

impl<S: DagStore> Dag<S> {
    /// Reopens a DAG over a store written by an earlier [`Dag`]. `entry_points` are the entry
    /// points added besides genesis (snapshot roots) and `milestone_tips` the tips named by the
    /// latest confirmed milestone (the start of tip-selection walks). The latest milestone
    /// number is the highest one found in the stored metadata.
    pub fn restore(
        config: DagConfig,
        store: S,
        entry_points: &[(Hash, MilestoneNumber)],
        milestone_tips: &[Hash],
    ) -> Result<Self> {
        let mut dag = Dag::new(config, store)?;
        for (hash, milestone) in entry_points {
            dag.add_entry_point(*hash, *milestone);
        }
        let mut latest: MilestoneNumber = 0;
        dag.store.for_each_meta(&mut |_, meta| {
            if let Some(c) = meta.confirmation {
                latest = latest.max(c.milestone);
            }
            Ok(())
        })?;
        let keep_from = latest.saturating_sub(dag.config.prune_after);
        let mut keep: Vec<(Hash, VertexMeta)> = Vec::new();
        dag.store.for_each_meta(&mut |hash, meta| {
            if meta.confirmation.is_none_or(|c| c.milestone >= keep_from) {
                keep.push((*hash, *meta));
            }
            Ok(())
        })?;
        let mut loaded: HashMap<Hash, (Vertex, VertexMeta)> = HashMap::with_capacity(keep.len());
        for (hash, meta) in keep {
            let vertex = dag.store.get_vertex(&hash)?.ok_or_else(|| {
                Error::Store(format!("metadata of vertex {hash} is stored but the vertex is not"))
            })?;
            loaded.insert(hash, (vertex, meta));
        }
        let order = topological(&loaded);
        let nothing_stored = order.is_empty() && latest == 0;
        for hash in order {
            let Some((vertex, meta)) = loaded.get(&hash) else { continue };
            let parents = dag.resolve_parents(&vertex.parents)?;
            if let Some(missing) = parents.missing.first() {
                return Err(Error::Store(format!(
                    "stored vertex {hash} approves {missing}, which is not stored"
                )));
            }
            dag.link(hash, meta.tx_hash, &parents);
        }
        // Confirmations last, so that restored weights count the restored approvers.
        let mut confirmed: Vec<(MilestoneNumber, u32, Hash)> = loaded
            .iter()
            .filter_map(|(h, (_, m))| m.confirmation.map(|c| (c.milestone, c.position, *h)))
            .collect();
        confirmed.sort_unstable();
        for (milestone, _, hash) in confirmed {
            if let Some(idx) = dag.graph.get(&hash) {
                dag.graph.set_confirmed(idx, milestone);
            }
            match dag.confirmed_by.back_mut() {
                Some((m, hashes)) if *m == milestone => hashes.push(hash),
                _ => dag.confirmed_by.push_back((milestone, vec![hash])),
            }
        }
        // Vertices approving the entry points may have been pruned; with anything stored, the
        // entry points are approved (a walk starting there must not stop on them).
        if !nothing_stored {
            for hash in dag.entry_points.clone() {
                if let Some(idx) = dag.graph.get(&hash) {
                    dag.graph.mark_approved(idx);
                }
            }
        }
        dag.latest = latest;
        if !milestone_tips.is_empty() {
            dag.milestone_tips = milestone_tips.to_vec();
        }
        Ok(dag)
    }
}

/// The loaded vertices, parents before children (parents outside the set are ignored).
fn topological(loaded: &HashMap<Hash, (Vertex, VertexMeta)>) -> Vec<Hash> {
    let mut pending: HashMap<Hash, usize> = HashMap::with_capacity(loaded.len());
    let mut children: HashMap<Hash, Vec<Hash>> = HashMap::new();
    for (hash, (vertex, _)) in loaded {
        let inside = vertex.parents.iter().filter(|p| loaded.contains_key(p));
        let mut count = 0;
        for parent in inside {
            children.entry(*parent).or_default().push(*hash);
            count += 1;
        }
        pending.insert(*hash, count);
    }
    let mut ready: BTreeSet<Hash> =
        pending.iter().filter(|(_, &n)| n == 0).map(|(h, _)| *h).collect();
    let mut order = Vec::with_capacity(loaded.len());
    while let Some(hash) = ready.pop_first() {
        order.push(hash);
        for child in children.get(&hash).into_iter().flatten() {
            if let Some(n) = pending.get_mut(child) {
                *n -= 1;
                if *n == 0 {
                    ready.insert(*child);
                }
            }
        }
    }
    order
}
