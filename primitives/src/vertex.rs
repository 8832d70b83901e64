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
    pub fn mine(
        tx_hash: &Hash,
        parents: &[Hash],
        difficulty: u32,
        start: u64,
        max_attempts: u64,
    ) -> Option<(u64, Hash)> {
        let prefix = attachment_prefix(tx_hash, parents);
        let mut nonce = start;
        for _ in 0..max_attempts {
            let h = blake2_256_concat(&[&prefix, &nonce.to_le_bytes()]);
            if h.leading_zero_bits() >= difficulty {
                return Some((nonce, h));
            }
            nonce = nonce.wrapping_add(1);
        }
        None
    }
}

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
}
