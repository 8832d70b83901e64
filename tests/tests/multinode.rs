//! Four validators over real libp2p and RocksDB in one process: finality with equal state roots,
//! a crashed validator, its restart and catch-up, a dead primary, a whole-committee restart and a
//! 2–2 partition.
use itc_node::service::ServiceConfig;
use itc_tests::{dev, quick_heartbeat, wait_status, LocalNet, Rpc};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Validators that keep only the last 4 milestones in memory (and in their replica's history),
/// with a checkpoint every 2 and idle milestones every 20 ms: a restart then resumes from that
/// window instead of replaying the chain from genesis. The primary pipelines every milestone
/// that has a vertex, so speculative execution on RocksDB-backed state, crashes and view
/// changes are exercised with it.
fn small_windows(cfg: &mut ServiceConfig) {
    cfg.chain.retain_milestones = 4;
    cfg.chain.consensus.retain_certified = 4;
    cfg.chain.consensus.checkpoint_interval = 2;
    cfg.chain.idle_propose_ms = 20;
    cfg.chain.pipeline_min_batch = 1;
}

#[test]
fn four_validators_finalise_survive_a_crash_catch_up_and_replace_a_dead_primary() {
    runtime().block_on(async {
        let mut net = LocalNet::start_with(4, small_windows).await.unwrap();
        net.wait_height(&[0, 1, 2, 3], 1).await.unwrap();
        let genesis = net.node(0).genesis_hash;
        let (eve, ferdie) = (dev("Eve"), dev("Ferdie").public());

        // Transfers submitted to one node finalise everywhere, with equal balances and roots.
        let rpc1 = Rpc::to(net.node(1)).unwrap();
        let before = rpc1.free(&ferdie).await.unwrap();
        let mut hashes = Vec::new();
        for nonce in 0..10 {
            hashes.push(
                rpc1.transfer(genesis, &eve, nonce, ferdie, 1_000 + nonce as u128).await.unwrap(),
            );
        }
        let at = rpc1.wait_final(net.node(1), &hashes).await.unwrap();
        let top = *at.iter().max().unwrap();
        net.wait_height(&[0, 1, 2, 3], top).await.unwrap();
        let expected = before + (0..10).map(|n| 1_000 + n as u128).sum::<u128>();
        for i in 0..4 {
            let rpc = Rpc::to(net.node(i)).unwrap();
            assert_eq!(rpc.free(&ferdie).await.unwrap(), expected, "node {i}");
            assert_eq!(rpc.wait_final(net.node(i), &hashes).await.unwrap(), at, "node {i}");
            let root = net.node(i).state_root(top);
            assert!(
                root.is_some(),
                "node {i} has no state root for {top} (at {})",
                net.node(i).finalized_number()
            );
            assert_eq!(root, net.node(0).state_root(top), "node {i}");
        }

        // Node 3 (a backup) crashes: the other three keep finalising.
        net.wait_height(&[3], top + 8).await.unwrap();
        net.stop_node(3).await.unwrap();
        let h = rpc1.transfer(genesis, &eve, 10, ferdie, 5).await.unwrap();
        let m = rpc1.wait_final(net.node(1), &[h]).await.unwrap()[0];
        assert!(m > top);

        // It restarts from its database and catches up with the others. It stopped cleanly,
        // so it resumes without the restart fence.
        let target = net.max_height() + 2;
        net.start_node(3).await.unwrap();
        assert!(!net.node(3).restart_fenced());
        // Node 3 may get there before node 1 has applied the same milestone: wait for both.
        net.wait_height(&[1, 3], target).await.unwrap();
        assert_eq!(net.node(3).state_root(target), net.node(1).state_root(target));
        let rpc3 = Rpc::to(net.node(3)).unwrap();
        assert_eq!(rpc3.wait_final(net.node(3), &[h]).await.unwrap(), vec![m]);
        // Once its window has moved past them, the first transfers come from its store.
        net.wait_height(&[3], top + 5).await.unwrap();
        assert_eq!(rpc3.wait_final(net.node(3), &hashes).await.unwrap(), at);

        // The primary of the current view dies: a view change installs another and finality goes on.
        let view = net.node(1).view();
        let primary = (view % 4) as usize;
        net.stop_node(primary).await.unwrap();
        let live: Vec<usize> = (0..4).filter(|i| *i != primary).collect();
        let rpc = Rpc::to(net.node(live[0])).unwrap();
        let h = rpc.transfer(genesis, &eve, 11, ferdie, 7).await.unwrap();
        rpc.wait_final(net.node(live[0]), &[h]).await.unwrap();
        for &i in &live {
            let status = wait_status(net.node(i), |s| s.view > view).await.unwrap();
            assert!(status.view > view, "node {i} changed view");
        }
        net.shutdown().await.unwrap();
    });
}

#[test]
fn the_whole_committee_stopped_cleanly_resumes_and_a_nonce_sent_early_waits_for_its_predecessor() {
    runtime().block_on(async {
        let mut net = LocalNet::start_with(4, quick_heartbeat).await.unwrap();
        net.wait_height(&[0, 1, 2, 3], 2).await.unwrap();
        for i in 0..4 {
            net.stop_node(i).await.unwrap();
        }
        for i in 0..4 {
            net.start_node(i).await.unwrap();
            // Each stop synced the consensus log: no restart fence holds the replicas back.
            assert!(!net.node(i).restart_fenced(), "node {i}");
        }
        // Eve's nonce 1 reaches node 1 before her nonce 0 (sent to node 2) exists: node 1 parks
        // it, then attaches it on nonce 0's vertex; both succeed.
        let (genesis, eve, ferdie) = (net.node(0).genesis_hash, dev("Eve"), dev("Ferdie").public());
        let (rpc1, rpc2) = (Rpc::to(net.node(1)).unwrap(), Rpc::to(net.node(2)).unwrap());
        let second = rpc1.transfer(genesis, &eve, 1, ferdie, 2).await.unwrap();
        let status = rpc1.tx_status(&second).await.unwrap();
        assert_eq!(status, serde_json::json!({ "status": "parked", "waitingFor": 0 }));
        let first = rpc2.transfer(genesis, &eve, 0, ferdie, 1).await.unwrap();
        let at = rpc1.wait_final(net.node(1), &[first, second]).await.unwrap();
        let top = *at.iter().max().unwrap();
        net.wait_height(&[0, 1, 2, 3], top).await.unwrap();
        let root = net.node(0).state_root(top);
        assert!(root.is_some());
        assert!((1..4).all(|i| net.node(i).state_root(top) == root));
        net.shutdown().await.unwrap();
    });
}

#[test]
fn a_two_two_partition_halts_finality_and_healing_resumes_it() {
    runtime().block_on(async {
        let net = LocalNet::start_with(4, quick_heartbeat).await.unwrap();
        net.wait_height(&[0, 1, 2, 3], 2).await.unwrap();
        net.partition(&[0, 1]).await.unwrap();
        // Milestones already past their commit phase may still land; then nothing can.
        let views: Vec<u64> = (0..4).map(|i| net.node(i).view()).collect();
        let cut = net.max_height();
        // A transfer reaches each half, so every replica waits for a milestone and its
        // view-change timer expires; neither half has the 3 of 4 votes that a milestone or a new
        // view needs (PBFT §4.4, §4.5.2).
        let (genesis, ferdie) = (net.node(0).genesis_hash, dev("Ferdie").public());
        let a = Rpc::to(net.node(0)).unwrap();
        let a = a.transfer(genesis, &dev("Eve"), 0, ferdie, 1).await.unwrap();
        let b = Rpc::to(net.node(2)).unwrap();
        let b = b.transfer(genesis, &dev("Charlie"), 0, ferdie, 2).await.unwrap();
        for (i, view) in views.iter().enumerate() {
            wait_status(net.node(i), |s| s.view > *view).await.unwrap();
        }
        let stalled = net.max_height();
        assert!(stalled <= cut + 1, "finality went on during the partition: {cut} -> {stalled}");

        // After healing, each half's transfer reaches the other (the peers' tips are compared)
        // and both finalise everywhere, at the same milestones, with equal state roots.
        net.heal().await.unwrap();
        let at = Rpc::to(net.node(0)).unwrap().wait_final(net.node(0), &[a, b]).await.unwrap();
        for i in 1..4 {
            let rpc = Rpc::to(net.node(i)).unwrap();
            assert_eq!(rpc.wait_final(net.node(i), &[a, b]).await.unwrap(), at, "node {i}");
        }
        let n = *at.iter().max().unwrap();
        net.wait_height(&[0, 1, 2, 3], n).await.unwrap();
        let root = net.node(0).state_root(n);
        assert!(root.is_some());
        for i in 1..4 {
            assert_eq!(net.node(i).state_root(n), root, "node {i}");
        }
        net.shutdown().await.unwrap();
    });
}

#[test]
fn a_validator_behind_the_peers_consensus_memory_catches_up_from_their_stores() {
    // The replicas keep only 8 certified milestones in memory and propose idle milestones
    // quickly, so a validator down for a while can only catch up from the peers' databases.
    fn configure(cfg: &mut ServiceConfig) {
        cfg.chain.consensus.retain_certified = 8;
        cfg.chain.idle_propose_ms = 5;
    }
    runtime().block_on(async {
        let mut net = LocalNet::start_with(4, configure).await.unwrap();
        net.wait_height(&[0, 1, 2, 3], 2).await.unwrap();
        net.stop_node(3).await.unwrap();
        let genesis = net.node(0).genesis_hash;
        let rpc = Rpc::to(net.node(0)).unwrap();
        let h = rpc.transfer(genesis, &dev("Eve"), 0, dev("Ferdie").public(), 9).await.unwrap();
        rpc.wait_final(net.node(0), &[h]).await.unwrap();
        let behind = net.max_height() + 40;
        net.wait_height(&[0, 1, 2], behind).await.unwrap();

        net.start_node(3).await.unwrap();
        let target = net.max_height() + 2;
        net.wait_height(&[0, 3], target).await.unwrap();
        assert_eq!(net.node(3).state_root(target), net.node(0).state_root(target));
        let rpc3 = Rpc::to(net.node(3)).unwrap();
        rpc3.wait_final(net.node(3), &[h]).await.unwrap();

        // Stable checkpoints (every 8 milestones) compacted node 0's persist log: it holds a
        // few records per milestone since the last checkpoint, not several per milestone ever.
        let height = net.node(0).finalized_number();
        let records = net.node(0).consensus_log_len().unwrap();
        assert!(height > 40 && records < 100, "{records} records after {height} milestones");
        net.shutdown().await.unwrap();
    });
}

/// `itc transfer` waits on the node's finalised-milestone subscription (the WebSocket on the
/// RPC port), so it reports the milestone as soon as it is final; a transfer that finalises as
/// failed is an error that gives the runtime's reason, and so is one the node parked and then
/// dropped, which no milestone lists (well before the command's own timeout).
#[test]
fn the_transfer_command_reports_finality_failure_and_drops() {
    use itc_node::cli::client::{run_transfer, RpcArgs, TransferArgs};
    let rt = runtime();
    let net = rt
        .block_on(LocalNet::start_with(1, |cfg| {
            quick_heartbeat(cfg);
            cfg.chain.parked_timeout_ms = 300;
        }))
        .unwrap();
    let rpc = format!("http://{}", net.node(0).rpc_addr);
    let transfer = |from: &str, amount: &str, nonce: Option<u64>| {
        let args = TransferArgs {
            from: from.into(),
            to: dev("Ferdie").public().to_string(),
            amount: amount.into(),
            tip: "0".into(),
            nonce,
            no_wait: false,
            timeout: 90,
            rpc: RpcArgs { rpc: rpc.clone() },
        };
        let mut out = Vec::new();
        // The command runs its own runtime, so it cannot run on one of this runtime's threads.
        let result = std::thread::scope(|s| s.spawn(|| run_transfer(args, &mut out)).join());
        (result.unwrap(), String::from_utf8(out).unwrap())
    };

    let (result, out) = transfer("//Alice", "5", None);
    result.unwrap();
    assert!(out.contains("finalised in milestone"), "{out}");
    let hash = out.split_whitespace().nth(1).unwrap();
    let status = rt
        .block_on(
            Rpc::to(net.node(0)).unwrap().tx_status(&itc_primitives::Hash::from_hex(hash).unwrap()),
        )
        .unwrap();
    assert_eq!(status["status"], "finalized", "{status}");

    let (result, _) = transfer("//Dave", "5000000000", None);
    let err = format!("{:#}", result.unwrap_err());
    assert!(err.contains("failed: balances"), "{err}");

    // Nonce 2 of //Bob, whose nonce 0 and 1 never come: parked, then dropped.
    let (result, out) = transfer("//Bob", "1", Some(2));
    assert!(
        out.contains("parked: the node holds it until the account's transaction with nonce 1"),
        "{out}"
    );
    let err = format!("{:#}", result.unwrap_err());
    assert!(err.contains("dropped: nonce 1 of") && !err.contains("not final after"), "{err}");
    rt.block_on(net.shutdown()).unwrap();
}
