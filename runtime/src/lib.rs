//! The ITC runtime: the state-transition function applied to every finalised milestone.
//!
//! - [`state`]: the authenticated state ([`StateBackend`] port; [`MemoryBackend`]; [`JmtBackend`]
//!   over any database behind the [`KvStore`] port; JMT state roots and [`StateProof`]s),
//!   versioned by milestone number.
//! - [`dispatch`]: [`RuntimeCall`] (the SCALE call inside `Transaction::call`), receipts, and
//!   [`apply_milestone`], which executes a milestone's ordered vertices and returns the receipts
//!   root, the state root and, at an epoch's end, the next committee — everything the
//!   `MilestoneHeader` needs.
//! - [`modules`]: system, balances, datasets, access, market (PDash), chaincode jobs and
//!   committee (DPoR), written as FRAME pallets without the macros.
//! - [`genesis`]: [`GenesisConfig`] (with the `--dev` accounts //Alice … //Ferdie) and
//!   [`build_genesis`].
//!
//! The runtime is a pure function of its inputs: no clock (time comes from the milestone
//! header), no randomness, no floating point in state, no hash-map iteration order in any
//! output. The same vertices on the same state give the same receipts and roots everywhere.
//!
//! # Formats
//! Everything is SCALE. The call is `module index ++ call index ++ fields` with the indices
//! written on the enums (`#[codec(index = …)]`); storage keys are `[module, item] ++
//! SCALE(key)` (see [`storage`]); a [`Receipt`] is SCALE in field order and its blake2b-256 is a
//! leaf of the receipts root. `docs/formats.md` in this crate lists every module's calls and
//! storage items; test vectors are asserted in `tests/runtime/vectors.rs`.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod dispatch;
mod error;
pub mod ext;
pub mod genesis;
pub mod modules;
pub mod state;
pub mod storage;

pub use dispatch::{
    apply_milestone, CallError, DispatchError, InvalidTx, MilestoneOutcome, ModuleError, Outcome,
    Receipt, RuntimeCall, RuntimeEvent,
};
pub use error::{Error, Result};
pub use ext::{Ext, MilestoneContext};
pub use genesis::{build_genesis, GenesisConfig};
pub use modules::system::Parameters;
pub use state::{JmtBackend, KvStore, MemoryBackend, StateBackend, StateProof};
