//! The crate's error type: failures that stop a whole milestone (as opposed to a transaction's
//! [`crate::DispatchError`], which is recorded in its receipt and changes nothing else).
use itc_primitives::Hash;

/// Everything that can stop the runtime from applying a milestone or answering a query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The storage backend failed (I/O error, missing node).
    #[error("state backend failed: {0}; the node's database may be damaged, resync from a peer")]
    Backend(String),
    /// A stored value did not decode as the type its key says it holds.
    #[error("state is corrupt: key 0x{key} does not decode as {what}: {reason}")]
    CorruptState {
        /// Hex of the storage key.
        key: String,
        /// The type the key holds.
        what: &'static str,
        /// What the decoder reported.
        reason: String,
    },
    /// A milestone or a commit was applied out of order.
    #[error("state is at version {current:?}, cannot commit version {requested}; apply milestones in order")]
    VersionGap {
        /// The latest committed version, `None` before genesis.
        current: Option<u64>,
        /// The version that was requested.
        requested: u64,
    },
    /// A proof was requested for a version that was never committed (or was pruned).
    #[error("no state at version {0}: it was never committed or has been pruned")]
    UnknownVersion(u64),
    /// A state proof does not verify.
    #[error("state proof does not verify against root {root:?}: {reason}")]
    BadProof {
        /// The root the proof was checked against.
        root: Hash,
        /// Why it failed.
        reason: String,
    },
    /// The genesis configuration is inconsistent.
    #[error("invalid genesis config: {0}")]
    Genesis(String),
}

/// Result type of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;
