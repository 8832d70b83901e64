//! Reputation scores (CPChain DPoR) and the hooks other modules call to update them.
use itc_primitives::AccountId;
use parity_scale_codec::{Decode, Encode};

use super::REPUTATION;
use crate::{ext::Ext, Result};

/// Each component saturates at this value, so no one component dominates forever.
pub const REPUTATION_CAP: u32 = 10_000;

/// An account's reputation. Integer counters (no floats in state).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct Reputation {
    /// Milestones proposed.
    #[codec(compact)]
    pub uptime: u32,
    /// Proxy deliveries confirmed, less those whose dispute the buyer won.
    #[codec(compact)]
    pub proxy_reliability: u32,
    /// Dispute votes cast with the final majority, less those against it.
    #[codec(compact)]
    pub dispute_outcomes: u32,
    /// Data contribution: thousands of records paid for by analytics jobs (rounded up).
    #[codec(compact)]
    pub data_contribution: u32,
}

impl Reputation {
    /// The election score: `uptime + 2·proxy_reliability + 2·dispute_outcomes +
    /// data_contribution`.
    pub fn score(&self) -> u64 {
        u64::from(self.uptime)
            + 2 * u64::from(self.proxy_reliability)
            + 2 * u64::from(self.dispute_outcomes)
            + u64::from(self.data_contribution)
    }
}

/// Which component to change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    /// [`Reputation::uptime`].
    Uptime,
    /// [`Reputation::proxy_reliability`].
    ProxyReliability,
    /// [`Reputation::dispute_outcomes`].
    DisputeOutcomes,
    /// [`Reputation::data_contribution`].
    DataContribution,
}

/// Adds `delta` (negative to penalise) to one component of `who`'s reputation, within
/// `0..=REPUTATION_CAP`.
pub fn adjust(ext: &mut Ext<'_>, who: &AccountId, component: Component, delta: i64) -> Result<()> {
    let mut rep = REPUTATION.get_or_default(ext, who)?;
    let field = match component {
        Component::Uptime => &mut rep.uptime,
        Component::ProxyReliability => &mut rep.proxy_reliability,
        Component::DisputeOutcomes => &mut rep.dispute_outcomes,
        Component::DataContribution => &mut rep.data_contribution,
    };
    let updated = (i64::from(*field) + delta).clamp(0, i64::from(REPUTATION_CAP));
    *field = u32::try_from(updated).unwrap_or(REPUTATION_CAP);
    REPUTATION.insert(ext, who, &rep);
    Ok(())
}
