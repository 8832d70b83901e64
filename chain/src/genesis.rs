//! The genesis milestone: built from the runtime's genesis state.
//!
//! The genesis header is milestone 0: `parent` zero, epoch 0, no tips, `ordered_root` and
//! `receipts_root` the empty Merkle root, `state_root` the runtime's genesis root (version 0),
//! `timestamp_ms` from the caller (the chain spec), `proposer` the zero key and
//! `next_committee: Some(committee of epoch 0)`: genesis plays the last milestone of "epoch −1",
//! so a light client learns the first committee from it exactly as it learns every later one.
//! Its hash is the genesis hash: transactions sign over it and the DAG uses it as its first
//! entry point.
use itc_primitives::{merkle::empty_root, AccountId, BoundedVec, Committee, Hash, MilestoneHeader};
use itc_runtime::{build_genesis, modules::committee, Ext, GenesisConfig, StateBackend};

use crate::{Error, Result};

/// The genesis milestone and the committee of epoch 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Genesis {
    /// Milestone 0.
    pub header: MilestoneHeader,
    /// The committee of epoch 0 (also `header.next_committee`).
    pub committee: Committee,
}

impl Genesis {
    /// The genesis hash.
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }
}

/// Writes the genesis state of `config` into the empty `backend` (version 0) and builds the
/// genesis header.
pub fn build<B: StateBackend>(
    backend: &mut B,
    config: &GenesisConfig,
    timestamp_ms: u64,
) -> Result<Genesis> {
    let state_root = build_genesis(backend, config)?;
    let committee = {
        let ext = Ext::view(&*backend, timestamp_ms)?;
        committee::current(&ext)?
    }
    .ok_or_else(|| Error::Config("the genesis state names no committee".into()))?;
    let header = MilestoneHeader {
        number: 0,
        parent: Hash::ZERO,
        epoch: 0,
        tips: BoundedVec::default(),
        ordered_root: empty_root(),
        vertex_count: 0,
        state_root,
        receipts_root: empty_root(),
        timestamp_ms,
        proposer: AccountId::default(),
        next_committee: Some(committee.clone()),
    };
    Ok(Genesis { header, committee })
}
