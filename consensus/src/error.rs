//! The crate's error type.

/// What went wrong in the consensus crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Peer bytes did not decode as a PBFT message.
    #[error(
        "malformed PBFT message: {0}; the peer sent bytes that are not a SCALE `SignedMessage`"
    )]
    Malformed(String),
    /// The configuration cannot work.
    #[error("invalid PBFT configuration: {0}")]
    Config(String),
    /// A persisted record could not be decoded or applied when restoring.
    #[error(
        "cannot restore from persisted records: {0}; the store is corrupt or from another chain"
    )]
    Restore(String),
}

/// Result type of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;
