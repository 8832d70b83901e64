//! PBFT §4.2, the normal case: pre-prepare, prepare, commit; proposals, validation and in-order
//! delivery of committed milestones with their finality certificates.
use itc_primitives::{codec::BoundedVec, FinalityCertificate, Hash, MilestoneHeader};

use super::{Pbft, Status, FUTURE_VIEWS, KIND_COMMIT, KIND_PREPARE, KIND_PRE_PREPARE};
use crate::{
    io::{Action, PersistRecord},
    message::{
        pre_prepare_payload, Body, CertifiedMilestone, PrePrepare, PreparedCert, SignedMessage,
        Vote,
    },
    SeqNo, View,
};

impl Pbft {
    /// Whether votes for `view` are kept: the current view and a few ahead (a replica may see
    /// the new primary's messages before its new-view message).
    fn view_acceptable(&self, view: View) -> bool {
        view >= self.view && view <= self.view + FUTURE_VIEWS
    }

    /// PBFT §4.2: a backup accepts a pre-prepare if it is signed by the view's primary, the view
    /// is current, the sequence number is within the watermarks and it has not accepted another
    /// pre-prepare for the same view and sequence number.
    pub(crate) fn on_pre_prepare(&mut self, msg: crate::message::SignedMessage) {
        let Body::PrePrepare(pp) = &msg.body else { return };
        let (view, seq) = (pp.view, pp.seq);
        if !self.view_acceptable(view) || msg.sender != self.primary_of(view) {
            self.stats.rejected += 1;
            return;
        }
        if seq > self.high_watermark() {
            // The primary is far ahead of us: fetch what we missed.
            self.request_state(Some(msg.sender));
            return;
        }
        if !self.in_window(seq) || pp.header.number != seq || pp.header.epoch != self.epoch {
            self.stats.rejected += 1;
            return;
        }
        let payload = pre_prepare_payload(self.epoch, &msg.sender, view, seq, &pp.header);
        if !self.verify(&msg.sender, &payload, &msg.signature) {
            self.stats.rejected += 1;
            return;
        }
        let digest = pp.header.hash();
        if self.equivocates(&msg, KIND_PRE_PREPARE, view, seq, digest) {
            return;
        }
        let slot = self.slots.entry((seq, view)).or_default();
        if slot.pre_prepare.is_some() {
            return;
        }
        slot.pre_prepare = Some((pp.header.clone(), digest, msg.signature));
        self.consider(seq, view);
    }

    /// PBFT §4.2: prepares and commits are accepted if signed by a member, for the current view
    /// (or a few views ahead, buffered) and within the watermarks.
    pub(crate) fn on_vote(&mut self, msg: crate::message::SignedMessage) {
        let (vote, commit) = match &msg.body {
            Body::Prepare(v) => (v, false),
            Body::Commit(v) => (v, true),
            _ => return,
        };
        if !self.view_acceptable(vote.view) || !self.in_window(vote.seq) {
            self.stats.rejected += 1;
            return;
        }
        if !commit && msg.sender == self.primary_of(vote.view) {
            // The primary's pre-prepare is its prepare; a separate one does not count.
            self.stats.rejected += 1;
            return;
        }
        let (view, seq, digest) = (vote.view, vote.seq, vote.digest);
        let payload = crate::message::payload_of(self.epoch, &msg.sender, &msg.body);
        if !self.verify(&msg.sender, &payload, &msg.signature) {
            self.stats.rejected += 1;
            return;
        }
        let kind = if commit { KIND_COMMIT } else { KIND_PREPARE };
        if self.equivocates(&msg, kind, view, seq, digest) {
            return;
        }
        let slot = self.slots.entry((seq, view)).or_default();
        let votes = if commit { &mut slot.commits } else { &mut slot.prepares };
        votes.entry(msg.sender).or_insert((digest, msg.signature));
        self.progress(seq, view);
    }

    /// Whether `msg`, its signature not yet checked, could change this replica's state. `false`
    /// only for a late vote: a prepare or commit agreeing (same view, number and digest) with a
    /// quorum this replica already holds for that phase, from a sender that has not voted for
    /// another digest in the slot. Such a vote adds nothing, so a caller that checks signatures
    /// on receipt may drop it without checking (at 1,000 tx/s a third of the consensus messages
    /// a validator receives are late votes, and a signature check is ~40 µs). A vote for another
    /// digest is wanted (with the sender's first vote it is evidence), and so is every other
    /// message. Dropping a message is always safe (it is as if the network lost it); the caller
    /// must still relay it where peers may need it.
    pub fn wants(&self, msg: &SignedMessage) -> bool {
        let (vote, kind) = match &msg.body {
            Body::Prepare(v) => (v, KIND_PREPARE),
            Body::Commit(v) => (v, KIND_COMMIT),
            _ => return true,
        };
        let conflicting = self.seen.get(&(msg.sender, kind, vote.view, vote.seq)).is_some_and(
            |first| matches!(&first.body, Body::Prepare(v) | Body::Commit(v) if v.digest != vote.digest),
        );
        let Some(slot) = self.slots.get(&(vote.seq, vote.view)) else { return true };
        let q = self.quorum();
        let have = if kind == KIND_COMMIT {
            slot.commits.values().filter(|(d, _)| *d == vote.digest).count() >= q
        } else {
            let primary = self.primary_of(vote.view);
            slot.pre_prepare.as_ref().is_some_and(|(_, d, _)| *d == vote.digest)
                && slot
                    .prepares
                    .iter()
                    .filter(|(who, (d, _))| **who != primary && *d == vote.digest)
                    .count()
                    + 1
                    >= q
        };
        conflicting || !have
    }

    /// Checks the pre-prepare of `(seq, view)` against the chain and asks the caller to validate
    /// it. A header can only be checked once its parent is committed here: its state root is the
    /// result of executing on top of the parent (DESIGN: replicas execute before they vote).
    pub(crate) fn consider(&mut self, seq: SeqNo, view: View) {
        if view != self.view
            || self.status != Status::Normal
            || self.parent_for(seq, view).is_none()
        {
            self.progress(seq, view);
            return;
        }
        let Some(slot) = self.slots.get(&(seq, view)) else { return };
        let Some((header, digest, _)) = &slot.pre_prepare else { return };
        let digest = *digest;
        if !self.validity.contains_key(&(seq, digest)) {
            if self.check_links(header).is_err() {
                self.validity.insert((seq, digest), false);
                // PBFT §4.4: a primary that proposes an invalid value is replaced.
                if self.is_member() {
                    self.start_view_change(self.view + 1);
                }
                return;
            }
            if self.validation_requested.insert((seq, digest)) {
                self.out.push(Action::Validate(header.clone()));
            }
        }
        self.progress(seq, view);
    }

    /// The checks the machine can make itself: number, parent, epoch and the shape of a
    /// committee hand-over.
    pub(crate) fn check_links(&self, header: &MilestoneHeader) -> Result<(), String> {
        let Some(parent) = self.parent_for(header.number, self.view) else {
            return Err(format!("number {} after {}", header.number, self.last_delivered));
        };
        if header.parent != parent {
            return Err(format!("parent {} is not {parent}", header.parent));
        }
        if header.epoch != self.epoch {
            return Err(format!("epoch {} is not {}", header.epoch, self.epoch));
        }
        if let Some(next) = &header.next_committee {
            if next.epoch != self.epoch + 1 || next.is_empty() {
                return Err(format!("next committee of epoch {} is malformed", next.epoch));
            }
        }
        Ok(())
    }

    pub(crate) fn on_validated(&mut self, seq: SeqNo, digest: Hash, ok: bool) {
        if !self.validation_requested.remove(&(seq, digest)) {
            return;
        }
        self.validity.insert((seq, digest), ok);
        let current = self
            .slots
            .get(&(seq, self.view))
            .and_then(|s| s.pre_prepare.as_ref())
            .map(|(_, d, _)| *d);
        if ok {
            self.progress(seq, self.view);
        } else if current == Some(digest) && self.status == Status::Normal && self.is_member() {
            // PBFT §4.4: the primary proposed an invalid value; replace it.
            self.start_view_change(self.view + 1);
        }
    }

    /// The parent a header numbered `seq` must name in `view`: the last delivered milestone for
    /// the next number; one further (pipelining, depth 2), the header of the next number that
    /// this replica sent its commit for in `view`, unless that header hands the committee over
    /// (the next epoch's committee signs what follows it). `None`: not proposable yet.
    pub(crate) fn parent_for(&self, seq: SeqNo, view: View) -> Option<Hash> {
        if seq == self.last_delivered + 1 {
            return Some(self.last_hash);
        }
        if seq != self.last_delivered + 2 {
            return None;
        }
        let slot = self.slots.get(&(seq - 1, view))?;
        let (header, digest, _) = slot.pre_prepare.as_ref()?;
        let committed = slot.commits.get(&self.me).is_some_and(|(d, _)| d == digest);
        (committed && header.next_committee.is_none()).then_some(*digest)
    }

    /// Whether the restart fence forbids a new prepare for `(seq, view)`.
    fn fenced(&self, seq: SeqNo, view: View) -> bool {
        self.fence.is_some_and(|(epoch, v, top)| epoch == self.epoch && v == view && seq <= top)
    }

    fn is_valid(&self, seq: SeqNo, digest: Hash) -> bool {
        self.delivered.get(&seq) == Some(&digest)
            || self.validity.get(&(seq, digest)).copied().unwrap_or(false)
    }

    /// Drives `(seq, view)` as far as the log allows: prepare, prepared, commit, committed.
    pub(crate) fn progress(&mut self, seq: SeqNo, view: View) {
        if view != self.view || self.status != Status::Normal {
            return;
        }
        let q = self.quorum();
        let primary = self.primary_of(view);
        let me = self.me;
        let member = self.is_member();
        let Some(slot) = self.slots.get(&(seq, view)) else { return };
        let Some((header, digest, pp_sig)) = slot.pre_prepare.clone() else { return };
        let valid = primary == me || self.is_valid(seq, digest);
        // PBFT §4.2: a backup that accepted the pre-prepare multicasts a prepare, unless the
        // slot is behind the restart fence (its own prepare there may have been lost).
        // Pipelining: a prepare for a number beyond the next waits for this replica's commit
        // of its parent in this view (what keeps view changes closed under parent links).
        let linked =
            seq <= self.last_delivered + 1 || self.parent_for(seq, view) == Some(header.parent);
        if member
            && primary != me
            && valid
            && linked
            && !slot.prepares.contains_key(&me)
            && !self.fenced(seq, view)
        {
            let vote = Vote { view, seq, digest };
            let msg = self.sign(Body::Prepare(vote));
            let sig = msg.signature;
            self.slots.entry((seq, view)).or_default().prepares.insert(me, (digest, sig));
            self.persist_and_broadcast(msg);
        }
        let Some(slot) = self.slots.get(&(seq, view)) else { return };
        // prepared(m, v, n, i): the pre-prepare and 2f matching prepares from distinct backups.
        let prepares: Vec<_> = slot
            .prepares
            .iter()
            .filter(|(who, (d, _))| **who != primary && *d == digest)
            .map(|(who, (_, s))| (*who, *s))
            .collect();
        let is_prepared = prepares.len() + 1 >= q;
        if is_prepared && valid && member && !slot.commits.contains_key(&me) {
            let cert = PreparedCert {
                view,
                seq,
                header: header.clone(),
                pre_prepare_sig: pp_sig,
                prepares: BoundedVec::new(prepares).unwrap_or_default(),
            };
            let newer = self.prepared.get(&seq).is_none_or(|c| c.view <= view);
            if newer {
                self.prepared.insert(seq, cert.clone());
            }
            let msg = self.sign(Body::Commit(Vote { view, seq, digest }));
            let sig = msg.signature;
            self.slots.entry((seq, view)).or_default().commits.insert(me, (digest, sig));
            // The prepared certificate must be durable before the commit leaves (PBFT §4.4
            // relies on replicas remembering what prepared).
            self.persist_then(PersistRecord::Prepared(cert), Vec::new());
            self.persist_and_broadcast(msg);
            // Pipelining: the next number may now be proposed, validated and prepared.
            self.consider(seq + 1, view);
            self.maybe_propose();
        }
        let Some(slot) = self.slots.get(&(seq, view)) else { return };
        // committed-local: 2f+1 matching commits; their signatures are the finality certificate.
        let commits: Vec<_> = slot
            .commits
            .iter()
            .filter(|(_, (d, _))| *d == digest)
            .map(|(who, (_, s))| (*who, *s))
            .collect();
        if commits.len() >= q
            && seq > self.last_delivered
            && !self.committed_local.contains_key(&seq)
        {
            let certificate = FinalityCertificate {
                number: seq,
                view,
                header_hash: digest,
                signatures: BoundedVec::new(commits).unwrap_or_default(),
            };
            self.committed_local.insert(seq, (header, certificate));
            self.try_deliver();
        }
    }

    /// Delivers committed milestones in order.
    pub(crate) fn try_deliver(&mut self) {
        while let Some((header, cert)) = self.committed_local.remove(&(self.last_delivered + 1)) {
            if header.parent != self.last_hash {
                // Cannot happen with a correct quorum; refuse to break the chain.
                continue;
            }
            self.deliver(header, cert);
        }
    }

    /// Applies a committed milestone: emits it, persists it, checkpoints, switches epoch.
    pub(crate) fn deliver(&mut self, header: MilestoneHeader, certificate: FinalityCertificate) {
        let seq = header.number;
        let digest = header.hash();
        self.last_delivered = seq;
        self.last_hash = digest;
        self.delivered.insert(seq, digest);
        self.committed_local.remove(&seq);
        self.stats.committed += 1;
        self.backoff = 0;
        let cm = CertifiedMilestone { header: header.clone(), certificate: certificate.clone() };
        self.history.push_back(cm);
        while self.history.len() > self.cfg.retain_certified {
            self.history.pop_front();
        }
        // The caller hears of the commit only once it is durable, so a restart never takes
        // back a milestone the caller has applied.
        self.persist_then(
            PersistRecord::Committed { header: header.clone(), certificate: certificate.clone() },
            vec![Action::Committed(header.clone(), certificate)],
        );
        if let Some(next) = header.next_committee.clone() {
            self.switch_epoch(seq, digest, next);
            return;
        }
        self.restart_timer();
        if seq.is_multiple_of(self.cfg.checkpoint_interval) {
            self.send_checkpoint(seq, digest);
        }
        self.consider(seq + 1, self.view);
        self.consider(seq + 2, self.view);
        self.maybe_propose();
    }

    /// As primary, asks the caller for the next proposal: for the number after the last
    /// delivered one, or (pipelining) for the one after that once this replica committed to its
    /// parent, within the high watermark.
    pub(crate) fn maybe_propose(&mut self) {
        if self.status != Status::Normal || !self.is_primary() {
            return;
        }
        let view = self.view;
        let has_pre_prepare =
            |p: &Self, seq| p.slots.get(&(seq, view)).is_some_and(|s| s.pre_prepare.is_some());
        let mut next = self.last_delivered + 1;
        if has_pre_prepare(self, next) {
            next += 1;
            if has_pre_prepare(self, next) {
                return;
            }
        }
        let Some(parent) = self.parent_for(next, view) else { return };
        if next > self.high_watermark() || self.proposal_requested == Some((view, next)) {
            return;
        }
        self.proposal_requested = Some((view, next));
        self.out.push(Action::RequestProposal { view, seq: next, parent, epoch: self.epoch });
    }

    /// PBFT §4.2: the primary assigns the next sequence number and multicasts a pre-prepare.
    pub(crate) fn on_propose(&mut self, header: MilestoneHeader) {
        let seq = header.number;
        if self.status != Status::Normal
            || !self.is_primary()
            || !self.in_window(seq)
            || self.check_links(&header).is_err()
        {
            return;
        }
        if self.slots.get(&(seq, self.view)).is_some_and(|s| s.pre_prepare.is_some()) {
            return;
        }
        let view = self.view;
        let digest = header.hash();
        let msg = self.sign(Body::PrePrepare(PrePrepare { view, seq, header: header.clone() }));
        self.seen.insert((self.me, KIND_PRE_PREPARE, view, seq), msg.clone());
        self.slots.entry((seq, view)).or_default().pre_prepare =
            Some((header, digest, msg.signature));
        self.validity.insert((seq, digest), true);
        self.persist_and_broadcast(msg);
        self.progress(seq, view);
    }
}
