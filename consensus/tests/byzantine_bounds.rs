//! What stale, repeated or flooding input can cost a replica: a bounded number of answers and a
//! bounded amount of memory, whatever a faulty member sends (PBFT §4.4 retransmission of view
//! changes, §4.3 watermarks).
use itc_consensus::{
    message::{Body, Checkpoint, CheckpointProof, ViewChange, Vote},
    sim::{genesis_header, test_pair, Cluster},
    Action, Config, Input, SignedMessage, Status,
};
use itc_primitives::{codec::BoundedVec, Hash};

fn cfg() -> Config {
    Config {
        checkpoint_interval: 4,
        window: 8,
        base_timeout_ms: 100,
        max_timeout_ms: 1_000,
        ..Config::default()
    }
}

/// A view change of replica `i` for `new_view` from the genesis checkpoint, nothing prepared.
fn view_change(i: usize, new_view: u64) -> SignedMessage {
    let stable = CheckpointProof {
        checkpoint: Checkpoint { seq: 0, digest: genesis_header().hash() },
        signatures: BoundedVec::default(),
    };
    let vc = ViewChange { new_view, stable, prepared: BoundedVec::default() };
    SignedMessage::sign(&test_pair(i), 0, Body::ViewChange(vc))
}

/// Every replica of a 4-cluster is in view 5 with its own view changes for views 1 to 5; the
/// new-view messages were lost, so the backups are still changing view.
fn cluster_in_view_5() -> Cluster {
    let mut c = Cluster::new(4, cfg());
    c.queue.clear();
    c.filter = Box::new(|_, _, m| !matches!(m.body, Body::NewView(_)));
    for _ in 0..5 {
        for i in 0..4 {
            c.fire_timeout(i);
        }
        c.run(10_000);
    }
    for (i, r) in c.replicas.iter().enumerate() {
        // Replica 1, the primary of view 5, made the (lost) new-view message and is in it.
        let status = if i == 1 { Status::Normal } else { Status::ViewChanging };
        assert_eq!((r.view(), r.status()), (5, status), "replica {i}");
    }
    c.filter = Box::new(|_, _, _| true);
    c.record = true;
    c.trace.clear();
    c
}

/// The view-change messages replica `from` sent to replica `to`, by view.
fn view_changes_sent(c: &Cluster, from: usize, to: usize) -> Vec<u64> {
    c.trace
        .iter()
        .filter_map(|(i, a)| match a {
            Action::Send(k, m) if *i == from && *k == c.keys[to] => match &m.body {
                Body::ViewChange(vc) => Some(vc.new_view),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[test]
fn s4_4_stale_view_change_is_answered_and_the_answers_die_out() {
    let mut c = cluster_in_view_5();
    // Replica 3's view change for view 2 reaches replica 2 late (a duplicate or a
    // retransmission). Both replicas are past view 2, so every answer is stale for its
    // receiver too: the exchange must still end, not answer answers forever.
    let stale = view_change(3, 2);
    let key = c.keys[3];
    c.input(2, Input::Message(key, stale));
    let delivered = c.run(1_000);
    assert!(delivered < 1_000 && c.queue.is_empty(), "message storm: {delivered} deliveries");
    // Replica 2 resent its view changes from view 2 up, so the sender could complete a quorum
    // in its view or follow to a later one; replica 3 did the same once, and that was all.
    assert_eq!(view_changes_sent(&c, 2, 3), vec![2, 3, 4, 5]);
    assert_eq!(view_changes_sent(&c, 3, 2), vec![2, 3, 4, 5]);
    assert_eq!(delivered, 8);
}

#[test]
fn s4_4_repeated_stale_view_changes_get_each_answer_once_per_timer_period() {
    let mut c = cluster_in_view_5();
    let key = c.keys[3];
    // A faulty member repeats stale view changes for every old view, many times.
    for round in 0..20u64 {
        for v in 0..5 {
            let actions = c.replicas[2].step(Input::Message(key, view_change(3, v)));
            let sends = actions.iter().filter(|a| matches!(a, Action::Send(..))).count();
            if round > 0 {
                assert_eq!(sends, 0, "round {round}, view {v}: answered again in one period");
            }
        }
    }
    // When the timer restarts (here: the view change to view 6), the replica answers again.
    c.fire_timeout(2);
    assert_eq!(c.replicas[2].view(), 6);
    let actions = c.replicas[2].step(Input::Message(key, view_change(3, 4)));
    let answered: Vec<u64> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(_, m) => match &m.body {
                Body::ViewChange(vc) => Some(vc.new_view),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(answered, vec![4, 5, 6]);
}

#[test]
fn s4_3_flood_from_a_faulty_member_leaves_the_replica_memory_bounded() {
    let mut c = Cluster::new(4, cfg());
    c.queue.clear();
    let faulty = test_pair(3);
    let key = faulty.public();
    let before = c.replicas[1].retained_messages();
    // Everything a faulty member can sign: view changes for far future views, votes (two
    // conflicting digests each) for many views and numbers, checkpoints far above the window.
    let flood = |c: &mut Cluster, views: std::ops::Range<u64>| {
        for v in views {
            let _ = c.replicas[1].step(Input::Message(key, view_change(3, v * 10)));
            for seq in 1..=12 {
                for digest in [Hash([1; 32]), Hash([2; 32])] {
                    for body in [
                        Body::Prepare(Vote { view: v, seq, digest }),
                        Body::Commit(Vote { view: v, seq, digest }),
                    ] {
                        let m = SignedMessage::sign(&faulty, 0, body);
                        let _ = c.replicas[1].step(Input::Message(key, m));
                    }
                }
            }
            let cp = Checkpoint { seq: 4 * (v + 1), digest: Hash([3; 32]) };
            let m = SignedMessage::sign(&faulty, 0, Body::Checkpoint(cp));
            let _ = c.replicas[1].step(Input::Message(key, m));
        }
    };
    flood(&mut c, 0..12);
    let after_one = c.replicas[1].retained_messages();
    flood(&mut c, 12..24);
    let after_two = c.replicas[1].retained_messages();
    // Per faulty member: 6 future-view view changes (views 10 to 60; above 64 ahead they are
    // dropped), 5 acceptable views x
    // 8 numbers in the window x 2 kinds x (vote + detector entry + evidence report), and 8
    // checkpoints below 4 windows x (vote + detector entry + evidence report).
    let bound = 7 + 5 * 8 * 2 * 3 + 8 * 3;
    assert!(after_one - before <= bound, "{} entries retained from one peer", after_one - before);
    assert_eq!(after_two, after_one, "a second, larger flood must not grow memory");
    assert_eq!(c.replicas[1].view(), 0, "one faulty member cannot move the view");
    assert_eq!(c.replicas[1].status(), Status::Normal);
}
