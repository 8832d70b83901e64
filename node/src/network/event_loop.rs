//! The event loop: owns the swarm, executes [`Command`]s, turns swarm events into [`Event`]s.
use std::collections::{HashMap, HashSet};

use futures::StreamExt;
use itc_primitives::Hash;
use libp2p::core::transport::ListenerId;
use libp2p::gossipsub::{self, MessageAcceptance, MessageId, TopicHash};
use libp2p::kad::{self, GetProvidersOk, QueryId, QueryResult, RecordKey};
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::swarm::{DialError, SwarmEvent};
use libp2p::{identify, Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::behaviour::{identify_version, kad_protocol, score_params, Behaviour, BehaviourEvent};
use super::client::Command;
use super::{bans, network_err, relay, Config, Event, Response, Topic, Validation};
use crate::{Error, Result};

/// Owns the swarm. Spawn [`EventLoop::run`]; it returns when every [`super::Client`] is dropped.
pub struct EventLoop {
    swarm: Swarm<Behaviour>,
    config: Config,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
    topics: HashMap<TopicHash, Topic>,
    pending_listen: HashMap<ListenerId, oneshot::Sender<Result<Multiaddr>>>,
    pending_dial: HashMap<PeerId, Vec<oneshot::Sender<Result<()>>>>,
    pending_requests: HashMap<OutboundRequestId, oneshot::Sender<Result<Response>>>,
    pending_start_providing: HashMap<QueryId, oneshot::Sender<Result<()>>>,
    pending_get_providers: HashMap<QueryId, oneshot::Sender<Result<HashSet<PeerId>>>>,
    /// Banned peers and when each ban ends.
    bans: HashMap<PeerId, Instant>,
    /// A gossip score below this bans the peer (gossipsub's graylist threshold: by then it has
    /// relayed several messages no honest node forwards).
    ban_score: f64,
    /// Gossipsub publishes to no peer scored below this.
    publish_score: f64,
    /// Messages awaiting validation that every peer already had from their publisher: accepted,
    /// they are not relayed (see [`super::relay`]). At most [`MAX_COVERED`].
    covered: HashSet<MessageId>,
}

/// Most messages awaiting validation remembered as covered.
const MAX_COVERED: usize = 16_384;

impl std::fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop").field("local_peer_id", self.swarm.local_peer_id()).finish()
    }
}

/// Sleeps until `at`, or forever if `None`.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn record_key(key: &Hash) -> RecordKey {
    RecordKey::new(&key.0)
}

impl EventLoop {
    pub(crate) fn new(
        swarm: Swarm<Behaviour>,
        config: Config,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<Event>,
    ) -> Self {
        let topics = Topic::ALL.iter().map(|t| (config.topic(*t).hash(), *t)).collect();
        let thresholds = score_params(&config).1;
        let (ban_score, publish_score) =
            (thresholds.graylist_threshold, thresholds.publish_threshold);
        let mut event_loop = EventLoop {
            swarm,
            config,
            commands,
            events,
            topics,
            pending_listen: HashMap::new(),
            pending_dial: HashMap::new(),
            pending_requests: HashMap::new(),
            pending_start_providing: HashMap::new(),
            pending_get_providers: HashMap::new(),
            bans: HashMap::new(),
            ban_score,
            publish_score,
            covered: HashSet::new(),
        };
        event_loop.restore_bans();
        event_loop
    }

    /// Takes up the bans of [`Config::bans_file`] that have not ended.
    fn restore_bans(&mut self) {
        let Some(path) = self.config.bans_file.clone() else { return };
        let now = bans::unix_ms();
        match bans::load(&path, now) {
            Ok(list) => {
                for (peer, until) in list {
                    let left = std::time::Duration::from_millis(until.saturating_sub(now));
                    self.swarm.behaviour_mut().blocked.block_peer(peer);
                    self.bans.insert(peer, Instant::now() + left);
                    tracing::info!(target: "itc_node::network", %peer, "still banned for {left:?}");
                }
            }
            // The bans are a defence, not state: a damaged file costs them, not the node.
            Err(e) => tracing::warn!(target: "itc_node::network", "bans not restored: {e}"),
        }
    }

    /// Writes the bans to [`Config::bans_file`], if set.
    fn save_bans(&self) {
        let Some(path) = &self.config.bans_file else { return };
        let (now, now_ms) = (Instant::now(), bans::unix_ms());
        let list: Vec<(PeerId, u64)> = self
            .bans
            .iter()
            .map(|(peer, until)| {
                (
                    *peer,
                    now_ms.saturating_add(until.saturating_duration_since(now).as_millis() as u64),
                )
            })
            .collect();
        if let Err(e) = bans::save(path, &list) {
            tracing::warn!(target: "itc_node::network", "bans not saved: {e}");
        }
    }

    /// Runs until every client is dropped.
    pub async fn run(mut self) {
        loop {
            let ban_ends = self.bans.values().min().copied();
            tokio::select! {
                event = self.swarm.select_next_some() => self.handle_swarm_event(event).await,
                command = self.commands.recv() => match command {
                    Some(command) => self.handle_command(command),
                    None => return,
                },
                _ = sleep_until_some(ban_ends) => self.end_bans(),
            }
        }
    }

    /// Disconnects `peer` and refuses it until `ban_duration` from now.
    fn ban(&mut self, peer: PeerId, reason: &str) {
        if peer == *self.swarm.local_peer_id() {
            return;
        }
        let until = Instant::now() + self.config.ban_duration;
        self.swarm.behaviour_mut().blocked.block_peer(peer);
        if self.bans.insert(peer, until).is_none() {
            tracing::warn!(target: "itc_node::network", %peer, "banned for {:?}: {reason}", self.config.ban_duration);
        }
        self.save_bans();
    }

    fn unban(&mut self, peer: PeerId) {
        if self.bans.remove(&peer).is_some() {
            self.swarm.behaviour_mut().blocked.unblock_peer(peer);
            tracing::info!(target: "itc_node::network", %peer, "ban lifted");
            self.save_bans();
        }
    }

    /// Lifts the bans whose time is up.
    fn end_bans(&mut self) {
        let now = Instant::now();
        let due: Vec<PeerId> =
            self.bans.iter().filter(|(_, until)| **until <= now).map(|(p, _)| *p).collect();
        for peer in due {
            self.unban(peer);
        }
    }

    /// The connected peers subscribed to `topic`.
    fn topic_peers(&self, topic: &TopicHash) -> Vec<PeerId> {
        let gossipsub = &self.swarm.behaviour().gossipsub;
        gossipsub
            .all_peers()
            .filter(|(_, topics)| topics.contains(&topic))
            .map(|(p, _)| *p)
            .collect()
    }

    async fn emit(&mut self, event: Event) {
        // A dropped receiver means the application is shutting down; nothing to deliver to.
        let _ = self.events.send(event).await;
    }

    fn handle_command(&mut self, command: Command) {
        match command {
            Command::StartListening { addr, reply } => match self.swarm.listen_on(addr.clone()) {
                Ok(id) => {
                    self.pending_listen.insert(id, reply);
                }
                Err(e) => {
                    let _ = reply.send(Err(Error::Network(format!(
                        "cannot listen on {addr}: {e}; check the address and that the port is free"
                    ))));
                }
            },
            Command::Dial { peer, addr: _, reply } if self.bans.contains_key(&peer) => {
                let _ = reply.send(Err(Error::Network(format!(
                    "cannot dial {peer}: this node banned it (in the block list) for sending \
                     invalid data; the ban ends by itself, or lift it with an unban"
                ))));
            }
            Command::Dial { peer, addr, reply } => {
                self.swarm.behaviour_mut().kademlia.add_address(&peer, addr.clone());
                match self.swarm.dial(DialOpts::peer_id(peer).addresses(vec![addr.clone()]).build())
                {
                    Ok(()) => self.pending_dial.entry(peer).or_default().push(reply),
                    Err(DialError::DialPeerConditionFalse(_)) if self.swarm.is_connected(&peer) => {
                        let _ = reply.send(Ok(()));
                    }
                    // Already dialing: answer with the outcome of that dial.
                    Err(DialError::DialPeerConditionFalse(_)) => {
                        self.pending_dial.entry(peer).or_default().push(reply)
                    }
                    Err(e) => {
                        let _ = reply.send(Err(Error::Network(format!(
                            "cannot dial {peer} at {addr}: {e}"
                        ))));
                    }
                }
            }
            Command::Publish { topic, data, reply } => {
                let limit = self.config.max_message_bytes(topic);
                let result = if data.len() > limit {
                    Err(Error::Network(format!(
                        "{} message of {} bytes exceeds the {limit}-byte limit",
                        topic.name(),
                        data.len()
                    )))
                } else {
                    let topic_hash = self.config.topic(topic).hash();
                    // The peers flood publishing hands the message to (see `relay`).
                    let gossipsub = &self.swarm.behaviour().gossipsub;
                    let reached = self.topic_peers(&topic_hash).into_iter().filter(|p| {
                        gossipsub.peer_score(p).is_none_or(|s| s >= self.publish_score)
                    });
                    let data = relay::frame(self.swarm.local_peer_id(), reached, &data);
                    self.swarm.behaviour_mut().gossipsub.publish(topic_hash, data).map_err(|e| {
                        Error::Network(format!(
                            "cannot publish on {}: {e}; if no peer is subscribed yet, retry once one is",
                            topic.name()
                        ))
                    })
                };
                if let Err(e) = &result {
                    tracing::trace!(target: "itc_node::network", "{e}");
                }
                let _ = reply.send(result);
            }
            Command::ReportValidation { message_id, source, verdict, reply } => {
                let covered = self.covered.remove(&message_id);
                let acceptance = match verdict {
                    // Nobody to relay it to: forwarding would only send duplicates.
                    Validation::Accept if covered => MessageAcceptance::Ignore,
                    Validation::Accept => MessageAcceptance::Accept,
                    Validation::Reject => MessageAcceptance::Reject,
                    Validation::Ignore => MessageAcceptance::Ignore,
                };
                let known = self.swarm.behaviour_mut().gossipsub.report_message_validation_result(
                    &message_id,
                    &source,
                    acceptance,
                );
                let _ = reply.send(known);
                if verdict == Validation::Reject {
                    // Gossipsub only ignores a graylisted peer; this node also cuts it off.
                    let score = self.swarm.behaviour().gossipsub.peer_score(&source);
                    if let Some(score) = score.filter(|s| *s < self.ban_score) {
                        self.ban(
                            source,
                            &format!("gossip score {score:.0} after relaying invalid messages"),
                        );
                    }
                }
            }
            Command::Request { peer, request, reply } => {
                let id = self.swarm.behaviour_mut().request_response.send_request(&peer, request);
                self.pending_requests.insert(id, reply);
            }
            Command::Respond { channel, response, reply } => {
                let result = self
                    .swarm
                    .behaviour_mut()
                    .request_response
                    .send_response(channel, response)
                    .map_err(|_| {
                        Error::Network(
                            "the requester is gone (connection closed or request timed out)".into(),
                        )
                    });
                let _ = reply.send(result);
            }
            Command::StartProviding { key, reply } => {
                match self.swarm.behaviour_mut().kademlia.start_providing(record_key(&key)) {
                    Ok(id) => {
                        self.pending_start_providing.insert(id, reply);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(Error::Network(format!(
                            "cannot provide chunk {}: {e}",
                            key.to_hex()
                        ))));
                    }
                }
            }
            Command::GetProviders { key, reply } => {
                let id = self.swarm.behaviour_mut().kademlia.get_providers(record_key(&key));
                self.pending_get_providers.insert(id, reply);
            }
            Command::Peers { reply } => {
                let _ = reply.send(self.swarm.connected_peers().copied().collect());
            }
            Command::PeerScore { peer, reply } => {
                let _ = reply.send(self.swarm.behaviour().gossipsub.peer_score(&peer));
            }
            Command::Ban { peer, reason } => self.ban(peer, &reason),
            Command::Unban { peer } => self.unban(peer),
            Command::Banned { reply } => {
                let _ = reply.send(self.bans.keys().copied().collect());
            }
        }
    }

    async fn handle_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::NewListenAddr { listener_id, address } => {
                tracing::info!(target: "itc_node::network", "listening on {address}");
                if let Some(reply) = self.pending_listen.remove(&listener_id) {
                    let _ = reply.send(Ok(address));
                }
            }
            SwarmEvent::ListenerClosed { listener_id, reason, .. } => {
                if let Some(reply) = self.pending_listen.remove(&listener_id) {
                    let _ = reply.send(Err(Error::Network(format!("listener closed: {reason:?}"))));
                }
            }
            SwarmEvent::ListenerError { listener_id, error } => {
                if let Some(reply) = self.pending_listen.remove(&listener_id) {
                    let _ = reply.send(Err(network_err(error)));
                }
            }
            SwarmEvent::ConnectionEstablished { peer_id, num_established, .. } => {
                for reply in self.pending_dial.remove(&peer_id).unwrap_or_default() {
                    let _ = reply.send(Ok(()));
                }
                if num_established.get() == 1 {
                    self.emit(Event::PeerConnected(peer_id)).await;
                }
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                self.emit(Event::PeerDisconnected(peer_id)).await;
            }
            SwarmEvent::OutgoingConnectionError { peer_id: Some(peer), error, .. } => {
                if self.swarm.is_connected(&peer) {
                    return;
                }
                for reply in self.pending_dial.remove(&peer).unwrap_or_default() {
                    let _ = reply
                        .send(Err(Error::Network(format!("cannot connect to {peer}: {error}"))));
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(event)) => self.on_gossip(event).await,
            SwarmEvent::Behaviour(BehaviourEvent::RequestResponse(event)) => {
                self.on_request_response(event).await
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kademlia(event)) => self.on_kademlia(event),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(event)) => self.on_identify(event),
            _ => {}
        }
    }

    async fn on_gossip(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message { propagation_source, message_id, message } => {
                let topic = self.topics.get(&message.topic).copied();
                let checked = match topic {
                    None => Err(format!("unknown topic {}", message.topic)),
                    Some(t) => relay::unframe(&message.data).and_then(|(header, payload)| {
                        let limit = self.config.max_message_bytes(t);
                        if payload.len() > limit {
                            Err(format!(
                                "{} bytes on {}, over its {limit}",
                                payload.len(),
                                t.name()
                            ))
                        } else {
                            Ok((t, header, payload))
                        }
                    }),
                };
                match checked {
                    Ok((topic, header, payload)) => {
                        tracing::trace!(target: "itc_node::timing", ?topic, bytes = payload.len(), "gossip in");
                        let peers = self.topic_peers(&message.topic);
                        let covered = relay::covered(&header, &propagation_source, peers);
                        if covered {
                            // Every message gets a verdict, so the set holds only those awaiting
                            // one; should verdicts ever go missing, forgetting them all (they are
                            // then relayed, as without suppression) keeps it bounded.
                            if self.covered.len() >= MAX_COVERED {
                                self.covered.clear();
                            }
                            self.covered.insert(message_id.clone());
                        }
                        let data = payload.to_vec();
                        self.emit(Event::Gossip {
                            topic,
                            source: propagation_source,
                            message_id,
                            data,
                            covered,
                        })
                        .await;
                    }
                    Err(e) => {
                        tracing::debug!(target: "itc_node::network", "rejecting gossip from {propagation_source}: {e}");
                        self.swarm.behaviour_mut().gossipsub.report_message_validation_result(
                            &message_id,
                            &propagation_source,
                            MessageAcceptance::Reject,
                        );
                    }
                }
            }
            gossipsub::Event::Subscribed { peer_id, topic } => {
                if let Some(topic) = self.topics.get(&topic).copied() {
                    self.emit(Event::PeerSubscribed { peer: peer_id, topic }).await;
                }
            }
            _ => {}
        }
    }

    async fn on_request_response(
        &mut self,
        event: request_response::Event<super::Request, Response>,
    ) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request { request, channel, .. } => {
                    self.emit(Event::InboundRequest { peer, request, channel }).await;
                }
                request_response::Message::Response { request_id, response } => {
                    if let Some(reply) = self.pending_requests.remove(&request_id) {
                        let _ = reply.send(Ok(response));
                    }
                }
            },
            request_response::Event::OutboundFailure { peer, request_id, error, .. } => {
                if let Some(reply) = self.pending_requests.remove(&request_id) {
                    let _ = reply
                        .send(Err(Error::Network(format!("request to {peer} failed: {error}"))));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(target: "itc_node::network", "inbound request from {peer} failed: {error}");
            }
            _ => {}
        }
    }

    fn on_kademlia(&mut self, event: kad::Event) {
        let kad::Event::OutboundQueryProgressed { id, result, step, .. } = event else { return };
        match result {
            QueryResult::StartProviding(result) => {
                if let Some(reply) = self.pending_start_providing.remove(&id) {
                    let _ =
                        reply.send(result.map(|_| ()).map_err(|e| {
                            Error::Network(format!("announcing a chunk failed: {e}"))
                        }));
                }
            }
            QueryResult::GetProviders(Ok(GetProvidersOk::FoundProviders { providers, .. })) => {
                if let Some(reply) = self.pending_get_providers.remove(&id) {
                    let _ = reply.send(Ok(providers));
                    // One answer is enough: stop querying further peers.
                    if let Some(mut query) = self.swarm.behaviour_mut().kademlia.query_mut(&id) {
                        query.finish();
                    }
                }
            }
            QueryResult::GetProviders(Ok(GetProvidersOk::FinishedWithNoAdditionalRecord {
                ..
            })) => {
                if let Some(reply) = self.pending_get_providers.remove(&id) {
                    let _ = reply.send(Ok(HashSet::new()));
                }
            }
            QueryResult::GetProviders(Err(e)) => {
                if let Some(reply) = self.pending_get_providers.remove(&id) {
                    let _ = reply.send(Err(Error::Network(format!("provider lookup failed: {e}"))));
                }
            }
            _ => {
                if step.last {
                    tracing::trace!(target: "itc_node::network", "kademlia query {id:?} finished");
                }
            }
        }
    }

    fn on_identify(&mut self, event: identify::Event) {
        let identify::Event::Received { peer_id, info, .. } = event else { return };
        if info.protocol_version != identify_version(&self.config) {
            tracing::debug!(
                target: "itc_node::network",
                "disconnecting {peer_id}: it runs {} and we run {}",
                info.protocol_version,
                identify_version(&self.config)
            );
            let _ = self.swarm.disconnect_peer_id(peer_id);
            return;
        }
        let Ok(kad) = kad_protocol(&self.config) else { return };
        if info.protocols.contains(&kad) {
            for addr in info.listen_addrs {
                self.swarm.behaviour_mut().kademlia.add_address(&peer_id, addr);
            }
        }
    }
}
