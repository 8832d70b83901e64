//! State proofs and the JMT hash function.
//!
//! A [`StateProof`] is SCALE-encoded as `compact version ++ key (bytes) ++ Option<value> (bytes)
//! ++ proof (bytes)`, where `proof` is the Borsh encoding of `jmt::proof::SparseMerkleProof`
//! (JMT's own stable format). Light clients verify it with [`StateProof::verify`] against a
//! certified `MilestoneHeader::state_root`.
use itc_primitives::{blake2_256, Hash};
use jmt::{proof::SparseMerkleProof, KeyHash, RootHash, SimpleHasher};
use parity_scale_codec::{Decode, Encode};

use crate::{Error, Result};

/// blake2b-256 as the JMT's hash function (ITC hashes everything with blake2b-256).
pub struct Blake2bHasher(blake2b_simd::State);

impl SimpleHasher for Blake2bHasher {
    fn new() -> Self {
        Blake2bHasher(blake2b_simd::Params::new().hash_length(32).to_state())
    }

    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finalize(self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.0.finalize().as_bytes());
        out
    }
}

/// The JMT key of a state key: its blake2b-256.
pub fn key_hash(key: &[u8]) -> KeyHash {
    KeyHash(blake2_256(key).0)
}

/// A Merkle proof that `key` has `value` (or no value, if `None`) in the state of `version`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct StateProof {
    /// The state version (milestone number) the proof is for.
    #[codec(compact)]
    pub version: u64,
    /// The state key.
    pub key: Vec<u8>,
    /// The value at `key`, `None` for a proof of absence.
    pub value: Option<Vec<u8>>,
    /// Borsh encoding of the JMT sparse Merkle proof.
    pub proof: Vec<u8>,
}

impl StateProof {
    /// Builds a proof from JMT's proof type.
    pub fn from_jmt(
        version: u64,
        key: Vec<u8>,
        value: Option<Vec<u8>>,
        proof: &SparseMerkleProof<Blake2bHasher>,
    ) -> Result<Self> {
        let proof =
            borsh::to_vec(proof).map_err(|e| Error::Backend(format!("encode proof: {e}")))?;
        Ok(StateProof { version, key, value, proof })
    }

    /// Checks the proof against a trusted state `root`.
    pub fn verify(&self, root: &Hash) -> Result<()> {
        let bad = |reason: String| Error::BadProof { root: *root, reason };
        let proof: SparseMerkleProof<Blake2bHasher> = borsh::from_slice(&self.proof)
            .map_err(|e| bad(format!("proof bytes do not decode: {e}")))?;
        proof
            .verify(RootHash(root.0), key_hash(&self.key), self.value.as_deref())
            .map_err(|e| bad(format!("{e}")))
    }
}
