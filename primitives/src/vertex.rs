//! DAG vertices: a transaction attached to 1–8 parents with a light proof of work.
//!
//! The attachment (parents and PoW nonce) is not signed, so any node may attach a light client's
//! transaction (IOTA-style). The vertex hash doubles as the PoW hash:
//!
//! `vertex_hash = blake2b-256(tx_hash ++ SCALE(parents) ++ pow_nonce as u64 little-endian)`
//!
//! where `tx_hash` is the blake2b-256 of the signed transaction's SCALE encoding. A vertex meets
//! difficulty `d` when its hash has at least `d` leading zero bits. Mining re-hashes only
//! `32 + 1 + 32·k + 8` bytes per attempt, however large the transaction is.
use alloc::vec::Vec;

use parity_scale_codec::{Decode, Encode};

use crate::{codec::BoundedVec, hash::blake2_256_concat, Hash, Transaction};

/// At most this many parents per vertex.
pub const MAX_PARENTS: usize = 8;

/// A DAG vertex. SCALE layout: `tx ++ parents (compact length ≤ 8 ++ 32-byte hashes) ++ pow_nonce
/// (u64 little-endian)`.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Vertex {
    /// The signed transaction.
    pub tx: Transaction,
    /// Hashes of the approved vertices (1 to 8, distinct; checked by `itc-dag`).
    pub parents: BoundedVec<Hash, MAX_PARENTS>,
    /// The proof-of-work nonce.
    pub pow_nonce: u64,
}

impl Vertex {
    /// The vertex hash (and PoW hash), given the transaction's hash.
    pub fn hash_with_tx_hash(tx_hash: &Hash, parents: &[Hash], pow_nonce: u64) -> Hash {
        let prefix = attachment_prefix(tx_hash, parents);
        blake2_256_concat(&[&prefix, &pow_nonce.to_le_bytes()])
    }

    /// The vertex hash.
    pub fn hash(&self) -> Hash {
        Self::hash_with_tx_hash(&self.tx.hash(), &self.parents, self.pow_nonce)
    }

    /// Finds the first nonce at or after `start` whose vertex hash has `difficulty` leading zero
    /// bits, trying at most `max_attempts` nonces. Returns the nonce and the resulting hash.
    ///
    /// Nonces are hashed [`MINING_LANES`] at a time with blake2b's multi-input SIMD kernel
    /// (`blake2b_simd::many`: four inputs per AVX2 compression), then checked in nonce order, so
    /// the answer is the one a nonce-by-nonce search gives.
    pub fn mine(
        tx_hash: &Hash,
        parents: &[Hash],
        difficulty: u32,
        start: u64,
        max_attempts: u64,
    ) -> Option<(u64, Hash)> {
        if difficulty == 0 {
            // Every hash qualifies: no lanes to set up.
            return (max_attempts > 0)
                .then(|| (start, Self::hash_with_tx_hash(tx_hash, parents, start)));
        }
        let params = crate::hash::blake2_256_params();
        let mut preimage = attachment_prefix(tx_hash, parents);
        let nonce_at = preimage.len();
        preimage.extend_from_slice(&[0; 8]);
        let mut lanes: [Vec<u8>; MINING_LANES] = core::array::from_fn(|_| preimage.clone());
        let mut first = start;
        let mut left = max_attempts;
        while left > 0 {
            let width = usize::try_from(left).map_or(MINING_LANES, |l| l.min(MINING_LANES));
            for (lane, buf) in lanes.iter_mut().enumerate().take(width) {
                let nonce = first.wrapping_add(lane as u64);
                buf[nonce_at..].copy_from_slice(&nonce.to_le_bytes());
            }
            let mut jobs: [blake2b_simd::many::HashManyJob; MINING_LANES] =
                core::array::from_fn(|lane| {
                    blake2b_simd::many::HashManyJob::new(&params, &lanes[lane])
                });
            blake2b_simd::many::hash_many(jobs.iter_mut().take(width));
            for (lane, job) in jobs.iter().enumerate().take(width) {
                let mut h = [0u8; 32];
                h.copy_from_slice(job.to_hash().as_bytes());
                let h = Hash(h);
                if h.leading_zero_bits() >= difficulty {
                    return Some((first.wrapping_add(lane as u64), h));
                }
            }
            first = first.wrapping_add(width as u64);
            left -= width as u64;
        }
        None
    }
}

/// How many nonces [`Vertex::mine`] hashes at once: blake2b_simd's widest kernel (AVX2).
pub const MINING_LANES: usize = blake2b_simd::many::MAX_DEGREE;

/// `tx_hash ++ SCALE(parents)`: the part of the PoW preimage that does not change while mining.
pub fn attachment_prefix(tx_hash: &Hash, parents: &[Hash]) -> Vec<u8> {
    let mut prefix = Vec::with_capacity(32 + 2 + 32 * parents.len());
    prefix.extend_from_slice(&tx_hash.0);
    parents.encode_to(&mut prefix);
    prefix
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::{tx::Mortality, Pair};

    #[test]
    fn mined_vertex_meets_difficulty_and_hash_is_stable() {
        let alice = Pair::from_string("//Alice", None).unwrap();
        let tx = Transaction::signed(&alice, Hash::ZERO, 0, Mortality::Immortal, 0, vec![0]);
        let parents = vec![Hash::ZERO];
        let (nonce, h) = Vertex::mine(&tx.hash(), &parents, 8, 0, 1 << 20).unwrap();
        let v = Vertex { tx, parents: BoundedVec::new(parents).unwrap(), pow_nonce: nonce };
        assert_eq!(v.hash(), h);
        assert!(v.hash().leading_zero_bits() >= 8);
    }

    /// The lane-parallel search returns what a nonce-by-nonce search returns, including when
    /// `max_attempts` ends inside a batch, and nonces wrap around `u64::MAX`.
    #[test]
    fn mining_in_lanes_finds_the_first_nonce_a_serial_search_finds() {
        let tx_hash = crate::blake2_256(b"lanes");
        let parents = [Hash::ZERO, crate::blake2_256(b"p")];
        let serial = |difficulty: u32, start: u64, attempts: u64| {
            (0..attempts).map(|i| start.wrapping_add(i)).find_map(|nonce| {
                let h = Vertex::hash_with_tx_hash(&tx_hash, &parents, nonce);
                (h.leading_zero_bits() >= difficulty).then_some((nonce, h))
            })
        };
        for difficulty in [0, 1, 3, 6, 9] {
            for start in [0, 5, 1 << 40, u64::MAX - 2] {
                for attempts in [0, 1, 2, 3, 4, 5, 7, 64, 1_000] {
                    assert_eq!(
                        Vertex::mine(&tx_hash, &parents, difficulty, start, attempts),
                        serial(difficulty, start, attempts),
                        "difficulty {difficulty}, start {start}, {attempts} attempts"
                    );
                }
            }
        }
    }
}
