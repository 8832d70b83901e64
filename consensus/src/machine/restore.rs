//! Recovery after a crash: rebuild a replica from the records of [`crate::Action::Persist`].
//!
//! What a correct replica must not forget (PBFT §4 assumes it): every message it signed (so it
//! never signs a conflicting one), its prepared certificates (so view changes carry them), the
//! milestones it committed and its stable checkpoint. Records are replayed in the order they were
//! persisted; milestones committed by others while the replica was down come by state transfer.
//! Prepares are the exception: they may be buffered and lost, so the restored replica does not
//! prepare anew near where it stopped (the restart fence of [`PersistRecord::durability`]).
use itc_primitives::{Hash, Pair};

use super::{Pbft, Status, KIND_CHECKPOINT, KIND_COMMIT, KIND_PREPARE, KIND_PRE_PREPARE};
use crate::{io::PersistRecord, message::Body, Config, Error, Genesis, Result, SeqNo};

impl Pbft {
    /// Rebuilds a replica from its persisted records (oldest first). Call [`Pbft::start`] next:
    /// it resends the replica's messages of its current view and asks peers for newer milestones.
    pub fn restore(
        cfg: Config,
        pair: Pair,
        genesis: Genesis,
        records: impl IntoIterator<Item = PersistRecord>,
    ) -> Result<Self> {
        let mut p = Pbft::new(cfg, pair, genesis)?;
        p.replay_all(records)?;
        Ok(p)
    }

    /// [`Pbft::restore`] without replaying the whole chain: `epoch` is the base of the epoch the
    /// replica was in (with that epoch's committee), `resumed` the last milestone it delivered
    /// before the first of `records` (`epoch.base_number ≤ resumed.0`). The records are then the
    /// committed milestones after `resumed` and the persist log, as for [`Pbft::restore`].
    ///
    /// The replica is the one [`Pbft::restore`] would rebuild from every milestone of the epoch
    /// provided `resumed` is at or before the log's latest stable checkpoint of this epoch (the
    /// epoch base if it has none; see [`crate::compact::resume_point`]): delivering milestones
    /// up to that checkpoint leaves nothing that the checkpoint does not collect.
    pub fn restore_after(
        cfg: Config,
        pair: Pair,
        epoch: Genesis,
        resumed: (SeqNo, Hash),
        records: impl IntoIterator<Item = PersistRecord>,
    ) -> Result<Self> {
        let base = epoch.base_number;
        let (seq, hash) = resumed;
        if seq < base {
            return Err(Error::Restore(format!(
                "cannot resume after milestone {seq}: it precedes the base {base} of epoch {}",
                epoch.committee.epoch
            )));
        }
        let mut p = Pbft::new(cfg, pair, epoch)?;
        if seq > base {
            p.last_delivered = seq;
            p.last_hash = hash;
            p.delivered.insert(seq, hash);
        }
        p.replay_all(records)?;
        Ok(p)
    }

    /// Lifts the restart fence [`Pbft::restore`] sets. Call it right after the restore, and only
    /// when the records replayed are known complete: every [`crate::Durability::Buffered`]
    /// record reached stable storage before the replica stopped (a clean shutdown that synced
    /// its log). The fence exists for buffered prepares a crash may have lost; with none lost,
    /// the restored replica prepares in its view at once instead of leaving the next slots to
    /// the others (a whole-committee restart then costs no view change).
    pub fn lift_restart_fence(&mut self) {
        self.fence = None;
    }

    /// Replays `records`, then drops what replaying produced and prepares the restart.
    fn replay_all(&mut self, records: impl IntoIterator<Item = PersistRecord>) -> Result<()> {
        let p = self;
        for record in records {
            p.replay(record)?;
        }
        // Nothing produced while replaying is sent: the messages were sent (or not) before the
        // crash; `start` resends the ones of the current view.
        p.out.clear();
        p.held.clear();
        p.proposal_requested = None;
        p.validation_requested.clear();
        p.state_requested = false;
        let view = p.view;
        if !p.cfg.unsafe_no_restart_fence_for_tests {
            p.fence = Some((p.epoch, view, p.last_delivered + 3));
        }
        p.resend = p
            .seen
            .iter()
            .filter(|((who, _, v, _), _)| *who == p.me && *v == view)
            .map(|(_, m)| m.clone())
            .collect();
        if p.status == Status::ViewChanging {
            if let Some(own) = p.view_changes.get(&view).and_then(|m| m.get(&p.me)) {
                p.resend.push(p.sign_view_change_again(own));
            }
        } else if let Some(nv) = p.my_new_view.clone() {
            p.resend.push(nv);
        }
        Ok(())
    }

    fn sign_view_change_again(
        &self,
        own: &crate::message::SignedViewChange,
    ) -> crate::message::SignedMessage {
        crate::message::SignedMessage {
            epoch: self.epoch,
            sender: self.me,
            body: Body::ViewChange(own.view_change.clone()),
            signature: own.signature,
        }
    }

    fn replay(&mut self, record: PersistRecord) -> Result<()> {
        match record {
            PersistRecord::Committed { header, certificate } => {
                if header.number <= self.last_delivered {
                    return Ok(());
                }
                if header.number != self.last_delivered + 1 || header.parent != self.last_hash {
                    return Err(Error::Restore(format!(
                        "committed milestone {} does not follow {} ({})",
                        header.number, self.last_delivered, self.last_hash
                    )));
                }
                self.deliver(header, certificate);
            }
            PersistRecord::Prepared(cert) => {
                if cert.header.epoch == self.epoch && cert.seq > self.stable.checkpoint.seq {
                    let newer = self.prepared.get(&cert.seq).is_none_or(|c| c.view <= cert.view);
                    if newer {
                        self.prepared.insert(cert.seq, cert);
                    }
                }
            }
            PersistRecord::Stable { epoch, proof } => {
                let seq = proof.checkpoint.seq;
                if epoch == self.epoch && self.delivered.get(&seq) == Some(&proof.checkpoint.digest)
                {
                    self.make_stable(proof);
                }
            }
            PersistRecord::EnteredView(msg) => {
                if msg.epoch == self.epoch && matches!(msg.body, Body::NewView(_)) {
                    self.restore_view_message(&msg, false);
                }
            }
            PersistRecord::Sent(msg) => {
                if msg.epoch != self.epoch || msg.sender != self.me {
                    return Ok(());
                }
                let (kind, view, seq, vote_view) = match &msg.body {
                    Body::PrePrepare(pp) => (KIND_PRE_PREPARE, pp.view, pp.seq, Some(pp.view)),
                    Body::Prepare(v) => (KIND_PREPARE, v.view, v.seq, Some(v.view)),
                    Body::Commit(v) => (KIND_COMMIT, v.view, v.seq, Some(v.view)),
                    Body::Checkpoint(c) => (KIND_CHECKPOINT, 0, c.seq, None),
                    Body::ViewChange(_) | Body::NewView(_) => {
                        self.restore_view_message(&msg, true);
                        return Ok(());
                    }
                    _ => return Ok(()),
                };
                if seq <= self.stable.checkpoint.seq {
                    return Ok(());
                }
                if let Some(v) = vote_view {
                    if v > self.view || (v == self.view && self.status == Status::ViewChanging) {
                        self.view = v;
                        self.status = Status::Normal;
                    }
                }
                match &msg.body {
                    Body::PrePrepare(pp) => {
                        let digest = pp.header.hash();
                        self.validity.insert((seq, digest), true);
                        self.slots.entry((seq, view)).or_default().pre_prepare =
                            Some((pp.header.clone(), digest, msg.signature));
                    }
                    Body::Prepare(v) => {
                        self.slots
                            .entry((seq, view))
                            .or_default()
                            .prepares
                            .insert(self.me, (v.digest, msg.signature));
                    }
                    Body::Commit(v) => {
                        self.slots
                            .entry((seq, view))
                            .or_default()
                            .commits
                            .insert(self.me, (v.digest, msg.signature));
                    }
                    Body::Checkpoint(c) => {
                        self.checkpoint_votes
                            .entry(seq)
                            .or_default()
                            .insert(self.me, (c.digest, msg.signature));
                    }
                    _ => {}
                }
                self.seen.insert((self.me, kind, view, seq), msg);
            }
        }
        Ok(())
    }
}
