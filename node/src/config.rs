//! The node's TOML configuration file.
//!
//! Every field has a default, so an empty file is a valid configuration; unknown keys are
//! rejected so that a typo does not silently fall back to a default. Command-line flags override
//! the file (the CLI merges them; this module only parses and validates).
//!
//! ```toml
//! base_path = "/var/lib/itc"
//! log = "info,itc_node::network=debug"
//!
//! [network]
//! listen_addrs = ["/ip4/0.0.0.0/tcp/30333"]
//! bootnodes = ["/ip4/10.0.0.1/tcp/30333/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"]
//! max_inbound_connections = 128   # connections other nodes may hold open to this one
//!
//! [rpc]
//! addr = "127.0.0.1:9944"
//! max_connections = 100
//!
//! [metrics]
//! addr = "127.0.0.1:9615"
//!
//! [storage]
//! state_versions = 4096     # provable state versions behind the latest; 0 keeps every one
//! retain_milestones = 512   # finalised milestones the validator keeps in memory
//!
//! [mempool]
//! nonce_window = 64         # a submitted nonce must be below the account's nonce plus this
//!
//! [validator]
//! key_uri = "//Alice"
//! pipeline_min_batch = 64   # as primary, propose before the last milestone is final only
//!                           # with this many new vertices (0 or 1: always)
//! ```
//!
//! The `[mempool]` and `pipeline_min_batch` settings are this node's own: the validators of a
//! chain need not agree on them (the validity rules of a milestone are the chain spec's).
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use libp2p::multiaddr::Protocol;
use libp2p::Multiaddr;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The whole configuration file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// Where the database and the node key live; `None` means a temporary directory (dev only).
    pub base_path: Option<PathBuf>,
    /// The `tracing` filter, as in `RUST_LOG` (`info,itc_node::network=debug`).
    pub log: String,
    /// Peer-to-peer settings.
    pub network: NetworkSettings,
    /// JSON-RPC server settings.
    pub rpc: RpcSettings,
    /// Prometheus exporter settings.
    pub metrics: MetricsSettings,
    /// What the node keeps of the past.
    pub storage: StorageSettings,
    /// Which client transactions the node admits.
    pub mempool: MempoolSettings,
    /// Set on a validator: which key signs consensus messages.
    pub validator: Option<ValidatorSettings>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            base_path: None,
            log: "info".into(),
            network: NetworkSettings::default(),
            rpc: RpcSettings::default(),
            metrics: MetricsSettings::default(),
            storage: StorageSettings::default(),
            mempool: MempoolSettings::default(),
            validator: None,
        }
    }
}

/// Peer-to-peer settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkSettings {
    /// Multiaddresses to listen on (`/ip4/0.0.0.0/tcp/30333`).
    pub listen_addrs: Vec<String>,
    /// Peers to dial at start: multiaddresses ending in `/p2p/<peer id>`.
    pub bootnodes: Vec<String>,
    /// Most connections other nodes may hold open to this one.
    pub max_inbound_connections: u32,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        NetworkSettings {
            listen_addrs: vec!["/ip4/0.0.0.0/tcp/30333".into()],
            bootnodes: Vec::new(),
            max_inbound_connections: crate::network::DEFAULT_MAX_INBOUND_CONNECTIONS,
        }
    }
}

/// JSON-RPC server settings (see [`crate::rpc::RpcConfig`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RpcSettings {
    /// Address of the HTTP + WebSocket server.
    pub addr: SocketAddr,
    /// Largest request body accepted, in bytes.
    pub max_request_body_bytes: u32,
    /// Largest number of calls in one batch.
    pub max_batch_len: u32,
    /// Most simultaneous connections.
    pub max_connections: u32,
}

impl Default for RpcSettings {
    fn default() -> Self {
        let d = crate::rpc::RpcConfig::default();
        RpcSettings {
            addr: d.addr,
            max_request_body_bytes: d.max_request_body_bytes,
            max_batch_len: d.max_batch_len,
            max_connections: d.max_connections,
        }
    }
}

impl From<&RpcSettings> for crate::rpc::RpcConfig {
    fn from(s: &RpcSettings) -> Self {
        crate::rpc::RpcConfig {
            addr: s.addr,
            max_request_body_bytes: s.max_request_body_bytes,
            max_batch_len: s.max_batch_len,
            max_connections: s.max_connections,
            ..crate::rpc::RpcConfig::default()
        }
    }
}

/// Prometheus exporter settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// Address of the `/metrics` endpoint; `None` disables the exporter.
    pub addr: Option<SocketAddr>,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings { addr: Some(SocketAddr::from(([127, 0, 0, 1], 9615))) }
    }
}

/// What the node keeps of the past, in memory and on disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    /// State versions kept provable (`state_getProof`) behind the latest; older state-tree
    /// nodes are deleted as milestones finalise. 0 keeps every version (an archive node).
    pub state_versions: u64,
    /// Finalised milestones (with receipts and tx index) the validator keeps in memory; older
    /// ones are served from the database. A restart reloads this many, or the replica's
    /// state-transfer memory (4,096 certified milestones) if that is more.
    pub retain_milestones: u64,
}

impl Default for StorageSettings {
    fn default() -> Self {
        StorageSettings {
            state_versions: crate::service::DEFAULT_STATE_PRUNING,
            retain_milestones: itc_chain::ChainConfig::default().retain_milestones,
        }
    }
}

impl StorageSettings {
    /// `state_versions` as the service takes it: `None` for an archive.
    pub fn state_pruning(&self) -> Option<u64> {
        (self.state_versions > 0).then_some(self.state_versions)
    }
}

/// Which client transactions the node admits (`author_submitTransaction`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MempoolSettings {
    /// A submitted transaction's nonce must be below the account's nonce plus this: how many
    /// transactions one account may have in flight.
    pub nonce_window: u64,
}

impl Default for MempoolSettings {
    fn default() -> Self {
        MempoolSettings { nonce_window: itc_chain::ChainConfig::default().nonce_window }
    }
}

/// Validator settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorSettings {
    /// Secret URI of the validator's sr25519 key (`//Alice`, or a phrase with derivations).
    pub key_uri: String,
    /// As primary, propose milestone `n + 1` before `n` is final only with at least this many
    /// new vertices ([`itc_chain::ChainConfig::pipeline_min_batch`]): small pipelined
    /// milestones cost more CPU than the wait they save; 0 or 1 pipelines every milestone.
    #[serde(default = "default_pipeline_min_batch")]
    pub pipeline_min_batch: usize,
}

fn default_pipeline_min_batch() -> usize {
    itc_chain::DEFAULT_PIPELINE_MIN_BATCH
}

impl NodeConfig {
    /// Parses and validates a configuration from TOML text.
    pub fn from_toml_str(text: &str) -> Result<Self> {
        let config: NodeConfig = toml::from_str(text).map_err(|e| {
            Error::Config(format!(
                "{}; see the example in the itc-node `config` module docs",
                e.message()
            ))
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Reads, parses and validates the configuration file at `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        Self::from_toml_str(&text).map_err(|e| match e {
            Error::Config(msg) => Error::Config(format!("{}: {msg}", path.display())),
            other => other,
        })
    }

    /// The configuration as TOML text (what `itc node --print-config` would write).
    pub fn to_toml_string(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| Error::Config(e.to_string()))
    }

    /// Checks the values serde cannot: multiaddresses, bootnode peer ids, the key URI.
    pub fn validate(&self) -> Result<()> {
        self.listen_multiaddrs()?;
        self.bootnode_multiaddrs()?;
        if let Some(v) = &self.validator {
            if v.key_uri.trim().is_empty() {
                return Err(Error::Config(
                    "validator.key_uri is empty; set it to the validator's secret URI (e.g. \"//Alice\" on a dev chain)"
                        .into(),
                ));
            }
        }
        if self.storage.retain_milestones == 0 {
            return Err(Error::Config(
                "storage.retain_milestones is 0; keep at least 1 (512 is the default)".into(),
            ));
        }
        if self.mempool.nonce_window == 0 {
            return Err(Error::Config(
                "mempool.nonce_window is 0, which admits no transaction; use at least 1 (64 is the default)"
                    .into(),
            ));
        }
        if self.rpc.max_batch_len == 0 || self.rpc.max_connections == 0 {
            return Err(Error::Config(
                "rpc.max_batch_len and rpc.max_connections must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The listen addresses, parsed.
    pub fn listen_multiaddrs(&self) -> Result<Vec<Multiaddr>> {
        self.network
            .listen_addrs
            .iter()
            .map(|a| {
                a.parse::<Multiaddr>().map_err(|e| {
                    Error::Config(format!(
                        "network.listen_addrs: `{a}` is not a multiaddress ({e}); write e.g. /ip4/0.0.0.0/tcp/30333"
                    ))
                })
            })
            .collect()
    }

    /// The bootnodes, parsed, each with the peer id taken from its trailing `/p2p/…`.
    pub fn bootnode_multiaddrs(&self) -> Result<Vec<(libp2p::PeerId, Multiaddr)>> {
        self.network.bootnodes.iter().map(|a| parse_bootnode(a)).collect()
    }
}

/// Parses a bootnode address `…/p2p/<peer id>` into the peer id and the address.
pub fn parse_bootnode(text: &str) -> Result<(libp2p::PeerId, Multiaddr)> {
    let addr: Multiaddr = text.parse().map_err(|e| {
        Error::Config(format!("bootnode `{text}` is not a multiaddress ({e}); write e.g. /ip4/10.0.0.1/tcp/30333/p2p/<peer id>"))
    })?;
    match addr.iter().last() {
        Some(Protocol::P2p(peer)) => Ok((peer, addr)),
        _ => Err(Error::Config(format!(
            "bootnode `{text}` does not end in /p2p/<peer id>; append the peer id the bootnode prints at start"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
base_path = "/var/lib/itc"
log = "info,itc_node::network=debug"

[network]
listen_addrs = ["/ip4/0.0.0.0/tcp/30333"]
bootnodes = ["/ip4/10.0.0.1/tcp/30333/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"]
max_inbound_connections = 40

[rpc]
addr = "127.0.0.1:9944"
max_connections = 100

[metrics]
addr = "127.0.0.1:9615"

[storage]
state_versions = 0
retain_milestones = 64

[mempool]
nonce_window = 16

[validator]
key_uri = "//Alice"
"#;

    #[test]
    fn documented_example_parses_with_defaults_for_missing_fields() {
        let c = NodeConfig::from_toml_str(EXAMPLE).unwrap();
        assert_eq!(c.base_path.as_deref(), Some(Path::new("/var/lib/itc")));
        assert_eq!(c.log, "info,itc_node::network=debug");
        assert_eq!(c.rpc.addr, "127.0.0.1:9944".parse().unwrap());
        assert_eq!(c.rpc.max_connections, 100);
        assert_eq!(c.network.max_inbound_connections, 40);
        assert_eq!(NetworkSettings::default().max_inbound_connections, 128);
        assert_eq!(c.rpc.max_batch_len, RpcSettings::default().max_batch_len);
        assert_eq!(c.validator.as_ref().unwrap().key_uri, "//Alice");
        assert_eq!(c.storage.state_pruning(), None, "0 state versions is an archive");
        assert_eq!(c.storage.retain_milestones, 64);
        assert_eq!(c.mempool.nonce_window, 16);
        assert_eq!(MempoolSettings::default().nonce_window, 64);
        let v = c.validator.as_ref().unwrap();
        assert_eq!(v.pipeline_min_batch, itc_chain::DEFAULT_PIPELINE_MIN_BATCH, "defaulted");
        let c2 =
            NodeConfig::from_toml_str("[validator]\nkey_uri = \"//Bob\"\npipeline_min_batch = 1\n")
                .unwrap();
        assert_eq!(c2.validator.unwrap().pipeline_min_batch, 1);
        let err = NodeConfig::from_toml_str("[mempool]\nnonce_window = 0\n").unwrap_err();
        assert!(err.to_string().contains("mempool.nonce_window"), "{err}");
        assert_eq!(StorageSettings::default().state_pruning(), Some(4_096));
        let err = NodeConfig::from_toml_str("[storage]\nretain_milestones = 0\n").unwrap_err();
        assert!(err.to_string().contains("storage.retain_milestones"), "{err}");
        let boot = c.bootnode_multiaddrs().unwrap();
        assert_eq!(boot[0].0.to_string(), "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN");
        // Round trip through the printer.
        assert_eq!(NodeConfig::from_toml_str(&c.to_toml_string().unwrap()).unwrap(), c);
    }

    #[test]
    fn empty_file_is_the_default_config_on_port_9944() {
        let c = NodeConfig::from_toml_str("").unwrap();
        assert_eq!(c, NodeConfig::default());
        assert_eq!(c.rpc.addr.port(), 9944);
        assert!(c.validator.is_none());
    }

    #[test]
    fn typo_in_a_key_is_rejected_with_its_name() {
        let err = NodeConfig::from_toml_str("[rpc]\nadress = \"127.0.0.1:1\"\n").unwrap_err();
        assert!(err.to_string().contains("adress"), "{err}");
    }

    #[test]
    fn bootnode_without_peer_id_is_rejected_with_advice() {
        let err = NodeConfig::from_toml_str("[network]\nbootnodes = [\"/ip4/1.2.3.4/tcp/1\"]\n")
            .unwrap_err();
        assert!(err.to_string().contains("/p2p/<peer id>"), "{err}");
        let err = NodeConfig::from_toml_str("[network]\nlisten_addrs = [\"tcp:1\"]\n").unwrap_err();
        assert!(err.to_string().contains("not a multiaddress"), "{err}");
    }

    #[test]
    fn load_names_the_file_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("itc.toml");
        std::fs::write(&path, "log = 3\n").unwrap();
        let err = NodeConfig::load(&path).unwrap_err();
        assert!(err.to_string().contains("itc.toml"), "{err}");
        let missing = NodeConfig::load(&dir.path().join("none.toml")).unwrap_err();
        assert!(matches!(missing, Error::Io { .. }), "{missing}");
    }
}
