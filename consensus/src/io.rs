//! What goes into the state machine ([`Input`]) and what comes out ([`Action`]).
use itc_primitives::{AccountId, FinalityCertificate, Hash, MilestoneHeader};
use parity_scale_codec::{Decode, Encode};

use crate::{
    message::{CertifiedMilestone, CheckpointProof, PreparedCert, SignedMessage, VerifiedMessage},
    SeqNo, View,
};

/// Identifies a scheduled timeout; the machine ignores elapsed timeouts that are no longer
/// current, so the caller never needs to cancel one.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Encode, Decode)]
pub struct TimerId(pub u64);

/// Identifies a [`Action::Persist`] request; answer with [`Input::Persisted`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Encode, Decode)]
pub struct PersistId(pub u64);

/// An event the caller feeds into [`crate::Pbft::step`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A message from peer `from` (the transport-authenticated peer key). Decode wire bytes with
    /// [`SignedMessage::from_bytes`]; the machine checks signatures and membership itself.
    Message(AccountId, SignedMessage),
    /// A message whose signature the caller already checked ([`SignedMessage::verified`], as
    /// gossip validation does before relaying it): handled as [`Input::Message`] without
    /// checking that signature twice. Signatures it carries inside (certificates, proofs) are
    /// still checked.
    Verified(AccountId, VerifiedMessage),
    /// A timeout scheduled with [`Action::ScheduleTimeout`] elapsed.
    TimeoutElapsed(TimerId),
    /// The primary's proposal, in answer to [`Action::RequestProposal`].
    Propose(MilestoneHeader),
    /// The caller's verdict on a header it was asked to [`Action::Validate`].
    Validated {
        /// The milestone number.
        seq: SeqNo,
        /// The header hash that was validated.
        digest: Hash,
        /// Whether the header is valid (past cone known, execution reproduces its roots).
        ok: bool,
    },
    /// The record of [`Action::Persist`] with this id is durable.
    Persisted(PersistId),
    /// Certified milestones the caller fetched out of band (from a peer's store, when this
    /// replica fell further behind than the peers' in-memory history serves). Those that extend
    /// the last committed milestone and whose certificates verify are delivered as
    /// [`Action::Committed`], exactly as a state-transfer answer would be (PBFT §5.3).
    Certified(Vec<CertifiedMilestone>),
    /// Whether the caller holds work for the primary to propose (here: unconfirmed vertices in
    /// the DAG). PBFT §4.4 runs a backup's view-change timer only while a request waits to be
    /// executed: while nothing is pending and no pre-prepare is in flight, an expired timer asks
    /// peers for missed milestones but does not suspect the primary, so an idle chain needs no
    /// milestones to keep its view. A replica assumes work is pending until told otherwise.
    Pending(bool),
    /// The caller holds evidence that the primary, although it proposes, is not doing its job:
    /// here, work this replica has held for long enough stays out of milestones that had room
    /// for it (censorship; PBFT's per-request timers catch it, where one timer restarted by
    /// every milestone does not). A member in the normal case moves to the next view (PBFT
    /// §4.4), as on a timeout; the primary itself and a replica already changing views ignore it.
    Suspect,
}

/// Something the caller must do, in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send `msg` to one peer.
    Send(AccountId, SignedMessage),
    /// Send `msg` to every other member of the current committee.
    Broadcast(SignedMessage),
    /// Make `record` durable, then answer with [`Input::Persisted`]. Messages that depend on it
    /// are held by the machine until then (PBFT requires a replica to log before it speaks).
    Persist(PersistId, PersistRecord),
    /// Call back with [`Input::TimeoutElapsed`] after `after_ms`.
    ScheduleTimeout {
        /// The id to hand back.
        id: TimerId,
        /// Delay in milliseconds.
        after_ms: u64,
    },
    /// This replica is the primary and needs a header for milestone `seq` with this parent.
    /// Answer with [`Input::Propose`] (possibly later).
    RequestProposal {
        /// The view the proposal is for.
        view: View,
        /// The milestone number.
        seq: SeqNo,
        /// The parent hash the header must carry.
        parent: Hash,
        /// The epoch the header must carry.
        epoch: u64,
    },
    /// Check `header` (DAG past cone, re-execution) and answer with [`Input::Validated`].
    Validate(MilestoneHeader),
    /// `header` is final: the caller applies it. Committed headers come in order, without gaps.
    Committed(MilestoneHeader, FinalityCertificate),
    /// Two signed messages of one replica that contradict each other.
    Evidence(Box<Evidence>),
    /// This replica adopted the committee of a new epoch, starting after milestone `base`.
    EpochChanged {
        /// The new epoch.
        epoch: u64,
        /// The last milestone of the previous epoch.
        base: SeqNo,
    },
}

/// What the machine asks the caller to make durable; [`crate::Pbft::restore`] rebuilds a replica
/// from the records in the order they were persisted. SCALE with explicit indices.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum PersistRecord {
    /// A message this replica signed and is about to send.
    #[codec(index = 0)]
    Sent(SignedMessage),
    /// A certificate that a header prepared, kept for view changes (PBFT §4.4).
    #[codec(index = 1)]
    Prepared(PreparedCert),
    /// A committed milestone.
    #[codec(index = 2)]
    Committed {
        /// The header.
        header: MilestoneHeader,
        /// Its certificate.
        certificate: FinalityCertificate,
    },
    /// A stable checkpoint of the given epoch.
    #[codec(index = 3)]
    Stable {
        /// The epoch the proof's signatures belong to.
        #[codec(compact)]
        epoch: u64,
        /// The proof.
        proof: CheckpointProof,
    },
    /// A new-view message of another replica that this one accepted, entering its view
    /// (PBFT §4.4). Restoring it puts the replica back in that view with the view's
    /// re-proposals, so a restart never forgets a view it may have voted in (see
    /// [`PersistRecord::durability`]).
    #[codec(index = 4)]
    EnteredView(SignedMessage),
}

/// How durable the caller must make a [`PersistRecord`] before it answers
/// [`Input::Persisted`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// On stable storage (fsync) before the answer.
    Synced,
    /// Written in order behind the synced records, but the answer need not wait for stable
    /// storage: a crash may lose it, together with every record after the last synced one.
    Buffered,
}

impl PersistRecord {
    /// How durable this record must be before [`Input::Persisted`].
    ///
    /// Only a backup's own prepare is [`Durability::Buffered`]: the normal case's most frequent
    /// record, and the only one whose loss the machine covers by itself. A prepare record only
    /// stops a restarted replica from preparing a second digest for the same view and sequence
    /// number. After [`crate::Pbft::restore`] the replica therefore sends no prepare in its
    /// restored view for a sequence number up to three above its last delivered milestone `L`
    /// unless its log holds its own prepare for that slot (the *restart fence*). That covers
    /// every prepare a crash can take: a prepare for `n` is sent only once the caller validated
    /// `n`, which it does on the state of `n − 1` (applied, or, pipelined, executed on top of
    /// the applied `n − 2`), so `n − 2` was delivered and the caller told of it; its
    /// [`PersistRecord::Committed`] record is synced, so a lost prepare is for at most `L + 2`
    /// (`L + 3` is a margin). Every way into a view is synced (a sent view
    /// change or new view, [`PersistRecord::EnteredView`]), so a lost prepare is never in a
    /// view above the restored one, and in later views the replica has sent nothing.
    pub fn durability(&self) -> Durability {
        match self {
            PersistRecord::Sent(msg) if matches!(msg.body, crate::message::Body::Prepare(_)) => {
                Durability::Buffered
            }
            _ => Durability::Synced,
        }
    }
}

/// Two messages signed by one replica that no honest replica would both sign: two different
/// pre-prepares, prepares or commits for one `(view, seq)`, or two checkpoints for one `seq`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Evidence {
    /// The message seen first.
    pub first: SignedMessage,
    /// The conflicting message.
    pub second: SignedMessage,
}

impl Evidence {
    /// Whether this is valid evidence: one sender, one epoch, both signatures valid, same kind
    /// and slot, different digests.
    pub fn is_valid(&self) -> bool {
        use crate::message::Body::*;
        if self.first.sender != self.second.sender || self.first.epoch != self.second.epoch {
            return false;
        }
        let conflicting = match (&self.first.body, &self.second.body) {
            (PrePrepare(a), PrePrepare(b)) => {
                a.view == b.view && a.seq == b.seq && a.header.hash() != b.header.hash()
            }
            (Prepare(a), Prepare(b)) | (Commit(a), Commit(b)) => {
                a.view == b.view && a.seq == b.seq && a.digest != b.digest
            }
            (Checkpoint(a), Checkpoint(b)) => a.seq == b.seq && a.digest != b.digest,
            _ => false,
        };
        conflicting && self.first.verify_signature() && self.second.verify_signature()
    }
}

/// Counters for benchmarks and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Signature verifications performed.
    pub verifications: u64,
    /// Signature checks answered by an [`Input::Verified`] message's earlier check.
    pub verifications_reused: u64,
    /// Signatures made.
    pub signatures: u64,
    /// Milestones committed.
    pub committed: u64,
    /// Messages dropped because they were invalid (bad signature, not a member, out of window).
    pub rejected: u64,
    /// View changes started.
    pub view_changes: u64,
}

#[cfg(test)]
mod tests {
    use itc_primitives::{Hash, Public, Signature};
    use parity_scale_codec::{Decode, Encode};

    use super::{Durability, PersistRecord};
    use crate::message::{Body, SignedMessage, Vote};

    fn signed(body: Body) -> SignedMessage {
        SignedMessage {
            epoch: 2,
            sender: Public([0x11; 32]),
            body,
            signature: Signature([0x22; 64]),
        }
    }

    #[test]
    fn persist_record_test_vectors() {
        let vote = Vote { view: 1, seq: 2, digest: Hash([0xaa; 32]) };
        let (key, sig, aa) = ("11".repeat(32), "22".repeat(64), "aa".repeat(32));
        let sent = PersistRecord::Sent(signed(Body::Prepare(vote)));
        assert_eq!(hex::encode(sent.encode()), format!("0008{key}010408{aa}{sig}"));
        let entered = PersistRecord::EnteredView(signed(Body::StateRequest { from: 5 }));
        assert_eq!(hex::encode(entered.encode()), format!("0408{key}0614{sig}"));
        for record in [sent, entered] {
            let bytes = record.encode();
            assert_eq!(PersistRecord::decode(&mut &bytes[..]).unwrap(), record);
        }
        assert!(PersistRecord::decode(&mut &[5u8][..]).is_err(), "no record kind 5");
    }

    #[test]
    fn only_prepares_are_buffered() {
        let vote = Vote { view: 0, seq: 1, digest: Hash([1; 32]) };
        let durability = |body| PersistRecord::Sent(signed(body)).durability();
        assert_eq!(durability(Body::Prepare(vote.clone())), Durability::Buffered);
        assert_eq!(durability(Body::Commit(vote)), Durability::Synced);
        assert_eq!(durability(Body::StateRequest { from: 1 }), Durability::Synced);
        let entered = PersistRecord::EnteredView(signed(Body::StateRequest { from: 1 }));
        assert_eq!(entered.durability(), Durability::Synced);
    }
}
