//! The running node: opens the database, builds or restores the validator, starts the network,
//! the JSON-RPC server and metrics, and drives everything from one event loop.
//!
//! One task (`driver`) owns every call into the [`itc_chain::Validator`] that changes it:
//! network events, timers, ticks, persist acknowledgements and RPC submissions (sent to it as
//! commands) are handled one at a time, in order, and each call's outputs are carried out before
//! the next event: consensus messages are published, persist records fsynced to the consensus log
//! before their acknowledgement is fed back, finalised milestones written (with the state they
//! produced) in one fsynced batch before subscribers hear of them. RPC queries read the validator
//! under the same mutex without changing it.
mod adapters;
mod api;
mod driver;
mod peers;

pub use driver::{now_ms, NodeStatus};
pub mod spec;
pub mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

pub use adapters::{DbDag, DbState, DbWrite, NodeState};
use itc_chain::{ChainConfig, Validator};
use itc_primitives::{Hash, Pair};
use libp2p::{multiaddr::Protocol, Multiaddr, PeerId};
pub use spec::ChainSpec;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::{network, rpc, storage::ChainStore, Error, Result};

/// The validator type the node runs.
pub type NodeValidator = Validator<DbDag, NodeState>;

/// Everything needed to start a node.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// The chain.
    pub spec: ChainSpec,
    /// Database, network key and consensus log live under this directory.
    pub base_path: PathBuf,
    /// The validator key; `None` runs a node that follows the chain without voting.
    pub key: Option<Pair>,
    /// Addresses to listen on (port 0 picks a free port).
    pub listen: Vec<Multiaddr>,
    /// Peers to dial at start, with `/p2p/<peer id>`.
    pub bootnodes: Vec<Multiaddr>,
    /// The JSON-RPC server.
    pub rpc: rpc::RpcConfig,
    /// Where to serve Prometheus metrics, if anywhere.
    pub metrics: Option<SocketAddr>,
    /// Chain service tunables.
    pub chain: ChainConfig,
    /// State versions kept provable (`state_getProof`) behind the latest; older authenticated
    /// tree nodes are deleted as milestones finalise. `None` keeps every version (an archive).
    pub state_pruning: Option<u64>,
    /// Most connections other nodes may hold open to this one (see
    /// [`network::Config::max_inbound_connections`]).
    pub max_inbound_connections: u32,
    /// Requests (vertices, milestones, tips) each peer may make of this node per second, once
    /// its burst is spent; more are refused unread.
    pub inbound_requests_per_sec: u32,
    /// Requests a peer may make at once before [`ServiceConfig::inbound_requests_per_sec`]
    /// applies.
    pub inbound_request_burst: u32,
}

impl ServiceConfig {
    /// Defaults for `spec` under `base_path`: loopback RPC on 9944, P2P on 30333, metrics on
    /// 9615, the chain service's defaults with a deeper state-transfer memory.
    pub fn new(spec: ChainSpec, base_path: PathBuf) -> Self {
        let mut chain = ChainConfig::default();
        chain.consensus.retain_certified = 4_096;
        ServiceConfig {
            spec,
            base_path,
            key: None,
            listen: vec!["/ip4/0.0.0.0/tcp/30333".parse().unwrap_or_else(|_| Multiaddr::empty())],
            bootnodes: Vec::new(),
            rpc: rpc::RpcConfig::default(),
            metrics: Some(SocketAddr::from(([127, 0, 0, 1], 9615))),
            chain,
            state_pruning: Some(DEFAULT_STATE_PRUNING),
            max_inbound_connections: network::DEFAULT_MAX_INBOUND_CONNECTIONS,
            inbound_requests_per_sec: driver::DEFAULT_REQUESTS_PER_SEC,
            inbound_request_burst: driver::DEFAULT_REQUEST_BURST,
        }
    }
}

/// State versions a node keeps provable by default (about a quarter of an hour of idle
/// milestones; much longer under load).
pub const DEFAULT_STATE_PRUNING: u64 = 4_096;

/// A running node. Dropping it does not stop it: call [`Node::stop`].
pub struct Node {
    /// Where the JSON-RPC server listens.
    pub rpc_addr: SocketAddr,
    /// Where metrics are served.
    pub metrics_addr: Option<SocketAddr>,
    /// The P2P addresses it listens on, with `/p2p/<peer id>`.
    pub listen_addrs: Vec<Multiaddr>,
    /// Its peer id.
    pub peer_id: PeerId,
    /// The genesis hash of its chain.
    pub genesis_hash: Hash,
    /// The chain's name in the network's protocols and topics (`network::Config::chain_id`).
    pub chain_id: String,
    network: network::Client,
    stop: watch::Sender<bool>,
    control: mpsc::Sender<driver::Command>,
    shared: Arc<std::sync::Mutex<driver::Shared>>,
    store: ChainStore,
    status: watch::Receiver<NodeStatus>,
    finalized: tokio::sync::broadcast::Sender<rpc::FinalizedMilestone>,
    task: JoinHandle<Result<()>>,
    rpc: rpc::RpcServer,
    metrics: Arc<crate::metrics::Metrics>,
}

impl Node {
    /// Stops the node and waits until its database is closed. Returns the driver's error if it
    /// stopped on one.
    pub async fn stop(self) -> Result<()> {
        let _ = self.stop.send(true);
        self.rpc.stop().await;
        self.task.await.map_err(|e| Error::Config(format!("node task failed: {e}")))?
    }

    /// Waits until the node stops on its own (a fatal error).
    pub async fn wait(&mut self) -> Result<()> {
        (&mut self.task).await.map_err(|e| Error::Config(format!("node task failed: {e}")))?
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, driver::Shared> {
        self.shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The latest finalised milestone number.
    pub fn finalized_number(&self) -> itc_primitives::MilestoneNumber {
        self.shared().v.finalized_number()
    }

    /// Whether the consensus replica restored with its restart fence in force (the last stop
    /// was not known clean; see [`itc_consensus::Pbft::restart_fence`]).
    pub fn restart_fenced(&self) -> bool {
        self.shared().v.consensus().restart_fence().is_some()
    }

    /// The consensus view this node is in.
    pub fn view(&self) -> u64 {
        self.shared().v.consensus().view()
    }

    /// The root of this node's own state at milestone `number`, if it keeps it.
    pub fn state_root(&self, number: itc_primitives::MilestoneNumber) -> Option<Hash> {
        use itc_runtime::StateBackend;
        self.shared().v.state().root(number).ok()
    }

    /// How many records the consensus persist log holds (it is compacted at every stable
    /// checkpoint, so this stays bounded).
    pub fn consensus_log_len(&self) -> Result<usize> {
        Ok(self.store.consensus_log()?.0.len())
    }

    /// Finalised height and view, updated after every event: `changed().await` waits for the
    /// next change.
    pub fn status(&self) -> watch::Receiver<NodeStatus> {
        self.status.clone()
    }

    /// Finalised milestones as they are made durable.
    pub fn subscribe_finalized(&self) -> tokio::sync::broadcast::Receiver<rpc::FinalizedMilestone> {
        self.finalized.subscribe()
    }

    /// Connected peers.
    pub fn peer_count(&self) -> usize {
        self.shared().peers.len()
    }

    /// Its recovery counters so far (view changes, vertex fetches, catch-up requests).
    pub fn recovery(&self) -> crate::metrics::Recovery {
        self.metrics.recovery()
    }

    /// The peers this node banned for sending invalid data (see `network::Client::ban`).
    pub async fn banned_peers(&self) -> Result<Vec<PeerId>> {
        self.network.banned().await
    }

    /// Drops every message from and to these peers (a network partition, for tests); an empty
    /// list heals it.
    pub async fn block_peers(&self, peers: Vec<PeerId>) -> Result<()> {
        self.control.send(driver::Command::Block(peers)).await.map_err(|_| Error::NetworkStopped)
    }
}

/// The peer id in a `/p2p/<id>` address.
pub fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        Protocol::P2p(id) => Some(id),
        _ => None,
    })
}

/// Starts a node: opens (or creates) its database under `base_path`, restores or creates the
/// chain, starts networking, RPC and metrics, and spawns the driver.
pub async fn start(cfg: ServiceConfig) -> Result<Node> {
    std::fs::create_dir_all(&cfg.base_path)
        .map_err(|source| Error::Io { path: cfg.base_path.clone(), source })?;
    let store = ChainStore::open(&cfg.base_path.join("db"))?;
    let genesis_config = cfg.spec.genesis_config()?;
    let pair = cfg.key.clone().unwrap_or_else(Pair::generate);
    let (validator, fresh_writes) = driver::open_validator(&cfg, &store, &genesis_config, pair)?;
    let genesis_hash = validator.genesis_hash();

    let keypair =
        network::load_or_create_keypair(&cfg.base_path.join("network").join("secret_ed25519"))?;
    let chain_id = format!("{}-{}", cfg.spec.name, &genesis_hash.to_hex()[..16]);
    let mut network_config = network::Config::new(keypair, chain_id.clone());
    network_config.max_inbound_connections = cfg.max_inbound_connections;
    network_config.bans_file = Some(cfg.base_path.join("network").join("bans"));
    let (client, events, event_loop) = network::new(network_config)?;
    let validator_id = validator.id().to_ss58_default();
    // Every line the node logs names it (several run in one process in tests and benches).
    let span = tracing::info_span!("node", id = %&validator_id[..8]);
    tokio::spawn(tracing::Instrument::instrument(event_loop.run(), span.clone()));
    let peer_id = client.local_peer_id();
    let mut listen_addrs = Vec::new();
    for addr in &cfg.listen {
        let bound = client.start_listening(addr.clone()).await?;
        listen_addrs.push(bound.with(Protocol::P2p(peer_id)));
    }
    for addr in &cfg.bootnodes {
        let Some(peer) = peer_of(addr) else {
            return Err(Error::Config(format!(
                "bootnode {addr} has no /p2p/<peer id> suffix; copy the address a node prints at start"
            )));
        };
        if peer != peer_id {
            if let Err(e) = client.dial(peer, addr.clone()).await {
                tracing::warn!(%addr, "cannot dial bootnode: {e}");
            }
        }
    }

    let metrics = Arc::new(crate::metrics::Metrics::new());
    let metrics_addr = match cfg.metrics {
        Some(addr) => Some(crate::metrics::serve(addr, metrics.clone()).await?.0),
        None => None,
    };
    let (stop, stop_rx) = watch::channel(false);
    let network = client.clone();
    let handles = driver::Driver::build(
        validator,
        store.clone(),
        client,
        events,
        metrics.clone(),
        stop_rx,
        fresh_writes,
    )?;
    let driver::Handles { driver, api, control, shared, status, finalized } = handles;
    let driver =
        driver.with_request_budget(cfg.inbound_requests_per_sec, cfg.inbound_request_burst);
    let rpc = rpc::start(&cfg.rpc, Arc::new(api)).await?;
    let rpc_addr = rpc.addr;
    tracing::info!(
        %peer_id, %rpc_addr, genesis = %genesis_hash, "node started; listening on {:?}", listen_addrs
    );
    let task = tokio::spawn(tracing::Instrument::instrument(driver.run(), span));
    Ok(Node {
        rpc_addr,
        metrics_addr,
        listen_addrs,
        peer_id,
        genesis_hash,
        chain_id,
        network,
        stop,
        control,
        shared,
        store,
        status,
        finalized,
        task,
        rpc,
        metrics,
    })
}
