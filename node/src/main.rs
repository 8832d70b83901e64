//! `itc`: the ITC node and command-line tool.
use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = itc_node::cli::Cli::parse();
    match itc_node::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
