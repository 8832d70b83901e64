//! The persist log compacted at stable checkpoints restores the same replica as the whole log
//! (after the committed milestones, which the node replays from its store first), and so does
//! resuming after a recent milestone instead of replaying the chain from genesis.
use itc_consensus::compact::{compact, resume_point};
use itc_consensus::{sim::Cluster, Action, Config, Genesis, Input, Pbft, PersistRecord};
use itc_primitives::Hash;

fn cfg() -> Config {
    Config { checkpoint_interval: 4, window: 8, ..Config::default() }
}

/// The committed milestones of a log, as the node's store would replay them.
fn committed_of(log: &[PersistRecord]) -> Vec<PersistRecord> {
    log.iter().filter(|r| matches!(r, PersistRecord::Committed { .. })).cloned().collect()
}

fn restore(c: &Cluster, i: usize, committed: &[PersistRecord], log: &[PersistRecord]) -> Pbft {
    let records = committed.iter().chain(log).cloned();
    Pbft::restore(c.config().clone(), c.pairs[i].clone(), c.genesis().clone(), records).unwrap()
}

/// Actions with the replica's own fresh signatures (sr25519 signing is randomised), persist ids
/// and timer ids (counters that count replayed records and deliveries too) left out.
fn shape(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .map(|a| match a {
            Action::Broadcast(m) => format!("broadcast {:?}", m.body),
            Action::Send(to, m) => format!("send {to} {:?}", m.body),
            Action::Persist(_, PersistRecord::Sent(m)) => format!("persist sent {:?}", m.body),
            Action::Persist(_, record) => format!("persist {record:?}"),
            Action::ScheduleTimeout { after_ms, .. } => format!("timeout after {after_ms} ms"),
            other => format!("{other:?}"),
        })
        .collect()
}

/// Same view, status, watermarks and chain; the same messages resent at start; the same view
/// change (prepared certificates, checkpoint proof) when the timer fires.
fn assert_equivalent(mut full: Pbft, mut small: Pbft, what: &str) {
    assert_eq!(full.view(), small.view(), "{what}: view");
    assert_eq!(full.status(), small.status(), "{what}: status");
    assert_eq!(full.epoch(), small.epoch(), "{what}: epoch");
    assert_eq!(full.last_committed(), small.last_committed(), "{what}: last committed");
    assert_eq!(full.low_watermark(), small.low_watermark(), "{what}: low watermark");
    let (a, b) = (full.start(), small.start());
    assert_eq!(shape(&a), shape(&b), "{what}: start");
    let timer = |actions: &[Action]| {
        let id = actions.iter().rev().find_map(|x| match x {
            Action::ScheduleTimeout { id, .. } => Some(*id),
            _ => None,
        });
        id.unwrap_or_else(|| panic!("{what}: no timer armed"))
    };
    let a = full.step(Input::TimeoutElapsed(timer(&a)));
    let b = small.step(Input::TimeoutElapsed(timer(&b)));
    assert_eq!(shape(&a), shape(&b), "{what}: view change");
}

/// Restores replica `i` after milestone `resumed` of epoch 0 (based at genesis): the committed
/// milestones after it, then `log`.
fn restore_after(
    c: &Cluster,
    i: usize,
    resumed: u64,
    committed: &[PersistRecord],
    log: &[PersistRecord],
) -> Pbft {
    let hash = match resumed {
        0 => c.genesis().base_hash,
        n => match &committed[n as usize - 1] {
            PersistRecord::Committed { header, .. } => header.hash(),
            other => panic!("not a committed milestone: {other:?}"),
        },
    };
    let after = committed[resumed as usize..].iter().chain(log).cloned();
    Pbft::restore_after(
        c.config().clone(),
        c.pairs[i].clone(),
        c.genesis().clone(),
        (resumed, hash),
        after,
    )
    .unwrap()
}

/// For several retention depths: resuming at [`resume_point`] with the whole log and with the
/// compacted one rebuilds the replica that replaying everything does.
fn check_resumed(c: &Cluster, set: &[usize]) {
    for &i in set {
        let log = &c.store[i];
        let committed = committed_of(log);
        let height = committed.len() as u64;
        let epoch = restore(c, i, &committed, log).epoch();
        let compacted = compact(log.clone(), height, epoch);
        for keep in [0, 1, 5, 12, 1_000] {
            let resumed = resume_point(&compacted, height, epoch, 0, keep);
            assert!(resumed <= height.saturating_sub(keep), "replica {i}, keep {keep}: {resumed}");
            for (name, records) in [("whole log", log), ("compacted log", &compacted)] {
                let full = restore(c, i, &committed, log);
                let resumed_replica = restore_after(c, i, resumed, &committed, records);
                let what = format!("replica {i}, keep {keep}, resumed after {resumed}, {name}");
                assert_equivalent(full, resumed_replica, &what);
            }
        }
    }
}

fn check_all(c: &Cluster, set: &[usize]) {
    for &i in set {
        let log = &c.store[i];
        let committed = committed_of(log);
        let full = restore(c, i, &committed, log);
        let compacted = compact(log.clone(), committed.len() as u64, full.epoch());
        assert!(
            compacted.len() * 3 < log.len(),
            "replica {i}: {} of {} records kept",
            compacted.len(),
            log.len()
        );
        let small = restore(c, i, &committed, &compacted);
        assert_equivalent(full, small, &format!("replica {i}"));
    }
}

/// A cluster whose primary crashed after 10 milestones: the others changed view and committed
/// 20 more.
fn after_view_changes() -> Cluster {
    let mut c = Cluster::new(4, cfg());
    assert!(c.run_until_committed(&[0, 1, 2, 3], 10));
    c.crash(0);
    c.run(100_000);
    for i in 1..4 {
        c.fire_timeout(i);
    }
    let before = c.min_committed(&[1, 2, 3]);
    assert!(c.run_until_committed(&[1, 2, 3], before + 20));
    c
}

#[test]
fn a_compacted_log_restores_the_same_replica_in_the_normal_case() {
    let mut c = Cluster::new(4, cfg());
    assert!(c.run_until_committed(&[0, 1, 2, 3], 30));
    check_all(&c, &[0, 1, 2, 3]);
}

#[test]
fn a_compacted_log_restores_the_same_replica_after_view_changes() {
    let c = after_view_changes();
    assert!(c.replicas[1].view() >= 1);
    check_all(&c, &[1, 2, 3]);
}

#[test]
fn compacting_again_after_more_records_still_restores_the_same_replica() {
    // The node compacts at every stable checkpoint: compact(compact(old) ++ new).
    let mut c = Cluster::new(4, cfg());
    assert!(c.run_until_committed(&[0, 1, 2, 3], 13));
    let prefix: Vec<Vec<PersistRecord>> = c.store.clone();
    assert!(c.run_until_committed(&[0, 1, 2, 3], 29));
    for i in 0..4 {
        let log = &c.store[i];
        let committed = committed_of(log);
        let full = restore(&c, i, &committed, log);
        let first_height = committed_of(&prefix[i]).len() as u64;
        let mut twice = compact(prefix[i].clone(), first_height, full.epoch());
        twice.extend(log[prefix[i].len()..].iter().cloned());
        let twice = compact(twice, committed.len() as u64, full.epoch());
        let small = restore(&c, i, &committed, &twice);
        assert_equivalent(full, small, &format!("replica {i}"));
    }
}

#[test]
fn resuming_after_a_recent_milestone_restores_the_same_replica_as_replaying_the_chain() {
    let mut c = Cluster::new(4, cfg());
    assert!(c.run_until_committed(&[0, 1, 2, 3], 30));
    check_resumed(&c, &[0, 1, 2, 3]);
}

#[test]
fn resuming_restores_the_same_replica_after_view_changes() {
    let c = after_view_changes();
    check_resumed(&c, &[1, 2, 3]);
}

#[test]
fn resuming_before_the_epoch_base_is_refused() {
    let c = Cluster::new(4, cfg());
    let genesis = c.genesis().clone();
    let later = Genesis { base_number: 8, ..genesis };
    let err =
        Pbft::restore_after(c.config().clone(), c.pairs[0].clone(), later, (7, Hash::ZERO), [])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
    assert!(err.contains("precedes the base 8"), "{err}");
}
