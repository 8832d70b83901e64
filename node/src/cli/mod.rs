//! The `itc` command line: one subcommand per concern, each in its own module.
use clap::{Parser, Subcommand};

pub mod bench;
pub mod client;
pub mod key;
pub mod node;

/// ITC: a blockchain node for IoT data.
#[derive(Debug, Parser)]
#[command(name = "itc", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `itc`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Key utilities, compatible with Substrate's `subkey`.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Run a node (`itc node --dev` for a development chain).
    Node(node::NodeArgs),
    /// Run a local network of validator processes on loopback.
    Testnet(node::TestnetArgs),
    /// Transfer ITC and wait for finality.
    Transfer(client::TransferArgs),
    /// Show an account's balance.
    Balance(client::BalanceArgs),
    /// Transaction queries.
    #[command(subcommand)]
    Tx(client::TxCommand),
    /// Benchmarks of a running network.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    // Commands that run a node must not hold the stdout lock: its log writers need it.
    let out = || std::io::stdout().lock();
    match cli.command {
        Command::Key(cmd) => key::run(cmd, &mut std::io::stdin().lock(), &mut out()),
        Command::Node(args) => node::run_node(args),
        Command::Testnet(args) => node::run_testnet(args),
        Command::Transfer(args) => client::run_transfer(args, &mut out()),
        Command::Balance(args) => client::run_balance(args, &mut out()),
        Command::Tx(cmd) => client::run_tx(cmd, &mut out()),
        Command::Bench(cmd) => bench::run(cmd),
    }
}
