//! The crate's error type: one variant per check, each saying what was wrong and what to do.
use itc_primitives::{AccountId, Hash, MilestoneNumber};

/// Everything that can go wrong in the DAG.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The bytes are not a SCALE-encoded vertex (truncated, trailing bytes, more than 8 parents…).
    #[error("malformed vertex bytes: {0}; the peer sent an invalid vertex, drop it")]
    Malformed(String),
    /// The encoded vertex is larger than the configured limit.
    #[error("vertex {hash:?} is {size} bytes encoded, at most {max} allowed; split the call")]
    TooLarge {
        /// The vertex hash, if it was computed before the check failed.
        hash: Option<Hash>,
        /// Encoded size in bytes.
        size: usize,
        /// The limit ([`crate::DagConfig::max_vertex_bytes`]).
        max: usize,
    },
    /// The vertex has no parents, or more than [`itc_primitives::MAX_PARENTS`].
    #[error("vertex {hash} has {count} parents; a vertex needs 1 to 8 distinct parents")]
    ParentCount {
        /// The vertex hash.
        hash: Hash,
        /// How many parents it lists.
        count: usize,
    },
    /// The same parent is listed twice.
    #[error("vertex {hash} lists parent {parent} twice; parents must be distinct")]
    DuplicateParent {
        /// The vertex hash.
        hash: Hash,
        /// The repeated parent.
        parent: Hash,
    },
    /// The vertex lists itself as a parent.
    #[error("vertex {hash} lists itself as a parent; a vertex can only approve older vertices")]
    SelfReference {
        /// The vertex hash.
        hash: Hash,
    },
    /// The vertex hash does not have the leading zero bits the signer's security level needs.
    #[error(
        "vertex {hash} has {leading_zero_bits} leading zero bits, signer {signer} needs \
         {required}; mine the attachment with Vertex::mine at difficulty {required}"
    )]
    InsufficientPow {
        /// The vertex hash (which is the PoW hash).
        hash: Hash,
        /// The signer whose security level sets the difficulty.
        signer: AccountId,
        /// Leading zero bits of the hash.
        leading_zero_bits: u32,
        /// Required leading zero bits.
        required: u32,
    },
    /// The transaction's signature does not verify on this chain.
    #[error(
        "vertex {hash}: signature of {signer} does not verify on this chain; re-sign the \
         transaction with the signer's key and this chain's genesis hash"
    )]
    BadSignature {
        /// The vertex hash.
        hash: Hash,
        /// The claimed signer.
        signer: AccountId,
    },
    /// The vertex is already known (attached, pruned to the store, or waiting as an orphan).
    #[error("vertex {hash} is already known; nothing to do")]
    Duplicate {
        /// The vertex hash.
        hash: Hash,
    },
    /// A milestone names a tip this node does not have attached.
    #[error("milestone tip {hash} is not attached here; fetch it and its ancestors, then confirm")]
    UnknownTip {
        /// The unknown tip.
        hash: Hash,
    },
    /// Milestones must be confirmed in increasing order.
    #[error("milestone {number} is not after the latest confirmed milestone {latest}")]
    MilestoneOutOfOrder {
        /// The milestone being confirmed.
        number: MilestoneNumber,
        /// The latest milestone already confirmed.
        latest: MilestoneNumber,
    },
    /// Tip selection found nothing to attach to.
    #[error("no tip to attach to: the DAG has no entry point in memory; add one (genesis)")]
    NoTips,
    /// The configuration is inconsistent.
    #[error("invalid DAG configuration: {0}")]
    Config(String),
    /// The storage backend failed.
    #[error("DAG store failure: {0}")]
    Store(String),
}

impl Error {
    /// Whether the vertex is invalid whatever the DAG and the state hold (bad encoding, size,
    /// parent list or signature): every honest node refuses it, so whoever relayed it did not
    /// check it. Other refusals (a duplicate, too little PoW for the signer's current level, an
    /// unknown tip) depend on what the receiver knows and blame nobody.
    pub fn is_invalid_by_itself(&self) -> bool {
        matches!(
            self,
            Error::Malformed(_)
                | Error::TooLarge { .. }
                | Error::ParentCount { .. }
                | Error::DuplicateParent { .. }
                | Error::SelfReference { .. }
                | Error::BadSignature { .. }
        )
    }
}

/// Result type of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_intrinsic_faults_blame_the_sender() {
        let h = Hash([1; 32]);
        let signer: AccountId = itc_primitives::Public([2; 32]);
        let intrinsic = [
            Error::Malformed("short".into()),
            Error::TooLarge { hash: None, size: 10, max: 5 },
            Error::ParentCount { hash: h, count: 0 },
            Error::DuplicateParent { hash: h, parent: h },
            Error::SelfReference { hash: h },
            Error::BadSignature { hash: h, signer },
        ];
        assert!(intrinsic.iter().all(Error::is_invalid_by_itself));
        // These depend on what the receiver knows (its DAG, the signer's current level).
        let contextual = [
            Error::Duplicate { hash: h },
            Error::UnknownTip { hash: h },
            Error::InsufficientPow { hash: h, signer, leading_zero_bits: 3, required: 8 },
            Error::NoTips,
        ];
        assert!(!contextual.iter().any(Error::is_invalid_by_itself));
    }
}
