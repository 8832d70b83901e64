//! One test per protocol rule, named after the section of Castro & Liskov (OSDI'99 / TOCS'02)
//! it checks. The cluster is lock-step and in memory (`itc_consensus::sim::Cluster`).
use itc_consensus::{
    message::{Body, CertifiedMilestone, PrePrepare, Vote},
    sim::{committee_of, make_header, test_pair, Cluster, INVALID_VERTEX_COUNT},
    Action, Config, Input, PersistRecord, SignedMessage, Status,
};
use itc_primitives::{Hash, MilestoneHeader};

fn cfg() -> Config {
    Config { checkpoint_interval: 4, window: 8, ..Config::default() }
}

/// Runs until `count` milestones are committed by every replica in `set` (or messages run out).
fn run_until(c: &mut Cluster, set: &[usize], count: usize) {
    while c.min_committed(set) < count {
        if c.run(1) == 0 {
            break;
        }
    }
}

fn assert_same_chain(c: &Cluster, set: &[usize]) {
    let first = &c.committed[set[0]];
    for &i in set {
        for (k, (mine, theirs)) in c.committed[i].iter().zip(first).enumerate() {
            assert_eq!(mine.0, theirs.0, "replica {i} differs at {k}");
        }
    }
}

#[test]
fn s4_2_normal_case_commits_in_order_with_verifying_certificates() {
    let mut c = Cluster::new(4, cfg());
    run_until(&mut c, &[0, 1, 2, 3], 6);
    let committee = c.replicas[0].committee().clone();
    for i in 0..4 {
        assert!(c.committed[i].len() >= 6, "replica {i} committed {}", c.committed[i].len());
        let mut parent = c.committed[0][0].0.parent;
        for (k, (header, cert)) in c.committed[i].iter().enumerate() {
            assert_eq!(header.number, k as u64 + 1);
            assert_eq!(header.parent, parent);
            parent = header.hash();
            cert.verify(header, &committee).unwrap();
            assert!(cert.signatures.len() >= committee.quorum());
        }
    }
    assert_same_chain(&c, &[0, 1, 2, 3]);
    assert!(c.evidence.iter().all(Vec::is_empty));
}

#[test]
fn s4_2_a_quorum_of_2f_plus_1_is_needed_to_commit() {
    // With two of four replicas cut off, the other two cannot commit anything.
    let mut c = Cluster::new(4, cfg());
    c.filter = Box::new(|from, to, _| from < 2 && to < 2);
    c.run(10_000);
    assert!(c.committed.iter().all(Vec::is_empty));
    // Three of four suffice.
    let mut c = Cluster::new(4, cfg());
    c.filter = Box::new(|from, to, _| from != 3 && to != 3);
    run_until(&mut c, &[0, 1, 2], 3);
    assert!(c.min_committed(&[0, 1, 2]) >= 3);
    assert!(c.committed[3].is_empty());
}

#[test]
fn s4_2_backup_accepts_pre_prepare_only_from_the_primary() {
    let mut c = Cluster::new(4, cfg());
    c.queue.clear();
    let header = make_header(1, c.replicas[1].last_committed().1, 0, c.keys[2], 0, None);
    let forged = SignedMessage::sign(
        &test_pair(2),
        0,
        Body::PrePrepare(PrePrepare { view: 0, seq: 1, header }),
    );
    let actions = c.replicas[1].step(Input::Message(c.keys[2], forged));
    assert!(actions.is_empty(), "a pre-prepare from a backup must be ignored: {actions:?}");
    assert_eq!(c.replicas[1].stats().rejected, 1);
}

#[test]
fn s4_2_messages_are_held_until_persisted() {
    let mut c = Cluster::new(4, cfg());
    // Take replica 0's pre-prepare and feed it to replica 1 by hand.
    let (_, _, pp) = c
        .queue
        .iter()
        .find(|(f, t, m)| *f == 0 && *t == 1 && matches!(m.body, Body::PrePrepare(_)))
        .cloned()
        .unwrap();
    let mut actions = c.replicas[1].step(Input::Message(c.keys[0], pp));
    let Some(Action::Validate(h)) = actions.pop() else { panic!("expected validation") };
    let actions = c.replicas[1].step(Input::Validated { seq: 1, digest: h.hash(), ok: true });
    let id = match actions.as_slice() {
        [Action::Persist(id, PersistRecord::Sent(m))] => {
            assert!(matches!(m.body, Body::Prepare(_)));
            *id
        }
        other => panic!("expected only a persist, got {other:?}"),
    };
    let actions = c.replicas[1].step(Input::Persisted(id));
    assert!(
        matches!(actions.as_slice(), [Action::Broadcast(m)] if matches!(m.body, Body::Prepare(_)))
    );
}

#[test]
fn s4_3_pre_prepare_above_the_high_watermark_is_not_accepted() {
    let mut c = Cluster::new(4, cfg());
    c.queue.clear();
    let high = c.replicas[1].high_watermark();
    let header = make_header(high + 1, Hash([1; 32]), 0, c.keys[0], 0, None);
    let pp = SignedMessage::sign(
        &test_pair(0),
        0,
        Body::PrePrepare(PrePrepare { view: 0, seq: high + 1, header }),
    );
    let actions = c.replicas[1].step(Input::Message(c.keys[0], pp));
    // The replica only asks the far-ahead primary for state; it does not validate or vote.
    assert!(actions
        .iter()
        .all(|a| matches!(a, Action::Send(_, m) if matches!(m.body, Body::StateRequest { .. }))));
}

#[test]
fn s4_3_checkpoints_become_stable_and_garbage_is_collected() {
    let mut c = Cluster::new(4, cfg());
    run_until(&mut c, &[0, 1, 2, 3], 13);
    c.run(10_000);
    for r in &c.replicas {
        assert!(r.low_watermark() >= 12, "low watermark {}", r.low_watermark());
        assert_eq!(r.low_watermark() % 4, 0);
        assert_eq!(r.high_watermark(), r.low_watermark() + 8);
        // Only slots above the stable checkpoint remain.
        assert!(r.log_len() <= 8 * 3, "log of {} entries", r.log_len());
    }
    let stable = c.store[0].iter().filter(|r| matches!(r, PersistRecord::Stable { .. })).count();
    assert!(stable >= 3, "{stable} stable checkpoints persisted");
}

#[test]
fn s4_3_progress_stops_at_the_high_watermark_without_checkpoints() {
    let mut c = Cluster::new(4, cfg());
    c.filter = Box::new(|_, _, m| !matches!(m.body, Body::Checkpoint(_)));
    c.run(100_000);
    for i in 0..4 {
        assert_eq!(c.committed[i].len(), 8, "replica {i} must stop at the window of 8");
        assert_eq!(c.replicas[i].low_watermark(), 0);
    }
}

#[test]
fn s4_4_silent_primary_is_replaced_by_view_change() {
    let mut c = Cluster::new(4, cfg());
    run_until(&mut c, &[0, 1, 2, 3], 2);
    c.crash(0);
    c.run(100_000);
    let before = c.min_committed(&[1, 2, 3]);
    for i in 1..4 {
        c.fire_timeout(i);
    }
    run_until(&mut c, &[1, 2, 3], before + 3);
    for i in 1..4 {
        assert_eq!(c.replicas[i].view(), 1);
        assert_eq!(c.replicas[i].status(), Status::Normal);
        assert!(c.committed[i].len() >= before + 3);
    }
    assert_same_chain(&c, &[1, 2, 3]);
    let proposer = c.committed[1].last().unwrap().0.proposer;
    assert_eq!(proposer, c.keys[1], "the primary of view 1 is replica 1");
}

#[test]
fn s4_4_invalid_proposal_makes_backups_change_view() {
    let mut c = Cluster::with_members(4, &[0, 1, 2, 3], cfg());
    let keys = c.keys.clone();
    c.proposer = Box::new(move |i, seq, parent, epoch| {
        let mut h = make_header(seq, parent, epoch, keys[i], 0, None);
        if i == 0 {
            h.vertex_count = INVALID_VERTEX_COUNT;
        }
        h
    });
    c.start_all();
    run_until(&mut c, &[1, 2, 3], 2);
    for i in 1..4 {
        assert!(c.replicas[i].view() >= 1, "replica {i} stayed in view 0");
        assert!(c.committed[i].iter().all(|(h, _)| h.vertex_count != INVALID_VERTEX_COUNT));
        assert!(c.committed[i].len() >= 2);
    }
}

/// A cluster whose commits never arrive, run until quiet: nothing is final, milestone 1 and,
/// pipelined on it, milestone 2 are prepared everywhere.
fn cluster_without_commits() -> Cluster {
    let mut c = Cluster::new(4, cfg());
    c.filter = Box::new(|_, _, m| !matches!(m.body, Body::Commit(_)));
    c.run(100_000);
    assert!(c.committed.iter().all(Vec::is_empty));
    c
}

#[test]
fn s4_4_new_primary_re_proposes_the_prepared_value() {
    let mut c = cluster_without_commits();
    let prepared: Vec<MilestoneHeader> = c.store[1]
        .iter()
        .filter_map(|r| match r {
            PersistRecord::Prepared(cert) => Some(cert.header.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(prepared.iter().map(|h| h.number).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(prepared[1].parent, prepared[0].hash());
    c.filter = Box::new(|_, _, _| true);
    for i in 0..4 {
        c.fire_timeout(i);
    }
    run_until(&mut c, &[0, 1, 2, 3], 3);
    for i in 0..4 {
        for ((header, cert), expected) in c.committed[i].iter().zip(&prepared) {
            assert_eq!(header, expected, "replica {i} must commit the prepared header");
            assert_eq!(cert.view, 1, "committed in the new view");
        }
    }
}

#[test]
fn s4_4_view_change_timeout_doubles_until_a_new_view_succeeds() {
    let mut c = Cluster::new(4, Config { base_timeout_ms: 100, max_timeout_ms: 1_000, ..cfg() });
    c.queue.clear();
    // New-view messages are lost: every view fails.
    c.filter = Box::new(|_, _, m| !matches!(m.body, Body::NewView(_)));
    c.record = true;
    let mut seen = Vec::new();
    for _ in 0..5 {
        c.trace.clear();
        for i in 0..4 {
            c.fire_timeout(i);
        }
        c.run(10_000);
        let after = c.trace.iter().find_map(|(i, a)| match a {
            Action::ScheduleTimeout { after_ms, .. } if *i == 2 => Some(*after_ms),
            _ => None,
        });
        seen.push(after.unwrap());
    }
    assert_eq!(seen, vec![200, 400, 800, 1_000, 1_000]);
    assert_eq!(c.replicas[2].view(), 5);
    assert_eq!(c.replicas[2].status(), Status::ViewChanging);
}

#[test]
fn s4_4_the_timer_suspects_the_primary_only_while_work_waits() {
    let mut c = Cluster::new(4, cfg());
    // The primary's first pre-prepare is held back; the backups have nothing to propose.
    let held: Vec<_> = c.queue.drain(..).collect();
    for i in 1..4 {
        c.input(i, Input::Pending(false));
    }
    for _ in 0..3 {
        c.fire_timeout(2);
    }
    assert_eq!((c.replicas[2].view(), c.replicas[2].status()), (0, Status::Normal));
    assert_eq!(c.replicas[2].stats().view_changes, 0, "an idle chain keeps its view");
    let probes = c
        .queue
        .iter()
        .filter(|(f, _, m)| *f == 2 && matches!(m.body, Body::StateRequest { .. }))
        .count();
    assert_eq!(probes, 3 * 3, "each idle period still asks peers for missed milestones");
    c.queue.clear();

    // Work arrives at replica 1: its timer restarts, so the primary gets a whole period.
    let idle_timer = c.timers[1];
    c.input(1, Input::Pending(true));
    assert_ne!(c.timers[1], idle_timer, "pending work restarts the timer");
    let old = idle_timer.unwrap();
    c.input(1, Input::TimeoutElapsed(old));
    assert_eq!(c.replicas[1].status(), Status::Normal, "the idle period's timer is stale");
    c.fire_timeout(1);
    assert_eq!((c.replicas[1].view(), c.replicas[1].status()), (1, Status::ViewChanging));

    // A pre-prepare reaching an idle replica restarts its timer too, and is then waited for.
    let idle_timer = c.timers[3];
    let pp = held
        .into_iter()
        .find(|(_, to, m)| *to == 3 && matches!(m.body, Body::PrePrepare(_)))
        .unwrap();
    c.input(3, Input::Message(c.keys[pp.0], pp.2));
    assert_ne!(c.timers[3], idle_timer, "a proposal in flight restarts the timer");
    c.fire_timeout(3);
    assert_eq!((c.replicas[3].view(), c.replicas[3].status()), (1, Status::ViewChanging));
}

#[test]
fn s4_5_2_a_replica_alone_does_not_race_ahead_through_views() {
    let mut c = Cluster::new(4, cfg());
    c.queue.clear();
    c.fire_timeout(2);
    c.queue.clear();
    for _ in 0..5 {
        c.fire_timeout(2);
    }
    assert_eq!(c.replicas[2].view(), 1, "without 2f+1 view changes for view 1 it waits");
    // Meanwhile it retransmits its view change.
    let resent =
        c.queue.iter().filter(|(f, _, m)| *f == 2 && matches!(m.body, Body::ViewChange(_))).count();
    assert_eq!(resent, 5 * 3);
}

#[test]
fn s4_4_f_plus_1_view_changes_pull_a_replica_into_the_view_change() {
    let mut c = Cluster::new(4, cfg());
    c.queue.clear();
    c.fire_timeout(1);
    c.filter = Box::new(|from, to, _| from == 1 && to == 3);
    c.run(100);
    assert_eq!(c.replicas[3].status(), Status::Normal, "one view change is not enough");
    c.fire_timeout(2);
    c.filter = Box::new(|from, to, _| from == 2 && to == 3);
    c.run(100);
    assert_eq!(c.replicas[3].view(), 1);
    assert_eq!(c.replicas[3].status(), Status::ViewChanging);
}

#[test]
fn s4_4_view_change_with_a_forged_prepared_certificate_is_rejected() {
    let mut c = Cluster::new(4, cfg());
    c.queue.clear();
    c.fire_timeout(3);
    let (_, _, mut vc) = c
        .queue
        .iter()
        .find(|(f, t, m)| *f == 3 && *t == 1 && matches!(m.body, Body::ViewChange(_)))
        .cloned()
        .unwrap();
    c.queue.clear();
    if let Body::ViewChange(v) = &mut vc.body {
        let header = make_header(1, Hash::ZERO, 0, c.keys[0], 0, None);
        v.prepared =
            itc_primitives::codec::BoundedVec::new(vec![itc_consensus::message::PreparedCert {
                view: 0,
                seq: 1,
                header,
                pre_prepare_sig: Default::default(),
                prepares: Default::default(),
            }])
            .unwrap();
    }
    let resigned = SignedMessage::sign(&test_pair(3), 0, vc.body.clone());
    let before = c.replicas[1].stats().rejected;
    c.input(1, Input::Message(c.keys[3], resigned));
    assert_eq!(c.replicas[1].stats().rejected, before + 1);
}

#[test]
fn evidence_is_emitted_for_an_equivocating_primary_and_conflicting_votes() {
    let mut c = Cluster::new(4, cfg());
    c.queue.clear();
    let parent = c.replicas[1].last_committed().1;
    let p0 = test_pair(0);
    let pp = |salt| {
        let header = make_header(1, parent, 0, p0.public(), salt, None);
        SignedMessage::sign(&p0, 0, Body::PrePrepare(PrePrepare { view: 0, seq: 1, header }))
    };
    c.input(1, Input::Message(c.keys[0], pp(0)));
    c.input(1, Input::Message(c.keys[0], pp(1)));
    assert_eq!(c.evidence[1].len(), 1);
    assert!(c.evidence[1][0].is_valid());
    let p2 = test_pair(2);
    let vote = |b| Body::Commit(Vote { view: 0, seq: 1, digest: Hash([b; 32]) });
    c.input(1, Input::Message(c.keys[2], SignedMessage::sign(&p2, 0, vote(1))));
    c.input(1, Input::Message(c.keys[2], SignedMessage::sign(&p2, 0, vote(2))));
    c.input(1, Input::Message(c.keys[2], SignedMessage::sign(&p2, 0, vote(3))));
    assert_eq!(c.evidence[1].len(), 2, "one report per equivocation");
    let e = &c.evidence[1][1];
    assert!(e.is_valid());
    assert_eq!(e.first.sender, c.keys[2]);
    // Two identical messages are not evidence.
    let mut same = e.clone();
    same.second = same.first.clone();
    assert!(!same.is_valid());
}

#[test]
fn forged_and_garbage_messages_are_rejected_without_effect() {
    let mut c = Cluster::new(4, cfg());
    c.queue.clear();
    let outsider = test_pair(9);
    let vote = Body::Prepare(Vote { view: 0, seq: 1, digest: Hash([1; 32]) });
    // Not a member.
    let m = SignedMessage::sign(&outsider, 0, vote.clone());
    assert!(c.replicas[1].step(Input::Message(outsider.public(), m)).is_empty());
    // Transport peer differs from the claimed sender.
    let m = SignedMessage::sign(&test_pair(2), 0, vote.clone());
    assert!(c.replicas[1].step(Input::Message(c.keys[3], m.clone())).is_empty());
    // Bad signature.
    let mut bad = m;
    bad.signature.0[0] ^= 1;
    assert!(c.replicas[1].step(Input::Message(c.keys[2], bad)).is_empty());
    assert_eq!(c.replicas[1].stats().rejected, 3);
    // Random bytes never decode into something that panics the machine.
    let mut x: u64 = 0x1234_5678;
    for len in 0..400usize {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        if let Ok(msg) = SignedMessage::from_bytes(&bytes) {
            let from = msg.sender;
            let _ = c.replicas[1].step(Input::Message(from, msg));
        }
    }
    assert_eq!(c.replicas[1].last_committed().0, 0);
}

#[test]
fn state_transfer_catches_up_a_replica_that_missed_checkpoints() {
    let mut c = Cluster::new(4, cfg());
    c.filter = Box::new(|from, to, _| from != 3 && to != 3);
    run_until(&mut c, &[0, 1, 2], 20);
    assert!(c.committed[3].is_empty());
    assert!(c.replicas[0].low_watermark() >= 16, "the others garbage-collected");
    c.filter = Box::new(|_, _, _| true);
    c.fire_timeout(3);
    run_until(&mut c, &[3], 20);
    assert!(c.committed[3].len() >= 20, "caught up to {}", c.committed[3].len());
    assert_same_chain(&c, &[0, 1, 2, 3]);
    let committee = c.replicas[3].committee().clone();
    for (h, cert) in &c.committed[3] {
        cert.verify(h, &committee).unwrap();
    }
}

/// What replica `i` committed from index `from` on, as a peer's store would serve it.
fn certified_from(c: &Cluster, i: usize, from: usize) -> Vec<CertifiedMilestone> {
    c.committed[i][from..]
        .iter()
        .map(|(header, certificate)| CertifiedMilestone {
            header: header.clone(),
            certificate: certificate.clone(),
        })
        .collect()
}

#[test]
fn s5_3_certified_milestones_fetched_out_of_band_catch_up_a_replica() {
    // Replica 3 misses 20 milestones; the others keep only the last 4 in memory, so their
    // state-transfer answers cannot help. The caller fetches the certified milestones from a
    // peer's store instead and feeds them in.
    let mut c = Cluster::new(4, Config { retain_certified: 4, ..cfg() });
    c.filter = Box::new(|from, to, _| from != 3 && to != 3);
    run_until(&mut c, &[0, 1, 2], 20);
    assert!(c.committed[3].is_empty());
    let fetched = certified_from(&c, 0, 0)[..20].to_vec();

    // A forged certificate at 8 stops adoption there: 1..=7 are delivered, nothing after.
    let mut forged = fetched.clone();
    forged[7].certificate.signatures = forged[6].certificate.signatures.clone();
    c.input(3, Input::Certified(forged));
    assert_eq!(c.replicas[3].last_committed().0, 7);
    assert_eq!(c.committed[3].len(), 7);

    // Duplicates are skipped, a gap stops adoption, the rest is delivered in order.
    c.input(3, Input::Certified(fetched[10..].to_vec()));
    assert_eq!(c.replicas[3].last_committed().0, 7, "a gap is not bridged");
    c.input(3, Input::Certified(fetched.clone()));
    assert_eq!(c.replicas[3].last_committed().0, 20);
    assert_same_chain(&c, &[0, 3]);

    // Reconnected, it keeps up with the others; whenever it falls behind their memory again,
    // the caller fetches what it missed, as the node does when its height stops moving.
    c.filter = Box::new(|_, _, _| true);
    c.fire_timeout(3);
    for _ in 0..100 {
        if c.committed[3].len() >= 40 {
            break;
        }
        c.run(100);
        let missed = certified_from(&c, 0, c.committed[3].len());
        c.input(3, Input::Certified(missed));
    }
    assert!(c.committed[3].len() >= 40, "replica 3 at {}", c.committed[3].len());
    assert_same_chain(&c, &[0, 1, 2, 3]);
}

#[test]
fn crashed_replica_restarts_from_its_records_without_equivocating() {
    let mut c = Cluster::new(4, cfg());
    run_until(&mut c, &[0, 1, 2, 3], 3);
    c.crash(2);
    run_until(&mut c, &[0, 1, 3], 6);
    c.restart(2).unwrap();
    assert!(c.replicas[2].last_committed().0 >= 3, "restored its commits");
    run_until(&mut c, &[0, 1, 2, 3], 9);
    assert_same_chain(&c, &[0, 1, 2, 3]);
    assert!(c.evidence.iter().all(Vec::is_empty), "{:?}", c.evidence);
}

#[test]
fn epoch_boundary_hands_over_to_the_next_committee() {
    // Replicas 0..4 form epoch 0; replica 4 observes. Milestone 5 names epoch 1: 1, 2, 3, 4.
    let mut c = Cluster::with_members(5, &[0, 1, 2, 3], cfg());
    let keys = c.keys.clone();
    let next = committee_of(1, &keys[1..5]);
    let proposer_keys = keys.clone();
    c.proposer = Box::new(move |i, seq, parent, epoch| {
        let hand_over = (seq == 5).then(|| next.clone());
        make_header(seq, parent, epoch, proposer_keys[i], 0, hand_over)
    });
    c.start_all();
    run_until(&mut c, &[1, 2, 3, 4], 9);
    for i in 1..5 {
        let chain = &c.committed[i];
        assert!(chain.len() >= 9, "replica {i} committed {}", chain.len());
        assert_eq!(c.replicas[i].epoch(), 1);
        for (h, _) in chain.iter().skip(5) {
            assert_eq!(h.epoch, 1);
            assert_ne!(h.proposer, keys[0], "replica 0 left the committee");
        }
        let new_committee = c.replicas[i].committee().clone();
        assert_eq!(new_committee.members.to_vec(), keys[1..5].to_vec());
        for (h, cert) in chain.iter().skip(5) {
            cert.verify(h, &new_committee).unwrap();
        }
    }
    assert_same_chain(&c, &[1, 2, 3, 4]);
}

#[test]
fn a_message_checked_before_relaying_is_not_verified_again() {
    // Gossip validation checks a signature before relaying; the replica reuses that check.
    let mut c = Cluster::new(4, cfg());
    c.queue.clear();
    let vote = |seq| Body::Prepare(Vote { view: 0, seq, digest: Hash([seq as u8; 32]) });
    let before = c.replicas[1].stats();
    let checked = SignedMessage::sign(&test_pair(2), 0, vote(1)).verified().unwrap();
    c.replicas[1].step(Input::Verified(c.keys[2], checked));
    let after = c.replicas[1].stats();
    assert_eq!(after.verifications, before.verifications);
    assert_eq!(after.verifications_reused, before.verifications_reused + 1);
    assert_eq!(after.rejected, before.rejected);
    // The same kind of message unchecked is verified by the replica.
    c.replicas[1].step(Input::Message(c.keys[2], SignedMessage::sign(&test_pair(2), 0, vote(2))));
    assert_eq!(c.replicas[1].stats().verifications, after.verifications + 1);
    // A bad signature never becomes a checked message.
    let mut bad = SignedMessage::sign(&test_pair(3), 0, vote(1));
    bad.signature.0[0] ^= 1;
    let back = bad.clone().verified().unwrap_err();
    assert_eq!(*back, bad);
    // A checked message still goes through membership and the other rules: an outsider's
    // well-signed vote is rejected.
    let outsider = test_pair(9);
    let m = SignedMessage::sign(&outsider, 0, vote(3)).verified().unwrap();
    assert!(c.replicas[1].step(Input::Verified(outsider.public(), m)).is_empty());
    assert_eq!(c.replicas[1].stats().rejected, after.rejected + 1);
}

#[test]
fn s4_4_backups_that_suspect_a_proposing_primary_replace_it() {
    // The primary keeps committing, so no timer expires; the callers' evidence (work left out)
    // moves the backups to the next view, whose primary then proposes.
    let mut c = Cluster::new(4, cfg());
    run_until(&mut c, &[0, 1, 2, 3], 2);
    // The primary and a replica already changing views ignore it.
    assert!(c.replicas[0].step(Input::Suspect).is_empty());
    for i in 1..4 {
        c.input(i, Input::Suspect);
        assert_eq!(c.replicas[i].view(), 1, "replica {i} did not move on");
    }
    assert!(c.replicas[1].step(Input::Suspect).is_empty());
    let before = c.min_committed(&[0, 1, 2, 3]);
    run_until(&mut c, &[0, 1, 2, 3], before + 2);
    assert!(c.min_committed(&[0, 1, 2, 3]) >= before + 2);
    for i in 0..4 {
        assert_eq!(c.replicas[i].view(), 1);
        assert_eq!(c.replicas[i].status(), Status::Normal);
    }
    assert_same_chain(&c, &[0, 1, 2, 3]);
}

#[test]
fn s5_3_state_requests_from_outside_the_committee_are_answered_a_few_times_per_period() {
    let mut c = Cluster::new(4, cfg());
    run_until(&mut c, &[0, 1, 2, 3], 3);
    c.queue.clear();
    let answers = |actions: &[Action]| {
        actions
            .iter()
            .filter(
                |a| matches!(a, Action::Send(_, m) if matches!(m.body, Body::StateResponse { .. })),
            )
            .count()
    };
    let request =
        |pair: &itc_primitives::Pair| SignedMessage::sign(pair, 0, Body::StateRequest { from: 1 });
    // Outsiders (each with its own key, as an attacker would) get OUTSIDER_STATE_ANSWERS in all.
    let mut answered = 0;
    for k in 0..10 {
        let outsider = test_pair(20 + k);
        let actions = c.replicas[1].step(Input::Message(outsider.public(), request(&outsider)));
        answered += answers(&actions);
    }
    assert_eq!(answered, itc_consensus::OUTSIDER_STATE_ANSWERS);
    // Members are always answered.
    for _ in 0..3 {
        let member = test_pair(2);
        let actions = c.replicas[1].step(Input::Message(member.public(), request(&member)));
        assert_eq!(answers(&actions), 1);
    }
    // A new timer period answers outsiders again.
    c.fire_timeout(1);
    let outsider = test_pair(40);
    let actions = c.replicas[1].step(Input::Message(outsider.public(), request(&outsider)));
    assert_eq!(answers(&actions), 1);
}

/// The prepare records a replica persisted for `(view, seq)`.
fn own_prepares(c: &Cluster, i: usize, view: u64, seq: u64) -> Vec<Hash> {
    c.store[i]
        .iter()
        .filter_map(|r| match r {
            PersistRecord::Sent(m) => match &m.body {
                Body::Prepare(v) if v.view == view && v.seq == seq => Some(v.digest),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Whether `actions` hold a prepare for `(view, seq)`.
fn prepares_in(actions: &[Action], view: u64, seq: u64) -> bool {
    actions.iter().any(|a| match a {
        Action::Persist(_, PersistRecord::Sent(m)) | Action::Broadcast(m) => {
            matches!(&m.body, Body::Prepare(v) if v.view == view && v.seq == seq)
        }
        _ => false,
    })
}

#[test]
fn restart_fence_a_replica_that_lost_its_buffered_prepare_does_not_prepare_again() {
    let mut c = Cluster::new(4, cfg());
    run_until(&mut c, &[0, 1, 2, 3], 2);
    // Replica 1 hears only pre-prepares and nobody hears it: it prepares milestone 3 (a
    // buffered record) but cannot go further, while 0, 2 and 3 finalise 3 and 4.
    c.filter =
        Box::new(|from, to, m| from != 1 && (to != 1 || matches!(m.body, Body::PrePrepare(_))));
    run_until(&mut c, &[0, 2, 3], 4);
    let parent = c.committed[1][1].0.hash();
    assert_eq!(c.replicas[1].last_committed().0, 2);
    assert_eq!(own_prepares(&c, 1, 0, 3).len(), 1, "replica 1 prepared milestone 3");
    c.crash_losing_buffered(1);
    assert!(own_prepares(&c, 1, 0, 3).is_empty(), "the crash took the prepare record");
    c.restart(1).unwrap();
    // A byzantine primary offers the restarted replica another header for the same slot.
    let p0 = test_pair(0);
    let header = make_header(3, parent, 0, p0.public(), 99, None);
    let pp = SignedMessage::sign(&p0, 0, Body::PrePrepare(PrePrepare { view: 0, seq: 3, header }));
    let actions = c.replicas[1].step(Input::Message(c.keys[0], pp));
    let validate = actions.iter().find_map(|a| match a {
        Action::Validate(h) => Some(h.clone()),
        _ => None,
    });
    let mut after = actions.clone();
    if let Some(h) = validate {
        after.extend(c.replicas[1].step(Input::Validated { seq: 3, digest: h.hash(), ok: true }));
    }
    assert!(!prepares_in(&after, 0, 3), "a fenced slot got a second prepare: {after:?}");
    // The fence costs no liveness: the others carry the fenced slots, and replica 1 catches up
    // and votes again above them.
    c.apply(1, after);
    c.filter = Box::new(|_, _, _| true);
    run_until(&mut c, &[0, 1, 2, 3], 8);
    assert_same_chain(&c, &[0, 1, 2, 3]);
    assert!(!own_prepares(&c, 1, 0, 7).is_empty(), "replica 1 prepares above the fence");
    assert!(c.evidence.iter().flatten().all(|e| e.first.sender != c.keys[1]));
}

#[test]
fn restart_fence_is_lifted_for_a_replica_whose_log_is_complete() {
    let mut c = Cluster::new(4, cfg());
    run_until(&mut c, &[0, 1, 2, 3], 2);
    c.queue.clear();
    let p0 = test_pair(0);
    let header = make_header(3, c.committed[1][1].0.hash(), 0, p0.public(), 5, None);
    let pp = SignedMessage::sign(&p0, 0, Body::PrePrepare(PrePrepare { view: 0, seq: 3, header }));
    // Offers milestone 3 to replica 1, validated, and says whether it prepared it.
    let prepares = |c: &mut Cluster| {
        let mut actions = c.replicas[1].step(Input::Message(c.keys[0], pp.clone()));
        let digest = actions.iter().find_map(|a| match a {
            Action::Validate(h) => Some(h.hash()),
            _ => None,
        });
        if let Some(digest) = digest {
            actions.extend(c.replicas[1].step(Input::Validated { seq: 3, digest, ok: true }));
        }
        prepares_in(&actions, 0, 3)
    };
    // Restored from its complete log (nothing buffered was lost), the fence still holds it back:
    // the replica cannot tell a complete log from a truncated one...
    c.restart(1).unwrap();
    assert_eq!(c.replicas[1].restart_fence(), Some((0, 0, 5)));
    assert!(!prepares(&mut c), "fenced");
    // ... unless the node knows it stopped cleanly, and lifts it.
    c.restart(1).unwrap();
    c.replicas[1].lift_restart_fence();
    assert_eq!(c.replicas[1].restart_fence(), None);
    assert!(prepares(&mut c), "a lifted fence lets the replica prepare in its view at once");
}

#[test]
fn restart_fence_a_view_entered_by_a_new_view_message_survives_the_restart() {
    let mut c = Cluster::new(4, cfg());
    run_until(&mut c, &[0, 1, 2, 3], 2);
    c.queue.clear();
    // 0, 1 and 2 change to view 1; replica 3 hears none of their view changes, only the new
    // primary's new-view message, so the new-view message is its only way into view 1.
    // Nobody hears replica 3, and it hears only pre-prepares and new views: its prepare of
    // milestone 3 in view 1 stays buffered behind its last synced record while the others
    // finalise milestone 3.
    c.filter = Box::new(|from, to, m| {
        from != 3 && (to != 3 || matches!(m.body, Body::PrePrepare(_) | Body::NewView(_)))
    });
    for i in 0..3 {
        c.fire_timeout(i);
    }
    run_until(&mut c, &[0, 1, 2], 3);
    assert_eq!((c.replicas[3].view(), c.replicas[3].status()), (1, Status::Normal));
    assert!(c.store[3].iter().all(|r| match r {
        PersistRecord::Sent(m) => !matches!(m.body, Body::ViewChange(_)),
        _ => true,
    }));
    let prepared = own_prepares(&c, 3, 1, 3);
    assert_eq!(prepared.len(), 1, "replica 3 prepared milestone 3 in view 1");
    c.crash_losing_buffered(3);
    c.queue.clear();
    c.restart(3).unwrap();
    assert_eq!(
        (c.replicas[3].view(), c.replicas[3].status()),
        (1, Status::Normal),
        "the restart comes back in the view entered through the new-view message"
    );
    let p1 = test_pair(1);
    let parent = c.committed[3][1].0.hash();
    let header = make_header(3, parent, 0, p1.public(), 7, None);
    assert_ne!(header.hash(), prepared[0]);
    let pp = SignedMessage::sign(&p1, 0, Body::PrePrepare(PrePrepare { view: 1, seq: 3, header }));
    let mut actions = c.replicas[3].step(Input::Message(c.keys[1], pp));
    let digests: Vec<Hash> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Validate(h) => Some(h.hash()),
            _ => None,
        })
        .collect();
    for digest in digests {
        actions.extend(c.replicas[3].step(Input::Validated { seq: 3, digest, ok: true }));
    }
    assert!(!prepares_in(&actions, 1, 3), "a fenced slot got a second prepare: {actions:?}");
}

#[test]
fn restart_fence_when_every_replica_restarts_at_once_costs_one_view_change() {
    let mut c = Cluster::new(4, cfg());
    run_until(&mut c, &[0, 1, 2, 3], 3);
    let before = c.min_committed(&[0, 1, 2, 3]);
    for i in 0..4 {
        c.crash_losing_buffered(i);
    }
    c.queue.clear();
    for i in 0..4 {
        c.restart(i).unwrap();
    }
    c.run(10_000);
    let fenced = c.replicas.iter().map(|r| r.last_committed().0).max().unwrap();
    assert!(fenced <= before as u64 + 1, "fenced backups let milestone {fenced} commit");
    for i in 0..4 {
        c.fire_timeout(i);
    }
    run_until(&mut c, &[0, 1, 2, 3], before + 4);
    assert!(c.min_committed(&[0, 1, 2, 3]) >= before + 4);
    assert!(c.replicas.iter().all(|r| r.view() == 1), "one view change");
    assert_same_chain(&c, &[0, 1, 2, 3]);
}

/// The `(kind, seq)` of the prepares and commits replica `i` broadcast, in order.
fn votes_sent(c: &Cluster, i: usize) -> Vec<(&'static str, u64)> {
    c.trace
        .iter()
        .filter(|(r, _)| *r == i)
        .filter_map(|(_, a)| match a {
            Action::Broadcast(m) => match &m.body {
                Body::Prepare(v) => Some(("prepare", v.seq)),
                Body::Commit(v) => Some(("commit", v.seq)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[test]
fn pipelining_a_backup_prepares_the_next_milestone_only_after_its_commit_for_the_previous() {
    let p0 = test_pair(0);
    let genesis = Cluster::new(4, cfg()).replicas[1].last_committed().1;
    let h1 = make_header(1, genesis, 0, p0.public(), 0, None);
    let h2 = make_header(2, h1.hash(), 0, p0.public(), 0, None);
    let pp = |seq, header| {
        SignedMessage::sign(&p0, 0, Body::PrePrepare(PrePrepare { view: 0, seq, header }))
    };
    // Backups 2 and 3 prepare milestone 1 at replica 1 (which then has it prepared).
    let prepares_of_1 = |c: &mut Cluster| {
        for j in [2, 3] {
            let vote = Body::Prepare(Vote { view: 0, seq: 1, digest: h1.hash() });
            c.input(1, Input::Message(c.keys[j], SignedMessage::sign(&test_pair(j), 0, vote)));
        }
    };
    let mut c = Cluster::new(4, cfg());
    c.queue.clear();
    c.record = true;
    c.input(1, Input::Message(c.keys[0], pp(1, h1.clone())));
    c.input(1, Input::Message(c.keys[0], pp(2, h2)));
    assert_eq!(votes_sent(&c, 1), [("prepare", 1)], "no prepare for 2 before the commit for 1");
    prepares_of_1(&mut c);
    assert_eq!(votes_sent(&c, 1), [("prepare", 1), ("commit", 1), ("prepare", 2)]);
    // A header for 2 on another parent is the primary's fault, not a proposal to wait for.
    let mut other = make_header(2, Hash([9; 32]), 0, p0.public(), 0, None);
    other.timestamp_ms += 1;
    let mut d = Cluster::new(4, cfg());
    d.queue.clear();
    d.input(1, Input::Message(d.keys[0], pp(1, h1.clone())));
    prepares_of_1(&mut d);
    d.input(1, Input::Message(d.keys[0], pp(2, other)));
    assert_eq!(d.replicas[1].status(), Status::ViewChanging, "a mislinked header is invalid");
}

#[test]
fn pipelining_the_primary_proposes_the_next_milestone_once_it_committed_the_previous() {
    // Nothing is final, yet milestone 2 is proposed on milestone 1 (the primary sent its commit
    // for 1), and milestone 3 is not (depth 2).
    let c = cluster_without_commits();
    let proposed: Vec<(u64, Hash)> = c.store[0]
        .iter()
        .filter_map(|r| match r {
            PersistRecord::Sent(m) => match &m.body {
                Body::PrePrepare(pp) => Some((pp.seq, pp.header.parent)),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(proposed.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [1, 2]);
    let first = c.replicas[0].last_committed().1;
    assert_eq!(proposed[0].1, first);
    assert_ne!(proposed[1].1, first, "2 is built on 1, not on the last final milestone");
}

/// `Pbft::wants`: a late vote (one agreeing with a quorum the replica already holds for that
/// phase) is not wanted, so a caller may drop it without checking its signature; a vote before
/// the quorum, a vote for another digest, a vote from a sender that voted for another digest
/// first (evidence), and every other message are wanted.
#[test]
fn late_votes_are_not_wanted_but_conflicting_ones_are() {
    let mut c = Cluster::new(4, cfg());
    let vote = |seq, digest| Vote { view: 0, seq, digest };
    let signed = |i: usize, body| SignedMessage::sign(&test_pair(i), 0, body);
    // Before anything: no slot, every vote is wanted.
    assert!(c.replicas[0].wants(&signed(3, Body::Commit(vote(1, Hash([1; 32]))))));
    // Milestone 1 commits at replicas 0 to 2 without a word from replica 3.
    c.filter = Box::new(|from, _, _| from != 3);
    run_until(&mut c, &[0, 1, 2], 1);
    let digest = c.committed[0][0].0.hash();
    let other = Hash([9; 32]);
    for i in 0..3 {
        let r = &c.replicas[i];
        assert!(!r.wants(&signed(3, Body::Prepare(vote(1, digest)))), "replica {i}: late prepare");
        assert!(!r.wants(&signed(3, Body::Commit(vote(1, digest)))), "replica {i}: late commit");
        assert!(r.wants(&signed(3, Body::Commit(vote(1, other)))), "replica {i}: other digest");
        assert!(r.wants(&signed(3, Body::Commit(vote(2, digest)))), "replica {i}: next slot");
    }
    // Replica 3 first votes for another digest at replica 0: its later vote for the quorum's
    // digest is wanted, and reported as evidence.
    let first = signed(3, Body::Commit(vote(1, other)));
    c.input(0, Input::Message(c.keys[3], first));
    let second = signed(3, Body::Commit(vote(1, digest)));
    assert!(c.replicas[0].wants(&second));
    c.input(0, Input::Message(c.keys[3], second));
    assert_eq!(c.evidence[0].len(), 1, "{:?}", c.evidence[0]);
}
