//! The PBFT replica state machine: [`Pbft::step`] turns an [`Input`] into [`Action`]s.
//!
//! The machine is split by protocol concern: [`normal`] (§4.2 normal case and proposals),
//! [`checkpoint`] (§4.3 checkpoints, watermarks and garbage collection), [`view_change`] (§4.4),
//! [`transfer`] (state transfer and epoch switching) and [`restore`] (recovery from the records of
//! [`Action::Persist`]).
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use itc_primitives::{
    codec::BoundedVec, AccountId, Committee, FinalityCertificate, Hash, MilestoneHeader, Pair,
    Signature,
};

use crate::{
    io::{Action, Input, PersistId, PersistRecord, Stats, TimerId},
    message::{Body, Checkpoint, CheckpointProof, PreparedCert, SignedMessage, SignedViewChange},
    Config, Error, Genesis, Result, SeqNo, View,
};

mod checkpoint;
mod normal;
mod restore;
mod transfer;
mod view_change;

pub use transfer::OUTSIDER_STATE_ANSWERS;

/// Votes for future views beyond this distance from the current view are dropped.
const FUTURE_VIEWS: View = 4;

/// Whether the replica is working in its view or waiting for the view's new-view message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Status {
    /// Normal-case operation in the current view (PBFT §4.2).
    Normal,
    /// Sent a view change for the current view and waits for its new-view message (PBFT §4.4).
    ViewChanging,
}

/// Evidence kinds, the key of the equivocation detector.
pub(crate) const KIND_PRE_PREPARE: u8 = 0;
pub(crate) const KIND_PREPARE: u8 = 1;
pub(crate) const KIND_COMMIT: u8 = 2;
pub(crate) const KIND_CHECKPOINT: u8 = 3;

/// What one replica knows about one `(seq, view)`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Slot {
    /// The primary's pre-prepare: header, its hash and the primary's signature.
    pub pre_prepare: Option<(MilestoneHeader, Hash, Signature)>,
    /// Prepares by sender.
    pub prepares: BTreeMap<AccountId, (Hash, Signature)>,
    /// Commits by sender.
    pub commits: BTreeMap<AccountId, (Hash, Signature)>,
}

/// A PBFT replica over milestones. See the crate docs for the protocol and the paper mapping.
pub struct Pbft {
    pub(crate) cfg: Config,
    pub(crate) pair: Pair,
    pub(crate) me: AccountId,
    pub(crate) committee: Committee,
    pub(crate) epoch: u64,
    /// The last milestone of the previous epoch (the epoch's implicit stable checkpoint).
    pub(crate) epoch_base: SeqNo,
    pub(crate) epoch_base_hash: Hash,
    pub(crate) view: View,
    pub(crate) status: Status,
    pub(crate) last_delivered: SeqNo,
    pub(crate) last_hash: Hash,
    /// Header hashes of delivered milestones above the stable checkpoint (and the checkpoint).
    pub(crate) delivered: BTreeMap<SeqNo, Hash>,
    /// The last certified milestones, served to laggards.
    pub(crate) history: VecDeque<crate::message::CertifiedMilestone>,
    /// The stable checkpoint: the low watermark h.
    pub(crate) stable: CheckpointProof,
    pub(crate) checkpoint_votes: BTreeMap<SeqNo, BTreeMap<AccountId, (Hash, Signature)>>,
    pub(crate) slots: BTreeMap<(SeqNo, View), Slot>,
    /// For each sequence number, the prepared certificate of the highest view (PBFT §4.4's P).
    pub(crate) prepared: BTreeMap<SeqNo, PreparedCert>,
    pub(crate) committed_local: BTreeMap<SeqNo, (MilestoneHeader, FinalityCertificate)>,
    pub(crate) view_changes: BTreeMap<View, BTreeMap<AccountId, SignedViewChange>>,
    /// The new-view message this replica sent as primary of the current view (resent to
    /// replicas that are still changing view).
    pub(crate) my_new_view: Option<SignedMessage>,
    /// The view changes this replica sent for recent views, resent to replicas in lower views.
    pub(crate) own_view_changes: BTreeMap<View, SignedMessage>,
    /// `(peer, view)`: our view change for `view` was resent to `peer` in this timer period
    /// (at most members × 9 entries; cleared whenever the timer restarts).
    pub(crate) answered: BTreeSet<(AccountId, View)>,
    /// State requests from outside the committee answered in this timer period (at most
    /// [`OUTSIDER_STATE_ANSWERS`]; cleared whenever the timer restarts).
    pub(crate) outsider_answers: usize,
    /// First signed message per `(sender, kind, view, seq)`, to detect equivocation.
    pub(crate) seen: BTreeMap<(AccountId, u8, View, SeqNo), SignedMessage>,
    pub(crate) reported: BTreeSet<(AccountId, u8, View, SeqNo)>,
    /// Validation verdicts by `(seq, digest)`.
    pub(crate) validity: BTreeMap<(SeqNo, Hash), bool>,
    pub(crate) validation_requested: BTreeSet<(SeqNo, Hash)>,
    pub(crate) proposal_requested: Option<(View, SeqNo)>,
    pub(crate) timer: u64,
    pub(crate) backoff: u32,
    pub(crate) next_persist: u64,
    pub(crate) held: BTreeMap<PersistId, Vec<Action>>,
    pub(crate) state_requested: bool,
    /// The caller's last [`Input::Pending`]: work waits for a proposal.
    pub(crate) pending: bool,
    /// Own messages of the current view to resend after a restart.
    pub(crate) resend: Vec<SignedMessage>,
    /// The restart fence `(epoch, view, top)`: after a restore, no new prepare in that epoch
    /// and view for a sequence number up to `top` (see [`PersistRecord::durability`]).
    pub(crate) fence: Option<(u64, View, SeqNo)>,
    /// Signer, signature and payload of the [`Input::Verified`] message being handled: that
    /// signature needs no second check.
    pub(crate) verified: Option<(AccountId, Signature, Vec<u8>)>,
    pub(crate) out: Vec<Action>,
    pub(crate) stats: Stats,
}

impl Pbft {
    /// A replica with key `pair` that starts after `genesis`. Call [`Pbft::start`] next.
    pub fn new(cfg: Config, pair: Pair, genesis: Genesis) -> Result<Self> {
        cfg.check()?;
        if genesis.committee.is_empty() {
            return Err(Error::Config("the committee has no members".into()));
        }
        let me = pair.public();
        let base = Checkpoint { seq: genesis.base_number, digest: genesis.base_hash };
        let mut delivered = BTreeMap::new();
        delivered.insert(genesis.base_number, genesis.base_hash);
        Ok(Pbft {
            cfg,
            pair,
            me,
            epoch: genesis.committee.epoch,
            committee: genesis.committee,
            epoch_base: genesis.base_number,
            epoch_base_hash: genesis.base_hash,
            view: 0,
            status: Status::Normal,
            last_delivered: genesis.base_number,
            last_hash: genesis.base_hash,
            delivered,
            history: VecDeque::new(),
            stable: CheckpointProof { checkpoint: base, signatures: BoundedVec::default() },
            checkpoint_votes: BTreeMap::new(),
            slots: BTreeMap::new(),
            prepared: BTreeMap::new(),
            committed_local: BTreeMap::new(),
            view_changes: BTreeMap::new(),
            my_new_view: None,
            own_view_changes: BTreeMap::new(),
            answered: BTreeSet::new(),
            outsider_answers: 0,
            seen: BTreeMap::new(),
            reported: BTreeSet::new(),
            validity: BTreeMap::new(),
            validation_requested: BTreeSet::new(),
            proposal_requested: None,
            timer: 0,
            backoff: 0,
            next_persist: 0,
            held: BTreeMap::new(),
            state_requested: false,
            pending: true,
            resend: Vec::new(),
            fence: None,
            verified: None,
            out: Vec::new(),
            stats: Stats::default(),
        })
    }

    /// First actions of a new or restored replica: arm the view-change timer, ask peers for
    /// milestones it may have missed, resend its own messages of the current view (after a
    /// restart) and, as primary, ask for a proposal.
    pub fn start(&mut self) -> Vec<Action> {
        self.restart_timer();
        self.request_state(None);
        for msg in std::mem::take(&mut self.resend) {
            self.out.push(Action::Broadcast(msg));
        }
        self.consider(self.last_delivered + 1, self.view);
        self.maybe_propose();
        std::mem::take(&mut self.out)
    }

    /// Feeds one input; returns what the caller must do, in order.
    pub fn step(&mut self, input: Input) -> Vec<Action> {
        let (was_awaiting, timer) = (self.awaiting(), self.timer);
        match input {
            Input::Message(from, msg) => self.on_message(from, msg),
            Input::Verified(from, msg) => {
                let (msg, payload) = msg.into_parts();
                self.verified = Some((msg.sender, msg.signature, payload));
                self.on_message(from, msg);
                self.verified = None;
            }
            Input::TimeoutElapsed(id) => self.on_timeout(id),
            Input::Propose(header) => self.on_propose(header),
            Input::Validated { seq, digest, ok } => self.on_validated(seq, digest, ok),
            Input::Persisted(id) => self.on_persisted(id),
            Input::Certified(milestones) => {
                if self.adopt_certified(milestones) > 0 {
                    // Caught up this far: a later state request may go out at once.
                    self.state_requested = false;
                }
            }
            Input::Pending(pending) => self.pending = pending,
            Input::Suspect => {
                let primary = self.primary_of(self.view);
                if self.status == Status::Normal && self.is_member() && primary != self.me {
                    self.start_view_change(self.view + 1);
                }
            }
        }
        if !was_awaiting && self.timer == timer && self.awaiting() {
            // Work arrived while the timer idled: the primary gets a whole period for it.
            self.restart_timer();
        }
        std::mem::take(&mut self.out)
    }

    /// The restart fence `(epoch, view, top)` the last restore set: no new prepare in that epoch
    /// and view up to milestone `top` unless the log holds the replica's own (it binds nothing
    /// once the replica is past it). `None` if the replica never restored or the fence was
    /// lifted ([`Pbft::lift_restart_fence`]).
    pub fn restart_fence(&self) -> Option<(u64, View, SeqNo)> {
        self.fence
    }

    /// This replica's key.
    pub fn id(&self) -> AccountId {
        self.me
    }
    /// The current view.
    pub fn view(&self) -> View {
        self.view
    }
    /// Whether the replica waits for a new-view message.
    pub fn status(&self) -> Status {
        self.status
    }
    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
    /// The committee of the current epoch.
    pub fn committee(&self) -> &Committee {
        &self.committee
    }
    /// The number and hash of the last committed milestone.
    pub fn last_committed(&self) -> (SeqNo, Hash) {
        (self.last_delivered, self.last_hash)
    }
    /// The low watermark: the sequence number of the stable checkpoint.
    pub fn low_watermark(&self) -> SeqNo {
        self.stable.checkpoint.seq
    }
    /// The high watermark: no sequence number above it is accepted.
    pub fn high_watermark(&self) -> SeqNo {
        self.stable.checkpoint.seq + self.cfg.window
    }
    /// The primary of `view` in the current epoch.
    pub fn primary_of(&self, view: View) -> AccountId {
        let n = self.committee.len() as u64;
        if n == 0 {
            return self.me;
        }
        self.committee.members[(view.wrapping_add(self.epoch) % n) as usize]
    }
    /// Whether this replica is the primary of the current view.
    pub fn is_primary(&self) -> bool {
        self.primary_of(self.view) == self.me
    }
    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }
    /// Number of log slots held (for tests of garbage collection).
    pub fn log_len(&self) -> usize {
        self.slots.len() + self.prepared.len() + self.checkpoint_votes.len()
    }

    /// How many peer messages, votes and per-peer records the replica holds (log slots, prepared
    /// certificates, view changes, checkpoint votes, the equivocation detector, validation
    /// verdicts, answered resends). Whatever peers send, it stays within a bound set by the
    /// configuration and the committee size (for tests of memory bounds).
    pub fn retained_messages(&self) -> usize {
        let slots: usize = self
            .slots
            .values()
            .map(|s| usize::from(s.pre_prepare.is_some()) + s.prepares.len() + s.commits.len())
            .sum();
        let view_changes: usize = self.view_changes.values().map(BTreeMap::len).sum();
        let checkpoints: usize = self.checkpoint_votes.values().map(BTreeMap::len).sum();
        slots
            + view_changes
            + checkpoints
            + self.prepared.len()
            + self.committed_local.len()
            + self.seen.len()
            + self.reported.len()
            + self.validity.len()
            + self.validation_requested.len()
            + self.own_view_changes.len()
            + self.answered.len()
    }

    /// Whether the replica waits for the primary (PBFT §4.4: a request is pending): the caller
    /// has work to propose, or a pre-prepare of the current view is not committed yet. Outside
    /// the normal case (a view change) the replica always waits for the new view.
    pub(crate) fn awaiting(&self) -> bool {
        self.status != Status::Normal
            || self.pending
            || self
                .slots
                .range((self.last_delivered + 1, 0)..)
                .any(|((_, view), slot)| *view == self.view && slot.pre_prepare.is_some())
    }

    /// Whether the caller last said it holds work to propose ([`Input::Pending`]).
    pub fn has_pending(&self) -> bool {
        self.pending
    }

    pub(crate) fn is_member(&self) -> bool {
        self.committee.index_of(&self.me).is_some()
    }

    /// The quorum n − f (or the test-only override).
    pub(crate) fn quorum(&self) -> usize {
        self.cfg.unsafe_quorum_for_tests.unwrap_or_else(|| self.committee.quorum())
    }

    pub(crate) fn in_window(&self, seq: SeqNo) -> bool {
        seq > self.stable.checkpoint.seq && seq <= self.high_watermark()
    }

    pub(crate) fn sign(&mut self, body: Body) -> SignedMessage {
        self.stats.signatures += 1;
        SignedMessage::sign(&self.pair, self.epoch, body)
    }

    pub(crate) fn verify(&mut self, who: &AccountId, payload: &[u8], sig: &Signature) -> bool {
        if self.verified.as_ref().is_some_and(|(w, s, p)| w == who && s == sig && p == payload) {
            self.stats.verifications_reused += 1;
            return true;
        }
        self.stats.verifications += 1;
        who.verify(payload, sig)
    }

    /// Emits `Persist(record)`; `then` is held until the record is acknowledged.
    pub(crate) fn persist_then(&mut self, record: PersistRecord, then: Vec<Action>) {
        let id = PersistId(self.next_persist);
        self.next_persist += 1;
        self.out.push(Action::Persist(id, record));
        if !then.is_empty() {
            self.held.insert(id, then);
        }
    }

    /// Persists `msg` as sent, then broadcasts it.
    pub(crate) fn persist_and_broadcast(&mut self, msg: SignedMessage) {
        self.persist_then(PersistRecord::Sent(msg.clone()), vec![Action::Broadcast(msg)]);
    }

    fn on_persisted(&mut self, id: PersistId) {
        // Records are durable in order, so acknowledging `id` acknowledges every earlier one.
        let later = self.held.split_off(&PersistId(id.0 + 1));
        let ready = std::mem::replace(&mut self.held, later);
        for (_, actions) in ready {
            self.out.extend(actions);
        }
    }

    pub(crate) fn timeout_ms(&self) -> u64 {
        let t = self.cfg.base_timeout_ms.saturating_mul(1u64 << self.backoff.min(32));
        t.min(self.cfg.max_timeout_ms)
    }

    pub(crate) fn restart_timer(&mut self) {
        self.timer += 1;
        // A new period: stale view changes may be answered again (bounded per period).
        self.answered.clear();
        self.outsider_answers = 0;
        let after_ms = self.timeout_ms();
        self.out.push(Action::ScheduleTimeout { id: TimerId(self.timer), after_ms });
    }

    fn on_timeout(&mut self, id: TimerId) {
        if id.0 != self.timer {
            return;
        }
        self.state_requested = false;
        self.request_state(None);
        if !self.is_member() || !self.awaiting() {
            // Nothing waits for the primary (or we have no vote): no reason to suspect it.
            self.restart_timer();
            return;
        }
        let vcs = self.view_changes.get(&self.view).map_or(0, |m| m.len());
        if self.status == Status::ViewChanging && vcs < self.quorum() {
            // PBFT §4.5.2: the timer of view v+1 only runs once 2f+1 replicas asked for v+1;
            // a replica ahead of the others waits for them (or is pulled further by f+1 view
            // changes) instead of racing alone through views. Meanwhile it retransmits its view
            // change, which drops may have lost.
            if let Some(own) = self.view_changes.get(&self.view).and_then(|m| m.get(&self.me)) {
                let msg = SignedMessage {
                    epoch: self.epoch,
                    sender: self.me,
                    body: Body::ViewChange(own.view_change.clone()),
                    signature: own.signature,
                };
                self.out.push(Action::Broadcast(msg));
            }
            self.restart_timer();
            return;
        }
        // PBFT §4.4: no progress within the timeout (or no new-view message in time after a
        // quorum of view changes): suspect the primary and move to the next view.
        self.start_view_change(self.view + 1);
    }

    fn on_message(&mut self, from: AccountId, msg: SignedMessage) {
        if from != msg.sender {
            self.stats.rejected += 1;
            return;
        }
        match &msg.body {
            Body::StateRequest { .. } | Body::StateResponse { .. } => {
                return self.on_transfer_message(msg)
            }
            _ => {}
        }
        if msg.epoch < self.epoch {
            return;
        }
        if msg.epoch > self.epoch {
            // The sender is in a later epoch: we missed the epoch's last milestone.
            self.request_state(Some(msg.sender));
            return;
        }
        if self.committee.index_of(&msg.sender).is_none() {
            self.stats.rejected += 1;
            return;
        }
        let SignedMessage { body, .. } = &msg;
        match body {
            Body::PrePrepare(_) => self.on_pre_prepare(msg),
            Body::Prepare(_) | Body::Commit(_) => self.on_vote(msg),
            Body::Checkpoint(_) => self.on_checkpoint(msg),
            Body::ViewChange(_) => self.on_view_change(msg),
            Body::NewView(_) => self.on_new_view(msg),
            Body::StateRequest { .. } | Body::StateResponse { .. } => {}
        }
    }

    /// Records the first signed message per slot; on a conflicting second one emits
    /// [`Action::Evidence`] once and returns `true` (the second message is then ignored).
    pub(crate) fn equivocates(
        &mut self,
        msg: &SignedMessage,
        kind: u8,
        view: View,
        seq: SeqNo,
        digest: Hash,
    ) -> bool {
        let key = (msg.sender, kind, view, seq);
        match self.seen.get(&key) {
            None => {
                self.seen.insert(key, msg.clone());
                false
            }
            Some(first) => {
                let first_digest = match &first.body {
                    Body::PrePrepare(pp) => pp.header.hash(),
                    Body::Prepare(v) | Body::Commit(v) => v.digest,
                    Body::Checkpoint(c) => c.digest,
                    _ => return false,
                };
                if first_digest == digest {
                    return false;
                }
                if self.reported.insert(key) {
                    let evidence =
                        crate::io::Evidence { first: first.clone(), second: msg.clone() };
                    self.out.push(Action::Evidence(Box::new(evidence)));
                }
                true
            }
        }
    }
}

impl core::fmt::Debug for Pbft {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pbft")
            .field("me", &self.me)
            .field("epoch", &self.epoch)
            .field("view", &self.view)
            .field("status", &self.status)
            .field("last_delivered", &self.last_delivered)
            .field("low_watermark", &self.stable.checkpoint.seq)
            .finish()
    }
}
