//! Tunables of the DAG, and the port through which the runtime supplies PoW difficulty.
use itc_primitives::{AccountId, Hash, MilestoneNumber};

use crate::{Error, Result};

/// The PoW difficulty (leading zero bits of the vertex hash) a signer must meet.
///
/// The runtime's state holds the table of security levels; the DAG only asks. Any
/// `Fn(&AccountId) -> u32` is a `Difficulty`.
pub trait Difficulty {
    /// Required leading zero bits for vertices signed by `signer`.
    fn required_bits(&self, signer: &AccountId) -> u32;
}

impl<F: Fn(&AccountId) -> u32> Difficulty for F {
    fn required_bits(&self, signer: &AccountId) -> u32 {
        self(signer)
    }
}

/// The same difficulty for every signer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedDifficulty(pub u32);

impl Difficulty for FixedDifficulty {
    fn required_bits(&self, _signer: &AccountId) -> u32 {
        self.0
    }
}

/// DAG configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct DagConfig {
    /// The chain's genesis hash: transaction signatures are checked against it, and it is the
    /// DAG's first entry point (confirmed by milestone 0), which the first vertices approve.
    pub genesis_hash: Hash,
    /// Largest accepted SCALE-encoded vertex, in bytes.
    pub max_vertex_bytes: usize,
    /// Most orphans (vertices with unknown parents) held at once.
    pub max_orphans: usize,
    /// Most bytes of encoded orphans held at once.
    pub max_orphan_bytes: usize,
    /// IOTA MCMC's alpha: the walk moves to approver `y` with probability ∝ `exp(alpha · w(y))`.
    /// 0 is an unweighted random walk; large values follow the heaviest branch.
    pub alpha: f64,
    /// A tip is lazy, and never selected, when the newest milestone its parents reach is more than
    /// this many milestones behind the latest one.
    pub lazy_after: MilestoneNumber,
    /// Vertices confirmed more than this many milestones ago leave memory (they stay in the store).
    pub prune_after: MilestoneNumber,
    /// Cumulative weight saturates here. An ancestor always weighs at least as much as its
    /// descendant, so the incremental update stops at saturated vertices: this bounds the work of
    /// one insertion. Confidence is "at least `weight_cap`" beyond it.
    pub weight_cap: u32,
    /// A tip-selection walk longer than this falls back to a uniform choice.
    pub max_walk_steps: usize,
}

impl DagConfig {
    /// Defaults for the chain with genesis hash `genesis_hash`.
    pub fn new(genesis_hash: Hash) -> Self {
        DagConfig {
            genesis_hash,
            max_vertex_bytes: 16 * 1024,
            max_orphans: 10_000,
            max_orphan_bytes: 32 * 1024 * 1024,
            alpha: 0.01,
            lazy_after: 15,
            prune_after: 50,
            weight_cap: 64,
            max_walk_steps: 100_000,
        }
    }

    /// Checks that the values are usable together.
    pub fn validate(&self) -> Result<()> {
        if self.max_orphan_bytes < self.max_vertex_bytes {
            return Err(Error::Config(format!(
                "max_orphan_bytes ({}) is below max_vertex_bytes ({}); one orphan must fit",
                self.max_orphan_bytes, self.max_vertex_bytes
            )));
        }
        if !self.alpha.is_finite() || self.alpha < 0.0 {
            return Err(Error::Config(format!("alpha is {}; use a finite value ≥ 0", self.alpha)));
        }
        if self.weight_cap < 1 {
            return Err(Error::Config("weight_cap is 0; use at least 1".into()));
        }
        Ok(())
    }
}
