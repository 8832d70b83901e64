//! The crate's error type. Submission errors say what was wrong and what to do; the others say
//! which part of the validator failed.
use itc_primitives::{AccountId, Balance, Hash, MilestoneNumber, Nonce};

/// Everything that can go wrong in the chain service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The transaction's signature does not verify on this chain.
    #[error(
        "signature of {signer} does not verify on this chain; sign the payload with the signer's \
         key and genesis hash {genesis}"
    )]
    BadSignature {
        /// The claimed signer.
        signer: AccountId,
        /// This chain's genesis hash.
        genesis: Hash,
    },
    /// The nonce was used by a finalised transaction.
    #[error("nonce {nonce} already used; next nonce is {next}")]
    NonceUsed {
        /// The transaction's nonce.
        nonce: Nonce,
        /// The signer's next free nonce (pending transactions included).
        next: Nonce,
    },
    /// A pending transaction of the signer already carries this nonce.
    #[error("nonce {nonce} is already pending in the DAG; next nonce is {next}")]
    NoncePending {
        /// The transaction's nonce.
        nonce: Nonce,
        /// The signer's next free nonce (pending transactions included).
        next: Nonce,
    },
    /// The queue of transactions waiting for their signer's previous nonce is full.
    #[error(
        "nonce {nonce} waits for the signer's previous nonce, and {max} transactions already \
         wait; submit the missing nonces first"
    )]
    ParkedFull {
        /// The transaction's nonce.
        nonce: Nonce,
        /// The queue's capacity.
        max: usize,
    },
    /// The nonce is too far ahead of the account's nonce.
    #[error(
        "nonce {nonce} is too far ahead: the account's nonce is {account_nonce} and at most \
         {window} nonces may be pending; next nonce is {next}"
    )]
    NonceTooFar {
        /// The transaction's nonce.
        nonce: Nonce,
        /// The account's finalised nonce.
        account_nonce: Nonce,
        /// The nonce window.
        window: u64,
        /// The signer's next free nonce (pending transactions included).
        next: Nonce,
    },
    /// The signer's free balance does not cover the fee (plus the fees of its pending ones).
    #[error(
        "fee is {fee}, the signer has {free} free and {pending} is reserved by its pending \
         transactions; top up the account or wait for them to finalise"
    )]
    CannotPayFee {
        /// The fee of this transaction.
        fee: Balance,
        /// The signer's free balance.
        free: Balance,
        /// Fees of the signer's pending transactions.
        pending: Balance,
    },
    /// The transaction's mortality ended.
    #[error("transaction was valid until milestone {until}, the next is {next}; sign it again")]
    Expired {
        /// Its last valid milestone.
        until: MilestoneNumber,
        /// The next milestone.
        next: MilestoneNumber,
    },
    /// No proof of work was found within the attempt budget.
    #[error("no proof of work at difficulty {difficulty} within {attempts} attempts; retry")]
    PowNotFound {
        /// Required leading zero bits.
        difficulty: u32,
        /// Nonces tried.
        attempts: u64,
    },
    /// Bytes from a peer or client do not decode.
    #[error("malformed {what}: {reason}; the sender must re-encode it (SCALE)")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's complaint.
        reason: String,
    },
    /// The DAG refused a vertex or an operation.
    #[error(transparent)]
    Dag(#[from] itc_dag::Error),
    /// The runtime failed (state backend, genesis).
    #[error("runtime: {0}")]
    Runtime(#[from] itc_runtime::Error),
    /// The consensus machine could not be built.
    #[error("consensus: {0}")]
    Consensus(#[from] itc_consensus::Error),
    /// A vertex the DAG indexes is missing from its store.
    #[error("vertex {0} is indexed but missing from the DAG store; the store is damaged")]
    MissingVertex(Hash),
    /// A committed milestone's certificate does not verify.
    #[error("certificate of milestone {number} does not verify: {reason}")]
    Certificate {
        /// The milestone.
        number: MilestoneNumber,
        /// Why.
        reason: String,
    },
    /// Executing a certified milestone did not reproduce its header: this node's state or DAG
    /// diverged from the committee's. Stop the node and resync the state from a peer.
    #[error(
        "milestone {number} is certified but executing it here gives a different {what}; this \
         node diverged, stop it and resync from a peer"
    )]
    Divergence {
        /// The milestone.
        number: MilestoneNumber,
        /// Which root or field differs.
        what: &'static str,
    },
    /// What the node persisted cannot be reopened.
    #[error("cannot restore the validator: {0}")]
    Restore(String),
    /// The configuration is unusable.
    #[error("invalid chain configuration: {0}")]
    Config(String),
}

impl Error {
    /// Whether a received vertex or message is invalid whatever this node's state (see
    /// [`itc_dag::Error::is_invalid_by_itself`]): the peer that relayed it is at fault.
    pub fn is_invalid_by_itself(&self) -> bool {
        match self {
            Error::BadSignature { .. } | Error::Malformed { .. } => true,
            Error::Dag(e) => e.is_invalid_by_itself(),
            _ => false,
        }
    }
}

/// Result type of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;
