//! The event loop that owns the validator (see the parent module).
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use itc_chain::{Event as ChainEvent, Finalized, Output, Persisted, Submitted, Validator};
use itc_consensus::{PersistRecord, TimerId};
use itc_primitives::{
    decode_untrusted, AccountId, BoundedVec, FinalityCertificate, Hash, MilestoneHeader,
    MilestoneNumber, Pair, Transaction,
};
use itc_runtime::GenesisConfig;
use libp2p::PeerId;
use parity_scale_codec::Encode;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::adapters::{DbDag, DbState, DbWrite, NodeState};
use super::api::NodeApi;
use super::peers::{Answer, PeerBook, RequestBudget};
use super::wire::{
    ConsensusEnvelope, VertexBatch, MAX_VERTEX_GOSSIP_BYTES, MAX_VERTICES_PER_GOSSIP,
};
use super::{NodeValidator, ServiceConfig};
use crate::metrics::Metrics;
use crate::network::{
    self,
    protocol::{MAX_MILESTONES_PER_REQUEST, MAX_VERTICES_PER_REQUEST},
    Request, Response, Topic, Validation,
};
use crate::rpc::FinalizedMilestone;
use crate::storage::{ChainStore, Durability, MilestoneCommit, ReceiptRecord};
use crate::{Error, Result};

/// Most network events taken in one burst.
const MAX_BURST: usize = 512;
/// Most DAG writes (two per vertex) left in memory between ticks (see the adapters' docs).
const MAX_UNFLUSHED: usize = 4096;

/// How often the validator is woken up without an event.
const TICK: Duration = Duration::from_millis(20);
/// Submissions tracked for the latency histogram before stale ones are swept.
const SUBMITTED_MAX: usize = 100_000;
/// A tracked submission this old is taken as never finalising.
const SUBMITTED_MAX_AGE: Duration = Duration::from_secs(600);

/// A node whose finalised height has not moved for this long while its DAG holds unconfirmed
/// vertices (or for this long plus `idle_propose_ms`, the idle chain's heartbeat, while it holds
/// none) asks a peer's store for the certified milestones after its own: the peers' consensus
/// memory (`retain_certified`) may no longer reach back that far. On a live network such a stall
/// means the node is behind or the network is stuck (then the answers are empty).
const CATCH_UP_AFTER: Duration = Duration::from_secs(1);

/// How often a peer is asked for its unconfirmed tips (anti-entropy: vertices this node missed
/// while cut off are fetched, so the next proposal it makes, or validates, can include them).
/// Also asked: every new peer, and one peer whenever the blocked set changes.
const TIPS_EVERY: Duration = Duration::from_secs(2);

/// Certified milestones answered by a peer's store (`None`: the request failed).
type CertifiedAnswer = (PeerId, Option<Vec<(MilestoneHeader, FinalityCertificate)>>);

/// Vertices a peer answered a fetch with (`None`: the request failed or was refused).
type FetchAnswer = (PeerId, Option<Vec<Vec<u8>>>);

/// Progress watch for [`CATCH_UP_AFTER`].
struct CatchUp {
    height: u64,
    since: Instant,
    in_flight: bool,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn chain_err(e: itc_chain::Error) -> Error {
    Error::Chain(e.to_string())
}

/// What the RPC layer and the node handle ask of the driver.
pub(crate) enum Command {
    /// Admit a client's transaction.
    SubmitTransaction(Transaction, oneshot::Sender<itc_chain::Result<Hash>>),
    /// Admit a client's ready vertex (SCALE bytes).
    SubmitVertex(Vec<u8>, oneshot::Sender<itc_chain::Result<Hash>>),
    /// Partition: drop traffic from and to these peers.
    Block(Vec<PeerId>),
}

/// What a running node reports about itself (see [`super::Node::status`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeStatus {
    /// The latest finalised milestone.
    pub finalized: u64,
    /// The consensus view.
    pub view: u64,
}

/// State shared with the RPC layer's queries.
pub(crate) struct Shared {
    pub v: NodeValidator,
    pub peers: HashSet<PeerId>,
}

/// Builds a new chain in an empty database, or restores the one stored. Returns the validator
/// and, for a new chain, the genesis writes still to be made durable.
pub(crate) fn open_validator(
    cfg: &ServiceConfig,
    store: &ChainStore,
    genesis: &GenesisConfig,
    pair: Pair,
) -> Result<(NodeValidator, Option<Vec<DbWrite>>)> {
    let kv = store.kv().clone();
    let mut state =
        NodeState::open(DbState::new(kv.clone())).map_err(|e| Error::Chain(e.to_string()))?;
    if let Some(keep) = cfg.state_pruning {
        state = state.keep_versions(keep);
    }
    let ts = cfg.spec.genesis_timestamp_ms;
    let Some((height, _)) = store.finalized()? else {
        let mut v = Validator::new(cfg.chain.clone(), pair, genesis, ts, DbDag::new(kv), state)
            .map_err(chain_err)?;
        let writes = v.state_mut().store_mut().take_writes();
        return Ok((v, Some(writes)));
    };
    // Resume in the latest epoch, replaying only the window of milestones the validator keeps
    // (back to the log's latest stable checkpoint at most): restarts cost that window, not the
    // chain's length.
    let (raw, _) = store.consensus_log()?;
    let records = decode_log(&raw)?;
    let committees = store.committees()?;
    let (last, _) = stored_milestone(store, height)?;
    let epoch = last.next_committee.as_ref().map_or(last.epoch, |c| c.epoch);
    let epoch_base =
        committees.iter().find(|(_, _, c)| c.epoch == epoch).map_or(0, |(number, _, _)| *number);
    let keep = cfg.chain.retain_milestones.max(cfg.chain.consensus.retain_certified as u64);
    let resumed = itc_consensus::compact::resume_point(&records, height, epoch, epoch_base, keep);
    tracing::info!(height, resumed, epoch, "restoring the validator from its database");
    let mut milestones = Vec::with_capacity((height - resumed) as usize);
    for number in resumed + 1..=height {
        let (header, certificate) = stored_milestone(store, number)?;
        let mut order = Vec::new();
        let mut receipts = Vec::new();
        for stored in store.receipts(number)? {
            order.push(stored.vertex_hash);
            receipts.push(decode_untrusted(&stored.receipt).map_err(|e| Error::Corrupt {
                column: "receipts",
                key: format!("{number}"),
                reason: e.to_string(),
            })?);
        }
        milestones.push(Finalized { header, certificate, order, receipts });
    }
    let resumed = match resumed {
        0 => None,
        n => Some(stored_milestone(store, n)?.0),
    };
    let stored_genesis = store.milestone(0)?.map(|(h, _)| h.hash());
    let persisted =
        Persisted { store: DbDag::new(kv), state, resumed, milestones, committees, records };
    let mut v =
        Validator::restore(cfg.chain.clone(), pair, genesis, ts, persisted).map_err(chain_err)?;
    if stored_genesis != Some(v.genesis_hash()) {
        return Err(Error::Config(format!(
            "the database under {} holds another chain (genesis {:?}, the spec gives {}); use \
             another --base-path or the spec it was created with",
            cfg.base_path.display(),
            stored_genesis,
            v.genesis_hash()
        )));
    }
    // After a clean stop the consensus log is complete (the stop synced it), so the restart
    // fence, there for buffered prepares a crash may have lost, is not needed: a whole
    // committee restarted for an upgrade goes on in its view without a view change.
    if store.take_clean_stop()? {
        tracing::info!("the last stop was clean: resuming without the restart fence");
        v.lift_restart_fence();
    }
    Ok((v, None))
}

/// Finalised milestone `number`, which the store must hold.
fn stored_milestone(
    store: &ChainStore,
    number: MilestoneNumber,
) -> Result<(MilestoneHeader, FinalityCertificate)> {
    store.milestone(number)?.ok_or_else(|| {
        Error::BadMilestone(format!("milestone {number} is missing from the database"))
    })
}

/// Decodes the consensus persist log.
fn decode_log(raw: &[Vec<u8>]) -> Result<Vec<PersistRecord>> {
    raw.iter()
        .map(|bytes| decode_untrusted::<PersistRecord>(bytes))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Corrupt {
            column: "consensus",
            key: String::new(),
            reason: e.to_string(),
        })
}

/// What [`Driver::build`] returns: the driver and the handles the node keeps.
pub(crate) struct Handles {
    pub driver: Driver,
    pub api: NodeApi,
    pub control: mpsc::Sender<Command>,
    pub shared: Arc<Mutex<Shared>>,
    pub status: watch::Receiver<NodeStatus>,
    pub finalized: broadcast::Sender<FinalizedMilestone>,
}

/// The event loop.
pub(crate) struct Driver {
    shared: Arc<Mutex<Shared>>,
    me: AccountId,
    store: ChainStore,
    client: network::Client,
    events: mpsc::Receiver<network::Event>,
    metrics: Arc<Metrics>,
    stop: watch::Receiver<bool>,
    commands: mpsc::Receiver<Command>,
    /// The consensus timer: the machine keeps one, and a newly scheduled timeout supersedes the
    /// last (which it would ignore on expiry), so one deadline is kept rather than a task per
    /// timeout.
    timer: Option<(TimerId, tokio::time::Instant)>,
    fetched_tx: mpsc::UnboundedSender<FetchAnswer>,
    fetched: mpsc::UnboundedReceiver<FetchAnswer>,
    certified_tx: mpsc::UnboundedSender<CertifiedAnswer>,
    certified: mpsc::UnboundedReceiver<CertifiedAnswer>,
    catch_up: CatchUp,
    /// When a peer was last asked for its tips ([`TIPS_EVERY`]).
    tips_asked: Instant,
    finalized_tx: broadcast::Sender<FinalizedMilestone>,
    /// The consensus log's live entries are the sequence numbers `log_start..log_seq`.
    log_start: u64,
    log_seq: u64,
    nonce: u64,
    blocked: HashSet<PeerId>,
    /// When each transaction submitted here arrived, for the finality-latency histogram; see
    /// [`Driver::track_submitted`].
    submitted: HashMap<Hash, Instant>,
    /// Whom to ask for vertices and milestones.
    peer_book: PeerBook<PeerId>,
    /// How much each peer may ask of this node.
    request_budget: RequestBudget<PeerId>,
    last_view: u64,
    status: watch::Sender<NodeStatus>,
}

/// Default [`crate::service::ServiceConfig::inbound_requests_per_sec`].
pub(crate) const DEFAULT_REQUESTS_PER_SEC: u32 = 50;
/// Default [`crate::service::ServiceConfig::inbound_request_burst`].
pub(crate) const DEFAULT_REQUEST_BURST: u32 = 200;

impl Driver {
    /// Sets how many requests each peer may make of this node (see [`RequestBudget`]).
    pub(crate) fn with_request_budget(mut self, per_sec: u32, burst: u32) -> Self {
        self.request_budget = RequestBudget::new(per_sec, burst);
        self
    }

    /// The driver, the RPC port over it and the control channel.
    pub(crate) fn build(
        validator: NodeValidator,
        store: ChainStore,
        client: network::Client,
        events: mpsc::Receiver<network::Event>,
        metrics: Arc<Metrics>,
        stop: watch::Receiver<bool>,
        genesis_writes: Option<Vec<DbWrite>>,
    ) -> Result<Handles> {
        if let Some(writes) = genesis_writes {
            let header = validator.genesis_header().clone();
            let certificate = itc_primitives::FinalityCertificate {
                number: 0,
                view: 0,
                header_hash: header.hash(),
                signatures: Default::default(),
            };
            store.apply_milestone(&MilestoneCommit {
                header,
                certificate,
                receipts: Vec::new(),
                state_changes: Vec::new(),
                extra: writes,
            })?;
        }
        let (log_start, log_seq) = store.consensus_span()?;
        let me = validator.id();
        let committee_size =
            validator.committee(validator.last_header().epoch).map_or(1, |c| c.members.len());
        metrics.on_finalized(validator.finalized_number(), 0);
        let height = validator.finalized_number();
        let shared = Arc::new(Mutex::new(Shared { v: validator, peers: HashSet::new() }));
        let (command_tx, commands) = mpsc::channel(1024);
        let (fetched_tx, fetched) = mpsc::unbounded_channel();
        let (certified_tx, certified) = mpsc::unbounded_channel();
        let (finalized_tx, _) = broadcast::channel(256);
        let api = NodeApi {
            shared: shared.clone(),
            commands: command_tx.clone(),
            store: store.clone(),
            client: client.clone(),
            finalized: finalized_tx.clone(),
            committee_size,
        };
        let driver = Driver {
            shared,
            me,
            store,
            client,
            events,
            metrics,
            stop,
            commands,
            timer: None,
            fetched_tx,
            fetched,
            certified_tx,
            certified,
            catch_up: CatchUp { height, since: Instant::now(), in_flight: false },
            tips_asked: Instant::now(),
            finalized_tx,
            log_start,
            log_seq,
            nonce: now_ms(),
            blocked: HashSet::new(),
            submitted: HashMap::new(),
            peer_book: PeerBook::default(),
            request_budget: RequestBudget::new(DEFAULT_REQUESTS_PER_SEC, DEFAULT_REQUEST_BURST),
            last_view: 0,
            status: watch::channel(NodeStatus::default()).0,
        };
        Ok(Handles {
            shared: driver.shared.clone(),
            status: driver.status.subscribe(),
            finalized: driver.finalized_tx.clone(),
            driver,
            api,
            control: command_tx,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panic while holding the lock cannot leave the validator half-updated in a way that
        // matters more than the panic itself; keep serving.
        self.shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the validator, timed for `itc_node::timing`.
    fn call<R>(&mut self, f: impl FnOnce(&mut NodeValidator, u64) -> R) -> R {
        let started = Instant::now();
        let mut shared = self.lock();
        let result = f(&mut shared.v, now_ms());
        tracing::trace!(target: "itc_node::timing", us = started.elapsed().as_micros() as u64, "call");
        result
    }

    /// Writes the vertices the DAG buffered while handling an event, in one write without
    /// fsync (see the adapters' module docs).
    fn flush_dag(&mut self) -> Result<()> {
        let writes = self.lock().v.dag_store_mut().take_writes();
        if writes.is_empty() {
            return Ok(());
        }
        self.store.kv().commit(crate::storage::Batch::of(writes), Durability::Relaxed)
    }

    /// Publishes height and view once an event's outputs are carried out (so a reported height
    /// is durable).
    fn publish_status(&mut self) {
        let status = {
            let shared = self.lock();
            NodeStatus { finalized: shared.v.finalized_number(), view: shared.v.consensus().view() }
        };
        if status.view > self.last_view {
            tracing::info!(from = self.last_view, to = status.view, "view changed");
            self.last_view = status.view;
            self.metrics.on_view_change();
        }
        self.status.send_if_modified(|s| std::mem::replace(s, status) != status);
    }

    /// Runs until stopped or a fatal error.
    pub(crate) async fn run(mut self) -> Result<()> {
        let outputs = self.call(|v, now| v.start(now)).map_err(chain_err)?;
        self.carry_out(outputs)?;
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let mut ticked = false;
            let outputs = tokio::select! {
                _ = self.stop.changed() => break,
                Some(event) = self.events.recv() => self.on_network_burst(event),
                id = expiry(self.timer) => {
                    self.timer = None;
                    self.call(|v, now| v.handle(ChainEvent::Timeout(id), now))
                }
                Some(command) = self.commands.recv() => self.on_commands(command),
                Some(answer) = self.fetched.recv() => self.on_fetched(answer),
                Some(answer) = self.certified.recv() => self.on_certified(answer),
                _ = tick.tick() => {
                    ticked = true;
                    self.maybe_catch_up();
                    if self.tips_asked.elapsed() >= TIPS_EVERY {
                        self.ask_tips(None);
                    }
                    self.call(|v, now| v.handle(ChainEvent::Tick, now))
                }
            };
            match outputs {
                Ok(outputs) => {
                    self.carry_out(outputs)?;
                    // Buffered vertices mostly leave with the next consensus or finalised write;
                    // the rest every tick, or sooner once many wait.
                    if ticked || self.lock().v.dag().store().pending() >= MAX_UNFLUSHED {
                        self.flush_dag()?;
                    }
                    self.publish_status();
                }
                Err(e) => {
                    tracing::error!("stopping: {e}");
                    return Err(chain_err(e));
                }
            }
        }
        self.flush_dag()?;
        self.store.mark_clean_stop()?;
        tracing::info!("node stopped");
        Ok(())
    }

    /// Takes `first` and whatever other commands are queued (up to a bound): the transactions
    /// among them are admitted with one batched signature verification, and the vertices the
    /// burst attaches leave in one gossip message.
    fn on_commands(&mut self, first: Command) -> itc_chain::Result<Vec<Output>> {
        let commands = burst(first, &mut self.commands);
        let mut outputs = Vec::new();
        let mut txs = Vec::new();
        for command in commands {
            match command {
                Command::SubmitTransaction(tx, reply) => txs.push((tx, reply)),
                other => {
                    outputs.extend(self.submit_transactions(std::mem::take(&mut txs)));
                    outputs.extend(self.on_command(other)?);
                }
            }
        }
        outputs.extend(self.submit_transactions(txs));
        Ok(outputs)
    }

    /// Admits clients' transactions in one batch and answers each.
    fn submit_transactions(
        &mut self,
        txs: Vec<(Transaction, oneshot::Sender<itc_chain::Result<Hash>>)>,
    ) -> Vec<Output> {
        if txs.is_empty() {
            return Vec::new();
        }
        let (txs, replies): (Vec<Transaction>, Vec<_>) = txs.into_iter().unzip();
        let results = self.call(|v, now| v.submit_transactions(txs, now));
        let mut outputs = Vec::new();
        for (result, reply) in results.into_iter().zip(replies) {
            match result {
                Ok(Submitted { tx_hash, outputs: out, .. }) => {
                    self.track_submitted(tx_hash);
                    outputs.extend(out);
                    let _ = reply.send(Ok(tx_hash));
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            }
        }
        outputs
    }

    /// Remembers when `tx_hash` was submitted. An entry leaves when its transaction finalises;
    /// one that never does (a parked transaction dropped, a vertex never confirmed) is forgotten
    /// once the map is full and it is older than [`SUBMITTED_MAX_AGE`] (or, if that frees too
    /// little, the map starts over).
    fn track_submitted(&mut self, tx_hash: Hash) {
        if self.submitted.len() >= SUBMITTED_MAX {
            self.submitted.retain(|_, at| at.elapsed() < SUBMITTED_MAX_AGE);
            if self.submitted.len() >= SUBMITTED_MAX / 2 {
                // All recent: a backlog this deep costs latency samples, not an O(n) sweep
                // per submission.
                self.submitted.clear();
            }
        }
        self.submitted.insert(tx_hash, Instant::now());
    }

    fn on_command(&mut self, command: Command) -> itc_chain::Result<Vec<Output>> {
        let (result, reply) = match command {
            Command::SubmitTransaction(tx, reply) => {
                return Ok(self.submit_transactions(vec![(tx, reply)]));
            }
            Command::SubmitVertex(bytes, reply) => {
                let result = self.call(|v, now| v.submit_vertex(&bytes, now));
                if let Ok(s) = &result {
                    self.track_submitted(s.tx_hash);
                }
                (result, reply)
            }
            Command::Block(peers) => {
                self.blocked = peers.into_iter().collect();
                // A healed link may hide vertices gossiped while it was cut.
                self.ask_tips(None);
                return Ok(Vec::new());
            }
        };
        match result {
            Ok(Submitted { tx_hash, outputs, .. }) => {
                let _ = reply.send(Ok(tx_hash));
                Ok(outputs)
            }
            Err(e) => {
                let _ = reply.send(Err(e));
                Ok(Vec::new())
            }
        }
    }

    /// Admits the vertices a peer answered a fetch with, and notes what the answer was worth:
    /// nothing (failed, refused, empty) makes the peer wait its turn longer; a vertex no honest
    /// node sends also bans it (the network's `ban_duration`); something new clears its record;
    /// vertices that arrived meanwhile by gossip count for neither.
    fn on_fetched(&mut self, (peer, answer): FetchAnswer) -> itc_chain::Result<Vec<Output>> {
        let Some(batch) = answer.filter(|b| !b.is_empty()) else {
            self.metrics.on_vertex_fetch_unanswered();
            self.peer_book.record(peer, Answer::Useless, now_ms());
            return Ok(Vec::new());
        };
        let (results, outputs) = self.call(|v, now| v.receive_vertices(&batch, now))?;
        let mut invalid = None;
        for e in results.iter().filter_map(|r| r.as_ref().err()) {
            if e.is_invalid_by_itself() && invalid.is_none() {
                invalid = Some(e.to_string());
            }
            tracing::debug!(%peer, "fetched vertex refused: {e}");
        }
        if let Some(reason) = invalid {
            // An honest node stores (and so serves) only vertices it checked: this peer forged
            // or corrupted the answer. Ask others, and cut it off for a while.
            self.peer_book.record(peer, Answer::Useless, now_ms());
            self.client
                .ban(peer, format!("answered a vertex request with an invalid vertex: {reason}"));
        } else if results.iter().any(|r| r.is_ok()) {
            self.peer_book.record(peer, Answer::Useful, now_ms());
        }
        Ok(outputs)
    }

    /// Takes `first` and whatever else the network has queued (up to a bound): gossiped
    /// vertices are admitted as one batch (one batched signature verification), then the other
    /// events in order.
    fn on_network_burst(&mut self, first: network::Event) -> itc_chain::Result<Vec<Output>> {
        let events = burst(first, &mut self.events);
        // Gossip messages of vertices, each with the range of `batch` its vertices occupy.
        let mut messages = Vec::new();
        let mut batch: Vec<Vec<u8>> = Vec::new();
        let mut others = Vec::new();
        for event in events {
            match event {
                network::Event::Gossip {
                    topic: Topic::Vertices, source, message_id, data, ..
                } if !self.blocked.contains(&source) => {
                    match decode_untrusted::<VertexBatch>(&data) {
                        Ok(VertexBatch(list)) if list.len() <= MAX_VERTICES_PER_GOSSIP => {
                            let start = batch.len();
                            batch.extend(list);
                            messages.push((message_id, source, start..batch.len()));
                        }
                        Ok(VertexBatch(list)) => {
                            tracing::debug!(%source, "gossip of {} vertices, over the bound", list.len());
                            self.report(message_id, source, Validation::Reject);
                        }
                        Err(e) => {
                            tracing::debug!(%source, "undecodable vertex gossip: {e}");
                            self.report(message_id, source, Validation::Reject);
                        }
                    }
                }
                other => others.push(other),
            }
        }
        let mut outputs = Vec::new();
        if !batch.is_empty() {
            let (results, out) = self.call(|v, now| v.receive_vertices(&batch, now))?;
            for (id, source, range) in messages {
                let results = results.get(range).unwrap_or_default();
                // A message is forwarded when it brought something new and valid; one whose
                // vertices this node already had is not harmful, only late. One holding a vertex
                // no honest node accepts is rejected, which lowers the relaying peer's gossip
                // score (see `network::behaviour`).
                let verdict = if results
                    .iter()
                    .any(|r| r.as_ref().is_err_and(itc_chain::Error::is_invalid_by_itself))
                {
                    tracing::debug!(%source, "gossip with an invalid vertex");
                    Validation::Reject
                } else if results.iter().any(|r| r.is_ok()) {
                    Validation::Accept
                } else {
                    Validation::Ignore
                };
                self.report(id, source, verdict);
            }
            for e in results.iter().filter_map(|r| r.as_ref().err()) {
                tracing::trace!("vertex refused: {e}");
            }
            outputs.extend(out);
        } else {
            for (id, source, _) in messages {
                self.report(id, source, Validation::Ignore);
            }
        }
        for event in others {
            outputs.extend(self.on_network(event)?);
        }
        Ok(outputs)
    }

    fn on_network(&mut self, event: network::Event) -> itc_chain::Result<Vec<Output>> {
        match event {
            network::Event::Gossip { topic, source, message_id, data, covered } => {
                if self.blocked.contains(&source) {
                    self.report(message_id, source, Validation::Ignore);
                    return Ok(Vec::new());
                }
                match topic {
                    // Vertex gossip from a reachable peer is taken by `on_network_burst`.
                    Topic::Vertices => {
                        self.report(message_id, source, Validation::Ignore);
                        Ok(Vec::new())
                    }
                    Topic::Consensus => {
                        // An envelope or message that does not decode, or whose signature is not
                        // its sender's, is garbage whoever it is for: rejected, so it is not
                        // relayed and costs the relaying peer its score (an honest node relays
                        // only what it checked, so a forgery convicts whoever passed it on).
                        let decoded =
                            decode_untrusted::<ConsensusEnvelope>(&data).map_err(|e| e.to_string());
                        let decoded = decoded.and_then(|envelope| {
                            itc_consensus::SignedMessage::from_bytes(&envelope.message)
                                .map(|m| (envelope.to, m))
                                .map_err(|e| e.to_string())
                        });
                        let (to, message) = match decoded {
                            Ok(decoded) => decoded,
                            Err(e) => {
                                tracing::debug!(%source, "undecodable consensus gossip: {e}");
                                self.report(message_id, source, Validation::Reject);
                                return Ok(Vec::new());
                            }
                        };
                        // Not relayed (a stranger's, or every peer has it) and not for this node:
                        // no signature to check.
                        let elsewhere = to.is_some_and(|to| to != self.me);
                        if !self.may_relay(&message) || (covered && elsewhere) {
                            self.report(message_id, source, Validation::Ignore);
                            return Ok(Vec::new());
                        }
                        // A late vote (agreeing with a quorum this node already holds) that
                        // every peer had from its sender adds nothing here and needs no relay:
                        // dropped without checking its signature (`Pbft::wants`).
                        if covered && !elsewhere && !self.lock().v.consensus().wants(&message) {
                            self.metrics.on_late_vote_dropped();
                            self.report(message_id, source, Validation::Ignore);
                            return Ok(Vec::new());
                        }
                        let (from, kind) = (message.sender, message.body.kind());
                        let message = match message.verified() {
                            Ok(checked) => checked,
                            Err(forged) => {
                                tracing::debug!(%source, kind, sender = %forged.sender, "consensus gossip with a forged signature");
                                self.report(message_id, source, Validation::Reject);
                                return Ok(Vec::new());
                            }
                        };
                        self.report(message_id, source, Validation::Accept);
                        if elsewhere {
                            return Ok(Vec::new());
                        }
                        tracing::trace!(target: "itc_node::timing", kind, seq = traced_seq(&message.message().body), "recv");
                        self.call(|v, now| {
                            v.handle(ChainEvent::Verified { from, msg: Box::new(message) }, now)
                        })
                    }
                }
            }
            network::Event::InboundRequest { peer, request, channel } => {
                let response = if self.blocked.contains(&peer) {
                    Response::Refused("partitioned".into())
                } else if !self.request_budget.take(peer, now_ms()) {
                    tracing::debug!(%peer, "request refused: over its budget");
                    Response::Refused(
                        "too many requests: this node answers each peer a limited number per \
                         second; slow down"
                            .into(),
                    )
                } else {
                    self.answer(request)
                };
                let client = self.client.clone();
                tokio::spawn(async move {
                    if let Err(e) = client.respond(channel, response).await {
                        tracing::debug!(%peer, "cannot answer: {e}");
                    }
                });
                Ok(Vec::new())
            }
            network::Event::PeerConnected(peer) => {
                let n = {
                    let mut s = self.lock();
                    s.peers.insert(peer);
                    s.peers.len()
                };
                self.metrics.set_peers(n);
                tracing::info!(%peer, peers = n, "peer connected");
                self.ask_tips(Some(peer));
                Ok(Vec::new())
            }
            network::Event::PeerDisconnected(peer) => {
                let n = {
                    let mut s = self.lock();
                    s.peers.remove(&peer);
                    s.peers.len()
                };
                self.peer_book.forget(&peer);
                self.request_budget.forget(&peer);
                self.metrics.set_peers(n);
                tracing::info!(%peer, peers = n, "peer disconnected");
                Ok(Vec::new())
            }
            network::Event::PeerSubscribed { .. } => Ok(Vec::new()),
        }
    }

    /// Whether a consensus message may be worth relaying before its signature is checked: a
    /// sender outside this epoch's committee speaks for nobody (its votes count nowhere), unless
    /// the message is from a later epoch (this node may lag) or is a state-transfer message
    /// (which any node may send). Others are ignored: not relayed, and not held against the
    /// relaying peer, which may know a committee this node does not.
    fn may_relay(&self, message: &itc_consensus::SignedMessage) -> bool {
        use itc_consensus::Body;
        if matches!(message.body, Body::StateRequest { .. } | Body::StateResponse { .. }) {
            return true;
        }
        let s = self.lock();
        let replica = s.v.consensus();
        message.epoch > replica.epoch() || replica.committee().index_of(&message.sender).is_some()
    }

    fn answer(&self, request: Request) -> Response {
        match request {
            Request::Vertices(hashes) => {
                let s = self.lock();
                let found: Vec<_> =
                    hashes.iter().filter_map(|h| s.v.vertex(h).ok().flatten()).collect();
                match BoundedVec::new(found) {
                    Ok(list) => Response::Vertices(list),
                    Err(_) => Response::Refused("too many vertices".into()),
                }
            }
            Request::Milestones { from, count } => {
                let count = (count as usize).min(network::protocol::MAX_MILESTONES_PER_REQUEST);
                let mut list = Vec::new();
                for n in from..from.saturating_add(count as u64) {
                    match self.store.milestone(n) {
                        Ok(Some(m)) => list.push(m),
                        _ => break,
                    }
                }
                match BoundedVec::new(list) {
                    Ok(list) => Response::Milestones(list),
                    Err(_) => Response::Refused("too many milestones".into()),
                }
            }
            Request::Chunk(_) => Response::Refused("this node stores no data chunks".into()),
            Request::Tips => {
                let mut tips = self.lock().v.unconfirmed_tips();
                tips.truncate(MAX_VERTICES_PER_REQUEST);
                Response::Tips(BoundedVec::new(tips).unwrap_or_default())
            }
        }
    }

    // The network loop may itself wait for this loop to take its events, so this loop never
    // awaits the network: commands are queued without waiting for their outcome.
    fn report(&self, id: libp2p::gossipsub::MessageId, source: PeerId, verdict: Validation) {
        self.client.report_validation_detached(id, source, verdict);
    }

    fn publish(&self, topic: Topic, data: Vec<u8>) {
        // No peers yet (or a lone dev validator) fails the publish: the protocol resends what
        // matters.
        self.client.publish_detached(topic, data);
    }

    fn send_consensus(&mut self, to: Option<AccountId>, msg: itc_consensus::SignedMessage) {
        if to == Some(self.me) {
            return;
        }
        self.nonce += 1;
        tracing::trace!(target: "itc_node::timing", kind = msg.body.kind(), seq = traced_seq(&msg.body), "send");
        let envelope = ConsensusEnvelope { to, nonce: self.nonce, message: msg.to_bytes() };
        self.publish(Topic::Consensus, envelope.encode());
    }

    /// The next reachable peer to ask, in rotation, passing over those whose recent answers
    /// were useless (see [`PeerBook`]).
    fn next_peer(&mut self) -> Option<PeerId> {
        let peers: Vec<PeerId> = {
            let s = self.lock();
            s.peers.iter().filter(|p| !self.blocked.contains(*p)).copied().collect()
        };
        self.peer_book.pick(&peers, now_ms())
    }

    /// Asks a peer's store for certified milestones when finality has not moved for
    /// [`CATCH_UP_AFTER`].
    fn maybe_catch_up(&mut self) {
        let height = shared_height(&self.shared);
        let now = Instant::now();
        if height != self.catch_up.height {
            self.catch_up.height = height;
            self.catch_up.since = now;
        } else if !self.catch_up.in_flight
            && now.duration_since(self.catch_up.since) >= self.stall_limit()
        {
            self.catch_up.since = now;
            self.request_certified();
        }
    }

    /// How long finality may stand still before this node suspects it is behind (see
    /// [`CATCH_UP_AFTER`]).
    fn stall_limit(&self) -> Duration {
        let shared = self.lock();
        if shared.v.dag().has_unconfirmed() {
            CATCH_UP_AFTER
        } else {
            CATCH_UP_AFTER + Duration::from_millis(shared.v.config().idle_propose_ms)
        }
    }

    /// Requests the certified milestones after the last one the replica committed (which may
    /// be ahead of the applied height while vertices are fetched).
    fn request_certified(&mut self) {
        let Some(peer) = self.next_peer() else { return };
        let from = self.lock().v.consensus().last_committed().0 + 1;
        self.catch_up.in_flight = true;
        self.metrics.on_catch_up_request();
        let count = MAX_MILESTONES_PER_REQUEST as u32;
        ask(
            &self.client,
            peer,
            Request::Milestones { from, count },
            &self.certified_tx,
            |r| match r {
                Response::Milestones(list) => Ok(list.into_inner()),
                other => Err(other),
            },
        );
    }

    /// Hands a peer's certified milestones to the validator; a full answer means there may be
    /// more, so the next request leaves at once. A failed or empty answer makes the peer wait
    /// its turn longer (see [`PeerBook`]), one with a certificate that does not verify also bans
    /// it; one that moved the replica on clears its record.
    fn on_certified(&mut self, (peer, answer): CertifiedAnswer) -> itc_chain::Result<Vec<Output>> {
        self.catch_up.in_flight = false;
        let Some(list) = answer.filter(|l| !l.is_empty()) else {
            self.peer_book.record(peer, Answer::Useless, now_ms());
            return Ok(Vec::new());
        };
        let full = list.len() == MAX_MILESTONES_PER_REQUEST;
        let (before, rejected) = {
            let shared = self.lock();
            (shared.v.consensus().last_committed().0, shared.v.consensus().stats().rejected)
        };
        let outputs = self.call(|v, now| v.receive_certified(list, now))?;
        let (after, rejected_now) = {
            let shared = self.lock();
            (shared.v.consensus().last_committed().0, shared.v.consensus().stats().rejected)
        };
        if rejected_now > rejected {
            // The replica checks a certificate only for a milestone that extends its chain in
            // the same epoch, so the committee is the one that signed: the answer was forged.
            self.peer_book.record(peer, Answer::Useless, now_ms());
            self.client
                .ban(peer, "answered a milestone request with an invalid finality certificate");
        }
        if after > before {
            self.peer_book.record(peer, Answer::Useful, now_ms());
            tracing::info!(from = before + 1, to = after, "caught up from a peer's store");
            if full {
                self.request_certified();
            }
        }
        Ok(outputs)
    }

    fn fetch(&mut self, hashes: Vec<Hash>) {
        let Some(peer) = self.next_peer() else { return };
        for chunk in hashes.chunks(MAX_VERTICES_PER_REQUEST) {
            let Ok(list) = BoundedVec::new(chunk.to_vec()) else { continue };
            self.metrics.on_vertex_fetch(chunk.len());
            ask(&self.client, peer, Request::Vertices(list), &self.fetched_tx, vertices_of);
        }
    }

    /// Asks `peer` (or the next one in rotation) for its unconfirmed tips, then fetches those
    /// this node does not know from it; the answer arrives as a fetch answer (orphans then pull
    /// in their ancestors, and a forged vertex bans the peer, as for any fetch).
    fn ask_tips(&mut self, peer: Option<PeerId>) {
        self.tips_asked = Instant::now();
        let Some(peer) = peer.or_else(|| self.next_peer()) else { return };
        let (client, shared, fetched, metrics) = (
            self.client.clone(),
            self.shared.clone(),
            self.fetched_tx.clone(),
            self.metrics.clone(),
        );
        tokio::spawn(async move {
            let tips = match client.request(peer, Request::Tips).await {
                Ok(Response::Tips(tips)) => tips,
                Ok(other) => return tracing::debug!(%peer, "tips request answered {other:?}"),
                Err(e) => return tracing::debug!(%peer, "tips request failed: {e}"),
            };
            let unknown: Vec<Hash> = {
                let s = shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                tips.into_inner()
                    .into_iter()
                    .filter(|h| !s.v.knows_vertex(h).unwrap_or(true))
                    .collect()
            };
            if let Ok(list) = BoundedVec::new(unknown) {
                if !list.is_empty() {
                    tracing::debug!(%peer, count = list.len(), "fetching tips this node missed");
                    metrics.on_vertex_fetch(list.len());
                    ask(&client, peer, Request::Vertices(list), &fetched, vertices_of);
                }
            }
        });
    }

    /// Carries out outputs in order: network, timers, then the durable writes (finalised
    /// milestones, then consensus records), whose acknowledgements may produce more outputs.
    fn carry_out(&mut self, outputs: Vec<Output>) -> Result<()> {
        let mut queue: VecDeque<Output> = outputs.into();
        let mut gossip = Vec::new();
        while !queue.is_empty() {
            let mut persists = Vec::new();
            let mut stable = false;
            let mut must_sync = false;
            let mut finalized = Vec::new();
            while let Some(output) = queue.pop_front() {
                match output {
                    Output::Send(to, msg) => self.send_consensus(Some(to), msg),
                    Output::Broadcast(msg) => self.send_consensus(None, msg),
                    Output::Persist(id, record) => {
                        stable |= matches!(record, PersistRecord::Stable { .. });
                        must_sync |= match &record {
                            // They release nothing that leaves this node: the milestone is
                            // reported only after its finalised write, whose fsync makes them
                            // durable too (RocksDB writes its WAL in order).
                            PersistRecord::Committed { .. } | PersistRecord::Stable { .. } => false,
                            // A backup's prepare is buffered: the consensus machine's restart
                            // fence covers its loss. A prepare for `n` comes only after the
                            // finalised write of `n - 2` (it is validated on `n - 1`'s state,
                            // applied or executed on the applied `n - 2`), which is what the
                            // fence assumes of a synced `Committed` record.
                            record => record.durability() == itc_consensus::Durability::Synced,
                        };
                        persists.push((id, record.encode()))
                    }
                    Output::ScheduleTimeout { id, after_ms } => {
                        let at = tokio::time::Instant::now() + Duration::from_millis(after_ms);
                        self.timer = Some((id, at));
                    }
                    Output::Gossip(vertex) => gossip.push(vertex.encode()),
                    Output::FetchVertices(hashes) => self.fetch(hashes),
                    Output::Finalized(f) => finalized.push(*f),
                    Output::Evidence(e) => tracing::warn!("equivocation evidence: {e:?}"),
                    Output::EpochChanged { epoch, base } => {
                        tracing::info!(epoch, base, "committee changed")
                    }
                    Output::SuspectedCensorship { view, vertex } => {
                        self.metrics.on_censorship_suspected();
                        tracing::warn!(
                            view,
                            %vertex,
                            "the primary keeps leaving out a vertex it could confirm: moving to \
                             the next view"
                        )
                    }
                }
            }
            let records: Vec<Vec<u8>> = persists.iter().map(|(_, r)| r.clone()).collect();
            if !finalized.is_empty() {
                // The records go in the finalised write's fsynced batch.
                let started = Instant::now();
                self.write_finalized(finalized, &records)?;
                tracing::trace!(target: "itc_node::timing", us = started.elapsed().as_micros() as u64, records = records.len(), "write finalized");
            } else if !persists.is_empty() {
                let started = Instant::now();
                // Only buffered records (see above): one fsync fewer each. RocksDB still writes
                // them to its WAL before returning, so a killed process keeps them; a power cut
                // may not, which the fence allows for.
                let durability = if must_sync { Durability::Sync } else { Durability::Relaxed };
                // The vertices these records may name (a proposal's, or those just validated)
                // go in the same write, so the records' fsync makes them durable too. Otherwise
                // a crash in between leaves a logged proposal whose vertices are gone, which a
                // lone validator can never fetch back (the kill -9 test found it).
                let vertices = self.lock().v.dag_store_mut().take_writes();
                self.log_seq =
                    self.store.append_consensus(self.log_seq, &records, vertices, durability)?;
                tracing::trace!(target: "itc_node::timing", us = started.elapsed().as_micros() as u64, "persist");
            }
            if !persists.is_empty() {
                if stable {
                    self.compact_log()?;
                }
                for (id, _) in persists {
                    let more = self
                        .call(|v, now| v.handle(ChainEvent::Persisted(id), now))
                        .map_err(chain_err)?;
                    queue.extend(more);
                }
            }
        }
        self.gossip_vertices(gossip);
        Ok(())
    }

    /// Publishes vertices in as few gossip messages as the bounds allow.
    fn gossip_vertices(&self, vertices: Vec<Vec<u8>>) {
        let budget = MAX_VERTEX_GOSSIP_BYTES;
        let mut batch = Vec::new();
        let mut bytes = 0;
        for vertex in vertices {
            // A compact length prefix takes at most 5 bytes for these sizes.
            let size = vertex.len() + 5;
            if !batch.is_empty()
                && (batch.len() == MAX_VERTICES_PER_GOSSIP || bytes + size > budget)
            {
                self.publish(Topic::Vertices, VertexBatch(std::mem::take(&mut batch)).encode());
                bytes = 0;
            }
            bytes += size;
            batch.push(vertex);
        }
        if !batch.is_empty() {
            self.publish(Topic::Vertices, VertexBatch(batch).encode());
        }
    }

    /// Drops the persist records that a stable checkpoint made obsolete (the rules are
    /// `itc_consensus::compact`'s), so the log and restart times stay bounded.
    fn compact_log(&mut self) -> Result<()> {
        let (raw, _) = self.store.consensus_log_from(self.log_start)?;
        let before = raw.len();
        let committed = self.store.finalized()?.map_or(0, |(number, _)| number);
        let epoch = self.lock().v.consensus().epoch();
        let keep: Vec<Vec<u8>> =
            itc_consensus::compact::compact(decode_log(&raw)?, committed, epoch)
                .iter()
                .map(Encode::encode)
                .collect();
        let next = self.store.rewrite_consensus(self.log_start, self.log_seq, &keep)?;
        (self.log_start, self.log_seq) = (self.log_seq, next);
        tracing::debug!(before, after = keep.len(), "persist log compacted");
        Ok(())
    }

    /// Makes finalised milestones durable with the state they produced, then tells subscribers.
    /// `records` (consensus persists of the same event) are appended in the same batch.
    fn write_finalized(&mut self, finalized: Vec<Finalized>, records: &[Vec<u8>]) -> Result<()> {
        let mut commits = Vec::with_capacity(finalized.len());
        for f in &finalized {
            let receipts = f
                .receipts
                .iter()
                .zip(&f.order)
                .map(|(r, vertex)| ReceiptRecord {
                    tx_hash: r.tx_hash,
                    vertex_hash: *vertex,
                    receipt: r.encode(),
                })
                .collect();
            commits.push(MilestoneCommit {
                header: f.header.clone(),
                certificate: f.certificate.clone(),
                receipts,
                state_changes: Vec::new(),
                extra: Vec::new(),
            });
        }
        self.log_seq = {
            // The state these milestones produced leaves the validator's overlay and reaches the
            // database under the lock, so that no query sees it in neither place. The overlay
            // returns only writes not taken before (see the adapters), which are those of these
            // milestones: every call's outputs are carried out before the next call.
            let mut shared = self.lock();
            if let Some(last) = commits.last_mut() {
                // The confirmations of these milestones (and any vertex still buffered) go in
                // the same fsynced batch.
                last.extra = shared.v.dag_store_mut().take_writes();
                last.extra.extend(shared.v.state_mut().store_mut().take_writes());
            }
            let writes = commits.last().map_or(0, |c| c.extra.len());
            tracing::trace!(target: "itc_node::timing", writes, "state writes");
            self.store.apply_milestones_logged(&commits, self.log_seq, records)?.1
        };
        for f in finalized {
            let txs = f.receipts.len() as u64;
            for r in &f.receipts {
                if let Some(at) = self.submitted.remove(&r.tx_hash) {
                    self.metrics.observe_finality_latency(at.elapsed());
                }
            }
            self.metrics.on_finalized(f.header.number, txs);
            tracing::debug!(number = f.header.number, txs, "finalised");
            let transactions = f.receipts.iter().map(|r| r.tx_hash).collect();
            let _ = self.finalized_tx.send(FinalizedMilestone {
                header: f.header,
                certificate: f.certificate,
                transactions,
            });
        }
        Ok(())
    }
}

/// Sends `request` to `peer` in the background, then hands `(peer, answer)` to `answers`:
/// what `take` accepts of the response, or `None` if the request failed or was answered with
/// something else (a refusal, another kind).
fn ask<T: Send + 'static>(
    client: &network::Client,
    peer: PeerId,
    request: Request,
    answers: &mpsc::UnboundedSender<(PeerId, Option<T>)>,
    take: fn(Response) -> std::result::Result<T, Response>,
) {
    let (client, answers) = (client.clone(), answers.clone());
    tokio::spawn(async move {
        let answer = match client.request(peer, request).await.map(take) {
            Ok(Ok(answer)) => Some(answer),
            Ok(Err(other)) => {
                tracing::debug!(%peer, "request answered {other:?}");
                None
            }
            Err(e) => {
                tracing::debug!(%peer, "request failed: {e}");
                None
            }
        };
        let _ = answers.send((peer, answer));
    });
}

/// The vertices of a fetch answer, encoded for [`itc_chain::Validator::receive_vertices`].
fn vertices_of(response: Response) -> std::result::Result<Vec<Vec<u8>>, Response> {
    match response {
        Response::Vertices(vs) => Ok(vs.iter().map(Encode::encode).collect()),
        other => Err(other),
    }
}

/// Waits for the timer's deadline and yields its id; pending forever without a timer.
async fn expiry(timer: Option<(TimerId, tokio::time::Instant)>) -> TimerId {
    match timer {
        Some((id, at)) => {
            tokio::time::sleep_until(at).await;
            id
        }
        None => std::future::pending().await,
    }
}

/// `first` and whatever else `queue` holds already, up to [`MAX_BURST`] in all.
fn burst<T>(first: T, queue: &mut mpsc::Receiver<T>) -> Vec<T> {
    let mut items = vec![first];
    while items.len() < MAX_BURST {
        match queue.try_recv() {
            Ok(item) => items.push(item),
            Err(_) => break,
        }
    }
    items
}

fn shared_height(shared: &Mutex<Shared>) -> u64 {
    shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).v.finalized_number()
}

/// The sequence number a normal-case consensus message is about (0 for the others), for the
/// `itc_node::timing` trace.
fn traced_seq(body: &itc_consensus::message::Body) -> u64 {
    use itc_consensus::message::Body;
    match body {
        Body::PrePrepare(pp) => pp.seq,
        Body::Prepare(v) | Body::Commit(v) => v.seq,
        _ => 0,
    }
}
