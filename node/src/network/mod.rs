//! The libp2p network, structured after rust-libp2p's file-sharing example.
//!
//! [`new`] returns three parts:
//! - a [`Client`]: cheap to clone; every method sends a command to the event loop and awaits its
//!   oneshot reply;
//! - a receiver of [`Event`]s: gossip to validate, inbound requests to answer, peers coming and
//!   going;
//! - the [`EventLoop`], which owns the `Swarm`; spawn [`EventLoop::run`] on the runtime. It stops
//!   when every `Client` is dropped.
//!
//! Stack: TCP + noise + yamux, identify, gossipsub, request-response and Kademlia.
//!
//! **Gossip.** Two topics ([`Topic`], `/itc/<chain>/<name>/2`): vertices and consensus
//! messages. Messages are anonymous (no libp2p author signature: every payload carries the
//! protocol's own sr25519 signatures, which the application checks) and identified by
//! `blake2b-256(topic ++ payload)`, so the same payload from two peers is one message. On the wire
//! each payload follows a [`relay`] header naming its publisher and the peers it was handed to: a
//! node whose peers all had a message from its publisher does not relay it
//! ([`Event::Gossip::covered`]). Every received message is held by gossipsub until the
//! application reports a [`Validation`] with [`Client::report_validation`]: only `Accept`ed messages
//! are forwarded. `Ignore` drops a message; `Reject` also lowers the relaying peer's gossip
//! score (gossipsub v1.1 peer scoring, parameters in `behaviour::score_params`): a few rejected
//! messages in a row put the peer under the graylist threshold, and this node bans it
//! ([`Client::peer_score`] reads a score). Reject only what no honest node would accept. Messages
//! over the topic's size limit are rejected by the event loop before the application sees them.
//!
//! **Bans.** [`Client::ban`] (the application's call, for a peer that answered a request with
//! forged data) and a gossip score under the graylist threshold put a peer on libp2p's block
//! list for [`Config::ban_duration`] (10 minutes by default): its connections close, its dials
//! are refused and this node does not dial it (the dial fails saying why). A ban ends by itself
//! or with [`Client::unban`]; [`Client::banned`] lists the banned peers. With
//! [`Config::bans_file`] set (a node sets `<base path>/network/bans`) the bans and their
//! wall-clock ends are kept in that file ([`bans`]) and a restart takes them up again.
//!
//! **Requests.** [`Request`] / [`Response`] over the `/itc/<chain>/sync/1` protocol, SCALE with size
//! limits ([`protocol`]): vertices by hash, certified milestones, data chunks, and a peer's
//! unconfirmed tips (anti-entropy after a partition or a restart). Inbound requests arrive as [`Event::InboundRequest`]; answer with
//! [`Client::respond`].
//!
//! **DHT.** Kademlia (`/itc/<chain>/kad/1`, server mode) records which peers hold a data chunk:
//! [`Client::start_providing`] and [`Client::get_providers`] take the chunk's hash as key.
//!
//! **Identity.** [`load_or_create_keypair`] keeps the ed25519 node key in a file so the peer id
//! survives restarts.
//!
//! Every protocol name carries the chain id ([`Config::chain_id`]) so that nodes of different chains
//! never exchange messages.
pub mod bans;
mod behaviour;
mod client;
mod event_loop;
mod identity;
pub mod protocol;
pub mod relay;

use std::time::Duration;

pub use client::Client;
pub use event_loop::EventLoop;
pub use identity::load_or_create_keypair;
use libp2p::gossipsub::{IdentTopic, MessageId};
use libp2p::identity::Keypair;
use libp2p::request_response::ResponseChannel;
pub use libp2p::{Multiaddr, PeerId};
pub use protocol::{Request, Response};
use tokio::sync::mpsc;

use crate::{Error, Result};

/// The default [`Config::max_inbound_connections`].
pub const DEFAULT_MAX_INBOUND_CONNECTIONS: u32 = 128;

/// Network settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// The node's libp2p identity (ed25519). Persist it to keep the same peer id across restarts.
    pub keypair: Keypair,
    /// Names the chain in every protocol and topic (use the genesis hash in production).
    pub chain_id: String,
    /// Largest vertex gossip message, in bytes.
    pub max_vertex_message_bytes: usize,
    /// Largest consensus gossip message, in bytes.
    pub max_consensus_message_bytes: usize,
    /// Largest request, in bytes.
    pub max_request_bytes: usize,
    /// Largest response, in bytes.
    pub max_response_bytes: usize,
    /// How long an outbound request may take.
    pub request_timeout: Duration,
    /// Gossipsub heartbeat (mesh maintenance, gossip emission).
    pub gossip_heartbeat: Duration,
    /// How long a connection with no open stream is kept.
    pub idle_connection_timeout: Duration,
    /// Capacity of the event channel; the event loop waits when the application lags behind.
    pub event_buffer: usize,
    /// How long a banned peer stays disconnected and refused (see [`Client::ban`]).
    pub ban_duration: Duration,
    /// Most connections other nodes may hold open to this one; more are refused after the
    /// handshake (this node's own dials do not count).
    pub max_inbound_connections: u32,
    /// Most inbound connections still in their handshake (noise, yamux) at once.
    pub max_pending_inbound: u32,
    /// Most connections with one peer, either way.
    pub max_connections_per_peer: u32,
    /// Where bans are kept across restarts ([`bans`]); `None` keeps them in memory only.
    pub bans_file: Option<std::path::PathBuf>,
}

impl Config {
    /// Defaults for `chain_id` with the given identity.
    pub fn new(keypair: Keypair, chain_id: impl Into<String>) -> Self {
        Config {
            keypair,
            chain_id: chain_id.into(),
            max_vertex_message_bytes: 1024 * 1024,
            max_consensus_message_bytes: 1024 * 1024,
            max_request_bytes: 64 * 1024,
            max_response_bytes: 16 * 1024 * 1024,
            request_timeout: Duration::from_secs(10),
            gossip_heartbeat: Duration::from_millis(700),
            idle_connection_timeout: Duration::from_secs(60),
            event_buffer: 1024,
            ban_duration: Duration::from_secs(600),
            max_inbound_connections: DEFAULT_MAX_INBOUND_CONNECTIONS,
            max_pending_inbound: 32,
            max_connections_per_peer: 2,
            bans_file: None,
        }
    }

    pub(crate) fn topic(&self, topic: Topic) -> IdentTopic {
        IdentTopic::new(format!("/itc/{}/{}/2", self.chain_id, topic.name()))
    }

    pub(crate) fn max_message_bytes(&self, topic: Topic) -> usize {
        match topic {
            Topic::Vertices => self.max_vertex_message_bytes,
            Topic::Consensus => self.max_consensus_message_bytes,
        }
    }
}

/// A gossip topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Newly attached DAG vertices (SCALE `Vertex`).
    Vertices,
    /// PBFT messages (SCALE, defined by the driver).
    Consensus,
}

impl Topic {
    /// Both topics.
    pub const ALL: [Topic; 2] = [Topic::Vertices, Topic::Consensus];

    /// The topic's short name, part of its full name `/itc/<chain>/<name>/1`.
    pub const fn name(self) -> &'static str {
        match self {
            Topic::Vertices => "vertices",
            Topic::Consensus => "consensus",
        }
    }
}

/// The application's verdict on a gossip message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validation {
    /// Valid: deliver and forward to the mesh.
    Accept,
    /// Invalid (bad signature, bad PoW): drop; counts against the sender under peer scoring.
    Reject,
    /// Not useful (duplicate, too old) but not malicious: drop without penalty.
    Ignore,
}

/// What the network reports to the application.
#[derive(Debug)]
pub enum Event {
    /// A gossip message awaiting validation: decode it, check it, then call
    /// [`Client::report_validation`] with `message_id` and `source`.
    Gossip {
        /// The topic it came on.
        topic: Topic,
        /// The peer that forwarded it (not necessarily its author).
        source: PeerId,
        /// Its id, for the validation report.
        message_id: MessageId,
        /// The payload (the publisher's bytes, without the relay header).
        data: Vec<u8>,
        /// Every other subscribed peer of this node had it from its publisher: accepting it
        /// forwards nothing (see [`relay`]), and only a node it is addressed to needs it.
        covered: bool,
    },
    /// A peer asks for something; answer with [`Client::respond`].
    InboundRequest {
        /// Who asks.
        peer: PeerId,
        /// What it asks for.
        request: Request,
        /// Where the answer goes.
        channel: ResponseChannel<Response>,
    },
    /// The first connection to a peer opened.
    PeerConnected(PeerId),
    /// The last connection to a peer closed.
    PeerDisconnected(PeerId),
    /// A peer subscribed to a topic: from now on it receives what we publish there.
    PeerSubscribed {
        /// The peer.
        peer: PeerId,
        /// The topic.
        topic: Topic,
    },
}

/// Builds the network: the client, the event receiver and the event loop to spawn.
pub fn new(config: Config) -> Result<(Client, mpsc::Receiver<Event>, EventLoop)> {
    let local_peer_id = config.keypair.public().to_peer_id();
    let swarm = behaviour::build_swarm(&config)?;
    let (command_tx, command_rx) = mpsc::channel(256);
    let (event_tx, event_rx) = mpsc::channel(config.event_buffer.max(1));
    let event_loop = EventLoop::new(swarm, config, command_rx, event_tx);
    Ok((Client::new(command_tx, local_peer_id), event_rx, event_loop))
}

fn network_err(what: impl std::fmt::Display) -> Error {
    Error::Network(what.to_string())
}

#[cfg(test)]
mod tests;
