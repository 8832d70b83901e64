//! A peer that sends what no honest node sends is cut off, end to end: a validator (real libp2p,
//! RocksDB and driver) bans a peer that gossips forged vertices once its gossip score falls
//! below the graylist threshold, and at once a peer that answers its vertex request with a
//! forged vertex, or that gossips undecodable consensus messages or ones whose signature is not
//! their sender's (a sender outside the committee is only ignored); a peer that floods requests
//! is refused beyond its budget. No forgery reaches the DAG,
//! and the validator keeps finalising. And the same bare peer shows the honest side of the
//! fetch protocol: a validator asks a new peer for its unconfirmed tips and fetches what it missed.
use std::time::Duration;

use itc_consensus::message::{Body, Vote};
use itc_consensus::SignedMessage;
use itc_node::cli::client::signed_transfer;
use itc_node::network::{self, Event, PeerId, Response, Topic};
use itc_node::service::wire::{ConsensusEnvelope, VertexBatch};
use itc_primitives::{BoundedVec, Hash, Vertex};
use itc_tests::{dev, quick_heartbeat, LocalNet, Rpc};
use jsonrpsee::rpc_params;
use parity_scale_codec::{Decode, Encode};
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

const GUARD: Duration = Duration::from_secs(60);

/// Leading zero bits mined into every vertex here: above any level the dev chain asks of a
/// fresh account.
const POW_BITS: u32 = 16;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// A transfer from //Eve with `nonce` over `parents`, its PoW mined; with its signature broken
/// first (and the PoW mined over the broken transaction) if `forge`.
fn vertex(genesis: Hash, nonce: u64, parents: Vec<Hash>, forge: bool) -> Vertex {
    let mut tx = signed_transfer(&dev("Eve"), genesis, nonce, dev("Ferdie").public(), 1, 0);
    if forge {
        tx.signature.0[0] ^= 0x01;
    }
    let (pow_nonce, _) = Vertex::mine(&tx.hash(), &parents, POW_BITS, 0, u64::MAX).unwrap();
    Vertex { tx, parents: BoundedVec::new(parents).unwrap(), pow_nonce }
}

/// A one-validator network configured by `configure`, past its first milestone.
async fn one_validator(configure: fn(&mut itc_node::service::ServiceConfig)) -> LocalNet {
    let net = LocalNet::start_with(1, configure).await.unwrap();
    net.wait_height(&[0], 1).await.unwrap();
    net
}

/// A bare network peer on the validator's chain, connected to it and subscribed to both topics.
async fn rogue(chain_id: &str, validator: PeerId, addr: network::Multiaddr) -> Rogue {
    let dir = tempfile::tempdir().unwrap();
    let keypair = network::load_or_create_keypair(&dir.path().join("key")).unwrap();
    let (client, events, event_loop) =
        network::new(network::Config::new(keypair, chain_id)).unwrap();
    tokio::spawn(event_loop.run());
    client.dial(validator, addr).await.unwrap();
    let mut rogue = Rogue { client, events };
    let mut topics = Vec::new();
    while topics.len() < 2 {
        let topic = rogue
            .next(|e| match e {
                Event::PeerSubscribed { peer, topic } if peer == validator => Some(topic),
                _ => None,
            })
            .await;
        if !topics.contains(&topic) {
            topics.push(topic);
        }
    }
    rogue
}

struct Rogue {
    client: network::Client,
    events: Receiver<Event>,
}

impl Rogue {
    async fn next<T>(&mut self, mut f: impl FnMut(Event) -> Option<T>) -> T {
        timeout(GUARD, async {
            loop {
                if let Some(t) = f(self.events.recv().await.expect("rogue's network stopped")) {
                    return t;
                }
            }
        })
        .await
        .expect("timed out waiting for a network event")
    }

    /// Waits for the validator's request for the vertices `wanted` (a new peer is also asked
    /// for its tips: that request is passed over), and answers it with `answer`.
    async fn answer_fetch(&mut self, validator: PeerId, wanted: Vec<Hash>, answer: Vec<Vertex>) {
        let (request, channel) = self
            .next(|e| match e {
                Event::InboundRequest { peer, request, channel }
                    if peer == validator && matches!(request, network::Request::Vertices(_)) =>
                {
                    Some((request, channel))
                }
                _ => None,
            })
            .await;
        assert_eq!(request, network::Request::Vertices(BoundedVec::new(wanted).unwrap()));
        let answer = Response::Vertices(BoundedVec::new(answer).unwrap());
        self.client.respond(channel, answer).await.unwrap();
    }

    async fn gossip(&self, vertices: &[&Vertex]) {
        let batch = VertexBatch(vertices.iter().map(|v| v.encode()).collect());
        self.client.publish(Topic::Vertices, batch.encode()).await.unwrap();
    }
}

#[test]
fn peers_sending_forged_vertices_are_banned_and_the_forgeries_never_land() {
    runtime().block_on(async {
        let net = one_validator(quick_heartbeat).await;
        let node = net.node(0);
        let (genesis, validator, addr) =
            (node.genesis_hash, node.peer_id, node.listen_addrs[0].clone());
        let rpc = Rpc::to(node).unwrap();
        let tips: Vec<Hash> = serde_json::from_value::<Vec<String>>(
            rpc.call("dag_tips", rpc_params![]).await.unwrap(),
        )
        .unwrap()
        .iter()
        .map(|h| Hash::from_hex(h).unwrap())
        .collect();
        let vertex_known = |hash: Hash| {
            let rpc = &rpc;
            async move {
                !rpc.call("dag_getVertex", rpc_params![hash.to_hex()]).await.unwrap().is_null()
            }
        };

        // A gossips forged vertices over real tips: the third rejection bans it.
        let mut a = rogue(&node.chain_id, validator, addr.clone()).await;
        let a_id = a.client.local_peer_id();
        let forged: Vec<Vertex> = (0..3).map(|n| vertex(genesis, n, tips.clone(), true)).collect();
        for v in &forged {
            a.gossip(&[v]).await;
        }
        a.next(|e| matches!(e, Event::PeerDisconnected(p) if p == validator).then_some(())).await;
        assert_eq!(node.banned_peers().await.unwrap(), vec![a_id]);
        for v in &forged {
            assert!(!vertex_known(v.hash()).await, "a forged vertex entered the DAG");
        }

        // B gossips a valid vertex whose parents the validator lacks, so the validator asks B
        // for them; B answers with a forgery and is banned at once.
        let mut b = rogue(&node.chain_id, validator, addr.clone()).await;
        let b_id = b.client.local_peer_id();
        let missing = Hash([0x5a; 32]);
        let orphan = vertex(genesis, 10, vec![missing], false);
        b.gossip(&[&orphan]).await;
        let forgery = vertex(genesis, 11, tips.clone(), true);
        b.answer_fetch(validator, vec![missing], vec![forgery.clone()]).await;
        b.next(|e| matches!(e, Event::PeerDisconnected(p) if p == validator).then_some(())).await;
        let mut banned = node.banned_peers().await.unwrap();
        banned.sort();
        let mut expected = vec![a_id, b_id];
        expected.sort();
        assert_eq!(banned, expected);
        let listed: Vec<String> =
            serde_json::from_value(rpc.call("system_bannedPeers", rpc_params![]).await.unwrap())
                .unwrap();
        assert_eq!(listed.len(), 2);
        assert!(listed.contains(&a_id.to_string()) && listed.contains(&b_id.to_string()));
        assert!(!vertex_known(forgery.hash()).await, "the forged answer entered the DAG");

        // C gossips consensus envelopes whose message is garbage: never forwarded, and banned.
        let mut c = rogue(&node.chain_id, validator, node.listen_addrs[0].clone()).await;
        let c_id = c.client.local_peer_id();
        for nonce in 0..3 {
            let envelope = ConsensusEnvelope { to: None, nonce, message: vec![0xff; 40] };
            c.client.publish(Topic::Consensus, envelope.encode()).await.unwrap();
        }
        c.next(|e| matches!(e, Event::PeerDisconnected(p) if p == validator).then_some(())).await;
        assert!(node.banned_peers().await.unwrap().contains(&c_id));

        // D signs well-formed consensus messages as //Bob, who is not in the committee: they
        // are ignored (not relayed) but not held against D. Its state request, which anyone may
        // send, is answered, and the answer orders D's gossip: all of it was judged by then.
        let mut d = rogue(&node.chain_id, validator, node.listen_addrs[0].clone()).await;
        let d_id = d.client.local_peer_id();
        let (bob, alice) = (dev("Bob"), dev("Alice").public());
        let consensus = |nonce, msg: SignedMessage| {
            ConsensusEnvelope { to: None, nonce, message: msg.to_bytes() }.encode()
        };
        let vote = |seq| Body::Prepare(Vote { view: 0, seq, digest: Hash([seq as u8; 32]) });
        for seq in 1..=3 {
            let msg = SignedMessage::sign(&bob, 0, vote(seq));
            d.client.publish(Topic::Consensus, consensus(seq, msg)).await.unwrap();
        }
        let from = node.finalized_number();
        let request = SignedMessage::sign(&bob, 0, Body::StateRequest { from });
        d.client.publish(Topic::Consensus, consensus(4, request)).await.unwrap();
        d.next(|e| match e {
            Event::Gossip { topic: Topic::Consensus, data, .. } => {
                let envelope = ConsensusEnvelope::decode(&mut &data[..]).ok()?;
                (envelope.to == Some(bob.public())).then_some(())
            }
            _ => None,
        })
        .await;
        assert!(!node.banned_peers().await.unwrap().contains(&d_id));
        // Then D forges //Alice's votes (the committee's key, D's signature): an honest node
        // checks signatures before relaying, so a forgery convicts D, banned at the third.
        for seq in 5..=7 {
            let mut forged = SignedMessage::sign(&bob, 0, vote(seq));
            forged.sender = alice;
            d.client.publish(Topic::Consensus, consensus(seq, forged)).await.unwrap();
        }
        d.next(|e| matches!(e, Event::PeerDisconnected(p) if p == validator).then_some(())).await;
        assert!(node.banned_peers().await.unwrap().contains(&d_id));

        // The validator carries on.
        let height = node.finalized_number();
        net.wait_height(&[0], height + 2).await.unwrap();
        net.shutdown().await.unwrap();
    });
}

#[test]
fn a_validator_asks_a_new_peer_for_its_tips_and_fetches_the_vertices_it_missed() {
    runtime().block_on(async {
        let net = one_validator(quick_heartbeat).await;
        let node = net.node(0);
        let (genesis, validator) = (node.genesis_hash, node.peer_id);
        let rpc = Rpc::to(node).unwrap();
        let mut peer = rogue(&node.chain_id, validator, node.listen_addrs[0].clone()).await;
        // A valid vertex gossiped while the two were apart: only the peer has it.
        let tips: Vec<String> =
            serde_json::from_value(rpc.call("dag_tips", rpc_params![]).await.unwrap()).unwrap();
        let mut tips: Vec<Hash> = tips.iter().map(|h| Hash::from_hex(h).unwrap()).collect();
        if tips.is_empty() {
            tips.push(genesis); // no vertex yet: the genesis entry point is the tip
        }
        let missed = vertex(genesis, 0, tips, false);

        // The validator asks for the peer's unconfirmed tips (at once, then every few seconds).
        let channel = peer
            .next(|e| match e {
                Event::InboundRequest { peer, request: network::Request::Tips, channel }
                    if peer == validator =>
                {
                    Some(channel)
                }
                _ => None,
            })
            .await;
        let tips = Response::Tips(BoundedVec::new(vec![missed.hash()]).unwrap());
        peer.client.respond(channel, tips).await.unwrap();
        // It fetches the tip it does not know, which then finalises.
        peer.answer_fetch(validator, vec![missed.hash()], vec![missed.clone()]).await;
        rpc.wait_final(node, &[missed.tx.hash()]).await.unwrap();

        // The validator answers the same question: its unconfirmed tips (none left now).
        let answer = peer.client.request(validator, network::Request::Tips).await.unwrap();
        assert_eq!(answer, Response::Tips(BoundedVec::default()));
        assert!(node.banned_peers().await.unwrap().is_empty());
        net.shutdown().await.unwrap();
    });
}

#[test]
fn a_peer_flooding_requests_is_refused_beyond_its_budget() {
    runtime().block_on(async {
        let net = one_validator(|cfg| {
            quick_heartbeat(cfg);
            // Five at once, then one a second: the flood below takes well under a second.
            cfg.inbound_request_burst = 5;
            cfg.inbound_requests_per_sec = 1;
        })
        .await;
        let node = net.node(0);
        let e = rogue(&node.chain_id, node.peer_id, node.listen_addrs[0].clone()).await;
        let (mut answered, mut refused) = (0, 0);
        for _ in 0..20 {
            match e.client.request(node.peer_id, network::Request::Tips).await.unwrap() {
                Response::Tips(_) => answered += 1,
                Response::Refused(reason) => {
                    assert!(reason.contains("too many requests"), "{reason}");
                    refused += 1;
                }
                other => panic!("unexpected answer {other:?}"),
            }
        }
        // The burst, plus one a second for however long the loop took.
        assert!(answered >= 5 && refused >= 10, "{answered} answered, {refused} refused");
        // Refused, not banned: an eager honest peer is not an attacker.
        assert!(node.banned_peers().await.unwrap().is_empty());
        net.shutdown().await.unwrap();
    });
}
