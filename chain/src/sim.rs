//! A deterministic in-process network of validators, for tests and benchmarks.
//!
//! [`Network`] wires validators over [`MemoryStore`] and [`MemoryBackend`] with a message queue
//! ordered by virtual delivery time; latencies come from a seeded ChaCha RNG, so the same seed
//! replays the same run. It carries consensus messages, vertex gossip and vertex fetches, acks
//! every persist at once, fires timers and periodic ticks in virtual time, and can cut a
//! validator off (every message to or from it is dropped; its timers keep running) and heal it.
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use itc_consensus::{SignedMessage, TimerId};
use itc_dag::MemoryStore;
use itc_primitives::{AccountId, Balance, Hash, Mortality, Nonce, Pair, Signature, Transaction};
use itc_runtime::{
    genesis::dev_pairs, modules::balances, GenesisConfig, MemoryBackend, RuntimeCall,
};
use parity_scale_codec::Encode;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::{ChainConfig, Error, Event, Output, Result, Submitted, Validator};

/// How many recent state versions each simulated validator keeps provable.
pub const STATE_VERSIONS_KEPT: u64 = 64;

/// A validator of the simulated network.
pub type SimValidator = Validator<MemoryStore, MemoryBackend>;

enum Envelope {
    Consensus { from: usize, msg: Box<SignedMessage> },
    Vertices(Vec<Vec<u8>>),
    Fetch { from: usize, hashes: Vec<Hash> },
    Timeout(TimerId),
    Tick,
}

/// A simulated network of validators (see the module docs).
pub struct Network {
    /// The validators; index i has key `keys[i]`.
    pub nodes: Vec<SimValidator>,
    ids: Vec<AccountId>,
    now_ms: u64,
    queue: BTreeMap<(u64, u64), (usize, Envelope)>,
    seq: u64,
    rng: ChaCha20Rng,
    cut: BTreeSet<usize>,
    /// (node, transaction hash): vertices of that transaction never reach that node.
    withheld: BTreeSet<(usize, Hash)>,
    latency_ms: (u64, u64),
    tick_ms: u64,
    /// Errors validators returned (a correct run has none), with the node index.
    pub errors: Vec<(usize, Error)>,
    /// Messages delivered (consensus, vertices, fetches).
    pub delivered: u64,
    /// Pre-prepares a primary sent before the milestone below them was final at it
    /// (pipelining).
    pub pipelined: u64,
}

/// The genesis of a simulated network of `n` validators: the dev chain with //Alice … (the
/// first `n` dev accounts) in the committee, each with the minimum stake.
pub fn genesis_config(n: usize) -> Result<GenesisConfig> {
    let mut config = GenesisConfig::dev()?;
    let pairs = dev_pairs()?;
    if n == 0 || n > pairs.len() {
        return Err(Error::Config(format!("{n} validators; the dev chain has 1 to 6")));
    }
    let stake = config.params.min_candidate_stake;
    config.committee = pairs[..n].iter().map(|p| (p.public(), stake)).collect();
    Ok(config)
}

/// A balance transfer, signed deterministically (so a seeded run replays byte for byte).
pub fn transfer(
    from: &Pair,
    genesis: Hash,
    nonce: Nonce,
    dest: AccountId,
    amount: Balance,
) -> Transaction {
    let call = RuntimeCall::Balances(balances::Call::Transfer { dest, amount }).encode();
    let mut tx = Transaction {
        signer: from.public(),
        nonce,
        mortality: Mortality::Immortal,
        tip: 0,
        call,
        signature: Signature::default(),
    };
    tx.signature = from.sign_deterministic(&tx.payload(genesis).signing_bytes());
    tx
}

impl Network {
    /// `n` validators (//Alice … ) over `genesis`, all configured with `cfg` (each with its own
    /// attachment seed derived from `seed`), started at virtual time 0.
    pub fn new(n: usize, seed: u64, cfg: ChainConfig, genesis: GenesisConfig) -> Result<Self> {
        let pairs = dev_pairs()?;
        if n == 0 || n > pairs.len() {
            return Err(Error::Config(format!("{n} validators; the dev chain has 1 to 6")));
        }
        let mut nodes = Vec::with_capacity(n);
        for (i, pair) in pairs.into_iter().take(n).enumerate() {
            let mut cfg = cfg.clone();
            cfg.attach_seed =
                itc_primitives::blake2_256(&(seed, i as u64, cfg.attach_seed).encode()).0;
            // Bounded history keeps the per-proposal state copy small, as a node's would be.
            let mut state = MemoryBackend::new();
            state.keep_versions(Some(STATE_VERSIONS_KEPT));
            nodes.push(Validator::new(cfg, pair, &genesis, 0, MemoryStore::new(), state)?);
        }
        let ids = nodes.iter().map(Validator::id).collect();
        let mut net = Network {
            nodes,
            ids,
            now_ms: 0,
            queue: BTreeMap::new(),
            seq: 0,
            rng: ChaCha20Rng::seed_from_u64(seed),
            cut: BTreeSet::new(),
            withheld: BTreeSet::new(),
            latency_ms: (1, 5),
            tick_ms: 10,
            errors: Vec::new(),
            delivered: 0,
            pipelined: 0,
        };
        for i in 0..n {
            let outputs = net.nodes[i].start(0);
            net.absorb(i, outputs);
            net.schedule(i, net.tick_ms, Envelope::Tick);
        }
        Ok(net)
    }

    /// The virtual time in milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Drops every message to or from node `i` until [`Network::heal`].
    pub fn cut_off(&mut self, i: usize) {
        self.cut.insert(i);
    }

    /// Reconnects node `i`.
    pub fn heal(&mut self, i: usize) {
        self.cut.remove(&i);
    }

    /// Vertices carrying transaction `tx_hash` are never delivered to node `i` (by gossip or
    /// fetch). To the other nodes, a primary so deprived looks exactly like one that censors
    /// the transaction: it keeps proposing, without it.
    pub fn withhold(&mut self, i: usize, tx_hash: Hash) {
        self.withheld.insert((i, tx_hash));
    }

    /// Submits a transaction to node `i` and carries out the outputs.
    pub fn submit(&mut self, i: usize, tx: Transaction) -> Result<Submitted> {
        let now = self.now_ms;
        let submitted =
            self.nodes.get_mut(i).ok_or_else(|| no_node(i))?.submit_transaction(tx, now)?;
        self.process(i, submitted.outputs.clone());
        Ok(submitted)
    }

    /// Submits transactions to node `i` one after the other and carries out all their outputs
    /// together (so their gossip leaves as one burst). Returns one result per transaction.
    pub fn submit_batch(&mut self, i: usize, txs: Vec<Transaction>) -> Vec<Result<Hash>> {
        let now = self.now_ms;
        let mut outputs = Vec::new();
        let mut results = Vec::with_capacity(txs.len());
        let Some(node) = self.nodes.get_mut(i) else {
            return txs.iter().map(|_| Err(no_node(i))).collect();
        };
        for tx in txs {
            results.push(node.submit_transaction(tx, now).map(|mut submitted| {
                outputs.append(&mut submitted.outputs);
                submitted.tx_hash
            }));
        }
        self.process(i, outputs);
        results
    }

    /// Submits a client's ready vertex to node `i` and carries out the outputs.
    pub fn submit_vertex(&mut self, i: usize, bytes: &[u8]) -> Result<Submitted> {
        let now = self.now_ms;
        let node = self.nodes.get_mut(i).ok_or_else(|| no_node(i))?;
        let submitted = node.submit_vertex(bytes, now)?;
        self.process(i, submitted.outputs.clone());
        Ok(submitted)
    }

    /// Runs events until `done` holds (checked after every event) or virtual time passes
    /// `deadline_ms`. Returns whether `done` held.
    pub fn run_until(&mut self, deadline_ms: u64, mut done: impl FnMut(&Network) -> bool) -> bool {
        loop {
            if done(self) {
                return true;
            }
            let Some(entry) = self.queue.first_entry() else {
                return false;
            };
            let at = entry.key().0;
            if at > deadline_ms {
                // Left queued: a later run goes on from here (a tick dropped would never return).
                self.now_ms = self.now_ms.max(deadline_ms);
                return false;
            }
            let (to, envelope) = entry.remove();
            self.now_ms = at;
            self.deliver(to, envelope);
        }
    }

    /// Runs until every node finalised at least milestone `number`.
    pub fn run_to_height(&mut self, number: u64, deadline_ms: u64) -> bool {
        self.run_until(deadline_ms, |net| {
            net.nodes.iter().all(|node| node.finalized_number() >= number)
        })
    }

    fn schedule(&mut self, to: usize, after_ms: u64, envelope: Envelope) {
        self.seq += 1;
        self.queue.insert((self.now_ms + after_ms, self.seq), (to, envelope));
    }

    fn send(&mut self, from: usize, to: usize, envelope: Envelope) {
        if from == to || self.cut.contains(&from) || self.cut.contains(&to) {
            return;
        }
        let envelope = match envelope {
            Envelope::Vertices(batch) if self.withheld.iter().any(|(node, _)| *node == to) => {
                let kept: Vec<Vec<u8>> = batch
                    .into_iter()
                    .filter(|bytes| {
                        let tx = itc_primitives::decode_untrusted::<itc_primitives::Vertex>(bytes)
                            .map(|v| v.tx.hash());
                        !tx.is_ok_and(|tx| self.withheld.contains(&(to, tx)))
                    })
                    .collect();
                if kept.is_empty() {
                    return;
                }
                Envelope::Vertices(kept)
            }
            other => other,
        };
        let (lo, hi) = self.latency_ms;
        let delay = self.rng.gen_range(lo..=hi);
        self.schedule(to, delay, envelope);
    }

    fn deliver(&mut self, to: usize, envelope: Envelope) {
        let now = self.now_ms;
        let result = match envelope {
            Envelope::Consensus { from, msg } => {
                self.delivered += 1;
                let from = self.ids[from];
                // Odd nodes check signatures on receipt (as the node's gossip validation does)
                // and hand over verified messages; even ones leave the check to the replica.
                let event = if to % 2 == 1 {
                    match (*msg).verified() {
                        Ok(checked) => Event::Verified { from, msg: Box::new(checked) },
                        Err(msg) => Event::Message { from, msg },
                    }
                } else {
                    Event::Message { from, msg }
                };
                self.nodes[to].handle(event, now)
            }
            Envelope::Timeout(id) => self.nodes[to].handle(Event::Timeout(id), now),
            Envelope::Tick => {
                self.schedule(to, self.tick_ms, Envelope::Tick);
                self.nodes[to].handle(Event::Tick, now)
            }
            Envelope::Vertices(batch) => {
                self.delivered += 1;
                // Gossip and fetches deliver duplicates; refused vertices are not failures of
                // the receiving node.
                self.nodes[to].receive_vertices(&batch, now).map(|(_, outputs)| outputs)
            }
            Envelope::Fetch { from, hashes } => {
                self.delivered += 1;
                let found: Vec<Vec<u8>> = hashes
                    .iter()
                    .filter_map(|hash| self.nodes[to].vertex(hash).ok().flatten())
                    .map(|vertex| vertex.encode())
                    .collect();
                if !found.is_empty() {
                    self.send(to, from, Envelope::Vertices(found));
                }
                Ok(Vec::new())
            }
        };
        match result {
            Ok(outputs) => self.process(to, outputs),
            Err(e) => self.errors.push((to, e)),
        }
    }

    fn absorb(&mut self, i: usize, outputs: Result<Vec<Output>>) {
        match outputs {
            Ok(outputs) => self.process(i, outputs),
            Err(e) => self.errors.push((i, e)),
        }
    }

    /// Carries out outputs of node `i`; persists are acknowledged at once.
    fn process(&mut self, i: usize, outputs: Vec<Output>) {
        let mut gossip: Vec<Vec<u8>> = Vec::new();
        let mut work: VecDeque<(usize, Output)> = outputs.into_iter().map(|o| (i, o)).collect();
        while let Some((i, output)) = work.pop_front() {
            match output {
                Output::Send(to, msg) => {
                    if let Some(j) = self.ids.iter().position(|id| *id == to) {
                        self.send(i, j, Envelope::Consensus { from: i, msg: Box::new(msg) });
                    }
                }
                Output::Broadcast(msg) => {
                    if let itc_consensus::Body::PrePrepare(pp) = &msg.body {
                        if pp.seq > self.nodes[i].finalized_number() + 1 {
                            self.pipelined += 1;
                        }
                    }
                    for j in 0..self.nodes.len() {
                        self.send(
                            i,
                            j,
                            Envelope::Consensus { from: i, msg: Box::new(msg.clone()) },
                        );
                    }
                }
                Output::Persist(id, _) => {
                    match self.nodes[i].handle(Event::Persisted(id), self.now_ms) {
                        Ok(more) => work.extend(more.into_iter().map(|o| (i, o))),
                        Err(e) => self.errors.push((i, e)),
                    }
                }
                Output::ScheduleTimeout { id, after_ms } => {
                    self.schedule(i, after_ms, Envelope::Timeout(id))
                }
                // Gossip of one step goes out as one burst (validated as a batch).
                Output::Gossip(vertex) => gossip.push(vertex.encode()),
                Output::FetchVertices(hashes) => {
                    let peers: Vec<usize> = (0..self.nodes.len())
                        .filter(|j| *j != i && !self.cut.contains(j))
                        .collect();
                    if !peers.is_empty() {
                        let j = peers[self.rng.gen_range(0..peers.len())];
                        self.send(i, j, Envelope::Fetch { from: i, hashes });
                    }
                }
                Output::Finalized(_)
                | Output::Evidence(_)
                | Output::EpochChanged { .. }
                | Output::SuspectedCensorship { .. } => {}
            }
        }
        if !gossip.is_empty() {
            for j in 0..self.nodes.len() {
                self.send(i, j, Envelope::Vertices(gossip.clone()));
            }
        }
    }
}

fn no_node(i: usize) -> Error {
    Error::Config(format!("no node {i} in the network"))
}
