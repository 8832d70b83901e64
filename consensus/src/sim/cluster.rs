//! A lock-step in-memory cluster: messages are delivered in FIFO order, persistence and
//! validation answer at once, timeouts fire only when a test asks. Unit tests and the benchmark
//! use it; the randomised fault-injecting network is [`super::run`].
use std::collections::VecDeque;

use itc_primitives::{
    codec::BoundedVec, AccountId, Committee, FinalityCertificate, Hash, MilestoneHeader, Pair,
};

use crate::{
    Action, Config, Evidence, Genesis, Input, Pbft, PersistRecord, SignedMessage, TimerId,
};

/// The deterministic key of test replica `i` (seed `[i + 1; 32]`).
#[allow(clippy::expect_used)]
pub fn test_pair(i: usize) -> Pair {
    let seed = [(i as u8).wrapping_add(1); 32];
    Pair::from_seed(&seed).expect("any 32 bytes are a valid sr25519 mini secret key")
}

/// A committee of the given keys for `epoch`.
pub fn committee_of(epoch: u64, keys: &[AccountId]) -> Committee {
    Committee { epoch, members: BoundedVec::new(keys.to_vec()).unwrap_or_default() }
}

/// The genesis header every test chain starts from.
pub fn genesis_header() -> MilestoneHeader {
    MilestoneHeader {
        number: 0,
        parent: Hash::ZERO,
        epoch: 0,
        tips: BoundedVec::default(),
        ordered_root: Hash::ZERO,
        vertex_count: 0,
        state_root: Hash::ZERO,
        receipts_root: Hash::ZERO,
        timestamp_ms: 0,
        proposer: AccountId::default(),
        next_committee: None,
    }
}

/// A well-formed header: everything but the links is derived from the number and `salt`.
pub fn make_header(
    number: u64,
    parent: Hash,
    epoch: u64,
    proposer: AccountId,
    salt: u64,
    next_committee: Option<Committee>,
) -> MilestoneHeader {
    let h = |tag: u8| {
        itc_primitives::blake2_256(&[&[tag][..], &number.to_le_bytes(), &parent.0].concat())
    };
    MilestoneHeader {
        number,
        parent,
        epoch,
        tips: BoundedVec::new(vec![h(1)]).unwrap_or_default(),
        ordered_root: h(2),
        vertex_count: 1,
        state_root: h(3),
        receipts_root: h(4),
        timestamp_ms: 1_000 * number + salt,
        proposer,
        next_committee,
    }
}

/// A marker in `vertex_count` that the test validators reject: an "invalid execution".
pub const INVALID_VERTEX_COUNT: u32 = 0xdead;

/// The validity rule of the test chains: the header is not marked invalid.
pub fn test_validator(header: &MilestoneHeader) -> bool {
    header.vertex_count != INVALID_VERTEX_COUNT
}

/// A proposer hook: given `(replica, seq, parent, epoch)` returns the header to propose.
pub type Proposer = Box<dyn FnMut(usize, u64, Hash, u64) -> MilestoneHeader>;
/// A network filter: `(from, to, message)`; returns whether to deliver.
pub type Filter = Box<dyn FnMut(usize, usize, &SignedMessage) -> bool>;

/// N replicas wired together in memory.
pub struct Cluster {
    /// The replicas (index = committee index in epoch 0).
    pub replicas: Vec<Pbft>,
    /// Their keys.
    pub pairs: Vec<Pair>,
    /// Keys by index.
    pub keys: Vec<AccountId>,
    /// What each replica committed, in order.
    pub committed: Vec<Vec<(MilestoneHeader, FinalityCertificate)>>,
    /// Evidence each replica reported.
    pub evidence: Vec<Vec<Evidence>>,
    /// Each replica's persisted records.
    pub store: Vec<Vec<PersistRecord>>,
    /// The latest timer per replica.
    pub timers: Vec<Option<TimerId>>,
    /// Replicas that are down (crashed).
    pub down: Vec<bool>,
    /// Messages in flight: `(from, to, msg)`.
    pub queue: VecDeque<(usize, usize, SignedMessage)>,
    /// Decides what each primary proposes.
    pub proposer: Proposer,
    /// Drops messages for which it returns false.
    pub filter: Filter,
    /// Validation verdict hook.
    pub validator: fn(&MilestoneHeader) -> bool,
    /// Actions of every step, for inspection: `(replica, action)`.
    pub trace: Vec<(usize, Action)>,
    /// Whether to record `trace`.
    pub record: bool,
    cfg: Config,
    genesis: Genesis,
}

impl Cluster {
    /// `n` replicas with `cfg`, all members, started; nothing delivered yet.
    pub fn new(n: usize, cfg: Config) -> Self {
        let mut c = Self::with_members(n, &(0..n).collect::<Vec<_>>(), cfg);
        c.start_all();
        c
    }

    /// The replicas' configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The chain's starting point.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// Starts every replica (call once, after setting hooks such as `proposer`).
    pub fn start_all(&mut self) {
        for i in 0..self.replicas.len() {
            let actions = self.replicas[i].start();
            self.apply(i, actions);
        }
    }

    /// `n` replicas of which those in `members` form the first committee (the others observe).
    /// Not started: set the hooks, then call [`Cluster::start_all`].
    pub fn with_members(n: usize, members: &[usize], cfg: Config) -> Self {
        let pairs: Vec<Pair> = (0..n).map(test_pair).collect();
        let keys: Vec<AccountId> = pairs.iter().map(Pair::public).collect();
        let member_keys: Vec<AccountId> = members.iter().map(|&i| keys[i]).collect();
        let genesis = Genesis::after(&genesis_header(), committee_of(0, &member_keys));
        let replicas = pairs
            .iter()
            .filter_map(|p| Pbft::new(cfg.clone(), p.clone(), genesis.clone()).ok())
            .collect();
        let keys2 = keys.clone();
        Cluster {
            replicas,
            pairs,
            keys,
            committed: vec![Vec::new(); n],
            evidence: vec![Vec::new(); n],
            store: vec![Vec::new(); n],
            timers: vec![None; n],
            down: vec![false; n],
            queue: VecDeque::new(),
            proposer: Box::new(move |i, seq, parent, epoch| {
                make_header(seq, parent, epoch, keys2[i], 0, None)
            }),
            filter: Box::new(|_, _, _| true),
            validator: test_validator,
            trace: Vec::new(),
            record: false,
            cfg,
            genesis,
        }
    }

    /// The index of `key`.
    pub fn index(&self, key: &AccountId) -> Option<usize> {
        self.keys.iter().position(|k| k == key)
    }

    /// Feeds `input` to replica `i` and applies the resulting actions.
    pub fn input(&mut self, i: usize, input: Input) {
        if self.down[i] {
            return;
        }
        let actions = self.replicas[i].step(input);
        self.apply(i, actions);
    }

    /// Carries out the actions of replica `i`.
    pub fn apply(&mut self, i: usize, actions: Vec<Action>) {
        let mut follow_up = Vec::new();
        for action in actions {
            if self.record {
                self.trace.push((i, action.clone()));
            }
            match action {
                Action::Send(to, msg) => {
                    if let Some(j) = self.index(&to) {
                        self.queue.push_back((i, j, msg));
                    }
                }
                Action::Broadcast(msg) => {
                    for j in 0..self.replicas.len() {
                        if j != i {
                            self.queue.push_back((i, j, msg.clone()));
                        }
                    }
                }
                Action::Persist(id, record) => {
                    self.store[i].push(record);
                    follow_up.push(Input::Persisted(id));
                }
                Action::ScheduleTimeout { id, .. } => self.timers[i] = Some(id),
                Action::RequestProposal { seq, parent, epoch, .. } => {
                    let h = (self.proposer)(i, seq, parent, epoch);
                    follow_up.push(Input::Propose(h));
                }
                Action::Validate(header) => {
                    let ok = (self.validator)(&header);
                    follow_up.push(Input::Validated {
                        seq: header.number,
                        digest: header.hash(),
                        ok,
                    });
                }
                Action::Committed(h, c) => self.committed[i].push((h, c)),
                Action::Evidence(e) => self.evidence[i].push(*e),
                Action::EpochChanged { .. } => {}
            }
        }
        for input in follow_up {
            self.input(i, input);
        }
    }

    /// Delivers queued messages until none are left (or `limit` deliveries).
    pub fn run(&mut self, limit: usize) -> usize {
        let mut n = 0;
        while let Some((from, to, msg)) = self.queue.pop_front() {
            if n >= limit {
                self.queue.push_front((from, to, msg));
                break;
            }
            n += 1;
            if self.down[to] || self.down[from] || !(self.filter)(from, to, &msg) {
                continue;
            }
            let key = self.keys[from];
            self.input(to, Input::Message(key, msg));
        }
        n
    }

    /// Fires the current timeout of replica `i`.
    pub fn fire_timeout(&mut self, i: usize) {
        if let Some(id) = self.timers[i] {
            self.input(i, Input::TimeoutElapsed(id));
        }
    }

    /// Crashes replica `i`: it stops receiving and its in-memory state will be lost.
    pub fn crash(&mut self, i: usize) {
        self.down[i] = true;
    }

    /// Crashes replica `i` the worst way: power is lost before its
    /// [`crate::Durability::Buffered`] records after the last synced one reach the disk.
    pub fn crash_losing_buffered(&mut self, i: usize) {
        self.crash(i);
        let store = &mut self.store[i];
        let synced = store.iter().rposition(|r| r.durability() == crate::Durability::Synced);
        store.truncate(synced.map_or(0, |k| k + 1));
    }

    /// Restarts replica `i` from its persisted records.
    pub fn restart(&mut self, i: usize) -> crate::Result<()> {
        let records = self.store[i].clone();
        let mut p =
            Pbft::restore(self.cfg.clone(), self.pairs[i].clone(), self.genesis.clone(), records)?;
        self.down[i] = false;
        let actions = p.start();
        self.replicas[i] = p;
        self.apply(i, actions);
        Ok(())
    }

    /// Delivers messages until every replica in `set` committed `count` milestones; returns
    /// whether they did before the network went quiet.
    pub fn run_until_committed(&mut self, set: &[usize], count: usize) -> bool {
        while self.min_committed(set) < count {
            if self.run(1) == 0 {
                return false;
            }
        }
        true
    }

    /// The lowest number of milestones committed by the replicas in `set`.
    pub fn min_committed(&self, set: &[usize]) -> usize {
        set.iter().map(|&i| self.committed[i].len()).min().unwrap_or(0)
    }
}
