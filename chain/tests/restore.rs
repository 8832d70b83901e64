//! Restart: a validator reopened from its DAG store, state, finalised milestones and persist
//! log carries on where it stopped.
use std::collections::BTreeMap;

use itc_chain::{
    sim::{genesis_config, transfer},
    ChainConfig, Error, Event, Output, Persisted, TxStatus, Validator,
};
use itc_consensus::{PersistRecord, TimerId};
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

fn persisted(d: &Driver) -> Persisted<MemoryStore, MemoryBackend> {
    Persisted {
        store: d.v.dag().store().clone(),
        state: d.v.state().clone(),
        milestones: (1..=d.v.finalized_number())
            .map(|n| d.v.milestone(n).unwrap().clone())
            .collect(),
        records: d.records.clone(),
    }
}

fn genesis() -> GenesisConfig {
    genesis_config(1).unwrap()
}

#[test]
fn a_restored_validator_keeps_its_chain_pending_pool_and_goes_on_finalising() {
    let pairs = dev_pairs().unwrap();
    let (alice, bob) = (&pairs[0], pairs[1].public());
    let v = V::new(ChainConfig::default(), alice.clone(), &genesis(), 0, MemoryStore::new(), {
        MemoryBackend::new()
    })
    .unwrap();
    let mut d =
        Driver { v, now_ms: 0, timers: BTreeMap::new(), next_timer: 0, records: Vec::new() };
    let out = d.v.start(0).unwrap();
    d.absorb(out);
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

    let mut r = Driver {
        v: V::restore(ChainConfig::default(), alice.clone(), &genesis(), 0, persisted(&d)).unwrap(),
        now_ms: d.now_ms,
        timers: BTreeMap::new(),
        next_timer: 0,
        records: d.records.clone(),
    };
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
    let v = V::new(ChainConfig::default(), alice.clone(), &genesis(), 0, MemoryStore::new(), {
        MemoryBackend::new()
    })
    .unwrap();
    let mut d =
        Driver { v, now_ms: 0, timers: BTreeMap::new(), next_timer: 0, records: Vec::new() };
    let out = d.v.start(0).unwrap();
    d.absorb(out);
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
