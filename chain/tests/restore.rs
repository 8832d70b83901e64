//! Restart: a validator reopened from its DAG store, state, finalised milestones and persist
//! log carries on where it stopped, whether it is handed the whole chain or only the window of
//! milestones it keeps in memory.
use std::collections::BTreeMap;

use itc_chain::{
    sim::{genesis_config, transfer},
    ChainConfig, Error, Event, Finalized, Output, Persisted, TxStatus, Validator,
};
use itc_consensus::{compact::resume_point, message::Body, PersistRecord, TimerId};
use itc_dag::MemoryStore;
use itc_primitives::UNITS_PER_ITC;
use itc_runtime::{genesis::dev_pairs, GenesisConfig, MemoryBackend};

type V = Validator<MemoryStore, MemoryBackend>;

/// Drives a lone validator in virtual time: persists are recorded and acknowledged at once,
/// timers fire in order, a tick every 10 ms.
struct Driver {
    v: V,
    now_ms: u64,
    timers: BTreeMap<(u64, u64), TimerId>,
    next_timer: u64,
    records: Vec<PersistRecord>,
    /// Every finalised milestone, as the node's store keeps them.
    finalized: Vec<Finalized>,
}

impl Driver {
    fn new(v: V) -> Self {
        Driver {
            v,
            now_ms: 0,
            timers: BTreeMap::new(),
            next_timer: 0,
            records: Vec::new(),
            finalized: Vec::new(),
        }
    }

    /// A new lone validator with `pair`'s key, started.
    fn started(cfg: ChainConfig, pair: &itc_primitives::Pair) -> Self {
        let v = V::new(cfg, pair.clone(), &genesis(), 0, MemoryStore::new(), MemoryBackend::new());
        let mut d = Driver::new(v.unwrap());
        let out = d.v.start(0).unwrap();
        d.absorb(out);
        d
    }
}

impl Driver {
    fn absorb(&mut self, outputs: Vec<Output>) {
        let mut work = outputs;
        while !work.is_empty() {
            let mut more = Vec::new();
            for output in work {
                match output {
                    Output::Persist(id, record) => {
                        self.records.push(record);
                        more.extend(self.v.handle(Event::Persisted(id), self.now_ms).unwrap());
                    }
                    Output::Finalized(f) => self.finalized.push(*f),
                    Output::ScheduleTimeout { id, after_ms } => {
                        self.next_timer += 1;
                        self.timers.insert((self.now_ms + after_ms, self.next_timer), id);
                    }
                    _ => {}
                }
            }
            work = more;
        }
    }

    fn run_to(&mut self, number: u64) {
        for _ in 0..10_000 {
            if self.v.finalized_number() >= number {
                return;
            }
            self.now_ms += 10;
            while let Some((&(at, seq), &id)) = self.timers.iter().next() {
                if at > self.now_ms {
                    break;
                }
                self.timers.remove(&(at, seq));
                let out = self.v.handle(Event::Timeout(id), self.now_ms).unwrap();
                self.absorb(out);
            }
            let out = self.v.handle(Event::Tick, self.now_ms).unwrap();
            self.absorb(out);
        }
        panic!("milestone {number} not reached; at {}", self.v.finalized_number());
    }
}

/// What the node would hand over: the milestones after the resume point that keeps `keep`.
fn persisted_keeping(d: &Driver, keep: u64) -> Persisted<MemoryStore, MemoryBackend> {
    let height = d.v.finalized_number();
    let resumed = resume_point(&d.records, height, d.v.consensus().epoch(), 0, keep);
    let at = resumed as usize;
    Persisted {
        store: d.v.dag().store().clone(),
        state: d.v.state().clone(),
        resumed: at.checked_sub(1).map(|i| d.finalized[i].header.clone()),
        milestones: d.finalized[at..].to_vec(),
        committees: Vec::new(),
        records: d.records.clone(),
    }
}

/// The whole chain.
fn persisted(d: &Driver) -> Persisted<MemoryStore, MemoryBackend> {
    persisted_keeping(d, u64::MAX)
}

fn genesis() -> GenesisConfig {
    genesis_config(1).unwrap()
}

#[test]
fn a_restored_validator_keeps_its_chain_pending_pool_and_goes_on_finalising() {
    let pairs = dev_pairs().unwrap();
    let (alice, bob) = (&pairs[0], pairs[1].public());
    let mut d = Driver::started(ChainConfig::default(), alice);
    let g = d.v.genesis_hash();
    let first = transfer(alice, g, 0, bob, 5 * UNITS_PER_ITC);
    let out = d.v.submit_transaction(first.clone(), d.now_ms).unwrap().outputs;
    d.absorb(out);
    d.run_to(2);
    // A transaction attached but not yet confirmed when the node stops.
    let second = transfer(alice, g, 1, bob, 7 * UNITS_PER_ITC);
    d.v.submit_transaction(second.clone(), d.now_ms).unwrap();
    let height = d.v.finalized_number();
    let bob_before = d.v.account(&bob).unwrap();

    let mut r = Driver::new(
        V::restore(ChainConfig::default(), alice.clone(), &genesis(), 0, persisted(&d)).unwrap(),
    );
    r.now_ms = d.now_ms;
    r.records = d.records.clone();
    assert_eq!(r.v.finalized_number(), height);
    assert_eq!(r.v.latest_finalized(), d.v.latest_finalized());
    assert_eq!(r.v.account(&bob).unwrap(), bob_before);
    assert!(matches!(r.v.tx_status(&first.hash()).unwrap(), TxStatus::Finalized { .. }));
    assert!(matches!(r.v.tx_status(&second.hash()).unwrap(), TxStatus::Pending { .. }));
    assert_eq!(r.v.next_nonce(&alice.public()).unwrap(), 2);

    let out = r.v.start(r.now_ms).unwrap();
    r.absorb(out);
    r.run_to(height + 2);
    assert!(matches!(r.v.tx_status(&second.hash()).unwrap(), TxStatus::Finalized { .. }));
    assert_eq!(r.v.account(&bob).unwrap().data.free, bob_before.data.free + 7 * UNITS_PER_ITC);
}

#[test]
fn restore_refuses_a_state_that_does_not_match_the_milestones() {
    let pairs = dev_pairs().unwrap();
    let alice = &pairs[0];
    let mut d = Driver::started(ChainConfig::default(), alice);
    d.run_to(2);
    let mut p = persisted(&d);
    p.milestones.pop();
    let err = V::restore(ChainConfig::default(), alice.clone(), &genesis(), 0, p)
        .err()
        .expect("a state one version ahead of the milestones is refused");
    assert!(matches!(err, Error::Restore(_)), "{err}");
    assert!(err.to_string().contains("inconsistent"), "{err}");

    // Another genesis: the stored milestones do not chain up.
    let mut other = genesis();
    other.security_levels = vec![9];
    let err = V::restore(ChainConfig::default(), alice.clone(), &other, 0, persisted(&d))
        .err()
        .expect("milestones of another chain are refused");
    assert!(matches!(err, Error::Restore(_)), "{err}");
}

#[test]
fn a_validator_keeps_a_window_of_milestones_and_restores_from_that_window_alone() {
    let pairs = dev_pairs().unwrap();
    let (alice, bob) = (&pairs[0], pairs[1].public());
    let cfg = ChainConfig { retain_milestones: 4, ..ChainConfig::default() };
    let interval = cfg.consensus.checkpoint_interval;
    let mut d = Driver::started(cfg.clone(), alice);
    let g = d.v.genesis_hash();
    let old = transfer(alice, g, 0, bob, UNITS_PER_ITC);
    let out = d.v.submit_transaction(old.clone(), d.now_ms).unwrap().outputs;
    d.absorb(out);
    // Past two checkpoints, so that the log holds a stable one well after genesis.
    d.run_to(2 * interval + 3);
    let recent = transfer(alice, g, 1, bob, 2 * UNITS_PER_ITC);
    let out = d.v.submit_transaction(recent.clone(), d.now_ms).unwrap().outputs;
    d.absorb(out);
    let height = d.v.finalized_number() + 1;
    d.run_to(height);

    // Memory holds the last four milestones only; the first transfer left with its milestone.
    assert!(d.v.milestone(height - 4).is_none());
    assert!(d.v.milestone(height - 3).is_some());
    assert_eq!(d.v.latest_finalized().map(|m| m.header.number), Some(height));
    assert_eq!(d.v.tx_status(&old.hash()).unwrap(), TxStatus::Unknown);
    assert!(matches!(d.v.tx_status(&recent.hash()).unwrap(), TxStatus::Finalized { .. }));

    // Restored from the window (back to the log's stable checkpoint at most), not the chain.
    let p = persisted_keeping(&d, 4);
    let first = p.milestones.first().map(|m| m.header.number);
    assert!(first.is_some_and(|n| n > interval), "resumed too early: {first:?}");
    let mut r = Driver::new(V::restore(cfg, alice.clone(), &genesis(), 0, p).unwrap());
    r.now_ms = d.now_ms;
    r.records = d.records.clone();
    r.finalized = d.finalized.clone();
    assert_eq!(r.v.finalized_number(), height);
    assert_eq!(r.v.last_header(), d.v.last_header());
    assert!(matches!(r.v.tx_status(&recent.hash()).unwrap(), TxStatus::Finalized { .. }));
    assert_eq!(r.v.next_nonce(&alice.public()).unwrap(), 2);
    let out = r.v.start(r.now_ms).unwrap();
    r.absorb(out);
    // Past the next checkpoint, then a transfer finalised within the window.
    r.run_to(height + interval);
    let third = transfer(alice, g, 2, bob, 3 * UNITS_PER_ITC);
    let out = r.v.submit_transaction(third.clone(), r.now_ms).unwrap().outputs;
    r.absorb(out);
    let next = r.v.finalized_number() + 1;
    r.run_to(next);
    assert!(matches!(r.v.tx_status(&third.hash()).unwrap(), TxStatus::Finalized { .. }));
    assert_eq!(r.v.consensus().epoch(), d.v.consensus().epoch());
}

#[test]
fn restore_refuses_a_window_that_does_not_follow_its_resume_point() {
    let pairs = dev_pairs().unwrap();
    let alice = &pairs[0];
    let mut d = Driver::started(ChainConfig::default(), alice);
    d.run_to(6);
    let mut p = persisted(&d);
    // Milestone 2 handed over as if it came right after genesis.
    p.milestones.remove(0);
    let err = V::restore(ChainConfig::default(), alice.clone(), &genesis(), 0, p)
        .err()
        .expect("a gap in the window is refused");
    assert!(err.to_string().contains("does not follow milestone 0"), "{err}");
}

/// A milestone the persist log shows committed but the store does not hold yet (the node
/// stopped between its consensus record and its finalised write) is applied after the restart,
/// and only if its certificate verifies: it was not executed in this run, so nothing checked
/// the certificate yet.
#[test]
fn a_milestone_replayed_from_the_log_is_applied_only_with_a_valid_certificate() {
    let pairs = dev_pairs().unwrap();
    let (alice, bob) = (&pairs[0], pairs[1].public());
    let mut d = Driver::started(ChainConfig::default(), alice);
    d.run_to(2);
    let g = d.v.genesis_hash();
    let out = d.v.submit_transaction(transfer(alice, g, 0, bob, UNITS_PER_ITC), d.now_ms);
    d.absorb(out.unwrap().outputs);
    // The store as it was with the new vertex written ...
    let mut stored = persisted(&d);
    let next = d.v.finalized_number() + 1;
    d.run_to(next);
    // ... and the log as it was once the next milestone committed.
    stored.records = d.records.clone();
    let committed = d.v.latest_finalized().cloned();
    let restart = |records: Vec<PersistRecord>| {
        let p = Persisted { records, ..stored.clone() };
        let v = V::restore(ChainConfig::default(), alice.clone(), &genesis(), 0, p)?;
        let mut r = Driver::new(v);
        r.now_ms = d.now_ms;
        let out = r.v.start(r.now_ms)?;
        r.absorb(out);
        Ok::<_, Error>(r)
    };

    let r = restart(stored.records.clone()).unwrap();
    assert_eq!(r.v.latest_finalized().cloned(), committed);

    // Only the commit record speaks for that milestone (a lone validator would otherwise
    // commit it again from its own replayed pre-prepare and commit), with a signature altered.
    let about_next = |record: &PersistRecord| match record {
        PersistRecord::Sent(msg) => match &msg.body {
            Body::PrePrepare(pp) => pp.seq == next,
            Body::Prepare(v) | Body::Commit(v) => v.seq == next,
            _ => false,
        },
        PersistRecord::Prepared(cert) => cert.seq == next,
        _ => false,
    };
    let forged: Vec<PersistRecord> = stored
        .records
        .iter()
        .filter(|record| !about_next(record))
        .cloned()
        .map(|record| match record {
            PersistRecord::Committed { header, mut certificate } if header.number == next => {
                let mut signatures = certificate.signatures.into_inner();
                signatures[0].1 .0[0] ^= 1;
                certificate.signatures =
                    itc_primitives::codec::BoundedVec::new(signatures).unwrap();
                PersistRecord::Committed { header, certificate }
            }
            other => other,
        })
        .collect();
    let err = restart(forged).err().expect("a forged certificate is refused");
    assert!(matches!(err, Error::Certificate { number, .. } if number == next), "{err}");
}
