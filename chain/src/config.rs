//! Tunables of the chain service.
use itc_primitives::milestone::MAX_MILESTONE_TIPS;

use crate::{Error, Result};

/// The default heartbeat of an idle chain: an empty milestone every 5 s (17,280 a day; a
/// chain with transactions finalises as soon as they arrive, whatever this is).
pub const DEFAULT_IDLE_PROPOSE_MS: u64 = 5_000;

/// The default [`ChainConfig::pipeline_min_batch`]. At 1,000 transfers a second a milestone
/// carries ~10 and pipelining them cost ~1 ms of p50 on the 2-core bench machine; saturated,
/// milestones carry hundreds and pipelining cut p50 by a third (README, session 13).
pub const DEFAULT_PIPELINE_MIN_BATCH: usize = 64;

/// The default [`ChainConfig::parked_timeout_ms`]: 30 s, ample for gossip to bring the previous
/// nonce from another node (milliseconds) or the tips exchange to find it (every 2 s).
pub const DEFAULT_PARKED_TIMEOUT_MS: u64 = 30_000;

/// The default [`ChainConfig::censorship_timeout_ms`]: 10 s, five rounds of the node's tips
/// exchange.
pub const DEFAULT_CENSORSHIP_TIMEOUT_MS: u64 = 10_000;

/// Configuration of a [`crate::Validator`]. Every validator of a chain must use the same
/// `max_batch` (it is a validity rule for proposals) and the same consensus timing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainConfig {
    /// PBFT tunables (checkpoint interval, window, timeouts).
    pub consensus: itc_consensus::Config,
    /// Most vertices one milestone confirms; a proposal over more pending vertices takes the
    /// first `max_batch` of the deterministic order (a prefix is closed under parents).
    pub max_batch: usize,
    /// Most tips one milestone references (at most [`MAX_MILESTONE_TIPS`]).
    pub max_tips: usize,
    /// The primary proposes milestone `n + 1` before `n` is final (pipelining: as soon as it
    /// sent its commit for `n`, on `n`'s speculative state) only with at least this many new
    /// vertices; with fewer it waits for `n` as without pipelining. Each milestone costs a
    /// round of signatures, fsyncs and gossip on every validator: small pipelined milestones
    /// cost more than the wait they save, large ones overlap execution with the round in
    /// flight. Any value is safe; the validators need not agree on it.
    pub pipeline_min_batch: usize,
    /// A submitted transaction's nonce must be below the account's nonce plus this.
    pub nonce_window: u64,
    /// A client transaction whose signer's previous nonce has not reached this node waits
    /// (parked, see [`crate::Validator::submit_transaction`]) at most this long for it, then is
    /// dropped with a reason
    /// `tx_status` reports.
    pub parked_timeout_ms: u64,
    /// Parents chosen by tip selection for the vertices this node attaches (1 to 8).
    pub parents_per_vertex: usize,
    /// Most nonces tried when mining an attachment.
    pub max_pow_attempts: u64,
    /// With nothing new in the DAG, the primary proposes an empty milestone after this long: a
    /// heartbeat that runs the runtime's milestone hooks (market and job deadlines, epochs are
    /// counted in milestones) and shows the chain alive. The replicas' view-change timers run
    /// only while the primary owes a milestone ([`itc_consensus::Input::Pending`]): one for the
    /// DAG's unconfirmed vertices, or this heartbeat once overdue. So a silent primary of an idle
    /// chain is replaced within `idle_propose_ms` plus the view-change timeout, and the value
    /// may exceed `consensus.base_timeout_ms`.
    pub idle_propose_ms: u64,
    /// A vertex this validator has held this long, skipped by a milestone with room for it that
    /// committed at least half this long after it arrived (one confirming a vertex that arrived
    /// here later, or nothing), makes the validator suspect the primary of censorship and move
    /// to the next view (PBFT's per-request timer; see the crate docs). Counted from the later
    /// of the vertex's arrival and the view's start. Must exceed the time a vertex takes to
    /// reach the primary (gossip, or the node's tips exchange every 2 s).
    pub censorship_timeout_ms: u64,
    /// A proposal's timestamp may be at most this far ahead of the validating node's clock.
    pub max_clock_drift_ms: u64,
    /// Seed of tip selection for attachments (mixed with a counter): same seed, same DAG.
    pub attach_seed: [u8; 32],
    /// Finalised milestones kept in memory with their receipts, for [`crate::Validator::milestone`],
    /// [`crate::Validator::tx_status`] and state transfer; older ones are only in the node's
    /// store. Bounds the validator's memory, and what [`crate::Validator::restore`] reloads.
    pub retain_milestones: u64,
}

impl Default for ChainConfig {
    fn default() -> Self {
        let consensus = itc_consensus::Config::default();
        ChainConfig {
            consensus,
            idle_propose_ms: DEFAULT_IDLE_PROPOSE_MS,
            censorship_timeout_ms: DEFAULT_CENSORSHIP_TIMEOUT_MS,
            max_batch: 4_096,
            max_tips: 1_024,
            pipeline_min_batch: DEFAULT_PIPELINE_MIN_BATCH,
            nonce_window: 64,
            parked_timeout_ms: DEFAULT_PARKED_TIMEOUT_MS,
            parents_per_vertex: 2,
            max_pow_attempts: 1 << 28,
            max_clock_drift_ms: 30_000,
            attach_seed: [0; 32],
            retain_milestones: 512,
        }
    }
}

impl ChainConfig {
    /// Checks the values are usable together.
    pub fn validate(&self) -> Result<()> {
        self.consensus.check()?;
        if self.max_batch == 0 {
            return Err(Error::Config("max_batch is 0; use at least 1".into()));
        }
        if self.max_tips == 0 || self.max_tips > MAX_MILESTONE_TIPS {
            return Err(Error::Config(format!(
                "max_tips is {}; use 1 to {MAX_MILESTONE_TIPS}",
                self.max_tips
            )));
        }
        if !(1..=itc_primitives::MAX_PARENTS).contains(&self.parents_per_vertex) {
            return Err(Error::Config(format!(
                "parents_per_vertex is {}; use 1 to {}",
                self.parents_per_vertex,
                itc_primitives::MAX_PARENTS
            )));
        }
        if self.retain_milestones == 0 {
            return Err(Error::Config("retain_milestones is 0; use at least 1".into()));
        }
        if self.nonce_window == 0 {
            return Err(Error::Config("nonce_window is 0; use at least 1".into()));
        }
        if self.idle_propose_ms == 0 {
            return Err(Error::Config(
                "idle_propose_ms is 0, which proposes empty milestones back to back; use at \
                 least 1 (the default is 5000)"
                    .into(),
            ));
        }
        if self.censorship_timeout_ms < 2 {
            return Err(Error::Config(format!(
                "censorship_timeout_ms is {}; use at least 2 (the default is \
                 {DEFAULT_CENSORSHIP_TIMEOUT_MS})",
                self.censorship_timeout_ms
            )));
        }
        Ok(())
    }
}
