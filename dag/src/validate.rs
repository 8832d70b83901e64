//! Stateless vertex checks: size, parents, self-reference, proof of work, signature.
//!
//! A [`PreparedVertex`] hashes the transaction once and caches the vertex hash and encoded size,
//! so no later step re-encodes or re-hashes it. The checks that need the DAG's state (duplicates,
//! unknown parents) live in [`crate::Dag`].
use itc_primitives::{blake2_256, decode_untrusted, Hash, Transaction, Vertex, MAX_PARENTS};
use parity_scale_codec::Encode;

use crate::{Difficulty, Error, Result};

/// A vertex with its hashes and encoded size computed once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedVertex {
    /// The vertex.
    pub vertex: Vertex,
    /// The vertex hash (also its PoW hash).
    pub hash: Hash,
    /// The transaction hash.
    pub tx_hash: Hash,
    /// Size of the vertex's SCALE encoding in bytes.
    pub encoded_len: usize,
}

impl PreparedVertex {
    /// Hashes the vertex (encoding the transaction once).
    pub fn new(vertex: Vertex) -> Self {
        let tx_bytes = vertex.tx.encode();
        let tx_hash = blake2_256(&tx_bytes);
        let encoded_len = tx_bytes.len() + vertex.parents.encoded_size() + 8;
        let hash = Vertex::hash_with_tx_hash(&tx_hash, &vertex.parents, vertex.pow_nonce);
        PreparedVertex { vertex, hash, tx_hash, encoded_len }
    }

    /// Decodes untrusted bytes, rejecting anything larger than `max_bytes` before decoding.
    pub fn from_bytes(bytes: &[u8], max_bytes: usize) -> Result<Self> {
        if bytes.len() > max_bytes {
            return Err(Error::TooLarge { hash: None, size: bytes.len(), max: max_bytes });
        }
        let vertex: Vertex =
            decode_untrusted(bytes).map_err(|e| Error::Malformed(e.to_string()))?;
        Ok(Self::new(vertex))
    }

    /// The bytes the transaction's signature must cover on the chain with this genesis hash.
    pub fn signing_bytes(&self, genesis: Hash) -> Vec<u8> {
        self.vertex.tx.payload(genesis).signing_bytes()
    }
}

/// Size limit, 1 to 8 distinct parents, no self-reference.
pub fn check_structure(v: &PreparedVertex, max_bytes: usize) -> Result<()> {
    if v.encoded_len > max_bytes {
        return Err(Error::TooLarge { hash: Some(v.hash), size: v.encoded_len, max: max_bytes });
    }
    check_parents(&v.hash, &v.vertex.parents)
}

/// 1 to 8 distinct parents, none equal to `hash`.
pub fn check_parents(hash: &Hash, parents: &[Hash]) -> Result<()> {
    if parents.is_empty() || parents.len() > MAX_PARENTS {
        return Err(Error::ParentCount { hash: *hash, count: parents.len() });
    }
    for (i, parent) in parents.iter().enumerate() {
        if parent == hash {
            return Err(Error::SelfReference { hash: *hash });
        }
        if parents[..i].contains(parent) {
            return Err(Error::DuplicateParent { hash: *hash, parent: *parent });
        }
    }
    Ok(())
}

/// The vertex hash meets the difficulty of the signer's security level.
pub fn check_pow(v: &PreparedVertex, difficulty: &(impl Difficulty + ?Sized)) -> Result<()> {
    let signer = v.vertex.tx.signer;
    let required = difficulty.required_bits(&signer);
    let leading_zero_bits = v.hash.leading_zero_bits();
    if leading_zero_bits < required {
        return Err(Error::InsufficientPow { hash: v.hash, signer, leading_zero_bits, required });
    }
    Ok(())
}

/// The transaction's signature verifies on the chain with this genesis hash.
pub fn check_signature(v: &PreparedVertex, genesis: Hash) -> Result<()> {
    if v.vertex.tx.verify_signature(genesis) {
        Ok(())
    } else {
        Err(Error::BadSignature { hash: v.hash, signer: v.vertex.tx.signer })
    }
}

/// Verifies the signatures of `vertices` with one deterministic batch verification; if the batch
/// fails, verifies one by one to tell which are bad. Returns one result per vertex, in order.
pub fn check_signatures_batch(vertices: &[&PreparedVertex], genesis: Hash) -> Vec<Result<()>> {
    let valid = Transaction::verify_signatures(vertices.iter().map(|v| &v.vertex.tx), genesis);
    vertices
        .iter()
        .zip(valid)
        .map(|(v, ok)| {
            if ok {
                Ok(())
            } else {
                Err(Error::BadSignature { hash: v.hash, signer: v.vertex.tx.signer })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_reference_is_rejected_before_duplicates() {
        // A real vertex cannot name its own hash (that needs a blake2b preimage), so the check
        // is exercised on a fabricated hash.
        let me = Hash([7; 32]);
        let err = check_parents(&me, &[Hash([1; 32]), me]).unwrap_err();
        assert_eq!(err, Error::SelfReference { hash: me });
    }

    #[test]
    fn parent_count_and_distinctness() {
        let me = Hash([0xee; 32]);
        assert_eq!(check_parents(&me, &[]), Err(Error::ParentCount { hash: me, count: 0 }));
        let nine: Vec<Hash> = (0..9u8).map(|i| Hash([i; 32])).collect();
        assert_eq!(check_parents(&me, &nine), Err(Error::ParentCount { hash: me, count: 9 }));
        assert_eq!(check_parents(&me, &nine[..8]), Ok(()));
        let p = Hash([1; 32]);
        assert_eq!(
            check_parents(&me, &[p, Hash([2; 32]), p]),
            Err(Error::DuplicateParent { hash: me, parent: p })
        );
    }
}
