//! The JSON-RPC server (HTTP and WebSocket on one port, 127.0.0.1:9944 by default).
//!
//! The server is a thin shell over the [`ChainApi`] port: it parses and checks parameters (hex
//! SCALE decoded as untrusted input), calls the port, and serialises the answer. The driver
//! implements [`ChainApi`] and calls [`start`].
//!
//! | method | params | returns |
//! |---|---|---|
//! | `author_submitTransaction` | `[tx: hex SCALE Transaction]` | tx hash |
//! | `author_submitVertex` | `[vertex: hex SCALE Vertex]` | vertex hash |
//! | `account_nextNonce` | `[account: SS58 or hex]` | number |
//! | `state_getAccount` | `[account]` | [`AccountInfo`] or null |
//! | `state_getProof` | `[key: hex, at?: number]` | [`StateProofView`] |
//! | `chain_getMilestone` | `[number or hash]` | [`MilestoneView`] or null |
//! | `chain_getFinalized` | `[]` | [`MilestoneView`] or null |
//! | `chain_subscribeFinalized` | `[]` | subscription; notifications `chain_finalized` carry [`MilestoneView`]; cancel with `chain_unsubscribeFinalized` |
//! | `dag_getVertex` | `[hash]` | [`VertexView`] or null |
//! | `dag_tips` | `[]` | hashes |
//! | `tx_status` | `[tx hash]` | [`TxStatus`] |
//! | `system_health` | `[]` | [`Health`] |
//! | `system_peers` | `[]` | [`PeerInfo`] list |
//! | `system_bannedPeers` | `[]` | peer ids this node banned for sending forged data (the ban lifts by itself) |
//!
//! Limits ([`RpcConfig`]): request and response body size, batch length, connections and
//! subscriptions per connection. Error codes are listed in [`errors`].
pub mod api;
pub mod errors;
mod methods;
mod params;

use std::net::SocketAddr;
use std::sync::Arc;

pub use api::{
    AccountInfo, ApiError, ApiResult, Bytes, ChainApi, FinalizedMilestone, Health, MilestoneId,
    MilestoneView, PeerInfo, StateProofView, TxStatus, VertexInfo, VertexView,
};
use jsonrpsee::server::{BatchRequestConfig, Server, ServerConfig, ServerHandle};
pub use methods::METHODS;

use crate::{Error, Result};

/// Server limits and address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpcConfig {
    /// Where to listen (HTTP and WebSocket on the same port).
    pub addr: SocketAddr,
    /// Largest request body, in bytes.
    pub max_request_body_bytes: u32,
    /// Largest response body, in bytes.
    pub max_response_body_bytes: u32,
    /// Most calls in one batch.
    pub max_batch_len: u32,
    /// Most simultaneous connections.
    pub max_connections: u32,
    /// Most subscriptions one WebSocket connection may hold.
    pub max_subscriptions_per_connection: u32,
}

impl Default for RpcConfig {
    fn default() -> Self {
        RpcConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 9944)),
            max_request_body_bytes: 1024 * 1024,
            max_response_body_bytes: 16 * 1024 * 1024,
            max_batch_len: 64,
            max_connections: 100,
            max_subscriptions_per_connection: 16,
        }
    }
}

/// A running RPC server. Dropping the handle does not stop it: call [`RpcServer::stop`].
#[derive(Debug)]
pub struct RpcServer {
    /// The bound address (useful when started on port 0).
    pub addr: SocketAddr,
    handle: ServerHandle,
}

impl RpcServer {
    /// Stops the server and waits until it has shut down.
    pub async fn stop(self) {
        if self.handle.stop().is_ok() {
            self.handle.stopped().await;
        }
    }
}

/// Starts the server with every method over `api`.
pub async fn start<A: ChainApi>(config: &RpcConfig, api: Arc<A>) -> Result<RpcServer> {
    let server_err =
        |reason: String| Error::Server { service: "RPC", addr: config.addr.to_string(), reason };
    let server_config = ServerConfig::builder()
        .max_request_body_size(config.max_request_body_bytes)
        .max_response_body_size(config.max_response_body_bytes)
        .max_connections(config.max_connections)
        .max_subscriptions_per_connection(config.max_subscriptions_per_connection)
        .set_batch_request_config(BatchRequestConfig::Limit(config.max_batch_len))
        .build();
    let server = Server::builder()
        .set_config(server_config)
        .build(config.addr)
        .await
        .map_err(|e| server_err(e.to_string()))?;
    let addr = server.local_addr().map_err(|e| server_err(e.to_string()))?;
    let module = methods::module(api).map_err(server_err)?;
    let handle = server.start(module);
    tracing::info!(target: "itc_node::rpc", "JSON-RPC (HTTP and WebSocket) listening on {addr}");
    Ok(RpcServer { addr, handle })
}

#[cfg(test)]
mod tests;
