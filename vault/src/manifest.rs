//! The interval manifest: what goes on chain about one sealed interval, and the chunk envelope
//! that storage holds.
//!
//! `IntervalManifest` SCALE layout (field order):
//!
//! | field | encoding |
//! |---|---|
//! | `version` | `u8`, = 1 |
//! | `dataset` | 32 bytes |
//! | `interval` | `Compact<u64>` |
//! | `schema_hash` | 32 bytes: `blake2b-256(SCALE(schema))` |
//! | `record_count` | `Compact<u64>` |
//! | `plaintext_size` | `Compact<u64>`: bytes of the serialised record batch |
//! | `compressed_size` | `Compact<u64>`: bytes after zstd, before chunking |
//! | `chunk_size` | `Compact<u32>`: plaintext bytes per chunk (the last may be shorter) |
//! | `chunk_count` | `Compact<u32>`: `ceil(compressed_size / chunk_size)` |
//! | `chunks_root` | 32 bytes: Merkle root (`itc_primitives::merkle`) over `blake2b-256(sealed chunk)` |
//! | `capsule` | `Vec<u8>` (≤ 512): the Umbral capsule of the data key, umbral-pre's standard bytes |
//! | `key_ciphertext` | `Vec<u8>` (≤ 512): the data key under the capsule (umbral-pre DEM output) |
//!
//! A chunk is stored as a [`ChunkEnvelope`]: `SCALE(MerkleProof) ++ SCALE(Vec<u8> sealed)`, so each
//! chunk can be checked against the on-chain root on its own, in any order, before decryption.
use itc_primitives::{
    blake2_256, decode_untrusted, hash::hash_of, merkle::MerkleProof, BoundedVec, Hash,
};
use parity_scale_codec::{Decode, Encode};
use umbral_pre::{Capsule, DefaultDeserialize};

use crate::{
    key::{NONCE_LEN, TAG_LEN},
    storage::ChunkUri,
    Error, Result,
};

/// A dataset's on-chain id.
pub type DatasetId = Hash;

/// The manifest version this crate writes and reads.
pub const MANIFEST_VERSION: u8 = 1;
/// Upper bound on the Umbral capsule and key ciphertext bytes in a manifest.
pub const MAX_UMBRAL_BYTES: usize = 512;
/// Smallest chunk size accepted (64 bytes; small sizes are for tests).
pub const MIN_CHUNK_SIZE: u32 = 64;
/// Largest chunk size accepted (16 MiB).
pub const MAX_CHUNK_SIZE: u32 = 16 * 1024 * 1024;
/// Default chunk size (1 MiB).
pub const DEFAULT_CHUNK_SIZE: u32 = 1024 * 1024;

/// What the chain records about one sealed interval.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct IntervalManifest {
    /// Format version ([`MANIFEST_VERSION`]).
    pub version: u8,
    /// The dataset the interval belongs to.
    pub dataset: DatasetId,
    /// The interval's index within the dataset.
    #[codec(compact)]
    pub interval: u64,
    /// `blake2b-256(SCALE(schema))` of the records' schema.
    pub schema_hash: Hash,
    /// Number of records in the interval.
    #[codec(compact)]
    pub record_count: u64,
    /// Size of the serialised record batch.
    #[codec(compact)]
    pub plaintext_size: u64,
    /// Size after compression, before chunking.
    #[codec(compact)]
    pub compressed_size: u64,
    /// Plaintext bytes per chunk.
    #[codec(compact)]
    pub chunk_size: u32,
    /// Number of chunks.
    #[codec(compact)]
    pub chunk_count: u32,
    /// Merkle root over the blake2b-256 hashes of the sealed chunks.
    pub chunks_root: Hash,
    /// The Umbral capsule of the data key (umbral-pre standard serialisation).
    pub capsule: BoundedVec<u8, MAX_UMBRAL_BYTES>,
    /// The data key encrypted under the capsule.
    pub key_ciphertext: BoundedVec<u8, MAX_UMBRAL_BYTES>,
}

impl IntervalManifest {
    /// SCALE bytes for the chain.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode()
    }

    /// Decodes and checks a manifest from untrusted bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let m: Self = decode_untrusted(bytes).map_err(|e| Error::decode("interval manifest", e))?;
        m.validate()?;
        Ok(m)
    }

    /// The manifest's id: `blake2b-256(SCALE(manifest))`.
    pub fn id(&self) -> Hash {
        hash_of(self)
    }

    /// Checks the fields agree with each other and the capsule parses.
    pub fn validate(&self) -> Result<()> {
        let bad = |s: String| Err(Error::Manifest(s));
        if self.version != MANIFEST_VERSION {
            return bad(format!(
                "version {} is not supported (this build reads {MANIFEST_VERSION})",
                self.version
            ));
        }
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&self.chunk_size) {
            return bad(format!(
                "chunk size {} outside {MIN_CHUNK_SIZE}..={MAX_CHUNK_SIZE}",
                self.chunk_size
            ));
        }
        let expected = self.compressed_size.div_ceil(u64::from(self.chunk_size));
        if expected != u64::from(self.chunk_count) {
            return bad(format!(
                "{} chunks announced, but {} compressed bytes in chunks of {} need {expected}",
                self.chunk_count, self.compressed_size, self.chunk_size
            ));
        }
        if self.chunk_count == 0 {
            return bad("an interval has at least one chunk".into());
        }
        self.capsule()?;
        Ok(())
    }

    /// The capsule of the data key.
    pub fn capsule(&self) -> Result<Capsule> {
        Capsule::from_bytes(&self.capsule)
            .map_err(|e| Error::Umbral { what: "capsule", reason: e.to_string() })
    }

    /// Plaintext length of chunk `chunk` (the last one may be short).
    pub fn chunk_plain_len(&self, chunk: u32) -> Option<usize> {
        if chunk >= self.chunk_count {
            return None;
        }
        let start = u64::from(chunk) * u64::from(self.chunk_size);
        let len = self.compressed_size.saturating_sub(start).min(u64::from(self.chunk_size));
        usize::try_from(len).ok()
    }

    /// The URI of chunk `chunk`.
    pub fn chunk_uri(&self, chunk: u32) -> ChunkUri {
        ChunkUri { dataset: self.dataset, interval: self.interval, chunk }
    }

    /// The URIs of all chunks, in order.
    pub fn chunk_uris(&self) -> impl Iterator<Item = ChunkUri> + '_ {
        (0..self.chunk_count).map(|c| self.chunk_uri(c))
    }

    /// Decodes a stored chunk envelope and checks it against this manifest: the Merkle proof must
    /// be for position `chunk` in a tree of `chunk_count` leaves and lead from
    /// `blake2b-256(sealed)` to `chunks_root`, and the length must be right. Returns the sealed
    /// bytes, not yet decrypted.
    pub fn verify_chunk(&self, chunk: u32, envelope: &[u8]) -> Result<Vec<u8>> {
        let fail =
            |reason: String| Error::ChunkIntegrity { interval: self.interval, chunk, reason };
        let env: ChunkEnvelope =
            decode_untrusted(envelope).map_err(|e| fail(format!("malformed envelope: {e}")))?;
        if env.proof.leaf_index != u64::from(chunk)
            || env.proof.leaf_count != u64::from(self.chunk_count)
        {
            return Err(fail(format!(
                "proof is for leaf {} of {}, expected {chunk} of {}",
                env.proof.leaf_index, env.proof.leaf_count, self.chunk_count
            )));
        }
        let expected_len = self.chunk_plain_len(chunk).map(|l| l + NONCE_LEN + TAG_LEN);
        if expected_len != Some(env.sealed.len()) {
            return Err(fail(format!(
                "sealed chunk is {} bytes, expected {expected_len:?}",
                env.sealed.len()
            )));
        }
        env.proof
            .verify(&blake2_256(&env.sealed), &self.chunks_root)
            .map_err(|e| fail(format!("hash not under the manifest's root: {e}")))?;
        Ok(env.sealed)
    }
}

/// How a chunk is stored: its Merkle proof and its sealed bytes.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ChunkEnvelope {
    /// Proof that `blake2b-256(sealed)` is leaf `chunk` under the manifest's `chunks_root`.
    pub proof: MerkleProof,
    /// `nonce ++ ciphertext ++ tag`.
    pub sealed: Vec<u8>,
}
