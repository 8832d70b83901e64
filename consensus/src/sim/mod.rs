//! A deterministic discrete-event simulator that drives N replicas through faults.
//!
//! One `u64` seed decides everything (a [`rand_chacha::ChaCha8Rng`]): the committee size, which
//! replicas are byzantine and how ([`byzantine::Behaviour`]), the fault schedule and every
//! latency. During the fault period the network has latency with jitter (so it reorders), drops
//! and duplicates messages, partitions the replicas into two groups that later heal, and crashes
//! replicas that restart from the records they persisted (a record is durable only once its
//! persistence event fired; a crash loses the rest, and also every
//! [`Durability::Buffered`](crate::Durability) record written after the last synced one).
//! Byzantine replicas misbehave throughout. As the node's caller does, a replica that fell
//! further behind than the peers' in-memory history is fed certified milestones from the
//! committed chain when its timer fires ([`Input::Certified`]).
//!
//! After every event the checker verifies, on every honest replica's commits:
//! - **agreement**: no two different headers commit at one number;
//! - **validity**: each committed header passes the validator, extends the replica's previous
//!   commit, and was proposed by a member of its epoch;
//! - **certificates**: each finality certificate verifies against the epoch's committee.
//!
//! **Liveness**: when the fault period ends (partitions heal, crashed replicas restart, no more
//! drops), every honest replica must commit two milestones beyond the highest number committed
//! at that moment within [`SimConfig::liveness_bound_ms`] of simulated time (60 s by default),
//! with the byzantine replicas still active.
//!
//! **Guard**: no seed runs unbounded. A run that processes more than [`SimConfig::max_events`]
//! events or holds more than [`SimConfig::max_queued`] in its queue (a message storm, a timer
//! loop) is stopped and reported as a liveness failure that names the caps and the kinds of
//! message filling the queue.
//!
//! The run's trace hash chains every processed event, so the same seed gives the same hash; a
//! failing run reports [`Outcome::replay_command`].
use std::collections::BTreeMap;

use itc_primitives::{AccountId, Committee, Hash, MilestoneHeader, Pair};
use parity_scale_codec::Encode;
use rand::{seq::SliceRandom, Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{
    Action, Config, Durability, Genesis, Input, Pbft, PersistId, PersistRecord, SignedMessage,
    TimerId,
};

pub mod byzantine;
pub mod cluster;

pub use cluster::{
    committee_of, genesis_header, make_header, test_pair, test_validator, Cluster,
    INVALID_VERTEX_COUNT,
};

/// One simulation's parameters; [`SimConfig::for_seed`] derives them all from the seed.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The seed.
    pub seed: u64,
    /// Committee size.
    pub n: usize,
    /// How many replicas are byzantine (at most f for the safety guarantee).
    pub byzantine: usize,
    /// Faults (partitions, drops, duplicates, crashes) happen during `[0, fault_period_ms)`.
    pub fault_period_ms: u64,
    /// After the fault period, every honest replica must progress within this bound.
    pub liveness_bound_ms: u64,
    /// Milestones per epoch (the committee rotates); 0 keeps one epoch.
    pub epoch_length: u64,
    /// Message drop probability during faults.
    pub drop: f64,
    /// Message duplication probability during faults.
    pub duplicate: f64,
    /// Number of partitions during faults.
    pub partitions: usize,
    /// Number of crash/restart cycles during faults.
    pub crashes: usize,
    /// Number of spurious [`Input::Suspect`]s given to random replicas during faults (an
    /// over-eager censorship detector): view changes nobody else asked for.
    pub suspicions: usize,
    /// Number of idle spells during faults: every replica is told [`Input::Pending`]`(false)`,
    /// and a primary asked for a proposal during the spell proposes when it ends (a
    /// heartbeat), as on a chain with no transactions.
    pub idle_spells: usize,
    /// Replica configuration.
    pub pbft: Config,
    /// Stop at the first safety violation (tests of the weakened quorum keep going until an
    /// agreement violation).
    pub stop_on_violation: bool,
    /// Print which replicas are byzantine, and every event after the fault period, to stderr
    /// (debugging aid).
    pub debug: bool,
    /// Hard cap on processed events: a run that needs more is stopped and reported as a
    /// liveness failure (a message storm or a timer loop), so no seed runs unbounded.
    pub max_events: u64,
    /// Hard cap on events waiting in the queue (messages in flight, timers): a run that exceeds
    /// it is stopped and reported as a liveness failure instead of exhausting memory.
    pub max_queued: usize,
}

impl SimConfig {
    /// Derives a configuration from `seed`: n ∈ {4, 4, 4, 7}, up to f byzantine replicas, up to
    /// two partitions, two crashes, three spurious suspicions and two idle spells, drop rate up
    /// to 5 %, an epoch length of 0 or 10.
    pub fn for_seed(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_c0f1_9000_0000);
        let n = *[4usize, 4, 4, 7].choose(&mut rng).unwrap_or(&4);
        let f = (n - 1) / 3;
        SimConfig {
            seed,
            n,
            byzantine: rng.gen_range(0..=f),
            fault_period_ms: 6_000,
            liveness_bound_ms: 60_000,
            epoch_length: *[0u64, 10].choose(&mut rng).unwrap_or(&0),
            drop: *[0.0, 0.01, 0.05].choose(&mut rng).unwrap_or(&0.0),
            duplicate: *[0.0, 0.02].choose(&mut rng).unwrap_or(&0.0),
            partitions: rng.gen_range(0..=2),
            crashes: rng.gen_range(0..=2),
            suspicions: rng.gen_range(0..=3),
            idle_spells: rng.gen_range(0..=2),
            pbft: Config {
                checkpoint_interval: 4,
                window: 8,
                base_timeout_ms: 500,
                max_timeout_ms: 8_000,
                retain_certified: 64,
                unsafe_quorum_for_tests: None,
                unsafe_no_restart_fence_for_tests: false,
            },
            stop_on_violation: true,
            debug: false,
            max_events: MAX_EVENTS,
            max_queued: MAX_QUEUED,
        }
    }
}

/// Default [`SimConfig::max_events`]: a passing seed processes a few thousand events.
pub const MAX_EVENTS: u64 = 500_000;
/// Default [`SimConfig::max_queued`]: a passing seed queues at most a few hundred events.
pub const MAX_QUEUED: usize = 50_000;
/// Pre-prepares a byzantine replica keeps to offer again to restarting replicas.
const KEPT_PRE_PREPARES: usize = 4;

/// A safety violation found by the checker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Two honest replicas committed different headers at one number.
    Agreement {
        /// The milestone number.
        number: u64,
        /// The replica that committed the second header.
        replica: usize,
    },
    /// A committed header is invalid or does not extend the replica's chain.
    Validity {
        /// The milestone number.
        number: u64,
        /// The replica.
        replica: usize,
        /// What is wrong.
        reason: String,
    },
    /// A finality certificate does not verify.
    Certificate {
        /// The milestone number.
        number: u64,
        /// The replica.
        replica: usize,
        /// The verifier's error.
        reason: String,
    },
}

/// The result of one simulation.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The configuration that ran.
    pub config: SimConfig,
    /// Hash of every processed event, in order.
    pub trace_hash: Hash,
    /// Safety violations (empty when correct).
    pub violations: Vec<Violation>,
    /// Why liveness failed, if it did.
    pub liveness_failure: Option<String>,
    /// Highest number committed by an honest replica.
    pub committed: u64,
    /// Events processed.
    pub events: u64,
    /// The largest number of events waiting in the queue at once.
    pub max_queue: usize,
    /// Simulated time at the end, ms.
    pub end_ms: u64,
    /// Evidence actions emitted by honest replicas.
    pub evidence: u64,
    /// View changes started by honest replicas.
    pub view_changes: u64,
    /// Late votes the odd replicas dropped unchecked ([`crate::Pbft::wants`]).
    pub late_votes_dropped: u64,
}

impl Outcome {
    /// The command that replays this seed.
    pub fn replay_command(&self) -> String {
        format!("cargo run -p itc-consensus --release --example sim -- --seed {}", self.config.seed)
    }
    /// Whether the run passed.
    pub fn passed(&self) -> bool {
        self.violations.is_empty() && self.liveness_failure.is_none()
    }
}

#[derive(Clone, Debug)]
enum Event {
    Deliver { from: usize, to: usize, bytes: Vec<u8> },
    Timer { replica: usize, life: u64, id: TimerId },
    Persisted { replica: usize, life: u64, id: PersistId, record: Vec<u8>, synced: bool },
    Propose { replica: usize, life: u64, header: MilestoneHeader },
    Validated { replica: usize, life: u64, header: MilestoneHeader },
    Crash(usize),
    Restart(usize),
    Suspect(usize),
    IdleStart { end: u64 },
    IdleEnd,
    Partition(Vec<bool>),
    HealPartition,
    EndOfFaults,
}

struct Node {
    pbft: Pbft,
    pair: Pair,
    up: bool,
    life: u64,
    /// Durable records.
    store: Vec<Vec<u8>>,
    /// Acknowledged [`Durability::Buffered`] records behind the last synced one: a crash loses
    /// them, the next synced record makes them durable.
    buffered: Vec<Vec<u8>>,
    last_persist_at: u64,
    chain: Vec<Hash>,
    byzantine: Option<byzantine::Behaviour>,
    /// A byzantine replica's latest pre-prepares (as its honest machine signed them), offered
    /// again to replicas that restart.
    pre_prepares: Vec<SignedMessage>,
}

/// The simulator's state.
struct Sim {
    cfg: SimConfig,
    rng: ChaCha8Rng,
    now: u64,
    counter: u64,
    queue: BTreeMap<(u64, u64), Event>,
    nodes: Vec<Node>,
    keys: Vec<AccountId>,
    genesis: Genesis,
    side: Option<Vec<bool>>,
    faults: bool,
    /// The end of the current idle spell (0 or past: none).
    idle_until: u64,
    trace: Hash,
    agreed: BTreeMap<u64, Hash>,
    /// The certified milestones honest replicas committed: the stores a lagging replica's
    /// caller fetches from (see [`Sim::catch_up`]).
    certified: BTreeMap<u64, crate::message::CertifiedMilestone>,
    violations: Vec<Violation>,
    events: u64,
    evidence: u64,
    late_votes_dropped: u64,
}

/// The committee of epoch `e` in a simulation: the keys rotated by `e` (so the primaries move).
pub fn sim_committee(keys: &[AccountId], epoch: u64) -> Committee {
    let mut members = keys.to_vec();
    let len = members.len().max(1);
    members.rotate_left((epoch as usize) % len);
    committee_of(epoch, &members)
}

/// Runs one simulation.
pub fn run(cfg: SimConfig) -> Outcome {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let pairs: Vec<Pair> = (0..cfg.n).map(test_pair).collect();
    let keys: Vec<AccountId> = pairs.iter().map(Pair::public).collect();
    let genesis = Genesis::after(&genesis_header(), sim_committee(&keys, 0));
    let mut byz: Vec<usize> = (0..cfg.n).collect();
    byz.shuffle(&mut rng);
    byz.truncate(cfg.byzantine);
    let mut nodes = Vec::new();
    for (i, pair) in pairs.iter().enumerate() {
        let Ok(pbft) = Pbft::new(cfg.pbft.clone(), pair.clone(), genesis.clone()) else {
            return failed_config(cfg, "invalid PBFT configuration");
        };
        let byzantine = byz.contains(&i).then(|| byzantine::Behaviour::random(&mut rng));
        nodes.push(Node {
            pbft,
            pair: pair.clone(),
            up: true,
            life: 0,
            store: Vec::new(),
            buffered: Vec::new(),
            last_persist_at: 0,
            chain: vec![genesis.base_hash],
            byzantine,
            pre_prepares: Vec::new(),
        });
    }
    let mut sim = Sim {
        cfg: cfg.clone(),
        rng,
        now: 0,
        counter: 0,
        queue: BTreeMap::new(),
        nodes,
        keys,
        genesis,
        side: None,
        faults: true,
        idle_until: 0,
        trace: Hash::ZERO,
        agreed: BTreeMap::new(),
        certified: BTreeMap::new(),
        violations: Vec::new(),
        events: 0,
        evidence: 0,
        late_votes_dropped: 0,
    };
    if cfg.debug {
        for (i, node) in sim.nodes.iter().enumerate() {
            if let Some(b) = &node.byzantine {
                eprintln!("replica {i} is byzantine: {b:?}");
            }
        }
    }
    sim.schedule_faults();
    for i in 0..cfg.n {
        let actions = sim.nodes[i].pbft.start();
        sim.apply(i, actions);
    }
    sim.run()
}

fn failed_config(cfg: SimConfig, why: &str) -> Outcome {
    Outcome {
        config: cfg,
        trace_hash: Hash::ZERO,
        violations: Vec::new(),
        liveness_failure: Some(why.into()),
        committed: 0,
        events: 0,
        max_queue: 0,
        end_ms: 0,
        evidence: 0,
        view_changes: 0,
        late_votes_dropped: 0,
    }
}

impl Sim {
    fn at(&mut self, time: u64, event: Event) {
        self.counter += 1;
        self.queue.insert((time, self.counter), event);
    }

    fn schedule_faults(&mut self) {
        let period = self.cfg.fault_period_ms;
        for _ in 0..self.cfg.partitions {
            let start = self.rng.gen_range(0..period);
            let end = (start + self.rng.gen_range(500..3_000)).min(period);
            let mut sides: Vec<bool> = (0..self.cfg.n).map(|_| self.rng.gen_bool(0.5)).collect();
            // Make both sides non-empty.
            sides[0] = true;
            let last = self.cfg.n - 1;
            sides[last] = false;
            self.at(start, Event::Partition(sides));
            self.at(end, Event::HealPartition);
        }
        for _ in 0..self.cfg.crashes {
            let who = self.rng.gen_range(0..self.cfg.n);
            let start = self.rng.gen_range(0..period);
            let end = (start + self.rng.gen_range(200..3_000)).min(period);
            self.at(start, Event::Crash(who));
            self.at(end, Event::Restart(who));
        }
        for _ in 0..self.cfg.idle_spells {
            let start = self.rng.gen_range(0..period);
            let end = (start + self.rng.gen_range(500..4_000)).min(period);
            self.at(start, Event::IdleStart { end });
            self.at(end, Event::IdleEnd);
        }
        for _ in 0..self.cfg.suspicions {
            let who = self.rng.gen_range(0..self.cfg.n);
            let at = self.rng.gen_range(0..period);
            self.at(at, Event::Suspect(who));
        }
        self.at(period, Event::EndOfFaults);
    }

    fn honest(&self, i: usize) -> bool {
        self.nodes[i].byzantine.is_none()
    }

    fn latency(&mut self) -> u64 {
        5 + self.rng.gen_range(0..40)
    }

    fn send(&mut self, from: usize, to: usize, msg: &SignedMessage) {
        let payloads = match self.nodes[from].byzantine {
            Some(b) => {
                if matches!(msg.body, crate::Body::PrePrepare(_)) {
                    let kept = &mut self.nodes[from].pre_prepares;
                    if !kept.contains(msg) {
                        kept.push(msg.clone());
                        let excess = kept.len().saturating_sub(KEPT_PRE_PREPARES);
                        kept.drain(..excess);
                    }
                }
                let pair = self.nodes[from].pair.clone();
                byzantine::corrupt(&b, &pair, msg, to, &mut self.rng)
            }
            None => vec![msg.encode()],
        };
        for bytes in payloads {
            if self.faults {
                if let Some(side) = &self.side {
                    if side[from] != side[to] {
                        continue;
                    }
                }
                if self.rng.gen_bool(self.cfg.drop) {
                    continue;
                }
                if self.rng.gen_bool(self.cfg.duplicate) {
                    let t = self.now + self.latency() * 2;
                    self.at(t, Event::Deliver { from, to, bytes: bytes.clone() });
                }
            }
            let t = self.now + self.latency();
            self.at(t, Event::Deliver { from, to, bytes });
        }
    }

    fn apply(&mut self, i: usize, actions: Vec<Action>) {
        let life = self.nodes[i].life;
        for action in actions {
            match action {
                Action::Send(to, msg) => {
                    if let Some(j) = self.keys.iter().position(|k| *k == to) {
                        self.send(i, j, &msg);
                    }
                }
                Action::Broadcast(msg) => {
                    let members: Vec<usize> = (0..self.cfg.n).filter(|&j| j != i).collect();
                    for j in members {
                        self.send(i, j, &msg);
                    }
                }
                Action::Persist(id, record) => {
                    // A buffered record is acknowledged as soon as the writes before it are; a
                    // synced one after a flush.
                    let synced = record.durability() == Durability::Synced;
                    let flush = if synced { self.rng.gen_range(0..5) } else { 0 };
                    let t = self.nodes[i].last_persist_at.max(self.now) + flush;
                    self.nodes[i].last_persist_at = t;
                    let record = record.encode();
                    self.at(t, Event::Persisted { replica: i, life, id, record, synced });
                }
                Action::ScheduleTimeout { id, after_ms } => {
                    self.at(self.now + after_ms, Event::Timer { replica: i, life, id });
                }
                Action::RequestProposal { seq, parent, epoch, .. } => {
                    let header = self.proposal(i, seq, parent, epoch);
                    // Nothing to propose during an idle spell: a heartbeat when it ends.
                    let t = self.now.max(self.idle_until) + 20 + self.rng.gen_range(0..30);
                    self.at(t, Event::Propose { replica: i, life, header });
                }
                Action::Validate(header) => {
                    let t = self.now + self.rng.gen_range(0..10);
                    self.at(t, Event::Validated { replica: i, life, header });
                }
                Action::Committed(header, cert) => self.check_commit(i, &header, &cert),
                Action::Evidence(e) => {
                    if self.honest(i) {
                        self.evidence += 1;
                        // Evidence must be real: an honest replica never accuses wrongly.
                        if !e.is_valid() || self.honest_key(&e.first.sender) {
                            self.violations.push(Violation::Validity {
                                number: 0,
                                replica: i,
                                reason: format!("false evidence against {}", e.first.sender),
                            });
                        }
                    }
                }
                Action::EpochChanged { .. } => {}
            }
        }
    }

    fn honest_key(&self, key: &AccountId) -> bool {
        self.keys.iter().position(|k| k == key).is_some_and(|j| self.honest(j))
    }

    fn expected_next_committee(&self, number: u64, epoch: u64) -> Option<Committee> {
        let l = self.cfg.epoch_length;
        (l > 0 && number.is_multiple_of(l)).then(|| sim_committee(&self.keys, epoch + 1))
    }

    fn proposal(&mut self, i: usize, seq: u64, parent: Hash, epoch: u64) -> MilestoneHeader {
        let next = self.expected_next_committee(seq, epoch);
        let mut h = make_header(seq, parent, epoch, self.keys[i], 0, next);
        h.timestamp_ms = self.now;
        if let Some(b) = self.nodes[i].byzantine {
            if b.invalid_proposals && self.rng.gen_bool(0.5) {
                h.vertex_count = INVALID_VERTEX_COUNT;
            }
        }
        h
    }

    fn validate(&self, h: &MilestoneHeader) -> bool {
        test_validator(h) && h.next_committee == self.expected_next_committee(h.number, h.epoch)
    }

    fn check_commit(
        &mut self,
        i: usize,
        header: &MilestoneHeader,
        cert: &itc_primitives::FinalityCertificate,
    ) {
        if !self.honest(i) {
            return;
        }
        let number = header.number;
        let hash = header.hash();
        match self.agreed.get(&number) {
            Some(h) if *h != hash => {
                self.violations.push(Violation::Agreement { number, replica: i })
            }
            Some(_) => {}
            None => {
                self.agreed.insert(number, hash);
                let cm = crate::message::CertifiedMilestone {
                    header: header.clone(),
                    certificate: cert.clone(),
                };
                self.certified.insert(number, cm);
            }
        }
        let committee = sim_committee(&self.keys, header.epoch);
        let chain = &self.nodes[i].chain;
        let mut reason = None;
        if chain.len() as u64 != number || chain.last() != Some(&header.parent) {
            reason = Some(format!("does not extend the replica's chain of {}", chain.len()));
        } else if !self.validate(header) {
            reason = Some("the validator rejects it".into());
        } else if committee.index_of(&header.proposer).is_none() {
            reason = Some("proposed by a non-member".into());
        }
        if let Some(reason) = reason {
            self.violations.push(Violation::Validity { number, replica: i, reason });
        }
        if let Err(e) = cert.verify(header, &committee) {
            self.violations.push(Violation::Certificate {
                number,
                replica: i,
                reason: e.to_string(),
            });
        }
        self.nodes[i].chain.push(hash);
    }

    fn step(&mut self, i: usize, input: Input) {
        if !self.nodes[i].up {
            return;
        }
        let actions = self.nodes[i].pbft.step(input);
        self.apply(i, actions);
    }

    fn record(&mut self, tag: u8, i: usize, bytes: &[u8]) {
        let mut buf = Vec::with_capacity(64 + bytes.len().min(64));
        buf.extend_from_slice(&self.trace.0);
        buf.extend_from_slice(&self.now.to_le_bytes());
        buf.push(tag);
        buf.extend_from_slice(&(i as u64).to_le_bytes());
        buf.extend_from_slice(&itc_primitives::blake2_256(bytes).0);
        self.trace = itc_primitives::blake2_256(&buf);
    }

    fn handle(&mut self, event: Event) {
        if self.cfg.debug && !self.faults {
            let who = match &event {
                Event::Deliver { to, .. } => *to,
                Event::Timer { replica, .. }
                | Event::Persisted { replica, .. }
                | Event::Propose { replica, .. }
                | Event::Validated { replica, .. } => *replica,
                _ => 0,
            };
            let what = match &event {
                Event::Deliver { from, bytes, .. } => match SignedMessage::from_bytes(bytes) {
                    Ok(m) => format!("from {from}: {} {:?}", m.body.kind(), brief(&m.body)),
                    Err(_) => format!("from {from}: garbage"),
                },
                Event::Persisted { .. } => return self.handle_inner(event),
                other => format!("{other:?}").chars().take(120).collect(),
            };
            let p = &self.nodes[who].pbft;
            eprintln!(
                "{:>6} r{who} v{} {:?} last {} | {what}",
                self.now,
                p.view(),
                p.status(),
                p.last_committed().0
            );
        }
        self.handle_inner(event)
    }

    fn handle_inner(&mut self, event: Event) {
        match event {
            Event::Deliver { from, to, bytes } => {
                self.record(0, to, &bytes);
                if !self.nodes[to].up {
                    return;
                }
                // Garbage never reaches the machine as anything but a decoding error.
                if let Ok(msg) = SignedMessage::from_bytes(&bytes) {
                    let key = self.keys[from];
                    // Odd replicas check signatures on receipt, as gossip validation does, and
                    // hand the replica a verified message; the others leave it to the replica.
                    // Like the node's driver, the odd ones first drop, unchecked, a late vote
                    // the replica does not want (`Pbft::wants`).
                    if to % 2 == 1 && !self.nodes[to].pbft.wants(&msg) {
                        self.late_votes_dropped += 1;
                        return;
                    }
                    let input = if to % 2 == 1 {
                        match msg.verified() {
                            Ok(checked) => Input::Verified(key, checked),
                            Err(msg) => Input::Message(key, *msg),
                        }
                    } else {
                        Input::Message(key, msg)
                    };
                    self.step(to, input);
                }
            }
            Event::Timer { replica, life, id } => {
                self.record(1, replica, &id.0.to_le_bytes());
                if self.nodes[replica].life == life {
                    self.step(replica, Input::TimeoutElapsed(id));
                    self.catch_up(replica);
                }
            }
            Event::Persisted { replica, life, id, record, synced } => {
                self.record(2, replica, &record);
                let node = &mut self.nodes[replica];
                if node.life == life && node.up {
                    if synced {
                        let buffered = std::mem::take(&mut node.buffered);
                        node.store.extend(buffered);
                        node.store.push(record);
                    } else {
                        node.buffered.push(record);
                    }
                    self.step(replica, Input::Persisted(id));
                }
            }
            Event::Propose { replica, life, header } => {
                self.record(3, replica, &header.encode());
                if self.nodes[replica].life == life {
                    self.step(replica, Input::Propose(header));
                }
            }
            Event::Validated { replica, life, header } => {
                self.record(4, replica, &header.encode());
                if self.nodes[replica].life == life {
                    let ok = self.validate(&header);
                    let input = Input::Validated { seq: header.number, digest: header.hash(), ok };
                    self.step(replica, input);
                }
            }
            Event::Crash(i) => {
                self.record(5, i, &[]);
                if self.nodes[i].up {
                    self.nodes[i].up = false;
                    self.nodes[i].life += 1;
                    // The worst crash: power lost before the buffered records reached the disk.
                    self.nodes[i].buffered.clear();
                }
            }
            Event::Restart(i) => {
                self.record(6, i, &[]);
                self.restart(i);
            }
            Event::IdleStart { end } => {
                self.record(11, 0, &end.to_le_bytes());
                self.idle_until = self.idle_until.max(end);
                self.tell_pending(false);
            }
            Event::IdleEnd => {
                self.record(12, 0, &[]);
                if self.now >= self.idle_until {
                    self.tell_pending(true);
                }
            }
            Event::Suspect(i) => {
                self.record(10, i, &[]);
                if self.nodes[i].up {
                    self.step(i, Input::Suspect);
                }
            }
            Event::Partition(sides) => {
                self.record(7, 0, &sides.iter().map(|b| *b as u8).collect::<Vec<_>>());
                self.side = Some(sides);
            }
            Event::HealPartition => {
                self.record(8, 0, &[]);
                self.side = None;
            }
            Event::EndOfFaults => {
                self.record(9, 0, &[]);
                self.faults = false;
                self.side = None;
                self.idle_until = 0;
                for i in 0..self.cfg.n {
                    self.restart(i);
                }
                self.tell_pending(true);
            }
        }
    }

    /// Tells every running replica whether work is pending.
    fn tell_pending(&mut self, pending: bool) {
        for i in 0..self.cfg.n {
            if self.nodes[i].up {
                self.step(i, Input::Pending(pending));
            }
        }
    }

    /// What the node's caller does when finality stalls (`maybe_catch_up`): a replica more
    /// than a state transfer's worth behind the committed chain gets the next certified
    /// milestones from a peer's store ([`Input::Certified`]; it checks their certificates). The
    /// peers' in-memory history ([`Config::retain_certified`]) cannot serve it any more.
    fn catch_up(&mut self, i: usize) {
        let next = self.nodes[i].pbft.last_committed().0 + 1;
        let behind = self
            .certified
            .keys()
            .next_back()
            .is_some_and(|top| *top >= next + self.cfg.pbft.retain_certified as u64 / 2);
        if !behind || !self.nodes[i].up {
            return;
        }
        let milestones: Vec<_> =
            self.certified.range(next..).take(32).map(|(_, m)| m.clone()).collect();
        self.step(i, Input::Certified(milestones));
    }

    /// Equivocating byzantine primaries offer the restarted replica `i` the other header of
    /// their latest pre-prepares (see [`byzantine::reoffer`]).
    fn reoffer_to(&mut self, i: usize) {
        for j in 0..self.cfg.n {
            let Some(b) = self.nodes[j].byzantine else { continue };
            let pair = self.nodes[j].pair.clone();
            for msg in self.nodes[j].pre_prepares.clone() {
                let bytes = byzantine::reoffer(&b, &pair, &msg, i);
                let t = self.now + self.latency();
                self.at(t, Event::Deliver { from: j, to: i, bytes });
            }
        }
    }

    fn restart(&mut self, i: usize) {
        if self.nodes[i].up {
            return;
        }
        let records: Vec<PersistRecord> = self.nodes[i]
            .store
            .iter()
            .filter_map(|b| itc_primitives::decode_untrusted(b).ok())
            .collect();
        let pair = self.nodes[i].pair.clone();
        match Pbft::restore(self.cfg.pbft.clone(), pair, self.genesis.clone(), records) {
            Ok(mut pbft) => {
                self.nodes[i].life += 1;
                self.nodes[i].up = true;
                let actions = pbft.start();
                self.nodes[i].pbft = pbft;
                self.apply(i, actions);
                self.reoffer_to(i);
                if self.now < self.idle_until {
                    // Its caller tells it at once that nothing is pending.
                    self.step(i, Input::Pending(false));
                }
            }
            Err(e) => self.violations.push(Violation::Validity {
                number: 0,
                replica: i,
                reason: format!("cannot restart: {e}"),
            }),
        }
    }

    fn run(mut self) -> Outcome {
        let honest: Vec<usize> = (0..self.cfg.n).filter(|&i| self.honest(i)).collect();
        let deadline = self.cfg.fault_period_ms + self.cfg.liveness_bound_ms;
        let mut target: Option<u64> = None;
        let mut liveness_failure = None;
        let mut storm = None;
        let mut max_queue = self.queue.len();
        while let Some(((time, _), event)) = self.queue.pop_first() {
            if time > deadline {
                break;
            }
            self.now = time;
            self.events += 1;
            self.handle(event);
            max_queue = max_queue.max(self.queue.len());
            // The hard guard: no seed may run unbounded, whatever the protocol does.
            if self.queue.len() > self.cfg.max_queued || self.events >= self.cfg.max_events {
                storm = Some(self.storm_report());
                break;
            }
            let agreement_broken =
                self.violations.iter().any(|v| matches!(v, Violation::Agreement { .. }));
            if agreement_broken || (!self.violations.is_empty() && self.cfg.stop_on_violation) {
                break;
            }
            if target.is_none() && !self.faults {
                let highest = honest.iter().map(|&i| self.nodes[i].chain.len() as u64 - 1).max();
                target = Some(highest.unwrap_or(0) + 2);
            }
            if let Some(t) = target {
                if honest.iter().all(|&i| self.nodes[i].chain.len() as u64 > t) {
                    break;
                }
            }
        }
        if let Some(t) = target {
            let behind: Vec<String> = honest
                .iter()
                .filter(|&&i| (self.nodes[i].chain.len() as u64) <= t)
                .map(|&i| {
                    let p = &self.nodes[i].pbft;
                    format!(
                        "replica {i} at {} (view {}, {:?}, epoch {})",
                        self.nodes[i].chain.len() - 1,
                        p.view(),
                        p.status(),
                        p.epoch()
                    )
                })
                .collect();
            if !behind.is_empty() && self.violations.is_empty() {
                liveness_failure = Some(format!(
                    "{} ms after the faults ended, target milestone {t} not reached by: {}",
                    self.cfg.liveness_bound_ms,
                    behind.join(", ")
                ));
            }
        } else if self.violations.is_empty() {
            liveness_failure = Some("the simulation ended before the fault period".into());
        }
        if storm.is_some() {
            liveness_failure = storm;
        }
        let committed =
            honest.iter().map(|&i| self.nodes[i].chain.len() as u64 - 1).max().unwrap_or(0);
        let view_changes = honest.iter().map(|&i| self.nodes[i].pbft.stats().view_changes).sum();
        Outcome {
            config: self.cfg,
            trace_hash: self.trace,
            violations: self.violations,
            liveness_failure,
            committed,
            events: self.events,
            max_queue,
            end_ms: self.now,
            evidence: self.evidence,
            view_changes,
            late_votes_dropped: self.late_votes_dropped,
        }
    }

    /// Describes a run stopped by the guard: the caps, and the messages that fill the queue.
    fn storm_report(&self) -> String {
        let mut by_kind: BTreeMap<(usize, usize, &'static str), usize> = BTreeMap::new();
        for event in self.queue.values() {
            let key = match event {
                Event::Deliver { from, to, bytes } => match SignedMessage::from_bytes(bytes) {
                    Ok(m) => (*from, *to, m.body.kind()),
                    Err(_) => (*from, *to, "garbage"),
                },
                _ => (0, 0, "other event"),
            };
            *by_kind.entry(key).or_default() += 1;
        }
        let mut top: Vec<_> = by_kind.into_iter().collect();
        top.sort_by_key(|entry| std::cmp::Reverse(entry.1));
        let top: Vec<String> = top
            .iter()
            .take(3)
            .map(|((from, to, kind), count)| format!("{count} x {kind} {from}->{to}"))
            .collect();
        format!(
            "event storm stopped by the guard at {} ms: {} events processed (cap {}), {} queued \
             (cap {}); most queued: {}",
            self.now,
            self.events,
            self.cfg.max_events,
            self.queue.len(),
            self.cfg.max_queued,
            top.join(", ")
        )
    }
}

fn brief(body: &crate::Body) -> String {
    use crate::Body::*;
    match body {
        PrePrepare(p) => format!("v{} n{}", p.view, p.seq),
        Prepare(v) | Commit(v) => format!("v{} n{} {}", v.view, v.seq, v.digest),
        Checkpoint(c) => format!("n{}", c.seq),
        ViewChange(vc) => {
            format!("to v{} h{} P{}", vc.new_view, vc.stable.checkpoint.seq, vc.prepared.len())
        }
        NewView(nv) => format!("v{} O{}", nv.view, nv.pre_prepare_sigs.len()),
        StateRequest { from } => format!("from {from}"),
        StateResponse { milestones, .. } => format!("{} milestones", milestones.len()),
    }
}
