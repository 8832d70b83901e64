//! The crate's error type: one enum, each variant saying what was wrong and what to do.

/// Everything that can go wrong in the vault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SCALE bytes (a manifest, a chunk envelope, a sealed kfrag) could not be decoded.
    #[error("cannot decode {what}: {reason}; the bytes are truncated or not of this type")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// What the decoder reported.
        reason: String,
    },
    /// A record batch is malformed, or does not match the schema it is read with.
    #[error("invalid record batch: {0}")]
    Records(String),
    /// A record does not fit the dataset's schema.
    #[error("record {index} does not fit the schema: {reason}")]
    RecordSchema {
        /// Position of the record in the batch.
        index: usize,
        /// What did not fit.
        reason: String,
    },
    /// The schema itself is invalid.
    #[error("invalid schema: {0}")]
    Schema(String),
    /// A seal configuration value is out of range.
    #[error("invalid seal configuration: {0}")]
    Config(String),
    /// A manifest is internally inconsistent (sizes, counts, version).
    #[error("invalid interval manifest: {0}")]
    Manifest(String),
    /// A fetched chunk does not hash to the value committed in the manifest's Merkle root.
    #[error(
        "chunk {chunk} of interval {interval} failed its integrity check ({reason}); it was \
         tampered with or corrupted in storage: fetch it from another replica"
    )]
    ChunkIntegrity {
        /// Interval index.
        interval: u64,
        /// Chunk index.
        chunk: u32,
        /// What failed.
        reason: String,
    },
    /// A chunk passed its hash check but does not decrypt under the key given.
    #[error(
        "chunk {chunk} of interval {interval} does not decrypt under this data key; the key is \
         wrong (opened for another interval or dataset?)"
    )]
    ChunkDecrypt {
        /// Interval index.
        interval: u64,
        /// Chunk index.
        chunk: u32,
    },
    /// Decompressing an interval failed or produced a size other than the manifest's.
    #[error("interval {interval} does not decompress: {reason}")]
    Decompress {
        /// Interval index.
        interval: u64,
        /// What went wrong.
        reason: String,
    },
    /// An `otp://` URI is malformed.
    #[error(
        "invalid OTP URI `{uri}`: {reason}; expected otp://<64 hex dataset id>/<interval>/<chunk>"
    )]
    Uri {
        /// The URI as given.
        uri: String,
        /// What was wrong.
        reason: String,
    },
    /// A chunk is not in storage (never uploaded, or deleted: crypto-shredded).
    #[error("chunk {uri} is not in storage (never uploaded, or deleted)")]
    ChunkMissing {
        /// The chunk's URI.
        uri: String,
    },
    /// No storage backend is registered for a dataset.
    #[error("no storage backend for dataset {dataset}; register one with Locator::route")]
    NoBackend {
        /// The dataset id (hex).
        dataset: String,
    },
    /// A storage backend failed (I/O or network).
    #[error("storage backend failed on {uri}: {reason}")]
    Storage {
        /// The URI being accessed.
        uri: String,
        /// What the backend reported.
        reason: String,
    },
    /// An Umbral key or object could not be parsed from its standard bytes.
    #[error("invalid Umbral {what}: {reason}")]
    Umbral {
        /// Which object (public key, capsule, kfrag, cfrag).
        what: &'static str,
        /// What the parser reported.
        reason: String,
    },
    /// The owner's (or a proxy's) Umbral decryption failed: wrong secret key or altered bytes.
    #[error("cannot open the {what}: {reason}; wrong secret key, or the bytes were altered")]
    Open {
        /// What was being opened.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// A kfrag does not verify against the grant terms the proxy was given.
    #[error("kfrag for grant {grant} does not verify ({reason}); it was not made by this owner for this grantee")]
    KfragInvalid {
        /// The grant id (hex).
        grant: String,
        /// Why.
        reason: String,
    },
    /// A cfrag does not verify: forged, or made for another capsule, owner or grantee.
    #[error("cfrag {index} does not verify ({reason}); discard it and ask another proxy")]
    CfragInvalid {
        /// Position of the cfrag in the input.
        index: usize,
        /// Why.
        reason: String,
    },
    /// Fewer valid cfrags than the grant's threshold.
    #[error(
        "only {have} valid cfrags from distinct proxies, the grant needs {need}; ask more proxies"
    )]
    NotEnoughCfrags {
        /// Valid distinct cfrags received.
        have: usize,
        /// The threshold M.
        need: usize,
    },
    /// A proxy holds no kfrag for this grant (never given, or revoked and deleted).
    #[error("this proxy holds no kfrag for grant {grant} (never granted, or revoked)")]
    UnknownGrant {
        /// The grant id (hex).
        grant: String,
    },
    /// The grant-check callback said the grant does not cover this interval now.
    #[error("grant {grant} is not live for interval {interval} of dataset {dataset}; no cfrag is issued")]
    GrantNotLive {
        /// The grant id (hex).
        grant: String,
        /// The dataset id (hex).
        dataset: String,
        /// The interval asked for.
        interval: u64,
    },
    /// Grant parameters are invalid (threshold, number of proxies, interval range).
    #[error("invalid grant: {0}")]
    Grant(String),
    /// A TFHE operation, key or ciphertext failed.
    #[error("FHE: {0}")]
    Fhe(String),
}

/// Result type of this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

impl Error {
    pub(crate) fn decode(what: &'static str, e: itc_primitives::Error) -> Self {
        Error::Decode { what, reason: e.to_string() }
    }
}
