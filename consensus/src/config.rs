//! Replica configuration and the starting point of a chain.
use itc_primitives::{Committee, Hash, MilestoneHeader};

use crate::{Error, Result, SeqNo};

/// Tunables of a replica. All replicas of a committee must use the same `checkpoint_interval` and
/// `window`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// K: a checkpoint is taken after every milestone whose number is a multiple of K (PBFT §4.3).
    pub checkpoint_interval: u64,
    /// L: the high watermark is the low watermark plus L (PBFT §4.3). Must be at least 2K so the
    /// next checkpoint can be reached before the window closes.
    pub window: u64,
    /// T: the first view-change timeout in (caller-defined) milliseconds (PBFT §4.4).
    pub base_timeout_ms: u64,
    /// The view-change timeout doubles after every view that fails, up to this cap.
    pub max_timeout_ms: u64,
    /// How many certified milestones are kept in memory to serve state transfer.
    pub retain_certified: usize,
    /// Test-only: overrides the quorum size used for prepares, commits, checkpoints and view
    /// changes. A value below n − f is UNSAFE; it exists so that the simulator can prove it
    /// catches the resulting safety violations.
    #[doc(hidden)]
    pub unsafe_quorum_for_tests: Option<usize>,
    /// Test-only: a restored replica skips the restart fence of
    /// [`crate::PersistRecord::durability`]. UNSAFE with buffered prepares; it exists so that
    /// the simulator can prove it catches the resulting equivocation.
    #[doc(hidden)]
    pub unsafe_no_restart_fence_for_tests: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            checkpoint_interval: 8,
            window: 16,
            base_timeout_ms: 1_000,
            max_timeout_ms: 32_000,
            retain_certified: 256,
            unsafe_quorum_for_tests: None,
            unsafe_no_restart_fence_for_tests: false,
        }
    }
}

impl Config {
    /// Checks the configuration.
    pub fn check(&self) -> Result<()> {
        if self.checkpoint_interval == 0 {
            return Err(Error::Config("checkpoint_interval must be at least 1".into()));
        }
        if self.window < 2 * self.checkpoint_interval {
            return Err(Error::Config(format!(
                "window {} is below twice the checkpoint interval {}; raise the window",
                self.window, self.checkpoint_interval
            )));
        }
        if self.window > crate::message::MAX_PREPARED as u64 {
            return Err(Error::Config(format!(
                "window {} exceeds {} (the bound on prepared certificates per view change)",
                self.window,
                crate::message::MAX_PREPARED
            )));
        }
        if self.base_timeout_ms == 0 || self.max_timeout_ms < self.base_timeout_ms {
            return Err(Error::Config(
                "timeouts must satisfy 0 < base_timeout_ms <= max_timeout_ms".into(),
            ));
        }
        Ok(())
    }
}

/// Where a replica starts: the committee of the first epoch and the last milestone before it
/// (for a new chain, the genesis header, number 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Genesis {
    /// The committee of `epoch`.
    pub committee: Committee,
    /// The number of the base milestone (genesis = 0).
    pub base_number: SeqNo,
    /// The hash of the base milestone.
    pub base_hash: Hash,
}

impl Genesis {
    /// Starts after `header` (usually the genesis header) with `committee`.
    pub fn after(header: &MilestoneHeader, committee: Committee) -> Self {
        Genesis { committee, base_number: header.number, base_hash: header.hash() }
    }
}
