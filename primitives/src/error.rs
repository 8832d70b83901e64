//! The crate's error type.
use alloc::string::String;

/// Everything that can go wrong in this crate. Each variant says what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// SCALE bytes could not be decoded into the named type.
    #[error("cannot decode {what}: {reason}")]
    Decode {
        /// The type that was being decoded.
        what: &'static str,
        /// What the decoder reported.
        reason: String,
    },
    /// A hex string was not valid hex, or had the wrong length.
    #[error("invalid hex: {0}")]
    Hex(String),
    /// An SS58 address was malformed.
    #[error("invalid SS58 address: {0}")]
    Ss58(String),
    /// A secret URI could not be parsed or resolved.
    #[error("invalid secret URI: {0}")]
    SecretUri(String),
    /// A public key is not a valid ristretto point.
    #[error("invalid sr25519 public key: {0}")]
    PublicKey(String),
    /// A signature is malformed or does not verify.
    #[error("bad signature: {0}")]
    BadSignature(String),
    /// A finality certificate does not certify the header it is checked against.
    #[error("invalid finality certificate: {0}")]
    Certificate(String),
    /// A Merkle proof is malformed or does not lead to the expected root.
    #[error("invalid Merkle proof: {0}")]
    MerkleProof(String),
}

/// Result type of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;
