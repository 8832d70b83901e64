//! Registration of every RPC method on a `jsonrpsee` module over a [`ChainApi`].
use std::sync::Arc;

use itc_primitives::{Hash, Transaction, Vertex};
use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::RpcModule;
use tokio::sync::broadcast::error::RecvError;

use super::api::{ChainApi, MilestoneView, VertexView};
use super::params::Args;

/// Every method name the server answers, in the order of the table.
pub const METHODS: &[&str] = &[
    "author_submitTransaction",
    "author_submitVertex",
    "account_nextNonce",
    "state_getAccount",
    "state_getProof",
    "chain_getMilestone",
    "chain_getFinalized",
    "chain_subscribeFinalized",
    "dag_getVertex",
    "dag_tips",
    "tx_status",
    "system_health",
    "system_peers",
    "system_bannedPeers",
];

type RpcResult<T> = Result<T, ErrorObjectOwned>;

/// Builds the RPC module. Registration only fails on a duplicate name, which is a bug here, so
/// the error is reported as a string for the caller to surface.
pub fn module<A: ChainApi>(api: Arc<A>) -> Result<RpcModule<Arc<A>>, String> {
    let mut m = RpcModule::new(api);
    register(&mut m).map_err(|e| e.to_string())?;
    Ok(m)
}

fn register<A: ChainApi>(
    m: &mut RpcModule<Arc<A>>,
) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    m.register_async_method("author_submitTransaction", |params, api, _| async move {
        let args = Args::parse("author_submitTransaction", &params, 1)?;
        let tx: Transaction = args.scale(0, "transaction", "Transaction")?;
        let hash: Hash = api.submit_transaction(tx).await?;
        RpcResult::Ok(hash)
    })?;
    m.register_async_method("author_submitVertex", |params, api, _| async move {
        let args = Args::parse("author_submitVertex", &params, 1)?;
        let vertex: Vertex = args.scale(0, "vertex", "Vertex")?;
        RpcResult::Ok(api.submit_vertex(vertex).await?)
    })?;
    m.register_async_method("account_nextNonce", |params, api, _| async move {
        let args = Args::parse("account_nextNonce", &params, 1)?;
        let who = args.account(0, "account")?;
        RpcResult::Ok(api.next_nonce(who).await?)
    })?;
    m.register_async_method("state_getAccount", |params, api, _| async move {
        let args = Args::parse("state_getAccount", &params, 1)?;
        let who = args.account(0, "account")?;
        RpcResult::Ok(api.account(who).await?)
    })?;
    m.register_async_method("state_getProof", |params, api, _| async move {
        let args = Args::parse("state_getProof", &params, 2)?;
        let key = args.hex_bytes(0, "key")?;
        let at = args.opt_number(1, "at")?;
        RpcResult::Ok(api.state_proof(key, at).await?)
    })?;
    m.register_async_method("chain_getMilestone", |params, api, _| async move {
        let args = Args::parse("chain_getMilestone", &params, 1)?;
        let id = args.milestone_id(0, "milestone")?;
        let found = api.milestone(id).await?;
        RpcResult::Ok(found.as_ref().map(MilestoneView::from))
    })?;
    m.register_async_method("chain_getFinalized", |params, api, _| async move {
        Args::parse("chain_getFinalized", &params, 0)?;
        let found = api.finalized().await?;
        RpcResult::Ok(found.as_ref().map(MilestoneView::from))
    })?;
    m.register_subscription(
        "chain_subscribeFinalized",
        "chain_finalized",
        "chain_unsubscribeFinalized",
        |params, pending, api, _| async move {
            if let Err(e) = Args::parse("chain_subscribeFinalized", &params, 0) {
                pending.reject(e).await;
                return SubscriptionResult::Ok(());
            }
            let mut rx = api.subscribe_finalized();
            let sink = pending.accept().await?;
            loop {
                tokio::select! {
                    _ = sink.closed() => break,
                    item = rx.recv() => match item {
                        Ok(m) => {
                            let json = serde_json::value::to_raw_value(&MilestoneView::from(&m))?;
                            if sink.send(json).await.is_err() {
                                break;
                            }
                        }
                        Err(RecvError::Lagged(n)) => {
                            return Err(format!(
                                "this subscriber fell {n} milestones behind and was dropped; \
                                 resubscribe and fetch the gap with chain_getMilestone"
                            )
                            .into());
                        }
                        Err(RecvError::Closed) => break,
                    },
                }
            }
            Ok(())
        },
    )?;
    m.register_async_method("dag_getVertex", |params, api, _| async move {
        let args = Args::parse("dag_getVertex", &params, 1)?;
        let hash = args.hash(0, "vertex_hash")?;
        let found = api.vertex(hash).await?;
        RpcResult::Ok(found.as_ref().map(VertexView::from))
    })?;
    m.register_async_method("dag_tips", |params, api, _| async move {
        Args::parse("dag_tips", &params, 0)?;
        RpcResult::Ok(api.tips().await?)
    })?;
    m.register_async_method("tx_status", |params, api, _| async move {
        let args = Args::parse("tx_status", &params, 1)?;
        let hash = args.hash(0, "tx_hash")?;
        RpcResult::Ok(api.tx_status(hash).await?)
    })?;
    m.register_async_method("system_health", |params, api, _| async move {
        Args::parse("system_health", &params, 0)?;
        RpcResult::Ok(api.health().await?)
    })?;
    m.register_async_method("system_peers", |params, api, _| async move {
        Args::parse("system_peers", &params, 0)?;
        RpcResult::Ok(api.peers().await?)
    })?;
    m.register_async_method("system_bannedPeers", |params, api, _| async move {
        Args::parse("system_bannedPeers", &params, 0)?;
        RpcResult::Ok(api.banned_peers().await?)
    })?;
    Ok(())
}
