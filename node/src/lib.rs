//! The ITC node library behind the `itc` binary.
//!
//! - [`cli`]: the command-line interface (`itc key …`, and the node commands as they land).
//! - [`network`]: libp2p (gossip, request-response, Kademlia), as a `Client` + events + `EventLoop`.
//! - [`storage`]: RocksDB column families, a generic KV adapter and the typed chain store.
//! - [`rpc`]: the JSON-RPC server over the [`rpc::ChainApi`] port the driver implements.
//! - [`metrics`]: Prometheus metrics and the `/metrics` endpoint.
//! - [`config`]: the TOML configuration file.
//! - [`service`]: the running node: database, validator, network, RPC and metrics driven by one
//!   event loop; chain specs.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
pub mod cli;
pub mod config;
mod error;
pub mod metrics;
pub mod network;
pub mod rpc;
pub mod service;
pub mod storage;

pub use error::{Error, Result};
