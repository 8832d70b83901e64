//! State transfer of certified milestones (PBFT §5.3 in spirit: a replica that falls behind
//! fetches what it missed, here headers with their finality certificates) and epoch switching.
use itc_primitives::{codec::BoundedVec, AccountId, Committee, Hash};

use super::{Pbft, Status};
use crate::{
    io::Action,
    message::{Body, CertifiedMilestone, Checkpoint, CheckpointProof, SignedMessage, MAX_TRANSFER},
    SeqNo,
};

/// State requests from outside the committee a replica answers per timer period, in all.
pub const OUTSIDER_STATE_ANSWERS: usize = 4;

impl Pbft {
    /// Asks `to` (or every member) for certified milestones after the last committed one. At most
    /// one request is outstanding per timeout period.
    pub(crate) fn request_state(&mut self, to: Option<AccountId>) {
        if self.state_requested {
            return;
        }
        self.state_requested = true;
        let msg = self.sign(Body::StateRequest { from: self.last_delivered + 1 });
        match to {
            Some(peer) if peer != self.me => self.out.push(Action::Send(peer, msg)),
            Some(_) => {}
            None => self.out.push(Action::Broadcast(msg)),
        }
    }

    pub(crate) fn on_transfer_message(&mut self, msg: SignedMessage) {
        let payload = crate::message::payload_of(msg.epoch, &msg.sender, &msg.body);
        if !self.verify(&msg.sender, &payload, &msg.signature) {
            self.stats.rejected += 1;
            return;
        }
        match msg.body {
            Body::StateRequest { from } => self.serve_state(msg.sender, from),
            Body::StateResponse { milestones, checkpoint } => {
                let sender = msg.sender;
                let before = self.last_delivered;
                self.adopt_certified(milestones.into_inner());
                if let Some(proof) = checkpoint {
                    if msg.epoch == self.epoch
                        && proof.checkpoint.seq > self.stable.checkpoint.seq
                        && self.delivered.get(&proof.checkpoint.seq)
                            == Some(&proof.checkpoint.digest)
                        && self.verify_checkpoint_proof(&proof)
                    {
                        self.make_stable(proof);
                    }
                }
                if self.last_delivered > before {
                    // There may be more: ask the same peer again.
                    self.state_requested = false;
                    self.request_state(Some(sender));
                }
            }
            _ => {}
        }
    }

    /// Delivers the certified milestones that extend the last committed one, in order, each
    /// after its certificate verifies against the current committee (a milestone naming the
    /// next committee switches the epoch before the next one is checked). Stops at the first
    /// that does not fit or does not verify. Returns how many were delivered.
    pub(crate) fn adopt_certified(&mut self, milestones: Vec<CertifiedMilestone>) -> usize {
        let before = self.last_delivered;
        for cm in milestones {
            let number = cm.header.number;
            if number <= self.last_delivered {
                continue;
            }
            if number != self.last_delivered + 1
                || cm.header.parent != self.last_hash
                || cm.header.epoch != self.epoch
            {
                break;
            }
            self.stats.verifications += cm.certificate.signatures.len() as u64;
            if cm.certificate.verify(&cm.header, &self.committee).is_err() {
                self.stats.rejected += 1;
                break;
            }
            self.deliver(cm.header, cm.certificate);
        }
        (self.last_delivered - before) as usize
    }

    /// Answers a state request from the in-memory history of certified milestones.
    fn serve_state(&mut self, to: AccountId, from: SeqNo) {
        if to == self.me || from > self.last_delivered {
            return;
        }
        // A state request is small and its answer large (up to `MAX_TRANSFER` certified
        // milestones, relayed to the whole network): anyone may sign one, so outsiders (nodes
        // that follow the chain) are answered only a few times per timer period in all, which
        // bounds the amplification. Members are always answered: they need the state to vote.
        if self.committee.index_of(&to).is_none() {
            if self.outsider_answers >= OUTSIDER_STATE_ANSWERS {
                return;
            }
            self.outsider_answers += 1;
        }
        let milestones: Vec<_> = self
            .history
            .iter()
            .filter(|cm| cm.header.number >= from)
            .take(MAX_TRANSFER)
            .cloned()
            .collect();
        if milestones.first().map(|cm| cm.header.number) != Some(from) {
            return;
        }
        let checkpoint = (self.stable.checkpoint.seq > self.epoch_base
            && milestones.last().is_some_and(|cm| cm.header.number >= self.stable.checkpoint.seq))
        .then(|| self.stable.clone());
        let body = Body::StateResponse {
            milestones: BoundedVec::new(milestones).unwrap_or_default(),
            checkpoint,
        };
        let msg = self.sign(body);
        self.out.push(Action::Send(to, msg));
    }

    /// The committed milestone `base` named the next committee: start its epoch after `base`,
    /// in view 0, with `base` as the stable checkpoint and an empty log.
    pub(crate) fn switch_epoch(&mut self, base: SeqNo, base_hash: Hash, next: Committee) {
        if next.is_empty() {
            // Validation rejects such a header; never adopt a committee that cannot work.
            return;
        }
        self.epoch = next.epoch;
        self.committee = next;
        self.epoch_base = base;
        self.epoch_base_hash = base_hash;
        self.view = 0;
        self.status = Status::Normal;
        self.backoff = 0;
        self.stable = CheckpointProof {
            checkpoint: Checkpoint { seq: base, digest: base_hash },
            signatures: BoundedVec::default(),
        };
        self.slots.clear();
        self.prepared.clear();
        self.committed_local.clear();
        self.view_changes.clear();
        self.checkpoint_votes.clear();
        self.seen.clear();
        self.reported.clear();
        self.validity.clear();
        self.validation_requested.clear();
        self.proposal_requested = None;
        self.my_new_view = None;
        self.own_view_changes.clear();
        self.delivered = self.delivered.split_off(&base);
        self.out.push(Action::EpochChanged { epoch: self.epoch, base });
        self.restart_timer();
        self.maybe_propose();
    }
}
