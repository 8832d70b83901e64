//! The ITC data plane: interval encryption, chunk storage behind `otp://` URIs, threshold
//! Umbral grants, and TFHE columns ([`fhe`]).
//!
//! ## Flow
//! 1. **Owner seals an interval** ([`seal::seal_interval`]): records ([`records`]) → zstd →
//!    1 MiB chunks → XChaCha20-Poly1305 under a fresh data key ([`key`]) → blake2b-256 per sealed
//!    chunk → Merkle root → data key encrypted to the owner's Umbral key. The
//!    [`IntervalManifest`] goes on chain; the chunk envelopes go to [`storage`] under
//!    `otp://<dataset>/<interval>/<chunk>`.
//! 2. **Owner grants** ([`grant`]): M-of-N kfrags for the grantee, each sealed to one proxy.
//! 3. **Proxies** ([`proxy::ProxyService`]) verify their kfrag and re-encrypt capsules only while
//!    the grant-check callback (the chain) says the grant is live for that interval.
//! 4. **Grantee** ([`grantee::GranteeKeys`]) verifies cfrags against the owner's verifying key,
//!    opens the data key with M of them, fetches chunks, checks each against the manifest's root
//!    and decrypts ([`seal::open_interval`], [`seal::stream_interval`]).
//! 5. **Revocation / crypto-shredding**: proxies delete kfrags ([`proxy::ProxyService::revoke`]);
//!    the owner deletes chunks ([`shred_interval`]); the interval is then unreadable.
//! 6. **TFHE columns** ([`fhe`]): devices encrypt `u32` columns with the owner's compact public
//!    key; an executor holding only the server key computes encrypted sums (optionally clamped)
//!    and counts over a threshold, over all records or a selection; the owner decrypts only the
//!    aggregate.
//!
//! ## Formats
//! Every format is documented in its module: record batches in [`records`], sealed chunks and
//! their associated data in [`key`], the manifest and chunk envelope in [`manifest`], URIs in
//! [`storage`], grant terms and sealed kfrags in [`grant`], Umbral objects in [`umbral`], TFHE
//! keys, columns and aggregates (tfhe's `safe_serialization`) in [`fhe`].
//! Test vectors are asserted in the unit tests and in
//! `tests/vectors.rs`.
//!
//! Randomness: production entry points draw from the OS; each has a `*_with_rng` variant that
//! takes a seeded RNG for reproducible tests and benchmarks.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod error;
pub mod fhe;
pub mod grant;
pub mod grantee;
pub mod key;
pub mod manifest;
pub mod proxy;
pub mod records;
pub mod seal;
pub mod storage;
pub mod umbral;

pub use error::{Error, Result};
pub use fhe::{
    CompactColumn, EncryptedAggregate, EncryptedColumn, FheAggregate, FheDevice, FheExecutor,
    FheOwner, FhePublicKey, FheServerKey, Selection,
};
pub use grant::{GrantId, GrantTerms, OwnerKeys, SealedKfrag};
pub use grantee::GranteeKeys;
pub use key::DataKey;
pub use manifest::{DatasetId, IntervalManifest};
pub use proxy::ProxyService;
pub use records::{Record, RecordReader};
pub use seal::{
    open_interval, seal_interval, seal_interval_with_rng, stream_interval, SealConfig,
    SealedInterval,
};
pub use storage::{ChunkUri, HttpStorage, LocalStorage, Locator, Storage};

/// Deletes every chunk of an interval from `storage` (the storage half of crypto-shredding; the
/// proxies' half is [`ProxyService::revoke`]). Returns how many chunks were there.
pub fn shred_interval(manifest: &IntervalManifest, storage: &dyn Storage) -> Result<u32> {
    let mut deleted = 0;
    for uri in manifest.chunk_uris() {
        if storage.delete(&uri)? {
            deleted += 1;
        }
    }
    Ok(deleted)
}
