//! PBFT §4.3: checkpoints, the low and high watermarks, and garbage collection of the log.
use itc_primitives::{codec::BoundedVec, Hash};

use super::{Pbft, KIND_CHECKPOINT};
use crate::{
    io::PersistRecord,
    message::{checkpoint_payload, Body, Checkpoint, CheckpointProof, SignedMessage},
    SeqNo,
};

impl Pbft {
    /// After committing a multiple of K, multicast a checkpoint of the header hash.
    pub(crate) fn send_checkpoint(&mut self, seq: SeqNo, digest: Hash) {
        if !self.is_member() {
            return;
        }
        let msg = self.sign(Body::Checkpoint(Checkpoint { seq, digest }));
        let sig = msg.signature;
        self.seen.insert((self.me, KIND_CHECKPOINT, 0, seq), msg.clone());
        self.checkpoint_votes.entry(seq).or_default().insert(self.me, (digest, sig));
        self.persist_and_broadcast(msg);
        self.try_stabilise(seq);
    }

    /// Accepts a member's checkpoint above the stable one.
    pub(crate) fn on_checkpoint(&mut self, msg: SignedMessage) {
        let Body::Checkpoint(cp) = &msg.body else { return };
        let (seq, digest) = (cp.seq, cp.digest);
        let h = self.stable.checkpoint.seq;
        // Checkpoints far above the window are only useful as a sign that we lag; a bounded
        // range keeps a faulty member from filling memory.
        if seq <= h
            || !seq.is_multiple_of(self.cfg.checkpoint_interval)
            || seq > h + 4 * self.cfg.window
        {
            return;
        }
        let payload = checkpoint_payload(self.epoch, &msg.sender, cp);
        if !self.verify(&msg.sender, &payload, &msg.signature) {
            self.stats.rejected += 1;
            return;
        }
        if self.equivocates(&msg, KIND_CHECKPOINT, 0, seq, digest) {
            return;
        }
        self.checkpoint_votes
            .entry(seq)
            .or_default()
            .entry(msg.sender)
            .or_insert((digest, msg.signature));
        self.try_stabilise(seq);
    }

    /// A checkpoint is stable once a quorum signed the digest this replica committed itself.
    /// A quorum for a milestone we have not committed means we lag: ask for state.
    fn try_stabilise(&mut self, seq: SeqNo) {
        let q = self.quorum();
        let Some(votes) = self.checkpoint_votes.get(&seq) else { return };
        let mut by_digest: std::collections::BTreeMap<Hash, Vec<_>> = Default::default();
        for (who, (d, s)) in votes {
            by_digest.entry(*d).or_default().push((*who, *s));
        }
        let Some((digest, sigs)) = by_digest.into_iter().find(|(_, s)| s.len() >= q) else {
            return;
        };
        match self.delivered.get(&seq) {
            Some(d) if *d == digest => {
                let proof = CheckpointProof {
                    checkpoint: Checkpoint { seq, digest },
                    signatures: BoundedVec::new(sigs).unwrap_or_default(),
                };
                self.make_stable(proof);
            }
            Some(_) => {}
            None if seq > self.last_delivered => {
                let from = sigs.first().map(|(w, _)| *w);
                self.request_state(from);
            }
            None => {}
        }
    }

    /// Verifies a stable-checkpoint proof of the current epoch.
    pub(crate) fn verify_checkpoint_proof(&mut self, proof: &CheckpointProof) -> bool {
        let cp = &proof.checkpoint;
        if cp.seq == self.epoch_base {
            return cp.digest == self.epoch_base_hash;
        }
        if cp.seq < self.epoch_base || !cp.seq.is_multiple_of(self.cfg.checkpoint_interval) {
            return false;
        }
        if !self.distinct_members(proof.signatures.iter().map(|(w, _)| w), None) {
            return false;
        }
        if proof.signatures.len() < self.quorum() {
            return false;
        }
        let epoch = self.epoch;
        proof.signatures.iter().all(|(who, sig)| {
            let payload = checkpoint_payload(epoch, who, cp);
            self.verify(who, &payload, sig)
        })
    }

    /// Whether every key is a distinct member (and not `except`).
    pub(crate) fn distinct_members<'a>(
        &self,
        keys: impl Iterator<Item = &'a itc_primitives::AccountId>,
        except: Option<itc_primitives::AccountId>,
    ) -> bool {
        let mut seen = vec![false; self.committee.len()];
        for k in keys {
            if Some(*k) == except {
                return false;
            }
            let Some(i) = self.committee.index_of(k) else { return false };
            if std::mem::replace(&mut seen[i], true) {
                return false;
            }
        }
        true
    }

    /// Adopts a stable checkpoint: moves the watermarks and discards the log below it.
    pub(crate) fn make_stable(&mut self, proof: CheckpointProof) {
        let h = proof.checkpoint.seq;
        if h <= self.stable.checkpoint.seq {
            return;
        }
        self.persist_then(
            PersistRecord::Stable { epoch: self.epoch, proof: proof.clone() },
            Vec::new(),
        );
        self.stable = proof;
        self.collect_garbage(h);
        self.maybe_propose();
    }

    pub(crate) fn collect_garbage(&mut self, h: SeqNo) {
        self.slots = self.slots.split_off(&(h + 1, 0));
        self.prepared = self.prepared.split_off(&(h + 1));
        self.committed_local = self.committed_local.split_off(&(h + 1));
        self.checkpoint_votes = self.checkpoint_votes.split_off(&(h + 1));
        self.validity = self.validity.split_off(&(h + 1, Hash::ZERO));
        self.validation_requested.retain(|(s, _)| *s > h);
        self.seen.retain(|(_, _, _, s), _| *s > h);
        self.reported.retain(|(_, _, _, s)| *s > h);
        // Keep the checkpoint itself: it is the parent of what comes next.
        self.delivered = self.delivered.split_off(&h);
    }
}
