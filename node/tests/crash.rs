//! `kill -9` of a dev node under load loses no finalised transaction, and the node resumes from
//! its database.
use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use itc_node::cli::client::{client, genesis_hash, signed_transfer};
use itc_primitives::{Hash, Pair};
use jsonrpsee::core::client::{ClientT, Subscription, SubscriptionClientT};
use jsonrpsee::rpc_params;
use jsonrpsee_ws_client::WsClientBuilder;
use parity_scale_codec::Encode;
use serde_json::Value;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts a dev node and returns once it serves RPC (it prints its banner then), with its
/// stdout, which must stay open while it runs.
fn spawn(base: &std::path::Path, rpc: u16) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_itc"))
        .args(["node", "--dev", "--no-metrics", "-l", "warn", "--rpc-port", &rpc.to_string()])
        .arg("--base-path")
        .arg(base)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let started = lines.by_ref().map_while(Result::ok).any(|l| l.contains("Ctrl-C stops it"));
    assert!(started, "the node did not start");
    (child, lines)
}

async fn status(c: &jsonrpsee_http_client::HttpClient, h: &Hash) -> Value {
    c.request("tx_status", rpc_params![h.to_hex()]).await.unwrap()
}

#[test]
fn kill_9_during_load_loses_no_finalised_transaction() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let (mut child, _out) = spawn(dir.path(), port);
        let c = client(&url).unwrap();
        let genesis = genesis_hash(&c).await.unwrap();
        let alice = Pair::from_string("//Alice", None).unwrap();
        let bob = Pair::from_string("//Bob", None).unwrap().public();

        // Submit continuously; remember what the node reported final. Kill it mid-stream.
        let mut sent: Vec<Hash> = Vec::new();
        let mut finalized: Vec<(Hash, u64)> = Vec::new();
        let mut nonce = 0;
        let deadline = Instant::now() + Duration::from_secs(90);
        while finalized.len() < 20 {
            assert!(Instant::now() < deadline, "only {} transfers finalised", finalized.len());
            let tx = signed_transfer(&alice, genesis, nonce, bob, 1_000, 0);
            let hex = format!("0x{}", hex::encode(tx.encode()));
            // A refusal means the nonce window is full: let milestones catch up.
            if c.request::<Value, _>("author_submitTransaction", rpc_params![hex]).await.is_ok() {
                sent.push(tx.hash());
                nonce += 1;
            }
            finalized.clear();
            for h in &sent {
                let s = status(&c, h).await;
                if s["status"] == "finalized" {
                    finalized.push((*h, s["milestone"].as_u64().unwrap()));
                }
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let (mut child, _out) = spawn(dir.path(), port);
        let c = client(&url).unwrap();
        assert_eq!(genesis_hash(&c).await.unwrap(), genesis);
        for (h, milestone) in &finalized {
            let s = status(&c, h).await;
            assert_eq!(s["status"], "finalized", "{h} lost after kill -9: {s}");
            assert_eq!(s["milestone"].as_u64(), Some(*milestone));
        }
        // The restarted node goes on: a new transfer with the next nonce finalises.
        let next: u64 = c
            .request::<Value, _>("account_nextNonce", rpc_params![alice.public().to_string()])
            .await
            .unwrap()
            .as_u64()
            .unwrap();
        assert!(next >= finalized.len() as u64);
        let ws = WsClientBuilder::default().build(format!("ws://127.0.0.1:{port}")).await.unwrap();
        let mut finality: Subscription<Value> = ws
            .subscribe("chain_subscribeFinalized", rpc_params![], "chain_unsubscribeFinalized")
            .await
            .unwrap();
        let tx = signed_transfer(&alice, genesis, next, bob, 1, 0);
        let hex = format!("0x{}", hex::encode(tx.encode()));
        let _: Value = c.request("author_submitTransaction", rpc_params![hex]).await.unwrap();
        let wanted = Value::String(tx.hash().to_hex());
        let finalised = async {
            while let Some(Ok(m)) = finality.next().await {
                if m["transactions"].as_array().is_some_and(|t| t.contains(&wanted)) {
                    return true;
                }
            }
            false
        };
        let finalised = tokio::time::timeout(Duration::from_secs(60), finalised).await;
        assert_eq!(finalised, Ok(true), "no finality after restart");
        child.kill().unwrap();
        child.wait().unwrap();
    });
}
