//! ITC primitives: the types and rules every other ITC crate agrees on.
//!
//! - [`hash`]: blake2b-256 and the [`struct@Hash`] type.
//! - [`crypto`]: sr25519 keys and signatures through schnorrkel, with Substrate's signing context
//!   `b"substrate"`, so that signatures interoperate with Substrate wallets.
//! - [`uri`]: secret URIs (`phrase//hard/soft///password`) resolved exactly as Substrate's `subkey`.
//! - [`ss58`]: SS58 addresses with checksum (ITC uses prefix 42, the generic Substrate prefix).
//! - [`tx`], [`vertex`], [`milestone`]: the transaction, the DAG vertex, the milestone header and its
//!   finality certificate.
//! - [`dataset`]: dataset schemas, record values and analytics policies.
//! - [`merkle`]: a binary Merkle tree with inclusion proofs; verification works in `no_std`.
//! - [`codec`]: SCALE helpers: decoding untrusted bytes under a depth limit, rejecting trailing
//!   bytes, and a length-bounded vector.
//!
//! The crate does no I/O, reads no clock and draws no randomness except in [`crypto::Pair::generate`]
//! (which needs the `std` feature). Without the default `std` feature it builds as `no_std + alloc`.
//! Every wire format is documented with test vectors in `docs/formats.md`.
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

extern crate alloc;

pub mod codec;
pub mod crypto;
pub mod dataset;
mod error;
pub mod hash;
pub mod merkle;
pub mod milestone;
pub mod ss58;
pub mod tx;
pub mod uri;
pub mod vertex;

pub use codec::{decode_untrusted, BoundedVec, MAX_DECODE_DEPTH};
#[cfg(feature = "std")]
pub use crypto::Pair;
pub use crypto::{Public, Signature, SIGNING_CONTEXT};
pub use error::{Error, Result};
pub use hash::{blake2_256, Hash};
pub use milestone::{Committee, FinalityCertificate, MilestoneHeader, MilestoneNumber};
pub use tx::{Mortality, SignedPayload, Transaction};
pub use vertex::{Vertex, MAX_PARENTS};

/// An account: the 32-byte sr25519 public key of its owner (as in Substrate).
pub type AccountId = Public;
/// An amount of ITC in its smallest unit (1 ITC = 10^12 units, see [`UNITS_PER_ITC`]).
pub type Balance = u128;
/// A per-account transaction counter; the next transaction of an account must carry its nonce.
pub type Nonce = u64;

/// Number of smallest units in one ITC (12 decimals, as DOT's planck and Substrate's dev chain).
pub const UNITS_PER_ITC: Balance = 1_000_000_000_000;
