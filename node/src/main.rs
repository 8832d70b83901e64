//! `itc`: the ITC node and command-line tool.
use clap::Parser;

/// jemalloc instead of glibc's malloc, for Rust and (exported as `malloc`, the
/// `unprefixed_malloc_on_supported_platforms` feature) for RocksDB's C++ too: four validators in
/// one bench process spent ~12 % of their CPU in glibc's allocator (`_int_malloc`,
/// `malloc_consolidate`, `_int_free`, ...), ~2 % in jemalloc. At 1,000 tx/s p50 went from
/// 24.7–26.3 to 21.4–21.5 ms (Rust allocations alone: 22.2–24.5). mimalloc was tried and lost
/// 11 % of unpaced throughput.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
