//! The per-interval data key and the chunk AEAD (XChaCha20-Poly1305).
//!
//! A sealed chunk is `nonce (24 bytes) ++ ciphertext ++ tag (16 bytes)`. The nonce is the chunk
//! index (4 bytes, little-endian) followed by 20 random bytes: unique within an interval by
//! construction and random across intervals, on top of the key being fresh per interval.
//! The associated data binds a chunk to its place:
//! `SCALE("itc-vault/chunk/v1", dataset, interval as u64, chunk as u32, chunk_count as u32)`,
//! so a chunk moved to another index, interval or dataset, or an interval cut short, fails to
//! decrypt.
use chacha20poly1305::{
    aead::{AeadInPlace, KeyInit},
    Key, Tag, XChaCha20Poly1305, XNonce,
};
use parity_scale_codec::Encode;
use rand_core::{CryptoRng, RngCore};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{manifest::DatasetId, Error, Result};

/// Length of a data key.
pub const DATA_KEY_LEN: usize = 32;
/// Length of the nonce that starts every sealed chunk.
pub const NONCE_LEN: usize = 24;
/// Length of the Poly1305 tag that ends every sealed chunk.
pub const TAG_LEN: usize = 16;
const CHUNK_AD_DOMAIN: &[u8] = b"itc-vault/chunk/v1";

/// A 256-bit symmetric key that seals one interval's chunks. Wiped from memory on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; DATA_KEY_LEN]);

impl DataKey {
    /// A fresh key from `rng`.
    pub fn random(rng: &mut (impl CryptoRng + RngCore)) -> Self {
        let mut k = [0u8; DATA_KEY_LEN];
        rng.fill_bytes(&mut k);
        DataKey(k)
    }

    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; DATA_KEY_LEN]) -> Self {
        DataKey(bytes)
    }

    /// Parses key bytes of exactly [`DATA_KEY_LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        let arr: [u8; DATA_KEY_LEN] = bytes.try_into().map_err(|_| Error::Open {
            what: "data key",
            reason: format!("{} bytes, expected {DATA_KEY_LEN}", bytes.len()),
        })?;
        Ok(DataKey(arr))
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; DATA_KEY_LEN] {
        &self.0
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(&self.0))
    }
}

impl core::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// Where a chunk sits; the AEAD's associated data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkPosition {
    /// The dataset.
    pub dataset: DatasetId,
    /// The interval index.
    pub interval: u64,
    /// The chunk index.
    pub chunk: u32,
    /// How many chunks the interval has.
    pub chunk_count: u32,
}

impl ChunkPosition {
    /// The associated data of this position.
    pub fn associated_data(&self) -> Vec<u8> {
        (CHUNK_AD_DOMAIN, self.dataset, self.interval, self.chunk, self.chunk_count).encode()
    }
}

/// Seals one chunk of compressed plaintext. The output is `nonce ++ ciphertext ++ tag`.
pub fn seal_chunk(
    key: &DataKey,
    pos: &ChunkPosition,
    plaintext: &[u8],
    rng: &mut (impl CryptoRng + RngCore),
) -> Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    nonce[..4].copy_from_slice(&pos.chunk.to_le_bytes());
    rng.fill_bytes(&mut nonce[4..]);
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = key
        .cipher()
        .encrypt_in_place_detached(
            XNonce::from_slice(&nonce),
            &pos.associated_data(),
            &mut out[NONCE_LEN..],
        )
        .map_err(|_| {
            Error::Config(format!("chunk of {} bytes is too large to seal", plaintext.len()))
        })?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens a sealed chunk. Fails (and returns nothing) if the key, position or bytes are wrong.
pub fn open_chunk(key: &DataKey, pos: &ChunkPosition, sealed: &[u8]) -> Result<Vec<u8>> {
    let fail = || Error::ChunkDecrypt { interval: pos.interval, chunk: pos.chunk };
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(fail());
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    if nonce[..4] != pos.chunk.to_le_bytes() {
        return Err(fail());
    }
    let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
    let mut plain = body.to_vec();
    key.cipher()
        .decrypt_in_place_detached(
            XNonce::from_slice(nonce),
            &pos.associated_data(),
            &mut plain,
            Tag::from_slice(tag),
        )
        .map_err(|_| fail())?;
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use itc_primitives::Hash;
    use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};

    fn pos(chunk: u32) -> ChunkPosition {
        ChunkPosition { dataset: Hash([7; 32]), interval: 3, chunk, chunk_count: 2 }
    }

    #[test]
    fn chunks_open_only_at_their_position_with_their_key() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let key = DataKey::random(&mut rng);
        let sealed = seal_chunk(&key, &pos(0), b"hello", &mut rng).unwrap();
        assert_eq!(sealed.len(), NONCE_LEN + 5 + TAG_LEN);
        assert_eq!(open_chunk(&key, &pos(0), &sealed).unwrap(), b"hello");
        assert!(open_chunk(&key, &pos(1), &sealed).is_err());
        let mut other = pos(0);
        other.chunk_count = 1;
        assert!(open_chunk(&key, &other, &sealed).is_err());
        assert!(open_chunk(&DataKey::random(&mut rng), &pos(0), &sealed).is_err());
        let mut tampered = sealed.clone();
        tampered[NONCE_LEN] ^= 1;
        assert!(open_chunk(&key, &pos(0), &tampered).is_err());
        assert!(open_chunk(&key, &pos(0), &sealed[..10]).is_err());
    }

    #[test]
    fn nonces_differ_between_chunks_and_seals() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let key = DataKey::random(&mut rng);
        let a = seal_chunk(&key, &pos(0), b"x", &mut rng).unwrap();
        let b = seal_chunk(&key, &pos(0), b"x", &mut rng).unwrap();
        let c = seal_chunk(&key, &pos(1), b"x", &mut rng).unwrap();
        assert_ne!(a[..NONCE_LEN], b[..NONCE_LEN]);
        assert_eq!(c[..4], 1u32.to_le_bytes());
    }

    #[test]
    fn associated_data_matches_the_documented_layout() {
        let ad = pos(1).associated_data();
        let mut expected = vec![18 << 2];
        expected.extend_from_slice(b"itc-vault/chunk/v1");
        expected.extend_from_slice(&[7; 32]);
        expected.extend_from_slice(&3u64.to_le_bytes());
        expected.extend_from_slice(&1u32.to_le_bytes());
        expected.extend_from_slice(&2u32.to_le_bytes());
        assert_eq!(ad, expected);
    }
}
