//! [`Ext`]: what a module sees while executing: the state overlay, the milestone context, the
//! chain parameters, and the event buffer of the current transaction.
use itc_primitives::{AccountId, Balance, Hash, MilestoneNumber};
use parity_scale_codec::{Decode, Encode};

use crate::{
    dispatch::RuntimeEvent,
    modules::system::{self, Parameters},
    state::{KeyValue, Overlay, StateBackend},
    Result,
};

/// The milestone being executed, as PBFT agreed on it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct MilestoneContext {
    /// The milestone number (genesis is 0, so executed milestones start at 1).
    pub number: MilestoneNumber,
    /// The proposer's timestamp, milliseconds since the Unix epoch (from the header, never a
    /// local clock).
    pub timestamp_ms: u64,
    /// The genesis hash of the chain (transactions are signed over it).
    pub genesis_hash: Hash,
    /// The primary that proposed the milestone; it receives the milestone's fees.
    pub proposer: AccountId,
}

/// The execution context of one milestone.
pub struct Ext<'a> {
    overlay: Overlay<'a>,
    ctx: MilestoneContext,
    params: Parameters,
    events: Vec<RuntimeEvent>,
    fees: Balance,
}

impl<'a> Ext<'a> {
    /// A context over `backend` for executing milestone `ctx` (reads the chain parameters).
    pub fn new(backend: &'a dyn StateBackend, ctx: MilestoneContext) -> Result<Self> {
        let mut ext = Ext {
            overlay: Overlay::new(backend),
            ctx,
            params: Parameters::default(),
            events: Vec::new(),
            fees: 0,
        };
        ext.params = system::PARAMETERS.get(&ext)?.unwrap_or_default();
        Ok(ext)
    }

    /// A read-only view of the latest state, for queries (RPC, the proxy and executor services).
    /// The context is that of the milestone after the latest one (so `now()` is the milestone
    /// the next transactions will execute in); its genesis hash and proposer are zero, as
    /// queries do not use them.
    pub fn view(backend: &'a dyn StateBackend, timestamp_ms: u64) -> Result<Self> {
        let number = backend.version().map_or(0, |v| v + 1);
        Self::new(
            backend,
            MilestoneContext {
                number,
                timestamp_ms,
                genesis_hash: Hash::ZERO,
                proposer: AccountId::default(),
            },
        )
    }

    /// The milestone being executed.
    pub fn ctx(&self) -> &MilestoneContext {
        &self.ctx
    }

    /// The milestone number being executed.
    pub fn now(&self) -> MilestoneNumber {
        self.ctx.number
    }

    /// The epoch of the milestone being executed: `number / epoch_length`.
    pub fn epoch(&self) -> u64 {
        self.ctx.number / self.params.epoch_length.max(1)
    }

    /// The chain parameters (read once per milestone).
    pub fn params(&self) -> &Parameters {
        &self.params
    }

    /// Replaces the cached parameters (genesis only).
    pub(crate) fn set_params(&mut self, params: Parameters) {
        system::PARAMETERS.put(self, &params);
        self.params = params;
    }

    /// Records an event of the current transaction (or hook).
    pub fn deposit_event(&mut self, event: impl Into<RuntimeEvent>) {
        self.events.push(event.into());
    }

    /// Takes the events recorded since the last call.
    pub fn take_events(&mut self) -> Vec<RuntimeEvent> {
        std::mem::take(&mut self.events)
    }

    /// Adds to the fees collected in this milestone (paid to the proposer at its end).
    pub(crate) fn add_fee(&mut self, fee: Balance) {
        self.fees = self.fees.saturating_add(fee);
    }

    /// Takes the fees collected so far.
    pub(crate) fn take_fees(&mut self) -> Balance {
        std::mem::take(&mut self.fees)
    }

    /// Keeps the current transaction's writes.
    pub(crate) fn commit_tx(&mut self) {
        self.overlay.commit_tx();
    }

    /// Drops the current transaction's writes and events.
    pub(crate) fn rollback_tx(&mut self) {
        self.overlay.rollback_tx();
        self.events.clear();
    }

    /// Consumes the context, returning the milestone's writes in key order.
    pub(crate) fn into_changes(self) -> std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>> {
        self.overlay.into_changes()
    }

    /// Raw read.
    pub fn raw_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.overlay.get(key)
    }

    /// Raw write.
    pub fn raw_put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.overlay.put(key, value);
    }

    /// Raw delete.
    pub fn raw_delete(&mut self, key: Vec<u8>) {
        self.overlay.delete(key);
    }

    /// Raw prefix iteration, ascending.
    pub fn raw_iter_prefix(&self, prefix: &[u8]) -> Result<Vec<KeyValue>> {
        self.overlay.iter_prefix(prefix)
    }
}
