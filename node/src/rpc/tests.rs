//! RPC server tests over real HTTP and WebSocket connections, against a mock [`ChainApi`].
use std::sync::Mutex;
use std::time::Duration;

use itc_primitives::{
    AccountId, BoundedVec, FinalityCertificate, Hash, MilestoneHeader, MilestoneNumber, Mortality,
    Nonce, Pair, Public, Transaction, Vertex,
};
use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::core::params::BatchRequestBuilder;
use jsonrpsee::core::{rpc_params, ClientError};
use jsonrpsee_http_client::HttpClientBuilder;
use jsonrpsee_ws_client::WsClientBuilder;
use parity_scale_codec::Encode;
use serde_json::Value;
use tokio::sync::broadcast;
use tokio::time::timeout;

use super::*;

const GUARD: Duration = Duration::from_secs(20);

struct MockChain {
    next_nonce: Nonce,
    submitted: Mutex<Vec<Transaction>>,
    milestones: Vec<FinalizedMilestone>,
    finalized_tx: broadcast::Sender<FinalizedMilestone>,
    vertex: Vertex,
}

impl ChainApi for MockChain {
    async fn submit_transaction(&self, tx: Transaction) -> ApiResult<Hash> {
        if tx.nonce < self.next_nonce {
            return Err(ApiError::Rejected(format!(
                "nonce {} already used; next nonce is {}",
                tx.nonce, self.next_nonce
            )));
        }
        let hash = tx.hash();
        self.submitted.lock().unwrap().push(tx);
        Ok(hash)
    }
    async fn submit_vertex(&self, vertex: Vertex) -> ApiResult<Hash> {
        Ok(vertex.hash())
    }
    async fn next_nonce(&self, _account: AccountId) -> ApiResult<Nonce> {
        Ok(self.next_nonce)
    }
    async fn account(&self, account: AccountId) -> ApiResult<Option<AccountInfo>> {
        Ok((account == alice()).then_some(AccountInfo { nonce: 3, free: u128::MAX, reserved: 1 }))
    }
    async fn state_proof(
        &self,
        key: Vec<u8>,
        at: Option<MilestoneNumber>,
    ) -> ApiResult<StateProofView> {
        Ok(StateProofView {
            at: at.unwrap_or(1),
            state_root: Hash([3; 32]),
            key: Bytes(key),
            value: None,
            proof: Bytes(vec![0]),
        })
    }
    async fn milestone(&self, id: MilestoneId) -> ApiResult<Option<FinalizedMilestone>> {
        Ok(self
            .milestones
            .iter()
            .find(|m| match id {
                MilestoneId::Number(n) => m.header.number == n,
                MilestoneId::Hash(h) => m.header.hash() == h,
            })
            .cloned())
    }
    async fn finalized(&self) -> ApiResult<Option<FinalizedMilestone>> {
        Ok(self.milestones.last().cloned())
    }
    fn subscribe_finalized(&self) -> broadcast::Receiver<FinalizedMilestone> {
        self.finalized_tx.subscribe()
    }
    async fn vertex(&self, hash: Hash) -> ApiResult<Option<VertexInfo>> {
        Ok((hash == self.vertex.hash()).then(|| VertexInfo {
            vertex: self.vertex.clone(),
            cumulative_weight: 5,
            finalized_in: None,
        }))
    }
    async fn tips(&self) -> ApiResult<Vec<Hash>> {
        Ok(vec![self.vertex.hash()])
    }
    async fn tx_status(&self, tx_hash: Hash) -> ApiResult<TxStatus> {
        if tx_hash == Hash([0xEE; 32]) {
            return Err(ApiError::Unavailable("node is syncing; retry in a few seconds".into()));
        }
        Ok(TxStatus::Finalized { milestone: 1, position: 0, receipt: Bytes(vec![0, 1]) })
    }
    async fn health(&self) -> ApiResult<Health> {
        Ok(Health { peers: 3, is_syncing: false, should_have_peers: true, finalized: 1 })
    }
    async fn peers(&self) -> ApiResult<Vec<PeerInfo>> {
        Ok(vec![PeerInfo {
            peer_id: "12D3KooW".into(),
            addresses: vec!["/ip4/127.0.0.1/tcp/1".into()],
        }])
    }
    async fn banned_peers(&self) -> ApiResult<Vec<String>> {
        Ok(vec!["12D3KooWbanned".into()])
    }
}

fn alice() -> AccountId {
    Pair::from_string("//Alice", None).unwrap().public()
}

fn milestone(number: u64, parent: Hash) -> FinalizedMilestone {
    let header = MilestoneHeader {
        number,
        parent,
        epoch: 0,
        tips: BoundedVec::default(),
        ordered_root: Hash::ZERO,
        vertex_count: 0,
        state_root: Hash([number as u8; 32]),
        receipts_root: Hash::ZERO,
        timestamp_ms: number,
        proposer: Public([1; 32]),
        next_committee: None,
    };
    let certificate = FinalityCertificate {
        number,
        view: 0,
        header_hash: header.hash(),
        signatures: BoundedVec::default(),
    };
    FinalizedMilestone { header, certificate, transactions: vec![Hash([9; 32])] }
}

fn signed_tx(nonce: Nonce, call: Vec<u8>) -> Transaction {
    let pair = Pair::from_string("//Alice", None).unwrap();
    Transaction::signed(&pair, Hash::ZERO, nonce, Mortality::Immortal, 0, call)
}

fn mock() -> Arc<MockChain> {
    let m0 = milestone(0, Hash::ZERO);
    let m1 = milestone(1, m0.header.hash());
    let vertex = Vertex {
        tx: signed_tx(0, vec![1]),
        parents: BoundedVec::new(vec![Hash([1; 32])]).unwrap(),
        pow_nonce: 0,
    };
    Arc::new(MockChain {
        next_nonce: 3,
        submitted: Mutex::new(Vec::new()),
        milestones: vec![m0, m1],
        finalized_tx: broadcast::channel(16).0,
        vertex,
    })
}

async fn start_mock(config: RpcConfig) -> (Arc<MockChain>, RpcServer) {
    let api = mock();
    let server = start(&RpcConfig { addr: "127.0.0.1:0".parse().unwrap(), ..config }, api.clone())
        .await
        .unwrap();
    (api, server)
}

/// POSTs `body` as JSON over a plain TCP connection and returns the whole HTTP response.
async fn raw_post(addr: std::net::SocketAddr, body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).await.unwrap();
    let mut reply = String::new();
    timeout(GUARD, s.read_to_string(&mut reply)).await.unwrap().unwrap();
    reply
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn call_error(err: ClientError) -> (i32, String) {
    match err {
        ClientError::Call(e) => (e.code(), e.message().to_string()),
        other => panic!("expected a JSON-RPC error object, got {other:?}"),
    }
}

#[tokio::test]
async fn submitted_transaction_returns_its_hash_and_stale_nonce_says_the_next_one() {
    let (api, server) = start_mock(RpcConfig::default()).await;
    let client = HttpClientBuilder::default().build(format!("http://{}", server.addr)).unwrap();
    let tx = signed_tx(3, vec![0, 1, 2]);
    let hash: Hash = timeout(
        GUARD,
        client.request("author_submitTransaction", rpc_params![hex0x(&tx.encode())]),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(hash, tx.hash());
    assert_eq!(api.submitted.lock().unwrap().as_slice(), &[tx]);

    let stale = signed_tx(1, vec![]);
    let err = client
        .request::<Hash, _>("author_submitTransaction", rpc_params![hex0x(&stale.encode())])
        .await
        .unwrap_err();
    assert_eq!(
        call_error(err),
        (errors::REJECTED_CODE, "nonce 1 already used; next nonce is 3".into())
    );
    let err =
        client.request::<Value, _>("tx_status", rpc_params![Hash([0xEE; 32])]).await.unwrap_err();
    assert_eq!(call_error(err).0, errors::UNAVAILABLE_CODE);
    server.stop().await;
}

#[tokio::test]
async fn bad_params_are_invalid_params_errors_that_say_what_to_send() {
    let (api, server) = start_mock(RpcConfig::default()).await;
    let client = HttpClientBuilder::default().build(format!("http://{}", server.addr)).unwrap();
    let tx_bytes = signed_tx(3, vec![]).encode();
    let mut trailing = tx_bytes.clone();
    trailing.push(0);
    let cases: Vec<(&str, jsonrpsee::core::params::ArrayParams, &str)> = vec![
        ("author_submitTransaction", rpc_params!["0xzz"], "is not hex"),
        ("author_submitTransaction", rpc_params!["0x0102"], "not a SCALE-encoded Transaction"),
        (
            "author_submitTransaction",
            rpc_params![hex0x(&trailing)],
            "not a SCALE-encoded Transaction",
        ),
        ("author_submitTransaction", rpc_params![], "parameter 1 (`transaction`) is missing"),
        ("author_submitTransaction", rpc_params![7], "must be a string"),
        ("author_submitVertex", rpc_params![hex0x(&tx_bytes)], "not a SCALE-encoded Vertex"),
        ("account_nextNonce", rpc_params!["5Gnotanaddress"], "is not an account"),
        ("chain_getMilestone", rpc_params![true], "milestone number"),
        ("chain_getMilestone", rpc_params!["0x1234"], "64 hex digits"),
        ("dag_getVertex", rpc_params!["0x00"], "is not a hash"),
        ("state_getProof", rpc_params!["0x01", -1], "non-negative integer"),
        ("system_health", rpc_params![1], "takes at most 0 parameter(s)"),
    ];
    for (method, params, expected) in cases {
        let err = client.request::<Value, _>(method, params).await.unwrap_err();
        let (code, message) = call_error(err);
        assert_eq!(code, jsonrpsee::types::error::INVALID_PARAMS_CODE, "{method}: {message}");
        assert!(message.contains(expected), "{method}: `{message}` lacks `{expected}`");
    }
    assert!(api.submitted.lock().unwrap().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn oversize_body_and_oversize_batch_are_refused() {
    let config =
        RpcConfig { max_request_body_bytes: 2048, max_batch_len: 2, ..RpcConfig::default() };
    let (api, server) = start_mock(config).await;
    let client = HttpClientBuilder::default().build(format!("http://{}", server.addr)).unwrap();
    let big = signed_tx(3, vec![7; 4096]);
    let err = client
        .request::<Hash, _>("author_submitTransaction", rpc_params![hex0x(&big.encode())])
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("413") || text.contains("too big"),
        "oversize body was not refused: {text}"
    );
    assert!(api.submitted.lock().unwrap().is_empty());

    // A batch of 3 calls against a limit of 2: the server answers with one error object.
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"system_health","params":[]}"#;
    let reply = raw_post(server.addr, &format!("[{call},{call},{call}]")).await;
    assert!(reply.contains("-32010") && reply.contains("batch request was too large"), "{reply}");
    assert!(!reply.contains("shouldHavePeers"), "an oversize batch was executed: {reply}");

    let mut batch = BatchRequestBuilder::new();
    batch.insert("system_health", rpc_params![]).unwrap();
    batch.insert("system_health", rpc_params![]).unwrap();
    let ok = client.batch_request::<Health>(batch).await.unwrap();
    assert_eq!(ok.num_successful_calls(), 2);
    server.stop().await;
}

#[tokio::test]
async fn websocket_queries_and_finalized_subscription_deliver_milestones() {
    let (api, server) = start_mock(RpcConfig::default()).await;
    let ws = timeout(GUARD, WsClientBuilder::default().build(format!("ws://{}", server.addr)))
        .await
        .unwrap()
        .unwrap();
    let m1 = &api.milestones[1];
    let by_number: Value = ws.request("chain_getMilestone", rpc_params![1]).await.unwrap();
    let by_hash: Value =
        ws.request("chain_getMilestone", rpc_params![m1.header.hash()]).await.unwrap();
    assert_eq!(by_number, by_hash);
    assert_eq!(by_number["hash"], Value::String(m1.header.hash().to_hex()));
    assert_eq!(by_number["encoded"], Value::String(hex0x(&(&m1.header, &m1.certificate).encode())));
    let none: Value = ws.request("chain_getMilestone", rpc_params![9]).await.unwrap();
    assert_eq!(none, Value::Null);
    let finalized: Value = ws.request("chain_getFinalized", rpc_params![]).await.unwrap();
    assert_eq!(finalized["number"], 1);

    let account: AccountInfo =
        ws.request("state_getAccount", rpc_params![alice().to_ss58_default()]).await.unwrap();
    assert_eq!(account, AccountInfo { nonce: 3, free: u128::MAX, reserved: 1 });
    let raw: Value = ws.request("state_getAccount", rpc_params![alice()]).await.unwrap();
    assert_eq!(raw["free"], Value::String(u128::MAX.to_string()), "balances are decimal strings");
    let nonce: u64 = ws.request("account_nextNonce", rpc_params![alice().to_hex()]).await.unwrap();
    assert_eq!(nonce, 3);
    let tips: Vec<Hash> = ws.request("dag_tips", rpc_params![]).await.unwrap();
    assert_eq!(tips, vec![api.vertex.hash()]);
    let vertex: Value = ws.request("dag_getVertex", rpc_params![api.vertex.hash()]).await.unwrap();
    assert_eq!(vertex["encoded"], Value::String(hex0x(&api.vertex.encode())));
    assert_eq!(vertex["cumulativeWeight"], 5);
    let status: TxStatus = ws.request("tx_status", rpc_params![Hash([1; 32])]).await.unwrap();
    assert_eq!(
        status,
        TxStatus::Finalized { milestone: 1, position: 0, receipt: Bytes(vec![0, 1]) }
    );
    let proof: StateProofView =
        ws.request("state_getProof", rpc_params!["0xabcd", 1]).await.unwrap();
    assert_eq!((proof.at, proof.key), (1, Bytes(vec![0xab, 0xcd])));
    let health: Health = ws.request("system_health", rpc_params![]).await.unwrap();
    assert_eq!(health.peers, 3);
    let peers: Vec<PeerInfo> = ws.request("system_peers", rpc_params![]).await.unwrap();
    assert_eq!(peers.len(), 1);
    let banned: Vec<String> = ws.request("system_bannedPeers", rpc_params![]).await.unwrap();
    assert_eq!(banned, vec!["12D3KooWbanned".to_string()]);
    let vhash: Hash =
        ws.request("author_submitVertex", rpc_params![hex0x(&api.vertex.encode())]).await.unwrap();
    assert_eq!(vhash, api.vertex.hash());

    let mut sub = ws
        .subscribe::<Value, _>(
            "chain_subscribeFinalized",
            rpc_params![],
            "chain_unsubscribeFinalized",
        )
        .await
        .unwrap();
    // The subscription's receiver exists once subscribe() has returned.
    let m2 = milestone(2, m1.header.hash());
    assert_eq!(api.finalized_tx.send(m2.clone()).unwrap(), 1);
    let got = timeout(GUARD, sub.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(got["number"], 2);
    assert_eq!(got["hash"], Value::String(m2.header.hash().to_hex()));
    sub.unsubscribe().await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused() {
    let (_api, server) = start_mock(RpcConfig { max_connections: 1, ..RpcConfig::default() }).await;
    let url = format!("ws://{}", server.addr);
    let first = WsClientBuilder::default().build(&url).await.unwrap();
    let second = timeout(GUARD, WsClientBuilder::default().build(&url)).await.unwrap();
    assert!(second.is_err(), "second connection was accepted");
    let health: Health = first.request("system_health", rpc_params![]).await.unwrap();
    assert_eq!(health.finalized, 1);
    server.stop().await;
}

#[test]
fn tx_status_json_names_each_state() {
    let json = |s: &TxStatus| serde_json::to_value(s).unwrap();
    assert_eq!(json(&TxStatus::Unknown), serde_json::json!({ "status": "unknown" }));
    assert_eq!(
        json(&TxStatus::Parked { waiting_for: 4 }),
        serde_json::json!({ "status": "parked", "waitingFor": 4 })
    );
    assert_eq!(
        json(&TxStatus::Failed { reason: "dropped".into(), milestone: None }),
        serde_json::json!({ "status": "failed", "reason": "dropped", "milestone": null })
    );
    let parked: TxStatus =
        serde_json::from_value(serde_json::json!({ "status": "parked", "waitingFor": 4 })).unwrap();
    assert_eq!(parked, TxStatus::Parked { waiting_for: 4 });
}
