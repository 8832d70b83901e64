//! The persist log compacted at stable checkpoints restores the same replica as the whole log
//! (after the committed milestones, which the node replays from its store first).
use itc_consensus::{compact::compact, sim::Cluster, Action, Config, Input, Pbft, PersistRecord};

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

/// Actions with the replica's own fresh signatures (sr25519 signing is randomised) and persist
/// ids (a counter that counts replayed records too) left out.
fn shape(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .map(|a| match a {
            Action::Broadcast(m) => format!("broadcast {:?}", m.body),
            Action::Send(to, m) => format!("send {to} {:?}", m.body),
            Action::Persist(_, PersistRecord::Sent(m)) => format!("persist sent {:?}", m.body),
            Action::Persist(_, record) => format!("persist {record:?}"),
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
    let timer = a.iter().rev().find_map(|x| match x {
        Action::ScheduleTimeout { id, .. } => Some(*id),
        _ => None,
    });
    let timer = timer.unwrap_or_else(|| panic!("{what}: no timer armed"));
    let a = full.step(Input::TimeoutElapsed(timer));
    let b = small.step(Input::TimeoutElapsed(timer));
    assert_eq!(shape(&a), shape(&b), "{what}: view change");
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

#[test]
fn a_compacted_log_restores_the_same_replica_in_the_normal_case() {
    let mut c = Cluster::new(4, cfg());
    assert!(c.run_until_committed(&[0, 1, 2, 3], 30));
    check_all(&c, &[0, 1, 2, 3]);
}

#[test]
fn a_compacted_log_restores_the_same_replica_after_view_changes() {
    let mut c = Cluster::new(4, cfg());
    assert!(c.run_until_committed(&[0, 1, 2, 3], 10));
    c.crash(0);
    c.run(100_000);
    for i in 1..4 {
        c.fire_timeout(i);
    }
    let before = c.min_committed(&[1, 2, 3]);
    assert!(c.run_until_committed(&[1, 2, 3], before + 20));
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
