//! The composed libp2p behaviour and the swarm that runs it.
use itc_primitives::hash::blake2_256_concat;
use libp2p::gossipsub::{self, MessageAuthenticity, MessageId, ValidationMode};
use libp2p::kad::{self, store::MemoryStore, Mode};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{
    allow_block_list, connection_limits, identify, noise, tcp, yamux, StreamProtocol, Swarm,
};

use super::protocol::ScaleCodec;
use super::{network_err, relay, Config, Topic};
use crate::Result;

/// Gossip, requests, DHT and identify, composed, behind connection limits (inbound, pending
/// and per peer; see [`Config`]) and a block list of banned peers (it closes their connections
/// and refuses new ones; see the event loop's bans).
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) limits: connection_limits::Behaviour,
    pub(crate) blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    pub(crate) gossipsub: gossipsub::Behaviour,
    pub(crate) request_response: request_response::Behaviour<ScaleCodec>,
    pub(crate) kademlia: kad::Behaviour<MemoryStore>,
    pub(crate) identify: identify::Behaviour,
}

pub(crate) fn kad_protocol(config: &Config) -> Result<StreamProtocol> {
    StreamProtocol::try_from_owned(format!("/itc/{}/kad/1", config.chain_id)).map_err(network_err)
}

fn sync_protocol(config: &Config) -> Result<StreamProtocol> {
    StreamProtocol::try_from_owned(format!("/itc/{}/sync/1", config.chain_id)).map_err(network_err)
}

/// The identify protocol version: peers announcing another one are on another chain.
pub(crate) fn identify_version(config: &Config) -> String {
    format!("/itc/{}/1", config.chain_id)
}

fn behaviour(key: &libp2p::identity::Keypair, config: &Config) -> Result<Behaviour> {
    let peer_id = key.public().to_peer_id();

    let mut gs = gossipsub::ConfigBuilder::default();
    // Anonymous gossip: every payload (vertex, consensus message) carries our own sr25519
    // signature, checked by the application, so a libp2p author signature would only add an
    // ed25519 sign per publish and a verify per copy received (duplicates included, since
    // gossipsub checks signatures before it drops duplicates): at a thousand vertices per second
    // on four nodes that was a fifth of the CPU. Peers are still scored by who forwarded what
    // (see `score_params`).
    gs.validation_mode(ValidationMode::Anonymous)
        .validate_messages()
        // Anonymous messages name no author, so gossipsub takes any copy of a message this node
        // published coming back through a third peer (or the same payload published by two
        // nodes) for a forgery "from self" and penalises the honest relay as if it had sent an
        // invalid message. The copy is an ordinary duplicate here: drop it, blame nobody.
        .allow_self_origin(true)
        // Every message goes straight to every subscribed peer: relay suppression (`relay`)
        // counts on it.
        .flood_publish(true)
        .heartbeat_interval(config.gossip_heartbeat)
        .max_transmit_size(
            config.max_vertex_message_bytes.max(config.max_consensus_message_bytes)
                + relay::MAX_HEADER_BYTES
                + 4096,
        )
        // Content addressing: the same payload is one message whoever publishes it (the relay
        // header, which names the publisher, is left out).
        .message_id_fn(|m: &gossipsub::Message| {
            let payload = relay::unframe(&m.data).map_or(&m.data[..], |(_, payload)| payload);
            MessageId::from(blake2_256_concat(&[m.topic.as_str().as_bytes(), payload]).0.to_vec())
        });
    for topic in Topic::ALL {
        gs.max_transmit_size_for_topic(
            config.max_message_bytes(topic) + relay::MAX_HEADER_BYTES,
            config.topic(topic).hash(),
        );
    }
    let gs_config = gs.build().map_err(network_err)?;
    let mut gossipsub = gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, gs_config)
        .map_err(network_err)?;
    let (params, thresholds) = score_params(config);
    gossipsub.with_peer_score(params, thresholds).map_err(network_err)?;
    for topic in Topic::ALL {
        gossipsub.subscribe(&config.topic(topic)).map_err(network_err)?;
    }

    let request_response = request_response::Behaviour::with_codec(
        ScaleCodec {
            max_request_bytes: config.max_request_bytes,
            max_response_bytes: config.max_response_bytes,
        },
        [(sync_protocol(config)?, ProtocolSupport::Full)],
        request_response::Config::default().with_request_timeout(config.request_timeout),
    );

    let mut kademlia = kad::Behaviour::with_config(
        peer_id,
        MemoryStore::new(peer_id),
        kad::Config::new(kad_protocol(config)?),
    );
    // Loopback and private addresses are never "confirmed external", so automatic mode would leave
    // every node a client and nobody would store provider records.
    kademlia.set_mode(Some(Mode::Server));

    let identify = identify::Behaviour::new(
        identify::Config::new(identify_version(config), key.public())
            .with_agent_version(format!("itc-node/{}", env!("CARGO_PKG_VERSION"))),
    );
    // Connection counts are bounded, so that opening connections costs an attacker as much as
    // it costs this node.
    let limits = connection_limits::Behaviour::new(
        connection_limits::ConnectionLimits::default()
            .with_max_established_incoming(Some(config.max_inbound_connections))
            .with_max_pending_incoming(Some(config.max_pending_inbound))
            .with_max_established_per_peer(Some(config.max_connections_per_peer)),
    );
    Ok(Behaviour {
        limits,
        blocked: Default::default(),
        gossipsub,
        request_response,
        kademlia,
        identify,
    })
}

/// Gossip peer scoring (gossipsub v1.1). What the application rejects (a message no honest node
/// accepts, see the driver's verdicts) costs its relaying peer `INVALID_MESSAGE_WEIGHT` times the
/// square of its recent count, so a third invalid message within a few seconds puts a peer with
/// no credit below the graylist threshold: gossipsub then ignores everything it sends until the
/// count decays (by a tenth per second). Being first to deliver valid messages earns a bounded
/// credit. Delivery-rate penalties (P3, P3b) are off: a quiet topic on an idle chain is not a
/// fault. Loopback is exempt from the same-IP penalty, so local test networks are not punished.
pub(crate) fn score_params(
    config: &Config,
) -> (gossipsub::PeerScoreParams, gossipsub::PeerScoreThresholds) {
    let mut params = gossipsub::PeerScoreParams::default();
    for topic in Topic::ALL {
        let t = gossipsub::TopicScoreParams {
            topic_weight: 1.0,
            time_in_mesh_weight: 0.01,
            first_message_deliveries_weight: 1.0,
            first_message_deliveries_decay: 0.5,
            first_message_deliveries_cap: 50.0,
            mesh_message_deliveries_weight: 0.0,
            mesh_failure_penalty_weight: 0.0,
            invalid_message_deliveries_weight: INVALID_MESSAGE_WEIGHT,
            invalid_message_deliveries_decay: 0.9,
            ..Default::default()
        };
        params.topics.insert(config.topic(topic).hash(), t);
    }
    // Protocol misbehaviour (P7: broken IWANT promises, GRAFTs during a prune back-off) is
    // forgiven up to a few occurrences: an overloaded honest peer breaks promises too.
    params.behaviour_penalty_threshold = 6.0;
    params.behaviour_penalty_weight = -1.0;
    params.ip_colocation_factor_whitelist.insert(std::net::Ipv4Addr::LOCALHOST.into());
    params.ip_colocation_factor_whitelist.insert(std::net::Ipv6Addr::LOCALHOST.into());
    (params, gossipsub::PeerScoreThresholds::default())
}

/// Weight of the invalid-message counter (P4) in every topic's score.
pub(crate) const INVALID_MESSAGE_WEIGHT: f64 = -10.0;

/// Builds the swarm over TCP + noise + yamux on the tokio runtime.
pub(crate) fn build_swarm(config: &Config) -> Result<Swarm<Behaviour>> {
    let swarm = libp2p::SwarmBuilder::with_existing_identity(config.keypair.clone())
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .map_err(network_err)?
        .with_behaviour(|key| {
            behaviour(key, config)
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.to_string().into() })
        })
        .map_err(network_err)?
        .with_swarm_config(|c| c.with_idle_connection_timeout(config.idle_connection_timeout))
        .build();
    Ok(swarm)
}
