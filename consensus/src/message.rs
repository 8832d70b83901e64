//! The PBFT wire messages (SCALE), their signing payloads and their signature checks.
//!
//! Every message travels as a [`SignedMessage`]: the epoch, the sender's key, a [`Body`] and the
//! sender's sr25519 signature. What is signed depends on the body:
//!
//! - [`Body::Commit`] signs exactly [`itc_primitives::milestone::commit_payload`]`(seq, view,
//!   digest)`, so that any 2f+1 commits for one header form an
//!   [`itc_primitives::FinalityCertificate`].
//! - every other body signs `MSG_TAG ++ SCALE(epoch) ++ sender ++ SCALE(body)` (see
//!   [`signing_payload`]); the 16-byte tag separates these signatures from commit and transaction
//!   signatures, and the body's enum index separates the kinds from one another.
use itc_primitives::{
    codec::BoundedVec, decode_untrusted, milestone::commit_payload, AccountId, FinalityCertificate,
    Hash, MilestoneHeader, Pair, Signature,
};
use parity_scale_codec::{Decode, Encode};

use crate::{Error, Result, SeqNo, View};

/// Domain tag of every non-commit PBFT signature.
pub const MSG_TAG: [u8; 16] = *b"ITC/pbft/msg/v1\0";
/// At most this many prepared certificates in one view-change message (the watermark window).
pub const MAX_PREPARED: usize = 256;
/// At most this many certified milestones in one state-transfer response.
pub const MAX_TRANSFER: usize = 32;
/// At most this many signatures in one quorum proof (the committee bound).
pub const MAX_SIGNERS: usize = itc_primitives::milestone::MAX_COMMITTEE;

/// A vote (prepare or commit) for a header digest at `(view, seq)`.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub struct Vote {
    /// The view.
    #[codec(compact)]
    pub view: View,
    /// The sequence number (milestone number).
    #[codec(compact)]
    pub seq: SeqNo,
    /// The header hash voted for.
    pub digest: Hash,
}

/// The primary's proposal of `header` at `(view, seq)` (PBFT §4.2 pre-prepare).
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub struct PrePrepare {
    /// The view.
    #[codec(compact)]
    pub view: View,
    /// The sequence number; equals `header.number`.
    #[codec(compact)]
    pub seq: SeqNo,
    /// The proposed milestone header.
    pub header: MilestoneHeader,
}

/// A checkpoint vote: "after milestone `seq` my state digest is `digest`" (PBFT §4.3). The state
/// digest is the header hash, which commits to the state root.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub struct Checkpoint {
    /// The checkpointed milestone number (a multiple of the checkpoint interval).
    #[codec(compact)]
    pub seq: SeqNo,
    /// The header hash of that milestone.
    pub digest: Hash,
}

/// A stable checkpoint with its proof: a quorum of checkpoint signatures (PBFT §4.3). The first
/// milestone of an epoch's base (the previous epoch's last milestone, or genesis) needs no
/// signatures: it is the starting point every member of the epoch agrees on.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub struct CheckpointProof {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// `(signer, signature)` over the checkpoint's signing payload in this epoch.
    pub signatures: BoundedVec<(AccountId, Signature), MAX_SIGNERS>,
}

/// Proof that `header` was prepared at `(view, seq)`: the primary's pre-prepare signature and
/// 2f prepare signatures of distinct backups (PBFT §4.4, the set P of a view-change message).
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub struct PreparedCert {
    /// The view in which the header was prepared.
    #[codec(compact)]
    pub view: View,
    /// The sequence number.
    #[codec(compact)]
    pub seq: SeqNo,
    /// The prepared header.
    pub header: MilestoneHeader,
    /// The primary's signature on the pre-prepare.
    pub pre_prepare_sig: Signature,
    /// The backups' prepare signatures.
    pub prepares: BoundedVec<(AccountId, Signature), MAX_SIGNERS>,
}

/// A view-change message for `new_view` (PBFT §4.4): the sender's stable checkpoint and, for every
/// sequence number above it, its prepared certificate of the highest view.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub struct ViewChange {
    /// The view the sender moves to.
    #[codec(compact)]
    pub new_view: View,
    /// The sender's stable checkpoint.
    pub stable: CheckpointProof,
    /// Prepared certificates above the stable checkpoint, ascending by sequence number.
    pub prepared: BoundedVec<PreparedCert, MAX_PREPARED>,
}

/// A view-change message with its sender and signature, as carried inside a new-view message.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub struct SignedViewChange {
    /// The sender.
    pub sender: AccountId,
    /// The view-change message.
    pub view_change: ViewChange,
    /// The sender's signature over `signing_payload(epoch, sender, Body::ViewChange(..))`.
    pub signature: Signature,
}

/// The new primary's new-view message (PBFT §4.4): the quorum of view changes it used and its
/// signatures on the pre-prepares it derives from them (the set O). The pre-prepared headers are
/// not repeated: every replica recomputes them from the view changes.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub struct NewView {
    /// The new view.
    #[codec(compact)]
    pub view: View,
    /// A quorum of view-change messages for `view`, from distinct members.
    pub view_changes: BoundedVec<SignedViewChange, MAX_SIGNERS>,
    /// The primary's pre-prepare signatures for the derived re-proposals, in sequence order.
    pub pre_prepare_sigs: BoundedVec<Signature, MAX_PREPARED>,
}

/// A finalised milestone: the header and its finality certificate.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub struct CertifiedMilestone {
    /// The header.
    pub header: MilestoneHeader,
    /// Its finality certificate.
    pub certificate: FinalityCertificate,
}

/// The body of a PBFT message. The explicit indices are the wire format: never reuse one.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub enum Body {
    /// Pre-prepare (PBFT §4.2).
    #[codec(index = 0)]
    PrePrepare(PrePrepare),
    /// Prepare (PBFT §4.2).
    #[codec(index = 1)]
    Prepare(Vote),
    /// Commit (PBFT §4.2); signed over `commit_payload`.
    #[codec(index = 2)]
    Commit(Vote),
    /// Checkpoint (PBFT §4.3).
    #[codec(index = 3)]
    Checkpoint(Checkpoint),
    /// View change (PBFT §4.4).
    #[codec(index = 4)]
    ViewChange(ViewChange),
    /// New view (PBFT §4.4).
    #[codec(index = 5)]
    NewView(NewView),
    /// Asks for certified milestones from `from` on (state transfer, PBFT §5.3 in spirit).
    #[codec(index = 6)]
    StateRequest {
        /// The first milestone number wanted.
        #[codec(compact)]
        from: SeqNo,
    },
    /// Certified milestones in ascending order, and the sender's stable checkpoint.
    #[codec(index = 7)]
    StateResponse {
        /// Consecutive certified milestones.
        milestones: BoundedVec<CertifiedMilestone, MAX_TRANSFER>,
        /// The sender's latest stable checkpoint, if it has one with signatures.
        checkpoint: Option<CheckpointProof>,
    },
}

impl Body {
    /// A short name of the kind, for logs and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::PrePrepare(_) => "pre-prepare",
            Body::Prepare(_) => "prepare",
            Body::Commit(_) => "commit",
            Body::Checkpoint(_) => "checkpoint",
            Body::ViewChange(_) => "view-change",
            Body::NewView(_) => "new-view",
            Body::StateRequest { .. } => "state-request",
            Body::StateResponse { .. } => "state-response",
        }
    }
}

/// A signed PBFT message: what replicas exchange.
#[derive(Clone, PartialEq, Eq, Debug, Encode, Decode)]
pub struct SignedMessage {
    /// The epoch (committee) the message belongs to.
    #[codec(compact)]
    pub epoch: u64,
    /// The sender's key.
    pub sender: AccountId,
    /// The content.
    pub body: Body,
    /// The sender's signature (see the module docs for what is signed).
    pub signature: Signature,
}

/// The bytes signed for a non-commit body: `MSG_TAG ++ SCALE(epoch as u64) ++ sender ++
/// SCALE(body)`. For [`Body::Commit`] use [`commit_payload`] instead (see [`payload_of`]).
pub fn signing_payload(epoch: u64, sender: &AccountId, body: &Body) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + body.size_hint());
    out.extend_from_slice(&MSG_TAG);
    epoch.encode_to(&mut out);
    out.extend_from_slice(&sender.0);
    body.encode_to(&mut out);
    out
}

/// The payload of a pre-prepare without building a [`Body`] (saves cloning the header).
pub fn pre_prepare_payload(
    epoch: u64,
    sender: &AccountId,
    view: View,
    seq: SeqNo,
    header: &MilestoneHeader,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(&MSG_TAG);
    epoch.encode_to(&mut out);
    out.extend_from_slice(&sender.0);
    0u8.encode_to(&mut out);
    parity_scale_codec::Compact(view).encode_to(&mut out);
    parity_scale_codec::Compact(seq).encode_to(&mut out);
    header.encode_to(&mut out);
    out
}

/// The payload of a prepare.
pub fn prepare_payload(epoch: u64, sender: &AccountId, vote: &Vote) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    out.extend_from_slice(&MSG_TAG);
    epoch.encode_to(&mut out);
    out.extend_from_slice(&sender.0);
    1u8.encode_to(&mut out);
    vote.encode_to(&mut out);
    out
}

/// The payload of a checkpoint.
pub fn checkpoint_payload(epoch: u64, sender: &AccountId, checkpoint: &Checkpoint) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    out.extend_from_slice(&MSG_TAG);
    epoch.encode_to(&mut out);
    out.extend_from_slice(&sender.0);
    3u8.encode_to(&mut out);
    checkpoint.encode_to(&mut out);
    out
}

/// The payload of a view change.
pub fn view_change_payload(epoch: u64, sender: &AccountId, vc: &ViewChange) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(&MSG_TAG);
    epoch.encode_to(&mut out);
    out.extend_from_slice(&sender.0);
    4u8.encode_to(&mut out);
    vc.encode_to(&mut out);
    out
}

/// The bytes the sender of `body` signs in `epoch`.
pub fn payload_of(epoch: u64, sender: &AccountId, body: &Body) -> Vec<u8> {
    match body {
        Body::Commit(v) => commit_payload(v.seq, v.view, &v.digest),
        _ => signing_payload(epoch, sender, body),
    }
}

impl SignedMessage {
    /// Signs `body` as `pair` in `epoch` (deterministic signatures: replays are byte-identical).
    pub fn sign(pair: &Pair, epoch: u64, body: Body) -> Self {
        let sender = pair.public();
        let signature = pair.sign_deterministic(&payload_of(epoch, &sender, &body));
        SignedMessage { epoch, sender, body, signature }
    }

    /// Whether the signature is the sender's over this body.
    pub fn verify_signature(&self) -> bool {
        self.sender.verify(&payload_of(self.epoch, &self.sender, &self.body), &self.signature)
    }

    /// Checks the signature once, for a caller that must know before it relays the message
    /// (gossip validation): the [`VerifiedMessage`] it returns is fed to a replica as
    /// [`crate::Input::Verified`], which then does not check the same signature again.
    /// Gives the message back if the signature is not the sender's.
    pub fn verified(self) -> core::result::Result<VerifiedMessage, Box<SignedMessage>> {
        let payload = payload_of(self.epoch, &self.sender, &self.body);
        if self.sender.verify(&payload, &self.signature) {
            Ok(VerifiedMessage { msg: self, payload })
        } else {
            Err(Box::new(self))
        }
    }

    /// SCALE bytes for the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode()
    }

    /// Decodes peer bytes (all bytes used, depth-limited). Does not check the signature.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        decode_untrusted(bytes).map_err(|e| Error::Malformed(e.to_string()))
    }
}

/// A [`SignedMessage`] whose signature was checked over `payload` (see
/// [`SignedMessage::verified`]); only that function makes one.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifiedMessage {
    msg: SignedMessage,
    payload: Vec<u8>,
}

impl VerifiedMessage {
    /// The message.
    pub fn message(&self) -> &SignedMessage {
        &self.msg
    }

    /// The message and the payload its signature was checked over.
    pub(crate) fn into_parts(self) -> (SignedMessage, Vec<u8>) {
        (self.msg, self.payload)
    }

    /// The message, without the proof of its check.
    pub fn into_message(self) -> SignedMessage {
        self.msg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use itc_primitives::codec::BoundedVec;

    fn pair(i: u8) -> Pair {
        Pair::from_seed(&[i; 32]).unwrap()
    }

    pub(crate) fn header() -> MilestoneHeader {
        MilestoneHeader {
            number: 1,
            parent: Hash([0x11; 32]),
            epoch: 0,
            tips: BoundedVec::new(vec![Hash([0x22; 32])]).unwrap(),
            ordered_root: Hash([0x33; 32]),
            vertex_count: 1,
            state_root: Hash([0x44; 32]),
            receipts_root: Hash([0x55; 32]),
            timestamp_ms: 1_700_000_000_000,
            proposer: pair(1).public(),
            next_committee: None,
        }
    }

    #[test]
    fn specialised_payloads_equal_generic_payloads() {
        let who = pair(1).public();
        let h = header();
        let pp = Body::PrePrepare(PrePrepare { view: 3, seq: 1, header: h.clone() });
        assert_eq!(pre_prepare_payload(2, &who, 3, 1, &h), signing_payload(2, &who, &pp));
        let vote = Vote { view: 3, seq: 1, digest: h.hash() };
        assert_eq!(
            prepare_payload(2, &who, &vote),
            signing_payload(2, &who, &Body::Prepare(vote.clone()))
        );
        let cp = Checkpoint { seq: 8, digest: Hash([9; 32]) };
        assert_eq!(
            checkpoint_payload(2, &who, &cp),
            signing_payload(2, &who, &Body::Checkpoint(cp.clone()))
        );
        let vc = ViewChange {
            new_view: 4,
            stable: CheckpointProof { checkpoint: cp, signatures: BoundedVec::default() },
            prepared: BoundedVec::default(),
        };
        assert_eq!(
            view_change_payload(2, &who, &vc),
            signing_payload(2, &who, &Body::ViewChange(vc.clone()))
        );
    }

    #[test]
    fn commit_signature_is_over_commit_payload() {
        let p = pair(2);
        let vote = Vote { view: 5, seq: 9, digest: Hash([7; 32]) };
        let msg = SignedMessage::sign(&p, 0, Body::Commit(vote.clone()));
        assert!(msg.verify_signature());
        assert!(p.public().verify(&commit_payload(9, 5, &vote.digest), &msg.signature));
    }

    #[test]
    fn tampering_with_any_field_breaks_the_signature() {
        let p = pair(3);
        let msg = SignedMessage::sign(
            &p,
            1,
            Body::Prepare(Vote { view: 0, seq: 1, digest: Hash([1; 32]) }),
        );
        assert!(msg.verify_signature());
        let mut other_epoch = msg.clone();
        other_epoch.epoch = 2;
        assert!(!other_epoch.verify_signature());
        let mut other_sender = msg.clone();
        other_sender.sender = pair(4).public();
        assert!(!other_sender.verify_signature());
        let mut as_commit = msg.clone();
        if let Body::Prepare(v) = &as_commit.body {
            as_commit.body = Body::Commit(v.clone());
        }
        assert!(!as_commit.verify_signature(), "a prepare signature is not a commit signature");
    }

    #[test]
    fn scale_test_vectors() {
        let vote = Vote { view: 1, seq: 2, digest: Hash([0xaa; 32]) };
        let aa = "aa".repeat(32);
        assert_eq!(hex::encode(Body::Prepare(vote.clone()).encode()), format!("010408{aa}"));
        assert_eq!(hex::encode(Body::Commit(vote.clone()).encode()), format!("020408{aa}"));
        let cp = Body::Checkpoint(Checkpoint { seq: 8, digest: Hash([0xbb; 32]) });
        assert_eq!(hex::encode(cp.encode()), format!("0320{}", "bb".repeat(32)));
        assert_eq!(hex::encode(Body::StateRequest { from: 5 }.encode()), "0614");
        let p = pair(1);
        let who = hex::encode(p.public().0);
        assert_eq!(
            hex::encode(signing_payload(3, &p.public(), &Body::Prepare(vote))),
            format!("4954432f706266742f6d73672f7631000300000000000000{who}010408{aa}")
        );
        let msg = SignedMessage::sign(&p, 0, Body::StateRequest { from: 5 });
        assert_eq!(
            hex::encode(msg.to_bytes()),
            format!("00{who}0614{}", hex::encode(msg.signature.0))
        );
        assert_eq!(hex::encode(msg.signature.0), SIGNED_STATE_REQUEST_SIG);
        assert_eq!(who, SEED1_KEY);
    }

    /// The key of seed `[1; 32]` and its deterministic signature of `StateRequest { from: 5 }`.
    const SEED1_KEY: &str = "189dac29296d31814dc8c56cf3d36a0543372bba7538fa322a4aebfebc39e056";
    const SIGNED_STATE_REQUEST_SIG: &str = "76357d3ead25c7331b957401ea32776e9b617114401a4b7b46b331b6e49ec3171126f403226a7d5eb02b2c82c50c7d273c3f237e484bd8a105571cf76a828d87";

    #[test]
    fn garbage_and_truncated_bytes_are_errors() {
        let msg = SignedMessage::sign(&pair(1), 0, Body::StateRequest { from: 3 });
        let bytes = msg.to_bytes();
        assert_eq!(SignedMessage::from_bytes(&bytes).unwrap(), msg);
        for cut in 0..bytes.len() {
            assert!(SignedMessage::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(SignedMessage::from_bytes(&long).is_err());
        let mut bad_kind = bytes;
        bad_kind[33] = 200;
        assert!(SignedMessage::from_bytes(&bad_kind).is_err());
    }
}
