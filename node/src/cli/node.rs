//! `itc node` (run a node) and `itc testnet` (a local network of validator processes).
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context};
use clap::Args;
use itc_primitives::Pair;
use libp2p::Multiaddr;

use crate::config::NodeConfig;
use crate::service::{self, ChainSpec, ServiceConfig};

/// Flags of `itc node`.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Development chain: one validator (//Alice), //Alice … //Ferdie prefunded, state in a
    /// temporary directory unless --base-path is given.
    #[arg(long)]
    pub dev: bool,
    /// Chain specification (JSON, as `itc testnet` writes); required without --dev.
    #[arg(long, value_name = "FILE")]
    pub chain: Option<PathBuf>,
    /// Where the database and the node key live.
    #[arg(long, short = 'd', value_name = "DIR")]
    pub base_path: Option<PathBuf>,
    /// A TOML configuration file; flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Take part in consensus with --key (or --key-file).
    #[arg(long)]
    pub validator: bool,
    /// The validator's secret key URI (phrase, //Dev derivation or hex seed).
    #[arg(long, value_name = "URI")]
    pub key: Option<String>,
    /// A file holding the validator's secret key URI.
    #[arg(long, value_name = "FILE", conflicts_with = "key")]
    pub key_file: Option<PathBuf>,
    /// Peers to dial at start: `/ip4/…/tcp/…/p2p/<peer id>`.
    #[arg(long, value_name = "MULTIADDR", num_args = 1..)]
    pub bootnodes: Vec<String>,
    /// P2P TCP port (0 picks a free one).
    #[arg(long, value_name = "PORT")]
    pub p2p_port: Option<u16>,
    /// JSON-RPC port on 127.0.0.1 (0 picks a free one).
    #[arg(long, value_name = "PORT")]
    pub rpc_port: Option<u16>,
    /// Prometheus port on 127.0.0.1.
    #[arg(long, value_name = "PORT")]
    pub metrics_port: Option<u16>,
    /// Do not serve metrics.
    #[arg(long)]
    pub no_metrics: bool,
    /// Log filter, e.g. `info` or `itc_node=debug,libp2p=warn` (also RUST_LOG).
    #[arg(long, short = 'l', value_name = "FILTER")]
    pub log: Option<String>,
    /// Stop once process PID is no longer this one's parent, however it exited (`itc testnet`
    /// passes its own pid, so killing the testnet with SIGKILL does not leave its nodes running;
    /// a pid rather than "the current parent", so a parent gone before the check counts).
    #[arg(long, hide = true, value_name = "PID")]
    pub parent_pid: Option<u32>,
}

/// Flags of `itc testnet`.
#[derive(Debug, Args)]
pub struct TestnetArgs {
    /// Number of validators.
    #[arg(long, default_value_t = 4)]
    pub validators: usize,
    /// Directory for the nodes' data, keys and logs (a temporary one if absent).
    #[arg(long, short = 'd', value_name = "DIR")]
    pub base_path: Option<PathBuf>,
    /// RPC port of the first node; node i uses this + i.
    #[arg(long, default_value_t = 9944)]
    pub rpc_port: u16,
    /// P2P port of the first node; node i uses this + i.
    #[arg(long, default_value_t = 30333)]
    pub p2p_port: u16,
    /// Log filter passed to every node.
    #[arg(long, short = 'l', default_value = "info")]
    pub log: String,
    /// Serve no metrics (otherwise node i serves them on 127.0.0.1:9615 + i).
    #[arg(long)]
    pub no_metrics: bool,
}

/// Sets up logging once; `filter` wins over RUST_LOG.
pub fn init_logging(filter: Option<&str>) {
    let filter = filter
        .map(str::to_string)
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".into());
    let env = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(env)
        .with_target(true)
        .with_writer(std::io::stderr)
        .try_init();
}

fn read_key(args: &NodeArgs, config: &NodeConfig) -> anyhow::Result<Option<Pair>> {
    let uri = match (&args.key, &args.key_file) {
        (Some(uri), _) => Some(uri.clone()),
        (None, Some(file)) => Some(
            std::fs::read_to_string(file)
                .with_context(|| format!("reading the key file {}", file.display()))?
                .trim()
                .to_string(),
        ),
        (None, None) => config.validator.as_ref().map(|v| v.key_uri.clone()),
    };
    match uri {
        Some(uri) => Ok(Some(
            Pair::from_string(&uri, None).map_err(|e| anyhow::anyhow!("invalid --key: {e}"))?,
        )),
        None => Ok(None),
    }
}

/// Builds the service configuration from flags, the config file and the defaults. Returns a
/// temporary directory to keep alive for a --dev node without --base-path.
pub fn service_config(
    args: &NodeArgs,
) -> anyhow::Result<(ServiceConfig, Option<tempfile::TempDir>, String)> {
    let file = match &args.config {
        Some(path) => NodeConfig::load(path)?,
        None => NodeConfig::default(),
    };
    let spec = match (&args.chain, args.dev) {
        (Some(path), _) => ChainSpec::load(path)?,
        (None, true) => ChainSpec::dev()?,
        (None, false) => {
            bail!("no chain given: pass --dev for a development chain or --chain <spec.json>")
        }
    };
    let mut temp = None;
    let base_path = match args.base_path.clone().or(file.base_path.clone()) {
        Some(p) => p,
        None if args.dev => {
            let dir = tempfile::Builder::new().prefix("itc-dev-").tempdir()?;
            let path = dir.path().to_path_buf();
            temp = Some(dir);
            path
        }
        None => bail!("no --base-path given (or base_path in the config file): where should the database live?"),
    };
    let mut cfg = ServiceConfig::new(spec, base_path);
    let mut key = read_key(args, &file)?;
    if args.dev && key.is_none() {
        key = Some(Pair::from_string("//Alice", None).map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    if args.validator && key.is_none() {
        bail!("--validator needs --key <URI> or --key-file <FILE>");
    }
    cfg.key = key;
    cfg.listen = file
        .network
        .listen_addrs
        .iter()
        .map(|a| a.parse::<Multiaddr>().with_context(|| format!("listen address {a}")))
        .collect::<anyhow::Result<_>>()?;
    if let Some(port) = args.p2p_port {
        cfg.listen = vec![format!("/ip4/0.0.0.0/tcp/{port}").parse()?];
    } else if args.dev {
        cfg.listen = vec!["/ip4/127.0.0.1/tcp/0".parse()?];
    }
    cfg.bootnodes = file
        .network
        .bootnodes
        .iter()
        .chain(&args.bootnodes)
        .map(|a| a.parse::<Multiaddr>().with_context(|| format!("bootnode {a}")))
        .collect::<anyhow::Result<_>>()?;
    cfg.max_inbound_connections = file.network.max_inbound_connections;
    cfg.rpc = (&file.rpc).into();
    cfg.state_pruning = file.storage.state_pruning();
    cfg.chain.retain_milestones = file.storage.retain_milestones;
    cfg.chain.nonce_window = file.mempool.nonce_window;
    if let Some(v) = &file.validator {
        cfg.chain.pipeline_min_batch = v.pipeline_min_batch;
    }
    if let Some(port) = args.rpc_port {
        cfg.rpc.addr = SocketAddr::from(([127, 0, 0, 1], port));
    }
    cfg.metrics = file.metrics.addr;
    if let Some(port) = args.metrics_port {
        cfg.metrics = Some(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if args.no_metrics {
        cfg.metrics = None;
    }
    let log = args.log.clone().unwrap_or(file.log);
    Ok((cfg, temp, log))
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM (what `kill` and service managers send).
async fn terminated() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

/// `itc node`: runs until Ctrl-C or SIGTERM (or a fatal error).
pub fn run_node(args: NodeArgs) -> anyhow::Result<()> {
    let (cfg, _temp, log) = service_config(&args)?;
    let parent_pid = args.parent_pid;
    init_logging(Some(&log));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let base = cfg.base_path.clone();
        let mut node = service::start(cfg).await?;
        println!("ITC node running");
        println!("  base path : {}", base.display());
        println!("  genesis   : {}", node.genesis_hash.to_hex());
        println!("  peer id   : {}", node.peer_id);
        for addr in &node.listen_addrs {
            println!("  p2p       : {addr}");
        }
        println!("  rpc       : http://{} (WebSocket on the same port)", node.rpc_addr);
        if let Some(m) = node.metrics_addr {
            println!("  metrics   : http://{m}/metrics");
        }
        println!("Ctrl-C stops it.");
        tokio::select! {
            r = terminated() => {
                r.context("waiting for Ctrl-C")?;
                println!("stopping…");
                node.stop().await?;
            }
            () = parent_exited(parent_pid) => {
                println!("the parent process exited; stopping…");
                node.stop().await?;
            }
            r = node.wait() => r?,
        }
        anyhow::Ok(())
    })
}

/// Resolves once process `parent` is no longer this one's parent (it exited and this process
/// was re-parented); never if `None`. Polled twice a second: no signal set-up in the child.
async fn parent_exited(parent: Option<u32>) {
    #[cfg(unix)]
    if let Some(parent) = parent {
        let mut poll = tokio::time::interval(std::time::Duration::from_millis(500));
        loop {
            poll.tick().await;
            if std::os::unix::process::parent_id() != parent {
                return;
            }
        }
    }
    let _ = parent;
    std::future::pending().await
}

/// A child process that is killed when dropped.
struct Guard(Vec<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// `itc testnet`: generates keys and a chain spec, starts one validator process per key on
/// loopback, prints their ports and stops them all on Ctrl-C or SIGTERM.
pub fn run_testnet(args: TestnetArgs) -> anyhow::Result<()> {
    if args.validators == 0 || args.validators > 100 {
        bail!("--validators must be 1 to 100");
    }
    let mut _temp = None;
    let base = match &args.base_path {
        Some(p) => p.clone(),
        None => {
            let dir = tempfile::Builder::new().prefix("itc-testnet-").tempdir()?;
            let path = dir.path().to_path_buf();
            _temp = Some(dir);
            path
        }
    };
    std::fs::create_dir_all(&base)?;
    let spec_path = base.join("chain-spec.json");
    let mut keys = Vec::new();
    for i in 0..args.validators {
        let key_path = base.join(format!("node-{i}")).join("validator-key");
        let uri = match std::fs::read_to_string(&key_path) {
            Ok(uri) => uri.trim().to_string(),
            Err(_) => {
                let mut entropy = [0u8; 16];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut entropy);
                let phrase = itc_primitives::uri::phrase_from_entropy(&entropy)
                    .map_err(|e| anyhow::anyhow!("generating a key: {e}"))?;
                write_secret(&key_path, &phrase)?;
                phrase
            }
        };
        let pair = Pair::from_string(&uri, None).map_err(|e| anyhow::anyhow!("{e}"))?;
        keys.push((key_path, pair));
    }
    let spec = match ChainSpec::load(&spec_path) {
        Ok(spec) => spec,
        Err(_) => {
            let mut spec = ChainSpec::dev()?;
            spec.name = "local".into();
            spec.genesis_timestamp_ms = crate::service::now_ms();
            spec.validators = keys.iter().map(|(_, p)| p.public()).collect();
            spec.save(&spec_path)?;
            spec
        }
    };
    let mut addrs = Vec::new();
    for i in 0..args.validators {
        let keypair = crate::network::load_or_create_keypair(
            &base.join(format!("node-{i}")).join("network").join("secret_ed25519"),
        )?;
        let port = args.p2p_port + i as u16;
        addrs.push(format!("/ip4/127.0.0.1/tcp/{port}/p2p/{}", keypair.public().to_peer_id()));
    }
    let exe = std::env::current_exe().context("locating the itc binary")?;
    let mut guard = Guard(Vec::new());
    println!(
        "local testnet `{}` ({} validators), data in {}",
        spec.name,
        args.validators,
        base.display()
    );
    for (i, (key_path, pair)) in keys.iter().enumerate() {
        let dir = base.join(format!("node-{i}"));
        let log = std::fs::File::create(dir.join("node.log"))?;
        let mut cmd = Command::new(&exe);
        cmd.arg("node")
            .arg("--chain")
            .arg(&spec_path)
            .arg("--base-path")
            .arg(&dir)
            .arg("--validator")
            .arg("--key-file")
            .arg(key_path)
            .args(["--p2p-port", &(args.p2p_port + i as u16).to_string()])
            .args(["--rpc-port", &(args.rpc_port + i as u16).to_string()])
            .args(["-l", &args.log])
            .args(["--parent-pid", &std::process::id().to_string()]);
        if args.no_metrics {
            cmd.arg("--no-metrics");
        } else {
            cmd.args(["--metrics-port", &(9615 + i as u16).to_string()]);
        }
        let others: Vec<&String> =
            addrs.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, a)| a).collect();
        if !others.is_empty() {
            cmd.arg("--bootnodes").args(others);
        }
        let child = cmd
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("starting node {i}"))?;
        println!(
            "  node {i}: rpc http://127.0.0.1:{}  p2p {}  validator {}  log {}",
            args.rpc_port + i as u16,
            addrs[i],
            pair.public(),
            dir.join("node.log").display()
        );
        guard.0.push(child);
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        // Report the network once every node serves RPC (or say which one failed to start).
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
        for (i, child) in guard.0.iter_mut().enumerate() {
            let port = args.rpc_port + i as u16;
            while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
                if let Some(status) = child.try_wait()? {
                    bail!("node {i} exited ({status}); see {}", base.join(format!("node-{i}")).join("node.log").display());
                }
                if tokio::time::Instant::now() > deadline {
                    bail!("node {i} does not serve RPC on port {port} after 120 s; see its log");
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        println!("all {} nodes serve RPC", guard.0.len());
        println!("try: itc balance 5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY --rpc http://127.0.0.1:{}", args.rpc_port);
        println!("Ctrl-C stops every node.");
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(500));
        loop {
            tokio::select! {
                r = terminated() => { r?; break; }
                _ = tick.tick() => {
                    for (i, child) in guard.0.iter_mut().enumerate() {
                        if let Some(status) = child.try_wait()? {
                            bail!("node {i} exited ({status}); see {}", base.join(format!("node-{i}")).join("node.log").display());
                        }
                    }
                }
            }
        }
        anyhow::Ok(())
    })?;
    println!("stopping {} nodes", guard.0.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn node_args(args: &[&str]) -> NodeArgs {
        match Cli::try_parse_from(["itc", "node"].iter().chain(args)).unwrap().command {
            Command::Node(args) => args,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn the_config_file_sets_the_nodes_own_chain_tunables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("itc.toml");
        std::fs::write(
            &path,
            "[mempool]\nnonce_window = 8\n[validator]\nkey_uri = \"//Bob\"\npipeline_min_batch = 1\n",
        )
        .unwrap();
        let base = dir.path().join("db");
        let args = node_args(&[
            "--dev",
            "--config",
            path.to_str().unwrap(),
            "--base-path",
            base.to_str().unwrap(),
        ]);
        let (cfg, _temp, _) = service_config(&args).unwrap();
        assert_eq!(cfg.chain.nonce_window, 8);
        assert_eq!(cfg.chain.pipeline_min_batch, 1);
        assert_eq!(cfg.key.unwrap().public(), Pair::from_string("//Bob", None).unwrap().public());

        // Without the sections, the chain crate's defaults.
        let (cfg, _temp, _) = service_config(&node_args(&["--dev"])).unwrap();
        let defaults = itc_chain::ChainConfig::default();
        assert_eq!(cfg.chain.nonce_window, defaults.nonce_window);
        assert_eq!(cfg.chain.pipeline_min_batch, defaults.pipeline_min_batch);
    }
}
