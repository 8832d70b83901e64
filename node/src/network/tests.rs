//! Network tests: real swarms on 127.0.0.1. No sleeps: every wait is on an event, bounded by a
//! timeout that only guards against a hang.
use std::time::Duration;

use itc_primitives::{BoundedVec, Hash, Mortality, Public, Signature, Transaction, Vertex};
use libp2p::identity::Keypair;
use parity_scale_codec::Encode;
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

use super::*;

const GUARD: Duration = Duration::from_secs(30);

struct Node {
    client: Client,
    events: Receiver<Event>,
    addr: Option<Multiaddr>,
}

/// A node with a deterministic identity; listens on a free loopback port if `listen`.
async fn node(seed: u8, chain: &str, listen: bool) -> Node {
    node_with(seed, chain, listen, |_| {}).await
}

/// [`node`] with its configuration changed by `configure`.
async fn node_with(seed: u8, chain: &str, listen: bool, configure: fn(&mut Config)) -> Node {
    let keypair = Keypair::ed25519_from_bytes([seed; 32]).unwrap();
    let mut config = Config::new(keypair, chain);
    config.gossip_heartbeat = Duration::from_millis(100);
    configure(&mut config);
    let (client, events, event_loop) = new(config).unwrap();
    tokio::spawn(event_loop.run());
    let addr = if listen {
        Some(client.start_listening("/ip4/127.0.0.1/tcp/0".parse().unwrap()).await.unwrap())
    } else {
        None
    };
    Node { client, events, addr }
}

impl Node {
    async fn dial(&self, other: &Node) {
        let addr = other.addr.clone().unwrap();
        timeout(GUARD, self.client.dial(other.client.local_peer_id(), addr))
            .await
            .unwrap()
            .unwrap();
    }

    /// The first event `f` maps to `Some`, skipping others.
    async fn next<T>(&mut self, mut f: impl FnMut(Event) -> Option<T>) -> T {
        timeout(GUARD, async {
            loop {
                let event = self.events.recv().await.expect("event loop stopped");
                if let Some(t) = f(event) {
                    return t;
                }
            }
        })
        .await
        .expect("timed out waiting for a network event")
    }

    /// Dials `other`, which banned this node: the connection never opens on `other`'s side (it
    /// may open here for a moment, until `other` closes it after the handshake).
    async fn refused_by(&mut self, other: &mut Node) {
        let other_id = other.client.local_peer_id();
        let dialled = timeout(GUARD, self.client.dial(other_id, other.addr.clone().unwrap()));
        if dialled.await.unwrap().is_ok() {
            self.next(|e| matches!(e, Event::PeerDisconnected(p) if p == other_id).then_some(()))
                .await;
        }
        let me = self.client.local_peer_id();
        while let Ok(event) = other.events.try_recv() {
            assert!(
                !matches!(event, Event::PeerConnected(p) if p == me),
                "a banned peer connected"
            );
        }
    }

    /// Waits until every peer in `peers` has subscribed to `topic`, in any order.
    async fn subscribed(&mut self, peers: &[PeerId], topic: Topic) {
        let mut waiting: std::collections::HashSet<PeerId> = peers.iter().copied().collect();
        while !waiting.is_empty() {
            let peer = self
                .next(|e| match e {
                    Event::PeerSubscribed { peer, topic: t } if t == topic => Some(peer),
                    _ => None,
                })
                .await;
            waiting.remove(&peer);
        }
    }

    async fn gossip(&mut self) -> (Topic, PeerId, MessageId, Vec<u8>) {
        let (topic, source, message_id, data, _) = self.gossip_covered().await;
        (topic, source, message_id, data)
    }

    /// The next gossip message, with whether it is covered (see `relay`).
    async fn gossip_covered(&mut self) -> (Topic, PeerId, MessageId, Vec<u8>, bool) {
        self.next(|e| match e {
            Event::Gossip { topic, source, message_id, data, covered } => {
                Some((topic, source, message_id, data, covered))
            }
            _ => None,
        })
        .await
    }
}

fn vertex(nonce: u64) -> Vertex {
    Vertex {
        tx: Transaction {
            signer: Public([1; 32]),
            nonce,
            mortality: Mortality::Immortal,
            tip: 0,
            call: vec![],
            signature: Signature([0; 64]),
        },
        parents: BoundedVec::new(vec![Hash::ZERO]).unwrap(),
        pow_nonce: 0,
    }
}

#[tokio::test]
async fn gossip_is_forwarded_only_after_the_application_accepts_it() {
    // A and C do not listen, so neither can learn an address of the other: everything C
    // receives from A went through B's validation.
    let mut b = node(2, "test", true).await;
    let mut a = node(1, "test", false).await;
    let mut c = node(3, "test", false).await;
    let (a_id, c_id) = (a.client.local_peer_id(), c.client.local_peer_id());
    a.dial(&b).await;
    c.dial(&b).await;
    b.subscribed(&[a_id, c_id], Topic::Vertices).await;
    a.subscribed(&[b.client.local_peer_id()], Topic::Vertices).await;

    a.client.publish(Topic::Vertices, b"forged".to_vec()).await.unwrap();
    let (topic, source, id, data) = b.gossip().await;
    assert_eq!((topic, source, data.as_slice()), (Topic::Vertices, a_id, &b"forged"[..]));
    assert!(b.client.report_validation(id.clone(), source, Validation::Reject).await.unwrap());
    // A rejected message is gone from the cache: a second verdict finds nothing.
    assert!(!b.client.report_validation(id, source, Validation::Accept).await.unwrap());

    let good = vertex(0).encode();
    a.client.publish(Topic::Vertices, good.clone()).await.unwrap();
    let (_, source, id, data, covered) = b.gossip_covered().await;
    assert_eq!(data, good);
    // A does not reach C, so B's relay is needed.
    assert!(!covered);
    assert!(b.client.report_validation(id, source, Validation::Accept).await.unwrap());

    // The rejected message never reaches C; the accepted one does, forwarded by B.
    let (topic, source, _, data) = c.gossip().await;
    assert_eq!((topic, source), (Topic::Vertices, b.client.local_peer_id()));
    assert_eq!(data, good);
    assert_eq!(b.client.peers().await.unwrap().len(), 2);
}

#[tokio::test]
async fn among_peers_all_connected_to_the_publisher_gossip_is_not_relayed() {
    // A, B and C all connected: A's message reaches both directly, so neither relays it.
    let mut a = node(21, "test", true).await;
    let mut b = node(22, "test", true).await;
    let mut c = node(23, "test", false).await;
    let ids = [a.client.local_peer_id(), b.client.local_peer_id(), c.client.local_peer_id()];
    b.dial(&a).await;
    c.dial(&a).await;
    c.dial(&b).await;
    a.subscribed(&[ids[1], ids[2]], Topic::Consensus).await;
    b.subscribed(&[ids[0], ids[2]], Topic::Consensus).await;
    c.subscribed(&[ids[0], ids[1]], Topic::Consensus).await;

    a.client.publish(Topic::Consensus, b"vote".to_vec()).await.unwrap();
    for receiver in [&mut b, &mut c] {
        let (topic, source, id, data, covered) = receiver.gossip_covered().await;
        assert_eq!(
            (topic, source, data.as_slice(), covered),
            (Topic::Consensus, ids[0], &b"vote"[..], true)
        );
        // Accepted, but turned into "ignore": gone from the cache, nothing to forward.
        assert!(receiver
            .client
            .report_validation(id.clone(), source, Validation::Accept)
            .await
            .unwrap());
        assert!(!receiver.client.report_validation(id, source, Validation::Accept).await.unwrap());
    }
}

#[tokio::test]
async fn a_peer_relaying_rejected_gossip_is_graylisted_and_banned() {
    let mut b = node(12, "test", true).await;
    let mut a = node(11, "test", true).await;
    let mut c = node(13, "test", false).await;
    let (a_id, b_id, c_id) =
        (a.client.local_peer_id(), b.client.local_peer_id(), c.client.local_peer_id());
    a.dial(&b).await;
    c.dial(&b).await;
    b.subscribed(&[a_id, c_id], Topic::Vertices).await;
    a.subscribed(&[b_id], Topic::Vertices).await;
    c.subscribed(&[b_id], Topic::Vertices).await;
    let graylist = libp2p::gossipsub::PeerScoreThresholds::default().graylist_threshold;
    let score = |n: &Node, peer| {
        let client = n.client.clone();
        async move { client.peer_score(peer).await.unwrap().expect("a scored peer") }
    };
    assert!(score(&b, a_id).await >= 0.0);

    // Two rejected messages are tolerated (the count decays), the third graylists A.
    for k in 0..3u8 {
        a.client.publish(Topic::Vertices, vec![b'x', k]).await.unwrap();
        let (_, source, id, _) = b.gossip().await;
        assert_eq!(source, a_id);
        assert!(b.client.report_validation(id, source, Validation::Reject).await.unwrap());
        let s = score(&b, a_id).await;
        assert_eq!(s < graylist, k == 2, "score {s} after {} rejected messages", k + 1);
        assert_eq!(b.client.banned().await.unwrap().contains(&a_id), k == 2);
    }
    // ... and B, rather than only ignoring A, cuts it off: A cannot come back.
    b.next(|e| matches!(e, Event::PeerDisconnected(p) if p == a_id).then_some(())).await;
    a.next(|e| matches!(e, Event::PeerDisconnected(p) if p == b_id).then_some(())).await;
    a.refused_by(&mut b).await;

    // An honest peer earns credit for a first delivery the application accepts (and B relays:
    // D is not C's peer; a message every peer has is not relayed and earns nothing).
    let d = node(24, "test", false).await;
    d.dial(&b).await;
    b.subscribed(&[d.client.local_peer_id()], Topic::Vertices).await;
    let good = vertex(1).encode();
    c.client.publish(Topic::Vertices, good.clone()).await.unwrap();
    let (_, source, id, data) = b.gossip().await;
    assert_eq!((source, data), (c_id, good));
    assert!(b.client.report_validation(id, source, Validation::Accept).await.unwrap());
    assert!(score(&b, c_id).await > 0.0);

    // Lifting the ban lets A connect again.
    b.client.unban(a_id);
    assert!(b.client.banned().await.unwrap().is_empty());
    a.dial(&b).await;
}

#[tokio::test]
async fn a_ban_closes_connections_both_ways_and_ends_on_its_own() {
    let mut a = node(14, "test", true).await;
    let mut b = node(15, "test", true).await;
    let (a_id, b_id) = (a.client.local_peer_id(), b.client.local_peer_id());
    b.dial(&a).await;
    a.next(|e| matches!(e, Event::PeerConnected(p) if p == b_id).then_some(())).await;
    a.client.ban(b_id, "test");
    a.next(|e| matches!(e, Event::PeerDisconnected(p) if p == b_id).then_some(())).await;
    b.next(|e| matches!(e, Event::PeerDisconnected(p) if p == a_id).then_some(())).await;
    assert_eq!(a.client.banned().await.unwrap(), vec![b_id]);
    // Refused whoever dials.
    b.refused_by(&mut a).await;
    let outbound = timeout(GUARD, a.client.dial(b_id, b.addr.clone().unwrap())).await.unwrap();
    let err = outbound.expect_err("dialled a banned peer");
    assert!(err.to_string().contains("block list"), "{err}");

    // A ban of no duration ends at the event loop's next turn.
    let mut c = node(16, "test", true).await;
    let mut config = Config::new(Keypair::ed25519_from_bytes([17; 32]).unwrap(), "test");
    config.ban_duration = Duration::ZERO;
    let (client, _events, event_loop) = new(config).unwrap();
    tokio::spawn(event_loop.run());
    let c_id = c.client.local_peer_id();
    client.dial(c_id, c.addr.clone().unwrap()).await.unwrap();
    c.next(|e| matches!(e, Event::PeerConnected(_)).then_some(())).await;
    client.ban(c_id, "test");
    timeout(GUARD, async {
        while !client.banned().await.unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the ban never ended");
    timeout(GUARD, client.dial(c_id, c.addr.clone().unwrap())).await.unwrap().unwrap();
}

#[tokio::test]
async fn oversize_gossip_is_refused_before_sending() {
    let a = node(4, "test", true).await;
    let limit =
        Config::new(Keypair::ed25519_from_bytes([4; 32]).unwrap(), "test").max_vertex_message_bytes;
    let err = a.client.publish(Topic::Vertices, vec![0; limit + 1]).await.unwrap_err();
    assert!(err.to_string().contains(&format!("exceeds the {limit}-byte limit")), "{err}");
}

#[tokio::test]
async fn request_for_vertices_is_answered() {
    let mut a = node(5, "test", true).await;
    let b = node(6, "test", true).await;
    b.dial(&a).await;
    let (v0, v1) = (vertex(0), vertex(1));
    let wanted = vec![v0.hash(), Hash([9; 32]), v1.hash()];
    let request = Request::Vertices(BoundedVec::new(wanted.clone()).unwrap());
    let requester = b.client.clone();
    let a_id = a.client.local_peer_id();
    let pending = tokio::spawn(async move { requester.request(a_id, request).await });

    let (peer, request, channel) = a
        .next(|e| match e {
            Event::InboundRequest { peer, request, channel } => Some((peer, request, channel)),
            _ => None,
        })
        .await;
    assert_eq!(peer, b.client.local_peer_id());
    assert_eq!(request, Request::Vertices(BoundedVec::new(wanted).unwrap()));
    let answer = Response::Vertices(BoundedVec::new(vec![v0.clone(), v1.clone()]).unwrap());
    a.client.respond(channel, answer.clone()).await.unwrap();
    let got = timeout(GUARD, pending).await.unwrap().unwrap().unwrap();
    assert_eq!(got, answer);
}

#[tokio::test]
async fn provider_announced_by_one_node_is_found_by_another_through_the_dht() {
    let a = node(7, "test", true).await;
    let b = node(8, "test", true).await;
    let c = node(9, "test", true).await;
    a.dial(&b).await;
    c.dial(&b).await;
    let chunk = Hash([0xC0; 32]);
    timeout(GUARD, a.client.start_providing(chunk)).await.unwrap().unwrap();
    // Kademlia's ADD_PROVIDER is fire-and-forget: `start_providing` returns once it is sent, so
    // b may not have stored the record when c's first lookup reaches it. Ask again until it has.
    let a_id = a.client.local_peer_id();
    let providers = timeout(GUARD, async {
        loop {
            let providers = c.client.get_providers(chunk).await.unwrap();
            if providers.contains(&a_id) {
                break providers;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(providers.len(), 1, "{providers:?}");
    let none = timeout(GUARD, c.client.get_providers(Hash([0xC1; 32]))).await.unwrap().unwrap();
    assert!(none.is_empty(), "{none:?}");
}

#[tokio::test]
async fn peer_of_another_chain_is_disconnected_and_cannot_request() {
    let mut a = node(10, "test", true).await;
    let x = node(11, "other", true).await;
    let x_id = x.client.local_peer_id();
    x.dial(&a).await;
    let err =
        timeout(GUARD, x.client.request(a.client.local_peer_id(), Request::Chunk(Hash::ZERO)))
            .await
            .unwrap()
            .unwrap_err();
    assert!(matches!(err, Error::Network(_)), "{err}");
    a.next(|e| matches!(e, Event::PeerDisconnected(p) if p == x_id).then_some(())).await;
}

#[tokio::test]
async fn inbound_connections_beyond_the_limit_are_refused() {
    let mut b = node_with(16, "test", true, |c| c.max_inbound_connections = 1).await;
    let a = node(17, "test", false).await;
    let mut c = node(18, "test", false).await;
    let a_id = a.client.local_peer_id();
    a.dial(&b).await;
    b.next(|e| matches!(e, Event::PeerConnected(p) if p == a_id).then_some(())).await;
    // The second peer is refused while the first holds the only inbound slot.
    c.refused_by(&mut b).await;
    // B's own dials are not inbound: B still reaches a listening peer.
    let d = node(19, "test", true).await;
    b.dial(&d).await;
}

#[tokio::test]
async fn bans_kept_in_a_file_outlast_the_event_loop() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bans");
    let b_id = Keypair::ed25519_from_bytes([21; 32]).unwrap().public().to_peer_id();
    let keypair = Keypair::ed25519_from_bytes([22; 32]).unwrap();
    let mut config = Config::new(keypair.clone(), "test");
    config.bans_file = Some(path.clone());
    let (client, _events, event_loop) = new(config).unwrap();
    tokio::spawn(event_loop.run());
    client.ban(b_id, "test");
    assert_eq!(client.banned().await.unwrap(), vec![b_id]);
    let saved = bans::load(&path, bans::unix_ms()).unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].0, b_id);
    drop(client);

    // The same identity restarted with the same file refuses B from the start.
    let mut config = Config::new(keypair, "test");
    config.bans_file = Some(path.clone());
    let (client, _events, event_loop) = new(config).unwrap();
    tokio::spawn(event_loop.run());
    assert_eq!(client.banned().await.unwrap(), vec![b_id]);
    let err = client.dial(b_id, "/ip4/127.0.0.1/tcp/1".parse().unwrap()).await.unwrap_err();
    assert!(err.to_string().contains("block list"), "{err}");
    // Lifting it rewrites the file.
    client.unban(b_id);
    assert!(client.banned().await.unwrap().is_empty());
    assert!(bans::load(&path, 0).unwrap().is_empty());
}
