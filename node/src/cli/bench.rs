//! `itc bench finality`: finalised throughput and finality latency of a local network of
//! validators, measured over JSON-RPC, next to this machine's signature-verification bound.
//!
//! The validators run in this process (each with its own database, libp2p swarm and RPC server
//! on loopback), so the figures include networking, fsyncs, PoW attachment, execution and
//! consensus, but no WAN latency. Transfers are pre-signed from many accounts, submitted over a
//! WebSocket per node (each account always to the same node, so its nonces arrive in order) at
//! a fixed rate or as fast as the nodes accept them; finality is observed through
//! `chain_subscribeFinalized`, whose notifications list the confirmed transactions, on every
//! node: the latency is reported as node 0 (the primary of the first epoch; the primary rotates
//! with each committee epoch) saw it and as the node each transfer was submitted to saw it (what
//! the submitting client sees).
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use itc_primitives::{Hash, Pair, Transaction};
use jsonrpsee::core::client::{ClientT, Subscription, SubscriptionClientT};
use jsonrpsee::rpc_params;
use jsonrpsee_ws_client::WsClientBuilder;
use parity_scale_codec::Encode;
use serde_json::Value;
use tokio::sync::Mutex;

use super::client::signed_transfer;
use crate::service::{self, ChainSpec, Node, ServiceConfig};

/// `itc bench …`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Finalised tx/s and finality latency of a local network.
    Finality(FinalityArgs),
}

/// Flags of `itc bench finality`.
#[derive(Debug, Clone, Args)]
pub struct FinalityArgs {
    /// Validators (1 to 6: //Alice …).
    #[arg(long, default_value_t = 4)]
    pub validators: usize,
    /// Transfers to submit.
    #[arg(long, default_value_t = 5_000)]
    pub txs: usize,
    /// Offered load in tx/s; 0 submits as fast as the nodes accept.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Sending accounts.
    #[arg(long, default_value_t = 512)]
    pub accounts: usize,
    /// Concurrent RPC submissions (unpaced mode).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
}

/// `itc bench` dispatcher.
pub fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Finality(args) => {
            // The nodes' logs go to stderr, quiet unless RUST_LOG asks (e.g.
            // `RUST_LOG=itc_node::timing=trace` for where a round's time goes).
            let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
            super::node::init_logging(Some(&filter));
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            let report = runtime.block_on(finality(args))?;
            println!("{report}");
            Ok(())
        }
    }
}

/// The figures of one run.
#[derive(Debug, Clone)]
pub struct FinalityReport {
    /// Validators.
    pub validators: usize,
    /// Transfers submitted and finalised.
    pub txs: usize,
    /// Offered rate (0 = unpaced).
    pub rate: u64,
    /// Finalised tx/s from the first submission to the last finalisation.
    pub finalized_tps: f64,
    /// Median submit-to-final latency, final as node 0 (the first epoch's primary) reported it.
    pub p50: Duration,
    /// 99th percentile latency at node 0.
    pub p99: Duration,
    /// Median submit-to-final latency, final as the node the transfer went to reported it.
    pub own_p50: Duration,
    /// 99th percentile of the same.
    pub own_p99: Duration,
    /// Median admission latency: the `author_submitTransaction` round trip (checks, PoW
    /// attachment, answer), the first part of the finality latency.
    pub admission_p50: Duration,
    /// 99th percentile admission latency.
    pub admission_p99: Duration,
    /// Finalised milestones that carried the benchmark's transfers.
    pub milestones: usize,
    /// The longest wait between two of node 0's finalised milestones during the run (from the
    /// first submission): a stall shows here even when too few transfers wait on it to move p99.
    pub longest_gap: Duration,
    /// Batched sr25519 verifications per second on one core (the baseline).
    pub verify_per_sec: f64,
    /// What the nodes had to recover during the run, summed over them: a run whose p99 stands
    /// out shows here whether it waited on view changes or vertex fetches.
    pub recovery: crate::metrics::Recovery,
}

impl std::fmt::Display for FinalityReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let offered = if self.rate == 0 {
            "unpaced".to_string()
        } else {
            format!("{} tx/s offered", self.rate)
        };
        writeln!(
            f,
            "bench finality: {} validators, {} transfers, {offered}",
            self.validators, self.txs
        )?;
        writeln!(f, "  finalised throughput : {:.0} tx/s", self.finalized_tps)?;
        let pair = |f: &mut std::fmt::Formatter<'_>,
                    label: &str,
                    p50: Duration,
                    p99: Duration,
                    how: &str| {
            let (p50, p99) = (p50.as_secs_f64() * 1e3, p99.as_secs_f64() * 1e3);
            let colon = if label.is_empty() { ' ' } else { ':' };
            writeln!(f, "  {label:<21}{colon} p50 {p50:.1} ms, p99 {p99:.1} ms ({how})")
        };
        pair(
            f,
            "finality latency",
            self.p50,
            self.p99,
            "final at node 0, the first epoch's primary",
        )?;
        pair(f, "", self.own_p50, self.own_p99, "final at the node submitted to")?;
        pair(
            f,
            "of which admission",
            self.admission_p50,
            self.admission_p99,
            "RPC round trip with PoW attachment",
        )?;
        writeln!(
            f,
            "  milestones           : {} carried the transfers, {:.1} per milestone",
            self.milestones,
            self.txs as f64 / self.milestones.max(1) as f64
        )?;
        writeln!(
            f,
            "  longest gap          : {:.1} ms between two finalised milestones at node 0",
            self.longest_gap.as_secs_f64() * 1e3
        )?;
        writeln!(f, "  recovery (all nodes) : {}", self.recovery)?;
        writeln!(
            f,
            "  baseline             : {:.0} batched signature verifications/s on one core",
            self.verify_per_sec
        )?;
        write!(
            f,
            "  ratio                : {:.3} finalised tx per verification-second",
            self.finalized_tps / self.verify_per_sec
        )
    }
}

/// This machine's single-core batched verification rate.
pub fn verify_rate() -> anyhow::Result<f64> {
    let pair = Pair::from_string("//bench", None).map_err(|e| anyhow::anyhow!("{e}"))?;
    let msgs: Vec<Vec<u8>> = (0..256u32).map(|i| i.to_le_bytes().to_vec()).collect();
    let sigs: Vec<_> = msgs.iter().map(|m| pair.sign(m)).collect();
    let public = pair.public();
    let items: Vec<(&[u8], &itc_primitives::Signature, &itc_primitives::Public)> =
        msgs.iter().zip(&sigs).map(|(m, s)| (m.as_slice(), s, &public)).collect();
    let start = Instant::now();
    let mut done = 0usize;
    while start.elapsed() < Duration::from_millis(500) {
        itc_primitives::crypto::verify_batch(&items)
            .map_err(|e| anyhow::anyhow!("batch verification failed: {e}"))?;
        done += items.len();
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Validators started by [`start_network`], each on its own runtime.
pub struct Network {
    /// The nodes, in committee order.
    pub nodes: Vec<Node>,
    runtimes: Vec<tokio::runtime::Runtime>,
}

impl Network {
    /// Stops every node, then its runtime.
    pub async fn stop(self) {
        for node in self.nodes {
            let _ = node.stop().await;
        }
        for runtime in self.runtimes {
            runtime.shutdown_background();
        }
    }
}

/// Starts `n` validators in this process on loopback under `dir`. Each gets its own tokio
/// runtime with as many workers as a node process would have, so that, as with `n` processes,
/// the operating system shares the cores between the nodes preemptively; on one shared pool a
/// node's long call would hold up the others' network tasks.
pub async fn start_network(
    spec: &ChainSpec,
    dir: &std::path::Path,
    n: usize,
) -> anyhow::Result<Network> {
    let mut network = Network { nodes: Vec::with_capacity(n), runtimes: Vec::with_capacity(n) };
    for i in 0..n {
        let mut cfg = ServiceConfig::new(spec.clone(), dir.join(format!("node-{i}")));
        cfg.key = Some(itc_runtime::genesis::dev_pair(itc_primitives::uri::DEV_ACCOUNTS[i])?);
        cfg.listen = vec!["/ip4/127.0.0.1/tcp/0".parse()?];
        cfg.bootnodes = network.nodes.iter().flat_map(|n| n.listen_addrs.clone()).collect();
        cfg.rpc.addr = "127.0.0.1:0".parse()?;
        cfg.rpc.max_connections = 1_000;
        cfg.metrics = None;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name(format!("node-{i}"))
            .enable_all()
            .build()?;
        let node = runtime.spawn(service::start(cfg)).await??;
        network.nodes.push(node);
        network.runtimes.push(runtime);
    }
    Ok(network)
}

/// Runs the finality benchmark.
pub async fn finality(args: FinalityArgs) -> anyhow::Result<FinalityReport> {
    if !(1..=6).contains(&args.validators) || args.accounts == 0 || args.txs == 0 {
        bail!("use 1 to 6 validators, at least one account and one transaction");
    }
    let verify_per_sec = verify_rate()?;
    // Seeds straight from a hash: a `//bench//i` derivation costs a 2,048-round PBKDF2 each.
    let senders: Vec<Pair> = (0..args.accounts)
        .map(|i| {
            let seed = itc_primitives::blake2_256(format!("itc bench sender {i}").as_bytes());
            Pair::from_seed(&seed.0).map_err(|e| anyhow::anyhow!("{e}"))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut spec = ChainSpec::dev()?;
    spec.name = "bench".into();
    spec.validators = (0..args.validators)
        .map(|i| {
            itc_runtime::genesis::dev_pair(itc_primitives::uri::DEV_ACCOUNTS[i]).map(|p| p.public())
        })
        .collect::<Result<_, _>>()?;
    spec.endowed.extend(senders.iter().map(Pair::public));
    let dir = tempfile::Builder::new().prefix("itc-bench-").tempdir()?;
    let network = start_network(&spec, dir.path(), args.validators).await?;
    let result = drive(&args, &network.nodes, &senders, verify_per_sec).await;
    network.stop().await;
    result
}

async fn drive(
    args: &FinalityArgs,
    nodes: &[Node],
    senders: &[Pair],
    verify_per_sec: f64,
) -> anyhow::Result<FinalityReport> {
    // Wait for a connected committee, then for a first milestone, which a warm-up transfer
    // (from //Eve, not measured) brings at once: an idle chain would wait for its 5 s heartbeat.
    let deadline = Instant::now() + Duration::from_secs(60);
    while nodes.iter().any(|n| n.peer_count() + 1 < nodes.len()) {
        if Instant::now() > deadline {
            bail!("the validators did not connect within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let genesis = nodes[0].genesis_hash;
    let dest = itc_runtime::genesis::dev_pair("Ferdie")?.public();
    let warm_up = signed_transfer(&itc_runtime::genesis::dev_pair("Eve")?, genesis, 0, dest, 1, 0);
    WsClientBuilder::default()
        .build(format!("ws://{}", nodes[0].rpc_addr))
        .await
        .with_context(|| format!("WebSocket to {}", nodes[0].rpc_addr))?
        .request::<Value, _>(
            "author_submitTransaction",
            rpc_params![itc_primitives::hash::to_hex0x(&warm_up.encode())],
        )
        .await
        .context("submitting the warm-up transfer")?;
    while nodes.iter().any(|n| n.finalized_number() == 0) {
        if Instant::now() > deadline {
            bail!("the validators did not finalise a first milestone within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Pre-sign: transaction k goes from account k % accounts with that account's next nonce.
    let mut txs: Vec<(usize, Transaction)> = Vec::with_capacity(args.txs);
    for k in 0..args.txs {
        let a = k % senders.len();
        let nonce = (k / senders.len()) as u64;
        txs.push((a % nodes.len(), signed_transfer(&senders[a], genesis, nonce, dest, 1_000, 0)));
    }
    // Every node's finalised milestones, as (node, notification, arrival).
    let (notes_tx, mut notes) = tokio::sync::mpsc::unbounded_channel();
    for (k, n) in nodes.iter().enumerate() {
        let ws = WsClientBuilder::default()
            .build(format!("ws://{}", n.rpc_addr))
            .await
            .with_context(|| format!("WebSocket to {}", n.rpc_addr))?;
        let mut sub: Subscription<Value> = ws
            .subscribe("chain_subscribeFinalized", rpc_params![], "chain_unsubscribeFinalized")
            .await
            .context("subscribing to finalised milestones")?;
        let notes_tx = notes_tx.clone();
        tokio::spawn(async move {
            let _client = ws;
            while let Some(Ok(m)) = sub.next().await {
                if notes_tx.send((k, m, Instant::now())).is_err() {
                    break;
                }
            }
        });
    }
    drop(notes_tx);
    // Transfer -> (submitted at, node submitted to, seen final at that node yet).
    type Submitted = HashMap<Hash, (Instant, usize, bool)>;
    let submitted: Arc<Mutex<Submitted>> = Arc::new(Mutex::new(HashMap::new()));
    let admissions: Arc<Mutex<Vec<Duration>>> = Arc::new(Mutex::new(Vec::with_capacity(txs.len())));
    // One WebSocket per node carries that node's share of the concurrent submissions (as a
    // gateway or wallet backend would), rather than an HTTP request per transfer.
    let mut clients = Vec::with_capacity(nodes.len());
    for n in nodes {
        let ws = WsClientBuilder::default()
            .max_concurrent_requests(args.concurrency.max(1))
            .build(format!("ws://{}", n.rpc_addr))
            .await
            .with_context(|| format!("WebSocket to {}", n.rpc_addr))?;
        clients.push(Arc::new(ws));
    }
    let recovered_before = recovery(nodes);
    let started = Instant::now();
    let total = txs.len();
    let submitter = {
        let submitted = submitted.clone();
        let admissions = admissions.clone();
        let rate = args.rate;
        let concurrency = args.concurrency.max(1);
        tokio::spawn(async move {
            let mut interval = (rate > 0).then(|| {
                let mut i = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
                i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                i
            });
            // Each submission runs as its own task, so a paced one leaves on its tick.
            let slots = Arc::new(tokio::sync::Semaphore::new(concurrency));
            let mut tasks = tokio::task::JoinSet::new();
            for (node, tx) in txs {
                if let Some(i) = interval.as_mut() {
                    i.tick().await;
                }
                let permit = slots.clone().acquire_owned().await?;
                let c = clients[node].clone();
                let submitted = submitted.clone();
                let admissions = admissions.clone();
                tasks.spawn(async move {
                    let hex = itc_primitives::hash::to_hex0x(&tx.encode());
                    let at = Instant::now();
                    submitted.lock().await.insert(tx.hash(), (at, node, false));
                    let result: Result<Value, _> =
                        c.request("author_submitTransaction", rpc_params![hex]).await;
                    admissions.lock().await.push(at.elapsed());
                    drop(permit);
                    result.map(|_| ()).context("submitting a transfer")
                });
            }
            while let Some(r) = tasks.join_next().await {
                r??;
            }
            anyhow::Ok(())
        })
    };
    // Latency as node 0 saw it, and as the node each transfer went to saw it.
    let mut latencies = Vec::with_capacity(total);
    let mut own_latencies = Vec::with_capacity(total);
    let mut milestones = 0;
    let mut last_final = started;
    let (mut last_milestone, mut longest_gap) = (started, Duration::ZERO);
    let deadline = Instant::now() + Duration::from_secs(120 + total as u64 / 100);
    while latencies.len() < total || own_latencies.len() < total {
        let next = tokio::time::timeout_at(deadline.into(), notes.recv()).await;
        let Ok(Some((k, m, now))) = next else {
            bail!(
                "only {} of {total} transfers finalised at node 0 ({} at the node submitted \
                 to) before the deadline",
                latencies.len(),
                own_latencies.len()
            );
        };
        let hashes = m.get("transactions").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut map = submitted.lock().await;
        let before = latencies.len();
        for h in hashes.iter().filter_map(Value::as_str) {
            let Some(hash) = Hash::from_hex(h).ok() else { continue };
            let Some((at, node, seen_own)) = map.get_mut(&hash) else { continue };
            if *node == k && !*seen_own {
                *seen_own = true;
                own_latencies.push(now - *at);
            }
            if k == 0 {
                // Each transfer is in exactly one of node 0's milestones.
                latencies.push(now - *at);
                last_final = now;
            }
        }
        if k == 0 {
            milestones += usize::from(latencies.len() > before);
            longest_gap = longest_gap.max(now.saturating_duration_since(last_milestone));
            last_milestone = now;
        }
    }
    submitter.await.context("submitter task")??;
    let elapsed = (last_final - started).as_secs_f64().max(1e-9);
    latencies.sort();
    own_latencies.sort();
    let mut admissions = std::mem::take(&mut *admissions.lock().await);
    admissions.sort();
    Ok(FinalityReport {
        validators: nodes.len(),
        txs: total,
        rate: args.rate,
        finalized_tps: total as f64 / elapsed,
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        own_p50: percentile(&own_latencies, 0.5),
        own_p99: percentile(&own_latencies, 0.99),
        admission_p50: percentile(&admissions, 0.5),
        admission_p99: percentile(&admissions, 0.99),
        milestones,
        longest_gap,
        verify_per_sec,
        recovery: recovery(nodes).since(recovered_before),
    })
}

/// The nodes' recovery counters, summed.
fn recovery(nodes: &[Node]) -> crate::metrics::Recovery {
    nodes.iter().map(Node::recovery).fold(Default::default(), |a, b| a + b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_few_and_no_samples() {
        let ms = |v: u64| Duration::from_millis(v);
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
        assert_eq!(percentile(&[ms(7)], 0.99), ms(7));
        let sorted: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&sorted, 0.5), ms(51));
        assert_eq!(percentile(&sorted, 0.99), ms(99));
        assert_eq!(percentile(&sorted, 1.0), ms(100));
    }

    /// A small run end to end (four validators over loopback, RocksDB, WebSocket submissions):
    /// every transfer is accounted for and the figures hang together.
    #[test]
    fn a_small_run_reports_consistent_figures() {
        let args = FinalityArgs { validators: 4, txs: 48, rate: 0, accounts: 12, concurrency: 8 };
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        let report = runtime.block_on(finality(args)).unwrap();
        assert_eq!((report.validators, report.txs, report.rate), (4, 48, 0));
        assert!(report.finalized_tps > 0.0 && report.verify_per_sec > 0.0, "{report}");
        assert!(report.p50 <= report.p99 && report.own_p50 <= report.own_p99, "{report}");
        assert!(report.admission_p50 <= report.admission_p99, "{report}");
        assert!(report.admission_p50 <= report.p50, "admission is part of finality: {report}");
        assert!((1..=48).contains(&report.milestones), "{report}");
        let text = report.to_string();
        assert!(
            text.starts_with("bench finality: 4 validators, 48 transfers, unpaced\n"),
            "{text}"
        );
        assert!(text.contains("carried the transfers") && text.contains("recovery (all nodes)"));
        let refused = FinalityArgs { validators: 7, txs: 1, rate: 0, accounts: 1, concurrency: 1 };
        let err = runtime.block_on(finality(refused)).unwrap_err().to_string();
        assert!(err.contains("1 to 6 validators"), "{err}");
    }
}
