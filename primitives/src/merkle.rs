//! A binary Merkle tree over 32-byte leaves, with inclusion proofs.
//!
//! - leaf node: `blake2b-256(0x00 ++ leaf)`; inner node: `blake2b-256(0x01 ++ left ++ right)`. The
//!   prefixes keep leaves and inner nodes apart (no second-preimage trick, as in RFC 6962).
//! - Levels are built pairwise from the left; an odd node at the end of a level is promoted
//!   unchanged to the next level (never duplicated, so no two lists share a root).
//! - The root commits to the number of leaves: `root = blake2b-256(0x02 ++ count as u64 LE ++ top)`,
//!   where `top` is the single node left at the last level, or `blake2b-256("")` for no leaves.
//!   A proof therefore cannot lie about the size of the tree.
//!
//! [`MerkleProof::verify`] needs only `core` and `alloc`, so it runs in the light client.
use alloc::vec::Vec;

use parity_scale_codec::{Decode, Encode};

use crate::{
    codec::BoundedVec,
    hash::{blake2_256, blake2_256_concat},
    Error, Hash, Result,
};

const LEAF_PREFIX: [u8; 1] = [0x00];
const NODE_PREFIX: [u8; 1] = [0x01];
const ROOT_PREFIX: [u8; 1] = [0x02];
/// A proof has at most one sibling per level; 64 levels cover any list that fits in memory.
pub const MAX_PROOF_DEPTH: usize = 64;

/// The leaf node of `leaf`.
pub fn leaf_hash(leaf: &Hash) -> Hash {
    blake2_256_concat(&[&LEAF_PREFIX, &leaf.0])
}

fn node_hash(left: &Hash, right: &Hash) -> Hash {
    blake2_256_concat(&[&NODE_PREFIX, &left.0, &right.0])
}

fn root_hash(count: u64, top: &Hash) -> Hash {
    blake2_256_concat(&[&ROOT_PREFIX, &count.to_le_bytes(), &top.0])
}

/// The root of the empty tree.
pub fn empty_root() -> Hash {
    root_hash(0, &blake2_256(&[]))
}

/// A Merkle tree with every level kept, so that proofs are cheap.
#[derive(Clone, Debug)]
pub struct MerkleTree {
    levels: Vec<Vec<Hash>>,
}

impl MerkleTree {
    /// Builds the tree of `leaves`.
    pub fn new(leaves: &[Hash]) -> Self {
        let mut levels = alloc::vec![leaves.iter().map(leaf_hash).collect::<Vec<_>>()];
        while levels.last().map_or(0, Vec::len) > 1 {
            let prev = levels.last().map(Vec::as_slice).unwrap_or(&[]);
            let next = prev
                .chunks(2)
                .map(|pair| match pair {
                    [l, r] => node_hash(l, r),
                    [single] => *single,
                    _ => unreachable_empty_chunk(),
                })
                .collect();
            levels.push(next);
        }
        MerkleTree { levels }
    }

    /// Number of leaves.
    pub fn len(&self) -> usize {
        self.levels.first().map_or(0, Vec::len)
    }

    /// Whether there are no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The root.
    pub fn root(&self) -> Hash {
        match self.levels.last().and_then(|l| l.first()) {
            Some(top) => root_hash(self.len() as u64, top),
            None => empty_root(),
        }
    }

    /// The inclusion proof of leaf `index`, or `None` if out of range.
    pub fn proof(&self, index: usize) -> Option<MerkleProof> {
        if index >= self.len() {
            return None;
        }
        let mut siblings = Vec::new();
        let mut idx = index;
        for level in &self.levels[..self.levels.len() - 1] {
            let sibling = idx ^ 1;
            if sibling < level.len() {
                siblings.push(level[sibling]);
            }
            idx /= 2;
        }
        Some(MerkleProof {
            leaf_index: index as u64,
            leaf_count: self.len() as u64,
            siblings: BoundedVec::new(siblings).ok()?,
        })
    }
}

// `chunks(2)` never yields an empty chunk; this keeps the match total without a panic.
fn unreachable_empty_chunk() -> Hash {
    empty_root()
}

/// The root of `leaves` without keeping the tree.
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    MerkleTree::new(leaves).root()
}

/// An inclusion proof. SCALE: `compact leaf_index ++ compact leaf_count ++ siblings (compact
/// length ≤ 64 ++ 32-byte hashes, bottom-up)`.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MerkleProof {
    /// Position of the proven leaf.
    #[codec(compact)]
    pub leaf_index: u64,
    /// Number of leaves in the tree.
    #[codec(compact)]
    pub leaf_count: u64,
    /// Sibling hashes from the leaf level up; levels where the node was promoted have none.
    pub siblings: BoundedVec<Hash, MAX_PROOF_DEPTH>,
}

impl MerkleProof {
    /// The root this proof leads to from `leaf`.
    pub fn compute_root(&self, leaf: &Hash) -> Result<Hash> {
        if self.leaf_index >= self.leaf_count {
            return Err(Error::MerkleProof(alloc::format!(
                "leaf index {} outside a tree of {} leaves",
                self.leaf_index,
                self.leaf_count
            )));
        }
        let mut hash = leaf_hash(leaf);
        let mut idx = self.leaf_index;
        let mut count = self.leaf_count;
        let mut siblings = self.siblings.iter();
        while count > 1 {
            if idx % 2 == 1 {
                let s = siblings.next().ok_or_else(too_few)?;
                hash = node_hash(s, &hash);
            } else if idx + 1 < count {
                let s = siblings.next().ok_or_else(too_few)?;
                hash = node_hash(&hash, s);
            }
            idx /= 2;
            count = count.div_ceil(2);
        }
        if siblings.next().is_some() {
            return Err(Error::MerkleProof(
                "proof has more siblings than the tree has levels".into(),
            ));
        }
        Ok(root_hash(self.leaf_count, &hash))
    }

    /// Checks that `leaf` is at `leaf_index` in a tree with root `root`.
    pub fn verify(&self, leaf: &Hash, root: &Hash) -> Result<()> {
        let computed = self.compute_root(leaf)?;
        if &computed == root {
            Ok(())
        } else {
            Err(Error::MerkleProof(alloc::format!(
                "proof leads to root {computed:?}, expected {root:?}"
            )))
        }
    }
}

fn too_few() -> Error {
    Error::MerkleProof("proof has too few siblings for the tree's size".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| blake2_256(&(i as u64).to_le_bytes())).collect()
    }

    #[test]
    fn every_leaf_of_every_small_tree_proves() {
        for n in 1..=33 {
            let ls = leaves(n);
            let tree = MerkleTree::new(&ls);
            for (i, leaf) in ls.iter().enumerate() {
                let p = tree.proof(i).unwrap();
                p.verify(leaf, &tree.root()).unwrap();
                assert!(p.verify(&blake2_256(b"other"), &tree.root()).is_err());
            }
            assert!(tree.proof(n).is_none());
        }
    }

    #[test]
    fn tampered_proofs_fail() {
        let ls = leaves(10);
        let tree = MerkleTree::new(&ls);
        let p = tree.proof(3).unwrap();
        let mut q = p.clone();
        q.leaf_index = 4;
        assert!(q.verify(&ls[3], &tree.root()).is_err());
        let mut q = p.clone();
        q.leaf_count = 9;
        assert!(q.verify(&ls[3], &tree.root()).is_err());
        let mut q = p.clone();
        q.siblings = BoundedVec::new(p.siblings[..p.siblings.len() - 1].to_vec()).unwrap();
        assert!(q.verify(&ls[3], &tree.root()).is_err());
        let mut q = p;
        q.leaf_index = 99;
        assert!(q.verify(&ls[3], &tree.root()).is_err());
    }

    #[test]
    fn small_roots_follow_the_documented_rule() {
        assert_eq!(merkle_root(&[]), root_hash(0, &blake2_256(b"")));
        let ls = leaves(3);
        let l: Vec<Hash> = ls.iter().map(leaf_hash).collect();
        assert_eq!(merkle_root(&ls[..1]), root_hash(1, &l[0]));
        assert_eq!(merkle_root(&ls), root_hash(3, &node_hash(&node_hash(&l[0], &l[1]), &l[2])));
    }
}
