//! The ITC transaction DAG: a pure core with no I/O, no clock and no OS randomness.
//!
//! - [`validate`]: stateless vertex checks (size, 1–8 distinct parents, no self-reference, PoW
//!   at the signer's difficulty, signature, batch signature verification).
//! - [`Dag`]: admission (duplicates, orphans, attachment), tips, seeded tip selection (IOTA
//!   MCMC with alpha, uniform fallback, lazy tips excluded), incremental cumulative weight,
//!   milestone confirmation with the deterministic order, pruning, and [`Dag::restore`] to
//!   rebuild the in-memory part from the store after a restart.
//! - [`orphans`]: the bounded orphan pool.
//! - [`store`]: the storage port [`DagStore`] and the in-memory [`MemoryStore`].
//!
//! The vertex format, its hash and the light PoW are `itc_primitives::vertex`'s:
//! `hash = blake2b-256(tx_hash ++ SCALE(parents) ++ pow_nonce as u64 LE)`, and a vertex meets
//! difficulty `d` when its hash has `d` leading zero bits. The DAG takes the difficulty as an
//! input ([`Difficulty`]), because the runtime's state holds the table of security levels.
//!
//! # Order of a milestone
//! [`Dag::confirm`] takes the milestone's tips, collects their past cone less everything
//! earlier milestones confirmed, and orders it topologically (parents first) breaking ties by the
//! smallest vertex hash (Kahn's algorithm with a min-heap). The result is a function of the
//! vertices alone, so every node gets the same order whatever the arrival order.
//!
//! # Stored format
//! Vertices are stored as given ([`itc_primitives::Vertex`]); their metadata as SCALE
//! [`VertexMeta`], documented with a test vector in [`store`].
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod config;
mod dag;
mod error;
mod graph;
mod order;
pub mod orphans;
pub mod store;
mod tipsel;
pub mod validate;

pub use config::{DagConfig, Difficulty, FixedDifficulty};
pub use dag::{Attachment, Confidence, Dag, InsertOutcome};
pub use error::{Error, Result};
pub use store::{Confirmation, DagStore, MemoryStore, VertexMeta};
pub use validate::PreparedVertex;
