//! Multi-node tests for ITC: helpers that run a local network of validators in one process, each
//! with its own RocksDB database, libp2p swarm and JSON-RPC server on loopback.
//!
//! Waits are driven by the nodes' own events (finalised milestones, view changes) under a
//! generous deadline that only turns a hang into a failure; nothing asserts on timing.
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use itc_node::cli::client::{client, signed_transfer};
use itc_node::service::{self, ChainSpec, Node, NodeStatus, ServiceConfig};
use itc_primitives::{AccountId, Hash, Pair};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;
use parity_scale_codec::Encode;
use serde_json::Value;
use tokio::time::Instant;

/// How long any wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(90);

/// A local network of validators //Alice, //Bob, … in this process.
pub struct LocalNet {
    /// The chain.
    pub spec: ChainSpec,
    dir: tempfile::TempDir,
    /// Running nodes; `None` while stopped.
    pub nodes: Vec<Option<Node>>,
    /// Applied to every node's configuration before it starts.
    configure: fn(&mut ServiceConfig),
}

/// An empty milestone every 20 ms instead of the default 5 s heartbeat, for tests that wait for
/// heights on an idle chain.
pub fn quick_heartbeat(cfg: &mut ServiceConfig) {
    cfg.chain.idle_propose_ms = 20;
}

/// The dev account `name`.
pub fn dev(name: &str) -> Pair {
    itc_runtime::genesis::dev_pair(name).unwrap_or_else(|e| panic!("dev key {name}: {e}"))
}

impl LocalNet {
    /// Starts `n` validators (1 to 6).
    pub async fn start(n: usize) -> anyhow::Result<Self> {
        Self::start_with(n, |_| {}).await
    }

    /// Starts `n` validators (1 to 6), each configured by `configure` as well.
    pub async fn start_with(n: usize, configure: fn(&mut ServiceConfig)) -> anyhow::Result<Self> {
        let mut spec = ChainSpec::dev()?;
        spec.name = "test".into();
        spec.validators =
            itc_primitives::uri::DEV_ACCOUNTS[..n].iter().map(|a| dev(a).public()).collect();
        let nodes = (0..n).map(|_| None).collect();
        let mut net = LocalNet { spec, dir: tempfile::tempdir()?, nodes, configure };
        for i in 0..n {
            net.start_node(i).await?;
        }
        Ok(net)
    }

    fn base(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("node-{i}"))
    }

    /// Starts (or restarts, from its database) node `i`, dialling the running ones.
    pub async fn start_node(&mut self, i: usize) -> anyhow::Result<()> {
        let mut cfg = ServiceConfig::new(self.spec.clone(), self.base(i));
        cfg.key = Some(dev(itc_primitives::uri::DEV_ACCOUNTS[i]));
        cfg.listen = vec!["/ip4/127.0.0.1/tcp/0".parse()?];
        cfg.bootnodes = self.nodes.iter().flatten().flat_map(|n| n.listen_addrs.clone()).collect();
        cfg.rpc.addr = "127.0.0.1:0".parse()?;
        cfg.metrics = None;
        (self.configure)(&mut cfg);
        self.nodes[i] = Some(service::start(cfg).await?);
        Ok(())
    }

    /// Stops node `i` (its database stays).
    pub async fn stop_node(&mut self, i: usize) -> anyhow::Result<()> {
        if let Some(node) = self.nodes[i].take() {
            node.stop().await?;
        }
        Ok(())
    }

    /// Node `i`, which must be running.
    pub fn node(&self, i: usize) -> &Node {
        self.nodes[i].as_ref().unwrap_or_else(|| panic!("node {i} is stopped"))
    }

    /// Waits until every node in `which` has finalised at least `height`.
    pub async fn wait_height(&self, which: &[usize], height: u64) -> anyhow::Result<()> {
        for &i in which {
            wait_status(self.node(i), |s| s.finalized >= height)
                .await
                .with_context(|| format!("node {i} reaching milestone {height}"))?;
        }
        Ok(())
    }

    /// The highest finalised milestone among running nodes.
    pub fn max_height(&self) -> u64 {
        self.nodes.iter().flatten().map(Node::finalized_number).max().unwrap_or(0)
    }

    /// Isolates `side` from the other running nodes (and them from it); `heal` undoes it.
    pub async fn partition(&self, side: &[usize]) -> anyhow::Result<()> {
        let ids = |inside: bool| -> Vec<_> {
            self.nodes
                .iter()
                .enumerate()
                .filter(|(j, n)| n.is_some() && side.contains(j) == inside)
                .filter_map(|(_, n)| n.as_ref().map(|n| n.peer_id))
                .collect()
        };
        let (a, b) = (ids(true), ids(false));
        for (j, node) in self.nodes.iter().enumerate() {
            if let Some(node) = node {
                node.block_peers(if side.contains(&j) { b.clone() } else { a.clone() }).await?;
            }
        }
        Ok(())
    }

    /// Ends a partition.
    pub async fn heal(&self) -> anyhow::Result<()> {
        for node in self.nodes.iter().flatten() {
            node.block_peers(Vec::new()).await?;
        }
        Ok(())
    }

    /// Stops every node.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        for i in 0..self.nodes.len() {
            self.stop_node(i).await?;
        }
        Ok(())
    }
}

/// Waits until `node`'s status satisfies `done`.
pub async fn wait_status(
    node: &Node,
    done: impl Fn(&NodeStatus) -> bool,
) -> anyhow::Result<NodeStatus> {
    let mut rx = node.status();
    let deadline = Instant::now() + DEADLINE;
    loop {
        let status = *rx.borrow_and_update();
        if done(&status) {
            return Ok(status);
        }
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => bail!("the node stopped (last status {status:?})"),
            Err(_) => bail!("timed out after {DEADLINE:?} (last status {status:?})"),
        }
    }
}

/// An RPC client for `node`.
pub struct Rpc(jsonrpsee_http_client::HttpClient);

impl Rpc {
    /// Connects to `node`'s RPC server.
    pub fn to(node: &Node) -> anyhow::Result<Self> {
        Ok(Rpc(client(&format!("http://{}", node.rpc_addr))?))
    }

    /// Calls `method` with positional `params`.
    pub async fn call(
        &self,
        method: &str,
        params: jsonrpsee::core::params::ArrayParams,
    ) -> anyhow::Result<Value> {
        self.0.request(method, params).await.with_context(|| method.to_string())
    }

    /// Signs and submits `amount` units from `from` to `to` with the given nonce.
    pub async fn transfer(
        &self,
        genesis: Hash,
        from: &Pair,
        nonce: u64,
        to: AccountId,
        amount: u128,
    ) -> anyhow::Result<Hash> {
        let tx = signed_transfer(from, genesis, nonce, to, amount, 0);
        let v = self
            .call(
                "author_submitTransaction",
                rpc_params![itc_primitives::hash::to_hex0x(&tx.encode())],
            )
            .await?;
        Hash::from_hex(v.as_str().context("no hash")?).map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// `tx_status` of `hash`.
    pub async fn tx_status(&self, hash: &Hash) -> anyhow::Result<Value> {
        self.call("tx_status", rpc_params![hash.to_hex()]).await
    }

    /// The free balance of `who`, in units.
    pub async fn free(&self, who: &AccountId) -> anyhow::Result<u128> {
        let v = self.call("state_getAccount", rpc_params![who.to_string()]).await?;
        Ok(v.get("free").and_then(Value::as_str).unwrap_or("0").parse()?)
    }

    /// Waits (over finalised milestones of `node`) until every hash is final on this node;
    /// returns the milestone each finalised in.
    pub async fn wait_final(&self, node: &Node, hashes: &[Hash]) -> anyhow::Result<Vec<u64>> {
        let mut rx = node.status();
        let deadline = Instant::now() + DEADLINE;
        loop {
            let mut milestones = Vec::with_capacity(hashes.len());
            for h in hashes {
                let status = self.tx_status(h).await?;
                match status.get("status").and_then(Value::as_str) {
                    Some("finalized") => milestones.push(status["milestone"].as_u64().unwrap_or(0)),
                    Some("failed") => bail!("transaction {h} failed: {status}"),
                    _ => break,
                }
            }
            if milestones.len() == hashes.len() {
                return Ok(milestones);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => bail!("transactions not final within {DEADLINE:?}"),
            }
        }
    }
}
