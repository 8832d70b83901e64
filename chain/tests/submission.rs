//! Admission of transactions and vertices: clear errors for bad input, nonce accounting,
//! the batch cap and the genesis milestone.
use itc_chain::{
    sim::{genesis_config, transfer, Network},
    ChainConfig, Error, Output, Submitted, TxStatus,
};
use itc_primitives::{Pair, Signature, UNITS_PER_ITC};
use itc_runtime::{genesis::dev_pairs, StateBackend};
use parity_scale_codec::Encode;

fn network(cfg: ChainConfig) -> Network {
    Network::new(4, 7, cfg, genesis_config(4).unwrap()).unwrap()
}

/// The default network, the dev key pairs and the genesis hash.
fn default_network() -> (Network, Vec<Pair>, itc_primitives::Hash) {
    let net = network(ChainConfig::default());
    let genesis = net.nodes[0].genesis_hash();
    (net, dev_pairs().unwrap(), genesis)
}

#[test]
fn genesis_header_carries_the_genesis_state_root_and_committee() {
    let net = network(ChainConfig::default());
    let node = &net.nodes[0];
    let header = node.genesis_header();
    assert_eq!(header.number, 0);
    assert_eq!(header.state_root, node.state().root(0).unwrap());
    let committee = header.next_committee.clone().unwrap();
    let expected: Vec<_> = dev_pairs().unwrap()[..4].iter().map(|p| p.public()).collect();
    assert_eq!(committee.members.to_vec(), expected);
    assert_eq!(node.committee(0), Some(&committee));
    assert_eq!(node.genesis_hash(), header.hash());
    // Every validator derives the same genesis.
    assert!(net.nodes.iter().all(|n| n.genesis_hash() == node.genesis_hash()));
}

#[test]
fn bad_inputs_get_clear_errors() {
    let (mut net, pairs, genesis) = default_network();
    let (eve, ferdie) = (&pairs[4], pairs[5].public());
    let node = &mut net.nodes[0];
    for garbage in [&[][..], &[0xff; 3][..], &[7; 200][..]] {
        let err = node.submit_vertex(garbage, 0).unwrap_err();
        assert!(matches!(err, Error::Dag(itc_dag::Error::Malformed(_))), "{err}");
        let err = node.receive_vertex(garbage, 0).unwrap_err();
        assert!(matches!(err, Error::Dag(itc_dag::Error::Malformed(_))), "{err}");
        let err = node.handle_message_bytes(pairs[1].public(), garbage, 0).unwrap_err();
        assert!(matches!(err, Error::Malformed { what: "consensus message", .. }), "{err}");
    }

    let mut forged = transfer(eve, genesis, 0, ferdie, 1);
    forged.signature = Signature([1; 64]);
    let err = net.submit(0, forged).unwrap_err();
    assert!(matches!(err, Error::BadSignature { .. }), "{err}");
    let wrong_chain = transfer(eve, itc_primitives::Hash([9; 32]), 0, ferdie, 1);
    assert!(matches!(net.submit(0, wrong_chain), Err(Error::BadSignature { .. })));

    let err = net.submit(0, transfer(eve, genesis, 100, ferdie, 1)).unwrap_err();
    assert!(matches!(err, Error::NonceTooFar { nonce: 100, next: 0, .. }), "{err}");

    let first = net.submit(0, transfer(eve, genesis, 0, ferdie, 1)).unwrap();
    assert!(matches!(first.outputs.first(), Some(Output::Gossip(_))));
    assert_eq!(net.nodes[0].next_nonce(&eve.public()).unwrap(), 1, "pending nonces count");
    let err = net.submit(0, transfer(eve, genesis, 0, ferdie, 2)).unwrap_err();
    assert_eq!(err.to_string(), "nonce 0 is already pending in the DAG; next nonce is 1");

    let hash = first.tx_hash;
    assert!(net
        .run_until(60_000, |net| net.nodes.iter().all(|n| n.tx_status(&hash).unwrap().is_final())));
    let node = &mut net.nodes[2];
    let err = node.submit_transaction(transfer(eve, genesis, 0, ferdie, 3), 0).unwrap_err();
    assert_eq!(err.to_string(), "nonce 0 already used; next nonce is 1");

    // The same ready vertex twice: the second is a duplicate.
    let vertex = node.vertex(&first.vertex_hash.unwrap()).unwrap().unwrap();
    let err = node.submit_vertex(&vertex.encode(), 0).unwrap_err();
    assert!(matches!(err, Error::NonceUsed { nonce: 0, next: 1 }), "{err}");
    let err = node.receive_vertex(&vertex.encode(), 0).unwrap_err();
    assert!(matches!(err, Error::Dag(itc_dag::Error::Duplicate { .. })), "{err}");
    let fresh = client_vertex(transfer(eve, genesis, 1, ferdie, 1), first.vertex_hash.unwrap());
    let (results, _) = node.receive_vertices(&[vec![1, 2, 3], vertex.encode(), fresh], 0).unwrap();
    assert!(matches!(results[0], Err(Error::Dag(itc_dag::Error::Malformed(_)))));
    assert!(matches!(results[1], Err(Error::Dag(itc_dag::Error::Duplicate { .. }))));
    let admitted = results[2].as_ref().unwrap();
    assert!(node.vertex(admitted).unwrap().is_some());
    assert_eq!(node.next_nonce(&eve.public()).unwrap(), 2);
}

#[test]
fn fees_of_pending_transactions_are_reserved_against_the_balance() {
    let mut net = network(ChainConfig::default());
    let pairs = dev_pairs().unwrap();
    let genesis = net.nodes[0].genesis_hash();
    // A fresh account holding the existential deposit, and transactions whose tip makes each
    // fee more than half of it: one fits, a second one pending beside it does not.
    let poor = Pair::from_seed(&[42; 32]).unwrap();
    let deposit = UNITS_PER_ITC / 1_000;
    let hash =
        net.submit(0, transfer(&pairs[4], genesis, 0, poor.public(), deposit)).unwrap().tx_hash;
    assert!(net.run_until(60_000, |net| net.nodes[0].tx_status(&hash).unwrap().is_final()));
    let tipped = |nonce| {
        let mut tx = transfer(&poor, genesis, nonce, pairs[5].public(), 1);
        tx.tip = deposit * 6 / 10;
        tx.signature = poor.sign_deterministic(&tx.payload(genesis).signing_bytes());
        tx
    };
    net.submit(0, tipped(0)).unwrap();
    let err = net.submit(0, tipped(1)).unwrap_err();
    let Error::CannotPayFee { fee, free, pending } = err else { panic!("{err}") };
    assert_eq!((free, pending), (deposit, fee));
}

#[test]
fn proposals_respect_the_batch_cap_and_confirm_everything() {
    let cfg = ChainConfig { max_batch: 3, ..ChainConfig::default() };
    let mut net = network(cfg);
    let pairs = dev_pairs().unwrap();
    let genesis = net.nodes[0].genesis_hash();
    let mut txs = Vec::new();
    for nonce in 0..10 {
        let tx = transfer(&pairs[4], genesis, nonce, pairs[5].public(), UNITS_PER_ITC);
        txs.push(net.submit(1, tx).unwrap().tx_hash);
    }
    assert!(net.run_until(60_000, |net| net.nodes.iter().all(|n| txs
        .iter()
        .all(|t| matches!(n.tx_status(t).unwrap(), TxStatus::Finalized { .. })))));
    assert!(net.errors.is_empty(), "{:?}", net.errors);
    let node = &net.nodes[0];
    let counts: Vec<u32> = (1..=node.finalized_number())
        .map(|n| node.milestone(n).unwrap().header.vertex_count)
        .collect();
    assert!(counts.iter().all(|&c| c <= 3), "{counts:?}");
    assert_eq!(counts.iter().sum::<u32>(), 10);
    assert_eq!(node.account(&pairs[4].public()).unwrap().nonce, 10);
}

/// A light client attaches its own transaction (tip selection and PoW on the device).
fn client_vertex(tx: itc_primitives::Transaction, parent: itc_primitives::Hash) -> Vec<u8> {
    let tx_hash = tx.hash();
    // Dev security level 0 is 8 leading zero bits.
    let (pow_nonce, _) = itc_primitives::Vertex::mine(&tx_hash, &[parent], 8, 0, 1 << 20).unwrap();
    let parents = itc_primitives::BoundedVec::new(vec![parent]).unwrap();
    itc_primitives::Vertex { tx, parents, pow_nonce }.encode()
}

#[test]
fn ready_vertex_from_a_light_client_finalises_and_orphans_ask_for_parents() {
    let mut net = network(ChainConfig::default());
    let pairs = dev_pairs().unwrap();
    let genesis = net.nodes[0].genesis_hash();
    let tx = transfer(&pairs[4], genesis, 0, pairs[5].public(), UNITS_PER_ITC);
    let bytes = client_vertex(tx, genesis);
    let submitted = net.submit_vertex(2, &bytes).unwrap();
    assert!(submitted.missing.is_empty());
    let hash = submitted.tx_hash;
    assert!(matches!(net.nodes[2].tx_status(&hash).unwrap(), TxStatus::Pending { .. }));
    assert!(net.run_until(60_000, |net| net
        .nodes
        .iter()
        .all(|n| matches!(n.tx_status(&hash).unwrap(), TxStatus::Finalized { .. }))));
    assert!(net.errors.is_empty(), "{:?}", net.errors);

    let unknown = itc_primitives::Hash([5; 32]);
    let orphan = client_vertex(transfer(&pairs[3], genesis, 0, pairs[5].public(), 1), unknown);
    let parked = net.nodes[2].submit_vertex(&orphan, 0).unwrap();
    assert_eq!(parked.missing, vec![unknown]);
    assert!(parked.outputs.contains(&Output::FetchVertices(vec![unknown])));

    // A parent no peer has is asked for again after 20 ms, then 40, 80...: not once per
    // vertex that waits for it. Other orphans needing it arrive at these times (ms).
    let t0 = 1_000_000;
    let unknown = itc_primitives::Hash([7; 32]);
    let mut asked = Vec::new();
    for (i, at) in [0, 5, 19, 20, 45, 59, 60, 139, 140].into_iter().enumerate() {
        let tx = transfer(&pairs[3], genesis, i as u64 + 1, pairs[5].public(), 1);
        let parked = net.nodes[2].submit_vertex(&client_vertex(tx, unknown), t0 + at).unwrap();
        assert_eq!(parked.missing, vec![unknown]);
        if parked.outputs.contains(&Output::FetchVertices(vec![unknown])) {
            asked.push(at);
        }
    }
    assert_eq!(asked, vec![0, 20, 60, 140]);
    assert_eq!((itc_chain::FETCH_RETRY_MS, itc_chain::FETCH_RETRY_MAX_MS), (20, 640));
    // The wait is per vertex: another missing parent is asked for at once.
    let other = itc_primitives::Hash([6; 32]);
    let tx = transfer(&pairs[3], genesis, 10, pairs[5].public(), 1);
    let parked = net.nodes[2].submit_vertex(&client_vertex(tx, other), t0 + 141).unwrap();
    assert!(parked.outputs.contains(&Output::FetchVertices(vec![other])));

    // Too little work for the signer's level.
    let tx = transfer(&pairs[3], genesis, 0, pairs[5].public(), 2);
    let lazy = itc_primitives::Vertex {
        parents: itc_primitives::BoundedVec::new(vec![genesis]).unwrap(),
        pow_nonce: (0..)
            .find(|n| {
                itc_primitives::Vertex::hash_with_tx_hash(&tx.hash(), &[genesis], *n)
                    .leading_zero_bits()
                    < 8
            })
            .unwrap(),
        tx,
    };
    let err = net.nodes[2].submit_vertex(&lazy.encode(), 0).unwrap_err();
    assert!(
        matches!(err, Error::Dag(itc_dag::Error::InsufficientPow { required: 8, .. })),
        "{err}"
    );
}

/// A burst of client transactions is admitted with one batch verification: a forged one in the
/// middle is refused on its own, the others are admitted in order, nonces included.
#[test]
fn a_burst_with_one_forged_signature_admits_the_others() {
    let (mut net, pairs, genesis) = default_network();
    let (eve, ferdie) = (&pairs[4], pairs[5].public());
    let mut forged = transfer(eve, genesis, 1, ferdie, 2);
    forged.signature = Signature([1; 64]);
    let burst = vec![
        transfer(eve, genesis, 0, ferdie, 1),
        forged,
        transfer(eve, genesis, 1, ferdie, 3),
        transfer(eve, genesis, 1, ferdie, 4),
    ];
    let results = net.nodes[0].submit_transactions(burst, 0);
    assert_eq!(results.len(), 4);
    assert!(results[0].is_ok());
    assert!(matches!(results[1], Err(Error::BadSignature { .. })), "{:?}", results[1]);
    assert!(results[2].is_ok(), "the forged nonce-1 transaction did not take the nonce");
    assert!(matches!(results[3], Err(Error::NoncePending { nonce: 1, next: 2 })));
    assert_eq!(net.nodes[0].next_nonce(&eve.public()).unwrap(), 2);
    assert!(net.nodes[0].submit_transactions(Vec::new(), 0).is_empty());
}

/// Whether `tx` finalised successfully at every node.
fn succeeded_everywhere(net: &Network, tx: &itc_primitives::Hash) -> bool {
    net.nodes.iter().all(|n| {
        matches!(n.tx_status(tx).unwrap(),
            TxStatus::Finalized { receipt, .. } if receipt.outcome == itc_runtime::Outcome::Success)
    })
}

/// Submits to node `node` Eve's transfer of `amount` to Ferdie with `nonce`.
fn eve_pays(net: &mut Network, node: usize, nonce: u64, amount: u128) -> Result<Submitted, Error> {
    let pairs = dev_pairs().unwrap();
    let genesis = net.nodes[0].genesis_hash();
    net.submit(node, transfer(&pairs[4], genesis, nonce, pairs[5].public(), amount))
}

#[test]
fn a_nonce_ahead_of_the_signers_previous_waits_for_it_and_both_succeed() {
    let (mut net, pairs, _) = default_network();
    let eve = &pairs[4];
    // Nonce 0 goes to node 0, nonce 1 to node 1 before gossip brought nonce 0 there.
    let first = eve_pays(&mut net, 0, 0, 1).unwrap();
    let second = eve_pays(&mut net, 1, 1, 1).unwrap();
    assert_eq!(second.vertex_hash, None, "parked, not attached");
    assert!(second.outputs.is_empty());
    assert_eq!(
        net.nodes[1].tx_status(&second.tx_hash).unwrap(),
        TxStatus::Parked { waiting_for: 0 }
    );
    // The same nonce again is refused while it waits.
    let err = eve_pays(&mut net, 1, 1, 2).unwrap_err();
    assert!(matches!(err, Error::NoncePending { nonce: 1, .. }), "{err}");

    let (a, b) = (first.tx_hash, second.tx_hash);
    assert!(
        net.run_until(60_000, |net| succeeded_everywhere(net, &a) && succeeded_everywhere(net, &b))
    );
    assert!(net.errors.is_empty(), "{:?}", net.errors);
    // Attached with its predecessor's vertex as a parent: every order runs nonce 0 first.
    let node = &net.nodes[2];
    let TxStatus::Finalized { milestone: m1, position: p1, .. } = node.tx_status(&a).unwrap()
    else {
        unreachable!()
    };
    let TxStatus::Finalized { milestone: m2, position: p2, .. } = node.tx_status(&b).unwrap()
    else {
        unreachable!()
    };
    assert!((m1, p1) < (m2, p2), "nonce 0 at {m1}/{p1}, nonce 1 at {m2}/{p2}");
    assert_eq!(node.next_nonce(&eve.public()).unwrap(), 2);
}

#[test]
fn parked_nonces_attach_in_a_cascade_when_the_gap_fills() {
    let (mut net, _, _) = default_network();
    let third = eve_pays(&mut net, 0, 2, 1).unwrap();
    let second = eve_pays(&mut net, 0, 1, 1).unwrap();
    assert_eq!((third.vertex_hash, second.vertex_hash), (None, None));
    let first = eve_pays(&mut net, 0, 0, 1).unwrap();
    // Nonce 0 released nonce 1, which released nonce 2: three vertices gossiped at once.
    let gossiped = first.outputs.iter().filter(|o| matches!(o, Output::Gossip(_))).count();
    assert_eq!(gossiped, 3);
    for tx in [&second.tx_hash, &third.tx_hash] {
        assert!(matches!(net.nodes[0].tx_status(tx).unwrap(), TxStatus::Pending { .. }));
    }
    let txs = [first.tx_hash, second.tx_hash, third.tx_hash];
    assert!(net.run_until(60_000, |net| txs.iter().all(|t| succeeded_everywhere(net, t))));
}

#[test]
fn a_parked_transaction_whose_gap_never_fills_is_dropped_with_the_reason() {
    let cfg = ChainConfig { parked_timeout_ms: 2_000, ..ChainConfig::default() };
    let mut net = network(cfg);
    let eve = dev_pairs().unwrap()[4].public();
    let lonely = eve_pays(&mut net, 0, 3, 1).unwrap();
    assert_eq!(
        net.nodes[0].tx_status(&lonely.tx_hash).unwrap(),
        TxStatus::Parked { waiting_for: 2 }
    );
    let hash = lonely.tx_hash;
    assert!(net.run_until(30_000, |net| {
        matches!(net.nodes[0].tx_status(&hash).unwrap(), TxStatus::Dropped { .. })
    }));
    let TxStatus::Dropped { reason } = net.nodes[0].tx_status(&hash).unwrap() else {
        unreachable!()
    };
    assert!(reason.contains("nonce 2") && reason.contains("within 2 s"), "{reason}");
    assert!(net.now_ms() >= 2_000);
    // Nothing was attached or spent; the nonce can be sent again.
    assert_eq!(net.nodes[0].next_nonce(&eve).unwrap(), 0);
    let again = eve_pays(&mut net, 0, 3, 1).unwrap();
    assert_eq!(
        net.nodes[0].tx_status(&again.tx_hash).unwrap(),
        TxStatus::Parked { waiting_for: 2 }
    );
}

/// The PoW a vertex needs is its signer's security level's, read from the state's table: with
/// a table of 10 bits, a light client's vertex mined for 8 is refused saying what it needs,
/// and one mined for 10 is admitted; the node mines its own attachments for 10.
#[test]
fn a_vertex_needs_the_pow_of_its_signers_security_level() {
    let mut genesis = genesis_config(4).unwrap();
    genesis.security_levels = vec![10];
    let mut net = Network::new(4, 7, ChainConfig::default(), genesis).unwrap();
    let pairs = dev_pairs().unwrap();
    let g = net.nodes[0].genesis_hash();
    let vertex = |nonce: u64, bits: u32| {
        let tx = transfer(&pairs[4], g, nonce, pairs[5].public(), 1);
        let tx_hash = tx.hash();
        // The first nonce with `bits` leading zero bits but fewer than 10, or with 10.
        let mut start = 0;
        let pow_nonce = loop {
            let (found, hash) = itc_primitives::Vertex::mine(&tx_hash, &[g], bits, start, 1 << 24)
                .expect("found within the attempts");
            if bits >= 10 || hash.leading_zero_bits() < 10 {
                break found;
            }
            start = found + 1;
        };
        let parents = itc_primitives::BoundedVec::new(vec![g]).unwrap();
        itc_primitives::Vertex { tx, parents, pow_nonce }.encode()
    };
    let err = net.nodes[1].submit_vertex(&vertex(0, 8), 0).unwrap_err();
    assert!(err.to_string().contains("difficulty 10"), "{err}");
    assert!(net.nodes[1].submit_vertex(&vertex(0, 10), 0).is_ok());
    let own = net.submit(2, transfer(&pairs[3], g, 0, pairs[5].public(), 1)).unwrap();
    let TxStatus::Pending { vertex, .. } = net.nodes[2].tx_status(&own.tx_hash).unwrap() else {
        panic!("the node attaches its client's transaction");
    };
    assert!(vertex.leading_zero_bits() >= 10, "{vertex}");
}
