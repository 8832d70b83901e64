//! PBFT §4.4: view changes, new-view messages and the re-proposal of prepared values.
use itc_primitives::{codec::BoundedVec, AccountId, MilestoneHeader, Signature};

use super::{Pbft, Status, KIND_PRE_PREPARE};
use crate::{
    io::PersistRecord,
    message::{
        pre_prepare_payload, prepare_payload, view_change_payload, Body, CheckpointProof, NewView,
        PrePrepare, PreparedCert, SignedMessage, SignedViewChange, ViewChange, Vote, MAX_PREPARED,
    },
    SeqNo, View,
};

/// What a new-view message makes the replicas do: the stable checkpoint to start from and the
/// re-proposals (PBFT's min-s and the set O).
pub(crate) struct NewViewPlan {
    pub stable: CheckpointProof,
    pub proposals: Vec<(SeqNo, MilestoneHeader)>,
}

/// Computes min-s and O from a quorum of view changes (PBFT §4.4). For each sequence number above
/// the highest stable checkpoint, the prepared certificate of the highest view wins; the plan stops
/// at the first number without one. With a correct quorum no gap can be followed by a prepared
/// number: header n+1 only prepares at replicas that committed n, so a quorum that prepared n+1
/// contains f+1 correct replicas holding a prepared certificate for n, and every quorum of view
/// changes includes one of them.
pub(crate) fn plan_new_view(vcs: &[SignedViewChange]) -> Option<NewViewPlan> {
    let stable =
        vcs.iter().map(|s| &s.view_change.stable).max_by_key(|p| p.checkpoint.seq)?.clone();
    let mut proposals = Vec::new();
    let mut seq = stable.checkpoint.seq + 1;
    loop {
        let best = vcs
            .iter()
            .flat_map(|s| s.view_change.prepared.iter())
            .filter(|c| c.seq == seq)
            .fold(None::<&PreparedCert>, |best, c| match best {
                Some(b) if b.view >= c.view => Some(b),
                _ => Some(c),
            });
        // Closed under parent links: a certificate whose header does not extend the previous
        // proposal (or the checkpoint) belongs to a value that never committed (see the
        // function docs), and neither did anything built on it.
        let parent = proposals
            .last()
            .map_or(stable.checkpoint.digest, |(_, h): &(SeqNo, MilestoneHeader)| h.hash());
        match best {
            Some(cert) if proposals.len() < MAX_PREPARED && cert.header.parent == parent => {
                proposals.push((seq, cert.header.clone()));
                seq += 1;
            }
            _ => break,
        }
    }
    Some(NewViewPlan { stable, proposals })
}

impl Pbft {
    /// Moves to view `new_view` and multicasts a view-change message carrying the stable
    /// checkpoint and the prepared certificates above it. The timer doubles with every view that
    /// fails to make progress.
    pub(crate) fn start_view_change(&mut self, new_view: View) {
        if new_view < self.view || (new_view == self.view && self.status == Status::ViewChanging) {
            return;
        }
        self.view = new_view;
        self.status = Status::ViewChanging;
        self.stats.view_changes += 1;
        self.proposal_requested = None;
        self.my_new_view = None;
        self.slots.retain(|(_, v), _| *v >= new_view);
        self.view_changes = self.view_changes.split_off(&new_view);
        self.backoff = self.backoff.saturating_add(1);
        self.restart_timer();
        if !self.is_member() {
            return;
        }
        let h = self.stable.checkpoint.seq;
        let prepared: Vec<PreparedCert> =
            self.prepared.range(h + 1..).map(|(_, c)| c.clone()).take(MAX_PREPARED).collect();
        let vc = ViewChange {
            new_view,
            stable: self.stable.clone(),
            prepared: BoundedVec::new(prepared).unwrap_or_default(),
        };
        let msg = self.sign(Body::ViewChange(vc.clone()));
        self.own_view_changes.insert(new_view, msg.clone());
        self.own_view_changes = self.own_view_changes.split_off(&new_view.saturating_sub(8));
        let signed =
            SignedViewChange { sender: self.me, view_change: vc, signature: msg.signature };
        self.view_changes.entry(new_view).or_default().insert(self.me, signed);
        self.persist_and_broadcast(msg);
        self.try_new_view(new_view);
    }

    /// Checks a view change's content: a valid stable checkpoint and valid prepared certificates
    /// for increasing numbers above it, from views before the new one.
    fn verify_view_change(&mut self, vc: &ViewChange) -> bool {
        if !self.verify_checkpoint_proof(&vc.stable) {
            return false;
        }
        let h = vc.stable.checkpoint.seq;
        let mut last = h;
        for cert in vc.prepared.iter() {
            if cert.seq <= last || cert.seq > h + self.cfg.window || cert.view >= vc.new_view {
                return false;
            }
            last = cert.seq;
            if !self.verify_prepared_cert(cert) {
                return false;
            }
        }
        true
    }

    /// A prepared certificate: the view's primary signed the pre-prepare and a quorum minus one
    /// distinct backups signed matching prepares.
    pub(crate) fn verify_prepared_cert(&mut self, cert: &PreparedCert) -> bool {
        if cert.header.number != cert.seq || cert.header.epoch != self.epoch {
            return false;
        }
        let primary = self.primary_of(cert.view);
        if !self.distinct_members(cert.prepares.iter().map(|(w, _)| w), Some(primary)) {
            return false;
        }
        if cert.prepares.len() + 1 < self.quorum() {
            return false;
        }
        let payload = pre_prepare_payload(self.epoch, &primary, cert.view, cert.seq, &cert.header);
        if !self.verify(&primary, &payload, &cert.pre_prepare_sig) {
            return false;
        }
        let vote = Vote { view: cert.view, seq: cert.seq, digest: cert.header.hash() };
        let epoch = self.epoch;
        cert.prepares.iter().all(|(who, sig)| {
            let payload = prepare_payload(epoch, who, &vote);
            self.verify(who, &payload, sig)
        })
    }

    pub(crate) fn on_view_change(&mut self, msg: SignedMessage) {
        let Body::ViewChange(vc) = &msg.body else { return };
        let v = vc.new_view;
        if v < self.view {
            // The sender is stuck in a lower view, perhaps because our view change for it was
            // lost: resend ours from its view up, so it can complete a quorum or follow us.
            // Each of ours goes to a peer at most once per timer period: a resent view change is
            // stale for a receiver that moved on, and answering stale messages without a limit
            // made two replicas answer each other's answers, each answer begetting several, a
            // message storm that grew without bound (simulator seed 141).
            let mine: Vec<(View, SignedMessage)> =
                self.own_view_changes.range(v..).map(|(w, m)| (*w, m.clone())).collect();
            for (w, m) in mine {
                if self.answered.insert((msg.sender, w)) {
                    self.out.push(crate::io::Action::Send(msg.sender, m));
                }
            }
            return;
        }
        if v == self.view && self.status == Status::Normal {
            // The sender missed the new-view message we acted on: resend it if we made it.
            if let Some(nv) = self.my_new_view.clone() {
                self.out.push(crate::io::Action::Send(msg.sender, nv));
            }
            return;
        }
        if self.view_changes.get(&v).is_some_and(|m| m.contains_key(&msg.sender)) {
            return;
        }
        // Bound memory: only a few views ahead are tracked per sender.
        if v > self.view + 64 {
            return;
        }
        let payload = view_change_payload(self.epoch, &msg.sender, vc);
        if !self.verify(&msg.sender, &payload, &msg.signature) || !self.verify_view_change(vc) {
            self.stats.rejected += 1;
            return;
        }
        let signed = SignedViewChange {
            sender: msg.sender,
            view_change: vc.clone(),
            signature: msg.signature,
        };
        self.view_changes.entry(v).or_default().insert(msg.sender, signed);
        // PBFT §4.4 liveness: f+1 replicas ask for views above ours, so at least one correct
        // replica timed out; join the smallest of those views.
        let above: std::collections::BTreeSet<AccountId> =
            self.view_changes.range(self.view + 1..).flat_map(|(_, m)| m.keys().copied()).collect();
        if above.len() > self.committee.max_faulty() {
            if let Some((&smallest, _)) = self.view_changes.range(self.view + 1..).next() {
                self.start_view_change(smallest);
            }
        }
        self.try_new_view(self.view);
    }

    /// As the primary of `view`, sends the new-view message once a quorum of view changes is in.
    fn try_new_view(&mut self, view: View) {
        if view != self.view
            || self.status != Status::ViewChanging
            || self.primary_of(view) != self.me
            || self.my_new_view.is_some()
        {
            return;
        }
        let q = self.quorum();
        let Some(vcs) = self.view_changes.get(&view) else { return };
        if vcs.len() < q {
            return;
        }
        // Deterministic choice: the quorum of lowest committee indices.
        let mut chosen: Vec<SignedViewChange> = vcs.values().cloned().collect();
        chosen.sort_by_key(|s| self.committee.index_of(&s.sender));
        chosen.truncate(q);
        let Some(plan) = plan_new_view(&chosen) else { return };
        let sigs: Vec<Signature> = plan
            .proposals
            .iter()
            .map(|(seq, header)| {
                self.stats.signatures += 1;
                let payload = pre_prepare_payload(self.epoch, &self.me, view, *seq, header);
                self.pair.sign_deterministic(&payload)
            })
            .collect();
        let nv = NewView {
            view,
            view_changes: BoundedVec::new(chosen).unwrap_or_default(),
            pre_prepare_sigs: BoundedVec::new(sigs.clone()).unwrap_or_default(),
        };
        let msg = self.sign(Body::NewView(nv));
        self.my_new_view = Some(msg.clone());
        self.persist_and_broadcast(msg);
        self.enter_view(view, plan, &sigs);
    }

    /// Checks a new-view message: signed by the view's primary, a quorum of valid view changes
    /// for the view from distinct members, and pre-prepare signatures on exactly the
    /// re-proposals this replica derives from them.
    pub(crate) fn on_new_view(&mut self, msg: SignedMessage) {
        let Body::NewView(nv) = &msg.body else { return };
        let v = nv.view;
        if v < self.view || (v == self.view && self.status == Status::Normal) {
            return;
        }
        if msg.sender != self.primary_of(v) {
            self.stats.rejected += 1;
            return;
        }
        let payload = crate::message::payload_of(self.epoch, &msg.sender, &msg.body);
        if !self.verify(&msg.sender, &payload, &msg.signature) {
            self.stats.rejected += 1;
            return;
        }
        let vcs: Vec<SignedViewChange> = nv.view_changes.to_vec();
        if vcs.len() < self.quorum()
            || !self.distinct_members(vcs.iter().map(|s| &s.sender), None)
            || vcs.iter().any(|s| s.view_change.new_view != v)
        {
            self.stats.rejected += 1;
            return;
        }
        for s in &vcs {
            let payload = view_change_payload(self.epoch, &s.sender, &s.view_change);
            if !self.verify(&s.sender, &payload, &s.signature)
                || !self.verify_view_change(&s.view_change)
            {
                self.stats.rejected += 1;
                return;
            }
        }
        let Some(plan) = plan_new_view(&vcs) else { return };
        if plan.proposals.len() != nv.pre_prepare_sigs.len() {
            self.stats.rejected += 1;
            return;
        }
        for ((seq, header), sig) in plan.proposals.iter().zip(nv.pre_prepare_sigs.iter()) {
            let payload = pre_prepare_payload(self.epoch, &msg.sender, v, *seq, header);
            if !self.verify(&msg.sender, &payload, sig) {
                self.stats.rejected += 1;
                return;
            }
        }
        let sigs = nv.pre_prepare_sigs.to_vec();
        if v > self.view {
            // Record our own view change implicitly: we follow the quorum.
            self.stats.view_changes += 1;
        }
        // Durable before anything this replica says in the view (records are acknowledged in
        // order): a restart must come back in this view, not below it.
        self.persist_then(PersistRecord::EnteredView(msg.clone()), Vec::new());
        self.enter_view(v, plan, &sigs);
    }

    /// Installs view `view`: the stable checkpoint of the plan (or state transfer to reach it),
    /// the re-proposals as pre-prepares of the new primary, then normal-case processing.
    pub(crate) fn enter_view(&mut self, view: View, plan: NewViewPlan, sigs: &[Signature]) {
        self.view = view;
        self.status = Status::Normal;
        self.proposal_requested = None;
        self.slots.retain(|(_, v), _| *v >= view);
        self.view_changes = self.view_changes.split_off(&(view + 1));
        let primary = self.primary_of(view);
        let cp = plan.stable.checkpoint.clone();
        if cp.seq > self.stable.checkpoint.seq {
            if self.delivered.get(&cp.seq) == Some(&cp.digest) {
                self.make_stable(plan.stable.clone());
            } else if cp.seq > self.last_delivered {
                self.state_requested = false;
                self.request_state(Some(primary));
            }
        }
        for ((seq, header), sig) in plan.proposals.into_iter().zip(sigs.iter()) {
            if seq <= self.stable.checkpoint.seq {
                continue;
            }
            let digest = header.hash();
            let pp = SignedMessage {
                epoch: self.epoch,
                sender: primary,
                body: Body::PrePrepare(PrePrepare { view, seq, header: header.clone() }),
                signature: *sig,
            };
            // A different pre-prepare of the primary for this slot, seen before the new-view
            // message, is equivocation; the new-view's choice is binding.
            let _ = self.equivocates(&pp, KIND_PRE_PREPARE, view, seq, digest);
            self.slots.entry((seq, view)).or_default().pre_prepare = Some((header, digest, *sig));
        }
        self.restart_timer();
        let seqs: Vec<SeqNo> =
            self.slots.keys().filter(|(_, v)| *v == view).map(|(s, _)| *s).collect();
        for seq in seqs {
            self.consider(seq, view);
        }
        self.maybe_propose();
    }

    /// Replays a persisted view change or new view (see [`crate::Pbft::restore`]): one this
    /// replica sent, or (`own` false) a new view it accepted.
    pub(crate) fn restore_view_message(&mut self, msg: &SignedMessage, own: bool) {
        match &msg.body {
            Body::ViewChange(vc) if own && vc.new_view >= self.view => {
                self.own_view_changes.insert(vc.new_view, msg.clone());
                self.view = vc.new_view;
                self.status = Status::ViewChanging;
                let signed = SignedViewChange {
                    sender: self.me,
                    view_change: vc.clone(),
                    signature: msg.signature,
                };
                self.view_changes.entry(vc.new_view).or_default().insert(self.me, signed);
            }
            Body::NewView(nv) if nv.view >= self.view => {
                let vcs = nv.view_changes.to_vec();
                if let Some(plan) = plan_new_view(&vcs) {
                    if own {
                        self.my_new_view = Some(msg.clone());
                    }
                    let sigs = nv.pre_prepare_sigs.to_vec();
                    self.enter_view(nv.view, plan, &sigs);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use itc_primitives::{codec::BoundedVec, Hash, MilestoneHeader, Public, Signature};

    use super::plan_new_view;
    use crate::message::{Checkpoint, CheckpointProof, PreparedCert, SignedViewChange, ViewChange};
    use crate::sim::make_header;

    fn cert(view: u64, header: MilestoneHeader) -> PreparedCert {
        PreparedCert {
            view,
            seq: header.number,
            header,
            pre_prepare_sig: Signature([0; 64]),
            prepares: BoundedVec::default(),
        }
    }

    fn view_change(sender: u8, base: Hash, prepared: Vec<PreparedCert>) -> SignedViewChange {
        SignedViewChange {
            sender: Public([sender; 32]),
            view_change: ViewChange {
                new_view: 3,
                stable: CheckpointProof {
                    checkpoint: Checkpoint { seq: 0, digest: base },
                    signatures: BoundedVec::default(),
                },
                prepared: BoundedVec::new(prepared).unwrap(),
            },
            signature: Signature([0; 64]),
        }
    }

    #[test]
    fn the_plan_is_closed_under_parent_links() {
        let base = Hash([1; 32]);
        let proposer = Public([7; 32]);
        let h1 = make_header(1, base, 0, proposer, 0, None);
        let h2 = make_header(2, h1.hash(), 0, proposer, 0, None);
        let h1_later = make_header(1, base, 0, proposer, 5, None);
        let numbers = |vcs: &[SignedViewChange]| {
            let plan = plan_new_view(vcs).unwrap();
            plan.proposals.iter().map(|(s, h)| (*s, h.hash())).collect::<Vec<_>>()
        };
        // 1 and 2 prepared in view 1, linked: both are re-proposed.
        let linked = [view_change(1, base, vec![cert(1, h1.clone()), cert(1, h2.clone())])];
        assert_eq!(numbers(&linked), [(1, h1.hash()), (2, h2.hash())]);
        // A later view prepared another header for 1: the certificate for 2 built on the old
        // one no longer links, so it (and anything after it) is dropped.
        let stale = [
            view_change(1, base, vec![cert(1, h1.clone()), cert(1, h2.clone())]),
            view_change(2, base, vec![cert(2, h1_later.clone())]),
        ];
        assert_eq!(numbers(&stale), [(1, h1_later.hash())]);
        // The first proposal must extend the stable checkpoint.
        let off_base = [view_change(1, Hash([2; 32]), vec![cert(1, h1)])];
        assert!(numbers(&off_base).is_empty());
    }
}
