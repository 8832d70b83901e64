//! The handle the application uses to drive the network.
use std::collections::HashSet;

use itc_primitives::Hash;
use libp2p::gossipsub::MessageId;
use libp2p::request_response::ResponseChannel;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, oneshot};

use super::{Request, Response, Topic, Validation};
use crate::{Error, Result};

/// A command for the event loop; each carries the oneshot its answer goes to.
#[derive(Debug)]
pub(crate) enum Command {
    StartListening {
        addr: Multiaddr,
        reply: oneshot::Sender<Result<Multiaddr>>,
    },
    Dial {
        peer: PeerId,
        addr: Multiaddr,
        reply: oneshot::Sender<Result<()>>,
    },
    Publish {
        topic: Topic,
        data: Vec<u8>,
        reply: oneshot::Sender<Result<MessageId>>,
    },
    ReportValidation {
        message_id: MessageId,
        source: PeerId,
        verdict: Validation,
        reply: oneshot::Sender<bool>,
    },
    Request {
        peer: PeerId,
        request: Request,
        reply: oneshot::Sender<Result<Response>>,
    },
    Respond {
        channel: ResponseChannel<Response>,
        response: Response,
        reply: oneshot::Sender<Result<()>>,
    },
    StartProviding {
        key: Hash,
        reply: oneshot::Sender<Result<()>>,
    },
    GetProviders {
        key: Hash,
        reply: oneshot::Sender<Result<HashSet<PeerId>>>,
    },
    Peers {
        reply: oneshot::Sender<Vec<PeerId>>,
    },
    PeerScore {
        peer: PeerId,
        reply: oneshot::Sender<Option<f64>>,
    },
    Ban {
        peer: PeerId,
        reason: String,
    },
    Unban {
        peer: PeerId,
    },
    Banned {
        reply: oneshot::Sender<Vec<PeerId>>,
    },
}

/// Sends commands to the [`super::EventLoop`]. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Client {
    sender: mpsc::Sender<Command>,
    local_peer_id: PeerId,
}

impl Client {
    pub(crate) fn new(sender: mpsc::Sender<Command>, local_peer_id: PeerId) -> Self {
        Client { sender, local_peer_id }
    }

    /// This node's peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    /// Queues a command whose answer nobody waits for, without awaiting: a caller that must
    /// never wait on the network (the driver) sends this way. A full queue hands the command to
    /// a task that waits for room; a stopped network drops it.
    fn detach(&self, command: Command) {
        match self.sender.try_send(command) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            Err(mpsc::error::TrySendError::Full(command)) => {
                let sender = self.sender.clone();
                tokio::spawn(async move {
                    let _ = sender.send(command).await;
                });
            }
        }
    }

    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.sender.send(make(tx)).await.map_err(|_| Error::NetworkStopped)?;
        rx.await.map_err(|_| Error::NetworkStopped)
    }

    /// Listens on `addr` (port 0 picks a free port) and returns the address actually bound.
    pub async fn start_listening(&self, addr: Multiaddr) -> Result<Multiaddr> {
        self.call(|reply| Command::StartListening { addr, reply }).await?
    }

    /// Connects to `peer` at `addr` (and adds it to the DHT routing table); returns once
    /// connected. Succeeds at once if already connected.
    pub async fn dial(&self, peer: PeerId, addr: Multiaddr) -> Result<()> {
        self.call(|reply| Command::Dial { peer, addr, reply }).await?
    }

    /// Publishes `data` on `topic`. Fails if it exceeds the topic's size limit or no peer is
    /// subscribed yet (wait for [`super::Event::PeerSubscribed`]).
    pub async fn publish(&self, topic: Topic, data: Vec<u8>) -> Result<MessageId> {
        self.call(|reply| Command::Publish { topic, data, reply }).await?
    }

    /// [`Client::publish`] without waiting for the outcome (see `detach`): for messages the
    /// protocol resends if they are lost.
    pub fn publish_detached(&self, topic: Topic, data: Vec<u8>) {
        let (reply, _) = oneshot::channel();
        self.detach(Command::Publish { topic, data, reply });
    }

    /// [`Client::report_validation`] without waiting for the outcome.
    pub fn report_validation_detached(
        &self,
        message_id: MessageId,
        source: PeerId,
        verdict: Validation,
    ) {
        let (reply, _) = oneshot::channel();
        self.detach(Command::ReportValidation { message_id, source, verdict, reply });
    }

    /// Reports the application's verdict on a received gossip message. Returns whether the
    /// message was still awaiting validation (false if it already expired from the cache).
    pub async fn report_validation(
        &self,
        message_id: MessageId,
        source: PeerId,
        verdict: Validation,
    ) -> Result<bool> {
        self.call(|reply| Command::ReportValidation { message_id, source, verdict, reply }).await
    }

    /// Sends `request` to `peer` and waits for its response (bounded by the request timeout).
    pub async fn request(&self, peer: PeerId, request: Request) -> Result<Response> {
        self.call(|reply| Command::Request { peer, request, reply }).await?
    }

    /// Answers an inbound request.
    pub async fn respond(
        &self,
        channel: ResponseChannel<Response>,
        response: Response,
    ) -> Result<()> {
        self.call(|reply| Command::Respond { channel, response, reply }).await?
    }

    /// Announces in the DHT that this node holds the chunk with hash `key`.
    pub async fn start_providing(&self, key: Hash) -> Result<()> {
        self.call(|reply| Command::StartProviding { key, reply }).await?
    }

    /// Finds peers that announced holding the chunk with hash `key` (possibly none).
    pub async fn get_providers(&self, key: Hash) -> Result<HashSet<PeerId>> {
        self.call(|reply| Command::GetProviders { key, reply }).await?
    }

    /// The currently connected peers.
    pub async fn peers(&self) -> Result<Vec<PeerId>> {
        self.call(|reply| Command::Peers { reply }).await
    }

    /// The gossip score this node gives `peer` (`None` if it has no record of it). Below
    /// `PeerScoreThresholds::graylist_threshold` (-80) everything the peer gossips is ignored.
    pub async fn peer_score(&self, peer: PeerId) -> Result<Option<f64>> {
        self.call(|reply| Command::PeerScore { peer, reply }).await
    }

    /// Bans `peer` for the configured `ban_duration`: its connections close and it cannot
    /// connect again (either way) until the ban ends. For a peer that sent what no honest node
    /// sends; `reason` goes to the log. A later ban of the same peer restarts the period.
    pub fn ban(&self, peer: PeerId, reason: impl Into<String>) {
        self.detach(Command::Ban { peer, reason: reason.into() });
    }

    /// Lifts a ban before it ends (an operator's decision).
    pub fn unban(&self, peer: PeerId) {
        self.detach(Command::Unban { peer });
    }

    /// The peers banned now.
    pub async fn banned(&self) -> Result<Vec<PeerId>> {
        self.call(|reply| Command::Banned { reply }).await
    }
}
