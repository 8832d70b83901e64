//! Building and checking milestones: the batch a proposal confirms (capped), the speculative
//! execution of a milestone on a copy of the state, and the comparison with a header.
use std::collections::HashSet;

use itc_dag::{Dag, DagStore};
use itc_primitives::{merkle::merkle_root, Hash, MilestoneHeader, Vertex};
use itc_runtime::{apply_milestone, MilestoneContext, MilestoneOutcome, StateBackend};

use crate::{Error, Result};

/// A milestone executed on a copy of the state, kept until it commits (or is abandoned).
pub(crate) struct Execution<B> {
    /// The confirmed vertex hashes, in execution order.
    pub order: Vec<Hash>,
    /// What the runtime returned.
    pub outcome: MilestoneOutcome,
    /// The state after execution (version = the milestone number).
    pub state: B,
}

/// The tips and order of the next proposal: every current tip (at most `max_tips`), and, when
/// their unconfirmed past cone exceeds `max_batch`, the first `max_batch` vertices of its
/// deterministic order with the tips of that prefix instead. A prefix of a topological order is
/// closed under parents, so its tips' past cone is exactly the prefix. `pending` is the order of
/// a milestone not applied yet that the proposal builds on (pipelining): its vertices count as
/// confirmed.
pub(crate) fn select_batch<S: DagStore>(
    dag: &Dag<S>,
    pending: &[Hash],
    max_tips: usize,
    max_batch: usize,
) -> Result<(Vec<Hash>, Vec<Hash>)> {
    let mut tips = dag.tips();
    tips.truncate(max_tips);
    if tips.is_empty() {
        return Ok((tips, Vec::new()));
    }
    let order = dag.past_cone_order_after(&tips, pending)?;
    if order.len() <= max_batch && !order.is_empty() {
        // Drop tips already confirmed: they add nothing.
        let in_order: HashSet<&Hash> = order.iter().collect();
        tips.retain(|t| in_order.contains(t));
        return Ok((tips, order));
    }
    if order.is_empty() {
        return Ok((Vec::new(), order));
    }
    let prefix = &order[..max_batch];
    let members: HashSet<Hash> = prefix.iter().copied().collect();
    let mut approved: HashSet<Hash> = HashSet::new();
    for hash in prefix {
        let vertex = load(dag, hash)?;
        approved.extend(vertex.parents.iter().filter(|p| members.contains(p)).copied());
    }
    let mut tips: Vec<Hash> = prefix.iter().filter(|h| !approved.contains(h)).copied().collect();
    tips.sort();
    tips.truncate(max_tips);
    let order = dag.past_cone_order_after(&tips, pending)?;
    Ok((tips, order))
}

/// A vertex from the DAG's store.
pub(crate) fn load<S: DagStore>(dag: &Dag<S>, hash: &Hash) -> Result<Vertex> {
    dag.store().get_vertex(hash)?.ok_or(Error::MissingVertex(*hash))
}

/// Executes the vertices of `order` as milestone `ctx.number` on a copy of `base`.
pub(crate) fn execute<S: DagStore, B: StateBackend + Clone>(
    base: &B,
    dag: &Dag<S>,
    order: Vec<Hash>,
    ctx: MilestoneContext,
) -> Result<Execution<B>> {
    let vertices = order.iter().map(|h| load(dag, h)).collect::<Result<Vec<Vertex>>>()?;
    let mut state = base.clone();
    let outcome = apply_milestone(&mut state, ctx, &vertices)?;
    Ok(Execution { order, outcome, state })
}

/// Compares a header with the execution of its milestone; returns the first field that
/// differs.
pub(crate) fn mismatch<B>(header: &MilestoneHeader, exec: &Execution<B>) -> Option<&'static str> {
    if header.vertex_count as usize != exec.order.len() {
        return Some("vertex count");
    }
    if header.ordered_root != merkle_root(&exec.order) {
        return Some("ordered root");
    }
    if header.state_root != exec.outcome.state_root {
        return Some("state root");
    }
    if header.receipts_root != exec.outcome.receipts_root {
        return Some("receipts root");
    }
    if header.epoch != exec.outcome.epoch {
        return Some("epoch");
    }
    if header.next_committee != exec.outcome.next_committee {
        return Some("next committee");
    }
    None
}
