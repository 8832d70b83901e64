//! The deterministic simulator in the test suite: a modest number of seeds, reproducibility, and
//! proof that the checker has teeth (a weakened quorum is caught).
use itc_consensus::sim::{run, SimConfig, Violation};

/// Seeds every `cargo test` runs; the long run is the `sim` example.
const SEEDS: std::ops::Range<u64> = 0..16;

fn check_seeds(seeds: impl Iterator<Item = u64>) {
    let mut failures = Vec::new();
    let mut late_votes_dropped = 0;
    for seed in seeds {
        let out = run(SimConfig::for_seed(seed));
        assert!(out.committed > 0, "seed {seed} committed nothing");
        late_votes_dropped += out.late_votes_dropped;
        if !out.passed() {
            failures.push(format!(
                "seed {seed}: {:?} {:?}\n  replay: {}",
                out.violations,
                out.liveness_failure,
                out.replay_command()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The odd replicas drop late votes unchecked, as the node does: the seeds exercise it.
    assert!(late_votes_dropped > 0, "no late vote was dropped");
}

#[test]
fn default_seeds_keep_safety_and_liveness_even() {
    check_seeds(SEEDS.filter(|s| s % 2 == 0));
}

#[test]
fn default_seeds_keep_safety_and_liveness_odd() {
    check_seeds(SEEDS.filter(|s| s % 2 == 1));
}

#[test]
fn same_seed_gives_same_trace_hash() {
    let seed = 3u64;
    let a = run(SimConfig::for_seed(seed));
    let b = run(SimConfig::for_seed(seed));
    assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}");
    assert_eq!(a.events, b.events);
    assert_ne!(a.trace_hash, run(SimConfig::for_seed(seed + 100)).trace_hash);
}

#[test]
fn weakened_quorum_of_2f_is_caught_as_agreement_violation() {
    let mut caught = Vec::new();
    for seed in SEEDS {
        let mut cfg = SimConfig::for_seed(seed);
        let f = (cfg.n - 1) / 3;
        cfg.pbft.unsafe_quorum_for_tests = Some(2 * f);
        cfg.stop_on_violation = false;
        // Liveness is not what this test is about; keep the runs short.
        cfg.liveness_bound_ms = 2_000;
        let out = run(cfg);
        if out.violations.iter().any(|v| matches!(v, Violation::Agreement { .. })) {
            caught.push(seed);
            // One is proof enough; the rest of the suite's budget is better spent elsewhere.
            break;
        }
    }
    assert!(!caught.is_empty(), "no default seed caught the 2f quorum");
    println!("first default seed that caught the 2f quorum: {caught:?}");
}

#[test]
fn seed_314_catches_a_replica_restarted_without_its_fence() {
    // Seed 314 crashes a backup after its buffered prepare, and an equivocating primary offers
    // it the other header when it restarts: without the restart fence it prepares a second
    // digest, which an honest replica reports as evidence against it.
    let mut cfg = SimConfig::for_seed(314);
    cfg.pbft.unsafe_no_restart_fence_for_tests = true;
    let out = run(cfg);
    let false_evidence = |v: &Violation| matches!(v, Violation::Validity { reason, .. } if reason.contains("false evidence"));
    assert!(out.violations.iter().any(false_evidence), "{:?}", out.violations);
    let out = run(SimConfig::for_seed(314));
    assert!(out.passed(), "{:?} {:?}", out.violations, out.liveness_failure);
}

#[test]
fn seed_4540_a_replica_left_alone_in_a_higher_view_catches_up_from_the_stores() {
    // Seed 4540 leaves a replica changing to a view nobody else moves to while the others
    // finalise more milestones than their in-memory history keeps: only the caller's fetch from
    // a peer's store (the node's catch-up, modelled by the simulator) brings it along.
    let out = run(SimConfig::for_seed(4540));
    assert!(out.passed(), "{:?} {:?}", out.violations, out.liveness_failure);
}

#[test]
fn seed_141_stale_view_change_answers_do_not_storm() {
    // Seed 141 once grew its queue without bound: two replicas answered each other's stale view
    // changes, each answer begetting several more. It must pass with a small queue.
    let out = run(SimConfig::for_seed(141));
    assert!(out.passed(), "{:?} {:?}", out.violations, out.liveness_failure);
    assert!(out.max_queue < 1_000, "queue grew to {}", out.max_queue);
}

#[test]
fn guard_stops_a_run_that_exceeds_its_event_caps_as_a_liveness_failure() {
    let mut cfg = SimConfig::for_seed(0);
    cfg.max_queued = 20;
    let out = run(cfg);
    let why = out.liveness_failure.expect("the queue cap must stop the run");
    assert!(why.contains("event storm stopped by the guard"), "{why}");
    assert!(out.max_queue > 20 && out.events < 1_000, "{} events", out.events);

    let mut cfg = SimConfig::for_seed(0);
    cfg.max_events = 300;
    let out = run(cfg);
    let why = out.liveness_failure.expect("the event cap must stop the run");
    assert!(why.contains("300 events processed (cap 300)"), "{why}");
    assert_eq!(out.events, 300);
}

/// A seed's configuration with every fault off.
fn calm(seed: u64) -> SimConfig {
    let mut cfg = SimConfig::for_seed(seed);
    cfg.byzantine = 0;
    cfg.drop = 0.0;
    cfg.duplicate = 0.0;
    cfg.partitions = 0;
    cfg.crashes = 0;
    cfg.suspicions = 0;
    cfg.idle_spells = 0;
    cfg
}

#[test]
fn idle_spells_keep_the_view_and_spurious_suspicions_only_cost_view_changes() {
    for seed in 0..4 {
        // Idle spells of up to 4 s, eight base timeouts: the timers idle, no view changes.
        let mut cfg = calm(seed);
        cfg.idle_spells = 2;
        let out = run(cfg);
        assert!(out.passed(), "seed {seed}: {:?} {:?}", out.violations, out.liveness_failure);
        assert_eq!(out.view_changes, 0, "seed {seed}: an idle spell changed views");
        // Spurious suspicions: view changes, but safety and liveness hold.
        let mut cfg = calm(seed);
        cfg.suspicions = 3;
        let out = run(cfg);
        assert!(out.passed(), "seed {seed}: {:?} {:?}", out.violations, out.liveness_failure);
    }
}
