//! Four in-process validators over the seeded simulated network: finality, failed
//! transactions, state transfer, view change, determinism, consecutive nonces sent to random
//! validators.
use itc_chain::{
    sim::{genesis_config, transfer, Network},
    ChainConfig, TxStatus,
};
use itc_primitives::{Hash, UNITS_PER_ITC};
use itc_runtime::{genesis::dev_pairs, Outcome, StateBackend};

const DEADLINE_MS: u64 = 60_000;

fn network(seed: u64) -> Network {
    Network::new(4, seed, ChainConfig::default(), genesis_config(4).unwrap()).unwrap()
}

fn finalized_everywhere(net: &Network, txs: &[Hash]) -> bool {
    net.nodes.iter().all(|node| {
        txs.iter().all(|tx| {
            matches!(
                node.tx_status(tx).unwrap(),
                TxStatus::Finalized { .. } | TxStatus::Failed { .. }
            )
        })
    })
}

/// Every node has the same header (hence state root) at every height up to `height`.
fn assert_same_chain(net: &Network, height: u64) {
    for number in 1..=height {
        let reference = net.nodes[0].milestone(number).unwrap().header.clone();
        for (i, node) in net.nodes.iter().enumerate() {
            assert_eq!(node.milestone(number).unwrap().header, reference, "node {i}, #{number}");
        }
    }
    let roots: Vec<Hash> =
        net.nodes.iter().map(|n| n.state().root(n.state().version().unwrap()).unwrap()).collect();
    assert!(roots.windows(2).all(|w| w[0] == w[1]), "state roots differ: {roots:?}");
}

/// Submits `rounds` transfers of 1 ITC to Ferdie from each of the first four dev accounts, one
/// account per validator, running the network `pause_ms` after each round. Returns Ferdie's
/// balance before and the transaction hashes.
fn submit_rounds(net: &mut Network, rounds: u64, pause_ms: u64) -> (u128, Vec<Hash>) {
    let pairs = dev_pairs().unwrap();
    let genesis = net.nodes[0].genesis_hash();
    let dest = pairs[5].public();
    let before = net.nodes[0].account(&dest).unwrap().data.free;
    let mut txs = Vec::new();
    for round in 0..rounds {
        for (i, pair) in pairs[..4].iter().enumerate() {
            let tx = transfer(pair, genesis, round, dest, UNITS_PER_ITC);
            txs.push(net.submit(i, tx).unwrap().tx_hash);
        }
        if pause_ms > 0 {
            let until = net.now_ms() + pause_ms;
            net.run_until(until, |net| net.now_ms() >= until);
        }
    }
    (before, txs)
}

/// Every transfer of `txs` finalised as a success on every node, on one chain, and Ferdie
/// holds `before` plus 1 ITC for each.
fn assert_all_succeeded(net: &mut Network, before: u128, txs: &[Hash]) {
    assert!(net.run_until(DEADLINE_MS, |net| finalized_everywhere(net, txs)));
    assert!(net.errors.is_empty(), "{:?}", net.errors);
    let height = net.nodes.iter().map(|n| n.finalized_number()).min().unwrap();
    assert_same_chain(net, height);
    let dest = dev_pairs().unwrap()[5].public();
    for node in &net.nodes {
        let received = txs.len() as u128 * UNITS_PER_ITC;
        assert_eq!(node.account(&dest).unwrap().data.free, before + received);
        for tx in txs {
            let TxStatus::Finalized { receipt, .. } = node.tx_status(tx).unwrap() else {
                panic!("transfer {tx} did not succeed");
            };
            assert_eq!(receipt.outcome, Outcome::Success);
        }
    }
}

#[test]
fn transfers_submitted_to_different_validators_finalise_with_equal_state_roots() {
    let mut net = network(1);
    let (before, txs) = submit_rounds(&mut net, 3, 0);
    assert_all_succeeded(&mut net, before, &txs);
    for node in &net.nodes {
        for pair in &dev_pairs().unwrap()[..4] {
            assert_eq!(node.account(&pair.public()).unwrap().nonce, 3);
            assert_eq!(node.next_nonce(&pair.public()).unwrap(), 3);
        }
    }
}

#[test]
fn failed_transfer_is_finalised_as_failed_and_changes_only_fee_and_nonce() {
    let mut net = network(2);
    let pairs = dev_pairs().unwrap();
    let genesis = net.nodes[0].genesis_hash();
    // Eve is not a validator, so no proposer reward flows back to her.
    let (eve, ferdie) = (pairs[4].public(), pairs[5].public());
    let eve_before = net.nodes[1].account(&eve).unwrap();
    let ferdie_before = net.nodes[1].account(&ferdie).unwrap();
    let tx = transfer(&pairs[4], genesis, 0, ferdie, eve_before.data.free * 2);
    let hash = net.submit(1, tx).unwrap().tx_hash;
    assert!(net.run_until(DEADLINE_MS, |net| finalized_everywhere(net, &[hash])));
    assert!(net.errors.is_empty(), "{:?}", net.errors);
    for node in &net.nodes {
        let TxStatus::Failed { receipt, reason, .. } = node.tx_status(&hash).unwrap() else {
            panic!("an overdrawing transfer must fail");
        };
        assert!(matches!(receipt.outcome, Outcome::Failed(_)));
        assert!(reason.starts_with("failed:"), "{reason}");
        assert!(receipt.fee > 0);
        let eve_after = node.account(&eve).unwrap();
        assert_eq!(eve_after.nonce, eve_before.nonce + 1);
        assert_eq!(eve_after.data.free, eve_before.data.free - receipt.fee);
        assert_eq!(node.account(&ferdie).unwrap(), ferdie_before);
    }
}

#[test]
fn cut_off_validator_catches_up_by_state_transfer() {
    let mut net = network(3);
    let pairs = dev_pairs().unwrap();
    let genesis = net.nodes[0].genesis_hash();
    net.cut_off(3);
    let mut txs = Vec::new();
    for nonce in 0..3 {
        let tx = transfer(&pairs[4], genesis, nonce, pairs[5].public(), UNITS_PER_ITC);
        txs.push(net.submit(nonce as usize % 3, tx).unwrap().tx_hash);
    }
    let caught = net.run_until(DEADLINE_MS, |net| {
        net.nodes[..3].iter().all(|n| txs.iter().all(|t| n.tx_status(t).unwrap().is_final()))
    });
    assert!(caught);
    assert_eq!(net.nodes[3].finalized_number(), 0, "a cut-off node finalises nothing");
    let target = net.nodes[..3].iter().map(|n| n.finalized_number()).min().unwrap();
    net.heal(3);
    assert!(net.run_to_height(target, DEADLINE_MS), "node 3 did not catch up");
    assert!(net.errors.is_empty(), "{:?}", net.errors);
    assert_same_chain(&net, target);
    for tx in &txs {
        assert!(net.nodes[3].tx_status(tx).unwrap().is_final());
    }
}

#[test]
fn silent_primary_triggers_view_change_and_finality_continues() {
    let mut net = network(4);
    let pairs = dev_pairs().unwrap();
    let genesis = net.nodes[0].genesis_hash();
    // Node 0 (//Alice) is the primary of view 0.
    assert!(net.nodes[1].consensus().primary_of(0) == net.nodes[0].id());
    net.cut_off(0);
    let tx = transfer(&pairs[1], genesis, 0, pairs[5].public(), UNITS_PER_ITC);
    let hash = net.submit(1, tx).unwrap().tx_hash;
    let done = net.run_until(DEADLINE_MS, |net| {
        net.nodes[1..].iter().all(|n| n.tx_status(&hash).unwrap().is_final())
    });
    assert!(done, "finality did not continue without the primary");
    assert!(net.errors.is_empty(), "{:?}", net.errors);
    for node in &net.nodes[1..] {
        assert!(node.consensus().view() >= 1, "no view change happened");
        assert!(matches!(node.tx_status(&hash).unwrap(), TxStatus::Finalized { .. }));
    }
}

#[test]
fn an_idle_chain_keeps_its_view_with_a_heartbeat_and_replaces_a_silent_primary() {
    let mut net = network(7);
    let heartbeat = ChainConfig::default().idle_propose_ms;
    // A minute without transactions: an empty milestone every `idle_propose_ms`, one view.
    assert!(!net.run_until(60_000, |_| false));
    let height = net.nodes.iter().map(|n| n.finalized_number()).min().unwrap();
    assert!(
        (60_000 / heartbeat - 1..=60_000 / heartbeat).contains(&height),
        "{height} heartbeats in a minute"
    );
    assert_same_chain(&net, height);
    for node in &net.nodes {
        assert_eq!(node.consensus().view(), 0);
        assert_eq!(node.consensus().stats().view_changes, 0);
    }

    // The primary (node 0) goes silent: once its heartbeat is overdue the backups replace it,
    // and the new primary keeps the heartbeat going.
    net.cut_off(0);
    let height = net.nodes[1].finalized_number();
    let until = net.now_ms() + 4 * heartbeat;
    assert!(!net.run_until(until, |_| false));
    for node in &net.nodes[1..] {
        assert!(node.consensus().view() >= 1, "no view change on an idle chain");
        assert!(node.finalized_number() > height, "no heartbeat after the view change");
    }

    // A transfer finalises without the old primary.
    let pairs = dev_pairs().unwrap();
    let tx = transfer(&pairs[2], net.nodes[2].genesis_hash(), 0, pairs[5].public(), 1);
    let hash = net.submit(2, tx).unwrap().tx_hash;
    let done = net.run_until(until + DEADLINE_MS, |net| {
        net.nodes[1..].iter().all(|n| n.tx_status(&hash).unwrap().is_final())
    });
    assert!(done, "the transfer did not finalise without the primary");
    assert!(net.errors.is_empty(), "{:?}", net.errors);
}

#[test]
fn same_seed_gives_the_same_chain() {
    let run = |seed| {
        let mut net = network(seed);
        let pairs = dev_pairs().unwrap();
        let genesis = net.nodes[0].genesis_hash();
        let mut txs = Vec::new();
        for (i, pair) in pairs[..4].iter().enumerate() {
            txs.push(net.submit(i, transfer(pair, genesis, 0, pairs[5].public(), 7)).unwrap());
        }
        let hashes: Vec<Hash> = txs.iter().map(|s| s.tx_hash).collect();
        assert!(net.run_until(DEADLINE_MS, |net| finalized_everywhere(net, &hashes)));
        let last = net.nodes[0].latest_finalized().unwrap();
        (last.header.hash(), net.now_ms())
    };
    assert_eq!(run(9), run(9));
}

#[test]
fn committee_hand_over_at_epoch_end_keeps_finality_going() {
    let mut genesis = genesis_config(4).unwrap();
    genesis.params.epoch_length = 3;
    let mut net = Network::new(4, 5, ChainConfig::default(), genesis).unwrap();
    let pairs = dev_pairs().unwrap();
    let genesis_hash = net.nodes[0].genesis_hash();
    let tx = transfer(&pairs[4], genesis_hash, 0, pairs[5].public(), UNITS_PER_ITC);
    let hash = net.submit(0, tx).unwrap().tx_hash;
    assert!(net.run_to_height(7, DEADLINE_MS), "finality stopped at the epoch boundary");
    assert!(net.errors.is_empty(), "{:?}", net.errors);
    assert_same_chain(&net, 7);
    let node = &net.nodes[0];
    let ends: Vec<u64> =
        (1..=7).filter(|n| node.milestone(*n).unwrap().header.next_committee.is_some()).collect();
    assert_eq!(ends, vec![2, 5], "the last milestone of each epoch names the next committee");
    assert_eq!(node.milestone(7).unwrap().header.epoch, 2);
    assert!(node.committee(2).is_some());
    assert!(node.tx_status(&hash).unwrap().is_final());
}

#[test]
fn proposal_with_a_wrong_state_root_is_rejected_and_the_primary_replaced() {
    use itc_chain::{Event, Output};
    use itc_consensus::{message::PrePrepare, Body, SignedMessage};
    use itc_primitives::{merkle::empty_root, BoundedVec, MilestoneHeader};

    let mut net = network(6);
    let pairs = dev_pairs().unwrap();
    let alice = &pairs[0];
    let genesis = net.nodes[1].genesis_header().clone();
    let honest_root = net.nodes[1].state().root(0).unwrap();
    // What an honest empty milestone 1 would look like, but with a made-up state root.
    let header = MilestoneHeader {
        number: 1,
        parent: genesis.hash(),
        epoch: 0,
        tips: BoundedVec::default(),
        ordered_root: empty_root(),
        vertex_count: 0,
        state_root: Hash([7; 32]),
        receipts_root: empty_root(),
        timestamp_ms: 0,
        proposer: alice.public(),
        next_committee: None,
    };
    assert_ne!(header.state_root, honest_root);
    let msg =
        SignedMessage::sign(alice, 0, Body::PrePrepare(PrePrepare { view: 0, seq: 1, header }));
    let outputs = net.nodes[1]
        .handle(Event::Message { from: alice.public(), msg: Box::new(msg) }, 0)
        .unwrap();
    let view_change = outputs.iter().any(|o| match o {
        Output::Broadcast(m) | Output::Persist(_, itc_consensus::PersistRecord::Sent(m)) => {
            matches!(m.body, Body::ViewChange(_))
        }
        _ => false,
    });
    assert!(view_change, "the backup must ask to replace the primary: {outputs:?}");
    assert_eq!(net.nodes[1].finalized_number(), 0);
    assert!(!outputs
        .iter()
        .any(|o| matches!(o, Output::Broadcast(m) if matches!(m.body, Body::Prepare(_)))));
}

#[test]
fn backups_replace_a_primary_that_keeps_proposing_without_a_vertex_they_hold() {
    let mut net = network(11);
    let pairs = dev_pairs().unwrap();
    let genesis = net.nodes[0].genesis_hash();
    let timeout = ChainConfig::default().censorship_timeout_ms;
    // //Bob's transfer never reaches node 0, the primary of view 0, which goes on proposing
    // milestones for //Alice's transfers every 200 ms: its timer never runs out.
    let censored = transfer(&pairs[1], genesis, 0, pairs[5].public(), UNITS_PER_ITC);
    net.withhold(0, censored.hash());
    let censored = net.submit(1, censored).unwrap().tx_hash;
    let mut nonce = 0;
    let mut others = Vec::new();
    let mut stream = |net: &mut Network, until: u64| {
        while net.now_ms() < until {
            let tx = transfer(&pairs[0], genesis, nonce, pairs[5].public(), 1);
            nonce += 1;
            others.push(net.submit(0, tx).unwrap().tx_hash);
            let next = net.now_ms() + 200;
            net.run_until(next, |_| false);
        }
    };
    stream(&mut net, timeout - 1_000);
    for node in &net.nodes {
        assert_eq!(node.consensus().view(), 0);
        assert!(!node.tx_status(&censored).unwrap().is_final());
    }
    assert!(net.nodes[1].finalized_number() > 10, "the primary did not keep proposing");
    // Past the timeout the backups suspect the primary and the next one confirms the transfer.
    stream(&mut net, timeout + 5_000);
    for node in &net.nodes[1..] {
        assert!(node.consensus().view() >= 1, "the censoring primary was not replaced");
        assert!(node.tx_status(&censored).unwrap().is_final(), "the transfer is still left out");
    }
    assert!(net.errors.is_empty(), "{:?}", net.errors);
    let done = net.run_until(net.now_ms() + DEADLINE_MS, |net| {
        net.nodes[1..].iter().all(|n| others.iter().all(|t| n.tx_status(t).unwrap().is_final()))
    });
    assert!(done, "finality stopped after the view change");
}

#[test]
fn pipelined_milestones_execute_on_their_parents_state_and_finalise_everywhere() {
    // Every new vertex is worth a pipelined milestone: the primary proposes `n + 1` on `n`'s
    // speculative state once it sent its commit for `n`, and the backups validate it there.
    let cfg = ChainConfig { pipeline_min_batch: 1, ..ChainConfig::default() };
    let mut net = Network::new(4, 7, cfg, genesis_config(4).unwrap()).unwrap();
    // Rounds 3 ms apart, so new vertices reach the primary while a milestone is in flight; one
    // signer's transfers then execute in nonce order only because each vertex approves the
    // signer's previous one.
    let (before, txs) = submit_rounds(&mut net, 6, 3);
    assert_all_succeeded(&mut net, before, &txs);
    assert!(net.pipelined > 0, "no milestone was pipelined");
}

/// A seeded generator for the test below (splitmix64).
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Seeds for [`consecutive_nonces_sent_to_random_validators_all_succeed`]: 8 by default,
/// `ITC_NONCE_SEEDS` for more.
fn nonce_seeds() -> u64 {
    std::env::var("ITC_NONCE_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(8)
}

#[test]
fn consecutive_nonces_sent_to_random_validators_all_succeed() {
    let pairs = dev_pairs().unwrap();
    let dest = pairs[5].public();
    for seed in 0..nonce_seeds() {
        let mut net = network(100 + seed);
        let genesis = net.nodes[0].genesis_hash();
        let before = net.nodes[0].account(&dest).unwrap().data.free;
        let mut rng = seed;
        let mut txs = Vec::new();
        // Four signers send nonces 0..6 each, every one to a validator picked at random, a
        // few milliseconds apart or at once: a nonce often reaches a node before its
        // predecessor does (which a milestone would execute first, and fail, without parking).
        let mut nonces = [0u64; 4];
        while nonces.iter().any(|n| *n < 6) {
            let signer = (next(&mut rng) % 4) as usize;
            if nonces[signer] == 6 {
                continue;
            }
            let node = (next(&mut rng) % 4) as usize;
            let tx = transfer(&pairs[signer], genesis, nonces[signer], dest, UNITS_PER_ITC);
            let submitted = net.submit(node, tx).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            txs.push(submitted.tx_hash);
            nonces[signer] += 1;
            let pause = next(&mut rng) % 4;
            if pause > 0 {
                let until = net.now_ms() + pause;
                net.run_until(until, |net| net.now_ms() >= until);
            }
        }
        assert_all_succeeded(&mut net, before, &txs);
    }
}
