//! Milestones: the PBFT-finalised checkpoints of the DAG, and their finality certificates.
//!
//! A [`MilestoneHeader`] names the DAG tips it confirms and commits to the ordered list of vertices
//! it confirms, the receipts of executing them and the resulting state root. Its hash is the
//! blake2b-256 of its SCALE encoding. A [`FinalityCertificate`] holds the commit signatures of a
//! quorum of the committee over [`commit_payload`]; anyone who knows the committee can verify it,
//! which is what the light client does.
use alloc::vec::Vec;

use parity_scale_codec::{Decode, Encode};

use crate::{
    codec::BoundedVec,
    crypto::{verify_batch, Signature},
    hash::hash_of,
    AccountId, Error, Hash, Result,
};

/// Milestone sequence number; genesis is 0.
pub type MilestoneNumber = u64;
/// At most this many committee members.
pub const MAX_COMMITTEE: usize = 256;
/// At most this many tips referenced by one milestone.
pub const MAX_MILESTONE_TIPS: usize = 4096;
/// Domain tag of commit signatures, so they can never be confused with transaction signatures.
pub const COMMIT_TAG: [u8; 16] = *b"ITC/pbft/commit1";

/// A committee: the validators of one epoch, in a fixed order (the PBFT replica indices).
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Committee {
    /// The epoch this committee serves.
    #[codec(compact)]
    pub epoch: u64,
    /// The members' keys; index i is replica i.
    pub members: BoundedVec<AccountId, MAX_COMMITTEE>,
}

impl Committee {
    /// Number of members, n.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the committee has no members (never valid on chain).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The number of faults tolerated: f = ⌊(n − 1) / 3⌋.
    pub fn max_faulty(&self) -> usize {
        self.len().saturating_sub(1) / 3
    }

    /// The quorum size n − f (2f + 1 when n = 3f + 1): any two quorums share an honest member.
    pub fn quorum(&self) -> usize {
        self.len() - self.max_faulty()
    }

    /// The replica index of `who`, if a member.
    pub fn index_of(&self, who: &AccountId) -> Option<usize> {
        self.members.iter().position(|m| m == who)
    }
}

/// A milestone header. Encoded with SCALE in field order; see `docs/formats.md`.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MilestoneHeader {
    /// Sequence number (genesis = 0).
    #[codec(compact)]
    pub number: MilestoneNumber,
    /// Hash of the previous milestone header (zero for genesis).
    pub parent: Hash,
    /// The epoch whose committee finalises this milestone.
    #[codec(compact)]
    pub epoch: u64,
    /// The DAG tips this milestone references; its past cone, less earlier milestones' cones, is
    /// what it confirms.
    pub tips: BoundedVec<Hash, MAX_MILESTONE_TIPS>,
    /// Merkle root of the confirmed vertex hashes in execution order.
    pub ordered_root: Hash,
    /// Number of vertices confirmed.
    #[codec(compact)]
    pub vertex_count: u32,
    /// State root after executing the confirmed vertices.
    pub state_root: Hash,
    /// Merkle root of the receipts, in execution order.
    pub receipts_root: Hash,
    /// The proposer's clock when proposing, in milliseconds since the Unix epoch.
    #[codec(compact)]
    pub timestamp_ms: u64,
    /// The primary that proposed it.
    pub proposer: AccountId,
    /// Set on the last milestone of an epoch: the committee of the next epoch.
    pub next_committee: Option<Committee>,
}

impl MilestoneHeader {
    /// The header hash: blake2b-256 of its SCALE encoding.
    pub fn hash(&self) -> Hash {
        hash_of(self)
    }
}

/// The bytes a committee member signs to commit `header_hash` at `number` in `view`:
/// `COMMIT_TAG ++ SCALE(number as u64) ++ SCALE(view as u64) ++ header_hash`.
pub fn commit_payload(number: MilestoneNumber, view: u64, header_hash: &Hash) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + 8 + 8 + 32);
    out.extend_from_slice(&COMMIT_TAG);
    number.encode_to(&mut out);
    view.encode_to(&mut out);
    out.extend_from_slice(&header_hash.0);
    out
}

/// Proof that a quorum of a committee committed a milestone header.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FinalityCertificate {
    /// The milestone number.
    #[codec(compact)]
    pub number: MilestoneNumber,
    /// The PBFT view in which the quorum committed.
    #[codec(compact)]
    pub view: u64,
    /// The certified header's hash.
    pub header_hash: Hash,
    /// The signers and their signatures over [`commit_payload`].
    pub signatures: BoundedVec<(AccountId, Signature), MAX_COMMITTEE>,
}

impl FinalityCertificate {
    /// Checks that this certificate finalises `header` under `committee`: the hash and number
    /// match, the signers are distinct members, there are at least a quorum of them, and every
    /// signature is valid.
    pub fn verify(&self, header: &MilestoneHeader, committee: &Committee) -> Result<()> {
        let hash = header.hash();
        if hash != self.header_hash {
            return Err(Error::Certificate(alloc::format!(
                "certificate is for header {:?}, not {:?}",
                self.header_hash,
                hash
            )));
        }
        if header.number != self.number {
            return Err(Error::Certificate(alloc::format!(
                "certificate is for milestone {}, header is {}",
                self.number,
                header.number
            )));
        }
        self.verify_signatures(committee)
    }

    /// Checks the signatures alone (used when only the header hash is known).
    pub fn verify_signatures(&self, committee: &Committee) -> Result<()> {
        let mut seen = alloc::vec![false; committee.len()];
        for (signer, _) in self.signatures.iter() {
            let idx = committee.index_of(signer).ok_or_else(|| {
                Error::Certificate(alloc::format!(
                    "{signer} signed but is not in the committee of epoch {}",
                    committee.epoch
                ))
            })?;
            if core::mem::replace(&mut seen[idx], true) {
                return Err(Error::Certificate(alloc::format!("{signer} signed twice")));
            }
        }
        if self.signatures.len() < committee.quorum() {
            return Err(Error::Certificate(alloc::format!(
                "{} signatures, quorum of {} members is {}",
                self.signatures.len(),
                committee.len(),
                committee.quorum()
            )));
        }
        let payload = commit_payload(self.number, self.view, &self.header_hash);
        let items: Vec<(&[u8], &Signature, &AccountId)> =
            self.signatures.iter().map(|(who, sig)| (payload.as_slice(), sig, who)).collect();
        verify_batch(&items)
            .map_err(|_| Error::Certificate("a commit signature does not verify".into()))
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::Pair;

    fn committee(n: u8) -> (Vec<Pair>, Committee) {
        let pairs: Vec<Pair> = (0..n).map(|i| Pair::from_seed(&[i + 1; 32]).unwrap()).collect();
        let members = BoundedVec::new(pairs.iter().map(Pair::public).collect()).unwrap();
        (pairs, Committee { epoch: 0, members })
    }

    fn header() -> MilestoneHeader {
        MilestoneHeader {
            number: 1,
            parent: Hash::ZERO,
            epoch: 0,
            tips: BoundedVec::new(vec![Hash([1; 32])]).unwrap(),
            ordered_root: Hash([2; 32]),
            vertex_count: 1,
            state_root: Hash([3; 32]),
            receipts_root: Hash([4; 32]),
            timestamp_ms: 1_700_000_000_000,
            proposer: AccountId::default(),
            next_committee: None,
        }
    }

    fn certify(pairs: &[Pair], h: &MilestoneHeader, view: u64) -> FinalityCertificate {
        let payload = commit_payload(h.number, view, &h.hash());
        let sigs = pairs.iter().map(|p| (p.public(), p.sign(&payload))).collect();
        FinalityCertificate {
            number: h.number,
            view,
            header_hash: h.hash(),
            signatures: BoundedVec::new(sigs).unwrap(),
        }
    }

    #[test]
    fn quorum_sizes() {
        for (n, q) in [(1u8, 1usize), (4, 3), (5, 4), (7, 5), (10, 7), (16, 11)] {
            assert_eq!(committee(n).1.quorum(), q, "n = {n}");
        }
    }

    #[test]
    fn certificate_verifies_with_quorum_and_fails_otherwise() {
        let (pairs, c) = committee(4);
        let h = header();
        certify(&pairs[..3], &h, 0).verify(&h, &c).unwrap();
        assert!(certify(&pairs[..2], &h, 0).verify(&h, &c).is_err(), "below quorum");
        let mut dup = certify(&pairs[..3], &h, 0);
        let first = dup.signatures[0];
        dup.signatures = BoundedVec::new(vec![first, first, dup.signatures[1]]).unwrap();
        assert!(dup.verify(&h, &c).is_err(), "duplicate signer");
        let outsider = Pair::from_seed(&[99; 32]).unwrap();
        let mut bad = certify(&pairs[..2], &h, 0);
        let extra = certify(core::slice::from_ref(&outsider), &h, 0).signatures[0];
        let mut sigs = bad.signatures.to_vec();
        sigs.push(extra);
        bad.signatures = BoundedVec::new(sigs).unwrap();
        assert!(bad.verify(&h, &c).is_err(), "non-member");
        let mut wrong_view = certify(&pairs[..3], &h, 0);
        wrong_view.view = 1;
        assert!(wrong_view.verify(&h, &c).is_err(), "signatures are bound to the view");
        let mut other = h.clone();
        other.state_root = Hash([9; 32]);
        assert!(certify(&pairs[..3], &h, 0).verify(&other, &c).is_err(), "other header");
    }
}
