//! The `itc` command line: one subcommand per concern, each in its own module.
use clap::{Parser, Subcommand};

pub mod key;

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
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Key(cmd) => {
            let mut out = std::io::stdout().lock();
            key::run(cmd, &mut std::io::stdin().lock(), &mut out)
        }
    }
}
