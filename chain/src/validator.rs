//! [`Validator`]: one validator's chain service. It owns the DAG, the state, the pending pool
//! and the PBFT replica, turns the replica's proposal and validation requests into DAG and
//! runtime work, applies committed milestones, and tells the node what to do as [`Output`]s.
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use itc_consensus::{
    message::CertifiedMilestone, Action, Evidence, Input, Pbft, PersistId, PersistRecord,
    SignedMessage, TimerId, VerifiedMessage,
};
use itc_dag::{
    Attachment, Confidence, Dag, DagConfig, DagStore, Difficulty, InsertOutcome, PreparedVertex,
};
use itc_primitives::{
    blake2_256, merkle::merkle_root, AccountId, BoundedVec, Committee, FinalityCertificate, Hash,
    MilestoneHeader, MilestoneNumber, Nonce, Pair, Transaction, Vertex,
};
use itc_runtime::{GenesisConfig, MilestoneContext, Parameters, Receipt, StateBackend};

use crate::{
    execute::{execute, load, mismatch, select_batch, Execution},
    genesis::{self, Genesis},
    mempool::{check_admission, fee_of, params_of, Difficulties, Parked, Pending},
    ChainConfig, Error, Result,
};

/// An event the node feeds into [`Validator::handle`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A consensus message from peer `from` (decode wire bytes with
    /// [`SignedMessage::from_bytes`], or use [`Validator::handle_message_bytes`]).
    Message {
        /// The transport-authenticated sender.
        from: AccountId,
        /// The message.
        msg: Box<SignedMessage>,
    },
    /// A consensus message whose signature the node checked before relaying it (see
    /// [`SignedMessage::verified`]); handled as [`Event::Message`] without a second check.
    Verified {
        /// The transport-authenticated sender.
        from: AccountId,
        /// The checked message.
        msg: Box<VerifiedMessage>,
    },
    /// A timer scheduled with [`Output::ScheduleTimeout`] elapsed.
    Timeout(TimerId),
    /// The record of [`Output::Persist`] with this id is durable.
    Persisted(PersistId),
    /// Periodic wake-up (every few tens of milliseconds): proposes an idle milestone when due
    /// (and, at every replica, starts expecting it) and repeats outstanding fetch requests.
    Tick,
}

/// A finalised milestone, for the node to persist, index and publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finalized {
    /// The header.
    pub header: MilestoneHeader,
    /// Its finality certificate (verified against the epoch's committee).
    pub certificate: FinalityCertificate,
    /// The confirmed vertex hashes, in execution order.
    pub order: Vec<Hash>,
    /// One receipt per confirmed vertex, in order.
    pub receipts: Vec<Receipt>,
}

/// Something the node must do, in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send a consensus message to one peer.
    Send(AccountId, SignedMessage),
    /// Send a consensus message to every other committee member.
    Broadcast(SignedMessage),
    /// Make the record durable, then feed [`Event::Persisted`]. The replica holds the messages
    /// that depend on it until then.
    Persist(PersistId, PersistRecord),
    /// Feed [`Event::Timeout`] after `after_ms`.
    ScheduleTimeout {
        /// The id to hand back.
        id: TimerId,
        /// Delay in milliseconds.
        after_ms: u64,
    },
    /// Gossip this vertex to peers (this node attached or accepted it from a client).
    Gossip(Vertex),
    /// Fetch these vertices from peers and hand them to [`Validator::receive_vertex`].
    FetchVertices(Vec<Hash>),
    /// A milestone is final: persist header, certificate, receipts and the tx index, durably,
    /// before reporting it final to clients.
    Finalized(Box<Finalized>),
    /// Two contradicting signed messages of one replica (submit them to the runtime).
    Evidence(Box<Evidence>),
    /// The replica switched to the committee of a new epoch after milestone `base`.
    EpochChanged {
        /// The new epoch.
        epoch: u64,
        /// The last milestone of the previous epoch.
        base: MilestoneNumber,
    },
    /// This validator suspected the primary of `view` of censorship: `vertex` waited
    /// [`ChainConfig::censorship_timeout_ms`] through milestones with room for it. The replica
    /// has moved to the next view; the node only reports it.
    SuspectedCensorship {
        /// The view whose primary is suspected.
        view: itc_consensus::View,
        /// The oldest vertex left out.
        vertex: Hash,
    },
}

/// The answer to a vertex or transaction submission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submitted {
    /// The transaction hash (what `tx_status` takes).
    pub tx_hash: Hash,
    /// The vertex hash; `None` while a client transaction is parked, waiting for its signer's
    /// previous nonce (see [`Validator::submit_transaction`]).
    pub vertex_hash: Option<Hash>,
    /// Parents still missing (the vertex waits as an orphan); empty once attached.
    pub missing: Vec<Hash>,
    /// What the node must do now (gossip, fetch, consensus traffic).
    pub outputs: Vec<Output>,
}

/// First wait before a missing vertex is asked for again (about one driver tick).
pub const FETCH_RETRY_MS: u64 = 20;
/// Longest wait between two requests for the same missing vertex.
pub const FETCH_RETRY_MAX_MS: u64 = 640;
/// A missing vertex not asked for again this long after it was due is forgotten.
const FETCH_FORGET_MS: u64 = 10_000;

/// When a missing vertex may be asked for again, and how long the last wait was.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Retry {
    at_ms: u64,
    wait_ms: u64,
}

/// A proposal the replica asked for.
#[derive(Clone, Debug)]
pub(crate) struct ProposalRequest {
    seq: MilestoneNumber,
    parent: Hash,
    epoch: u64,
    since_ms: u64,
}

/// The verdict on a header to validate.
enum Verdict {
    Done(bool),
    Blocked(Vec<Hash>),
}

/// One validator's chain service over a DAG store `S` and a state backend `B`. See the crate
/// docs for how the node drives it.
pub struct Validator<S: DagStore, B: StateBackend + Clone> {
    pub(crate) cfg: ChainConfig,
    pub(crate) me: AccountId,
    pub(crate) genesis: Genesis,
    pub(crate) dag: Dag<S>,
    pub(crate) state: B,
    pub(crate) pbft: Pbft,
    pub(crate) params: Parameters,
    pub(crate) committees: BTreeMap<u64, Committee>,
    pub(crate) pending: Pending,
    /// Client transactions waiting for their signer's previous nonce.
    pub(crate) parked: Parked,
    /// Parked transactions whose previous nonce just became pending: attached by the next
    /// [`Validator::drive`].
    pub(crate) unparked: Vec<(AccountId, Nonce)>,
    /// The milestone before the first of `milestones` (genesis until the window moves).
    pub(crate) window_base: MilestoneHeader,
    /// The last `cfg.retain_milestones` finalised milestones (fewer after a restore): index `i`
    /// holds milestone `window_base.number + 1 + i`.
    pub(crate) milestones: VecDeque<Finalized>,
    /// Header hash -> number, for the milestones of the window.
    pub(crate) by_hash: HashMap<Hash, MilestoneNumber>,
    /// tx hash -> (milestone, position), for the milestones of the window.
    pub(crate) tx_index: HashMap<Hash, (MilestoneNumber, u32)>,
    pub(crate) proposal: Option<ProposalRequest>,
    pub(crate) to_validate: BTreeMap<Hash, MilestoneHeader>,
    pub(crate) to_apply: VecDeque<(MilestoneHeader, FinalityCertificate)>,
    /// Speculative executions by header hash, with their headers: proposals this validator
    /// made or validated, not applied yet. One whose parent is also here was built on that
    /// parent's execution (pipelining).
    pub(crate) executed: HashMap<Hash, (MilestoneHeader, Execution<B>)>,
    pub(crate) attach_counter: u64,
    /// When each missing vertex asked for may be asked for again (see [`Retry`]).
    pub(crate) fetches: HashMap<Hash, Retry>,
    pub(crate) confirmed_vertices: u64,
    /// What the replica was last told of pending work ([`Input::Pending`]); `None` before.
    pub(crate) told_pending: Option<bool>,
    /// When this validator last applied a milestone (or started): the idle chain's heartbeat is
    /// due `idle_propose_ms` later.
    pub(crate) progress_ms: u64,
    /// Watches for vertices a proposing primary leaves out (see [`crate::censorship`]).
    pub(crate) censorship: crate::censorship::Watch,
}

impl<S: DagStore, B: StateBackend + Clone> Validator<S, B> {
    /// A new chain: writes the genesis state of `genesis` into the empty `state`, builds the
    /// genesis milestone (at `genesis_timestamp_ms`), the DAG over `store` and the PBFT replica
    /// with key `pair`. Call [`Validator::start`] next.
    pub fn new(
        cfg: ChainConfig,
        pair: Pair,
        genesis_config: &GenesisConfig,
        genesis_timestamp_ms: u64,
        store: S,
        mut state: B,
    ) -> Result<Self> {
        cfg.validate()?;
        let genesis = genesis::build(&mut state, genesis_config, genesis_timestamp_ms)?;
        let dag = Dag::new(DagConfig::new(genesis.hash()), store)?;
        let pbft = Pbft::new(
            cfg.consensus.clone(),
            pair.clone(),
            itc_consensus::Genesis::after(&genesis.header, genesis.committee.clone()),
        )?;
        let mut committees = BTreeMap::new();
        committees.insert(genesis.committee.epoch, genesis.committee.clone());
        Self::from_parts(cfg, &pair, genesis, dag, state, pbft, committees)
    }

    /// A validator over these parts with nothing pending, applied or in flight (what
    /// [`Validator::new`] returns; `restore` fills in what it recovered).
    pub(crate) fn from_parts(
        cfg: ChainConfig,
        pair: &Pair,
        genesis: Genesis,
        dag: Dag<S>,
        state: B,
        pbft: Pbft,
        committees: BTreeMap<u64, Committee>,
    ) -> Result<Self> {
        let params = params_of(&state)?;
        let cfg_censorship_timeout = cfg.censorship_timeout_ms;
        Ok(Validator {
            cfg,
            me: pair.public(),
            window_base: genesis.header.clone(),
            genesis,
            dag,
            state,
            pbft,
            params,
            committees,
            pending: Pending::default(),
            parked: Parked::default(),
            unparked: Vec::new(),
            milestones: VecDeque::new(),
            by_hash: HashMap::new(),
            tx_index: HashMap::new(),
            proposal: None,
            to_validate: BTreeMap::new(),
            to_apply: VecDeque::new(),
            executed: HashMap::new(),
            attach_counter: 0,
            fetches: HashMap::new(),
            confirmed_vertices: 0,
            told_pending: None,
            progress_ms: 0,
            censorship: crate::censorship::Watch::new(cfg_censorship_timeout, 0, 0),
        })
    }

    /// The first outputs: arms the view-change timer, asks peers for missed milestones and, as
    /// primary, prepares the first proposal.
    pub fn start(&mut self, now_ms: u64) -> Result<Vec<Output>> {
        self.progress_ms = now_ms;
        self.censorship =
            crate::censorship::Watch::new(self.cfg.censorship_timeout_ms, self.pbft.view(), now_ms);
        let actions = self.pbft.start();
        let mut out = Vec::new();
        self.drive(actions, now_ms, &mut out)?;
        Ok(out)
    }

    /// Feeds one event; returns what the node must do, in order.
    ///
    /// An `Err` means this node cannot go on safely (its store failed, or executing a certified
    /// milestone did not reproduce the certified roots): stop it and resync.
    pub fn handle(&mut self, event: Event, now_ms: u64) -> Result<Vec<Output>> {
        let actions = match event {
            Event::Message { from, msg } => self.pbft.step(Input::Message(from, *msg)),
            Event::Verified { from, msg } => self.pbft.step(Input::Verified(from, *msg)),
            Event::Timeout(id) => self.pbft.step(Input::TimeoutElapsed(id)),
            Event::Persisted(id) => self.pbft.step(Input::Persisted(id)),
            Event::Tick => {
                // Forget what has not been wanted for a while (it arrived in a way that did not
                // pass through `after_insert`, or nothing wants it any more).
                self.fetches.retain(|_, r| now_ms < r.at_ms.saturating_add(FETCH_FORGET_MS));
                Vec::new()
            }
        };
        let mut out = Vec::new();
        self.drive(actions, now_ms, &mut out)?;
        Ok(out)
    }

    /// [`Validator::handle`] for a consensus message as received from the wire. Bytes that do
    /// not decode are an error for the sender, not for this node.
    pub fn handle_message_bytes(
        &mut self,
        from: AccountId,
        bytes: &[u8],
        now_ms: u64,
    ) -> Result<Vec<Output>> {
        let msg = SignedMessage::from_bytes(bytes)
            .map_err(|e| Error::Malformed { what: "consensus message", reason: e.to_string() })?;
        self.handle(Event::Message { from, msg: Box::new(msg) }, now_ms)
    }

    /// Admits a client's transaction: checks its signature (over this chain's genesis hash), its
    /// nonce against the account's nonce and the pending pool (`nonce < account nonce +
    /// nonce_window`, not used, not pending), its mortality and that the free balance covers its
    /// fee plus the fees of the signer's pending transactions. Then attaches it: seeded tip
    /// selection, PoW at the signer's difficulty, insertion into the DAG. The outputs start with
    /// [`Output::Gossip`] of the new vertex.
    ///
    /// A transaction whose signer's previous nonce is neither final nor pending here is
    /// **parked** instead (Substrate's "future" transactions; `vertex_hash` is `None`, and
    /// [`Validator::tx_status`] says [`crate::TxStatus::Parked`]). Attached at once it could execute
    /// before its predecessor and fail (white flag): consecutive nonces sent to different
    /// nodes a few milliseconds apart do that. It is attached, with the predecessor's vertex
    /// as a parent, as soon as that vertex reaches this node, and dropped
    /// ([`crate::TxStatus::Dropped`]) if it has not after [`ChainConfig::parked_timeout_ms`]. At
    /// most [`crate::MAX_PARKED`] wait at once; the queue is in memory only.
    pub fn submit_transaction(&mut self, tx: Transaction, now_ms: u64) -> Result<Submitted> {
        let signed = tx.verify_signature(self.genesis.hash());
        self.attach(tx, signed, now_ms)
    }

    /// [`Validator::submit_transaction`] for a burst of client transactions: their signatures
    /// are checked with one batch verification, then each is admitted and attached in order.
    /// One result per transaction.
    pub fn submit_transactions(
        &mut self,
        txs: Vec<Transaction>,
        now_ms: u64,
    ) -> Vec<Result<Submitted>> {
        let signed = Transaction::verify_signatures(&txs, self.genesis.hash());
        txs.into_iter().zip(signed).map(|(tx, signed)| self.attach(tx, signed, now_ms)).collect()
    }

    /// Admits and attaches a client's transaction whose signature check gave `signed`; parks
    /// it instead if its signer's previous nonce is neither final nor pending here.
    fn attach(&mut self, tx: Transaction, signed: bool, now_ms: u64) -> Result<Submitted> {
        if !signed {
            return Err(Error::BadSignature { signer: tx.signer, genesis: self.genesis.hash() });
        }
        let account_nonce =
            check_admission(&self.state, &self.pending, &tx, self.cfg.nonce_window)?;
        if self.parked.contains(&tx.signer, tx.nonce) {
            let next = self.pending.next_free(&tx.signer, account_nonce);
            return Err(Error::NoncePending { nonce: tx.nonce, next });
        }
        let tx_hash = tx.hash();
        if tx.nonce > account_nonce && !self.pending.contains(&tx.signer, tx.nonce - 1) {
            self.parked.park(tx, tx_hash, now_ms)?;
            return Ok(Submitted {
                tx_hash,
                vertex_hash: None,
                missing: Vec::new(),
                outputs: Vec::new(),
            });
        }
        let mut out = Vec::new();
        let (vertex_hash, missing) = self.attach_now(tx, tx_hash, now_ms, &mut out)?;
        self.drive(Vec::new(), now_ms, &mut out)?;
        Ok(Submitted { tx_hash, vertex_hash: Some(vertex_hash), missing, outputs: out })
    }

    /// Attaches an admitted transaction: tip selection, the signer's previous pending vertex as
    /// a parent, PoW, insertion. Pushes the new vertex's gossip to `out`; returns its hash and
    /// the parents still missing.
    fn attach_now(
        &mut self,
        tx: Transaction,
        tx_hash: Hash,
        now_ms: u64,
        out: &mut Vec<Output>,
    ) -> Result<(Hash, Vec<Hash>)> {
        let mut seed_input = self.cfg.attach_seed.to_vec();
        seed_input.extend_from_slice(&self.attach_counter.to_le_bytes());
        seed_input.extend_from_slice(&tx_hash.0);
        self.attach_counter += 1;
        let mut parents =
            self.dag.select_tips(self.cfg.parents_per_vertex, blake2_256(&seed_input).0)?;
        // The signer's previous transaction, pending here, becomes a parent: every milestone
        // then executes the two in nonce order. Left to tip selection, the deterministic order
        // may place the later nonce first, and white flag records it as failed.
        let previous = tx.nonce.checked_sub(1).and_then(|n| self.pending.vertex_of(&tx.signer, n));
        if let Some(previous) = previous {
            if !parents.contains(&previous) && self.dag.is_in_memory(&previous) {
                if parents.len() >= itc_primitives::MAX_PARENTS {
                    parents.pop();
                }
                parents.push(previous);
            }
        }
        let difficulty = Difficulties::new(&self.state).required_bits(&tx.signer);
        let (pow_nonce, _) =
            Vertex::mine(&tx_hash, &parents, difficulty, 0, self.cfg.max_pow_attempts)
                .ok_or(Error::PowNotFound { difficulty, attempts: self.cfg.max_pow_attempts })?;
        let parents = BoundedVec::new(parents).map_err(|p| {
            Error::Config(format!("tip selection returned {} parents, at most 8", p.len()))
        })?;
        let vertex = Vertex { tx, parents, pow_nonce };
        out.push(Output::Gossip(vertex.clone()));
        // Signature and PoW were checked just above; the DAG checks structure and duplicates.
        let outcome = self.dag.insert_verified(PreparedVertex::new(vertex))?;
        let missing = self.after_insert(&outcome, now_ms, out)?;
        Ok((outcome.hash, missing))
    }

    /// Attaches the parked transactions whose previous nonce became pending (cascading: each
    /// attached one may release the next), after checking them again against the latest state;
    /// then drops those parked longer than [`crate::ChainConfig::parked_timeout_ms`].
    fn release_parked(&mut self, now_ms: u64, out: &mut Vec<Output>) {
        while let Some((signer, nonce)) = self.unparked.pop() {
            let Some(parked) = self.parked.take(&signer, nonce) else { continue };
            let tx_hash = parked.tx_hash;
            let attached =
                check_admission(&self.state, &self.pending, &parked.tx, self.cfg.nonce_window)
                    .and_then(|_| self.attach_now(parked.tx, tx_hash, now_ms, out));
            if let Err(e) = attached {
                self.parked.record_dropped(
                    tx_hash,
                    format!("dropped when its previous nonce arrived: {e}"),
                );
            }
        }
        let timeout_ms = self.cfg.parked_timeout_ms;
        let timeout = if timeout_ms.is_multiple_of(1000) {
            format!("{} s", timeout_ms / 1000)
        } else {
            format!("{timeout_ms} ms")
        };
        for expired in self.parked.expire(now_ms, timeout_ms) {
            let reason = format!(
                "dropped: nonce {} of {} did not reach this node within {timeout}; submit it, \
                 then this transaction again",
                expired.tx.nonce.saturating_sub(1),
                expired.tx.signer,
            );
            self.parked.record_dropped(expired.tx_hash, reason);
        }
    }

    /// Admits a ready vertex from a client (a light client that attached its own transaction):
    /// the DAG's checks (size, parents, PoW for the signer's level, signature) plus the pending
    /// pool's (nonce window, fees). The outputs start with [`Output::Gossip`]; if parents are
    /// unknown, `missing` lists what to fetch.
    pub fn submit_vertex(&mut self, bytes: &[u8], now_ms: u64) -> Result<Submitted> {
        let vertex = PreparedVertex::from_bytes(bytes, self.dag.config().max_vertex_bytes)?;
        check_admission(&self.state, &self.pending, &vertex.vertex.tx, self.cfg.nonce_window)?;
        let mut out = vec![Output::Gossip(vertex.vertex.clone())];
        let (tx_hash, vertex_hash, missing) = self.insert_checked(vertex, now_ms, &mut out)?;
        Ok(Submitted { tx_hash, vertex_hash: Some(vertex_hash), missing, outputs: out })
    }

    /// Admits a vertex from a peer (gossip or a fetch answer): the DAG's checks only; a vertex
    /// whose transaction will fail is still a valid vertex (white-flag).
    pub fn receive_vertex(&mut self, bytes: &[u8], now_ms: u64) -> Result<Submitted> {
        let vertex = PreparedVertex::from_bytes(bytes, self.dag.config().max_vertex_bytes)?;
        let mut out = Vec::new();
        let (tx_hash, vertex_hash, missing) = self.insert_checked(vertex, now_ms, &mut out)?;
        Ok(Submitted { tx_hash, vertex_hash: Some(vertex_hash), missing, outputs: out })
    }

    /// Admits many vertices from peers at once (a gossip burst, a fetch answer), verifying their
    /// signatures with one batch verification. Returns one result per input (the vertex hash,
    /// or why it was refused) and the outputs. The outer error is fatal, as for
    /// [`Validator::handle`].
    pub fn receive_vertices(
        &mut self,
        batch: &[Vec<u8>],
        now_ms: u64,
    ) -> Result<(Vec<Result<Hash>>, Vec<Output>)> {
        let max = self.dag.config().max_vertex_bytes;
        let mut results: Vec<Result<Hash>> = Vec::with_capacity(batch.len());
        let mut prepared = Vec::with_capacity(batch.len());
        let mut slots = Vec::with_capacity(batch.len());
        for (slot, bytes) in batch.iter().enumerate() {
            match PreparedVertex::from_bytes(bytes, max) {
                Ok(vertex) => {
                    prepared.push(vertex);
                    slots.push(slot);
                    // Replaced below: the DAG returns one result per prepared vertex.
                    results.push(Err(Error::Malformed { what: "vertex", reason: String::new() }));
                }
                Err(e) => results.push(Err(e.into())),
            }
        }
        let difficulty = Difficulties::new(&self.state);
        let outcomes = self.dag.insert_prepared_batch(prepared, &difficulty);
        let mut out = Vec::new();
        for (slot, outcome) in slots.into_iter().zip(outcomes) {
            results[slot] = match outcome {
                Ok(outcome) => {
                    self.after_insert(&outcome, now_ms, &mut out)?;
                    Ok(outcome.hash)
                }
                Err(e) => Err(e.into()),
            };
        }
        self.drive(Vec::new(), now_ms, &mut out)?;
        Ok((results, out))
    }

    /// Adopts certified milestones (header and finality certificate) fetched from a peer's
    /// store, for a node that fell further behind than the peers' consensus memory serves
    /// (see [`Validator::certified_range`] for the serving side). The replica checks that each
    /// extends its chain and that its certificate verifies; adopted ones are then applied like
    /// any commit: their vertices are fetched, executed and the roots compared. Milestones that
    /// do not fit are ignored; the outer error is fatal, as for [`Validator::handle`].
    pub fn receive_certified(
        &mut self,
        milestones: Vec<(MilestoneHeader, FinalityCertificate)>,
        now_ms: u64,
    ) -> Result<Vec<Output>> {
        let milestones = milestones
            .into_iter()
            .map(|(header, certificate)| CertifiedMilestone { header, certificate })
            .collect();
        let actions = self.pbft.step(Input::Certified(milestones));
        let mut out = Vec::new();
        self.drive(actions, now_ms, &mut out)?;
        Ok(out)
    }

    fn insert_checked(
        &mut self,
        vertex: PreparedVertex,
        now_ms: u64,
        out: &mut Vec<Output>,
    ) -> Result<(Hash, Hash, Vec<Hash>)> {
        let tx_hash = vertex.tx_hash;
        let difficulty = Difficulties::new(&self.state);
        let outcome = self.dag.insert_prepared(vertex, &difficulty)?;
        let missing = self.after_insert(&outcome, now_ms, out)?;
        self.drive(Vec::new(), now_ms, out)?;
        Ok((tx_hash, outcome.hash, missing))
    }

    /// Indexes what an insertion attached and asks for what it still misses.
    fn after_insert(
        &mut self,
        outcome: &InsertOutcome,
        now_ms: u64,
        out: &mut Vec<Output>,
    ) -> Result<Vec<Hash>> {
        let mut attached = Vec::with_capacity(1 + outcome.released.len());
        let missing = match &outcome.attachment {
            Attachment::Attached => {
                attached.push(outcome.hash);
                Vec::new()
            }
            Attachment::Orphaned { missing } => missing.clone(),
        };
        attached.extend(outcome.released.iter().copied());
        self.fetches.remove(&outcome.hash);
        for hash in attached {
            self.censorship.arrived(hash, now_ms);
            let vertex = load(&self.dag, &hash)?;
            let tx_hash = vertex.tx.hash();
            // A vertex of an already finalised transaction (a replay in a new attachment) is not
            // pending: it will execute as invalid if a milestone confirms it.
            if !self.tx_index.contains_key(&tx_hash) {
                let fee = fee_of(&self.params, &vertex.tx);
                self.pending.insert(hash, tx_hash, &vertex.tx, fee);
                let next = vertex.tx.nonce.saturating_add(1);
                if self.parked.contains(&vertex.tx.signer, next) {
                    self.unparked.push((vertex.tx.signer, next));
                }
            }
        }
        if !missing.is_empty() {
            self.fetch(missing.clone(), now_ms, out);
        }
        Ok(missing)
    }

    /// Asks for the vertices of `missing` not asked for recently: a hash is asked for again
    /// [`FETCH_RETRY_MS`] after the first request, then after twice as long each time, up to
    /// [`FETCH_RETRY_MAX_MS`], so a vertex no peer has costs the network a few requests a
    /// second, not one per event.
    fn fetch(&mut self, missing: Vec<Hash>, now_ms: u64, out: &mut Vec<Output>) {
        let due: Vec<Hash> = missing
            .into_iter()
            .filter(|h| self.fetches.get(h).is_none_or(|r| now_ms >= r.at_ms))
            .collect();
        if due.is_empty() {
            return;
        }
        for hash in &due {
            let wait_ms = self
                .fetches
                .get(hash)
                .map_or(FETCH_RETRY_MS, |r| r.wait_ms.saturating_mul(2).min(FETCH_RETRY_MAX_MS));
            self.fetches.insert(*hash, Retry { at_ms: now_ms.saturating_add(wait_ms), wait_ms });
        }
        out.push(Output::FetchVertices(due));
    }

    /// Carries out the replica's actions and feeds back proposals and verdicts until nothing
    /// more can happen without a new event.
    fn drive(&mut self, actions: Vec<Action>, now_ms: u64, out: &mut Vec<Output>) -> Result<()> {
        if !self.unparked.is_empty() || self.parked.len() > 0 {
            self.release_parked(now_ms, out);
        }
        let mut queue: VecDeque<Action> = actions.into();
        loop {
            while let Some(action) = queue.pop_front() {
                match action {
                    Action::Send(to, msg) => out.push(Output::Send(to, msg)),
                    Action::Broadcast(msg) => out.push(Output::Broadcast(msg)),
                    Action::Persist(id, record) => out.push(Output::Persist(id, record)),
                    Action::ScheduleTimeout { id, after_ms } => {
                        out.push(Output::ScheduleTimeout { id, after_ms })
                    }
                    Action::RequestProposal { seq, parent, epoch, .. } => {
                        self.proposal =
                            Some(ProposalRequest { seq, parent, epoch, since_ms: now_ms });
                    }
                    Action::Validate(header) => {
                        self.to_validate.insert(header.hash(), header);
                    }
                    Action::Committed(header, certificate) => {
                        self.to_apply.push_back((header, certificate))
                    }
                    Action::Evidence(evidence) => out.push(Output::Evidence(evidence)),
                    Action::EpochChanged { epoch, base } => {
                        out.push(Output::EpochChanged { epoch, base })
                    }
                }
            }
            match self.next_input(now_ms, out)? {
                Some(input) => queue.extend(self.pbft.step(input)),
                None => {
                    let (pending, view) = (&self.pending, self.pbft.view());
                    let left_out = self.censorship.check(
                        view,
                        now_ms,
                        |hash| pending.has_vertex(hash),
                        pending.len(),
                    );
                    if let Some(vertex) = left_out {
                        out.push(Output::SuspectedCensorship { view, vertex });
                        queue.extend(self.pbft.step(Input::Suspect));
                        continue;
                    }
                    // The replica's view-change timer runs only while the primary owes a
                    // milestone: one confirming the DAG's new vertices, or an overdue heartbeat.
                    let heartbeat_due =
                        now_ms >= self.progress_ms.saturating_add(self.cfg.idle_propose_ms);
                    let pending = heartbeat_due || self.dag.has_unconfirmed();
                    if self.told_pending == Some(pending) {
                        return Ok(());
                    }
                    self.told_pending = Some(pending);
                    queue.extend(self.pbft.step(Input::Pending(pending)));
                }
            }
        }
    }

    /// Vertices confirmed by the milestones this validator applied since it was created or
    /// restored.
    pub fn confirmed_vertices(&self) -> u64 {
        self.confirmed_vertices
    }

    /// The latest applied milestone number (0 = genesis).
    pub fn finalized_number(&self) -> MilestoneNumber {
        self.window_base.number + self.milestones.len() as MilestoneNumber
    }

    /// The latest applied header (genesis before the first milestone).
    pub fn last_header(&self) -> &MilestoneHeader {
        self.milestones.back().map_or(&self.window_base, |m| &m.header)
    }

    /// Adds a finalised milestone to the window and drops the oldest beyond
    /// `cfg.retain_milestones`, with their index entries.
    pub(crate) fn retain(&mut self, finalized: Finalized) {
        let number = finalized.header.number;
        self.by_hash.insert(finalized.header.hash(), number);
        for (position, receipt) in finalized.receipts.iter().enumerate() {
            self.tx_index.insert(receipt.tx_hash, (number, position as u32));
        }
        self.milestones.push_back(finalized);
        while self.milestones.len() as u64 > self.cfg.retain_milestones {
            let Some(old) = self.milestones.pop_front() else { break };
            let number = old.header.number;
            self.by_hash.remove(&old.header.hash());
            for receipt in &old.receipts {
                // A later milestone may hold the same transaction again (a replay, invalid).
                if self.tx_index.get(&receipt.tx_hash).is_some_and(|(n, _)| *n == number) {
                    self.tx_index.remove(&receipt.tx_hash);
                }
            }
            self.window_base = old.header;
        }
    }

    /// Applies what committed, then answers one validation or proposal request.
    fn next_input(&mut self, now_ms: u64, out: &mut Vec<Output>) -> Result<Option<Input>> {
        while !self.to_apply.is_empty() {
            if !self.try_apply(now_ms, out)? {
                return Ok(None);
            }
        }
        let number = self.finalized_number();
        self.to_validate.retain(|_, h| h.number > number);
        // The next number on the applied state; one further (pipelining) on its parent's
        // speculative execution, once that is here.
        let executed = &self.executed;
        let ready = self.to_validate.iter().find(|(_, h)| h.number == number + 1).or_else(|| {
            self.to_validate
                .iter()
                .find(|(_, h)| h.number == number + 2 && executed.contains_key(&h.parent))
        });
        if let Some((&digest, header)) = ready {
            let header = header.clone();
            match self.validate(&header, now_ms)? {
                Verdict::Blocked(missing) => self.fetch(missing, now_ms, out),
                Verdict::Done(ok) => {
                    self.to_validate.remove(&digest);
                    return Ok(Some(Input::Validated { seq: header.number, digest, ok }));
                }
            }
        }
        if let Some(request) = self.proposal.clone() {
            if request.seq <= number {
                self.proposal = None;
            } else if self.base_for(request.seq, &request.parent).is_some() {
                if let Some(header) = self.propose(&request, now_ms)? {
                    self.proposal = None;
                    return Ok(Some(Input::Propose(header)));
                }
            }
        }
        Ok(None)
    }

    fn context(&self, header: &MilestoneHeader) -> MilestoneContext {
        MilestoneContext {
            number: header.number,
            timestamp_ms: header.timestamp_ms,
            genesis_hash: self.genesis.hash(),
            proposer: header.proposer,
        }
    }

    /// Builds the primary's proposal: the capped batch of new vertices, executed on a copy of
    /// the state. With nothing new, waits `idle_propose_ms` and then proposes an empty milestone
    /// (same tips as the last one).
    fn propose(&mut self, req: &ProposalRequest, now_ms: u64) -> Result<Option<MilestoneHeader>> {
        let Some((parent, base)) = self.base_for(req.seq, &req.parent) else {
            return Ok(None);
        };
        let pending = base.map_or(&[][..], |(_, exec)| &exec.order[..]);
        let (mut tips, order) =
            select_batch(&self.dag, pending, self.cfg.max_tips, self.cfg.max_batch)?;
        if base.is_some() && order.len() < self.cfg.pipeline_min_batch.max(1) {
            // A pipelined proposal waits for enough new vertices (see the config); once its
            // parent is applied the request is the ordinary one, heartbeat included.
            return Ok(None);
        }
        if order.is_empty() {
            if now_ms < req.since_ms.saturating_add(self.cfg.idle_propose_ms) {
                return Ok(None);
            }
            tips = self.last_header().tips.to_vec();
        }
        let timestamp_ms = now_ms.max(parent.timestamp_ms);
        let ctx = MilestoneContext {
            number: req.seq,
            timestamp_ms,
            genesis_hash: self.genesis.hash(),
            proposer: self.me,
        };
        let state = base.map_or(&self.state, |(_, exec)| &exec.state);
        let exec = execute(state, &self.dag, order, ctx)?;
        if exec.outcome.epoch != req.epoch {
            return Err(Error::Divergence { number: req.seq, what: "epoch" });
        }
        let header = MilestoneHeader {
            number: req.seq,
            parent: req.parent,
            epoch: exec.outcome.epoch,
            tips: BoundedVec::new(tips).map_err(|t| {
                Error::Config(format!("{} tips exceed the header's bound", t.len()))
            })?,
            ordered_root: merkle_root(&exec.order),
            vertex_count: exec.order.len() as u32,
            state_root: exec.outcome.state_root,
            receipts_root: exec.outcome.receipts_root,
            timestamp_ms,
            proposer: self.me,
            next_committee: exec.outcome.next_committee.clone(),
        };
        self.executed.insert(header.hash(), (header.clone(), exec));
        Ok(Some(header))
    }

    /// What a milestone numbered `number` with parent `parent` builds on: the parent's header,
    /// and `None` for the applied state, or (pipelining) the parent's speculative execution
    /// with its header when the parent is the next number and was executed here. `None` when
    /// neither applies yet.
    #[allow(clippy::type_complexity)]
    fn base_for(
        &self,
        number: MilestoneNumber,
        parent: &Hash,
    ) -> Option<(&MilestoneHeader, Option<(&MilestoneHeader, &Execution<B>)>)> {
        let applied = self.finalized_number();
        if number == applied + 1 && *parent == self.last_header().hash() {
            return Some((self.last_header(), None));
        }
        if number != applied + 2 {
            return None;
        }
        let (header, exec) = self.executed.get(parent)?;
        (header.number == applied + 1).then_some((header, Some((header, exec))))
    }

    /// Tips of `tips` this node cannot resolve, plus the ancestors its orphans wait for.
    fn missing_tips(&self, tips: &[Hash]) -> Result<Vec<Hash>> {
        let mut missing = Vec::new();
        let mut orphan = false;
        for tip in tips {
            if self.dag.is_in_memory(tip) || self.dag.store().contains(tip)? {
                continue;
            }
            if self.dag.confidence(tip)? == Confidence::Orphan {
                orphan = true;
            } else {
                missing.push(*tip);
            }
        }
        if orphan {
            missing.extend(self.dag.wanted());
        }
        Ok(missing)
    }

    /// A backup's check of a proposal (replicas execute before they vote): proposer, timestamp,
    /// bounds, past cone known, order root, then re-execution and the state and receipts roots.
    fn validate(&mut self, header: &MilestoneHeader, now_ms: u64) -> Result<Verdict> {
        let Some((parent, base)) = self.base_for(header.number, &header.parent) else {
            return Ok(Verdict::Done(false));
        };
        let proposer_ok = self
            .committees
            .get(&header.epoch)
            .is_some_and(|c| c.index_of(&header.proposer).is_some());
        if !proposer_ok
            || header.timestamp_ms < parent.timestamp_ms
            || header.timestamp_ms > now_ms.saturating_add(self.cfg.max_clock_drift_ms)
            || header.tips.len() > self.cfg.max_tips
            || header.vertex_count as usize > self.cfg.max_batch
        {
            return Ok(Verdict::Done(false));
        }
        let missing = self.missing_tips(&header.tips)?;
        if !missing.is_empty() {
            return Ok(Verdict::Blocked(missing));
        }
        let pending = base.map_or(&[][..], |(_, exec)| &exec.order[..]);
        let order = match self.dag.past_cone_order_after(&header.tips, pending) {
            Ok(order) => order,
            Err(itc_dag::Error::UnknownTip { hash }) => return Ok(Verdict::Blocked(vec![hash])),
            Err(e) => return Err(e.into()),
        };
        if order.len() != header.vertex_count as usize || merkle_root(&order) != header.ordered_root
        {
            return Ok(Verdict::Done(false));
        }
        let state = base.map_or(&self.state, |(_, exec)| &exec.state);
        let exec = execute(state, &self.dag, order, self.context(header))?;
        if mismatch(header, &exec).is_some() {
            return Ok(Verdict::Done(false));
        }
        self.executed.insert(header.hash(), (header.clone(), exec));
        Ok(Verdict::Done(true))
    }

    /// Applies the first committed milestone if its vertices are here. Returns whether it made
    /// progress.
    fn try_apply(&mut self, now_ms: u64, out: &mut Vec<Output>) -> Result<bool> {
        let Some((header, certificate)) = self.to_apply.front().cloned() else {
            return Ok(false);
        };
        let number = header.number;
        if number <= self.finalized_number() {
            self.to_apply.pop_front();
            return Ok(true);
        }
        if number != self.finalized_number() + 1 || header.parent != self.last_header().hash() {
            return Err(Error::Divergence { number, what: "parent" });
        }
        let digest = header.hash();
        // Whether this validator executed the milestone as it was proposed (as its primary or
        // validating its pre-prepare), rather than now, learning it by state transfer.
        let live = self.executed.contains_key(&digest);
        // A milestone executed live reached the replica's commit in this run, so its
        // certificate is made of commits whose signatures the replica checked, or was checked
        // when adopted by state transfer: checking 2f + 1 signatures again would only delay
        // finality. One replayed from the persist log after a restart (nothing is executed
        // yet then) is checked here.
        if !live {
            let committee =
                self.committees.get(&header.epoch).ok_or_else(|| Error::Certificate {
                    number,
                    reason: format!("no committee known for epoch {}", header.epoch),
                })?;
            certificate
                .verify(&header, committee)
                .map_err(|e| Error::Certificate { number, reason: e.to_string() })?;
        }
        let exec = match self.executed.remove(&digest) {
            Some((_, exec)) => exec,
            None => {
                // State transfer (or a proposal validated before a view change): execute now.
                let missing = self.missing_tips(&header.tips)?;
                if !missing.is_empty() {
                    self.fetch(missing, now_ms, out);
                    return Ok(false);
                }
                let order = self.dag.past_cone_order(&header.tips)?;
                let exec = execute(&self.state, &self.dag, order, self.context(&header))?;
                if let Some(what) = mismatch(&header, &exec) {
                    return Err(Error::Divergence { number, what });
                }
                exec
            }
        };
        self.to_apply.pop_front();
        let confirmed = self.dag.confirm(number, &header.tips)?;
        if confirmed != exec.order {
            return Err(Error::Divergence { number, what: "vertex order" });
        }
        self.state = exec.state;
        self.confirmed_vertices += exec.order.len() as u64;
        self.params = params_of(&self.state)?;
        // Executions built on this milestone (pipelined) stay valid: their base was its exact
        // state. Every other one was for an alternative that can no longer commit.
        self.executed.retain(|_, (h, _)| h.parent == digest);
        let mut signers = HashSet::new();
        for hash in &exec.order {
            self.pending.remove(hash);
        }
        signers.extend(exec.outcome.receipts.iter().map(|r| r.signer));
        for signer in signers {
            let nonce = self.account(&signer)?.nonce;
            self.pending.prune_below(&signer, nonce);
        }
        if let Some(next) = &header.next_committee {
            self.committees.insert(next.epoch, next.clone());
        }
        let finalized =
            Finalized { header, certificate, order: exec.order, receipts: exec.outcome.receipts };
        out.push(Output::Finalized(Box::new(finalized.clone())));
        let roomy = (finalized.header.vertex_count as usize) < self.cfg.max_batch
            && finalized.header.tips.len() < self.cfg.max_tips;
        self.censorship.committed(&finalized.order, live, roomy, now_ms);
        self.retain(finalized);
        self.progress_ms = now_ms;
        Ok(true)
    }
}
